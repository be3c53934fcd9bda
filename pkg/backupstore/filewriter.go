package backupstore

import (
	"context"
	"fmt"
	"io"

	"github.com/arkproject/ark/pkg/backupstore/encryption"
	"github.com/arkproject/ark/pkg/objectstore"
)

// FileWriter uploads one file of a backup's or a restore's folder, which
// is encrypted on the way when the folder has a data key: the backup
// engine, the restore engine and volume snapshots write their files
// through it, so a file of an encrypted folder is never stored in plaintext
// by accident.
type FileWriter struct {
	key string
	w   objectstore.Writer
	// enc encrypts into the stored stream; nil writes plaintext.
	enc io.WriteCloser
	// stored, when set, sees every byte as stored.
	stored io.Writer
	size   int64
}

var _ objectstore.Writer = &FileWriter{}

// NewFileWriter starts the upload of the file at key. With a data key (dk
// non-nil) what is written is encrypted as that file. stored, if not nil,
// sees the bytes as the bucket holds them (the ciphertext of an encrypted
// file), for the checksum a manifest records.
func NewFileWriter(ctx context.Context, store objectstore.Store, key string, dk *encryption.DataKey, stored io.Writer) (*FileWriter, error) {
	w, err := store.NewWriter(ctx, key, objectstore.Conditions{})
	if err != nil {
		return nil, fmt.Errorf("opening %s for upload: %w", key, err)
	}
	f := &FileWriter{key: key, w: w, stored: stored}
	if dk != nil {
		if f.enc, err = dk.NewWriter(storedSink{f}, key); err != nil {
			w.Abort()
			return nil, fmt.Errorf("encrypting %s: %w", key, err)
		}
	}
	return f, nil
}

// Write writes the file's (plaintext) content.
func (f *FileWriter) Write(p []byte) (int, error) {
	if f.enc != nil {
		return f.enc.Write(p)
	}
	return f.store(p)
}

// store writes bytes as they are stored.
func (f *FileWriter) store(p []byte) (int, error) {
	n, err := f.w.Write(p)
	if f.stored != nil {
		f.stored.Write(p[:n])
	}
	f.size += int64(n)
	return n, err
}

// storedSink is the stream under the encryption.
type storedSink struct{ f *FileWriter }

func (s storedSink) Write(p []byte) (int, error) { return s.f.store(p) }

// Close writes the last encrypted segment (without which the file does not
// decrypt), then commits the upload.
func (f *FileWriter) Close() error {
	if f.enc != nil {
		if err := f.enc.Close(); err != nil {
			f.w.Abort()
			return fmt.Errorf("encrypting %s: %w", f.key, err)
		}
	}
	if err := f.w.Close(); err != nil {
		return fmt.Errorf("uploading %s: %w", f.key, err)
	}
	return nil
}

// Abort discards the upload; it is safe to call after Close.
func (f *FileWriter) Abort() { f.w.Abort() }

// Attrs describes the committed object; valid after a successful Close.
func (f *FileWriter) Attrs() objectstore.ObjectAttrs { return f.w.Attrs() }

// Size is how many bytes have been stored so far.
func (f *FileWriter) Size() int64 { return f.size }
