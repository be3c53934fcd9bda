package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
)

const bistro = `apiVersion: v1
kind: Namespace
metadata: {name: bistro, labels: {team: kitchen}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: menu, namespace: bistro, labels: {app: bistro}}
data: {soup: tomato}
---
apiVersion: v1
kind: Secret
metadata: {name: recipe, namespace: bistro}
stringData: {salt: "2g"}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: chef, namespace: bistro}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: chef-view, namespace: bistro}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: view}
subjects: [{kind: ServiceAccount, name: chef, namespace: bistro}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: kitchen, namespace: bistro, labels: {app: bistro}}
spec:
  replicas: 1
  selector: {matchLabels: {app: bistro}}
  template:
    metadata: {labels: {app: bistro}}
    spec: {containers: [{name: cook, image: nginx}]}
---
apiVersion: v1
kind: Service
metadata: {name: front, namespace: bistro}
spec:
  type: NodePort
  selector: {app: bistro}
  ports: [{port: 80, nodePort: 30080}]
`

// The disaster-recovery path: back up a namespace, delete it, restore it,
// and find every object back, labelled with the restore and the backup.
func TestRestoreDeletedNamespace(t *testing.T) {
	if out, err := kubectlIn(t, bistro, "apply", "-f", "-"); err != nil {
		t.Fatalf("fixture: %v\n%s", err, out)
	}
	b := runBackup(t, home, &arkv1.Backup{ObjectMeta: metav1.ObjectMeta{Name: "bistro-1"}, Spec: arkv1.BackupSpec{IncludedNamespaces: []string{"bistro"}}}, "")
	if b.Status.Phase != arkv1.BackupPhaseCompleted {
		t.Fatalf("backup: %+v", b.Status)
	}
	mustKubectl(t, "delete", "namespace", "bistro", "--timeout=90s")

	r := runRestore(t, home, &arkv1.Restore{ObjectMeta: metav1.ObjectMeta{Name: "bistro-1-restore"}, Spec: arkv1.RestoreSpec{BackupName: "bistro-1"}}, "")
	if r.Status.Phase != arkv1.RestorePhaseCompleted || r.Status.BackupName != "bistro-1" {
		logs, _ := kubectl(t, "get", "--raw", "/apis/ark.heptio.com/v1/namespaces/"+home+"/restores/bistro-1-restore/logs")
		t.Fatalf("restore: %+v\n%s", r.Status, logs)
	}
	if p := r.Status.Progress; p == nil || p.ItemsDone != p.TotalItems || p.TotalItems == 0 {
		t.Errorf("progress: %+v", p)
	}
	for _, obj := range []string{"configmap/menu", "secret/recipe", "serviceaccount/chef", "rolebinding/chef-view", "deployment/kitchen", "service/front"} {
		got := jsonpath(t, `{.metadata.labels.ark\.heptio\.com/restore-name},{.metadata.labels.ark\.heptio\.com/backup-name}`, "get", obj, "-n", "bistro")
		if got != "bistro-1-restore,bistro-1" {
			t.Errorf("%s: restore labels %q", obj, got)
		}
	}
	if got := jsonpath(t, "{.metadata.labels.team}", "get", "namespace", "bistro"); got != "kitchen" {
		t.Errorf("namespace labels not restored: %q", got)
	}
	if got := jsonpath(t, "{.data.soup}", "get", "configmap", "menu", "-n", "bistro"); got != "tomato" {
		t.Errorf("configmap data: %q", got)
	}
	if got := jsonpath(t, "{.data.salt}", "get", "secret", "recipe", "-n", "bistro"); got != "Mmc=" {
		t.Errorf("secret data: %q", got)
	}
	if got := jsonpath(t, "{.spec.ports[0].port}", "get", "service", "front", "-n", "bistro"); got != "80" {
		t.Errorf("service: %q", got)
	}
	items, summary := restoreResults(t, home, "bistro-1-restore")
	if summary["failed"] != 0 || summary["created"] < 7 || len(items) < 7 {
		t.Errorf("results summary %v (%d items)", summary, len(items))
	}
	logs := mustKubectl(t, "get", "--raw", "/apis/ark.heptio.com/v1/namespaces/"+home+"/restores/bistro-1-restore/logs")
	if !strings.Contains(logs, "restoring backup bistro-1") || !strings.Contains(logs, "restore finished") {
		t.Errorf("restore log:\n%s", logs)
	}
}

