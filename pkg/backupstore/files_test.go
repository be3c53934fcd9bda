package backupstore_test

import (
	"bytes"
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/arkproject/ark/pkg/backupstore"
	"github.com/arkproject/ark/pkg/backupstore/backupstoretest"
	"github.com/arkproject/ark/pkg/objectstore"
)

func fileStore(t *testing.T) objectstore.Store {
	t.Helper()
	s, err := objectstore.NewFileStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// A sound backup's files are read as written.
func TestFilesRead(t *testing.T) {
	ctx := context.Background()
	store := fileStore(t)
	ref := backupstore.Layout{HomeNamespace: "heptio-ark"}.Backup("team-a", "b1")
	list := map[string][]string{"configmaps": {"team-a/cm"}, "namespaces": {"team-a"}}
	backupstoretest.PutFiles(t, store, ref, map[string][]byte{ref.ResourceListKey(): backupstoretest.GzipJSON(t, list)})
	files, err := backupstore.OpenFiles(ctx, store, ref)
	if err != nil {
		t.Fatal(err)
	}
	got, err := files.ResourceList(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, list) {
		t.Errorf("resource list %v, want %v", got, list)
	}
	// A file the manifest does not list and the bucket does not hold is
	// absent, not corrupt: the backup never had one.
	if _, err := files.Read(ctx, ref.VolumeSnapshotsKey(), 1<<20); !errors.Is(err, backupstore.ErrAbsent) || errors.Is(err, backupstore.ErrCorrupt) {
		t.Errorf("an absent file: %v, want ErrAbsent", err)
	}
}

// Whatever the bucket holds instead of a sound file is a clear error:
// corrupt (naming the file) or too large, never read into memory whole.
func TestFilesReadRefusesWhatDoesNotMatch(t *testing.T) {
	ref := backupstore.Home("b1")
	list := backupstoretest.GzipJSON(t, map[string][]string{"configmaps": {"a/b"}})
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, s objectstore.Store)
		// limit is the reader's cap (default 1 MiB).
		limit   int64
		corrupt bool
		want    string
	}{
		{name: "no manifest", setup: func(t *testing.T, s objectstore.Store) {
			backupstoretest.Put(t, s, ref.ResourceListKey(), list)
		}, corrupt: true, want: "its manifest is missing"},
		{name: "manifest too large", setup: func(t *testing.T, s objectstore.Store) {
			backupstoretest.Put(t, s, ref.ManifestKey(), bytes.Repeat([]byte(" "), backupstore.MaxManifestSize+1))
		}, corrupt: true, want: "is larger than"},
		{name: "manifest version", setup: func(t *testing.T, s objectstore.Store) {
			backupstoretest.PutManifest(t, s, ref, backupstore.Manifest{Version: 7})
		}, corrupt: true, want: "unsupported version 7"},
		{name: "manifest bad sha", setup: func(t *testing.T, s objectstore.Store) {
			backupstoretest.PutManifest(t, s, ref, backupstore.Manifest{Version: 1, Files: map[string]backupstore.ManifestEntry{"b1-resource-list.json.gz": {SHA256: "zz", Size: 1}}})
		}, corrupt: true, want: "invalid SHA-256"},
		{name: "tampered", setup: func(t *testing.T, s objectstore.Store) {
			backupstoretest.PutFiles(t, s, ref, map[string][]byte{ref.ResourceListKey(): list})
			bad := append([]byte{}, list...)
			bad[len(bad)/2] ^= 0xff
			backupstoretest.Put(t, s, ref.ResourceListKey(), bad)
		}, corrupt: true, want: "checksum of b1-resource-list.json.gz does not match its manifest"},
		{name: "longer", setup: func(t *testing.T, s objectstore.Store) {
			backupstoretest.PutFiles(t, s, ref, map[string][]byte{ref.ResourceListKey(): list})
			backupstoretest.Put(t, s, ref.ResourceListKey(), append(append([]byte{}, list...), 0))
		}, corrupt: true, want: "size of b1-resource-list.json.gz does not match its manifest (more than"},
		{name: "missing", setup: func(t *testing.T, s objectstore.Store) {
			backupstoretest.PutFiles(t, s, ref, map[string][]byte{ref.ResourceListKey(): list})
			if err := s.Delete(context.Background(), ref.ResourceListKey(), objectstore.Conditions{}); err != nil {
				t.Fatal(err)
			}
		}, corrupt: true, want: "b1-resource-list.json.gz is missing"},
		{name: "not listed", setup: func(t *testing.T, s objectstore.Store) {
			backupstoretest.PutFiles(t, s, ref, map[string][]byte{ref.TarballKey(): []byte("x")})
			backupstoretest.Put(t, s, ref.ResourceListKey(), list)
		}, corrupt: true, want: "its manifest does not list b1-resource-list.json.gz"},
		{name: "not gzip", setup: func(t *testing.T, s objectstore.Store) {
			backupstoretest.PutFiles(t, s, ref, map[string][]byte{ref.ResourceListKey(): []byte(`{"configmaps":["a/b"]}`)})
		}, corrupt: true, want: "b1-resource-list.json.gz is not gzipped"},
		{name: "not JSON", setup: func(t *testing.T, s objectstore.Store) {
			backupstoretest.PutFiles(t, s, ref, map[string][]byte{ref.ResourceListKey(): backupstoretest.Gzip(t, []byte(`["a/b"]`))})
		}, corrupt: true, want: "b1-resource-list.json.gz is malformed"},
		{name: "too large", setup: func(t *testing.T, s objectstore.Store) {
			backupstoretest.PutFiles(t, s, ref, map[string][]byte{ref.ResourceListKey(): list})
		}, limit: int64(len(list)) - 1, want: "more than the limit"},
		{name: "inflates too much", setup: func(t *testing.T, s objectstore.Store) {
			bomb := backupstoretest.Gzip(t, []byte(`{"x":["`+strings.Repeat("a", 1<<20)+`"]}`))
			backupstoretest.PutFiles(t, s, ref, map[string][]byte{ref.ResourceListKey(): bomb})
		}, limit: 64 << 10, want: "uncompressed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			s := fileStore(t)
			tc.setup(t, s)
			limit := tc.limit
			if limit == 0 {
				limit = 1 << 20
			}
			var list map[string][]string
			files, err := backupstore.OpenFiles(ctx, s, ref)
			if err == nil {
				err = files.ReadGzipJSON(ctx, ref.ResourceListKey(), limit, &list)
			}
			if err == nil {
				t.Fatalf("read %v, want an error", list)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not say %q", err, tc.want)
			}
			if got := errors.Is(err, backupstore.ErrCorrupt); got != tc.corrupt {
				t.Errorf("errors.Is(%q, ErrCorrupt) = %v, want %v", err, got, tc.corrupt)
			}
			if !tc.corrupt && !errors.Is(err, backupstore.ErrTooLarge) {
				t.Errorf("errors.Is(%q, ErrTooLarge) = false", err)
			}
		})
	}
}

func TestFileName(t *testing.T) {
	for in, want := range map[string]string{
		"backups/b1/b1.tar.gz": "b1.tar.gz",
		"b1-logs.gz":           "b1-logs.gz",
		"a/":                   "",
	} {
		if got := backupstore.FileName(in); got != want {
			t.Errorf("FileName(%q) = %q, want %q", in, got, want)
		}
	}
}
