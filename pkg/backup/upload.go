package backup

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"

	"github.com/arkproject/ark/pkg/backupstore"
	"github.com/arkproject/ark/pkg/objectstore"
)

// upload streams one file into the bucket while computing its SHA-256, for
// the manifest that a restore verifies before trusting anything.
type upload struct {
	key  string
	w    objectstore.Writer
	sum  hash.Hash
	size int64
}

func newUpload(ctx context.Context, store objectstore.Store, key string) (*upload, error) {
	w, err := store.NewWriter(ctx, key, objectstore.Conditions{})
	if err != nil {
		return nil, fmt.Errorf("opening %s for upload: %w", key, err)
	}
	return &upload{key: key, w: w, sum: sha256.New()}, nil
}

func (u *upload) Write(p []byte) (int, error) {
	n, err := u.w.Write(p)
	u.sum.Write(p[:n])
	u.size += int64(n)
	return n, err
}

// commit finishes the upload and returns its manifest entry.
func (u *upload) commit() (backupstore.ManifestEntry, error) {
	if err := u.w.Close(); err != nil {
		return backupstore.ManifestEntry{}, fmt.Errorf("uploading %s: %w", u.key, err)
	}
	return backupstore.ManifestEntry{SHA256: hex.EncodeToString(u.sum.Sum(nil)), Size: u.size}, nil
}

// abort discards the upload.
func (u *upload) abort() { u.w.Abort() }

var _ io.Writer = &upload{}
