package e2e

import (
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
	"github.com/arkproject/ark/test/e2e/framework"
)

// mill's claim uses a WaitForFirstConsumer class, so the restore does not
// wait for it to bind (no pod uses it here).
const mill = `apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: mill-slow}
provisioner: example.com/none
volumeBindingMode: WaitForFirstConsumer
---
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: mill-fast}
provisioner: example.com/none
volumeBindingMode: WaitForFirstConsumer
---
apiVersion: v1
kind: Namespace
metadata: {name: mill}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: grain, namespace: mill}
spec:
  storageClassName: mill-slow
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: press, namespace: mill}
spec:
  replicas: 2
  selector: {matchLabels: {app: press}}
  template:
    metadata: {labels: {app: press}}
    spec: {containers: [{name: press, image: registry.old.example/press:1}]}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: flour, namespace: mill, annotations: {legacy: "yes", kept: "yes"}}
data: {type: rye}
`

const millModifiers = `apiVersion: v1
kind: ConfigMap
metadata: {name: mill-moves, namespace: ` + home + `}
data:
  rules.yaml: |
    version: v1
    resourceModifierRules:
    - name: faster storage
      conditions:
        groupResource: persistentvolumeclaims
        matches: [{path: /spec/storageClassName, value: mill-slow}]
      patches: [{operation: replace, path: /spec/storageClassName, value: mill-fast}]
    - name: new registry, scaled down
      conditions: {groupResource: deployments.apps, namespaces: [mill-moved]}
      strategicPatches:
      - patchData: '{"spec":{"template":{"spec":{"containers":[{"name":"press","image":"registry.new.example/press:1"}]}}}}'
      patches: [{operation: replace, path: /spec/replicas, value: "0"}]
    - name: no legacy annotation
      conditions: {groupResource: configmaps, resourceNameRegex: "^flour$"}
      mergePatches: [{patchData: '{"metadata":{"annotations":{"legacy":null}}}'}]
`

// Resource modifiers, through kube-apiserver: a claim's storage class, an
// image registry, a Deployment scaled to zero and an annotation dropped, on
// a restore into another namespace; a missing, malformed or unreadable
// ConfigMap is a 422 when the restore is created.
func TestRestoreResourceModifiers(t *testing.T) {
	if out, err := kubectlIn(t, mill, "apply", "-f", "-"); err != nil {
		t.Fatalf("fixture: %v\n%s", err, out)
	}
	t.Cleanup(func() { kubectl(t, "delete", "storageclass", "mill-slow", "mill-fast", "--ignore-not-found") })
	if out, err := kubectlIn(t, millModifiers, "apply", "-f", "-"); err != nil {
		t.Fatalf("modifiers: %v\n%s", err, out)
	}
	b := runBackup(t, home, &arkv1.Backup{ObjectMeta: metav1.ObjectMeta{Name: "mill-1"}, Spec: arkv1.BackupSpec{IncludedNamespaces: []string{"mill"}}}, "")
	if b.Status.Phase != arkv1.BackupPhaseCompleted {
		t.Fatalf("backup: %+v", b.Status)
	}
	out := mustArk(t, t.TempDir(), "restore", "create", "mill-moved", "--from-backup", "mill-1", "--namespace-mappings", "mill:mill-moved", "--resource-modifier-configmap", "mill-moves", "--wait")
	r := framework.WaitRestore(t, home, "mill-moved")
	if r.Status.Phase != arkv1.RestorePhaseCompleted {
		logs, _ := kubectl(t, "get", "--raw", "/apis/ark.heptio.com/v1/namespaces/"+home+"/restores/mill-moved/logs")
		t.Fatalf("restore: %+v\n%s\n%s", r.Status, out, logs)
	}
	if got := jsonpath(t, "{.spec.storageClassName}", "get", "pvc", "grain", "-n", "mill-moved"); got != "mill-fast" {
		t.Errorf("the claim's storage class is %q", got)
	}
	if got := jsonpath(t, "{.spec.replicas} {.spec.template.spec.containers[0].image}", "get", "deployment", "press", "-n", "mill-moved"); got != "0 registry.new.example/press:1" {
		t.Errorf("the deployment's replicas and image: %q", got)
	}
	if got := jsonpath(t, "{.metadata.annotations.legacy},{.metadata.annotations.kept}", "get", "configmap", "flour", "-n", "mill-moved"); got != ",yes" {
		t.Errorf("flour's annotations legacy,kept: %q", got)
	}
	if got := jsonpath(t, "{.spec.storageClassName}", "get", "pvc", "grain", "-n", "mill"); got != "mill-slow" {
		t.Errorf("the source claim changed: %q", got)
	}
	items, _ := previewResults(t, home, "mill-moved")
	for key, want := range map[string]string{"persistentvolumeclaims grain": "faster storage", "deployments.apps press": "new registry, scaled down", "configmaps flour": "no legacy annotation"} {
		if got := strings.Join(items[key].Modifiers, ","); got != want {
			t.Errorf("%s: modifiers %q, want %q", key, got, want)
		}
	}

	// Refused at the door, with the reason.
	create := func(as, ns, name, configMap string) string {
		t.Helper()
		into := "mill-moved-2"
		if ns != home {
			into = ns // a namespace user's restore restores into its namespace
		}
		out, err := framework.TryKubectlCreate(t, &arkv1.Restore{TypeMeta: metav1.TypeMeta{APIVersion: "ark.heptio.com/v1", Kind: "Restore"}, ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
			Spec: arkv1.RestoreSpec{BackupName: "mill-1", NamespaceMapping: map[string]string{"mill": into},
				ResourceModifier: &arkv1.ResourceModifierReference{Kind: "ConfigMap", Name: configMap}}}, as)
		if err == nil {
			t.Errorf("restore %s naming ConfigMap %s was accepted", name, configMap)
		}
		return out
	}
	if out := create("", home, "mill-missing", "no-such-rules"); !strings.Contains(out, `spec.resourceModifier.name: Not found: "ConfigMap \"no-such-rules\" in namespace `+home) {
		t.Errorf("a missing ConfigMap:\n%s", out)
	}
	mustKubectl(t, "create", "configmap", "mill-bad", "-n", home, "--from-literal=rules=version: v1\nresourceModifierRules: [{conditions: {groupResource: pods}}]")
	if out := create("", home, "mill-bad", "mill-bad"); !strings.Contains(out, "has no patches") {
		t.Errorf("a malformed rule:\n%s", out)
	}
	// A namespace user may not have Ark read a ConfigMap they cannot.
	mustKubectl(t, "create", "namespace", "team-m")
	mustKubectl(t, "create", "rolebinding", "gwen-ark", "-n", "team-m", "--clusterrole=ark-namespace-user", "--user=gwen")
	mustKubectl(t, "create", "configmap", "secret-rules", "-n", "team-m", "--from-literal=rules=version: v1")
	eventually(t, 30*time.Second, "gwen's rights apply", func() error {
		_, err := kubectl(t, "--as=gwen", "get", "restores", "-n", "team-m")
		return err
	})
	if out := create("gwen", "team-m", "gwen-peek", "secret-rules"); !strings.Contains(out, `gwen may not read ConfigMap "secret-rules" in namespace team-m`) || strings.Contains(out, "version: v1") {
		t.Errorf("a ConfigMap the requester may not read:\n%s", out)
	}
}
