package backupstore

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/arkproject/ark/pkg/backupstore/encryption"
	"github.com/arkproject/ark/pkg/objectstore"
)

// folder is one backup's or restore's folder, for its data key.
type folder struct {
	what, name string // "backup", "restore"; the object's name
	dir        string
	keyFile    string
	keys       *encryption.Keyring
}

func (b Backup) folder() folder {
	return folder{what: "backup", name: b.Name, dir: b.dir, keyFile: b.KeyFileKey(), keys: b.keys}
}

func (r Restore) folder() folder {
	return folder{what: "restore", name: r.Name, dir: r.dir, keyFile: r.KeyFileKey(), keys: r.keys}
}

// StartEncryption makes the backup's data key and writes its key file,
// before any other file: a writer encrypts every file with the key
// returned. It returns nil when the location has no keys.
func (b Backup) StartEncryption(ctx context.Context, store objectstore.Store) (*encryption.DataKey, error) {
	return b.folder().start(ctx, store)
}

// StartEncryption is Backup.StartEncryption for a restore's files.
func (r Restore) StartEncryption(ctx context.Context, store objectstore.Store) (*encryption.DataKey, error) {
	return r.folder().start(ctx, store)
}

func (f folder) start(ctx context.Context, store objectstore.Store) (*encryption.DataKey, error) {
	if f.keys == nil {
		return nil, nil
	}
	dk := encryption.NewDataKey(f.dir)
	if _, err := objectstore.PutBytes(ctx, store, f.keyFile, encryption.MarshalKeyFile(f.keys.Wrap(dk)), objectstore.Conditions{}); err != nil {
		return nil, fmt.Errorf("writing the key file of %s %q: %w", f.what, f.name, err)
	}
	return dk, nil
}

// DataKey reads the backup's key file and opens its data key with the
// location's keys. It returns nil when the backup has no key file (it is
// not encrypted). A key the location does not hold is an error that
// matches encryption.ErrKeyNotHeld; a key file that does not open is a
// CorruptError.
func (b Backup) DataKey(ctx context.Context, store objectstore.Store) (*encryption.DataKey, error) {
	return b.folder().open(ctx, store)
}

// DataKey is Backup.DataKey for a restore's files.
func (r Restore) DataKey(ctx context.Context, store objectstore.Store) (*encryption.DataKey, error) {
	return r.folder().open(ctx, store)
}

func (f folder) open(ctx context.Context, store objectstore.Store) (*encryption.DataKey, error) {
	kf, _, found, err := f.readKeyFile(ctx, store)
	if err != nil || !found {
		return nil, err
	}
	if f.keys == nil {
		err = &encryption.KeyNotHeldError{KeyID: kf.KeyID}
	} else {
		var dk *encryption.DataKey
		if dk, err = f.keys.Unwrap(kf, f.dir); err == nil {
			return dk, nil
		}
	}
	if errors.Is(err, encryption.ErrKeyNotHeld) {
		return nil, fmt.Errorf("%s %q cannot be read: %w", f.what, f.name, err)
	}
	return nil, f.corrupt(err, "%s", FileName(f.keyFile)+" does not open")
}

// readKeyFile reads and parses the folder's key file; found is false when
// there is none (the folder is not encrypted). A malformed one is corrupt.
func (f folder) readKeyFile(ctx context.Context, store objectstore.Store) (kf encryption.KeyFile, attrs objectstore.ObjectAttrs, found bool, err error) {
	data, attrs, err := objectstore.ReadAll(ctx, store, f.keyFile, encryption.MaxKeyFileSize+1)
	switch {
	case errors.Is(err, objectstore.ErrNotFound):
		return kf, attrs, false, nil
	case err != nil:
		return kf, attrs, false, fmt.Errorf("reading the key file of %s %q: %w", f.what, f.name, err)
	}
	if kf, err = encryption.ParseKeyFile(data); err != nil {
		return kf, attrs, false, f.corrupt(err, "%s is malformed", FileName(f.keyFile))
	}
	return kf, attrs, true, nil
}

func (f folder) corrupt(cause error, format string, args ...any) error {
	if f.what == "backup" {
		return &CorruptError{Backup: f.name, Msg: fmt.Sprintf(format, args...), Err: cause}
	}
	return fmt.Errorf("the files of %s %q are corrupt: %s: %w", f.what, f.name, fmt.Sprintf(format, args...), cause)
}

// KeyID reads which location key wraps the backup's data key, without
// opening it: "" when the backup is not encrypted.
func (b Backup) KeyID(ctx context.Context, store objectstore.Store) (string, error) {
	kf, _, _, err := b.folder().readKeyFile(ctx, store)
	return kf.KeyID, err
}

