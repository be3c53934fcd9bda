package validation

import (
	"reflect"
	"sort"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"

	"github.com/arkproject/ark/pkg/apis/ark"
	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
	"github.com/arkproject/ark/pkg/backupstore"
	"github.com/arkproject/ark/pkg/snapshot"
)

// The limits as the layout sets them today: <name>-volumesnapshots.json.gz
// (24 bytes after the name) and <name>-results.json.gz (16) are the longest
// file names, and schedules add -<YYYYMMDDhhmmss> (15) to their backups'.
func TestMaxNameLengths(t *testing.T) {
	if got := MaxBackupNameLength(); got != 255-len("-volumesnapshots.json.gz") {
		t.Errorf("MaxBackupNameLength() = %d, want 231", got)
	}
	if got := MaxRestoreNameLength(); got != 255-len("-results.json.gz") {
		t.Errorf("MaxRestoreNameLength() = %d, want 239", got)
	}
	if got := MaxScheduleNameLength(); got != MaxBackupNameLength()-len("-20060102150405") {
		t.Errorf("MaxScheduleNameLength() = %d, want 216", got)
	}
}

// methodKeys calls every method of v named ...Key that returns a string:
// the files of the layout.
func methodKeys(v any) []string {
	rv := reflect.ValueOf(v)
	var keys []string
	for i := range rv.NumMethod() {
		m := rv.Type().Method(i)
		if !strings.HasSuffix(m.Name, "Key") || m.Type.NumIn() != 1 || m.Type.NumOut() != 1 || m.Type.Out(0).Kind() != reflect.String {
			continue
		}
		keys = append(keys, rv.Method(i).Call(nil)[0].String())
	}
	sort.Strings(keys)
	return keys
}

func sorted(s []string) []string {
	s = append([]string(nil), s...)
	sort.Strings(s)
	return s
}

// The limits are only as good as the list of files they measure: every key
// the layout names must be in it.
func TestNameLimitsCoverEveryFile(t *testing.T) {
	b := limitLayout.Backup("team-a", "n")
	if got, want := sorted(backupFiles(b)), methodKeys(b); !reflect.DeepEqual(got, want) {
		t.Errorf("backupFiles = %q, but backupstore.Backup names %q", got, want)
	}
	r := limitLayout.Restore("team-a", "n")
	if got, want := sorted(restoreFiles(r)), methodKeys(r); !reflect.DeepEqual(got, want) {
		t.Errorf("restoreFiles = %q, but backupstore.Restore names %q", got, want)
	}
}

// checkKey fails for a key that some backend refuses.
func checkKey(t *testing.T, key string) {
	t.Helper()
	if len(key) > maxKeyBytes {
		t.Errorf("key %q is %d bytes, more than %d", key, len(key), maxKeyBytes)
	}
	for _, s := range strings.Split(key, "/") {
		if len(s) > maxFileNameBytes {
			t.Errorf("key %q has a segment of %d bytes, more than %d", key, len(s), maxFileNameBytes)
		}
	}
}

// With the longest names allowed, every file fits every backend, in the
// home namespace and in the longest other one.
func TestLongestNamesFit(t *testing.T) {
	l := backupstore.Layout{HomeNamespace: homeNS}
	for _, ns := range []string{homeNS, strings.Repeat("n", 63)} {
		b := l.Backup(ns, strings.Repeat("b", MaxBackupNameLength()))
		for _, k := range methodKeys(b) {
			checkKey(t, k)
		}
		for _, k := range methodKeys(l.Restore(ns, strings.Repeat("r", MaxRestoreNameLength()))) {
			checkKey(t, k)
		}
		// A hostPath volume's archive is also named after its PV, which
		// may be a 253-character name: its file name is the PV's to fit,
		// but the backup's part of its key is bounded.
		if k := snapshot.ArchiveKey(b, strings.Repeat("p", 253)); len(k) > maxKeyBytes {
			t.Errorf("volume archive key of %d bytes, more than %d", len(k), maxKeyBytes)
		}
	}
}

const (
	backupTooLong   = `must be no more than 231 characters: the backup's files are named "<name>-volumesnapshots.json.gz", and file names are limited to 255 bytes`
	restoreTooLong  = `must be no more than 239 characters: the restore's files are named "<name>-results.json.gz", and file names are limited to 255 bytes`
	scheduleTooLong = `must be no more than 216 characters: the schedule's backups are named "<name>-<YYYYMMDDhhmmss>", and a backup's name must be no more than 231 characters: the backup's files are named "<name>-volumesnapshots.json.gz", and file names are limited to 255 bytes`
)

// longName is a valid DNS subdomain of n characters, with dots, as a long
// generated name might be.
func longName(n int) string {
	s := []byte(strings.Repeat("abcdefgh.", n/9+1)[:n])
	if s[n-1] == '.' {
		s[n-1] = 'z'
	}
	return string(s)
}

func TestLongName(t *testing.T) {
	for _, n := range []int{1, 9, 10, 216, 231, 232, 253} {
		s := longName(n)
		if len(s) != n {
			t.Errorf("longName(%d) has %d characters", n, len(s))
		}
		if errs := utilvalidation.IsDNS1123Subdomain(s); len(errs) != 0 {
			t.Errorf("longName(%d) = %q is not a DNS subdomain: %v", n, s, errs)
		}
	}
}

