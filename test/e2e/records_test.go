package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
	"github.com/arkproject/ark/test/e2e/framework"
)

// A backup an earlier Ark wrote (testdata/records/ark-2026-11: the record
// of a server from before backups were signed, with its tarball and
// manifest) lists in the bucket and restores, unsigned as it is.
func TestEarlierArkBackupRestores(t *testing.T) {
	const name = "oldark-nightly"
	src := filepath.Join("testdata", "records", "ark-2026-11")
	dir := framework.BucketBackupDir(home, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { framework.RemoveBackupFiles(home, name) })
	for _, f := range []string{name + ".tar.gz", name + "-manifest.json", "ark-backup.json"} { // the record last, as a server writes it
		raw, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), raw, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, 30*time.Second, "the earlier Ark's backup is listed", func() error {
		_, err := kubectl(t, "get", "backup", name, "-n", home)
		return err
	})
	b := framework.WaitBackup(t, home, name)
	if b.Status.Phase != arkv1.BackupPhaseCompleted || b.Spec.Requester == nil || b.Spec.Requester.Username != "kubernetes-admin" {
		t.Fatalf("read as %+v, requester %+v", b.Status, b.Spec.Requester)
	}
	t.Cleanup(func() { kubectl(t, "delete", "namespace", "oldark-copy", "--wait=false") })
	r := runRestore(t, home, &arkv1.Restore{
		ObjectMeta: metav1.ObjectMeta{Name: "oldark-restore"},
		Spec:       arkv1.RestoreSpec{BackupName: name, NamespaceMapping: map[string]string{"oldark": "oldark-copy"}},
	}, "")
	if r.Status.Phase != arkv1.RestorePhaseCompleted {
		t.Fatalf("restore: %+v", r.Status)
	}
	if got := jsonpath(t, "{.data.color}", "get", "configmap", "settings", "-n", "oldark-copy"); got != "green" {
		t.Errorf("restored config map: color %q", got)
	}
}

// A Heptio Ark v0.10 backup (testdata/records/heptio-ark-v0.10: its record
// with no namespace, tarball, log and volume snapshot list, and no Ark
// manifest) lists and restores from an Ark location; the restore warns that
// nothing could check its files against a manifest, and that the volume's
// data, in an EBS snapshot, is not restored.
func TestHeptioArkBackupRestores(t *testing.T) {
	const name = "heptio-nightly-20181001030000"
	const pv = "pvc-2b7d5e3a-c521-11e8-a2b4-42010a8e0002"
	src := filepath.Join("testdata", "records", "heptio-ark-v0.10")
	dir := framework.BucketBackupDir(home, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { framework.RemoveBackupFiles(home, name) })
	for _, f := range []string{name + ".tar.gz", name + "-logs.gz", name + "-volumesnapshots.json.gz", "ark-backup.json"} {
		raw, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), raw, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, 30*time.Second, "Heptio Ark's backup is listed", func() error {
		_, err := kubectl(t, "get", "backup", name, "-n", home)
		return err
	})
	if got := jsonpath(t, "{.status.phase} {.metadata.labels.ark-schedule}", "get", "backup", name, "-n", home); got != "Completed heptio-nightly" {
		t.Fatalf("listed as %q", got)
	}
	t.Cleanup(func() {
		kubectl(t, "delete", "namespace", "heptio-app-copy", "--wait=false")
		kubectl(t, "delete", "pv", pv, "--wait=false")
	})
	r := runRestore(t, home, &arkv1.Restore{
		ObjectMeta: metav1.ObjectMeta{Name: "heptio-v010-restore"},
		Spec:       arkv1.RestoreSpec{BackupName: name, NamespaceMapping: map[string]string{"heptio-app": "heptio-app-copy"}},
	}, "")
	logs := mustKubectl(t, "get", "--raw", arkPath(home, "restores", "heptio-v010-restore", "logs"))
	if r.Status.Phase != arkv1.RestorePhaseCompleted && r.Status.Phase != arkv1.RestorePhasePartiallyFailed {
		t.Fatalf("restore: %+v\n%s", r.Status, logs)
	}
	if got := jsonpath(t, "{.data.color}", "get", "configmap", "settings", "-n", "heptio-app-copy"); got != "orange" {
		t.Errorf("restored config map: color %q", got)
	}
	if !strings.Contains(logs, "written by Heptio Ark") || !strings.Contains(logs, "no Ark checksum manifest") {
		t.Errorf("the restore's log does not say the backup is unverified Heptio Ark's:\n%s", logs)
	}
	results := mustKubectl(t, "get", "--raw", arkPath(home, "restores", "heptio-v010-restore", "results"))
	if !strings.Contains(results, "snap-0f1e2d3c4b5a69788") {
		t.Errorf("the results do not name the volume's snapshot as not restored:\n%s", results)
	}
}

// The attack on the manifest-less path: removing the manifest of a backup
// this cluster signed does not turn its checks off. The restore fails and
// creates nothing.
func TestSignedBackupWithoutManifestIsNotRestored(t *testing.T) {
	mustKubectl(t, "create", "namespace", "signed-src")
	mustKubectl(t, "create", "configmap", "c", "-n", "signed-src", "--from-literal=k=v")
	t.Cleanup(func() { kubectl(t, "delete", "namespace", "signed-src", "signed-copy", "--wait=false") })
	b := runBackup(t, home, &arkv1.Backup{
		ObjectMeta: metav1.ObjectMeta{Name: "signed-no-manifest"},
		Spec:       arkv1.BackupSpec{IncludedNamespaces: []string{"signed-src"}},
	}, "")
	if b.Status.Phase != arkv1.BackupPhaseCompleted || b.Annotations["ark.heptio.com/cluster"] == "" {
		t.Fatalf("backup: %+v %v", b.Status, b.Annotations)
	}
	if err := os.Remove(filepath.Join(framework.BucketBackupDir(home, b.Name), b.Name+"-manifest.json")); err != nil {
		t.Fatal(err)
	}
	r := runRestore(t, home, &arkv1.Restore{
		ObjectMeta: metav1.ObjectMeta{Name: "signed-no-manifest"},
		Spec:       arkv1.RestoreSpec{BackupName: b.Name, NamespaceMapping: map[string]string{"signed-src": "signed-copy"}},
	}, "")
	if r.Status.Phase != arkv1.RestorePhaseFailed || !strings.Contains(r.Status.FailureReason, "manifest") {
		t.Errorf("restore of a signed backup without its manifest: %+v", r.Status)
	}
	if out, err := kubectl(t, "get", "namespace", "signed-copy"); err == nil {
		t.Errorf("the restore created namespace signed-copy:\n%s", out)
	}
}
