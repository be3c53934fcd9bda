package e2e

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
	"github.com/arkproject/ark/pkg/restore"
	"github.com/arkproject/ark/test/e2e/framework"
)

// deli is created with `kubectl create`, not apply, so that an object made
// the same way in another namespace is identical to it (apply's annotation
// would name the namespace). The pod is privileged: fine where it is, and
// refused by Pod Security where the preview would restore it.
const deli = `apiVersion: v1
kind: Namespace
metadata: {name: deli}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: menu, namespace: deli}
data: {soup: tomato}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: hours, namespace: deli}
data: {open: "9"}
---
apiVersion: v1
kind: Secret
metadata: {name: recipe, namespace: deli}
stringData: {salt: "2g"}
---
apiVersion: v1
kind: Pod
metadata: {name: oven, namespace: deli}
spec:
  containers: [{name: oven, image: nginx, securityContext: {privileged: true}}]
`

// deliCopy is where the preview would restore deli: Pod Security enforces
// "restricted" there, menu was changed since the backup, hours was not.
const deliCopy = `apiVersion: v1
kind: Namespace
metadata: {name: deli-copy, labels: {pod-security.kubernetes.io/enforce: restricted}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: menu, namespace: deli-copy}
data: {soup: onion}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: hours, namespace: deli-copy}
data: {open: "9"}
`

// previewResults reads a preview's results through kube-apiserver.
func previewResults(t *testing.T, ns, name string) (map[string]restore.ItemResult, *arkv1.RestorePreview) {
	t.Helper()
	raw := mustKubectl(t, "get", "--raw", fmt.Sprintf("/apis/ark.heptio.com/v1/namespaces/%s/restores/%s/results", ns, name))
	var doc struct {
		Items   []restore.ItemResult `json:"items"`
		Summary restore.Summary      `json:"summary"`
	}
	if err := json.Unmarshal([]byte(raw), &doc); err != nil {
		t.Fatalf("results are not JSON: %v\n%.500s", err, raw)
	}
	items := map[string]restore.ItemResult{}
	for _, it := range doc.Items {
		items[it.Resource+" "+it.Name] = it
	}
	return items, doc.Summary.Preview
}

// A preview answers what a restore would do, with kube-apiserver's own
// validation, admission (Pod Security here) and RBAC, and creates, changes
// and labels nothing; under the policy "update" too.
func TestRestorePreview(t *testing.T) {
	dir := t.TempDir()
	if out, err := kubectlIn(t, deli, "create", "-f", "-"); err != nil {
		t.Fatalf("fixture: %v\n%s", err, out)
	}
	b := runBackup(t, home, &arkv1.Backup{ObjectMeta: metav1.ObjectMeta{Name: "deli-1"}, Spec: arkv1.BackupSpec{IncludedNamespaces: []string{"deli"}}}, "")
	if b.Status.Phase != arkv1.BackupPhaseCompleted {
		t.Fatalf("backup: %+v", b.Status)
	}
	if out, err := kubectlIn(t, deliCopy, "create", "-f", "-"); err != nil {
		t.Fatalf("fixture: %v\n%s", err, out)
	}

	out := mustArk(t, dir, "restore", "create", "deli-preview", "--from-backup", "deli-1", "--namespace-mappings", "deli:deli-copy", "--preview", "--wait")
	if !strings.Contains(out, "Previewed") || !strings.Contains(out, "Nothing was changed. A restore would: create 1, update 0, skip 4; 1 would conflict, 1 would be denied, 0 would fail.") {
		t.Errorf("ark restore create --preview --wait said:\n%s", out)
	}
	r := framework.WaitRestore(t, home, "deli-preview")
	want := arkv1.RestorePreview{WouldCreate: 1, WouldSkip: 4, WouldConflict: 1, WouldBeDenied: 1}
	if r.Status.Phase != arkv1.RestorePhasePreviewed || r.Status.Preview == nil || *r.Status.Preview != want {
		logs, _ := kubectl(t, "get", "--raw", "/apis/ark.heptio.com/v1/namespaces/"+home+"/restores/deli-preview/logs")
		t.Fatalf("preview status: %+v, preview %+v, want %+v\n%s", r.Status, r.Status.Preview, want, logs)
	}
	items, counts := previewResults(t, home, "deli-preview")
	if counts == nil || *counts != want {
		t.Errorf("results summary %+v, want %+v", counts, want)
	}
	check := func(key, action, part string) {
		t.Helper()
		it, ok := items[key]
		if !ok {
			t.Errorf("no result for %s: %v", key, items)
			return
		}
		text := it.Reason + " " + it.Note + " " + strings.Join(it.Diff, "; ")
		if it.Action != action || !strings.Contains(text, part) {
			t.Errorf("%s: %s (%s), want %s mentioning %q", key, it.Action, text, action, part)
		}
	}
	check("configmaps menu", restore.ActionWouldConflict, `data.soup: "onion" → "tomato"`)
	check("configmaps hours", restore.ActionWouldSkip, "identical")
	check("secrets recipe", restore.ActionWouldCreate, "")
	check("pods oven", restore.ActionWouldBeDenied, `violates PodSecurity "restricted`)
	check("namespaces deli-copy", restore.ActionWouldSkip, "")

	// Nothing was created, changed or labelled by the preview.
	if got := jsonpath(t, "{.data.soup}", "get", "configmap", "menu", "-n", "deli-copy"); got != "onion" {
		t.Errorf("the preview changed menu: %q", got)
	}
	if got := mustKubectl(t, "get", "pods,secrets,configmaps", "-n", "deli-copy", "-o", "name"); strings.Contains(got, "oven") || strings.Contains(got, "recipe") {
		t.Errorf("the preview created objects:\n%s", got)
	}
	if got := mustKubectl(t, "get", "configmaps,secrets,pods,namespaces", "-A", "-l", arkv1.LabelRestoreName+"=deli-preview", "-o", "name"); strings.TrimSpace(got) != "" {
		t.Errorf("objects labelled by the preview:\n%s", got)
	}
	desc := mustArk(t, dir, "restore", "describe", "deli-preview")
	for _, line := range []string{"Previewed", "true (nothing is changed)", "Would conflict:", "Would be denied:"} {
		if !strings.Contains(desc, line) {
			t.Errorf("describe does not show %q:\n%s", line, desc)
		}
	}

	// Under the policy "update", what differs would be updated: the dry-run
	// update goes to kube-apiserver, and menu still says onion.
	upd := runRestore(t, home, &arkv1.Restore{ObjectMeta: metav1.ObjectMeta{Name: "deli-preview-update"}, Spec: arkv1.RestoreSpec{
		BackupName: "deli-1", NamespaceMapping: map[string]string{"deli": "deli-copy"},
		ExistingResourcePolicy: arkv1.ExistingResourcePolicyUpdate, Preview: true,
	}}, "")
	if upd.Status.Phase != arkv1.RestorePhasePreviewed || upd.Status.Preview == nil || upd.Status.Preview.WouldUpdate != 1 {
		t.Fatalf("preview under update: %+v %+v", upd.Status, upd.Status.Preview)
	}
	items, _ = previewResults(t, home, "deli-preview-update")
	check("configmaps menu", restore.ActionWouldUpdate, `data.soup`)
	if got := jsonpath(t, "{.data.soup}", "get", "configmap", "menu", "-n", "deli-copy"); got != "onion" {
		t.Errorf("the preview under update changed menu: %q", got)
	}
}
