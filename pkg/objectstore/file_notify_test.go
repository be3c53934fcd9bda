package objectstore_test

import (
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/arkproject/ark/pkg/objectstore"
)

// bucketToWatch returns a file store in a new folder, a context for its
// watch (cancel ends it; the test's end does too) and put, which writes an
// object to the store.
func bucketToWatch(t *testing.T) (string, *objectstore.FileStore, context.Context, context.CancelFunc, func(key, data string)) {
	dir := t.TempDir()
	s, err := objectstore.NewFileStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	put := func(key, data string) {
		t.Helper()
		if _, err := objectstore.PutBytes(ctx, s, key, []byte(data), objectstore.Conditions{}); err != nil {
			t.Fatal(err)
		}
	}
	return dir, s, ctx, cancel, put
}

// The file store reports writes and removals of the files a poller lists
// by name, in folders that exist when it starts and in folders created
// later (a new backup, a new namespace), and stays quiet about the other
// files a backup writes.
func TestFileStoreNotify(t *testing.T) {
	dir, s, ctx, cancel, put := bucketToWatch(t)
	put("backups/old/ark-backup.json", "{}")
	changed := make(chan []string, 100)
	if _, err := s.Notify(ctx, []string{"backups/", "namespaces/"}, "ark-backup.json", func(keys []string) { changed <- keys }); err != nil {
		t.Fatal(err)
	}
	// expect wants a burst of notifications that names the keys want,
	// and nothing said to have changed but records of the watched name.
	expect := func(what string, want ...string) {
		t.Helper()
		got := map[string]bool{}
		select {
		case keys := <-changed:
			for _, k := range keys {
				got[k] = true
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: no notification", what)
		}
		for drained := false; !drained; { // the rest of the burst
			select {
			case keys := <-changed:
				for _, k := range keys {
					got[k] = true
				}
			case <-time.After(200 * time.Millisecond):
				drained = true
			}
		}
		for _, k := range want {
			if !got[k] {
				t.Errorf("%s: %s not reported; reported %v", what, k, got)
			}
		}
		for k := range got {
			if path.Base(k) != "ark-backup.json" {
				t.Errorf("%s: %s reported", what, k)
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
	expect("a record rewritten", "backups/old/ark-backup.json")
	put("backups/old/old.tar.gz", "tar")
	put("backups/old/old-logs.gz", "logs")
	quiet("a backup's other files")
	put("backups/new/ark-backup.json", "{}")
	expect("a new backup", "backups/new/ark-backup.json")
	put("backups/new/ark-backup.json", `{"b":2}`)
	expect("the new backup's record rewritten (its folder is watched)", "backups/new/ark-backup.json")
	put("namespaces/team-a/backups/x/ark-backup.json", "{}")
	expect("a new namespace's first backup", "namespaces/team-a/backups/x/ark-backup.json")
	put("namespaces/team-a/backups/x/ark-backup.json", `{"c":3}`)
	expect("a record in the new namespace rewritten", "namespaces/team-a/backups/x/ark-backup.json")
	if err := s.Delete(ctx, "backups/old/ark-backup.json", objectstore.Conditions{}); err != nil {
		t.Fatal(err)
	}
	expect("a record deleted", "backups/old/ark-backup.json")
	if err := os.RemoveAll(filepath.Join(dir, "backups", "new")); err != nil {
		t.Fatal(err)
	}
	expect("a backup's folder removed", "backups/new/ark-backup.json")
	// A whole backup folder moved in at once (as a copy tool finishing
	// with a rename does): its record is reported though no event of
	// its own came from a folder not yet watched.
	staged := filepath.Join(dir, "staging")
	if err := os.MkdirAll(staged, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(staged, "ark-backup.json"), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(staged, filepath.Join(dir, "backups", "moved")); err != nil {
		t.Fatal(err)
	}
	expect("a backup folder moved in", "backups/moved/ark-backup.json")
	// Folders outside the prefixes are not watched: a restore's folder
	// and its files raise nothing.
	if err := os.MkdirAll(filepath.Join(dir, "restores", "r1"), 0o755); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // the folders' events handled
	if err := os.WriteFile(filepath.Join(dir, "restores", "r1", "ark-backup.json"), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	quiet("a file of the watched name outside the prefixes")

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

// When the bucket's folder, or a prefix's, is moved away or removed, the
// watch cannot follow what comes in its place: the file store says it lost
// track (nil keys) rather than name the records that went, so the poller
// lists the bucket and watches it anew instead of dropping those backups.
func TestFileStoreNotifyRootMoved(t *testing.T) {
	for _, moved := range []string{"", "backups"} {
		name := "the bucket's folder"
		if moved != "" {
			name = "the " + moved + "/ prefix"
		}
		t.Run(name, func(t *testing.T) {
			parent := t.TempDir()
			dir := filepath.Join(parent, "bucket")
			s, err := objectstore.NewFileStore(dir)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if _, err := objectstore.PutBytes(ctx, s, "backups/a/ark-backup.json", []byte("{}"), objectstore.Conditions{}); err != nil {
				t.Fatal(err)
			}
			changed := make(chan []string, 100)
			if _, err := s.Notify(ctx, []string{"backups/"}, "ark-backup.json", func(keys []string) { changed <- keys }); err != nil {
				t.Fatal(err)
			}
			from := filepath.Join(dir, moved)
			if err := os.Rename(from, filepath.Join(parent, "away")); err != nil {
				t.Fatal(err)
			}
			deadline := time.After(5 * time.Second)
			for {
				select {
				case keys := <-changed:
					if keys == nil {
						return // lost track, as it should say
					}
					// Keys named before the loss are allowed; a listing
					// follows either way.
				case <-deadline:
					t.Fatal("moving the folder away was not reported as lost track")
				}
			}
		})
	}
}

// A bucket with more backup folders than the file store watches gets a
// partial watch: new backups, and backups removed, are reported at once;
// a record rewritten in a folder that held it before the watch is left to
// the caller's listing, which the coverage tells it to keep up.
func TestFileStoreNotifyTooManyFolders(t *testing.T) {
	defer func(was int) { objectstore.MaxWatchedDirectories = was }(objectstore.MaxWatchedDirectories)
	objectstore.MaxWatchedDirectories = 8
	dir, s, ctx, _, put := bucketToWatch(t)
	for i := range 20 {
		put(fmt.Sprintf("backups/old-%02d/ark-backup.json", i), "{}")
	}
	put("namespaces/team-a/backups/x/ark-backup.json", "{}")
	changed := make(chan []string, 100)
	coverage, err := s.Notify(ctx, []string{"backups/", "namespaces/"}, "ark-backup.json", func(keys []string) { changed <- keys })
	if err != nil {
		t.Fatal(err)
	}
	if coverage != objectstore.CoversNew {
		t.Fatalf("coverage %v with 22 folders and a limit of 8, want CoversNew", coverage)
	}
	expect := func(what, want string) {
		t.Helper()
		deadline := time.After(5 * time.Second)
		for {
			select {
			case keys := <-changed:
				if keys == nil {
					t.Fatalf("%s: reported as lost track", what)
				}
				if slices.Contains(keys, want) {
					return
				}
			case <-deadline:
				t.Fatalf("%s: %s not reported", what, want)
			}
		}
	}
	put("backups/new/ark-backup.json", "{}")
	expect("a new backup", "backups/new/ark-backup.json")
	put("backups/new/ark-backup.json", `{"a":1}`)
	expect("the new backup's record rewritten (its folder is watched)", "backups/new/ark-backup.json")
	put("namespaces/team-a/backups/y/ark-backup.json", "{}")
	expect("a new backup of a namespace", "namespaces/team-a/backups/y/ark-backup.json")
	if err := os.RemoveAll(filepath.Join(dir, "backups", "old-03")); err != nil {
		t.Fatal(err)
	}
	expect("an older backup removed", "backups/old-03/ark-backup.json")
	for len(changed) > 0 {
		<-changed
	}
	// Not watched, so not reported: the listing finds it.
	put("backups/old-05/ark-backup.json", `{"b":2}`)
	select {
	case keys := <-changed:
		t.Errorf("a rewrite in an older backup's folder reported %v; its folder should not be watched", keys)
	case <-time.After(300 * time.Millisecond):
	}

	// Within the limit, the watch covers everything.
	small, err := objectstore.NewFileStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if coverage, err := small.Notify(ctx, []string{"backups/"}, "ark-backup.json", func([]string) {}); err != nil || coverage != objectstore.CoversAll {
		t.Errorf("an empty bucket's watch: coverage %v, %v; want CoversAll", coverage, err)
	}
}