// Rewrap wraps the backup's data key again under the location's active
// key, rewriting its key file only if it was wrapped by another key (so a
// rotation can be run again, and rewrites only what it must). It reports
// the key ID it found and whether it rewrote the file.
func (b Backup) Rewrap(ctx context.Context, store objectstore.Store) (from string, rewrapped bool, err error) {
	if b.keys == nil {
		return "", false, errors.New("the location has no encryption keys")
	}
	kf, attrs, found, err := b.folder().readKeyFile(ctx, store)
	if err != nil || !found {
		return "", false, err
	}
	if kf.KeyID == b.keys.ActiveID() {
		return kf.KeyID, false, nil
	}
	next, err := b.keys.Rewrap(kf, b.dir)
	if err != nil {
		if errors.Is(err, encryption.ErrKeyNotHeld) {
			return kf.KeyID, false, fmt.Errorf("backup %q cannot be rewrapped: %w", b.Name, err)
		}
		return kf.KeyID, false, b.folder().corrupt(err, "%s does not open", FileName(b.KeyFileKey()))
	}
	// Conditional on the file read: a concurrent rotation's write is not
	// overwritten with a key it already replaced.
	if _, err := objectstore.PutBytes(ctx, store, b.KeyFileKey(), encryption.MarshalKeyFile(next), objectstore.Conditions{GenerationMatch: attrs.Generation}); err != nil {
		return kf.KeyID, false, fmt.Errorf("rewriting the key file of backup %q: %w", b.Name, err)
	}
	return kf.KeyID, true, nil
}

// manifestContent is what a manifest's MAC covers: everything in it but
// the MAC.
func manifestContent(m Manifest) []byte {
	data, _ := json.Marshal(struct {
		Version int                      `json:"version"`
		Files   map[string]ManifestEntry `json:"files"`
	}{m.Version, m.Files})
	return data
}

// Seal authenticates the manifest with the backup's data key (nil leaves
// it unauthenticated, as a backup that is not encrypted is).
func (m *Manifest) Seal(dk *encryption.DataKey) {
	if dk != nil {
		m.MAC = hex.EncodeToString(dk.MAC(manifestContent(*m)))
	}
}

// Encrypted reports whether the backup's files are encrypted: its manifest
// was verified with the data key its key file holds.
func (m Manifest) Encrypted() bool { return m.dataKey != nil }

// Decrypt returns a reader of the plaintext of the backup's file at key,
// read from r: r itself when the backup is not encrypted.
func (m Manifest) Decrypt(r io.Reader, key string) (io.Reader, error) {
	if m.dataKey == nil {
		return r, nil
	}
	return m.dataKey.NewReader(r, key)
}

// authenticate opens the backup's data key and checks the manifest's MAC
// with it. A backup has a key file and a MAC, or neither.
func (m *Manifest) authenticate(ctx context.Context, store objectstore.Store, ref Backup) error {
	dk, err := ref.DataKey(ctx, store)
	if err != nil {
		return err
	}
	switch {
	case dk == nil && m.MAC == "":
		return nil
	case dk == nil:
		return &CorruptError{Backup: ref.Name, Msg: fmt.Sprintf("its manifest is authenticated but its key file %s is missing", FileName(ref.KeyFileKey()))}
	case m.MAC == "":
		return &CorruptError{Backup: ref.Name, Msg: fmt.Sprintf("it is encrypted but its manifest %s is not authenticated", FileName(ref.ManifestKey()))}
	}
	mac, err := hex.DecodeString(m.MAC)
	if err != nil || !dk.VerifyMAC(manifestContent(*m), mac) {
		return &CorruptError{Backup: ref.Name, Msg: fmt.Sprintf("its manifest %s fails authentication with its data key (it was altered, or belongs to another backup)", FileName(ref.ManifestKey())), Err: encryption.ErrTampered}
	}
	m.dataKey = dk
	return nil
}

// OpenFile opens one of a finished or running backup's files for
// streaming, decrypted when the backup is encrypted: each segment is
// authenticated before it is read, so a tampered file ends the stream
// with an error. The caller closes it.
func (b Backup) OpenFile(ctx context.Context, store objectstore.Store, key string) (io.ReadCloser, error) {
	return b.folder().openFile(ctx, store, key)
}

// OpenFile is Backup.OpenFile for a restore's files.
func (r Restore) OpenFile(ctx context.Context, store objectstore.Store, key string) (io.ReadCloser, error) {
	return r.folder().openFile(ctx, store, key)
}

func (f folder) openFile(ctx context.Context, store objectstore.Store, key string) (io.ReadCloser, error) {
	dk, err := f.open(ctx, store)
	if err != nil {
		return nil, err
	}
	rc, _, err := store.NewReader(ctx, key)
	if err != nil || dk == nil {
		return rc, err
	}
	plain, err := dk.NewReader(rc, key)
	if err != nil {
		rc.Close()
		return nil, f.corrupt(err, "%s does not decrypt", FileName(key))
	}
	return readCloser{plain, rc}, nil
}

type readCloser struct {
	io.Reader
	io.Closer
}
