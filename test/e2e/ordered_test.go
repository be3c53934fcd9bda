package e2e

import (
	"archive/tar"
	"compress/gzip"
	"encoding/json"
	"io"
	"slices"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
)

// spec.orderedResources puts the named config maps first in the tarball
// downloaded through kube-apiserver, the others after them; a malformed
// entry is refused with a 422 naming the field.
func TestBackupOrderedResources(t *testing.T) {
	fixture := `apiVersion: v1
kind: Namespace
metadata: {name: queue}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: alpha, namespace: queue}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: bravo, namespace: queue}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: charlie, namespace: queue}
`
	if out, err := kubectlIn(t, fixture, "apply", "-f", "-"); err != nil {
		t.Fatalf("fixture: %v\n%s", err, out)
	}
	t.Cleanup(func() { kubectl(t, "delete", "namespace", "queue", "--wait=false") })

	bad, _ := json.Marshal(&arkv1.Backup{TypeMeta: metav1.TypeMeta{APIVersion: "ark.heptio.com/v1", Kind: "Backup"},
		ObjectMeta: metav1.ObjectMeta{Name: "queue-bad", Namespace: home},
		Spec:       arkv1.BackupSpec{IncludedNamespaces: []string{"queue"}, OrderedResources: map[string]string{"configmaps": "queue/charlie,/alpha"}}})
	if out, err := kubectlIn(t, string(bad), "create", "-f", "-"); err == nil || !strings.Contains(out, "spec.orderedResources[configmaps]") || !strings.Contains(out, "Invalid") {
		t.Errorf("malformed orderedResources: err=%v\n%s", err, out)
	}

	b := runBackup(t, home, &arkv1.Backup{ObjectMeta: metav1.ObjectMeta{Name: "queue-1"}, Spec: arkv1.BackupSpec{
		IncludedNamespaces: []string{"queue"},
		IncludedResources:  []string{"configmaps"},
		OrderedResources:   map[string]string{"configmaps": "queue/charlie,queue/alpha"},
	}}, "")
	if b.Status.Phase != arkv1.BackupPhaseCompleted {
		t.Fatalf("backup: %+v", b.Status)
	}
	raw := mustKubectl(t, "get", "--raw", "/apis/ark.heptio.com/v1/namespaces/"+home+"/backups/queue-1/download")
	var got []string
	for _, name := range tarOrder(t, raw) {
		if rest, ok := strings.CutPrefix(name, "resources/configmaps/namespaces/queue/"); ok {
			got = append(got, strings.TrimSuffix(rest, ".json"))
		}
	}
	// kube-root-ca.crt, which every namespace has, follows with bravo.
	if len(got) != 4 || !slices.Equal(got[:2], []string{"charlie", "alpha"}) || !slices.Contains(got[2:], "bravo") {
		t.Errorf("config maps in tarball order %q, want charlie, alpha, then the rest", got)
	}
}

// tarOrder lists a tar.gz's entries in their order.
func tarOrder(t *testing.T, data string) []string {
	t.Helper()
	gz, err := gzip.NewReader(strings.NewReader(data))
	if err != nil {
		t.Fatalf("not gzip: %v", err)
	}
	var names []string
	tr := tar.NewReader(gz)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return names
		}
		if err != nil {
			t.Fatalf("reading the tarball: %v", err)
		}
		names = append(names, hdr.Name)
	}
}
