package backup_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/arkproject/ark/pkg/backup"
	"github.com/arkproject/ark/pkg/backupstore"
	"github.com/arkproject/ark/pkg/backupstore/backupstoretest"
	"github.com/arkproject/ark/pkg/backupstore/encryption"
	"github.com/arkproject/ark/pkg/objectstore"
	"github.com/arkproject/ark/pkg/restore/archive"
)

// TestEncryptedTarballExtracts is a restore's first step on an encrypted
// backup: the tarball is verified, decrypted and unpacked; a tampered one
// (its manifest recomputed, as anyone with write access to the bucket but
// not the key can) fails, naming the file, before anything is used.
func TestEncryptedTarballExtracts(t *testing.T) {
	ctx := context.Background()
	keys, _ := backupstoretest.Keys(t, "k1", "k1")
	store, ref := backup.EncryptedBackup(t, "b1", keys)
	idx, err := archive.Extract(ctx, store, ref, t.TempDir(), archive.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	var secret []byte
	for _, it := range idx.Items {
		if it.Resource == "secrets" && it.Name == "s1" {
			if secret, err = it.Content(); err != nil {
				t.Fatal(err)
			}
		}
	}
	idx.Close()
	if !strings.Contains(string(secret), "aHVudGVyMg==") {
		t.Fatalf("the decrypted secret is %q", secret)
	}

	// Flip one byte of the tarball's ciphertext and fix up the manifest's
	// checksum and size: only the data key could fix its MAC, and the
	// segment's tag.
	tarball, _, err := objectstore.ReadAll(ctx, store, ref.TarballKey(), 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	tarball[len(tarball)-40] ^= 0x04
	if _, err := objectstore.PutBytes(ctx, store, ref.TarballKey(), tarball, objectstore.Conditions{}); err != nil {
		t.Fatal(err)
	}
	_, err = archive.Extract(ctx, store, ref, t.TempDir(), archive.Limits{})
	if !errors.Is(err, backupstore.ErrCorrupt) || !strings.Contains(err.Error(), "checksum of b1.tar.gz") {
		t.Fatalf("with the manifest unchanged: err = %v", err)
	}
	mdata, _, err := objectstore.ReadAll(ctx, store, ref.ManifestKey(), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	var m backupstore.Manifest
	if err := json.Unmarshal(mdata, &m); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(tarball)
	m.Files["b1.tar.gz"] = backupstore.ManifestEntry{SHA256: hex.EncodeToString(sum[:]), Size: int64(len(tarball))}
	mdata, _ = json.Marshal(m)
	if _, err := objectstore.PutBytes(ctx, store, ref.ManifestKey(), mdata, objectstore.Conditions{}); err != nil {
		t.Fatal(err)
	}
	_, err = archive.Extract(ctx, store, ref, t.TempDir(), archive.Limits{})
	if !errors.Is(err, backupstore.ErrCorrupt) || !strings.Contains(err.Error(), "manifest b1-manifest.json fails authentication") {
		t.Fatalf("with the manifest recomputed: err = %v", err)
	}
	// With a MAC made with the data key (as if the attacker had it but
	// not the tarball's stream to re-encrypt), the altered segment itself
	// fails its tag.
	dk, err := ref.DataKey(ctx, store)
	if err != nil {
		t.Fatal(err)
	}
	m.MAC = ""
	m.Seal(dk)
	if _, err := objectstore.PutBytes(ctx, store, ref.ManifestKey(), mustJSON(t, m), objectstore.Conditions{}); err != nil {
		t.Fatal(err)
	}
	_, err = archive.Extract(ctx, store, ref, t.TempDir(), archive.Limits{})
	if !errors.Is(err, backupstore.ErrCorrupt) || !errors.Is(err, encryption.ErrTampered) || !strings.Contains(err.Error(), "b1.tar.gz fails authentication") {
		t.Fatalf("a tampered segment: err = %v", err)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
