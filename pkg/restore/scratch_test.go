package restore

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// makeTree creates dir with a few files in it, a lock file when withLock,
// and sets its mtime to age ago (after filling it, which moves the mtime).
func makeTree(t *testing.T, dir string, withLock bool, age time.Duration) {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(dir, scratchData, "resources", "configmaps"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, scratchData, "resources", "configmaps", "cm.json"), []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	if withLock {
		if err := os.WriteFile(filepath.Join(dir, scratchLock), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	setAge(t, dir, age)
}

func setAge(t *testing.T, path string, age time.Duration) {
	t.Helper()
	when := time.Now().Add(-age)
	if err := os.Chtimes(path, when, when); err != nil {
		t.Fatal(err)
	}
}

// holdLock locks dir's lock file as a running restore does, until the test ends.
func holdLock(t *testing.T, dir string) {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(dir, scratchLock), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		t.Fatal(err)
	}
}

// locked reports whether some other open file holds dir's lock.
func locked(t *testing.T, dir string) bool {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, scratchLock))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return true
	}
	if err != nil {
		t.Fatal(err)
	}
	return false
}

func names(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

func TestCleanScratch(t *testing.T) {
	parent := t.TempDir()
	in := func(name string) string { return filepath.Join(parent, name) }
	const old = 2 * time.Hour

	makeTree(t, in("ark-restore-abandoned"), true, old) // its restore died
	makeTree(t, in("ark-restore-legacy"), false, old)   // made before restores locked
	makeTree(t, in("ark-restore-active"), true, old)    // a long restore, still running
	holdLock(t, in("ark-restore-active"))
	setAge(t, in("ark-restore-active"), old)
	makeTree(t, in("ark-restore-fresh"), true, time.Minute) // abandoned, but recently
	makeTree(t, in("ark-other"), false, old)
	makeTree(t, in("something-else"), true, old)
	if err := os.WriteFile(in("ark-restore-x"), []byte("not a directory"), 0o600); err != nil {
		t.Fatal(err)
	}
	setAge(t, in("ark-restore-x"), old)
	// A link to an old, unlocked directory elsewhere: removing it or its
	// target would be removing what is not ours.
	target := filepath.Join(t.TempDir(), "elsewhere")
	makeTree(t, target, true, old)
	if err := os.Symlink(target, in("ark-restore-link")); err != nil {
		t.Fatal(err)
	}

	removed, err := CleanScratch(parent, time.Hour)
	if err != nil {
		t.Fatalf("CleanScratch: %v", err)
	}
	if removed != 2 {
		t.Errorf("removed = %d, want 2", removed)
	}
	want := []string{"ark-other", "ark-restore-active", "ark-restore-fresh", "ark-restore-link", "ark-restore-x", "something-else"}
	if got := names(t, parent); !slices.Equal(got, want) {
		t.Errorf("left %q, want %q", got, want)
	}
	for _, dir := range []string{in("ark-restore-active"), in("ark-restore-fresh"), in("ark-other"), in("something-else"), target} {
		if _, err := os.Stat(filepath.Join(dir, scratchData, "resources", "configmaps", "cm.json")); err != nil {
			t.Errorf("the content of %s was touched: %v", dir, err)
		}
	}
	if _, err := os.Stat(filepath.Join(target, scratchLock)); err != nil {
		t.Errorf("the link's target lost its lock file: %v", err)
	}
	if data, err := os.ReadFile(in("ark-restore-x")); err != nil || string(data) != "not a directory" {
		t.Errorf("ark-restore-x = %q, %v", data, err)
	}
	if !locked(t, in("ark-restore-active")) {
		t.Error("the active restore lost its lock")
	}
	if locked(t, target) {
		t.Error("CleanScratch still holds the lock of the link's target")
	}

	// Nothing changed since: a second pass removes nothing.
	if removed, err := CleanScratch(parent, time.Hour); removed != 0 || err != nil {
		t.Errorf("second CleanScratch = %d, %v; want 0, nil", removed, err)
	}
}

// A directory CleanScratch cannot judge is kept and reported, and does not
// stop it from removing the others.
func TestCleanScratchOddLock(t *testing.T) {
	parent := t.TempDir()
	odd := filepath.Join(parent, "ark-restore-odd")
	makeTree(t, odd, false, 0)
	elsewhere := filepath.Join(t.TempDir(), "some-file")
	if err := os.WriteFile(elsewhere, []byte("keep"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(elsewhere, filepath.Join(odd, scratchLock)); err != nil {
		t.Fatal(err)
	}
	setAge(t, odd, 2*time.Hour)
	makeTree(t, filepath.Join(parent, "ark-restore-abandoned"), true, 2*time.Hour)

	removed, err := CleanScratch(parent, time.Hour)
	if err == nil || !strings.Contains(err.Error(), odd) {
		t.Errorf("CleanScratch error = %v, want one about %s", err, odd)
	}
	if removed != 1 {
		t.Errorf("removed = %d, want 1", removed)
	}
	if got := names(t, parent); !slices.Equal(got, []string{"ark-restore-odd"}) {
		t.Errorf("left %q, want only ark-restore-odd", got)
	}
	if data, err := os.ReadFile(elsewhere); err != nil || string(data) != "keep" {
		t.Errorf("the lock link's target = %q, %v", data, err)
	}
}

func TestCleanScratchDefaultsToTempDir(t *testing.T) {
	parent := t.TempDir()
	t.Setenv("TMPDIR", parent)
	makeTree(t, filepath.Join(parent, "ark-restore-abandoned"), true, 2*time.Hour)
	removed, err := CleanScratch("", time.Hour)
	if err != nil || removed != 1 {
		t.Fatalf("CleanScratch = %d, %v; want 1, nil", removed, err)
	}
	if got := names(t, parent); len(got) != 0 {
		t.Errorf("left %q", got)
	}
}

func TestCleanScratchMissingDir(t *testing.T) {
	if _, err := CleanScratch(filepath.Join(t.TempDir(), "missing"), time.Hour); err == nil {
		t.Error("CleanScratch of a missing directory succeeded")
	}
}

// A restore's own scratch directory is locked while in use and, once its
// process dies (its lock file closed without the directory removed), is
// removed.
func TestCleanScratchAfterCrash(t *testing.T) {
	parent := t.TempDir()
	s, err := newScratch(parent)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(filepath.Base(s.dir), scratchPrefix) || filepath.Dir(s.dir) != parent {
		t.Fatalf("scratch directory %s is not an ark-restore- directory of %s", s.dir, parent)
	}
	if got := names(t, s.data()); len(got) != 0 {
		t.Fatalf("the data directory is not empty: %q", got)
	}
	setAge(t, s.dir, 2*time.Hour)
	if removed, err := CleanScratch(parent, time.Hour); removed != 0 || err != nil {
		t.Fatalf("CleanScratch of a directory in use = %d, %v; want 0, nil", removed, err)
	}
	s.lock.Close() // as the kernel does when the process is killed
	if removed, err := CleanScratch(parent, time.Hour); removed != 1 || err != nil {
		t.Fatalf("CleanScratch of an abandoned directory = %d, %v; want 1, nil", removed, err)
	}
	if got := names(t, parent); len(got) != 0 {
		t.Errorf("left %q", got)
	}
}

// Run holds its scratch directory's lock while it restores, so CleanScratch
// leaves the directory of a long restore alone, and removes the directory
// when it is done.
func TestRunLocksScratch(t *testing.T) {
	f := newFixture(t)
	f.backup(namespaceItem("abc"), configMap("abc", "cm1"), configMap("abc", "cm2"))
	var once sync.Once
	progress := func(total, done int) {
		once.Do(func() {
			got := names(t, f.scratch)
			if len(got) != 1 || !strings.HasPrefix(got[0], scratchPrefix) {
				t.Errorf("scratch directory holds %q during Run, want one ark-restore- directory", got)
				return
			}
			dir := filepath.Join(f.scratch, got[0])
			if !locked(t, dir) {
				t.Errorf("%s is not locked during Run", dir)
			}
			setAge(t, dir, 2*time.Hour) // as if the restore had been running for long
			if removed, err := CleanScratch(f.scratch, time.Hour); removed != 0 || err != nil {
				t.Errorf("CleanScratch during Run = %d, %v; want 0, nil", removed, err)
			}
		})
	}
	out, err := f.restorer.Run(context.Background(), newRestore(), testBackup, progress)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if out.Created != 3 {
		t.Errorf("created %d, want 3 (CleanScratch must not have removed the unpacked backup)", out.Created)
	}
	f.checkScratchEmpty()
}

func TestRunFailedLeavesNoScratch(t *testing.T) {
	f := newFixture(t) // no backup stored
	if _, err := f.restorer.Run(context.Background(), newRestore(), testBackup, nil); err == nil {
		t.Fatal("Run of a missing backup succeeded")
	}
	f.checkScratchEmpty()
}

// Under DeferCleanup, Run returns with its results written and its scratch
// directory still there and locked (CleanScratch leaves it alone however old
// it is), and the Cleanups remove it. Without, Run removes it itself.
func TestRunDeferredScratchRemoval(t *testing.T) {
	f := newFixture(t)
	f.backup(namespaceItem("abc"), configMap("abc", "cm"))
	ctx, cleanups := DeferCleanup(context.Background())
	out, err := f.restorer.Run(ctx, newRestore(), testBackup, nil)
	if err != nil {
		t.Fatal(err)
	}
	if out.Created != 2 {
		t.Errorf("outcome = %+v, want 2 created", out)
	}
	checkSummary(t, f.results(testRestore), out) // written before the removal
	left, err := os.ReadDir(f.scratch)
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 1 {
		t.Fatalf("scratch holds %v after Run, want the restore's directory until cleanup", left)
	}
	if n, err := CleanScratch(f.scratch, -time.Hour); n != 0 || err != nil {
		t.Errorf("CleanScratch = %d, %v; want the locked directory left alone", n, err)
	}
	cleanups.Run()
	f.checkScratchEmpty()
	// Once the cleanups ran, a late cleanup is the caller's to run.
	if Defer(ctx, func() {}) {
		t.Error("Defer accepted a cleanup after the cleanups ran")
	}
	if Defer(context.Background(), func() {}) {
		t.Error("Defer accepted a cleanup without DeferCleanup")
	}
}

// A restore that fails leaves its removal to the cleanups too.
func TestRunDeferredScratchRemovalOnFailure(t *testing.T) {
	f := newFixture(t)
	f.backup(namespaceItem("abc"), configMap("abc", "cm"))
	f.restorer.Store = failingStore{Store: f.store, prefix: "restores/", atClose: true}
	ctx, cleanups := DeferCleanup(context.Background())
	if _, err := f.restorer.Run(ctx, newRestore(), testBackup, nil); !errors.Is(err, errBucket) {
		t.Fatalf("Run error = %v, want the bucket's", err)
	}
	if left, _ := os.ReadDir(f.scratch); len(left) != 1 {
		t.Errorf("scratch holds %v after Run, want the restore's directory until cleanup", left)
	}
	cleanups.Run()
	f.checkScratchEmpty()
}
