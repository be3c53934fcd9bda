package e2e

import (
	"bufio"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
	"github.com/arkproject/ark/test/e2e/framework"
)

// shopFixture is a namespace with the kinds of objects users back up, plus a
// namespace that must stay out of a backup of the first.
const shopFixture = `apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: v1
kind: Namespace
metadata: {name: elsewhere}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: shop, labels: {app: shop, tier: web}}
data: {color: blue}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: unlabelled, namespace: shop}
data: {x: "1"}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: not-mine, namespace: elsewhere}
data: {x: "1"}
---
apiVersion: v1
kind: Secret
metadata: {name: db-password, namespace: shop, labels: {app: shop}}
stringData: {password: hunter2}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop, labels: {app: shop}}
spec:
  replicas: 1
  selector: {matchLabels: {app: shop}}
  template:
    metadata: {labels: {app: shop}}
    spec: {containers: [{name: web, image: nginx}]}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop, labels: {app: shop}}
spec:
  selector: {app: shop}
  ports: [{port: 80}]
---
apiVersion: v1
kind: PersistentVolume
metadata: {name: shop-data, labels: {app: shop}}
spec:
  capacity: {storage: 1Gi}
  accessModes: [ReadWriteOnce]
  storageClassName: manual
  hostPath: {path: SHOP_DATA}
---
apiVersion: v1
kind: PersistentVolume
metadata: {name: unrelated-data}
spec:
  capacity: {storage: 1Gi}
  accessModes: [ReadWriteOnce]
  storageClassName: other
  hostPath: {path: /tmp/ark-e2e-unrelated}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data, namespace: shop, labels: {app: shop}}
spec:
  accessModes: [ReadWriteOnce]
  storageClassName: manual
  volumeName: shop-data
  resources: {requests: {storage: 1Gi}}
---
apiVersion: v1
kind: Pod
metadata: {name: worker, namespace: shop, labels: {app: shop}}
spec:
  nodeName: kwok-node-0
  tolerations: [{operator: Exists}]
  containers: [{name: worker, image: busybox}]
`

// shopData is the shop's hostPath volume, on this machine (the fake node).
func shopData() string { return filepath.Join(cluster.VolumesDir(), "shop-data") }

func createShop(t *testing.T) {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(shopData(), "orders"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(shopData(), "orders", "1.json"), []byte(`{"order":1}`), 0o644); err != nil {
		t.Fatal(err)
	}
	fixture := strings.ReplaceAll(shopFixture, "SHOP_DATA", shopData())
	if out, err := kubectlIn(t, fixture, "apply", "-f", "-"); err != nil {
		t.Fatalf("creating the shop fixture: %v\n%s", err, out)
	}
	eventually(t, time.Minute, "the claim is bound", func() error {
		out, err := kubectl(t, "get", "pvc", "data", "-n", "shop", "-o", "jsonpath={.status.phase}")
		if err != nil || out != "Bound" {
			return fmt.Errorf("%v: %q", err, out)
		}
		return nil
	})
}

