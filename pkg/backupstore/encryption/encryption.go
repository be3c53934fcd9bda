// Package encryption is the client-side encryption of a location's backups:
// what a bucket holds is useless without the location's key, and any change
// to it is detected before a byte of it is used.
//
// The construction is not Ark's own. Every backup (and every restore's
// files) gets a fresh random data key. Each file is encrypted under it with
// Tink's streaming AEAD AES-GCM-HKDF (the STREAM construction of Hoang,
// Reyhanitabar, Rogaway and Vizár: a per-file key derived by HKDF from the
// data key and a random salt, AES-256-GCM segments whose nonces count the
// segment and mark the last one), with the file's key in the bucket as
// associated data, so a file cannot be moved to another name, cut short or
// have its segments reordered. The data key is wrapped by the location's
// active key with AES-256-GCM, bound to the folder it belongs to and the
// key's ID, and stored beside the files: rotating the location's key
// rewrites that small file only, never the data. The manifest of checksums
// is authenticated with an HMAC-SHA-256 keyed from the data key, so a file,
// a manifest or a whole folder swapped in from elsewhere is refused.
package encryption

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"

	streaming "github.com/tink-crypto/tink-go/v2/streamingaead/subtle"
)

// KeyLength is the length of a location key and of a data key: AES-256.
const KeyLength = 32

// ActiveField is the entry of a key Secret that names the active key; every
// other entry is a key, by its ID.
const ActiveField = "active"

// Algorithm names the format of encrypted files, recorded in every key file
// so that a later format can be told apart.
const Algorithm = "AES256_GCM_HKDF_256KB"

// segmentSize is the ciphertext segment of the stream: what a reader must
// hold to authenticate before it hands out any byte of it.
const segmentSize = 256 << 10

// keyFileVersion is the only key file format there is.
const keyFileVersion = 1

// ErrKeyNotHeld is matched by the error of reading something written with
// a key the location's key Secret does not hold (or by a server given no
// keys at all). It is not corruption: adding the key back makes it readable.
var ErrKeyNotHeld = errors.New("key not held")

// ErrTampered is matched by the error of every check that failed on what
// the bucket holds: a file, a key file or a manifest that is not what was
// written, or that was written with another key.
var ErrTampered = errors.New("fails authentication")

// KeyNotHeldError names the key something was written with.
type KeyNotHeldError struct {
	// KeyID is the key's ID.
	KeyID string
}

func (e *KeyNotHeldError) Error() string {
	return fmt.Sprintf("it was written with key %q, which this server does not hold", e.KeyID)
}

// Is makes every KeyNotHeldError match ErrKeyNotHeld.
func (e *KeyNotHeldError) Is(target error) bool { return target == ErrKeyNotHeld }

// keyIDPattern is what a key's ID may be: a Secret's data key, short and
// printable, since it is recorded in plaintext in every backup.
var keyIDPattern = regexp.MustCompile(`^[A-Za-z0-9][-._A-Za-z0-9]{0,62}$`)

// Keyring is a location's keys: the active one, which new backups are
// written with, and older ones kept so their backups stay readable. It is
// immutable; a changed Secret makes a new one.
type Keyring struct {
	active string
	keys   map[string]cipher.AEAD
}

// ParseSecret reads a key Secret's data: "active" names the active key,
// and every other entry is a key of 32 bytes, raw or in standard base64 (so
// `kubectl create secret generic --from-literal=k1=$(head -c32 /dev/urandom
// | base64)` makes one).
func ParseSecret(data map[string][]byte) (*Keyring, error) {
	active := strings.TrimSpace(string(data[ActiveField]))
	if active == "" {
		return nil, fmt.Errorf("the key Secret has no %q entry naming the active key", ActiveField)
	}
	k := &Keyring{active: active, keys: map[string]cipher.AEAD{}}
	for id, value := range data {
		if id == ActiveField {
			continue
		}
		if !keyIDPattern.MatchString(id) {
			return nil, fmt.Errorf("key ID %q is not 1 to 63 letters, digits, '-', '.' or '_'", id)
		}
		key, err := decodeKey(value)
		if err != nil {
			return nil, fmt.Errorf("key %q: %w", id, err)
		}
		if k.keys[id], err = newGCM(key); err != nil {
			return nil, fmt.Errorf("key %q: %w", id, err)
		}
	}
	if _, ok := k.keys[active]; !ok {
		return nil, fmt.Errorf("the active key %q is not in the key Secret", active)
	}
	return k, nil
}

