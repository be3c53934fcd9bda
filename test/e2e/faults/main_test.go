// Package faults treats the bucket as what it is: shared with other
// clusters, writable by anyone who can reach it, and fallible. Each test
// reproduces one way it turned out to be the weak point — through the real
// kube-apiserver of the local cluster, and a second whole cluster sharing
// its bucket — and shows that nothing is run twice, lost or leaked.
package faults

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
	"github.com/arkproject/ark/test/e2e/framework"
	"github.com/arkproject/ark/test/localcluster"
)

const home = localcluster.HomeNamespace

func TestMain(m *testing.M) {
	os.Exit(framework.Main(m, framework.Options{
		BucketPollInterval: time.Second,
		ArkArgs:            []string{"--gc-interval=2s", "--abandoned-after=3s"},
	}))
}

var (
	kubectl     = framework.Kubectl
	mustKubectl = framework.MustKubectl
	eventually  = framework.Eventually
)

// namespaceWith creates namespace ns holding a config map named cm.
func namespaceWith(t *testing.T, ns, cm string) {
	t.Helper()
	mustKubectl(t, "create", "namespace", ns)
	mustKubectl(t, "create", "configmap", cm, "-n", ns, "--from-literal=k=v")
	t.Cleanup(func() { _, _ = kubectl(t, "delete", "namespace", ns, "--wait=false") })
}

// backupOf backs up namespace ns as the administrator and waits for it.
func backupOf(t *testing.T, name, ns string) *arkv1.Backup {
	t.Helper()
	b := framework.RunBackup(t, home, &arkv1.Backup{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       arkv1.BackupSpec{IncludedNamespaces: []string{ns}},
	}, "")
	if b.Status.Phase != arkv1.BackupPhaseCompleted {
		t.Fatalf("backup %s: %s %s %v", name, b.Status.Phase, b.Status.FailureReason, b.Status.ValidationErrors)
	}
	return b
}

// bucketFile is the path of a backup's file in the file bucket.
func bucketFile(name, file string) string {
	return filepath.Join(framework.BucketBackupDir(home, name), file)
}

// rawGet is `kubectl get --raw` of a backup subresource.
func rawGet(t *testing.T, name, sub string) (string, error) {
	t.Helper()
	return kubectl(t, "get", "--raw", fmt.Sprintf("/apis/ark.heptio.com/v1/namespaces/%s/backups/%s/%s", home, name, sub))
}

// phase reads a backup's phase and reason through the API.
func phase(t *testing.T, name string) (arkv1.BackupPhase, string) {
	t.Helper()
	b, err := framework.Ark.ArkV1().Backups(home).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get backup %s: %v", name, err)
	}
	return b.Status.Phase, b.Status.FailureReason
}

// record reads and rewrites a backup's record in the bucket, behind Ark's
// back, as anyone with write access to the bucket can.
func record(t *testing.T, name string, change func(map[string]any)) {
	t.Helper()
	path := bucketFile(name, "ark-backup.json")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var obj map[string]any
	if err := json.Unmarshal(data, &obj); err != nil {
		t.Fatal(err)
	}
	change(obj)
	if data, err = json.Marshal(obj); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func contains(s string, parts ...string) error {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return fmt.Errorf("%q does not say %q", s, p)
		}
	}
	return nil
}
