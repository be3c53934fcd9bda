package objectstore_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"k8s.io/klog/v2"

	"github.com/arkproject/ark/pkg/objectstore"
	"github.com/arkproject/ark/pkg/objectstore/objectstoretest"
)

func newFileStore(t *testing.T) objectstore.Store {
	s, err := objectstore.NewFileStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// bucketDir is the directory of a file store, from its URL.
func bucketDir(s objectstore.Store) string { return strings.TrimPrefix(s.String(), "file://") }

// plantLink does what anyone with write access to the bucket directory can:
// put a symbolic link where an object or a directory of objects belongs.
func plantLink(t *testing.T, s objectstore.Store, key, target string) {
	t.Helper()
	p := filepath.Join(bucketDir(s), filepath.FromSlash(key))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, p); err != nil {
		t.Fatal(err)
	}
}

func TestFileStoreConformance(t *testing.T) {
	objectstoretest.RunWith(t, newFileStore, objectstoretest.Options{PlantLink: plantLink})
}

// A refused link says why in the error, so an operator reading "not found"
// learns the bucket was tampered with, and it is logged exactly once.
func TestFileStoreRefusedLinkIsExplainedAndLoggedOnce(t *testing.T) {
	var logged bytes.Buffer
	klog.LogToStderr(false)
	klog.SetOutput(&logged)
	t.Cleanup(func() {
		klog.SetOutput(os.Stderr)
		klog.LogToStderr(true)
	})

	ctx := context.Background()
	s := newFileStore(t)
	keyFile := filepath.Join(t.TempDir(), "tls.key")
	if err := os.WriteFile(keyFile, []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	plantLink(t, s, "backups/slink/slink.tar.gz", keyFile)

	for _, key := range []string{"backups/slink/slink.tar.gz", "backups/slink/slink.tar.gz/inner"} {
		logged.Reset()
		_, _, err := s.NewReader(ctx, key)
		klog.Flush()
		if !errors.Is(err, objectstore.ErrNotFound) || !strings.Contains(err.Error(), "symbolic link") {
			t.Errorf("NewReader %s: %v; want ErrNotFound saying it is a symbolic link", key, err)
		}
		if n := strings.Count(logged.String(), "symbolic link"); n != 1 {
			t.Errorf("NewReader %s logged the link %d times:\n%s", key, n, logged.String())
		}
		if !strings.Contains(logged.String(), keyFile) {
			t.Errorf("the log does not name the link's target:\n%s", logged.String())
		}
	}
}

// A FIFO planted as an object must neither hang a read (opening a FIFO
// blocks until a writer shows up) nor pass for an object.
func TestFileStoreRefusesSpecialFiles(t *testing.T) {
	ctx := context.Background()
	s := newFileStore(t)
	p := filepath.Join(bucketDir(s), "backups", "fifo")
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(p, 0o644); err != nil {
		t.Skip("cannot make a FIFO here:", err)
	}
	done := make(chan error, 1)
	go func() {
		_, _, err := s.NewReader(ctx, "backups/fifo")
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, objectstore.ErrNotFound) || !strings.Contains(err.Error(), "not a regular file") {
			t.Errorf("NewReader of a FIFO: %v; want ErrNotFound saying it is not a regular file", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("NewReader of a FIFO hangs")
	}
	if _, err := s.Attrs(ctx, "backups/fifo"); !errors.Is(err, objectstore.ErrNotFound) {
		t.Errorf("Attrs of a FIFO: %v", err)
	}
	if err := s.Delete(ctx, "backups/fifo", objectstore.Conditions{}); !errors.Is(err, objectstore.ErrNotFound) {
		t.Errorf("Delete of a FIFO: %v", err)
	}
	page, err := s.List(ctx, objectstore.ListOptions{Prefix: "backups/"})
	if err != nil || len(page.Objects) != 0 {
		t.Errorf("List shows a FIFO: %+v, %v", page, err)
	}
}

// The store opens the bucket directory per operation, so a bucket directory
// that is replaced (restored, remounted) is the one it uses, not the deleted
// one it saw first, which would read as empty.
func TestFileStoreUsesARecreatedBucket(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "bucket")
	s, err := objectstore.NewFileStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := objectstore.PutBytes(ctx, s, "old", []byte("old"), objectstore.Conditions{}); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "backups"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "backups", "restored"), []byte("restored"), 0o644); err != nil {
		t.Fatal(err)
	}
	if data, _, err := objectstore.ReadAll(ctx, s, "backups/restored", 1<<10); err != nil || string(data) != "restored" {
		t.Errorf("read from the recreated bucket: %q, %v", data, err)
	}
	if _, err := objectstore.PutBytes(ctx, s, "backups/new", []byte("new"), objectstore.Conditions{DoesNotExist: true}); err != nil {
		t.Errorf("write to the recreated bucket: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "backups", "new")); err != nil {
		t.Errorf("the write did not land in the recreated bucket: %v", err)
	}
}