// decodeKey accepts a key as 32 raw bytes or as their standard base64.
func decodeKey(value []byte) ([]byte, error) {
	if len(value) == KeyLength {
		return value, nil
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(value)))
	if err != nil || len(key) != KeyLength {
		return nil, fmt.Errorf("a key must be %d random bytes, raw or in base64; this one is %d bytes", KeyLength, len(value))
	}
	return key, nil
}

func newGCM(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// NewKey returns a fresh random key, for a key Secret.
func NewKey() []byte {
	key := make([]byte, KeyLength)
	if _, err := rand.Read(key); err != nil {
		panic(fmt.Sprintf("crypto/rand failed: %v", err))
	}
	return key
}

// ActiveID is the ID of the key new backups are written with.
func (k *Keyring) ActiveID() string { return k.active }

// IDs are the IDs of every key held, sorted.
func (k *Keyring) IDs() []string {
	ids := make([]string, 0, len(k.keys))
	for id := range k.keys {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// Has reports whether the keyring holds the key of an ID.
func (k *Keyring) Has(id string) bool {
	if k == nil {
		return false
	}
	_, ok := k.keys[id]
	return ok
}

// KeyFile is the wrapped data key of a folder (a backup's or a restore's),
// stored beside its files.
type KeyFile struct {
	// Version is the key file's format.
	Version int `json:"version"`
	// Algorithm is the format of the folder's encrypted files.
	Algorithm string `json:"algorithm"`
	// KeyID is the location key that wraps the data key.
	KeyID string `json:"keyID"`
	// WrappedKey is the data key sealed with AES-256-GCM under that key:
	// the nonce, then the ciphertext and its tag.
	WrappedKey []byte `json:"wrappedKey"`
}

// MaxKeyFileSize caps the key file read: it is a few hundred bytes.
const MaxKeyFileSize = 4 << 10

// wrapAAD binds a wrapped data key to its folder and the key that wraps it,
// so a key file copied into another folder does not open.
func wrapAAD(folder, keyID string) []byte {
	return []byte("ark data key v1\x00" + folder + "\x00" + keyID)
}

// DataKey is one folder's data key: it encrypts the folder's files and
// authenticates its manifest.
type DataKey struct {
	key    []byte
	stream *streaming.AESGCMHKDF
	folder string
}

// NewDataKey returns a fresh data key for the folder (a backup's
// folder in the bucket, with its trailing slash).
func NewDataKey(folder string) *DataKey {
	dk, err := dataKey(NewKey(), folder)
	if err != nil {
		panic(err) // only a key of the wrong length fails
	}
	return dk
}

func dataKey(key []byte, folder string) (*DataKey, error) {
	s, err := streaming.NewAESGCMHKDF(key, "SHA256", KeyLength, segmentSize, 0)
	if err != nil {
		return nil, err
	}
	return &DataKey{key: key, stream: s, folder: folder}, nil
}

// Wrap seals the data key under the keyring's active key.
func (k *Keyring) Wrap(dk *DataKey) KeyFile {
	return k.wrapWith(k.active, dk)
}

func (k *Keyring) wrapWith(id string, dk *DataKey) KeyFile {
	aead := k.keys[id]
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		panic(fmt.Sprintf("crypto/rand failed: %v", err))
	}
	return KeyFile{
		Version: keyFileVersion, Algorithm: Algorithm, KeyID: id,
		WrappedKey: aead.Seal(nonce, nonce, dk.key, wrapAAD(dk.folder, id)),
	}
}

// Unwrap opens the data key of a folder from its key file. A key the
// keyring does not hold is a KeyNotHeldError; a key file that does not
// open (altered, or another folder's) is ErrTampered.
func (k *Keyring) Unwrap(f KeyFile, folder string) (*DataKey, error) {
	switch {
	case f.Version != keyFileVersion:
		return nil, fmt.Errorf("its key file has unsupported version %d: %w", f.Version, ErrTampered)
	case f.Algorithm != Algorithm:
		return nil, fmt.Errorf("its key file names unknown algorithm %q: %w", f.Algorithm, ErrTampered)
	case !k.Has(f.KeyID):
		return nil, &KeyNotHeldError{KeyID: f.KeyID}
	}
	aead := k.keys[f.KeyID]
	if len(f.WrappedKey) < aead.NonceSize() {
		return nil, fmt.Errorf("its wrapped data key is too short: %w", ErrTampered)
	}
	nonce, sealed := f.WrappedKey[:aead.NonceSize()], f.WrappedKey[aead.NonceSize():]
	key, err := aead.Open(nil, nonce, sealed, wrapAAD(folder, f.KeyID))
	if err != nil || len(key) != KeyLength {
		return nil, fmt.Errorf("its data key does not open with key %q (the key file was altered or belongs to another folder): %w", f.KeyID, ErrTampered)
	}
	return dataKey(key, folder)
}

// Rewrap seals a folder's data key under the keyring's active key: what
// rotation does to a backup, without touching its data.
func (k *Keyring) Rewrap(f KeyFile, folder string) (KeyFile, error) {
	dk, err := k.Unwrap(f, folder)
	if err != nil {
		return KeyFile{}, err
	}
	return k.Wrap(dk), nil
}

// MarshalKeyFile encodes a key file.
func MarshalKeyFile(f KeyFile) []byte {
	data, _ := json.MarshalIndent(f, "", "  ")
	return data
}

// ParseKeyFile decodes a key file read from the bucket.
func ParseKeyFile(data []byte) (KeyFile, error) {
	if len(data) > MaxKeyFileSize {
		return KeyFile{}, fmt.Errorf("its key file is larger than %d bytes: %w", MaxKeyFileSize, ErrTampered)
	}
	var f KeyFile
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return KeyFile{}, fmt.Errorf("its key file is malformed: %v: %w", err, ErrTampered)
	}
	return f, nil
}

// NewWriter encrypts what is written to it into w, as the file at key (the
// object's key in the bucket). Close writes the last segment; without it
// the file does not decrypt.
func (dk *DataKey) NewWriter(w io.Writer, key string) (io.WriteCloser, error) {
	return dk.stream.NewEncryptingWriter(w, []byte(key))
}

// NewReader decrypts the file at key read from r. Each segment is
// authenticated before any byte of it is returned; a file cut short,
// reordered, altered or moved from another key fails with ErrTampered.
func (dk *DataKey) NewReader(r io.Reader, key string) (io.Reader, error) {
	d, err := dk.stream.NewDecryptingReader(r, []byte(key))
	if err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, fmt.Errorf("%s is shorter than its encryption header: %w", key, ErrTampered)
		}
		return nil, fmt.Errorf("%s has an invalid encryption header: %v: %w", key, err, ErrTampered)
	}
	return &reader{r: d, key: key}, nil
}

