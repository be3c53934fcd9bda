package e2e

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
)

// An object labelled ark.heptio.com/exclude-from-backup=true stays out of a
// backup of its namespace, and the backup's log names it; its neighbour is
// backed up.
func TestBackupExcludeLabel(t *testing.T) {
	fixture := `apiVersion: v1
kind: Namespace
metadata: {name: pantry}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: jam, namespace: pantry}
data: {flavour: plum}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: crumbs, namespace: pantry, labels: {ark.heptio.com/exclude-from-backup: "true"}}
data: {size: small}
`
	if out, err := kubectlIn(t, fixture, "apply", "-f", "-"); err != nil {
		t.Fatalf("fixture: %v\n%s", err, out)
	}
	t.Cleanup(func() { kubectl(t, "delete", "namespace", "pantry", "--wait=false") })
	b := runBackup(t, home, &arkv1.Backup{ObjectMeta: metav1.ObjectMeta{Name: "pantry-1"}, Spec: arkv1.BackupSpec{IncludedNamespaces: []string{"pantry"}}}, "")
	if b.Status.Phase != arkv1.BackupPhaseCompleted {
		t.Fatalf("backup: %+v", b.Status)
	}

	var contents arkv1.BackupContents
	raw := mustKubectl(t, "get", "--raw", "/apis/ark.heptio.com/v1/namespaces/"+home+"/backups/pantry-1/contents")
	if err := json.Unmarshal([]byte(raw), &contents); err != nil {
		t.Fatalf("contents are not JSON: %v\n%.500s", err, raw)
	}
	var configMaps []string
	for _, r := range contents.Resources {
		if r.Resource == "configmaps" {
			configMaps = r.Items
		}
	}
	if !slices.Contains(configMaps, "pantry/jam") || slices.Contains(configMaps, "pantry/crumbs") {
		t.Errorf("backed-up config maps %v, want pantry/jam and not pantry/crumbs", configMaps)
	}

	logs := mustKubectl(t, "get", "--raw", "/apis/ark.heptio.com/v1/namespaces/"+home+"/backups/pantry-1/logs")
	if want := "skipped configmaps pantry/crumbs: labelled ark.heptio.com/exclude-from-backup=true"; !strings.Contains(logs, want) {
		t.Errorf("backup log lacks %q:\n%s", want, logs)
	}
}
