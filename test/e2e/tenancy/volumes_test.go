package tenancy

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
	"github.com/arkproject/ark/pkg/backupstore"
	"github.com/arkproject/ark/test/e2e/framework"
)

// Case 7: a tenant cannot snapshot someone else's volume. Mallory makes a
// claim naming the victim's volume and a pod that mounts it, and backs up
// her namespace: the claim and volume are read as mallory (who may not read
// volumes) and the volume is bound to the victim's claim, so nothing of the
// victim's data reaches the bucket.
func TestCannotSnapshotAnotherNamespacesVolume(t *testing.T) {
	data := filepath.Join(framework.Cluster.VolumesDir(), "victim-data")
	if err := os.MkdirAll(data, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(data) })
	if err := os.WriteFile(filepath.Join(data, "secret.txt"), []byte("the victim's secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	framework.HostPathClaim(t, "vol-victim", "victim-pv", data)
	t.Cleanup(func() {
		kubectl(t, "delete", "namespace", "vol-victim", "--wait=false")
		kubectl(t, "delete", "pv", "victim-pv", "--wait=false")
	})

	tenant(t, "vol-a", map[string]string{"mallory": "admin"})
	if out, err := kubectlIn(t, `apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: steal, namespace: vol-a}
spec:
  accessModes: [ReadWriteOnce]
  storageClassName: victim-pv
  volumeName: victim-pv
  resources: {requests: {storage: 1Gi}}
---
apiVersion: v1
kind: Pod
metadata: {name: reader, namespace: vol-a}
spec:
  nodeName: kwok-node-0
  containers: [{name: app, image: busybox}]
  volumes: [{name: stolen, persistentVolumeClaim: {claimName: steal}}]
`, "--as=mallory", "apply", "-f", "-"); err != nil {
		t.Fatalf("mallory's claim and pod: %v\n%s", err, out)
	}
	framework.WaitPodRunning(t, "vol-a", "reader")

	b := backup(t, "vol-a", "steal-1", "mallory", nil)
	if b.Status.VolumeSnapshotsAttempted != 0 {
		t.Errorf("a volume snapshot was attempted: %+v", b.Status)
	}
	ref := backupstore.Layout{HomeNamespace: home}.Backup("vol-a", "steal-1")
	entries, err := os.ReadDir(filepath.Join(framework.Cluster.BucketDir, filepath.FromSlash(ref.Dir())))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() == "volumes" {
			t.Error("the backup's folder holds volume archives")
		}
	}
	bucket := filepath.Join(framework.Cluster.BucketDir)
	filepath.Walk(bucket, func(path string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() && strings.HasSuffix(path, ".tar.gz") && strings.Contains(path, "victim") {
			t.Errorf("the victim's volume is in the bucket: %s", path)
		}
		return nil
	})
	logs := mustKubectl(t, "get", "--raw", "/apis/ark.heptio.com/v1/namespaces/vol-a/backups/steal-1/logs", "--as=mallory")
	if !strings.Contains(logs, "reading volume victim-pv to snapshot it") || !strings.Contains(logs, "forbidden") {
		t.Errorf("the log does not say why the volume was not snapshotted:\n%s", logs)
	}
	if strings.Contains(logs, "snapshot of persistent volume victim-pv completed") {
		t.Error("the victim's volume was snapshotted")
	}

	// The administrator backing up mallory's namespace may read the volume,
	// but it is bound to the victim's claim, not mallory's: still nothing.
	admin := backup(t, home, "steal-admin", "", func(s *arkv1.BackupSpec) { s.IncludedNamespaces = []string{"vol-a"} })
	if admin.Status.VolumeSnapshotsAttempted != 0 {
		t.Errorf("the administrator's backup of vol-a snapshotted a volume: %+v", admin.Status)
	}
	adminLogs := mustKubectl(t, "get", "--raw", "/apis/ark.heptio.com/v1/namespaces/"+home+"/backups/steal-admin/logs")
	if !strings.Contains(adminLogs, "persistent volume victim-pv is not snapshotted: its claim vol-victim/data is not in the backup") {
		t.Errorf("the administrator's log does not say why:\n%s", adminLogs)
	}
}
