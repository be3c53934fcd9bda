package e2e

import (
	"archive/tar"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
	"github.com/arkproject/ark/pkg/backupstore/velerotest"
	"github.com/arkproject/ark/pkg/objectstore"
)

// A bucket a Velero server wrote, registered as a location of format
// velero through kubectl on a real kube-apiserver: kubectl lists its
// backups (both Velero 1.x layouts) with their phase and owner, a restore
// brings back the namespace's Deployment, ConfigMaps, Secret, PVC and PV,
// CRD and custom resource, warning that there was no checksum manifest
// and that the volume's data is Velero's; a hostile tarball is refused
// with nothing created; nothing is written to the bucket.
func TestVeleroBucket(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	store, err := objectstore.NewFileStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	velerotest.Write(t, store, velerotest.Backup{Name: "velero-shop-v1", Namespace: "velero-shop"})
	velerotest.Write(t, store, velerotest.Backup{Name: "velero-shop-v11", Namespace: "velero-shop-2", APIGroupVersions: true})
	velerotest.Write(t, store, velerotest.Backup{Name: "velero-evil", Namespace: "velero-evil", APIGroupVersions: true, Extra: []velerotest.Entry{
		{Name: "resources/secrets/v1-preferredversion/namespaces/velero-evil/token.json", Type: tar.TypeSymlink, Link: "/etc/kubernetes/pki/ca.key"},
	}})
	before := bucketKeys(t, store)

	t.Cleanup(func() {
		_, _ = kubectl(t, "delete", "bsl", "velero", "-n", home, "--ignore-not-found")
		_, _ = kubectl(t, "delete", "namespace", "velero-shop", "velero-shop-2", "velero-evil", "--ignore-not-found", "--wait=false")
		_, _ = kubectl(t, "delete", "pv", "velero-shop-data", "velero-shop-2-data", "--ignore-not-found", "--wait=false")
		_, _ = kubectl(t, "delete", "crd", "widgets.example.com", "--ignore-not-found", "--wait=false")
	})
	bsl := fmt.Sprintf(`apiVersion: ark.heptio.com/v1
kind: BackupStorageLocation
metadata: {name: velero, namespace: %s}
spec:
  provider: file
  objectStorage: {bucket: %q}
  accessMode: %%s
  format: velero
`, home, dir)
	if out, err := kubectlIn(t, fmt.Sprintf(bsl, "ReadWrite"), "apply", "-f", "-"); err == nil || !strings.Contains(out, "must be ReadOnly") {
		t.Errorf("a ReadWrite velero location: %v\n%s", err, out)
	}
	if out, err := kubectlIn(t, fmt.Sprintf(bsl, "ReadOnly"), "apply", "-f", "-"); err != nil {
		t.Fatalf("creating the velero location: %v\n%s", err, out)
	}
	locationPhase(t, "velero", "the velero location lists its three backups", func(s arkv1.BackupStorageLocationStatus) bool {
		return s.Phase == arkv1.BackupStorageLocationPhaseAvailable && s.BackupCount == 3
	})

	out := mustKubectl(t, "get", "backups", "-n", home, "--field-selector", "spec.storageLocation=velero", "-o", "wide", "--no-headers")
	for _, name := range []string{"velero-shop-v1", "velero-shop-v11", "velero-evil"} {
		var row string
		for _, l := range lines(out) {
			if strings.HasPrefix(l, name+" ") {
				row = l
			}
		}
		if !strings.Contains(row, "Completed") || !strings.Contains(row, " velero") {
			t.Errorf("kubectl get backups -o wide: row of %s is %q:\n%s", name, row, out)
		}
	}
	if got := mustKubectl(t, "get", "backup", "velero-shop-v11", "-n", home, "-o", "jsonpath={.metadata.annotations.ark\\.heptio\\.com/record-format}"); got != "velero.io/v1; format 1.1.0" {
		t.Errorf("record format annotation %q", got)
	}
	if out, err := kubectl(t, "delete", "backup", "velero-shop-v1", "-n", home, "--wait=false"); err == nil {
		t.Errorf("deleting a Velero backup succeeded:\n%s", out)
	}

	for _, c := range []struct{ backup, ns string }{{"velero-shop-v1", "velero-shop"}, {"velero-shop-v11", "velero-shop-2"}} {
		r := runRestore(t, home, &arkv1.Restore{ObjectMeta: metav1.ObjectMeta{Name: c.backup + "-restore"}, Spec: arkv1.RestoreSpec{BackupName: c.backup}}, "")
		if r.Status.Phase != arkv1.RestorePhaseCompleted && r.Status.Phase != arkv1.RestorePhasePartiallyFailed {
			t.Fatalf("restore of %s: %+v", c.backup, r.Status)
		}
		items, summary := restoreResults(t, home, r.Name)
		created := map[string]bool{}
		var pvWarning string
		for _, it := range items {
			if it["action"] == "created" {
				created[it["resource"]+" "+it["name"]] = true
			}
			if it["resource"] == "persistentvolumes" {
				pvWarning = it["warning"]
			}
		}
		for _, want := range []string{"namespaces " + c.ns, "deployments.apps web", "configmaps settings", "configmaps flags", "secrets db-creds",
			"persistentvolumeclaims data", "persistentvolumes " + c.ns + "-data", "widgets.example.com gizmo"} {
			if !created[want] {
				t.Errorf("restore of %s did not create %s; results %v", c.backup, want, items)
			}
		}
		if !strings.Contains(pvWarning, "volume data not restored") || summary["warnings"] < 2 {
			t.Errorf("restore of %s: PV warning %q, summary %v", c.backup, pvWarning, summary)
		}
		logs := mustKubectl(t, "get", "--raw", "/apis/ark.heptio.com/v1/namespaces/"+home+"/restores/"+r.Name+"/logs")
		if !strings.Contains(logs, "no Ark checksum manifest") {
			t.Errorf("restore log of %s does not mention the missing manifest:\n%s", c.backup, logs)
		}
		if got := mustKubectl(t, "get", "configmap", "settings", "-n", c.ns, "-o", "jsonpath={.data.color}"); got != "blue" {
			t.Errorf("restored config map: %q", got)
		}
		if got := mustKubectl(t, "get", "widgets.example.com", "gizmo", "-n", c.ns, "-o", "jsonpath={.apiVersion} {.metadata.annotations.from}"); strings.TrimSpace(got) != "example.com/v1" {
			t.Errorf("restored widget: %q", got)
		}
		if got := mustKubectl(t, "get", "deployment", "web", "-n", c.ns, "-o", "jsonpath={.metadata.labels.ark\\.heptio\\.com/backup-name}"); got != c.backup {
			t.Errorf("restored deployment's backup label: %q", got)
		}
	}

	r := runRestore(t, home, &arkv1.Restore{ObjectMeta: metav1.ObjectMeta{Name: "velero-evil-restore"}, Spec: arkv1.RestoreSpec{BackupName: "velero-evil"}}, "")
	if r.Status.Phase != arkv1.RestorePhaseFailed || !strings.Contains(r.Status.FailureReason, "symbolic link") {
		t.Errorf("restore of a hostile Velero tarball: %+v", r.Status)
	}
	if out, err := kubectl(t, "get", "namespace", "velero-evil"); err == nil {
		t.Errorf("the hostile backup's namespace was created:\n%s", out)
	}

	// Nothing was written to the Velero bucket, garbage collection included.
	time.Sleep(2 * gcInterval)
	if after := bucketKeys(t, store); strings.Join(after, ",") != strings.Join(before, ",") {
		t.Errorf("the Velero bucket was written to:\nbefore %v\nafter  %v", before, after)
	}
	if _, err := ark.ArkV1().Backups(home).Get(ctx, "velero-shop-v1", metav1.GetOptions{}); err != nil {
		t.Errorf("the Velero backup is gone: %v", err)
	}
}

func bucketKeys(t *testing.T, store objectstore.Store) []string {
	t.Helper()
	var keys []string
	if err := objectstore.ListAll(context.Background(), store, "", func(a objectstore.ObjectAttrs) error {
		keys = append(keys, a.Key+"@"+a.Token)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return keys
}
