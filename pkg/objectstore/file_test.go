package objectstore_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/arkproject/ark/pkg/objectstore"
	"github.com/arkproject/ark/pkg/objectstore/objectstoretest"
)

func TestFileStoreConformance(t *testing.T) {
	objectstoretest.Run(t, func(t *testing.T) objectstore.Store {
		s, err := objectstore.NewFileStore(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
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
