package tenancy

import (
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
	"github.com/arkproject/ark/test/e2e/framework"
)

// Case 2: a recreated namespace does not inherit the former one's backups.
// Alice backs up life-x with its Secret; the namespace is deleted (the
// backup stays in the bucket) and made again with bob as its admin. Bob
// neither lists, reads, downloads nor restores alice's backup; the
// cluster administrator still finds and restores it.
func TestRecreatedNamespaceHidesFormerBackups(t *testing.T) {
	tenant(t, "life-x", map[string]string{"alice": "admin"})
	mustKubectl(t, "create", "secret", "generic", "db", "-n", "life-x", "--from-literal=password=alices-secret")
	b := backup(t, "life-x", "life-1", "alice", nil)
	if b.Status.Phase != arkv1.BackupPhaseCompleted || b.Annotations[arkv1.AnnotationNamespaceUID] == "" {
		t.Fatalf("alice's backup: %+v %v", b.Status, b.Annotations)
	}
	mustKubectl(t, "delete", "namespace", "life-x", "--timeout=90s")
	tenant(t, "life-x", map[string]string{"bob": "admin"})

	out, err := kubectl(t, "get", "backups", "-n", "life-x", "--as=bob", "-o", "name")
	if err != nil || strings.Contains(out, "life-1") {
		t.Errorf("bob lists the former namespace's backups: %v\n%s", err, out)
	}
	if out, err := kubectl(t, "get", "backup", "life-1", "-n", "life-x", "--as=bob"); err == nil || !strings.Contains(out, "NotFound") {
		t.Errorf("bob reads alice's backup: %v\n%s", err, out)
	}
	out, err = kubectl(t, "get", "--raw", "/apis/ark.heptio.com/v1/namespaces/life-x/backups/life-1/download", "--as=bob")
	if err == nil || strings.Contains(out, "alices-secret") || !strings.Contains(out, "NotFound") {
		t.Errorf("bob downloads alice's backup: %v\n%.300s", err, out)
	}
	if out, err := kubectl(t, "delete", "backup", "life-1", "-n", "life-x", "--as=bob"); err == nil || !strings.Contains(out, "NotFound") {
		t.Errorf("bob deletes alice's backup: %v\n%s", err, out)
	}
	out, err = framework.TryKubectlCreate(t, &arkv1.Restore{
		TypeMeta:   metav1.TypeMeta{APIVersion: arkv1.SchemeGroupVersion.String(), Kind: "Restore"},
		ObjectMeta: metav1.ObjectMeta{Name: "steal", Namespace: "life-x"},
		Spec:       arkv1.RestoreSpec{BackupName: "life-1"},
	}, "bob")
	if err == nil || !strings.Contains(out, `Not found: "backup \"life-1\" in namespace life-x"`) {
		t.Errorf("bob's restore of alice's backup: %v\n%s", err, out)
	}
	if exists(t, "secret", "db", "-n", "life-x") {
		t.Fatal("alice's secret is in bob's namespace")
	}

	// The administrator still finds it, and may restore it.
	got, err := framework.Ark.ArkV1().Backups("life-x").Get(ctx(), "life-1", metav1.GetOptions{})
	if err != nil || got.UID != b.UID {
		t.Fatalf("the administrator cannot find the former namespace's backup: %v", err)
	}
	admin := restore(t, "life-x", "admin-restore", "", arkv1.RestoreSpec{BackupName: "life-1"})
	if admin.Status.Phase == arkv1.RestorePhaseFailed || admin.Status.Phase == arkv1.RestorePhaseFailedValidation {
		t.Errorf("the administrator's restore: %+v", admin.Status)
	}
	framework.Eventually(t, 30*time.Second, "the secret is restored", func() error {
		if !exists(t, "secret", "db", "-n", "life-x") {
			return errNotYet
		}
		return nil
	})
}
