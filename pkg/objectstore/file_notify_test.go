package objectstore_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/arkproject/ark/pkg/objectstore"
)

// The file store reports writes and removals of the files a poller lists
// by name, in folders that exist when it starts and in folders created
// later (a new backup, a new namespace), and stays quiet about the other
// files a backup writes.
func TestFileStoreNotify(t *testing.T) {
	dir := t.TempDir()
	s, err := objectstore.NewFileStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	put := func(key, data string) {
		t.Helper()
		if _, err := objectstore.PutBytes(ctx, s, key, []byte(data), objectstore.Conditions{}); err != nil {
			t.Fatal(err)
		}
	}
	put("backups/old/ark-backup.json", "{}")
	changed := make(chan struct{}, 100)
	if err := s.Notify(ctx, []string{"backups/", "namespaces/"}, "ark-backup.json", func() { changed <- struct{}{} }); err != nil {
		t.Fatal(err)
	}
	expect := func(what string) {
		t.Helper()
		select {
		case <-changed:
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: no notification", what)
		}
		for drained := false; !drained; { // the rest of the burst
			select {
			case <-changed:
			case <-time.After(200 * time.Millisecond):
				drained = true
			}
		}
	}
	quiet := func(what string) {
		t.Helper()
		select {
		case <-changed:
			t.Fatalf("%s: notified", what)
		case <-time.After(300 * time.Millisecond):
		}
	}

	put("backups/old/ark-backup.json", `{"a":1}`)
	expect("a record rewritten")
	put("backups/old/old.tar.gz", "tar")
	put("backups/old/old-logs.gz", "logs")
	quiet("a backup's other files")
	put("backups/new/ark-backup.json", "{}")
	expect("a new backup")
	put("backups/new/ark-backup.json", `{"b":2}`)
	expect("the new backup's record rewritten (its folder is watched)")
	put("namespaces/team-a/backups/x/ark-backup.json", "{}")
	expect("a new namespace's first backup")
	put("namespaces/team-a/backups/x/ark-backup.json", `{"c":3}`)
	expect("a record in the new namespace rewritten")
	if err := s.Delete(ctx, "backups/old/ark-backup.json", objectstore.Conditions{}); err != nil {
		t.Fatal(err)
	}
	expect("a record deleted")
	if err := os.RemoveAll(filepath.Join(dir, "backups", "new")); err != nil {
		t.Fatal(err)
	}
	expect("a backup's folder removed")

	cancel()
	time.Sleep(100 * time.Millisecond)
	for len(changed) > 0 {
		<-changed
	}
	put("backups/after/ark-backup.json", "{}")
	select {
	case <-changed:
		t.Error("notified after the context ended")
	case <-time.After(300 * time.Millisecond):
	}
}
