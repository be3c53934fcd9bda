package janitor

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/arkproject/ark/pkg/objectstore"
)

// One sweep removes both kinds of a crash's litter, and only those.
func TestSweep(t *testing.T) {
	bucket, scratch := t.TempDir(), t.TempDir()
	store, err := objectstore.NewFileStore(bucket)
	if err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-time.Hour)
	mk := func(path string, dir bool) {
		t.Helper()
		var err error
		if dir {
			err = os.MkdirAll(filepath.Join(path, "backup"), 0o700)
		} else {
			err = os.WriteFile(path, []byte("partial"), 0o600)
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(path, old, old); err != nil {
			t.Fatal(err)
		}
	}
	upload := filepath.Join(bucket, ".ark-tmp", "upload-123")
	restoreDir := filepath.Join(scratch, "ark-restore-456")
	keep := filepath.Join(scratch, "not-ours")
	mk(upload, false)
	mk(restoreDir, true)
	mk(keep, true)
	if _, err := objectstore.PutBytes(context.Background(), store, "backups/b/ark-backup.json", []byte("{}"), objectstore.Conditions{}); err != nil {
		t.Fatal(err)
	}

	Janitor{Store: store, ScratchDir: scratch, OlderThan: time.Minute}.Sweep(context.Background())

	for _, gone := range []string{upload, restoreDir} {
		if _, err := os.Stat(gone); !os.IsNotExist(err) {
			t.Errorf("%s was left: %v", gone, err)
		}
	}
	for _, kept := range []string{keep, filepath.Join(bucket, "backups", "b", "ark-backup.json")} {
		if _, err := os.Stat(kept); err != nil {
			t.Errorf("%s was removed: %v", kept, err)
		}
	}
	if got := (Janitor{OlderThan: 3 * time.Second}).Interval(); got != 1500*time.Millisecond {
		t.Errorf("interval %s", got)
	}
}
