// Package backupstore names the files of backups and restores in their
// storage location. The home namespace's backups keep Heptio Ark's (and
// Velero's) layout, so existing buckets stay readable:
//
//	backups/<name>/ark-backup.json               the Backup object: the API's record
//	backups/<name>/<name>.tar.gz                 the backed-up objects
//	backups/<name>/<name>-logs.gz                the backup's log
//	backups/<name>/<name>-logs.live              its start, while it runs
//	backups/<name>/<name>-resource-list.json.gz  what was backed up, by resource
//	backups/<name>/<name>-volumesnapshots.json.gz
//	backups/<name>/<name>-results.json.gz        warnings and errors
//	backups/<name>/<name>-manifest.json          SHA-256 and size of each file above
//	backups/<name>/<name>-key.json               its wrapped data key, when encrypted
//	restores/<name>/<name>-results.json.gz       a restore's per-item results
//	restores/<name>/<name>-logs.gz               and its log
//	restores/<name>/<name>-key.json              their wrapped data key, when encrypted
//
// In a location with encryption keys, every file but ark-backup.json is
// encrypted (see package encryption): the key file holds the folder's data
// key, wrapped by the location key, and the manifest lists the ciphertexts
// and is authenticated with the data key.
//
// Every other namespace has the same layout under namespaces/<namespace>/,
// so names are per namespace: two namespaces may each have a backup or a
// restore called "nightly", and neither can reach, overwrite or delete the
// other's files through the API.
//
// A bucket of format velero is a Velero server's, read and never written:
// its backups are backups/<name>/velero-backup.json (a velero.io/v1 Backup)
// with the same files beside it, but no manifest, and they are the home
// namespace's only.
package backupstore

import (
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/arkproject/ark/pkg/backupstore/encryption"
)

// BackupsPrefix is the folder of the home namespace's backups.
const BackupsPrefix = "backups/"

// RestoresPrefix is the folder of the home namespace's restore files.
const RestoresPrefix = "restores/"

// NamespacesPrefix is the folder of every other namespace's backups and restores.
const NamespacesPrefix = "namespaces/"

// MetadataFile is the name of a backup's API object in its folder.
const MetadataFile = "ark-backup.json"

// VeleroMetadataFile is the name of a Velero backup's record in its folder.
const VeleroMetadataFile = "velero-backup.json"

// Format is the layout of the backups in a bucket.
type Format string

const (
	// FormatArk is Ark's own layout; the zero Format is Ark's too.
	FormatArk Format = "ark"
	// FormatVelero is a Velero server's layout, read only.
	FormatVelero Format = "velero"
)

// IsVelero reports whether f is Velero's layout.
func (f Format) IsVelero() bool { return f == FormatVelero }

// Layout places each namespace's backups and restores in a bucket.
type Layout struct {
	// HomeNamespace is the namespace whose backups live at the top.
	HomeNamespace string
	// Format is the bucket's layout; the zero value is Ark's.
	Format Format
	// Keys are the location's encryption keys: new backups and restores
	// are encrypted with the active one. Nil writes them in plaintext,
	// and reads only backups that are not encrypted.
	Keys *encryption.Keyring
}

// MetadataFile is the name of a backup's record in its folder.
func (l Layout) MetadataFile() string {
	if l.Format.IsVelero() {
		return VeleroMetadataFile
	}
	return MetadataFile
}

// Serves reports whether the bucket can hold backups of the namespace: a
// Velero bucket holds the home namespace's only, so that nothing written
// into it reaches a namespace's users.
func (l Layout) Serves(namespace string) bool {
	return !l.Format.IsVelero() || namespace == l.HomeNamespace
}

// root is the folder holding a namespace's backups/ and restores/.
func (l Layout) root(namespace string) string {
	if namespace == l.HomeNamespace {
		return ""
	}
	return NamespacesPrefix + namespace + "/"
}

// Backup returns where the backup namespace/name lives.
func (l Layout) Backup(namespace, name string) Backup {
	return Backup{Namespace: namespace, Name: name, dir: l.root(namespace) + BackupsPrefix + name + "/", meta: l.MetadataFile(), format: l.Format, keys: l.Keys}
}

// Restore returns where the files of the restore namespace/name live.
func (l Layout) Restore(namespace, name string) Restore {
	return Restore{Namespace: namespace, Name: name, dir: l.root(namespace) + RestoresPrefix + name + "/", keys: l.Keys}
}

// Prefixes are the folders that hold backups' metadata files, for listing.
func (l Layout) Prefixes() []string {
	if l.Format.IsVelero() {
		return []string{BackupsPrefix}
	}
	return []string{BackupsPrefix, NamespacesPrefix}
}

