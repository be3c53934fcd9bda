package backup

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"hash"

	"github.com/arkproject/ark/pkg/backupstore"
	"github.com/arkproject/ark/pkg/backupstore/encryption"
	"github.com/arkproject/ark/pkg/objectstore"
)

// upload streams one file into the bucket while computing its SHA-256, for
// the manifest that a restore verifies before trusting anything. When the
// backup is encrypted, what is written is encrypted on the way, and the
// checksum is the ciphertext's: what the bucket holds.
type upload struct {
	*backupstore.FileWriter
	sum hash.Hash
}

func newUpload(ctx context.Context, store objectstore.Store, key string, dk *encryption.DataKey) (*upload, error) {
	sum := sha256.New()
	w, err := backupstore.NewFileWriter(ctx, store, key, dk, sum)
	if err != nil {
		return nil, err
	}
	return &upload{FileWriter: w, sum: sum}, nil
}

// commit finishes the upload and returns its manifest entry.
func (u *upload) commit() (backupstore.ManifestEntry, error) {
	if err := u.Close(); err != nil {
		return backupstore.ManifestEntry{}, err
	}
	return backupstore.ManifestEntry{SHA256: hex.EncodeToString(u.sum.Sum(nil)), Size: u.Size()}, nil
}

// abort discards the upload.
func (u *upload) abort() { u.Abort() }
