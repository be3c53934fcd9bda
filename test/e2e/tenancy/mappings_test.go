package tenancy

import (
	"strings"
	"testing"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
)

// Legitimate use: a namespace admin moves a namespace's contents into
// another namespace they administer, restoring the first one's backup into
// the second with a mapping. Someone who administers only the target
// cannot pull another namespace's backup into it.
func TestNamespaceAdminRestoresAcrossTheirNamespaces(t *testing.T) {
	tenant(t, "move-a", map[string]string{"alice": "admin"})
	tenant(t, "move-b", map[string]string{"alice": "admin"})
	tenant(t, "move-c", map[string]string{"carol": "admin"})
	mustKubectl(t, "create", "configmap", "settings", "-n", "move-a", "--from-literal=color=blue")
	mustKubectl(t, "create", "secret", "generic", "token", "-n", "move-a", "--from-literal=t=alices")
	b := backup(t, "move-a", "move-1", "alice", nil)
	if b.Status.Phase != arkv1.BackupPhaseCompleted {
		t.Fatalf("alice's backup: %+v", b.Status)
	}

	r := restore(t, "move-b", "from-a", "alice", arkv1.RestoreSpec{BackupNamespace: "move-a", BackupName: "move-1", NamespaceMapping: map[string]string{"move-a": "move-b"}})
	if r.Status.Phase != arkv1.RestorePhaseCompleted {
		t.Fatalf("alice's restore into move-b: %+v", r.Status)
	}
	if got := mustKubectl(t, "get", "configmap", "settings", "-n", "move-b", "-o", "jsonpath={.data.color}"); got != "blue" {
		t.Errorf("move-b/settings: %q", got)
	}
	if out := mustKubectl(t, "get", "restores", "-n", "move-b", "--as=alice"); !strings.Contains(out, "move-a/move-1") {
		t.Errorf("the table does not name the backup's namespace:\n%s", out)
	}

	// Carol administers move-c only: she may not take move-a's backup.
	c := restore(t, "move-c", "steal", "carol", arkv1.RestoreSpec{BackupNamespace: "move-a", BackupName: "move-1", NamespaceMapping: map[string]string{"move-a": "move-c"}})
	if c.Status.Phase != arkv1.RestorePhaseFailedValidation || !strings.Contains(strings.Join(c.Status.ValidationErrors, " "), "carol may not download the backups of namespace move-a") {
		t.Errorf("carol's restore of move-a's backup: %+v", c.Status)
	}
	if exists(t, "secret", "token", "-n", "move-c") || exists(t, "configmap", "settings", "-n", "move-c") {
		t.Fatal("move-a's objects reached carol's namespace")
	}
	// Without the mapping the restore would land elsewhere: refused at once.
	out, err := kubectlIn(t, `{apiVersion: ark.heptio.com/v1, kind: Restore, metadata: {name: unmapped, namespace: move-b}, spec: {backupNamespace: move-a, backupName: move-1}}`, "create", "-f", "-", "--as=alice")
	if err == nil || !strings.Contains(out, "spec.namespaceMapping") {
		t.Errorf("an unmapped restore of another namespace's backup: %v\n%s", err, out)
	}
}
