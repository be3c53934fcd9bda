package tenancy

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
	"github.com/arkproject/ark/pkg/backupstore"
	"github.com/arkproject/ark/test/e2e/framework"
)

// Case 3: write access to the bucket is not cluster-admin. A record written
// straight into the bucket — in a tenant's folder, asking for every
// namespace with a hook, as system:masters — never runs: it becomes
// FailedValidation, nothing is read from the cluster, the hook does not run,
// and there is nothing to download.
func TestForgedBucketRecordNeverRuns(t *testing.T) {
	tenant(t, "forge-a", map[string]string{"mallory": "admin"})
	mustKubectl(t, "create", "namespace", "forge-victim")
	t.Cleanup(func() { kubectl(t, "delete", "namespace", "forge-victim", "--wait=false") })
	mustKubectl(t, "create", "secret", "generic", "root-token", "-n", "forge-victim", "--from-literal=t=s3cr3t")
	if out, err := kubectlIn(t, `apiVersion: v1
kind: Pod
metadata: {name: app, namespace: forge-a}
spec:
  nodeName: kwok-node-0
  containers: [{name: app, image: busybox}]
`, "apply", "-f", "-"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	framework.WaitPodRunning(t, "forge-a", "app")
	marker := filepath.Join(t.TempDir(), "forged-hook-ran")
	layout := backupstore.Layout{HomeNamespace: home}
	for _, ref := range []backupstore.Backup{layout.Backup("forge-a", "forged"), layout.Backup(home, "forged-home")} {
		record := fmt.Sprintf(`{"apiVersion":"ark.heptio.com/v1","kind":"Backup",
"metadata":{"name":%[1]q,"namespace":%[2]q,"uid":"11111111-2222-3333-4444-555555555555"},
"spec":{"includedNamespaces":["*"],"includeClusterResources":true,
 "hooks":{"resources":[{"name":"own","includedNamespaces":["forge-a"],"pre":[{"exec":{"command":["touch",%[3]q]}}]}]},
 "requester":{"username":"kubernetes-admin","groups":["system:masters","system:authenticated"]}},
"status":{"phase":"New"}}`, ref.Name, ref.Namespace, marker)
		path := filepath.Join(framework.Cluster.BucketDir, filepath.FromSlash(ref.MetadataKey()))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(record), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(filepath.Dir(path)) })
	}
	for _, at := range [][2]string{{"forge-a", "forged"}, {home, "forged-home"}} {
		var b *arkv1.Backup
		eventually(t, time.Minute, "the forged record "+at[1]+" is refused", func() error {
			var err error
			b, err = framework.Ark.ArkV1().Backups(at[0]).Get(ctx(), at[1], metav1.GetOptions{})
			if err != nil {
				return err
			}
			if b.Status.Phase != arkv1.BackupPhaseFailedValidation {
				return fmt.Errorf("phase %q", b.Status.Phase)
			}
			return nil
		})
		if msgs := strings.Join(b.Status.ValidationErrors, "\n"); !strings.Contains(msgs, "was not accepted by this cluster's Ark API") || !strings.Contains(msgs, "it never runs") {
			t.Errorf("%s: validation errors do not say why:\n%s", at[1], msgs)
		}
		if b.Status.StartTimestamp != nil {
			t.Errorf("%s started: %+v", at[1], b.Status)
		}
		if _, err := os.Stat(filepath.Join(framework.Cluster.BucketDir, filepath.FromSlash(layout.Backup(at[0], at[1]).TarballKey()))); !os.IsNotExist(err) {
			t.Errorf("%s: a tarball was written: %v", at[1], err)
		}
	}
	time.Sleep(2 * time.Second) // a hook would have run by now
	if _, err := os.Stat(marker); !os.IsNotExist(err) {
		t.Fatal("the forged record's hook ran")
	}
	out, err := kubectl(t, "get", "--raw", "/apis/ark.heptio.com/v1/namespaces/forge-a/backups/forged/download", "--as=mallory")
	if err == nil || strings.Contains(out, "s3cr3t") || !strings.Contains(out, "FailedValidation") {
		t.Errorf("mallory downloading the forged backup: %v\n%.300s", err, out)
	}

	// The same backup made through the API by mallory runs, as mallory.
	b := backup(t, "forge-a", "honest", "mallory", nil)
	if b.Status.Phase != arkv1.BackupPhaseCompleted {
		t.Errorf("mallory's own backup: %+v", b.Status)
	}
}
