package e2e

import (
	"os"
	"path/filepath"
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
