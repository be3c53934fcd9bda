// Package backupstoretest writes a finished backup's files into a bucket
// as the backup engine does, with a manifest that lists them, for the tests
// of whatever reads them.
package backupstoretest

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"testing"

	"github.com/arkproject/ark/pkg/backupstore"
	"github.com/arkproject/ark/pkg/backupstore/encryption"
	"github.com/arkproject/ark/pkg/objectstore"
)

// PutFiles writes each file (by key) and a manifest listing them all.
func PutFiles(t testing.TB, store objectstore.Store, ref backupstore.Backup, files map[string][]byte) backupstore.Manifest {
	t.Helper()
	m := backupstore.Manifest{Version: backupstore.ManifestVersion, Files: map[string]backupstore.ManifestEntry{}}
	for key, data := range files {
		Put(t, store, key, data)
		sum := sha256.Sum256(data)
		m.Files[backupstore.FileName(key)] = backupstore.ManifestEntry{SHA256: hex.EncodeToString(sum[:]), Size: int64(len(data))}
	}
	PutManifest(t, store, ref, m)
	return m
}

// PutManifest writes a manifest as it is.
func PutManifest(t testing.TB, store objectstore.Store, ref backupstore.Backup, m backupstore.Manifest) {
	t.Helper()
	data, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	Put(t, store, ref.ManifestKey(), data)
}

// Put writes one object, behind the manifest's back when it lists the key.
func Put(t testing.TB, store objectstore.Store, key string, data []byte) {
	t.Helper()
	if _, err := objectstore.PutBytes(context.Background(), store, key, data, objectstore.Conditions{}); err != nil {
		t.Fatal(err)
	}
}

// GzipJSON is v as a gzipped JSON document, the format of a backup's
// resource list, volume-snapshot records and results.
func GzipJSON(t testing.TB, v any) []byte {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return Gzip(t, data)
}

// Gzip compresses data.
func Gzip(t testing.TB, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	if _, err := gz.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// Keys returns a keyring of fresh keys with the given IDs whose active key
// is active, and the key Secret's data it is parsed from.
func Keys(t testing.TB, active string, ids ...string) (*encryption.Keyring, map[string][]byte) {
	t.Helper()
	data := map[string][]byte{encryption.ActiveField: []byte(active)}
	for _, id := range ids {
		data[id] = encryption.NewKey()
	}
	k, err := encryption.ParseSecret(data)
	if err != nil {
		t.Fatal(err)
	}
	return k, data
}
