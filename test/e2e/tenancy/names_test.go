package tenancy

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
	"github.com/arkproject/ark/pkg/backupstore"
	"github.com/arkproject/ark/pkg/controllers/schedule"
	"github.com/arkproject/ark/test/e2e/framework"
)

// Case 5: backup names are per namespace. A tenant pre-creates the names
// the administrator's schedule is about to use, in their own namespace; the
// schedule still takes its backups under those names in the home namespace,
// and neither side sees, blocks or changes the other's.
func TestBackupNamesArePerNamespace(t *testing.T) {
	tenant(t, "names-a", map[string]string{"mallory": "admin"})
	mustKubectl(t, "create", "configmap", "c", "-n", "names-a", "--from-literal=k=v")
	// The names of the ticks of the next seconds, as the schedule names them.
	start := time.Now().UTC().Truncate(time.Second)
	var taken []string
	for i := 0; i < 8; i++ {
		name := schedule.BackupName("nightly-names", start.Add(time.Duration(i)*time.Second))
		taken = append(taken, name)
		b := &arkv1.Backup{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "names-a"}, Spec: arkv1.BackupSpec{IncludedResources: []string{"configmaps"}}}
		b.TypeMeta = metav1.TypeMeta{APIVersion: "ark.heptio.com/v1", Kind: "Backup"}
		framework.KubectlCreate(t, b, "mallory")
		t.Cleanup(func() { framework.RemoveBackupFiles("names-a", name) })
	}
	out, err := kubectlIn(t, `apiVersion: ark.heptio.com/v1
kind: Schedule
metadata: {name: nightly-names}
spec: {schedule: "@every 1h", template: {includedNamespaces: [names-a], includedResources: [configmaps]}}
`, "create", "-n", home, "-f", "-")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	t.Cleanup(func() { kubectl(t, "delete", "schedule", "nightly-names", "-n", home) })
	var first string
	eventually(t, time.Minute, "the schedule takes its first backup", func() error {
		s, err := framework.Ark.ArkV1().Schedules(home).Get(ctx(), "nightly-names", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if first = s.Status.LastBackupName; first == "" {
			return errNotYet
		}
		return nil
	})
	t.Cleanup(func() { framework.RemoveBackupFiles(home, first) })
	if !contains(taken, first) {
		t.Fatalf("the schedule's backup %s is not among the names mallory took (%v): the test proves nothing", first, taken)
	}
	b := framework.WaitBackup(t, home, first)
	if b.Status.Phase != arkv1.BackupPhaseCompleted || b.Labels[arkv1.LabelScheduleName] != "nightly-names" || b.Spec.Requester == nil || b.Spec.Requester.Username != "kubernetes-admin" {
		t.Errorf("the schedule's backup %s: %+v requested by %+v", first, b.Status, b.Spec.Requester)
	}
	theirs := framework.WaitBackup(t, "names-a", first)
	if theirs.Spec.Requester == nil || theirs.Spec.Requester.Username != "mallory" || theirs.Labels[arkv1.LabelScheduleName] != "" {
		t.Errorf("mallory's backup %s changed: %+v", first, theirs)
	}
	if a, b := theirs.UID, b.UID; a == b {
		t.Error("one object in two namespaces")
	}
	// Mallory cannot reach the home namespace's backup, and her own folder
	// holds only hers.
	if out, err := kubectl(t, "get", "backup", first, "-n", home, "--as=mallory"); err == nil || !strings.Contains(out, "Forbidden") {
		t.Errorf("mallory reading the administrator's backup: %v\n%s", err, out)
	}
	layout := backupstore.Layout{HomeNamespace: home}
	for _, ref := range []backupstore.Backup{layout.Backup(home, first), layout.Backup("names-a", first)} {
		if _, err := os.Stat(filepath.Join(framework.Cluster.BucketDir, ref.TarballKey())); err != nil {
			t.Errorf("%s/%s: %v", ref.Namespace, ref.Name, err)
		}
	}
	// Deleting her own backup of that name leaves the administrator's alone.
	mustKubectl(t, "delete", "backup", first, "-n", "names-a", "--as=mallory")
	eventually(t, time.Minute, "mallory's backup is collected", func() error {
		_, err := framework.Ark.ArkV1().Backups("names-a").Get(ctx(), first, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		return errNotYet
	})
	if got, err := framework.Ark.ArkV1().Backups(home).Get(ctx(), first, metav1.GetOptions{}); err != nil || got.Status.Phase != arkv1.BackupPhaseCompleted {
		t.Errorf("the administrator's backup after mallory deleted hers: %v %+v", err, got)
	}
}

// Case 6: restore files are per namespace. An administrator's restore and a
// tenant's restore of the same name each keep their own results and log;
// the tenant reads only theirs, and collecting the tenant's backup removes
// only theirs.
func TestRestoreFilesArePerNamespace(t *testing.T) {
	tenant(t, "files-a", map[string]string{"mallory": "admin"})
	mustKubectl(t, "create", "namespace", "files-secret")
	t.Cleanup(func() { kubectl(t, "delete", "namespace", "files-secret", "--wait=false") })
	mustKubectl(t, "create", "secret", "generic", "db-password", "-n", "files-secret", "--from-literal=p=hunter2")
	mustKubectl(t, "create", "configmap", "c", "-n", "files-a", "--from-literal=k=v")

	backup(t, home, "files-admin", "", func(s *arkv1.BackupSpec) { s.IncludedNamespaces = []string{"files-secret"} })
	restore(t, home, "same-name", "", arkv1.RestoreSpec{BackupName: "files-admin", NamespaceMapping: map[string]string{"files-secret": "files-secret-copy"}})
	t.Cleanup(func() { kubectl(t, "delete", "namespace", "files-secret-copy", "--wait=false") })
	backup(t, "files-a", "files-mine", "mallory", nil)
	mustKubectl(t, "delete", "configmap", "c", "-n", "files-a")
	restore(t, "files-a", "same-name", "mallory", arkv1.RestoreSpec{BackupName: "files-mine"})

	adminResults := results(t, home, "same-name")
	if _, ok := adminResults["secrets files-secret-copy/db-password"]; !ok {
		t.Fatalf("the administrator's results lack the secret: %v", adminResults)
	}
	raw, err := kubectl(t, "get", "--raw", "/apis/ark.heptio.com/v1/namespaces/files-a/restores/same-name/results", "--as=mallory")
	if err != nil {
		t.Fatalf("mallory reading her results: %v\n%s", err, raw)
	}
	if strings.Contains(raw, "db-password") || strings.Contains(raw, "files-secret") {
		t.Errorf("mallory's results show the administrator's restore:\n%s", raw)
	}
	if !strings.Contains(raw, `"files-a"`) {
		t.Errorf("mallory's results are not hers:\n%s", raw)
	}
	logs, err := kubectl(t, "get", "--raw", "/apis/ark.heptio.com/v1/namespaces/files-a/restores/same-name/logs", "--as=mallory")
	if err != nil || strings.Contains(logs, "files-secret") {
		t.Errorf("mallory's restore log: %v\n%s", err, logs)
	}
	// Collecting mallory's backup deletes her restore and its files only.
	mustKubectl(t, "delete", "backup", "files-mine", "-n", "files-a", "--as=mallory")
	eventually(t, time.Minute, "mallory's backup is collected", func() error {
		if _, err := framework.Ark.ArkV1().Backups("files-a").Get(ctx(), "files-mine", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			return errNotYet
		}
		return nil
	})
	layout := backupstore.Layout{HomeNamespace: home}
	if _, err := os.Stat(filepath.Join(framework.Cluster.BucketDir, layout.Restore(home, "same-name").ResultsKey())); err != nil {
		t.Errorf("the administrator's restore results were deleted with mallory's backup: %v", err)
	}
	if _, err := os.Stat(filepath.Join(framework.Cluster.BucketDir, layout.Restore("files-a", "same-name").ResultsKey())); !os.IsNotExist(err) {
		t.Errorf("mallory's restore results outlived her backup: %v", err)
	}
	if again := results(t, home, "same-name"); len(again) != len(adminResults) {
		t.Errorf("the administrator's results changed: %d items, were %d", len(again), len(adminResults))
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