// ParseMetadataKey returns the backup a key names, if it is the key of a
// backup's metadata file: backups/<name>/ark-backup.json (home namespace) or
// namespaces/<ns>/backups/<name>/ark-backup.json. The key decides the
// namespace, never the file's content: a record cannot move itself into
// another namespace.
func (l Layout) ParseMetadataKey(key string) (Backup, bool) {
	ns := l.HomeNamespace
	rest := key
	if after, ok := strings.CutPrefix(key, NamespacesPrefix); ok && !l.Format.IsVelero() {
		var found bool
		ns, rest, found = strings.Cut(after, "/")
		if !found || ns == "" || ns == l.HomeNamespace {
			return Backup{}, false
		}
	}
	rest, ok := strings.CutPrefix(rest, BackupsPrefix)
	if !ok {
		return Backup{}, false
	}
	name, file, ok := strings.Cut(rest, "/")
	if !ok || file != l.MetadataFile() || len(validation.IsDNS1123Subdomain(name)) > 0 || len(validation.IsDNS1123Label(ns)) > 0 {
		return Backup{}, false
	}
	return l.Backup(ns, name), true
}

// Backup is where one backup's files live.
type Backup struct {
	Namespace, Name string
	dir             string
	meta            string // the record's file name; "" is Ark's
	format          Format
	keys            *encryption.Keyring
}

// Keys are the keys of the backup's location, nil when it has none.
func (b Backup) Keys() *encryption.Keyring { return b.keys }

// Format is the layout of the bucket the backup is in.
func (b Backup) Format() Format {
	if b.format == "" {
		return FormatArk
	}
	return b.format
}

// Dir is the folder of the backup, with a trailing slash.
func (b Backup) Dir() string { return b.dir }

// MetadataKey is where the Backup object lives.
func (b Backup) MetadataKey() string {
	if b.meta == "" {
		return b.dir + MetadataFile
	}
	return b.dir + b.meta
}

// VeleroPodVolumeBackups is the key of the list of a Velero backup's
// file-system backups of pod volumes (restic, kopia): Velero writes it, Ark
// does not. Its name does not end in Key, so Ark's name limits (which
// measure the files Ark writes, every ...Key of a Backup) leave it out: a
// Velero bucket's names are its server's to fit.
func (b Backup) VeleroPodVolumeBackups() string { return b.dir + b.Name + "-podvolumebackups.json.gz" }

// TarballKey is where the backup's objects live.
func (b Backup) TarballKey() string { return b.dir + b.Name + ".tar.gz" }

// LogsKey is where the backup's log lives.
func (b Backup) LogsKey() string { return b.dir + b.Name + "-logs.gz" }

// LiveLogKey holds the start of a running backup's log as plain text, for
// following it; it is removed when the backup finishes.
func (b Backup) LiveLogKey() string { return b.dir + b.Name + "-logs.live" }

// ResourceListKey lists the backed-up items by resource.
func (b Backup) ResourceListKey() string { return b.dir + b.Name + "-resource-list.json.gz" }

// VolumeSnapshotsKey records the volume snapshots taken.
func (b Backup) VolumeSnapshotsKey() string { return b.dir + b.Name + "-volumesnapshots.json.gz" }

// ResultsKey records warnings and errors.
func (b Backup) ResultsKey() string { return b.dir + b.Name + "-results.json.gz" }

// ManifestKey records the checksum of every other file.
func (b Backup) ManifestKey() string { return b.dir + b.Name + "-manifest.json" }

// KeyFileKey holds the backup's data key, wrapped by a location key, when
// the backup is encrypted. It is not in the manifest: rotating the
// location's key rewrites it.
func (b Backup) KeyFileKey() string { return b.dir + b.Name + "-key.json" }

// Restore is where one restore's files live.
type Restore struct {
	Namespace, Name string
	dir             string
	keys            *encryption.Keyring
}

// Keys are the keys of the restore's location, nil when it has none.
func (r Restore) Keys() *encryption.Keyring { return r.keys }

// KeyFileKey holds the data key of the restore's files when they are encrypted.
func (r Restore) KeyFileKey() string { return r.dir + r.Name + "-key.json" }

// Dir is the folder of the restore's files, with a trailing slash.
func (r Restore) Dir() string { return r.dir }

// ResultsKey holds a restore's per-item results.
func (r Restore) ResultsKey() string { return r.dir + r.Name + "-results.json.gz" }

// LogsKey holds a restore's log.
func (r Restore) LogsKey() string { return r.dir + r.Name + "-logs.gz" }

// Home is where a backup of the home namespace lives: at the top of the
// bucket, as Heptio Ark wrote them.
func Home(name string) Backup { return Layout{}.Backup("", name) }

// HomeRestore is where the files of a restore of the home namespace live.
func HomeRestore(name string) Restore { return Layout{}.Restore("", name) }
