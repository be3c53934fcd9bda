package framework

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
	"github.com/arkproject/ark/pkg/backupstore"
	"github.com/arkproject/ark/test/localcluster"
)

// KubectlCreate creates obj (with apiVersion and kind set) with kubectl,
// as the user as when not empty, as a user would.
func KubectlCreate(t *testing.T, obj metav1.Object, as string) {
	t.Helper()
	if out, err := TryKubectlCreate(t, obj, as); err != nil {
		t.Fatalf("creating %s: %v\n%s", obj.GetName(), err, out)
	}
}

// TryKubectlCreate is KubectlCreate for creates that may be refused.
func TryKubectlCreate(t *testing.T, obj metav1.Object, as string) (string, error) {
	t.Helper()
	data, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"create", "-f", "-"}
	if as != "" {
		args = append([]string{"--as=" + as}, args...)
	}
	return KubectlIn(t, string(data), args...)
}

// BucketBackupDir is the directory of a backup's files in the file bucket.
func BucketBackupDir(ns, name string) string {
	ref := backupstore.Layout{HomeNamespace: localcluster.HomeNamespace}.Backup(ns, name)
	return filepath.Join(Cluster.BucketDir, filepath.FromSlash(ref.Dir()))
}

// RemoveBackupFiles removes a backup from the bucket behind Ark's back, as
// test cleanup.
func RemoveBackupFiles(ns, name string) { os.RemoveAll(BucketBackupDir(ns, name)) }

// RunBackup creates a backup through the API and waits for it to finish.
func RunBackup(t *testing.T, ns string, b *arkv1.Backup, as string) *arkv1.Backup {
	t.Helper()
	b.Namespace = ns
	b.TypeMeta = metav1.TypeMeta{APIVersion: arkv1.SchemeGroupVersion.String(), Kind: "Backup"}
	KubectlCreate(t, b, as)
	t.Cleanup(func() { RemoveBackupFiles(ns, b.Name) })
	return WaitBackup(t, ns, b.Name)
}

// WaitBackup waits until a backup has finished (or failed validation).
func WaitBackup(t *testing.T, ns, name string) *arkv1.Backup {
	t.Helper()
	var got *arkv1.Backup
	Eventually(t, 2*time.Minute, "backup "+name+" finishes", func() error {
		var err error
		got, err = Ark.ArkV1().Backups(ns).Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		switch got.Status.Phase {
		case arkv1.BackupPhaseCompleted, arkv1.BackupPhasePartiallyFailed, arkv1.BackupPhaseFailed, arkv1.BackupPhaseFailedValidation:
			return nil
		}
		return fmt.Errorf("phase %q", got.Status.Phase)
	})
	return got
}

// RunRestore creates a restore and waits for it to finish.
func RunRestore(t *testing.T, ns string, r *arkv1.Restore, as string) *arkv1.Restore {
	t.Helper()
	r.Namespace = ns
	r.TypeMeta = metav1.TypeMeta{APIVersion: arkv1.SchemeGroupVersion.String(), Kind: "Restore"}
	KubectlCreate(t, r, as)
	return WaitRestore(t, ns, r.Name)
}

// WaitRestore waits until a restore has finished (or failed validation).
func WaitRestore(t *testing.T, ns, name string) *arkv1.Restore {
	t.Helper()
	var got *arkv1.Restore
	Eventually(t, 2*time.Minute, "restore "+name+" finishes", func() error {
		var err error
		got, err = Ark.ArkV1().Restores(ns).Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		switch got.Status.Phase {
		case arkv1.RestorePhaseCompleted, arkv1.RestorePhasePartiallyFailed, arkv1.RestorePhaseFailed, arkv1.RestorePhaseFailedValidation, arkv1.RestorePhasePreviewed:
			return nil
		}
		return fmt.Errorf("phase %q", got.Status.Phase)
	})
	return got
}