func names(entries map[string][]byte) []string {
	var out []string
	for k := range entries {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func TestBackupNamespace(t *testing.T) {
	createShop(t)
	b := runBackup(t, home, &arkv1.Backup{
		ObjectMeta: metav1.ObjectMeta{Name: "shop-full"},
		Spec:       arkv1.BackupSpec{IncludedNamespaces: []string{"shop"}},
	}, "")
	if b.Status.Phase != arkv1.BackupPhaseCompleted || b.Status.Errors != 0 {
		logs, _ := kubectl(t, "get", "--raw", "/apis/ark.heptio.com/v1/namespaces/"+home+"/backups/shop-full/logs")
		t.Fatalf("backup: %+v\n%s", b.Status, logs)
	}
	if p := b.Status.Progress; p == nil || p.ItemsDone != p.TotalItems || p.ItemsDone < 10 {
		t.Errorf("progress at the end: %+v", p)
	}
	if b.Status.StartTimestamp == nil || b.Status.Expiration == nil || !b.Status.Expiration.Time.Equal(b.Status.StartTimestamp.Add(720*time.Hour)) {
		t.Errorf("expiration %v is not start %v + 720h", b.Status.Expiration, b.Status.StartTimestamp)
	}
	entries := download(t, home, "shop-full")
	for _, want := range []string{
		"metadata/version",
		"resources/configmaps/namespaces/shop/settings.json",
		"resources/configmaps/namespaces/shop/unlabelled.json",
		"resources/secrets/namespaces/shop/db-password.json",
		"resources/deployments.apps/namespaces/shop/web.json",
		"resources/services/namespaces/shop/web.json",
		"resources/persistentvolumeclaims/namespaces/shop/data.json",
		"resources/persistentvolumes/cluster/shop-data.json",
		"resources/pods/namespaces/shop/worker.json",
		"resources/namespaces/cluster/shop.json",
	} {
		if _, ok := entries[want]; !ok {
			t.Errorf("tarball lacks %s; it has:\n%s", want, strings.Join(names(entries), "\n"))
		}
	}
	for name := range entries {
		switch {
		case strings.Contains(name, "/elsewhere"), strings.Contains(name, "unrelated-data"),
			strings.HasPrefix(name, "resources/events"), strings.HasPrefix(name, "resources/nodes"),
			strings.Contains(name, "ark.heptio.com"):
			t.Errorf("tarball holds %s, which a backup of shop must not", name)
		}
	}
	if string(entries["metadata/version"]) != "1" {
		t.Errorf("metadata/version = %q", entries["metadata/version"])
	}
	var cm struct {
		Data     map[string]string `json:"data"`
		Metadata struct {
			ManagedFields []any `json:"managedFields"`
		} `json:"metadata"`
	}
	if err := json.Unmarshal(entries["resources/configmaps/namespaces/shop/settings.json"], &cm); err != nil || cm.Data["color"] != "blue" || cm.Metadata.ManagedFields != nil {
		t.Errorf("configmap entry: %v %+v", err, cm)
	}
	logs := mustKubectl(t, "get", "--raw", "/apis/ark.heptio.com/v1/namespaces/"+home+"/backups/shop-full/logs")
	if !strings.Contains(logs, "starting backup heptio-ark/shop-full") || !strings.Contains(logs, fmt.Sprintf("backed up %d items", b.Status.Progress.ItemsDone)) {
		t.Errorf("backup log:\n%s", logs)
	}
}

func TestBackupFilters(t *testing.T) {
	createShop(t)
	b := runBackup(t, home, &arkv1.Backup{
		ObjectMeta: metav1.ObjectMeta{Name: "shop-filtered"},
		Spec: arkv1.BackupSpec{
			IncludedNamespaces: []string{"*"},
			ExcludedNamespaces: []string{"elsewhere", "kube-system"},
			IncludedResources:  []string{"cm", "deployments.apps", "secret"},
			ExcludedResources:  []string{"secrets"},
			LabelSelector:      &metav1.LabelSelector{MatchLabels: map[string]string{"app": "shop"}},
		},
	}, "")
	if b.Status.Phase != arkv1.BackupPhaseCompleted {
		t.Fatalf("backup: %+v", b.Status)
	}
	got := names(download(t, home, "shop-filtered"))
	want := []string{
		"metadata/version",
		"resources/configmaps/namespaces/shop/settings.json",
		"resources/deployments.apps/namespaces/shop/web.json",
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("filtered tarball:\n got %v\nwant %v", got, want)
	}
}

// A backup never reveals what its requester could not read: carol may back
// up shop and read its config maps, not its secrets.
func TestBackupUsesRequesterRights(t *testing.T) {
	createShop(t)
	mustKubectl(t, "create", "rolebinding", "carol-ark", "-n", "shop", "--clusterrole=ark-namespace-user", "--user=carol")
	mustKubectl(t, "create", "role", "cm-reader", "-n", "shop", "--verb=get,list", "--resource=configmaps")
	mustKubectl(t, "create", "rolebinding", "carol-cm", "-n", "shop", "--role=cm-reader", "--user=carol")
	eventually(t, 30*time.Second, "carol's rights apply", func() error {
		_, err := kubectl(t, "--as=carol", "get", "configmaps", "-n", "shop")
		return err
	})
	b := runBackup(t, "shop", &arkv1.Backup{ObjectMeta: metav1.ObjectMeta{Name: "carol-shop"}}, "carol")
	if b.Spec.Requester == nil || b.Spec.Requester.Username != "carol" {
		t.Fatalf("requester: %+v", b.Spec.Requester)
	}
	// Resources she may not list and did not name are skipped with a
	// warning: her backup of "everything" she may read is complete.
	if b.Status.Phase != arkv1.BackupPhaseCompleted || b.Status.Warnings == 0 || b.Status.Errors != 0 {
		t.Fatalf("carol's backup: %+v", b.Status)
	}
	entries := download(t, "shop", "carol-shop")
	if _, ok := entries["resources/configmaps/namespaces/shop/settings.json"]; !ok {
		t.Errorf("carol's backup lacks the config map she may read: %v", names(entries))
	}
	for name := range entries {
		if strings.HasPrefix(name, "resources/secrets/") || strings.HasPrefix(name, "resources/persistentvolumes/") || strings.HasPrefix(name, "resources/namespaces/") {
			t.Errorf("carol's backup holds %s, which she may not list", name)
		}
	}
	logs := mustKubectl(t, "get", "--raw", "/apis/ark.heptio.com/v1/namespaces/shop/backups/carol-shop/logs")
	if !regexp.MustCompile(`carol may not list these resources in namespace shop, so they are not backed up: .*\bsecrets\b`).MatchString(logs) {
		t.Errorf("the log does not record the denial:\n%s", logs)
	}
}

// A pod's pre hook runs through pods/exec (kwok runs it on this machine)
// before the pod is read: the hook annotates its own pod, and the backed-up
// pod carries the annotation. The post hook runs after.
func TestBackupHooks(t *testing.T) {
	createShop(t)
	marker := filepath.Join(t.TempDir(), "post-hook-ran")
	annotate := fmt.Sprintf("%s --kubeconfig=%s annotate pod worker -n shop hook.example/pre=ran --overwrite", cluster.KubectlPath(), cluster.Kubeconfig)
	pre, _ := json.Marshal([]string{"sh", "-c", annotate})
	post, _ := json.Marshal([]string{"sh", "-c", "touch " + marker})
	mustKubectl(t, "annotate", "pod", "worker", "-n", "shop", "--overwrite",
		"pre.hook.backup.ark.heptio.com/command="+string(pre),
		"post.hook.backup.ark.heptio.com/command="+string(post))
	mustKubectl(t, "annotate", "pod", "worker", "-n", "shop", "hook.example/pre-")
	t.Cleanup(func() {
		kubectl(t, "annotate", "pod", "worker", "-n", "shop", "pre.hook.backup.ark.heptio.com/command-", "post.hook.backup.ark.heptio.com/command-", "hook.example/pre-")
	})
	b := runBackup(t, home, &arkv1.Backup{
		ObjectMeta: metav1.ObjectMeta{Name: "shop-hooks"},
		Spec:       arkv1.BackupSpec{IncludedNamespaces: []string{"shop"}, IncludedResources: []string{"pods"}},
	}, "")
	logs := mustKubectl(t, "get", "--raw", "/apis/ark.heptio.com/v1/namespaces/"+home+"/backups/shop-hooks/logs")
	if b.Status.Phase != arkv1.BackupPhaseCompleted {
		t.Fatalf("backup: %+v\n%s", b.Status, logs)
	}
	var pod struct {
		Metadata struct {
			Annotations map[string]string `json:"annotations"`
		} `json:"metadata"`
	}
	entries := download(t, home, "shop-hooks")
	if err := json.Unmarshal(entries["resources/pods/namespaces/shop/worker.json"], &pod); err != nil {
		t.Fatalf("pod entry: %v (entries %v)", err, names(entries))
	}
	if pod.Metadata.Annotations["hook.example/pre"] != "ran" {
		t.Errorf("the backed-up pod was read before its pre hook ran: annotations %v\n%s", pod.Metadata.Annotations, logs)
	}
	if _, err := os.Stat(marker); err != nil {
		t.Errorf("post hook did not run: %v\n%s", err, logs)
	}
	if !strings.Contains(logs, "running pre hook annotation in pod shop/worker") || !strings.Contains(logs, "running post hook annotation in pod shop/worker") {
		t.Errorf("hooks not in the log:\n%s", logs)
	}
}

// The shop's hostPath volume is archived into the bucket and recorded;
// with snapshotVolumes=false it is not.
func TestBackupVolumeSnapshots(t *testing.T) {
	createShop(t)
	b := runBackup(t, home, &arkv1.Backup{
		ObjectMeta: metav1.ObjectMeta{Name: "shop-volumes"},
		Spec:       arkv1.BackupSpec{IncludedNamespaces: []string{"shop"}},
	}, "")
	if b.Status.Phase != arkv1.BackupPhaseCompleted || b.Status.VolumeSnapshotsAttempted != 1 || b.Status.VolumeSnapshotsCompleted != 1 {
		t.Fatalf("backup: %+v", b.Status)
	}
	dir := filepath.Join(cluster.BucketDir, "backups", "shop-volumes")
	var records []map[string]any
	readGzipJSON(t, filepath.Join(dir, "shop-volumes-volumesnapshots.json.gz"), &records)
	if len(records) != 1 || records[0]["persistentVolumeName"] != "shop-data" || records[0]["snapshotter"] != "hostpath" || records[0]["phase"] != "Completed" {
		t.Fatalf("volume snapshot records: %+v", records)
	}
	archive, err := os.Open(filepath.Join(dir, "volumes", "shop-data.tar.gz"))
	if err != nil {
		t.Fatal(err)
	}
	defer archive.Close()
	found := string(tarEntries(t, archive, true)["orders/1.json"]) == `{"order":1}`
	if !found {
		t.Errorf("the volume archive lacks orders/1.json")
	}

	off := runBackup(t, home, &arkv1.Backup{
		ObjectMeta: metav1.ObjectMeta{Name: "shop-no-volumes"},
		Spec:       arkv1.BackupSpec{IncludedNamespaces: []string{"shop"}, SnapshotVolumes: ptrTo(false)},
	}, "")
	if off.Status.Phase != arkv1.BackupPhaseCompleted || off.Status.VolumeSnapshotsAttempted != 0 {
		t.Fatalf("backup with snapshotVolumes=false: %+v", off.Status)
	}
	if _, err := os.Stat(filepath.Join(cluster.BucketDir, "backups", "shop-no-volumes", "volumes")); !os.IsNotExist(err) {
		t.Errorf("volumes archived despite snapshotVolumes=false: %v", err)
	}
}

func readGzipJSON(t *testing.T, path string, v any) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.NewDecoder(gz).Decode(v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func ptrTo[T any](v T) *T { return &v }

// CSI volumes get a VolumeSnapshot through the snapshot.storage.k8s.io API.
// No CSI driver or snapshot controller runs here, so the test plays the
// snapshot controller and marks the VolumeSnapshot ready.
func TestBackupCSISnapshot(t *testing.T) {
	mustKubectl(t, "apply", "-f", filepath.Join("testdata", "volumesnapshot-crds.yaml"))
	mustKubectl(t, "wait", "--for=condition=Established", "crd/volumesnapshots.snapshot.storage.k8s.io", "crd/volumesnapshotclasses.snapshot.storage.k8s.io", "--timeout=60s")
	out, err := kubectlIn(t, `apiVersion: v1
kind: Namespace
metadata: {name: csi-shop}
---
apiVersion: snapshot.storage.k8s.io/v1
kind: VolumeSnapshotClass
metadata: {name: fake-csi}
driver: hostpath.csi.example.com
deletionPolicy: Retain
---
apiVersion: v1
kind: PersistentVolume
metadata: {name: csi-data}
spec:
  capacity: {storage: 2Gi}
  accessModes: [ReadWriteOnce]
  storageClassName: csi
  csi: {driver: hostpath.csi.example.com, volumeHandle: vol-42}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data, namespace: csi-shop}
spec:
  accessModes: [ReadWriteOnce]
  storageClassName: csi
  volumeName: csi-data
  resources: {requests: {storage: 2Gi}}
`, "apply", "-f", "-")
	if err != nil {
		t.Fatalf("fixture: %v\n%s", err, out)
	}
	eventually(t, time.Minute, "the CSI claim is bound", func() error {
		out, err := kubectl(t, "get", "pvc", "data", "-n", "csi-shop", "-o", "jsonpath={.status.phase}")
		if err != nil || out != "Bound" {
			return fmt.Errorf("%v: %q", err, out)
		}
		return nil
	})
	// Be the snapshot controller: mark Ark's VolumeSnapshot ready once it exists.
	done := make(chan struct{})
	defer close(done)
	go func() {
		for {
			select {
			case <-done:
				return
			case <-time.After(200 * time.Millisecond):
			}
			if _, err := kubectl(t, "patch", "volumesnapshot", "ark-csi-backup-data", "-n", "csi-shop", "--subresource=status", "--type=merge",
				"-p", `{"status":{"readyToUse":true,"restoreSize":"2Gi","boundVolumeSnapshotContentName":"snapcontent-42"}}`); err == nil {
				return
			}
		}
	}()
	b := runBackup(t, home, &arkv1.Backup{
		ObjectMeta: metav1.ObjectMeta{Name: "csi-backup"},
		Spec:       arkv1.BackupSpec{IncludedNamespaces: []string{"csi-shop"}},
	}, "")
	if b.Status.Phase != arkv1.BackupPhaseCompleted || b.Status.VolumeSnapshotsAttempted != 1 || b.Status.VolumeSnapshotsCompleted != 1 {
		logs, _ := kubectl(t, "get", "--raw", "/apis/ark.heptio.com/v1/namespaces/"+home+"/backups/csi-backup/logs")
		t.Fatalf("backup: %+v\n%s", b.Status, logs)
	}
	var records []map[string]any
	readGzipJSON(t, filepath.Join(cluster.BucketDir, "backups", "csi-backup", "csi-backup-volumesnapshots.json.gz"), &records)
	if len(records) != 1 || records[0]["snapshotter"] != "csi" || records[0]["snapshotID"] != "csi-shop/ark-csi-backup-data" || records[0]["volumeID"] != "vol-42" {
		t.Fatalf("records: %+v", records)
	}
	out = mustKubectl(t, "get", "volumesnapshot", "ark-csi-backup-data", "-n", "csi-shop", "-o", "jsonpath={.spec.volumeSnapshotClassName}/{.spec.source.persistentVolumeClaimName}/{.metadata.labels.ark\\.heptio\\.com/backup-name}")
	if out != "fake-csi/data/csi-backup" {
		t.Errorf("VolumeSnapshot: %q", out)
	}
}

// `backups/logs` of a running backup follows the log until the backup ends.
// A pre hook that sleeps keeps the backup running long enough to see lines
// arrive before it completes.
func TestBackupLogsFollow(t *testing.T) {
	sleeperPod(t, "slow", 5)
	if out, err := kubectlIn(t, `apiVersion: ark.heptio.com/v1
kind: Backup
metadata: {name: slow-1}
spec: {includedNamespaces: [slow]}
`, "create", "-n", home, "-f", "-"); err != nil {
		t.Fatalf("create: %v\n%s", err, out)
	}
	t.Cleanup(func() { os.RemoveAll(filepath.Join(cluster.BucketDir, "backups", "slow-1")) })
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, cluster.KubectlPath(), "--kubeconfig="+cluster.Kubeconfig, "get", "--raw", "/apis/ark.heptio.com/v1/namespaces/"+home+"/backups/slow-1/logs")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var lines []string
	var firstAt time.Time
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if firstAt.IsZero() {
			firstAt = time.Now()
		}
		lines = append(lines, sc.Text())
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("following the log: %v (got %q)", err, lines)
	}
	endedAt := time.Now()
	b, err := ark.ArkV1().Backups(home).Get(ctx, "slow-1", metav1.GetOptions{})
	if err != nil || b.Status.Phase != arkv1.BackupPhaseCompleted {
		t.Fatalf("backup: %v %+v", err, b.Status)
	}
	text := strings.Join(lines, "\n")
	if !strings.Contains(text, "starting backup heptio-ark/slow-1") || !strings.Contains(text, "backed up") || !strings.Contains(text, "running pre hook annotation in pod slow/sleeper") {
		t.Errorf("followed log:\n%s", text)
	}
	if strings.Count(text, "starting backup") != 1 {
		t.Errorf("lines repeated when switching to the final log:\n%s", text)
	}
	if endedAt.Sub(firstAt) < 2*time.Second {
		t.Errorf("the first line came %s before the stream ended: the log was not followed while the backup ran", endedAt.Sub(firstAt))
	}
}

// sleeperPod creates namespace ns with a running (kwok) pod "sleeper" whose
// pre hook sleeps for seconds: it holds a backup of ns InProgress.
func sleeperPod(t *testing.T, ns string, seconds int) {
	t.Helper()
	if out, err := kubectlIn(t, fmt.Sprintf(`apiVersion: v1
kind: Namespace
metadata: {name: %[1]s}
---
apiVersion: v1
kind: Pod
metadata:
  name: sleeper
  namespace: %[1]s
  annotations:
    pre.hook.backup.ark.heptio.com/command: '["sh","-c","sleep %[2]d"]'
spec:
  nodeName: kwok-node-0
  containers: [{name: app, image: busybox}]
`, ns, seconds), "apply", "-f", "-"); err != nil {
		t.Fatalf("fixture: %v\n%s", err, out)
	}
	framework.WaitPodRunning(t, ns, "sleeper")
}
