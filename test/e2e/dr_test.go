package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
)

// drShopFixture is the namespace a Velero user would try a disaster with: a
// Deployment, Services (one NodePort), configuration, a Secret, RBAC, an
// Ingress, a CRD with a custom resource, and a hostPath Retain volume with
// its claim (made by hostPathClaim).
const drShopFixture = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.drshop.example.com}
spec:
  group: drshop.example.com
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec: {type: object, x-kubernetes-preserve-unknown-fields: true}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: drshop}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      serviceAccountName: shop-sa
      containers:
      - name: web
        image: nginx:1.27
        volumeMounts: [{name: data, mountPath: /data}]
      volumes:
      - name: data
        persistentVolumeClaim: {claimName: data}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: drshop}
spec:
  selector: {app: web}
  ports: [{port: 80}]
---
apiVersion: v1
kind: Service
metadata: {name: web-np, namespace: drshop}
spec:
  type: NodePort
  selector: {app: web}
  ports: [{port: 80}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: drshop}
data: {theme: dark}
---
apiVersion: v1
kind: Secret
metadata: {name: creds, namespace: drshop}
stringData: {password: hunter2}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: shop-sa, namespace: drshop}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: reader, namespace: drshop}
rules: [{apiGroups: [""], resources: [configmaps], verbs: [get]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: reader, namespace: drshop}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: reader}
subjects: [{kind: ServiceAccount, name: shop-sa, namespace: drshop}]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: web, namespace: drshop}
spec:
  rules:
  - host: shop.example.com
    http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}
