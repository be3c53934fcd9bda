package backupstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/arkproject/ark/pkg/backupstore/encryption"
	"github.com/arkproject/ark/pkg/objectstore"
)

// ManifestVersion is the only manifest format there is.
const ManifestVersion = 1

// MaxManifestSize caps the manifest read: it lists a handful of files.
const MaxManifestSize = 1 << 20

// ManifestEntry is the checksum and size of one file of a backup.
type ManifestEntry struct {
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
}

// Manifest lists every file of a backup (but ark-backup.json, which changes
// after the backup) by its name in the backup's folder, with its checksum.
// The backup engine writes it last; whoever reads a backup's files checks
// them against it first, since the bucket is input, not authority.
//
// An encrypted backup's manifest lists the ciphertexts, and its MAC (see
// Seal) authenticates it with the backup's data key.
type Manifest struct {
	Version int                      `json:"version"`
	Files   map[string]ManifestEntry `json:"files"`
	// MAC is the manifest's HMAC-SHA-256 under the backup's data key, in
	// hex; empty when the backup is not encrypted.
	MAC string `json:"mac,omitempty"`

	// dataKey decrypts the files, once the MAC was verified with it.
	dataKey *encryption.DataKey
}

// ErrCorrupt is matched (errors.Is) by every error that reading a backup
// returns because of what the bucket holds: a missing, malformed or
// oversized manifest, or a file that is missing or does not match it.
var ErrCorrupt = errors.New("corrupt backup")

// CorruptError says what is wrong with a backup's files; it matches
// ErrCorrupt and unwraps to its cause, if any.
type CorruptError struct {
	// Backup is the backup's name.
	Backup string
	// Msg says what is wrong, naming the file.
	Msg string
	// Err is the cause, or nil.
	Err error
}

func (e *CorruptError) Error() string {
	s := fmt.Sprintf("backup %q is corrupt: %s", e.Backup, e.Msg)
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Is makes every CorruptError match ErrCorrupt.
func (e *CorruptError) Is(target error) bool { return target == ErrCorrupt }

// Unwrap returns the cause.
func (e *CorruptError) Unwrap() error { return e.Err }

// FileName is a key's name within its backup's folder, as the manifest lists it.
func FileName(key string) string { return key[strings.LastIndex(key, "/")+1:] }

// ReadManifest reads and checks a backup's manifest: at most
// MaxManifestSize bytes, of the known version, every entry with a
// well-formed SHA-256 and a size that is not negative. Anything else, and a
// missing manifest, is a CorruptError; an unreachable bucket is not. An
// encrypted backup's manifest must also pass its MAC with the data key of
// its key file, which the location's keys must open (a key not held is an
// error matching encryption.ErrKeyNotHeld).
func ReadManifest(ctx context.Context, store objectstore.Store, ref Backup) (Manifest, error) {
	key := ref.ManifestKey()
	corrupt := func(cause error, format string, args ...any) error {
		return &CorruptError{Backup: ref.Name, Msg: fmt.Sprintf(format, args...), Err: cause}
	}
	r, _, err := store.NewReader(ctx, key)
	if errors.Is(err, objectstore.ErrNotFound) {
		return Manifest{}, corrupt(err, "its manifest is missing")
	}
	if err != nil {
		return Manifest{}, fmt.Errorf("reading the manifest of backup %q: %w", ref.Name, err)
	}
	defer r.Close()
	data, err := io.ReadAll(io.LimitReader(r, MaxManifestSize+1))
	if err != nil {
		return Manifest{}, fmt.Errorf("reading the manifest of backup %q: %w", ref.Name, err)
	}
	if len(data) > MaxManifestSize {
		return Manifest{}, corrupt(nil, "its manifest %s is larger than %d bytes", key, MaxManifestSize)
	}
	var m Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return Manifest{}, corrupt(err, "its manifest %s is malformed", key)
	}
	if m.Version != ManifestVersion {
		return Manifest{}, corrupt(nil, "its manifest %s has unsupported version %d", key, m.Version)
	}
	for name, e := range m.Files {
		if sum, err := hex.DecodeString(e.SHA256); err != nil || len(sum) != sha256.Size {
			return Manifest{}, corrupt(nil, "its manifest %s has an invalid SHA-256 %q for %s", key, e.SHA256, name)
		}
		if e.Size < 0 {
			return Manifest{}, corrupt(nil, "its manifest %s has a negative size for %s", key, name)
		}
	}
	if err := m.authenticate(ctx, store, ref); err != nil {
		return Manifest{}, err
	}
	return m, nil
}
