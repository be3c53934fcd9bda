package validation

import (
	"fmt"
	"strings"
	"sync"

	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/arkproject/ark/pkg/backupstore"
)

// A backup's or a restore's name is part of the names of its files in the
// storage location (backupstore's layout), and a DNS subdomain (253
// characters) is longer than some backends accept: a name the API takes
// must not fail later, halfway through a backup, on the bucket. These are
// the limits of every backend Ark writes to.
const (
	// maxFileNameBytes is a file system's limit on one path segment
	// (ext4, XFS, most others), which the file-system store meets.
	maxFileNameBytes = 255
	// maxKeyBytes is GCS's and S3's limit on an object's whole key.
	maxKeyBytes = 1024
	// longestNamespace is the longest namespace (a DNS label): the keys of
	// a namespace other than the home namespace start with it.
	longestNamespace = utilvalidation.DNS1123LabelMaxLength
)

// scheduleStampLayout is the time stamp a schedule's backups are named
// with: <schedule>-<YYYYMMDDhhmmss> (see the schedule controller's
// BackupName, whose tests check that the two agree).
const scheduleStampLayout = "20060102150405"

// nameLimit is the longest name an object may have, and why.
type nameLimit struct {
	max int
	// why names the file or key that a longer name would make too long.
	why string
}

// backupFiles are the keys of every file of a backup named by the backup
// alone. (A hostPath volume's archive, <dir>volumes/<pv>.tar.gz, is also
// named after a persistent volume, which is not Ark's to limit; the folder
// part, the only part the backup's name sets, is bounded here, and with the
// longest backup name and namespace its key stays well under maxKeyBytes.)
// A new file of the layout must be added here; a test checks that every
// key method of backupstore.Backup is.
func backupFiles(b backupstore.Backup) []string {
	return []string{b.MetadataKey(), b.TarballKey(), b.LogsKey(), b.LiveLogKey(), b.ResourceListKey(), b.VolumeSnapshotsKey(), b.ResultsKey(), b.ManifestKey(), b.KeyFileKey()}
}

// restoreFiles are the keys of every file of a restore.
func restoreFiles(r backupstore.Restore) []string {
	return []string{r.ResultsKey(), r.LogsKey(), r.KeyFileKey()}
}

// limitLayout has a home namespace no real namespace can be, so that the
// keys measured are those of a non-home namespace: the longer ones.
var limitLayout = backupstore.Layout{HomeNamespace: "-"}

var (
	backupNameLimit = sync.OnceValue(func() nameLimit {
		return computeLimit("backup", func(ns, name string) []string { return backupFiles(limitLayout.Backup(ns, name)) })
	})
	restoreNameLimit = sync.OnceValue(func() nameLimit {
		return computeLimit("restore", func(ns, name string) []string { return restoreFiles(limitLayout.Restore(ns, name)) })
	})
)

// computeLimit finds the longest name whose files' keys, in the longest
// namespace, fit both limits. It measures the layout's own keys rather than
// trusting a number written here, so that a longer file name added to the
// layout lowers the limit with it.
func computeLimit(kind string, keys func(ns, name string) []string) nameLimit {
	ns := strings.Repeat("n", longestNamespace)
	why := ""
	for n := utilvalidation.DNS1123SubdomainMaxLength; n > 0; n-- {
		over := overLimit(kind, keys(ns, strings.Repeat("a", n)), keys("<namespace>", "<name>"))
		if over == "" {
			return nameLimit{max: n, why: why}
		}
		why = over
	}
	// No name fits: a layout bug, which the tests catch.
	return nameLimit{max: 0, why: why}
}

// overLimit says which limit the first key too long breaks, or "". The
// templates are the same keys with placeholders for the namespace and the
// name, to explain the limit with.
func overLimit(kind string, keys, templates []string) string {
	for i, k := range keys {
		segs := strings.Split(k, "/")
		for j, s := range segs {
			if len(s) > maxFileNameBytes {
				return fmt.Sprintf("the %s's files are named %q, and file names are limited to %d bytes", kind, strings.Split(templates[i], "/")[j], maxFileNameBytes)
			}
		}
		if len(k) > maxKeyBytes {
			return fmt.Sprintf("the %s's files are stored under keys such as %q, and keys are limited to %d bytes", kind, templates[i], maxKeyBytes)
		}
	}
	return ""
}

// MaxBackupNameLength is the longest name a new Backup may have: the names
// of its files in the storage location (<name>-volumesnapshots.json.gz and
// the like) must fit every backend.
func MaxBackupNameLength() int { return backupNameLimit().max }

// MaxRestoreNameLength is the longest name a new Restore may have, for the
// same reason as MaxBackupNameLength.
func MaxRestoreNameLength() int { return restoreNameLimit().max }

// MaxScheduleNameLength is the longest name a new Schedule may have: its
// backups are named <schedule>-<YYYYMMDDhhmmss>, which must be a valid
// backup name.
func MaxScheduleNameLength() int { return MaxBackupNameLength() - len("-"+scheduleStampLayout) }

// nameTooLong refuses a name longer than max. A name longer than a DNS
// subdomain is refused by the metadata checks already; this error is
// reported with theirs, as it is the one that says how short it must be.
func nameTooLong(name string, max int, why string) field.ErrorList {
	if len(name) <= max || why == "" {
		return nil
	}
	return field.ErrorList{field.Invalid(field.NewPath("metadata", "name"), name, fmt.Sprintf("must be no more than %d characters: %s", max, why))}
}

func backupNameTooLong(name string) field.ErrorList {
	l := backupNameLimit()
	return nameTooLong(name, l.max, l.why)
}

func restoreNameTooLong(name string) field.ErrorList {
	l := restoreNameLimit()
	return nameTooLong(name, l.max, l.why)
}

func scheduleNameTooLong(name string) field.ErrorList {
	l := backupNameLimit()
	why := fmt.Sprintf("the schedule's backups are named \"<name>-<YYYYMMDDhhmmss>\", and a backup's name must be no more than %d characters", l.max)
	if l.why != "" {
		why += ": " + l.why
	}
	return nameTooLong(name, MaxScheduleNameLength(), why)
}
