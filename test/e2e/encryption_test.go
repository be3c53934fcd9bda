package e2e

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
	"github.com/arkproject/ark/pkg/backupstore"
)

// An encrypted location on make run's cluster, driven as an administrator
// would: a location whose key Secret is missing is Unavailable with the
// reason; `ark backup-location rotate-key` makes the Secret. A backup of a
// namespace with a Secret leaves no byte of the Secret's value (nor its
// base64) anywhere in the bucket, and no gzip stream either, while
// backups/download, logs, the restore and its results read it through the
// API. Rotation re-wraps the backup under a new key; with the old key
// removed, it still restores. A tarball altered by someone with write
// access to the bucket but not the key, its manifest's checksum fixed up,
// fails the restore with nothing created.
func TestEncryptedLocation(t *testing.T) {
	dir := t.TempDir()
	cli := t.TempDir()
	var nonce [12]byte
	_, _ = rand.Read(nonce[:])
	code := "vault-code-" + hex.EncodeToString(nonce[:])
	t.Cleanup(func() {
		_, _ = kubectl(t, "delete", "bsl", "sealed", "-n", home, "--ignore-not-found")
		_, _ = kubectl(t, "delete", "secret", "sealed-keys", "-n", home, "--ignore-not-found")
		_, _ = kubectl(t, "delete", "namespace", "vault", "vault-restored", "vault-rotated", "vault-tampered", "--ignore-not-found", "--wait=false")
	})
	fixture := fmt.Sprintf(`apiVersion: v1
kind: Namespace
metadata: {name: vault}
---
apiVersion: v1
kind: Secret
metadata: {name: combination, namespace: vault}
stringData: {code: %q}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: door, namespace: vault}
data: {colour: green}
`, code)
	if out, err := kubectlIn(t, fixture, "apply", "-f", "-"); err != nil {
		t.Fatalf("fixture: %v\n%s", err, out)
	}

	mustArk(t, cli, "backup-location", "create", "sealed", "--provider", "file", "--bucket", dir, "--encryption-key-secret", "sealed-keys", "-n", home)
	locationPhase(t, "sealed", "a location whose key Secret is missing is Unavailable, saying so", func(s arkv1.BackupStorageLocationStatus) bool {
		return s.Phase == arkv1.BackupStorageLocationPhaseUnavailable && strings.Contains(s.Message, "sealed-keys")
	})
	out := mustArk(t, cli, "backup-location", "rotate-key", "sealed", "--key-id", "k1", "-n", home)
	if !strings.Contains(out, `Key "k1" added to Secret "sealed-keys"`) {
		t.Errorf("rotate-key output:\n%s", out)
	}
	locationPhase(t, "sealed", "the location is available with key k1", func(s arkv1.BackupStorageLocationStatus) bool {
		return s.Phase == arkv1.BackupStorageLocationPhaseAvailable && s.Encryption != nil && s.Encryption.ActiveKeyID == "k1"
	})

	b := runBackup(t, home, &arkv1.Backup{ObjectMeta: metav1.ObjectMeta{Name: "vault-enc"}, Spec: arkv1.BackupSpec{
		IncludedNamespaces: []string{"vault"}, StorageLocation: "sealed",
	}}, "")
	if b.Status.Phase != arkv1.BackupPhaseCompleted || b.Status.EncryptionKeyID != "k1" {
		t.Fatalf("encrypted backup: %+v", b.Status)
	}
	if out := mustArk(t, cli, "backup", "describe", "vault-enc", "-n", home); !strings.Contains(out, "Encryption key:") || !strings.Contains(out, "k1") {
		t.Errorf("describe does not show the key:\n%s", out)
	}

	// grep the bucket: neither the value nor its base64 (what a Secret's
	// JSON holds), and nothing readable as gzip but the record.
	secretish := [][]byte{[]byte(code), []byte(base64.StdEncoding.EncodeToString([]byte(code)))}
	grepBucket := func(what string) map[string][]byte {
		files := map[string][]byte{}
		err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(dir, p)
			files[filepath.ToSlash(rel)] = data
			for _, s := range secretish {
				if bytes.Contains(data, s) {
					t.Errorf("%s: %s holds the Secret's value %q in plaintext", what, rel, s)
				}
			}
			if bytes.HasPrefix(data, []byte{0x1f, 0x8b}) {
				t.Errorf("%s: %s is a plain gzip stream", what, rel)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return files
	}
	files := grepBucket("after the backup")
	ref := backupstore.Home("vault-enc")
	for _, key := range []string{ref.TarballKey(), ref.KeyFileKey(), ref.ManifestKey(), ref.MetadataKey()} {
		if _, ok := files[key]; !ok {
			t.Fatalf("the bucket has no %s: %v", key, keysOf(files))
		}
	}

	// Through the API, as a user allowed to download: the plaintext.
	entries := download(t, home, "vault-enc")
	secretJSON := entries["resources/secrets/namespaces/vault/combination.json"]
	if !bytes.Contains(secretJSON, secretish[1]) {
		t.Errorf("backups/download's Secret does not hold the value: %.300s", secretJSON)
	}
	// ?raw=true: the bytes the bucket holds, to keep or check elsewhere.
	if raw := mustKubectl(t, "get", "--raw", "/apis/ark.heptio.com/v1/namespaces/"+home+"/backups/vault-enc/download?raw=true"); raw != string(files[ref.TarballKey()]) {
		t.Errorf("download?raw=true returned %d bytes, not the %d stored", len(raw), len(files[ref.TarballKey()]))
	}
	if logs := mustKubectl(t, "get", "--raw", "/apis/ark.heptio.com/v1/namespaces/"+home+"/backups/vault-enc/logs"); !strings.Contains(logs, "backed up") {
		t.Errorf("backups/logs:\n%.500s", logs)
	}

	restoreInto := func(name, target string) *arkv1.Restore {
		return runRestore(t, home, &arkv1.Restore{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: arkv1.RestoreSpec{
			BackupName: "vault-enc", NamespaceMapping: map[string]string{"vault": target},
		}}, "")
	}
	restoredCode := func(ns string) string {
		v := jsonpath(t, "{.data.code}", "get", "secret", "combination", "-n", ns)
		d, _ := base64.StdEncoding.DecodeString(v)
		return string(d)
	}
	r := restoreInto("vault-enc-restore", "vault-restored")
	if r.Status.Phase != arkv1.RestorePhaseCompleted {
		t.Fatalf("restore of the encrypted backup: %+v", r.Status)
	}
	if got := restoredCode("vault-restored"); got != code {
		t.Errorf("restored Secret holds %q", got)
	}
	items, _ := restoreResults(t, home, "vault-enc-restore")
	found := false
	for _, it := range items {
		found = found || (it["resource"] == "secrets" && it["name"] == "combination" && it["action"] == "created")
	}
	if !found {
		t.Errorf("restores/results (decrypted) do not list the created Secret: %v", items)
	}
	files = grepBucket("after the restore")
	restoreFiles := backupstore.HomeRestore("vault-enc-restore")
	if _, ok := files[restoreFiles.KeyFileKey()]; !ok {
		t.Errorf("the restore's files have no key file: %v", keysOf(files))
	}
	if bytes.Contains(files[restoreFiles.ResultsKey()], []byte("combination")) {
		t.Error("the restore's results name the Secret in plaintext")
	}

	// Rotation: a new active key; the server re-wraps the backup under it.
	out = mustArk(t, cli, "backup-location", "rotate-key", "sealed", "--key-id", "k2", "--wait", "90s", "-n", home)
	if !strings.Contains(out, `Every backup of "sealed" is under key "k2"`) {
		t.Fatalf("rotate-key --wait:\n%s", out)
	}
	if got := jsonpath(t, "{.status.encryptionKeyID}", "get", "backup", "vault-enc", "-n", home); got != "k2" {
		t.Errorf("after rotation the backup's record names key %q", got)
	}
	var kf struct{ KeyID string }
	if data, err := os.ReadFile(filepath.Join(dir, ref.KeyFileKey())); err != nil || json.Unmarshal(data, &kf) != nil || kf.KeyID != "k2" {
		t.Errorf("after rotation the key file names %q (%v)", kf.KeyID, err)
	}
	tarball := filepath.Join(dir, ref.TarballKey())
	if data, _ := os.ReadFile(tarball); !bytes.Equal(data, files[ref.TarballKey()]) {
		t.Error("rotation rewrote the tarball")
	}
	mustKubectl(t, "patch", "secret", "sealed-keys", "-n", home, "--type=json", "-p", `[{"op":"remove","path":"/data/k1"}]`)
	locationPhase(t, "sealed", "the location holds k2 only", func(s arkv1.BackupStorageLocationStatus) bool {
		return s.Encryption != nil && strings.Join(s.Encryption.KeyIDs, ",") == "k2" && s.Encryption.UnreadableBackups == 0
	})
	if r := restoreInto("vault-enc-rotated", "vault-rotated"); r.Status.Phase != arkv1.RestorePhaseCompleted || restoredCode("vault-rotated") != code {
		t.Fatalf("restore after rotation, without the old key: %+v", r.Status)
	}

	// Tampering by someone who can write the bucket but has no key: one
	// byte of the tarball flipped, its checksum and size fixed up.
	data, err := os.ReadFile(tarball)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 0x20
	if err := os.WriteFile(tarball, data, 0o644); err != nil {
		t.Fatal(err)
	}
	manifestPath := filepath.Join(dir, ref.ManifestKey())
	mdata, err := os.ReadFile(manifestPath)
	if err != nil {
		t.Fatal(err)
	}
	var m backupstore.Manifest
	if err := json.Unmarshal(mdata, &m); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	m.Files[backupstore.FileName(ref.TarballKey())] = backupstore.ManifestEntry{SHA256: hex.EncodeToString(sum[:]), Size: int64(len(data))}
	mdata, _ = json.Marshal(m)
	if err := os.WriteFile(manifestPath, mdata, 0o644); err != nil {
		t.Fatal(err)
	}
	r = restoreInto("vault-enc-tampered", "vault-tampered")
	if r.Status.Phase != arkv1.RestorePhaseFailed || !strings.Contains(r.Status.FailureReason, "fails authentication") {
		t.Fatalf("restore of a tampered encrypted backup: %+v", r.Status)
	}
	if out, err := kubectl(t, "get", "namespace", "vault-tampered"); err == nil {
		t.Errorf("a restore of a tampered backup created its target namespace:\n%s", out)
	}

	// The key lost: k2 replaced by a new active key k3 in one edit, as a
	// careless administrator would. The location counts the backup as
	// unreadable, the backup says so in a condition, describe and
	// `kubectl get` show it, and a restore of it is refused at once.
	k2 := jsonpath(t, "{.data.k2}", "get", "secret", "sealed-keys", "-n", home)
	k3 := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0x33}, 32))
	mustKubectl(t, "patch", "secret", "sealed-keys", "-n", home, "--type=merge", "-p", fmt.Sprintf(`{"stringData":{"active":"k3","k3":%q},"data":{"k2":null}}`, k3))
	status := locationPhase(t, "sealed", "one backup is unreadable without k2", func(s arkv1.BackupStorageLocationStatus) bool {
		return s.Encryption != nil && s.Encryption.ActiveKeyID == "k3" && s.Encryption.UnreadableBackups == 1
	})
	if !strings.Contains(status.Message, "k2") {
		t.Errorf("the location's message does not name the missing key: %q", status.Message)
	}
	keyCondition := func(want string) string {
		t.Helper()
		var got string
		for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(time.Second) {
			got = jsonpath(t, `{.status.conditions[?(@.type=="EncryptionKeyAvailable")].status}/{.status.conditions[?(@.type=="EncryptionKeyAvailable")].message}`, "get", "backup", "vault-enc", "-n", home)
			if strings.HasPrefix(got, want+"/") {
				return got
			}
		}
		t.Fatalf("the backup's EncryptionKeyAvailable condition is %q, not %s", got, want)
		return ""
	}
	if got := keyCondition("False"); !strings.Contains(got, `written with key "k2", which this server does not hold`) {
		t.Errorf("the condition's message: %q", got)
	}
	if out := mustArk(t, cli, "backup", "describe", "vault-enc", "-n", home); !strings.Contains(out, "k2 (not held by this server") {
		t.Errorf("describe does not say the key is missing:\n%s", out)
	}
	if out := mustKubectl(t, "get", "backup", "vault-enc", "-n", home); !strings.Contains(out, "(key k2 not held)") {
		t.Errorf("kubectl get does not say the key is missing:\n%s", out)
	}
	if out, code := arkCmd(t, cli, "restore", "create", "vault-enc-keyless", "--from-backup", "vault-enc", "-n", home); code == 0 || !strings.Contains(out, "which this server does not hold") {
		t.Errorf("a restore of a backup whose key is missing: exit %d\n%s", code, out)
	}
	// The key put back: readable again.
	mustKubectl(t, "patch", "secret", "sealed-keys", "-n", home, "--type=merge", "-p", fmt.Sprintf(`{"data":{"k2":%q}}`, k2))
	keyCondition("True")

	// Every key it could be under gone for good (rotation may have moved
	// it to k3 meanwhile): the backup, which took no volume snapshots,
	// can still be deleted, and its folder leaves the bucket.
	k4 := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0x44}, 32))
	mustKubectl(t, "patch", "secret", "sealed-keys", "-n", home, "--type=merge", "-p", fmt.Sprintf(`{"stringData":{"active":"k4","k4":%q},"data":{"k2":null,"k3":null}}`, k4))
	keyCondition("False")
	mustKubectl(t, "delete", "backup", "vault-enc", "-n", home, "--wait=false")
	eventually(t, 2*time.Minute, "the backup whose key is gone is deleted", func() error {
		if out, err := kubectl(t, "get", "backup", "vault-enc", "-n", home); err == nil {
			return fmt.Errorf("still there:\n%s", out)
		}
		if left, _ := filepath.Glob(filepath.Join(dir, ref.Dir(), "*")); len(left) != 0 {
			return fmt.Errorf("its folder still holds %v", left)
		}
		return nil
	})
}

func keysOf(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