`

const drShopWidget = `apiVersion: drshop.example.com/v1
kind: Widget
metadata: {name: gear, namespace: drshop}
spec: {teeth: 42}
`

// The disaster of issue #13: a namespace backup, then the namespace and the
// CRD are deleted while the Retain volume stays (Released). The restore
// brings the CRD and the custom resource back, gives the volume back to its
// claim with the data untouched, and the Deployment comes back Available.
// Then the same backup restored beside the original (a mapping while the
// source exists) gets a copy of the volume, with the data.
func TestDisasterRecoveryOfARealisticNamespace(t *testing.T) {
	data := filepath.Join(cluster.VolumesDir(), "drshop-data")
	if err := os.MkdirAll(data, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(data, "orders.db"), []byte("order 1: 3 gears"), 0o644); err != nil {
		t.Fatal(err)
	}
	hostPathClaim(t, "drshop", "drshop-data", data)
	if out, err := kubectlIn(t, drShopFixture, "apply", "-f", "-"); err != nil {
		t.Fatalf("fixture: %v\n%s", err, out)
	}
	mustKubectl(t, "wait", "--for=condition=Established", "crd/widgets.drshop.example.com", "--timeout=60s")
	if out, err := kubectlIn(t, drShopWidget, "apply", "-f", "-"); err != nil {
		t.Fatalf("widget: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		kubectl(t, "delete", "namespace", "drshop", "drshop-copy", "--wait=false")
		kubectl(t, "delete", "crd", "widgets.drshop.example.com", "--wait=false")
	})

	b := runBackup(t, home, &arkv1.Backup{ObjectMeta: metav1.ObjectMeta{Name: "drshop-1"}, Spec: arkv1.BackupSpec{IncludedNamespaces: []string{"drshop"}}}, "")
	if b.Status.Phase != arkv1.BackupPhaseCompleted || b.Status.VolumeSnapshotsCompleted != 1 {
		t.Fatalf("backup: %+v", b.Status)
	}
	entries := download(t, home, "drshop-1")
	for _, want := range []string{
		"resources/customresourcedefinitions.apiextensions.k8s.io/cluster/widgets.drshop.example.com.json",
		"resources/widgets.drshop.example.com/namespaces/drshop/gear.json",
		"resources/persistentvolumes/cluster/drshop-data.json",
		"resources/deployments.apps/namespaces/drshop/web.json",
	} {
		if _, ok := entries[want]; !ok {
			t.Errorf("the backup lacks %s", want)
		}
	}

	// The disaster: the namespace and the definition go; the volume stays.
	mustKubectl(t, "delete", "namespace", "drshop", "--timeout=120s")
	mustKubectl(t, "delete", "crd", "widgets.drshop.example.com", "--timeout=60s")
	eventually(t, time.Minute, "the volume is Released", func() error {
		if got := jsonpath(t, "{.status.phase}", "get", "pv", "drshop-data"); got != "Released" {
			return fmt.Errorf("%q", got)
		}
		return nil
	})

	start := time.Now()
	r := runRestore(t, home, &arkv1.Restore{ObjectMeta: metav1.ObjectMeta{Name: "drshop-1-restore"}, Spec: arkv1.RestoreSpec{BackupName: "drshop-1"}}, "")
	logs := mustKubectl(t, "get", "--raw", "/apis/ark.heptio.com/v1/namespaces/"+home+"/restores/drshop-1-restore/logs")
	if r.Status.Phase != arkv1.RestorePhaseCompleted || r.Status.Errors != 0 {
		t.Fatalf("restore: %+v\n%s", r.Status, logs)
	}
	t.Logf("restored in %s with %d warnings", time.Since(start).Round(time.Millisecond), r.Status.Warnings)
	if r.Status.Warnings != 0 {
		t.Errorf("a restore of a whole namespace into its empty place warns:\n%s", logs)
	}
	if got := jsonpath(t, "{.spec.teeth}", "get", "widget.drshop.example.com", "gear", "-n", "drshop"); got != "42" {
		t.Errorf("the widget: %q", got)
	}
	claimUID := jsonpath(t, "{.metadata.uid}", "get", "pvc", "data", "-n", "drshop")
	eventually(t, time.Minute, "the claim is Bound to its old volume", func() error {
		got := jsonpath(t, "{.status.phase}/{.spec.volumeName}", "get", "pvc", "data", "-n", "drshop")
		ref := jsonpath(t, "{.status.phase}/{.spec.claimRef.uid}", "get", "pv", "drshop-data")
		if got != "Bound/drshop-data" || ref != "Bound/"+claimUID {
			return fmt.Errorf("claim %q, volume %q", got, ref)
		}
		return nil
	})
	if got, err := os.ReadFile(filepath.Join(data, "orders.db")); err != nil || string(got) != "order 1: 3 gears" {
		t.Errorf("the volume's data: %q %v", got, err)
	}
	waitAvailable(t, "drshop", "web")

	// The same backup beside the original: the volume is taken, so the
	// copy's claim gets a copy of it, with the data.
	r = runRestore(t, home, &arkv1.Restore{ObjectMeta: metav1.ObjectMeta{Name: "drshop-1-copy"}, Spec: arkv1.RestoreSpec{
		BackupName: "drshop-1", NamespaceMapping: map[string]string{"drshop": "drshop-copy"},
	}}, "")
	logs = mustKubectl(t, "get", "--raw", "/apis/ark.heptio.com/v1/namespaces/"+home+"/restores/drshop-1-copy/logs")
	if r.Status.Phase != arkv1.RestorePhaseCompleted || r.Status.Errors != 0 {
		t.Fatalf("restore beside the original: %+v\n%s", r.Status, logs)
	}
	var copyPV string
	eventually(t, time.Minute, "the copy's claim is Bound to a new volume", func() error {
		got := jsonpath(t, "{.status.phase}/{.spec.volumeName}", "get", "pvc", "data", "-n", "drshop-copy")
		phase, volume, _ := strings.Cut(got, "/")
		if phase != "Bound" || volume == "drshop-data" || !strings.HasPrefix(volume, "drshop-data-") {
			return fmt.Errorf("%q", got)
		}
		copyPV = volume
		return nil
	})
	t.Cleanup(func() { kubectl(t, "delete", "pv", copyPV, "--wait=false") })
	copyDir := jsonpath(t, "{.spec.hostPath.path}", "get", "pv", copyPV)
	if copyDir == data || !strings.HasPrefix(copyDir, data+"-") {
		t.Errorf("the copy lives at %q, beside %q?", copyDir, data)
	}
	if got, err := os.ReadFile(filepath.Join(copyDir, "orders.db")); err != nil || string(got) != "order 1: 3 gears" {
		t.Errorf("the copy's data: %q %v", got, err)
	}
	if got := jsonpath(t, "{.status.phase}/{.spec.claimRef.namespace}/{.spec.claimRef.uid}", "get", "pv", "drshop-data"); got != "Bound/drshop/"+claimUID {
		t.Errorf("the original volume changed hands: %q", got)
	}
	waitAvailable(t, "drshop-copy", "web")
}

// waitAvailable waits until a Deployment reports Available: its pods were
// scheduled and run on the local cluster's node.
func waitAvailable(t *testing.T, ns, name string) {
	t.Helper()
	eventually(t, 2*time.Minute, "deployment "+ns+"/"+name+" is Available", func() error {
		got := jsonpath(t, `{.status.conditions[?(@.type=="Available")].status}/{.status.availableReplicas}`, "get", "deployment", name, "-n", ns)
		if got != "True/2" {
			return fmt.Errorf("%q", got)
		}
		return nil
	})
}