func TestBackupNameLength(t *testing.T) {
	ok := newBackup(homeNS, nil)
	ok.Name = longName(231)
	expectErrors(t, ValidateBackup(ok, testScope))

	long := newBackup(homeNS, nil)
	long.Name = longName(232)
	expectErrors(t, ValidateBackup(long, testScope), invalid("metadata.name").with(backupTooLong))

	// Longer than a DNS subdomain: both limits are reported.
	longest := newBackup(homeNS, nil)
	longest.Name = longName(254)
	expectErrors(t, ValidateBackup(longest, testScope), invalid("metadata.name").with("253"), invalid("metadata.name").with(backupTooLong))

	// An existing backup keeps its name (names never change), whatever
	// its length: the bucket may hold one Ark did not create.
	old := newBackup(homeNS, nil)
	old.Name, old.ResourceVersion = longName(253), "1"
	updated := old.DeepCopy()
	updated.Labels = map[string]string{"x": "y"}
	expectErrors(t, ValidateBackupUpdate(updated, old, testScope))
}

func TestRestoreNameLength(t *testing.T) {
	ok := newRestore(homeNS, nil)
	ok.Name = longName(239)
	expectErrors(t, ValidateRestore(ok, testScope))

	long := newRestore(homeNS, nil)
	long.Name = longName(240)
	expectErrors(t, ValidateRestore(long, testScope), invalid("metadata.name").with(restoreTooLong))

	old := newRestore(homeNS, nil)
	old.Name, old.ResourceVersion = longName(253), "1"
	updated := old.DeepCopy()
	updated.Labels = map[string]string{"x": "y"}
	expectErrors(t, ValidateRestoreUpdate(updated, old, testScope))
}

func TestScheduleNameLength(t *testing.T) {
	ok := newSchedule(homeNS, nil)
	ok.Name = longName(216)
	expectErrors(t, ValidateSchedule(ok, testScope))

	long := newSchedule(homeNS, nil)
	long.Name = longName(217)
	expectErrors(t, ValidateSchedule(long, testScope), invalid("metadata.name").with(scheduleTooLong))

	old := newSchedule(homeNS, nil)
	old.Name, old.ResourceVersion = longName(253), "1"
	updated := old.DeepCopy()
	updated.Spec.Paused = true
	expectErrors(t, ValidateScheduleUpdate(updated, old, testScope))
}

// A restore names the backup or schedule it restores: any existing name,
// which may be longer than a new one may be now.
func TestRestoreOfLongNamedBackup(t *testing.T) {
	for _, mutate := range []func(*ark.RestoreSpec){
		func(s *ark.RestoreSpec) { s.BackupName = longName(253) },
		func(s *ark.RestoreSpec) { s.BackupName, s.ScheduleName = "", longName(253) },
	} {
		expectErrors(t, ValidateRestore(newRestore(homeNS, mutate), testScope))
	}
	tooLong := newRestore(homeNS, func(s *ark.RestoreSpec) { s.BackupName = longName(254) })
	expectErrors(t, ValidateRestore(tooLong, testScope), invalid("spec.backupName"))
}

// A Backup that arrives through the bucket is held to the same limit as it
// starts.
func TestRecheckBackupName(t *testing.T) {
	b := &arkv1.Backup{ObjectMeta: metav1.ObjectMeta{Name: longName(232), Namespace: homeNS}}
	got := RecheckBackup(b, testScope)
	if len(got) != 1 || !strings.Contains(got[0], "metadata.name") || !strings.Contains(got[0], backupTooLong) {
		t.Errorf("RecheckBackup = %q, want one metadata.name error containing %q", got, backupTooLong)
	}
	b.Name = longName(231)
	if got := RecheckBackup(b, testScope); len(got) != 0 {
		t.Errorf("RecheckBackup of a %d-character name = %q, want nothing", len(b.Name), got)
	}
}

// Whichever limit a layout reaches first sets the maximum, and the reason
// names it.
func TestComputeLimit(t *testing.T) {
	deep := func(ns, name string) []string {
		return []string{"x/" + ns + "/" + name + "/" + name + "/" + name + "/" + name + "/" + name + ".gz"}
	}
	// The key is 5n+73 bytes in the longest namespace: n <= 190.
	got := computeLimit("thing", deep)
	want := nameLimit{max: 190, why: `the thing's files are stored under keys such as "x/<namespace>/<name>/<name>/<name>/<name>/<name>.gz", and keys are limited to 1024 bytes`}
	if got != want {
		t.Errorf("computeLimit = %+v, want %+v", got, want)
	}
	flat := func(ns, name string) []string { return []string{"x/" + name + "-a", "x/" + name + "-longer.json"} }
	got = computeLimit("thing", flat)
	want = nameLimit{max: 255 - len("-longer.json"), why: `the thing's files are named "<name>-longer.json", and file names are limited to 255 bytes`}
	if got != want {
		t.Errorf("computeLimit = %+v, want %+v", got, want)
	}
	short := func(ns, name string) []string { return []string{name} }
	if got := computeLimit("thing", short); got != (nameLimit{max: 253}) {
		t.Errorf("computeLimit = %+v, want 253 and no reason", got)
	}
}