// Several namespace mappings in one restore, with references rewritten.
func TestRestoreNamespaceMappings(t *testing.T) {
	fixture := `apiVersion: v1
kind: Namespace
metadata: {name: abc}
---
apiVersion: v1
kind: Namespace
metadata: {name: "123"}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: letters, namespace: abc}
data: {a: b}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: digits, namespace: "123"}
data: {"1": "2"}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: robot, namespace: abc}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: robot-view, namespace: abc}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: view}
subjects: [{kind: ServiceAccount, name: robot, namespace: abc}]
`
	if out, err := kubectlIn(t, fixture, "apply", "-f", "-"); err != nil {
		t.Fatalf("fixture: %v\n%s", err, out)
	}
	runBackup(t, home, &arkv1.Backup{ObjectMeta: metav1.ObjectMeta{Name: "two-ns"}, Spec: arkv1.BackupSpec{IncludedNamespaces: []string{"abc", "123"}}}, "")
	r := runRestore(t, home, &arkv1.Restore{ObjectMeta: metav1.ObjectMeta{Name: "two-ns-mapped"}, Spec: arkv1.RestoreSpec{
		BackupName:       "two-ns",
		NamespaceMapping: map[string]string{"abc": "def", "123": "456"},
	}}, "")
	if r.Status.Phase != arkv1.RestorePhaseCompleted {
		t.Fatalf("restore: %+v", r.Status)
	}
	if got := jsonpath(t, "{.data.a}", "get", "configmap", "letters", "-n", "def"); got != "b" {
		t.Errorf("abc -> def: %q", got)
	}
	if got := jsonpath(t, `{.data.1}`, "get", "configmap", "digits", "-n", "456"); got != "2" {
		t.Errorf("123 -> 456: %q", got)
	}
	if got := jsonpath(t, "{.subjects[0].namespace}", "get", "rolebinding", "robot-view", "-n", "def"); got != "def" {
		t.Errorf("role binding subject not remapped: %q", got)
	}
	items, _ := restoreResults(t, home, "two-ns-mapped")
	for _, it := range items {
		if it["namespace"] == "abc" || it["namespace"] == "123" {
			t.Errorf("an item was restored into its source namespace: %v", it)
		}
	}
}

// A filtered restore brings back only what its filters select.
func TestRestoreFiltered(t *testing.T) {
	if out, err := kubectlIn(t, bistro, "apply", "-f", "-"); err != nil {
		t.Fatalf("fixture: %v\n%s", err, out)
	}
	runBackup(t, home, &arkv1.Backup{ObjectMeta: metav1.ObjectMeta{Name: "bistro-f"}, Spec: arkv1.BackupSpec{IncludedNamespaces: []string{"bistro"}}}, "")
	r := runRestore(t, home, &arkv1.Restore{ObjectMeta: metav1.ObjectMeta{Name: "bistro-f-cm"}, Spec: arkv1.RestoreSpec{
		BackupName:        "bistro-f",
		IncludedResources: []string{"cm"}, // short names work as with kubectl
		LabelSelector:     &metav1.LabelSelector{MatchLabels: map[string]string{"app": "bistro"}},
		NamespaceMapping:  map[string]string{"bistro": "bistro-copy"},
	}}, "")
	if r.Status.Phase != arkv1.RestorePhaseCompleted {
		t.Fatalf("restore: %+v", r.Status)
	}
	out := mustKubectl(t, "get", "configmaps,secrets,deployments,services", "-n", "bistro-copy", "-o", "name", "-l", arkv1.LabelRestoreName+"=bistro-f-cm")
	if strings.TrimSpace(out) != "configmap/menu" {
		t.Errorf("filtered restore created:\n%s", out)
	}
}

