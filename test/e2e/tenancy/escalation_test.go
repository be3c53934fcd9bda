package tenancy

import (
	"strings"
	"testing"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
)

// Case 1: a namespace admin cannot get a binding to cluster-admin created by
// restoring it. Alice holds "admin" in esc-a and is refused creating such a
// binding herself; the cluster administrator made one (for a deployer) that
// alice backs up, deletes and restores. The restore creates as alice, so
// Kubernetes' own escalation check refuses it, with its own reason in the
// restore's results; her other objects come back.
func TestRestoreCannotEscalate(t *testing.T) {
	tenant(t, "esc-a", map[string]string{"alice": "admin"})
	mustKubectl(t, "create", "serviceaccount", "deployer", "-n", "esc-a")
	mustKubectl(t, "create", "rolebinding", "deployer-all", "-n", "esc-a", "--clusterrole=cluster-admin", "--serviceaccount=esc-a:deployer")
	mustKubectl(t, "create", "configmap", "app-config", "-n", "esc-a", "--from-literal=k=v")
	mustKubectl(t, "create", "quota", "small", "-n", "esc-a", "--hard=pods=2")
	if out, err := kubectl(t, "create", "rolebinding", "mine", "-n", "esc-a", "--clusterrole=cluster-admin", "--serviceaccount=esc-a:deployer", "--as=alice"); err == nil {
		t.Fatalf("alice may bind cluster-admin herself; the test proves nothing:\n%s", out)
	}

	b := backup(t, "esc-a", "esc-1", "alice", nil)
	if b.Status.Phase != arkv1.BackupPhaseCompleted {
		t.Fatalf("alice's backup of her namespace: %+v", b.Status)
	}
	mustKubectl(t, "delete", "rolebinding", "deployer-all", "-n", "esc-a", "--as=alice")
	mustKubectl(t, "delete", "configmap", "app-config", "-n", "esc-a", "--as=alice")

	r := restore(t, "esc-a", "esc-1-r", "alice", arkv1.RestoreSpec{BackupName: "esc-1"})
	if r.Spec.Requester == nil || r.Spec.Requester.Username != "alice" {
		t.Fatalf("requester %+v", r.Spec.Requester)
	}
	if r.Status.Phase != arkv1.RestorePhasePartiallyFailed {
		t.Errorf("restore phase %s, want PartiallyFailed: %+v", r.Status.Phase, r.Status)
	}
	res := results(t, "esc-a", "esc-1-r")
	binding := res["rolebindings.rbac.authorization.k8s.io esc-a/deployer-all"]
	if binding["action"] != "failed" || !strings.Contains(binding["reason"], "is attempting to grant RBAC permissions not currently held") {
		t.Errorf("the binding's result is not Kubernetes' escalation refusal: %v", binding)
	}
	if exists(t, "rolebinding", "deployer-all", "-n", "esc-a") {
		t.Fatal("the restore created a binding to cluster-admin for a namespace admin")
	}
	if canI(t, "system:serviceaccount:esc-a:deployer", "update", "resourcequotas", "esc-a") {
		t.Error("the deployer may change the namespace's quota")
	}
	if got := res["configmaps esc-a/app-config"]["action"]; got != "created" {
		t.Errorf("alice's config map: %q", got)
	}
	if !exists(t, "configmap", "app-config", "-n", "esc-a") {
		t.Error("alice's config map was not restored")
	}

	// The cluster administrator restoring the same backup may create it.
	mustKubectl(t, "delete", "configmap", "app-config", "-n", "esc-a")
	admin := restore(t, "esc-a", "esc-1-admin", "", arkv1.RestoreSpec{BackupName: "esc-1"})
	if admin.Status.Phase != arkv1.RestorePhaseCompleted {
		t.Errorf("the administrator's restore: %+v", admin.Status)
	}
	if !exists(t, "rolebinding", "deployer-all", "-n", "esc-a") {
		t.Error("the administrator's restore did not bring the binding back")
	}
}
