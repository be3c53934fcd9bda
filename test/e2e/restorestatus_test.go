package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
)

// gauges defines a custom resource with a status subresource, whose status
// no controller rebuilds; dials holds one.
const gauges = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: gauges.status.example.com}
spec:
  group: status.example.com
  scope: Namespaced
  names: {plural: gauges, singular: gauge, kind: Gauge}
  versions:
  - name: v1
    served: true
    storage: true
    subresources: {status: {}}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec: {type: object, x-kubernetes-preserve-unknown-fields: true}
          status: {type: object, x-kubernetes-preserve-unknown-fields: true}
`

const dials = `apiVersion: v1
kind: Namespace
metadata: {name: dials}
---
apiVersion: status.example.com/v1
kind: Gauge
metadata: {name: pressure, namespace: dials}
spec: {unit: kPa}
`

// The status of a chosen custom resource comes back through its status
// subresource; another restore of the same backup without restoreStatus
// leaves it empty, as controllers would rebuild it.
func TestRestoreStatusOfCustomResource(t *testing.T) {
	if out, err := kubectlIn(t, gauges, "apply", "-f", "-"); err != nil {
		t.Fatalf("fixture: %v\n%s", err, out)
	}
	t.Cleanup(func() { kubectl(t, "delete", "crd", "gauges.status.example.com", "--ignore-not-found") })
	// The custom resource can be created once its definition is served.
	eventually(t, 30*time.Second, "gauges are served", func() error {
		out, err := kubectlIn(t, dials, "apply", "-f", "-")
		if err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		return nil
	})
	mustKubectl(t, "patch", "gauge", "pressure", "-n", "dials", "--subresource=status", "--type=merge", "-p", `{"status":{"reading":101,"calibrated":"2026-12-01"}}`)
	runBackup(t, home, &arkv1.Backup{ObjectMeta: metav1.ObjectMeta{Name: "dials-1"}, Spec: arkv1.BackupSpec{IncludedNamespaces: []string{"dials"}}}, "")

	for name, spec := range map[string]arkv1.RestoreSpec{
		"dials-with-status": {BackupName: "dials-1", NamespaceMapping: map[string]string{"dials": "dials-with-status"},
			RestoreStatus: &arkv1.RestoreStatusSpec{IncludedResources: []string{"gauges.status.example.com"}}},
		"dials-without-status": {BackupName: "dials-1", NamespaceMapping: map[string]string{"dials": "dials-without-status"}},
	} {
		r := runRestore(t, home, &arkv1.Restore{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: spec}, "")
		if r.Status.Phase != arkv1.RestorePhaseCompleted || r.Status.Warnings != 0 {
			logs, _ := kubectl(t, "get", "--raw", "/apis/ark.heptio.com/v1/namespaces/"+home+"/restores/"+name+"/logs")
			t.Fatalf("restore %s: %+v\n%s", name, r.Status, logs)
		}
	}
	if got := jsonpath(t, "{.status.reading} {.status.calibrated} {.spec.unit}", "get", "gauge", "pressure", "-n", "dials-with-status"); got != "101 2026-12-01 kPa" {
		t.Errorf("the gauge restored with its status: %q", got)
	}
	if got := jsonpath(t, "{.status}", "get", "gauge", "pressure", "-n", "dials-without-status"); strings.TrimSpace(got) != "" {
		t.Errorf("the gauge restored without restoreStatus has a status: %q", got)
	}
	items, _ := restoreResults(t, home, "dials-with-status")
	found := false
	for _, it := range items {
		if it["resource"] == "gauges.status.example.com" && strings.Contains(it["note"], "status was written back") {
			found = true
		}
	}
	if !found {
		t.Errorf("the results do not say the status was written back: %v", items)
	}
}