// A tampered tarball fails the restore before anything is created.
func TestRestoreTamperedBackup(t *testing.T) {
	if out, err := kubectlIn(t, bistro, "apply", "-f", "-"); err != nil {
		t.Fatalf("fixture: %v\n%s", err, out)
	}
	runBackup(t, home, &arkv1.Backup{ObjectMeta: metav1.ObjectMeta{Name: "bistro-t"}, Spec: arkv1.BackupSpec{IncludedNamespaces: []string{"bistro"}}}, "")
	tarball := filepath.Join(cluster.BucketDir, "backups", "bistro-t", "bistro-t.tar.gz")
	data, err := os.ReadFile(tarball)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 0xff
	if err := os.WriteFile(tarball, data, 0o644); err != nil {
		t.Fatal(err)
	}
	r := runRestore(t, home, &arkv1.Restore{ObjectMeta: metav1.ObjectMeta{Name: "bistro-t-restore"}, Spec: arkv1.RestoreSpec{
		BackupName: "bistro-t", NamespaceMapping: map[string]string{"bistro": "never-created"},
	}}, "")
	if r.Status.Phase != arkv1.RestorePhaseFailed || !strings.Contains(r.Status.FailureReason, "checksum") {
		t.Fatalf("restore of a tampered backup: %+v", r.Status)
	}
	if out, err := kubectl(t, "get", "namespace", "never-created"); err == nil {
		t.Errorf("a failed restore created its target namespace:\n%s", out)
	}
}

// An existing object is skipped with a warning, or updated by policy.
func TestRestoreExistingObjects(t *testing.T) {
	if out, err := kubectlIn(t, bistro, "apply", "-f", "-"); err != nil {
		t.Fatalf("fixture: %v\n%s", err, out)
	}
	mustKubectl(t, "patch", "configmap", "menu", "-n", "bistro", "--type=merge", "-p", `{"data":{"soup":"tomato"}}`)
	runBackup(t, home, &arkv1.Backup{ObjectMeta: metav1.ObjectMeta{Name: "bistro-e"}, Spec: arkv1.BackupSpec{IncludedNamespaces: []string{"bistro"}, IncludedResources: []string{"configmaps"}}}, "")
	mustKubectl(t, "patch", "configmap", "menu", "-n", "bistro", "--type=merge", "-p", `{"data":{"soup":"onion"}}`)

	skip := runRestore(t, home, &arkv1.Restore{ObjectMeta: metav1.ObjectMeta{Name: "bistro-e-none"}, Spec: arkv1.RestoreSpec{BackupName: "bistro-e"}}, "")
	if skip.Status.Phase != arkv1.RestorePhaseCompleted || skip.Status.Warnings == 0 {
		t.Fatalf("policy none: %+v", skip.Status)
	}
	if got := jsonpath(t, "{.data.soup}", "get", "configmap", "menu", "-n", "bistro"); got != "onion" {
		t.Errorf("policy none changed the existing object: %q", got)
	}
	items, _ := restoreResults(t, home, "bistro-e-none")
	found := false
	for _, it := range items {
		if it["name"] == "menu" && it["action"] == "skipped" && strings.Contains(it["reason"], "already exists") {
			found = true
		}
	}
	if !found {
		t.Errorf("no skipped result naming the existing config map: %v", items)
	}
	// The root CA config map Kubernetes makes in every namespace is skipped
	// too, but without a warning: the target cluster's is the right one.
	quiet := false
	for _, it := range items {
		if it["name"] == "kube-root-ca.crt" {
			quiet = it["action"] == "skipped" && it["reason"] == ""
		}
	}
	if !quiet {
		t.Errorf("kube-root-ca.crt is not skipped quietly: %v", items)
	}
	if skip.Status.Warnings != 1 {
		t.Errorf("warnings %d, want 1 (the config map a user made)", skip.Status.Warnings)
	}

	upd := runRestore(t, home, &arkv1.Restore{ObjectMeta: metav1.ObjectMeta{Name: "bistro-e-update"}, Spec: arkv1.RestoreSpec{
		BackupName: "bistro-e", ExistingResourcePolicy: arkv1.ExistingResourcePolicyUpdate,
	}}, "")
	if upd.Status.Phase != arkv1.RestorePhaseCompleted {
		t.Fatalf("policy update: %+v", upd.Status)
	}
	if got := jsonpath(t, "{.data.soup}", "get", "configmap", "menu", "-n", "bistro"); got != "tomato" {
		t.Errorf("policy update did not restore the backed-up data: %q", got)
	}
}

