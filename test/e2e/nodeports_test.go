package e2e

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
)

// A restore with preserveNodePorts gives a NodePort Service, which carries
// no annotation, its node port back after its namespace was deleted.
func TestRestorePreserveNodePorts(t *testing.T) {
	fixture := `apiVersion: v1
kind: Namespace
metadata: {name: harbour}
---
apiVersion: v1
kind: Service
metadata: {name: gate, namespace: harbour}
spec:
  type: NodePort
  selector: {app: harbour}
  ports: [{port: 80, nodePort: 30418}]
`
	if out, err := kubectlIn(t, fixture, "apply", "-f", "-"); err != nil {
		t.Fatalf("fixture: %v\n%s", err, out)
	}
	t.Cleanup(func() { kubectl(t, "delete", "namespace", "harbour", "--wait=false") })
	b := runBackup(t, home, &arkv1.Backup{ObjectMeta: metav1.ObjectMeta{Name: "harbour-1"}, Spec: arkv1.BackupSpec{IncludedNamespaces: []string{"harbour"}}}, "")
	if b.Status.Phase != arkv1.BackupPhaseCompleted {
		t.Fatalf("backup: %+v", b.Status)
	}
	mustKubectl(t, "delete", "namespace", "harbour", "--timeout=90s")

	preserve := true
	r := runRestore(t, home, &arkv1.Restore{ObjectMeta: metav1.ObjectMeta{Name: "harbour-1-restore"}, Spec: arkv1.RestoreSpec{
		BackupName: "harbour-1", PreserveNodePorts: &preserve,
	}}, "")
	if r.Status.Phase != arkv1.RestorePhaseCompleted {
		logs, _ := kubectl(t, "get", "--raw", "/apis/ark.heptio.com/v1/namespaces/"+home+"/restores/harbour-1-restore/logs")
		t.Fatalf("restore: %+v\n%s", r.Status, logs)
	}
	if got := jsonpath(t, "{.spec.preserveNodePorts}", "get", "restores.ark.heptio.com", "harbour-1-restore", "-n", home); got != "true" {
		t.Errorf("stored restore spec.preserveNodePorts = %q, want true", got)
	}
	if got := jsonpath(t, "{.spec.ports[0].nodePort}", "get", "service", "gate", "-n", "harbour"); got != "30418" {
		t.Errorf("restored service nodePort = %q, want 30418", got)
	}
}
