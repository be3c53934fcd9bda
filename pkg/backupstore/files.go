package backupstore

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/arkproject/ark/pkg/objectstore"
)

// ErrAbsent is matched by the error of reading a file that the manifest
// does not list and the bucket does not hold: the backup never had one (an
// earlier version of Ark wrote no such file). It is not corruption.
var ErrAbsent = errors.New("not part of the backup")

// ErrTooLarge is matched by the error of reading a file larger than the
// reader allows: the file may be sound, but it is not read into memory.
var ErrTooLarge = errors.New("file too large")

// Files reads the small files of a finished backup (its resource list,
// volume-snapshot records, results) whole into memory, each only once its
// size and SHA-256 match the backup's manifest and within a size limit, so
// that neither a tampered nor a huge file is ever used.
type Files struct {
	store    objectstore.Store
	ref      Backup
	manifest Manifest
	// unverified files have no manifest (a Velero backup's): they are
	// read within the size limit only.
	unverified bool
}

// OpenFiles reads the backup's manifest (see ReadManifest) for reading its
// files. A Velero backup has none: its files are read unverified.
func OpenFiles(ctx context.Context, store objectstore.Store, ref Backup) (*Files, error) {
	if ref.Format().IsVelero() {
		return &Files{store: store, ref: ref, unverified: true}, nil
	}
	m, err := ReadManifest(ctx, store, ref)
	if err != nil {
		return nil, err
	}
	return &Files{store: store, ref: ref, manifest: m}, nil
}

// Backup is where the files are.
func (f *Files) Backup() Backup { return f.ref }

func (f *Files) corrupt(cause error, format string, args ...any) error {
	return &CorruptError{Backup: f.ref.Name, Msg: fmt.Sprintf(format, args...), Err: cause}
}

// Read returns the content of the backup's file at key, at most limit
// bytes. A file the manifest lists must be there, of its size and
// checksum (else a CorruptError); one it does not list must be absent
// (ErrAbsent), since the engine lists every file it writes.
func (f *Files) Read(ctx context.Context, key string, limit int64) ([]byte, error) {
	name := FileName(key)
	if f.unverified {
		return f.readUnverified(ctx, key, limit)
	}
	want, listed := f.manifest.Files[name]
	if !listed {
		_, err := f.store.Attrs(ctx, key)
		switch {
		case errors.Is(err, objectstore.ErrNotFound):
			return nil, fmt.Errorf("backup %q has no %s: %w", f.ref.Name, name, ErrAbsent)
		case err != nil:
			return nil, fmt.Errorf("reading %s of backup %q: %w", name, f.ref.Name, err)
		}
		return nil, f.corrupt(nil, "its manifest does not list %s", name)
	}
	if want.Size > limit {
		return nil, fmt.Errorf("backup %q: %s is %d bytes, more than the limit of %d: %w", f.ref.Name, name, want.Size, limit, ErrTooLarge)
	}
	r, _, err := f.store.NewReader(ctx, key)
	if errors.Is(err, objectstore.ErrNotFound) {
		return nil, f.corrupt(err, "%s is missing", name)
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s of backup %q: %w", name, f.ref.Name, err)
	}
	defer r.Close()
	data, err := io.ReadAll(io.LimitReader(r, want.Size+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s of backup %q: %w", name, f.ref.Name, err)
	}
	if n := int64(len(data)); n != want.Size {
		got := fmt.Sprint(n)
		if n > want.Size {
			got = fmt.Sprint("more than ", want.Size)
		}
		return nil, f.corrupt(nil, "size of %s does not match its manifest (%s bytes, the manifest says %d)", name, got, want.Size)
	}
	sum := sha256.Sum256(data)
	if got := hex.EncodeToString(sum[:]); !strings.EqualFold(got, want.SHA256) {
		return nil, f.corrupt(nil, "checksum of %s does not match its manifest (sha256 %s, the manifest says %s)", name, got, want.SHA256)
	}
	if f.manifest.dataKey != nil {
		plain, err := f.manifest.dataKey.Open(data, key)
		if err != nil {
			return nil, f.corrupt(err, "%s fails authentication", name)
		}
		return plain, nil
	}
	return data, nil
}

// Encrypted reports whether the backup's files are encrypted.
func (f *Files) Encrypted() bool { return f.manifest.Encrypted() }

// Verified reports whether the files are checked against a manifest.
func (f *Files) Verified() bool { return !f.unverified }

// readUnverified reads a file of a backup without a manifest: absent is
// ErrAbsent (Velero writes some files only when there is something to
// say), larger than limit is ErrTooLarge.
func (f *Files) readUnverified(ctx context.Context, key string, limit int64) ([]byte, error) {
	name := FileName(key)
	r, attrs, err := f.store.NewReader(ctx, key)
	if errors.Is(err, objectstore.ErrNotFound) {
		return nil, fmt.Errorf("backup %q has no %s: %w", f.ref.Name, name, ErrAbsent)
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s of backup %q: %w", name, f.ref.Name, err)
	}
	defer r.Close()
	if attrs.Size > limit {
		return nil, fmt.Errorf("backup %q: %s is %d bytes, more than the limit of %d: %w", f.ref.Name, name, attrs.Size, limit, ErrTooLarge)
	}
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s of backup %q: %w", name, f.ref.Name, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("backup %q: %s is more than the limit of %d bytes: %w", f.ref.Name, name, limit, ErrTooLarge)
	}
	return data, nil
}

// ReadGzipJSON decodes the backup's gzipped JSON file at key into v, once
// Read has verified it; limit caps both the file and what it inflates to.
func (f *Files) ReadGzipJSON(ctx context.Context, key string, limit int64, v any) error {
	data, err := f.Read(ctx, key, limit)
	if err != nil {
		return err
	}
	name := FileName(key)
	gz, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return f.corrupt(err, "%s is not gzipped", name)
	}
	raw, err := io.ReadAll(io.LimitReader(gz, limit+1))
	if err != nil {
		return f.corrupt(err, "%s cannot be decompressed", name)
	}
	if int64(len(raw)) > limit {
		return fmt.Errorf("backup %q: %s holds more than %d bytes uncompressed: %w", f.ref.Name, name, limit, ErrTooLarge)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return f.corrupt(err, "%s is malformed", name)
	}
	return nil
}

// MaxResourceListSize caps a resource list, gzipped and inflated: 32 MiB
// names about half a million items, and the whole list is held in memory.
const MaxResourceListSize = 32 << 20

// ResourceList reads the backup's resource list: the names of the items
// backed up, by resource ({"deployments.apps": ["ns/name", ...],
// "namespaces": ["name", ...]}), as the backup engine wrote it.
func (f *Files) ResourceList(ctx context.Context) (map[string][]string, error) {
	var list map[string][]string
	if err := f.ReadGzipJSON(ctx, f.ref.ResourceListKey(), MaxResourceListSize, &list); err != nil {
		return nil, err
	}
	return list, nil
}