// A namespace user restores into their own namespace but cannot create
// cluster-scoped objects through a restore.
func TestRestoreByNamespaceUser(t *testing.T) {
	mustKubectl(t, "create", "namespace", "team-r")
	mustKubectl(t, "create", "rolebinding", "erin-ark", "-n", "team-r", "--clusterrole=ark-namespace-user", "--user=erin")
	mustKubectl(t, "create", "rolebinding", "erin-edit", "-n", "team-r", "--clusterrole=edit", "--user=erin")
	mustKubectl(t, "create", "configmap", "notes", "-n", "team-r", "--from-literal=k=v")
	eventually(t, 30*time.Second, "erin's rights apply", func() error {
		_, err := kubectl(t, "--as=erin", "get", "configmaps", "-n", "team-r")
		return err
	})
	runBackup(t, "team-r", &arkv1.Backup{ObjectMeta: metav1.ObjectMeta{Name: "erin-1"}}, "erin")
	mustKubectl(t, "delete", "configmap", "notes", "-n", "team-r")
	r := runRestore(t, "team-r", &arkv1.Restore{ObjectMeta: metav1.ObjectMeta{Name: "erin-1-restore"}, Spec: arkv1.RestoreSpec{BackupName: "erin-1"}}, "erin")
	if r.Spec.Requester == nil || r.Spec.Requester.Username != "erin" {
		t.Fatalf("requester: %+v", r.Spec.Requester)
	}
	if r.Status.Phase == arkv1.RestorePhaseFailed {
		t.Fatalf("restore: %+v", r.Status)
	}
	if got := jsonpath(t, "{.data.k}", "get", "configmap", "notes", "-n", "team-r"); got != "v" {
		t.Errorf("erin's config map not restored: %q", got)
	}
	items, _ := restoreResults(t, "team-r", "erin-1-restore")
	for _, it := range items {
		if it["resource"] == "namespaces" && it["action"] == "created" {
			t.Errorf("a namespace user's restore created a namespace: %v", it)
		}
		if it["namespace"] == "" && it["action"] == "created" {
			t.Errorf("a namespace user's restore created a cluster-scoped object: %v", it)
		}
	}
	// Restoring into another namespace is refused at the API.
	data, _ := json.Marshal(&arkv1.Restore{TypeMeta: metav1.TypeMeta{APIVersion: "ark.heptio.com/v1", Kind: "Restore"}, ObjectMeta: metav1.ObjectMeta{Name: "escape", Namespace: "team-r"},
		Spec: arkv1.RestoreSpec{BackupName: "erin-1", NamespaceMapping: map[string]string{"team-r": "kube-system"}}})
	if out, err := kubectlIn(t, string(data), "--as=erin", "create", "-f", "-"); err == nil || !strings.Contains(out, "spec.namespaceMapping") {
		t.Errorf("erin restoring into kube-system: err=%v\n%s", err, out)
	}
}

