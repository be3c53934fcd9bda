package backup

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/arkproject/ark/pkg/backupstore"
	"github.com/arkproject/ark/pkg/backupstore/backupstoretest"
	"github.com/arkproject/ark/pkg/backupstore/encryption"
	"github.com/arkproject/ark/pkg/objectstore"
)

// secretValue is the fixture Secret's password, as the cluster serves it
// (base64) and as it decodes: neither may be in an encrypted bucket.
var secretValues = []string{"aHVudGVyMg==", "hunter2"}

// EncryptedBackup takes the fixture's backup of namespace app into a file
// bucket with encryption keys, for tests outside the package (the
// restore archive's).
func EncryptedBackup(t *testing.T, name string, keys *encryption.Keyring) (objectstore.Store, backupstore.Backup) {
	t.Helper()
	e := newEnv(t)
	e.b.Layout.Keys = keys
	if _, err := e.b.Run(context.Background(), newBackup(name, appOnly), nil); err != nil {
		t.Fatal(err)
	}
	return e.store, e.b.Layout.Backup("ark", name)
}

func TestEncryptedBackupHoldsNoPlaintext(t *testing.T) {
	keys, _ := backupstoretest.Keys(t, "k1", "k1")
	e := newEnv(t)
	e.b.Layout.Keys = keys
	out, err := e.b.Run(context.Background(), newBackup("b1", appOnly), nil)
	if err != nil {
		t.Fatal(err)
	}
	if out.EncryptionKeyID != "k1" {
		t.Fatalf("outcome key ID %q, want k1", out.EncryptionKeyID)
	}
	ref := e.b.Layout.Backup("ark", "b1")
	files := bucketFiles(t, e.store)
	for _, key := range []string{ref.TarballKey(), ref.LogsKey(), ref.ResourceListKey(), ref.ResultsKey(), ref.VolumeSnapshotsKey(), ref.ManifestKey(), ref.KeyFileKey()} {
		if _, ok := files[key]; !ok {
			t.Fatalf("the bucket has no %s; it has %v", key, sortedKeys(files))
		}
	}
	for key, data := range files {
		for _, v := range append(secretValues, "greeting", "cm1", "app/s1") {
			if bytes.Contains(data, []byte(v)) {
				t.Errorf("%s holds %q in plaintext", key, v)
			}
		}
		// Nothing is gzip, i.e. nothing readable without the key, but the
		// two JSON files that must be read to find the key.
		if bytes.HasPrefix(data, []byte{0x1f, 0x8b}) {
			t.Errorf("%s is a plain gzip stream", key)
		}
	}

	// Read back with the keys: the manifest passes its MAC, and the small
	// files decrypt.
	fs, err := backupstore.OpenFiles(context.Background(), e.store, ref)
	if err != nil {
		t.Fatal(err)
	}
	if !fs.Encrypted() {
		t.Fatal("the files are not reported encrypted")
	}
	list, err := fs.ResourceList(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(list["secrets"], ","); got != "app/s1" {
		t.Fatalf("resource list secrets = %q (list %v)", got, list)
	}
	// The manifest lists the ciphertexts, as stored.
	var m backupstore.Manifest
	if err := json.Unmarshal(files[ref.ManifestKey()], &m); err != nil {
		t.Fatal(err)
	}
	if m.MAC == "" {
		t.Fatal("the manifest has no MAC")
	}
	sum := sha256.Sum256(files[ref.TarballKey()])
	if m.Files["b1.tar.gz"].SHA256 != hex.EncodeToString(sum[:]) {
		t.Fatal("the manifest's checksum is not the stored tarball's")
	}
}

func TestEncryptedBackupTamperingIsRefused(t *testing.T) {
	ctx := context.Background()
	keys, data := backupstoretest.Keys(t, "k1", "k1")
	e := newEnv(t)
	e.b.Layout.Keys = keys
	for _, name := range []string{"b1", "b2"} {
		if _, err := e.b.Run(ctx, newBackup(name, appOnly), nil); err != nil {
			t.Fatal(err)
		}
	}
	ref := e.b.Layout.Backup("ark", "b1")
	other := e.b.Layout.Backup("ark", "b2")
	pristine := bucketFiles(t, e.store)
	restoreBucket := func() {
		for k, v := range pristine {
			if _, err := objectstore.PutBytes(ctx, e.store, k, v, objectstore.Conditions{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	put := func(key string, data []byte) {
		if _, err := objectstore.PutBytes(ctx, e.store, key, data, objectstore.Conditions{}); err != nil {
			t.Fatal(err)
		}
	}
	// reManifest rewrites b1's manifest for its current files, as an
	// attacker without the key can: the checksums match, the MAC cannot.
	reManifest := func(keepMAC bool) {
		var m backupstore.Manifest
		if err := json.Unmarshal(pristine[ref.ManifestKey()], &m); err != nil {
			t.Fatal(err)
		}
		for name := range m.Files {
			d, _, err := objectstore.ReadAll(ctx, e.store, ref.Dir()+name, 1<<30)
			if err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256(d)
			m.Files[name] = backupstore.ManifestEntry{SHA256: hex.EncodeToString(sum[:]), Size: int64(len(d))}
		}
		if !keepMAC {
			m.MAC = ""
		}
		out, _ := json.Marshal(m)
		put(ref.ManifestKey(), out)
	}
	flip := func(key string) {
		d := append([]byte{}, pristine[key]...)
		d[len(d)/2] ^= 0x01
		put(key, d)
	}
	cases := []struct {
		name   string
		tamper func()
		want   string
	}{
		{"a results file altered, manifest recomputed", func() { flip(ref.ResourceListKey()); reManifest(true) }, "fails authentication"},
		{"the manifest swapped for another backup's", func() { put(ref.ManifestKey(), pristine[other.ManifestKey()]) }, "fails authentication"},
		{"the key file swapped for another backup's", func() { put(ref.KeyFileKey(), pristine[other.KeyFileKey()]) }, "does not open"},
		{"the wrapped key flipped", func() {
			var kf encryption.KeyFile
			_ = json.Unmarshal(pristine[ref.KeyFileKey()], &kf)
			kf.WrappedKey[len(kf.WrappedKey)-1] ^= 1
			put(ref.KeyFileKey(), encryption.MarshalKeyFile(kf))
		}, "does not open"},
		{"the MAC removed", func() { reManifest(false) }, "not authenticated"},
		{"the key file removed", func() { _ = e.store.Delete(ctx, ref.KeyFileKey(), objectstore.Conditions{}) }, "key file"},
		{"a file swapped for another backup's, manifest recomputed", func() {
			put(ref.ResourceListKey(), pristine[other.ResourceListKey()])
			reManifest(true)
		}, "fails authentication"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			restoreBucket()
			c.tamper()
			fs, err := backupstore.OpenFiles(ctx, e.store, ref)
			if err == nil {
				_, err = fs.ResourceList(ctx)
			}
			if !errors.Is(err, backupstore.ErrCorrupt) {
				t.Fatalf("err = %v, want a CorruptError", err)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q does not say %q", err, c.want)
			}
		})
	}

	t.Run("a key the location does not hold", func(t *testing.T) {
		restoreBucket()
		delete(data, "k1")
		data["k2"], data[encryption.ActiveField] = encryption.NewKey(), []byte("k2")
		without, err := encryption.ParseSecret(data)
		if err != nil {
			t.Fatal(err)
		}
		_, err = backupstore.OpenFiles(ctx, e.store, backupstore.Layout{HomeNamespace: "ark", Keys: without}.Backup("ark", "b1"))
		if !errors.Is(err, encryption.ErrKeyNotHeld) {
			t.Fatalf("err = %v, want ErrKeyNotHeld", err)
		}
		if want := `backup "b1" cannot be read: it was written with key "k1", which this server does not hold`; err.Error() != want {
			t.Fatalf("message %q, want %q", err, want)
		}
		_, err = backupstore.OpenFiles(ctx, e.store, backupstore.Layout{HomeNamespace: "ark"}.Backup("ark", "b1"))
		if !errors.Is(err, encryption.ErrKeyNotHeld) {
			t.Fatalf("a server without keys: err = %v, want ErrKeyNotHeld", err)
		}
	})
}

func TestRotationRewrapsOnlyTheKeyFile(t *testing.T) {
	ctx := context.Background()
	keys, data := backupstoretest.Keys(t, "k1", "k1")
	e := newEnv(t)
	e.b.Layout.Keys = keys
	if _, err := e.b.Run(ctx, newBackup("b1", appOnly), nil); err != nil {
		t.Fatal(err)
	}
	before := bucketFiles(t, e.store)
	data["k2"], data[encryption.ActiveField] = encryption.NewKey(), []byte("k2")
	rotated, err := encryption.ParseSecret(data)
	if err != nil {
		t.Fatal(err)
	}
	ref := backupstore.Layout{HomeNamespace: "ark", Keys: rotated}.Backup("ark", "b1")
	from, did, err := ref.Rewrap(ctx, e.store)
	if err != nil || !did || from != "k1" {
		t.Fatalf("rewrap: from %q rewrapped %v err %v", from, did, err)
	}
	if _, did, _ := ref.Rewrap(ctx, e.store); did {
		t.Fatal("a second rewrap rewrote the key file again")
	}
	after := bucketFiles(t, e.store)
	for key, d := range before {
		if changed := !bytes.Equal(after[key], d); changed != (key == ref.KeyFileKey()) {
			t.Errorf("%s changed: %v", key, changed)
		}
	}
	if id, _ := ref.KeyID(ctx, e.store); id != "k2" {
		t.Fatalf("key file names %q after rotation", id)
	}
	// The old key can go: the new one alone reads the backup.
	delete(data, "k1")
	onlyNew, err := encryption.ParseSecret(data)
	if err != nil {
		t.Fatal(err)
	}
	fs, err := backupstore.OpenFiles(ctx, e.store, backupstore.Layout{HomeNamespace: "ark", Keys: onlyNew}.Backup("ark", "b1"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fs.ResourceList(ctx); err != nil {
		t.Fatal(err)
	}
}