// Another program writing a record in place can finish within the same tick
// of the file clock as it began: a poller that saw the empty file must still
// see the written one as changed. This race once left a 5 MiB record looking
// empty for good in the faults e2e test.
func TestFileStoreTokenSeesAnInPlaceWriteWithinOneTick(t *testing.T) {
	ctx := context.Background()
	s := newFileStore(t)
	path := filepath.Join(bucketDir(s), "backups", "b1", "ark-backup.json")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tick := time.Unix(1700000000, 0)
	if err := os.Chtimes(path, tick, tick); err != nil {
		t.Fatal(err)
	}
	empty, err := s.Attrs(ctx, "backups/b1/ark-backup.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(`{"kind":"Backup"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path, tick, tick); err != nil {
		t.Fatal(err)
	}
	written, err := s.Attrs(ctx, "backups/b1/ark-backup.json")
	if err != nil {
		t.Fatal(err)
	}
	if written.Generation != empty.Generation {
		t.Fatalf("the test meant to keep the modification time: generations %d and %d", empty.Generation, written.Generation)
	}
	if written.Token == empty.Token {
		t.Errorf("an empty record and the written one share the token %q", written.Token)
	}
	var listed objectstore.ObjectAttrs
	if err := objectstore.ListAll(ctx, s, "backups/", func(o objectstore.ObjectAttrs) error {
		listed = o
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if listed.Token != written.Token {
		t.Errorf("List gives token %q, Attrs %q", listed.Token, written.Token)
	}
}

// A prefix no key can have lists nothing. It must not walk the store's
// bookkeeping or out of the bucket.
func TestFileStoreListIgnoresImpossiblePrefixes(t *testing.T) {
	ctx := context.Background()
	parent := t.TempDir()
	if err := os.WriteFile(filepath.Join(parent, "outside"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := objectstore.NewFileStore(filepath.Join(parent, "bucket"))
	if err != nil {
		t.Fatal(err)
	}
	w, err := s.NewWriter(ctx, "pending", objectstore.Conditions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	for _, prefix := range []string{"../", "../bucket/", ".ark-tmp/", ".ark-tmp/upload-", "a//", "./"} {
		page, err := s.List(ctx, objectstore.ListOptions{Prefix: prefix})
		if err != nil || len(page.Objects)+len(page.Prefixes) != 0 {
			t.Errorf("List %q: %+v, %v; want an empty page", prefix, page, err)
		}
	}
}

func TestFileStoreRemoveAbandonedUploads(t *testing.T) {
	ctx := context.Background()
	s, err := objectstore.NewFileStore(filepath.Join(t.TempDir(), "bucket"))
	if err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(bucketDir(s), ".ark-tmp")
	old := time.Now().Add(-2 * time.Hour)
	write := func(name string, mtime time.Time) string {
		t.Helper()
		p := filepath.Join(tmp, name)
		if err := os.WriteFile(p, []byte(name), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, mtime, mtime); err != nil {
			t.Fatal(err)
		}
		return p
	}
	crashed := write("upload-crashed", old)
	fresh := write("upload-fresh", time.Now())
	other := write("notes.txt", old)
	if err := os.Mkdir(filepath.Join(tmp, "upload-dir"), 0o700); err != nil {
		t.Fatal(err)
	}
	outsideFile := filepath.Join(t.TempDir(), "upload-target")
	if err := os.WriteFile(outsideFile, []byte("keep"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(outsideFile, old, old); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outsideFile, filepath.Join(tmp, "upload-link")); err != nil {
		t.Fatal(err)
	}

	// A live upload that has not written for a long time: still locked.
	before := uploads(t, tmp)
	w, err := s.NewWriter(ctx, "backups/slow/data.tar.gz", objectstore.Conditions{DoesNotExist: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("first half ")); err != nil {
		t.Fatal(err)
	}
	var live string
	for _, name := range uploads(t, tmp) {
		if !slices.Contains(before, name) {
			live = filepath.Join(tmp, name)
		}
	}
	if live == "" {
		t.Fatal("the writer's temporary file is not in .ark-tmp")
	}
	if err := os.Chtimes(live, old, old); err != nil {
		t.Fatal(err)
	}

	if _, err := s.RemoveAbandonedUploads(ctx, 0); err == nil {
		t.Error("RemoveAbandonedUploads(0) succeeded; it would race writers creating their files")
	}
	removed, err := s.RemoveAbandonedUploads(ctx, time.Hour)
	if err != nil || removed != 1 {
		t.Fatalf("RemoveAbandonedUploads = %d, %v; want 1", removed, err)
	}
	if _, err := os.Lstat(crashed); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the crashed upload is still there: %v", err)
	}
	for _, p := range []string{fresh, other, live, filepath.Join(tmp, "upload-dir"), filepath.Join(tmp, "upload-link"), outsideFile} {
		if _, err := os.Lstat(p); err != nil {
			t.Errorf("%s was removed: %v", p, err)
		}
	}

	// The live upload still commits.
	if _, err := w.Write([]byte("second half")); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("commit of the slow upload: %v", err)
	}
	data, _, err := objectstore.ReadAll(ctx, s, "backups/slow/data.tar.gz", 1<<10)
	if err != nil || string(data) != "first half second half" {
		t.Errorf("the slow upload reads back %q, %v", data, err)
	}
	if removed, err := s.RemoveAbandonedUploads(ctx, time.Hour); err != nil || removed != 0 {
		t.Errorf("second pass: %d, %v; want nothing to remove", removed, err)
	}
	if _, ok := objectstore.Store(s).(objectstore.Janitor); !ok {
		t.Error("the file store does not advertise objectstore.Janitor")
	}
}

// uploads lists the upload-* regular files in dir.
func uploads(t *testing.T, dir string) []string {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, de := range des {
		if strings.HasPrefix(de.Name(), "upload-") && de.Type().IsRegular() {
			out = append(out, de.Name())
		}
	}
	return out
}

func TestFileStoreRejectsEscapingKeys(t *testing.T) {
	dir := t.TempDir()
	s, err := objectstore.NewFileStore(filepath.Join(dir, "bucket"))
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"../outside", "a/../../outside", "/etc/passwd", "a//b", "a\\b", ".ark-lock", "a/", ""} {
		_, err := objectstore.PutBytes(context.Background(), s, key, []byte("x"), objectstore.Conditions{})
		if !errors.Is(err, objectstore.ErrInvalidKey) {
			t.Errorf("put %q: got %v, want ErrInvalidKey", key, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "outside")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a key escaped the bucket: %v", err)
	}
}

// A bucket directory that disappears is an outage, not an empty bucket: list
// must fail so that callers never mistake it for "no backups".
func TestFileStoreMissingRootIsAnError(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "bucket")
	s, err := objectstore.NewFileStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := s.List(context.Background(), objectstore.ListOptions{Prefix: "backups/"}); err == nil {
		t.Error("List of a vanished bucket succeeded")
	}
	if _, err := s.Attrs(context.Background(), "backups/a/ark-backup.json"); err == nil || errors.Is(err, objectstore.ErrNotFound) {
		t.Errorf("Attrs in a vanished bucket: got %v, want an outage error", err)
	}
}

func TestOpenParsesLocations(t *testing.T) {
	dir := t.TempDir()
	s, err := objectstore.Open(context.Background(), "file://"+dir)
	if err != nil {
		t.Fatal(err)
	}
	if s.String() != "file://"+dir {
		t.Errorf("String() = %q", s.String())
	}
	for _, bad := range []string{"s4://x", "file://host/x", "gs://", "file://relative"} {
		if _, err := objectstore.Open(context.Background(), bad); err == nil {
			t.Errorf("Open(%q) succeeded", bad)
		}
	}
}