// RestoreResults fetches restores/results through kube-apiserver.
func RestoreResults(t *testing.T, ns, name string) (items []map[string]string, summary map[string]int) {
	t.Helper()
	raw := MustKubectl(t, "get", "--raw", fmt.Sprintf("/apis/ark.heptio.com/v1/namespaces/%s/restores/%s/results", ns, name))
	// Fields that are not strings (lists of modifiers, hooks or diffs)
	// come back as their JSON; summary counts that are not numbers (the
	// preview's) are left out.
	var doc struct {
		Items   []map[string]json.RawMessage `json:"items"`
		Summary map[string]json.RawMessage   `json:"summary"`
	}
	if err := json.Unmarshal([]byte(raw), &doc); err != nil {
		t.Fatalf("results are not JSON: %v\n%.500s", err, raw)
	}
	for _, it := range doc.Items {
		item := map[string]string{}
		for k, v := range it {
			var s string
			if json.Unmarshal(v, &s) != nil {
				s = string(v)
			}
			item[k] = s
		}
		items = append(items, item)
	}
	summary = map[string]int{}
	for k, v := range doc.Summary {
		var n int
		if json.Unmarshal(v, &n) == nil {
			summary[k] = n
		}
	}
	return items, summary
}

// Download fetches backups/download through kube-apiserver and returns the
// tarball's entries by name.
func Download(t *testing.T, ns, name string) map[string][]byte {
	t.Helper()
	raw, err := Kubectl(t, "get", "--raw", fmt.Sprintf("/apis/ark.heptio.com/v1/namespaces/%s/backups/%s/download", ns, name))
	if err != nil {
		t.Fatalf("download: %v\n%.300s", err, raw)
	}
	return TarEntries(t, bytes.NewReader([]byte(raw)), false)
}

// TarEntries reads a tar.gz and returns its regular files by name; any
// other kind of entry fails the test, and so do directories unless dirsOK.
func TarEntries(t *testing.T, r io.Reader, dirsOK bool) map[string][]byte {
	t.Helper()
	gz, err := gzip.NewReader(r)
	if err != nil {
		t.Fatalf("not gzip: %v", err)
	}
	tr := tar.NewReader(gz)
	entries := map[string][]byte{}
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("reading the tarball: %v", err)
		}
		if dirsOK && hdr.Typeflag == tar.TypeDir {
			continue
		}
		if hdr.Typeflag != tar.TypeReg {
			t.Errorf("entry %s is not a regular file", hdr.Name)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		entries[hdr.Name] = data
	}
	return entries
}

// Jsonpath reads one field with kubectl, or "ERROR: ..." when it cannot.
func Jsonpath(t *testing.T, path string, args ...string) string {
	t.Helper()
	out, err := Kubectl(t, append(args, "-o", "jsonpath="+path)...)
	if err != nil {
		return "ERROR: " + out
	}
	return out
}

// HostPathClaim creates namespace ns with a claim "data" bound to the
// hostPath PersistentVolume pv at dir (storage class pv, so that nothing
// else binds), and waits until it is bound.
func HostPathClaim(t *testing.T, ns, pv, dir string) {
	t.Helper()
	fixture := fmt.Sprintf(`apiVersion: v1
kind: Namespace
metadata: {name: %[1]s}
---
apiVersion: v1
kind: PersistentVolume
metadata: {name: %[2]s}
spec:
  capacity: {storage: 1Gi}
  accessModes: [ReadWriteOnce]
  storageClassName: %[2]s
  persistentVolumeReclaimPolicy: Retain
  hostPath: {path: %[3]s}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data, namespace: %[1]s}
spec:
  accessModes: [ReadWriteOnce]
  storageClassName: %[2]s
  volumeName: %[2]s
  resources: {requests: {storage: 1Gi}}
`, ns, pv, dir)
	if out, err := KubectlIn(t, fixture, "apply", "-f", "-"); err != nil {
		t.Fatalf("fixture: %v\n%s", err, out)
	}
	Eventually(t, time.Minute, "the claim is bound", func() error {
		if got := Jsonpath(t, "{.status.phase}", "get", "pvc", "data", "-n", ns); got != "Bound" {
			return fmt.Errorf("%q", got)
		}
		return nil
	})
}

// WaitPodRunning waits until the pod (on the fake node) runs.
func WaitPodRunning(t *testing.T, ns, name string) {
	t.Helper()
	Eventually(t, time.Minute, "pod "+ns+"/"+name+" runs", func() error {
		if got := Jsonpath(t, "{.status.phase}", "get", "pod", name, "-n", ns); got != "Running" {
			return fmt.Errorf("%q", got)
		}
		return nil
	})
}
