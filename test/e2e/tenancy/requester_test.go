package tenancy

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
	"github.com/arkproject/ark/test/e2e/framework"
)

// Case 4: re-pointing someone else's restore makes it yours. The
// administrator's restore in req-a failed validation (its backup does not
// exist); mallory, admin of req-a, points it at the administrator's backup
// that holds a binding to cluster-admin. The restore then records mallory as
// its requester and creates as mallory, so the binding is refused.
func TestRepointedRestoreActsAsTheEditor(t *testing.T) {
	tenant(t, "req-a", map[string]string{"mallory": "admin"})
	mustKubectl(t, "create", "serviceaccount", "ci", "-n", "req-a")
	mustKubectl(t, "create", "rolebinding", "ci-all", "-n", "req-a", "--clusterrole=cluster-admin", "--serviceaccount=req-a:ci")
	b := backup(t, "req-a", "req-admin", "", nil)
	if b.Status.Phase != arkv1.BackupPhaseCompleted {
		t.Fatalf("the administrator's backup: %+v", b.Status)
	}
	mustKubectl(t, "delete", "rolebinding", "ci-all", "-n", "req-a")

	r := restore(t, "req-a", "fix-me", "", arkv1.RestoreSpec{BackupName: "not-there"})
	if r.Status.Phase != arkv1.RestorePhaseFailedValidation || r.Spec.Requester.Username != "kubernetes-admin" {
		t.Fatalf("the administrator's restore: %+v %+v", r.Spec.Requester, r.Status)
	}
	out, err := kubectl(t, "patch", "restore", "fix-me", "-n", "req-a", "--type=merge", "-p", `{"spec":{"backupName":"req-admin"}}`, "--as=mallory")
	if err != nil {
		t.Fatalf("mallory's patch: %v\n%s", err, out)
	}
	got := framework.WaitRestore(t, "req-a", "fix-me")
	if got.Spec.Requester == nil || got.Spec.Requester.Username != "mallory" {
		t.Fatalf("after mallory's change the requester is %+v", got.Spec.Requester)
	}
	if exists(t, "rolebinding", "ci-all", "-n", "req-a") {
		t.Fatal("mallory's restore created the administrator's binding to cluster-admin")
	}
	res := results(t, "req-a", "fix-me")
	if it := res["rolebindings.rbac.authorization.k8s.io req-a/ci-all"]; it["action"] != "failed" || !strings.Contains(it["reason"], "mallory") {
		t.Errorf("the binding's result: %v", it)
	}

	// A change of labels alone keeps the requester.
	restore(t, "req-a", "labels-only", "", arkv1.RestoreSpec{BackupName: "not-there"})
	mustKubectl(t, "label", "restore", "labels-only", "-n", "req-a", "seen=yes", "--as=mallory")
	patched, err := framework.Ark.ArkV1().Restores("req-a").Get(ctx(), "labels-only", metav1.GetOptions{})
	if err != nil || patched.Labels["seen"] != "yes" || patched.Spec.Requester.Username != "kubernetes-admin" {
		t.Errorf("a label change moved the requester: %v %+v", err, patched)
	}
}

// Case 9: passing a requester on is Ark's own loopback identity's alone. A
// client calling itself system:apiserver (here by impersonation through
// kube-apiserver) and naming a cluster administrator as the requester is
// recorded as itself.
func TestRequesterCannotBePassedOnByName(t *testing.T) {
	tenant(t, "pass-a", map[string]string{"system:apiserver": "admin"})
	out, err := kubectlIn(t, `apiVersion: ark.heptio.com/v1
kind: Backup
metadata: {name: passed-on, namespace: pass-a}
spec:
  requester: {username: kubernetes-admin, groups: ["system:masters", "system:authenticated"]}
`, "create", "-f", "-", "--as=system:apiserver", "--as-group=tenants")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	t.Cleanup(func() { framework.RemoveBackupFiles("pass-a", "passed-on") })
	b := framework.WaitBackup(t, "pass-a", "passed-on")
	r := b.Spec.Requester
	if r == nil || r.Username != "system:apiserver" || strings.Contains(strings.Join(r.Groups, ","), "system:masters") {
		t.Fatalf("the requester passed on by name was recorded: %+v", r)
	}
}