// reader names the file in a decryption error and makes it ErrTampered:
// Tink's errors say only that a segment failed.
type reader struct {
	r   io.Reader
	key string
}

func (r *reader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if err != nil && err != io.EOF {
		err = fmt.Errorf("%s does not decrypt (it was altered, cut short or written with another key): %v: %w", r.key, err, ErrTampered)
	}
	return n, err
}

// Seal encrypts a whole small file.
func (dk *DataKey) Seal(plain []byte, key string) []byte {
	var buf bytes.Buffer
	w, err := dk.NewWriter(&buf, key)
	if err == nil {
		_, err = w.Write(plain)
	}
	if err == nil {
		err = w.Close()
	}
	if err != nil {
		panic(fmt.Sprintf("encrypting into memory failed: %v", err))
	}
	return buf.Bytes()
}

// Open decrypts a whole small file.
func (dk *DataKey) Open(sealed []byte, key string) ([]byte, error) {
	r, err := dk.NewReader(bytes.NewReader(sealed), key)
	if err != nil {
		return nil, err
	}
	return io.ReadAll(r)
}

// macKey derives the manifest's MAC key, apart from the streams' keys.
func (dk *DataKey) macKey() []byte {
	k, err := hkdf.Key(sha256.New, dk.key, nil, "ark manifest mac v1", KeyLength)
	if err != nil {
		panic(err)
	}
	return k
}

// MAC authenticates a manifest's content, bound to the folder.
func (dk *DataKey) MAC(content []byte) []byte {
	h := hmac.New(sha256.New, dk.macKey())
	h.Write([]byte(dk.folder))
	h.Write([]byte{0})
	h.Write(content)
	return h.Sum(nil)
}

// VerifyMAC checks a MAC made by MAC.
func (dk *DataKey) VerifyMAC(content, mac []byte) bool {
	return hmac.Equal(dk.MAC(content), mac)
}
