package backup

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"

	"github.com/arkproject/ark/pkg/backupstore"
	"github.com/arkproject/ark/pkg/backupstore/encryption"
	"github.com/arkproject/ark/pkg/objectstore"
)

// upload streams one file into the bucket while computing its SHA-256, for
// the manifest that a restore verifies before trusting anything. When the
// backup is encrypted, what is written is encrypted on the way, and the
// checksum is the ciphertext's: what the bucket holds.
type upload struct {
	key  string
	w    objectstore.Writer
	sum  hash.Hash
	size int64
	// enc encrypts into the stored stream; nil writes plaintext.
	enc io.WriteCloser
}

func newUpload(ctx context.Context, store objectstore.Store, key string, dk *encryption.DataKey) (*upload, error) {
	w, err := store.NewWriter(ctx, key, objectstore.Conditions{})
	if err != nil {
		return nil, fmt.Errorf("opening %s for upload: %w", key, err)
	}
	u := &upload{key: key, w: w, sum: sha256.New()}
	if dk != nil {
		if u.enc, err = dk.NewWriter(ciphertextSink{u}, key); err != nil {
			w.Abort()
			return nil, fmt.Errorf("encrypting %s: %w", key, err)
		}
	}
	return u, nil
}

func (u *upload) Write(p []byte) (int, error) {
	if u.enc != nil {
		return u.enc.Write(p)
	}
	return u.store(p)
}

// store writes bytes as they are stored, counting them for the manifest.
func (u *upload) store(p []byte) (int, error) {
	n, err := u.w.Write(p)
	u.sum.Write(p[:n])
	u.size += int64(n)
	return n, err
}

// ciphertextSink is the stream under the encryption.
type ciphertextSink struct{ u *upload }

func (s ciphertextSink) Write(p []byte) (int, error) { return s.u.store(p) }

// commit finishes the upload and returns its manifest entry.
func (u *upload) commit() (backupstore.ManifestEntry, error) {
	if u.enc != nil {
		// The last segment is written, marked last, on Close.
		if err := u.enc.Close(); err != nil {
			u.w.Abort()
			return backupstore.ManifestEntry{}, fmt.Errorf("encrypting %s: %w", u.key, err)
		}
	}
	if err := u.w.Close(); err != nil {
		return backupstore.ManifestEntry{}, fmt.Errorf("uploading %s: %w", u.key, err)
	}
	return backupstore.ManifestEntry{SHA256: hex.EncodeToString(u.sum.Sum(nil)), Size: u.size}, nil
}

// abort discards the upload.
func (u *upload) abort() { u.w.Abort() }

var _ io.Writer = &upload{}