// A hostPath volume's data comes back with its volume; a CSI volume's claim
// is restored to provision from its VolumeSnapshot.
func TestRestoreVolumes(t *testing.T) {
	data := filepath.Join(cluster.VolumesDir(), "vault-data")
	if err := os.MkdirAll(filepath.Join(data, "gold"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(data, "gold", "bars.txt"), []byte("42 bars"), 0o644); err != nil {
		t.Fatal(err)
	}
	hostPathClaim(t, "vault", "vault-data", data)
	b := runBackup(t, home, &arkv1.Backup{ObjectMeta: metav1.ObjectMeta{Name: "vault-1"}, Spec: arkv1.BackupSpec{IncludedNamespaces: []string{"vault"}}}, "")
	if b.Status.VolumeSnapshotsCompleted != 1 {
		t.Fatalf("backup: %+v", b.Status)
	}
	// Disaster: the namespace, the volume and its data are gone.
	loseVolume(t, "vault", "vault-data", data)
	r := runRestore(t, home, &arkv1.Restore{ObjectMeta: metav1.ObjectMeta{Name: "vault-1-restore"}, Spec: arkv1.RestoreSpec{BackupName: "vault-1"}}, "")
	if r.Status.Phase != arkv1.RestorePhaseCompleted {
		logs, _ := kubectl(t, "get", "--raw", "/apis/ark.heptio.com/v1/namespaces/"+home+"/restores/vault-1-restore/logs")
		t.Fatalf("restore: %+v\n%s", r.Status, logs)
	}
	got, err := os.ReadFile(filepath.Join(data, "gold", "bars.txt"))
	if err != nil || string(got) != "42 bars" {
		t.Errorf("volume data: %q %v", got, err)
	}
	eventually(t, time.Minute, "the restored claim binds to the restored volume", func() error {
		if got := jsonpath(t, "{.status.phase}/{.spec.volumeName}", "get", "pvc", "data", "-n", "vault"); got != "Bound/vault-data" {
			return fmt.Errorf("%q", got)
		}
		return nil
	})
}

func TestRestoreCSIClaimFromSnapshot(t *testing.T) {
	// Reuses the CSI backup of TestBackupCSISnapshot's fixture.
	TestBackupCSISnapshot(t)
	mustKubectl(t, "delete", "pvc", "data", "-n", "csi-shop", "--timeout=60s")
	r := runRestore(t, home, &arkv1.Restore{ObjectMeta: metav1.ObjectMeta{Name: "csi-restore"}, Spec: arkv1.RestoreSpec{
		BackupName: "csi-backup", IncludedResources: []string{"persistentvolumeclaims", "persistentvolumes"},
	}}, "")
	// The local cluster has no CSI driver (nor the claim's storage class),
	// so the claim cannot bind: the restore says so instead of Completed.
	if r.Status.Phase != arkv1.RestorePhasePartiallyFailed || r.Status.Errors != 1 {
		t.Fatalf("restore: %+v, want PartiallyFailed with one error", r.Status)
	}
	logs := mustKubectl(t, "get", "--raw", "/apis/ark.heptio.com/v1/namespaces/"+home+"/restores/csi-restore/logs")
	if !strings.Contains(logs, "claim csi-shop/data did not bind within 30s: it is Pending") {
		t.Errorf("the log does not say the claim did not bind:\n%s", logs)
	}
	if got := jsonpath(t, "{.spec.dataSource.kind}/{.spec.dataSource.name}/{.spec.volumeName}", "get", "pvc", "data", "-n", "csi-shop"); got != "VolumeSnapshot/ark-csi-backup-data/" {
		t.Errorf("restored claim: %q", got)
	}
}

// The local cluster's Ark restores volume data only under its volumes
// directory (--hostpath-restore-dirs): a backup whose volume lives elsewhere
// gets its objects back, but not its data, and the restore says why.
func TestRestoreVolumeOutsideRestoreDirs(t *testing.T) {
	data := filepath.Join(t.TempDir(), "elsewhere")
	if err := os.MkdirAll(data, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(data, "f.txt"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	hostPathClaim(t, "outside", "outside-data", data)
	t.Cleanup(func() { kubectl(t, "delete", "pv", "outside-data", "--wait=false") })
	b := runBackup(t, home, &arkv1.Backup{ObjectMeta: metav1.ObjectMeta{Name: "outside-1"}, Spec: arkv1.BackupSpec{IncludedNamespaces: []string{"outside"}}}, "")
	if b.Status.VolumeSnapshotsCompleted != 1 {
		t.Fatalf("backup: %+v", b.Status)
	}
	loseVolume(t, "outside", "outside-data", data)
	r := runRestore(t, home, &arkv1.Restore{ObjectMeta: metav1.ObjectMeta{Name: "outside-1-restore"}, Spec: arkv1.RestoreSpec{BackupName: "outside-1"}}, "")
	if r.Status.Phase != arkv1.RestorePhasePartiallyFailed || r.Status.Errors != 1 {
		t.Errorf("restore: %+v, want PartiallyFailed with one error", r.Status)
	}
	logs := mustKubectl(t, "get", "--raw", "/apis/ark.heptio.com/v1/namespaces/"+home+"/restores/outside-1-restore/logs")
	if !strings.Contains(logs, "is outside the directories volume data may be restored to") {
		t.Errorf("the log does not say why the data was not restored:\n%s", logs)
	}
	if _, err := os.Stat(data); !os.IsNotExist(err) {
		t.Errorf("data written outside the allowed directories: %v", err)
	}
	if got := jsonpath(t, "{.metadata.name}", "get", "pvc", "data", "-n", "outside"); got != "data" {
		t.Errorf("the claim was not restored: %q", got)
	}
}

// loseVolume is the disaster: the namespace, the volume and its data go.
func loseVolume(t *testing.T, ns, pv, dir string) {
	t.Helper()
	mustKubectl(t, "delete", "namespace", ns, "--timeout=90s")
	mustKubectl(t, "delete", "pv", pv, "--timeout=60s")
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
}
