package e2e

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
	"github.com/arkproject/ark/test/e2e/framework"
	"github.com/arkproject/ark/test/localcluster"
)

const home = localcluster.HomeNamespace

func TestDiscoveryAndKubectl(t *testing.T) {
	out := mustKubectl(t, "api-resources", "--api-group=ark.heptio.com", "--no-headers")
	for _, want := range []string{"backups", "restores", "schedules"} {
		if !strings.Contains(out, want) {
			t.Errorf("api-resources lacks %s:\n%s", want, out)
		}
	}
	out = mustKubectl(t, "get", "--raw", "/apis/ark.heptio.com/v1")
	if !strings.Contains(out, `"backups/status"`) {
		t.Errorf("discovery of ark.heptio.com/v1: %s", out)
	}

	out = mustKubectl(t, "get", "backups,restores,schedules", "-n", home)
	if !strings.Contains(out, "No resources found") {
		// Something exists: then the headers must be ours.
		t.Logf("existing objects:\n%s", out)
	}
	mustKubectl(t, "create", "-n", home, "-f", filepath.Join("..", "..", "artifacts", "examples", "backup.yaml"))
	t.Cleanup(func() { os.RemoveAll(filepath.Join(cluster.BucketDir, "backups", "default-daily")) })
	out = mustKubectl(t, "get", "backups", "-n", home)
	header := strings.Fields(lines(out)[0])
	if got := strings.Join(header, " "); got != "NAME STATUS ERRORS WARNINGS CREATED EXPIRES STORAGE LOCATION SELECTOR" {
		t.Errorf("backup table header: %q", got)
	}
	if !strings.Contains(out, "default-daily") {
		t.Errorf("backup table:\n%s", out)
	}
	// Only a finished backup can be restored.
	framework.WaitBackup(t, home, "default-daily")
	out, err := kubectlIn(t, `apiVersion: ark.heptio.com/v1
kind: Schedule
metadata: {name: six-hourly}
# Paused: a running schedule would take a whole-cluster backup at once.
spec: {schedule: "0 */6 * * *", paused: true}
---
apiVersion: ark.heptio.com/v1
kind: Restore
metadata: {name: from-daily}
spec: {backupName: default-daily}
`, "create", "-n", home, "-f", "-")
	if err != nil {
		t.Fatalf("creating a schedule and a restore: %v\n%s", err, out)
	}
	out = mustKubectl(t, "get", "schedules,restores", "-n", home)
	for _, want := range []string{"SCHEDULE", "LAST BACKUP", "PAUSED", "0 */6 * * *", "BACKUP", "default-daily"} {
		if !strings.Contains(out, want) {
			t.Errorf("schedule/restore tables lack %q:\n%s", want, out)
		}
	}
	// kube-apiserver's aggregated OpenAPI catches up with a restarted
	// ark-apiserver (as after an earlier test's restart) on its own period.
	eventually(t, 2*time.Minute, "kubectl explain backup.spec.ttl", func() error {
		out, err := kubectl(t, "explain", "backup.spec.ttl")
		if err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		if !strings.Contains(out, "TTL is how long the backup is kept") {
			return fmt.Errorf("no TTL doc:\n%s", out)
		}
		return nil
	})
	out = mustKubectl(t, "get", "bkp,rst,sch", "-n", home, "-o", "name")
	for _, want := range []string{"backup.ark.heptio.com/default-daily", "restore.ark.heptio.com/from-daily", "schedule.ark.heptio.com/six-hourly"} {
		if !strings.Contains(out, want) {
			t.Errorf("short names: %q missing in\n%s", want, out)
		}
	}
	mustKubectl(t, "delete", "-n", home, "restore/from-daily", "schedule/six-hourly")
}

// `kubectl get backups -w` sees a backup another client creates.
func TestWatchSeesOtherClients(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, cluster.KubectlPath(), "--kubeconfig="+cluster.Kubeconfig, "get", "backups", "-n", home, "-w", "--no-headers")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); cmd.Wait() }()
	seen := make(chan string, 100)
	go func() {
		s := bufio.NewScanner(stdout)
		for s.Scan() {
			seen <- s.Text()
		}
		close(seen)
	}()
	time.Sleep(2 * time.Second) // let the watch start
	if _, err := ark.ArkV1().Backups(home).Create(ctx, newBackup("watched"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(filepath.Join(cluster.BucketDir, "backups", "watched")) })
	for {
		select {
		case line, ok := <-seen:
			if !ok {
				t.Fatal("kubectl get -w ended before the backup appeared")
			}
			if strings.HasPrefix(line, "watched ") {
				return
			}
		case <-ctx.Done():
			t.Fatal("kubectl get -w did not show a backup created by another client")
		}
	}
}

func newBackup(name string) *arkv1.Backup {
	return &arkv1.Backup{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: home},
		Spec:       arkv1.BackupSpec{IncludedNamespaces: []string{"default"}},
	}
}

// Create, read, patch and delete every resource through kube-apiserver, with
// the conflicts and validation errors a user meets.
func TestCRUDThroughKubeAPIServer(t *testing.T) {
	ctx := context.Background()
	backups := ark.ArkV1().Backups(home)
	b, err := backups.Create(ctx, newBackup("crud"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(filepath.Join(cluster.BucketDir, "backups", "crud")) })
	if b.Spec.Requester == nil || b.Spec.Requester.Username != "kubernetes-admin" {
		t.Errorf("requester through the aggregator: %+v", b.Spec.Requester)
	}
	if _, err := backups.Create(ctx, newBackup("crud"), metav1.CreateOptions{}); !apierrors.IsAlreadyExists(err) {
		t.Errorf("duplicate create: %v", err)
	}
	p, err := backups.Patch(ctx, "crud", types.MergePatchType, []byte(`{"metadata":{"labels":{"team":"web"}}}`), metav1.PatchOptions{})
	if err != nil || p.Labels["team"] != "web" {
		t.Fatalf("patch: %v", err)
	}
	b.Labels = map[string]string{"stale": "yes"}
	if _, err := backups.Update(ctx, b, metav1.UpdateOptions{}); !apierrors.IsConflict(err) {
		t.Errorf("stale update: got %v, want 409", err)
	}
	bad := newBackup("bad-ttl")
	bad.Spec.TTL = metav1.Duration{Duration: -time.Hour}
	if _, err := backups.Create(ctx, bad, metav1.CreateOptions{}); !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "spec.ttl") {
		t.Errorf("negative ttl: %v", err)
	}
	if err := backups.Delete(ctx, "crud", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	// Deleting, or already gone: the collector picks a Deleting backup up at
	// once, and this one has little to delete.
	if got, err := backups.Get(ctx, "crud", metav1.GetOptions{}); err == nil && got.Status.Phase != arkv1.BackupPhaseDeleting || err != nil && !apierrors.IsNotFound(err) {
		t.Errorf("after delete: %v %+v", err, got)
	}

	// (not of "crud": the collector deleting it would delete its restores)
	restores := ark.ArkV1().Restores(home)
	r, err := restores.Create(ctx, &arkv1.Restore{ObjectMeta: metav1.ObjectMeta{Name: "r"}, Spec: arkv1.RestoreSpec{ScheduleName: "crud-never-made"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := restores.Patch(ctx, "r", types.MergePatchType, []byte(`{"spec":{"namespaceMapping":{"abc":"def"}}}`), metav1.PatchOptions{}); err != nil {
		t.Errorf("restore patch: %v", err)
	}
	r.Spec.ScheduleName = "other"
	if _, err := restores.Update(ctx, r, metav1.UpdateOptions{}); !apierrors.IsConflict(err) {
		t.Errorf("stale restore update: %v", err)
	}
	_, err = restores.Create(ctx, &arkv1.Restore{ObjectMeta: metav1.ObjectMeta{Name: "both"}, Spec: arkv1.RestoreSpec{BackupName: "a", ScheduleName: "b"}}, metav1.CreateOptions{})
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "spec.scheduleName") {
		t.Errorf("restore with both names: %v", err)
	}
	if err := restores.Delete(ctx, "r", metav1.DeleteOptions{}); err != nil {
		t.Errorf("restore delete: %v", err)
	}

	schedules := ark.ArkV1().Schedules(home)
	// A running schedule would take a whole-cluster backup at once: this one
	// starts paused, and the test unpauses nothing.
	if _, err := schedules.Create(ctx, &arkv1.Schedule{ObjectMeta: metav1.ObjectMeta{Name: "s"}, Spec: arkv1.ScheduleSpec{Schedule: "@daily", Paused: true}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if s, err := schedules.Patch(ctx, "s", types.MergePatchType, []byte(`{"spec":{"schedule":"@weekly"}}`), metav1.PatchOptions{}); err != nil || s.Spec.Schedule != "@weekly" || !s.Spec.Paused {
		t.Errorf("patch: %v", err)
	}
	_, err = schedules.Create(ctx, &arkv1.Schedule{ObjectMeta: metav1.ObjectMeta{Name: "bad"}, Spec: arkv1.ScheduleSpec{Schedule: "61 * * * *"}}, metav1.CreateOptions{})
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "spec.schedule") {
		t.Errorf("bad cron: %v", err)
	}
	if err := schedules.Delete(ctx, "s", metav1.DeleteOptions{}); err != nil {
		t.Errorf("schedule delete: %v", err)
	}
}

// RBAC through the aggregator: subresources are separate targets, and a
// namespace user is confined to their namespace.
func TestRBAC(t *testing.T) {
	mustKubectl(t, "create", "namespace", "team-a")
	t.Cleanup(func() { kubectl(t, "delete", "namespace", "team-a", "--wait=false") })
	mustKubectl(t, "create", "role", "backup-reader", "-n", home, "--verb=get,list", "--resource=backups.ark.heptio.com")
	mustKubectl(t, "create", "rolebinding", "bob-reads", "-n", home, "--role=backup-reader", "--user=bob")
	mustKubectl(t, "create", "rolebinding", "alice-ark", "-n", "team-a", "--clusterrole=ark-namespace-user", "--user=alice")
	mustKubectl(t, "create", "-n", home, "-f", filepath.Join("..", "..", "artifacts", "examples", "backup.yaml"))
	t.Cleanup(func() { os.RemoveAll(filepath.Join(cluster.BucketDir, "backups", "default-daily")) })

	eventually(t, 30*time.Second, "bob can list backups", func() error {
		_, err := kubectl(t, "--as=bob", "get", "backups", "-n", home)
		return err
	})
	out, err := kubectl(t, "--as=bob", "get", "--raw", "/apis/ark.heptio.com/v1/namespaces/"+home+"/backups/default-daily/download")
	if err == nil || !strings.Contains(out, "Forbidden") || !strings.Contains(out, "backups/download") {
		t.Errorf("bob downloading a backup: err=%v\n%s", err, out)
	}
	if out, err := kubectl(t, "--as=bob", "delete", "backup", "default-daily", "-n", home); err == nil || !strings.Contains(out, "Forbidden") {
		t.Errorf("bob deleting a backup: err=%v\n%s", err, out)
	}

	teamBackup := func(ns, includes string) (string, error) {
		return kubectlIn(t, fmt.Sprintf(`apiVersion: ark.heptio.com/v1
kind: Backup
metadata: {name: alice-%s, namespace: %s}
spec: {includedNamespaces: [%s]}
`, includes, ns, includes), "--as=alice", "create", "-f", "-")
	}
	eventually(t, 30*time.Second, "alice can create a backup in team-a", func() error {
		out, err := teamBackup("team-a", "team-a")
		if err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		return nil
	})
	t.Cleanup(func() { framework.RemoveBackupFiles("team-a", "alice-team-a") })
	if out, err := teamBackup(home, home); err == nil || !strings.Contains(out, "Forbidden") {
		t.Errorf("alice creating a backup in %s: err=%v\n%s", home, err, out)
	}
	out, err = teamBackup("team-a", "team-b")
	if err == nil || !strings.Contains(out, "is invalid") || !strings.Contains(out, "spec.includedNamespaces[0]") {
		t.Errorf("alice backing up team-b from team-a: err=%v\n%s", err, out)
	}
	got, err := ark.ArkV1().Backups("team-a").Get(context.Background(), "alice-team-a", metav1.GetOptions{})
	if err != nil || got.Spec.Requester == nil || got.Spec.Requester.Username != "alice" {
		t.Errorf("alice's backup records its requester: %v %+v", err, got)
	}
}

// The bucket is authoritative through the whole stack.
func TestBucketWritesAppear(t *testing.T) {
	dir := filepath.Join(cluster.BucketDir, "backups", "dropped-in")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	body := `{"apiVersion":"ark.heptio.com/v1","kind":"Backup","metadata":{"name":"dropped-in","namespace":"heptio-ark","creationTimestamp":"2026-01-01T00:00:00Z"},"spec":{"ttl":"720h0m0s"},"status":{"phase":"Completed"}}`
	if err := os.WriteFile(filepath.Join(dir, "ark-backup.json"), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	eventually(t, 3*pollInterval+5*time.Second, "backup written into the bucket is listed", func() error {
		out, err := kubectl(t, "get", "backups", "-n", home, "--no-headers")
		if err != nil || !strings.Contains(out, "dropped-in") || !strings.Contains(out, "Completed") {
			return fmt.Errorf("%v: %s", err, out)
		}
		return nil
	})
	t.Logf("listed %s after the file was written (poll interval %s)", time.Since(start).Round(10*time.Millisecond), pollInterval)
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	eventually(t, 3*pollInterval+5*time.Second, "backup removed from the bucket disappears", func() error {
		out, err := kubectl(t, "get", "backups", "-n", home, "--no-headers")
		if err != nil || strings.Contains(out, "dropped-in") {
			return fmt.Errorf("%v: %s", err, out)
		}
		return nil
	})
}

// The manifests for a real cluster are valid against this one.
func TestArtifactsValidate(t *testing.T) {
	dir := filepath.Join("..", "..", "artifacts")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".yaml") {
			continue
		}
		out, err := kubectl(t, "apply", "--dry-run=server", "-f", filepath.Join(dir, e.Name()))
		if err != nil {
			t.Errorf("%s does not validate: %v\n%s", e.Name(), err, out)
		}
	}
}

// With the bucket unreachable, the APIService stays Available, backups fail
// with a clear 503, and the rest of the cluster is unaffected.
func TestBucketUnreachable(t *testing.T) {
	mustKubectl(t, "create", "-n", home, "-f", filepath.Join("..", "..", "artifacts", "examples", "backup.yaml"))
	// Registered first, so it runs last: after the bucket is back, even
	// when the test fails, so later tests may create default-daily again.
	t.Cleanup(func() { os.RemoveAll(filepath.Join(cluster.BucketDir, "backups", "default-daily")) })
	away := cluster.BucketDir + ".away"
	if err := os.Rename(cluster.BucketDir, away); err != nil {
		t.Fatal(err)
	}
	restored := false
	restore := func() {
		if !restored {
			restored = true
			if err := os.Rename(away, cluster.BucketDir); err != nil {
				t.Fatal(err)
			}
		}
	}
	t.Cleanup(restore)
	eventually(t, 3*pollInterval+5*time.Second, "backups fail with 503", func() error {
		out, err := kubectl(t, "get", "backups", "-n", home)
		if err == nil {
			return errors.New("kubectl get backups succeeded: " + out)
		}
		if !strings.Contains(out, "ServiceUnavailable") && !strings.Contains(out, "unavailable") {
			return fmt.Errorf("not a 503: %s", out)
		}
		if !strings.Contains(out, cluster.BucketDir) {
			return fmt.Errorf("503 does not name the location: %s", out)
		}
		return nil
	})
	out := mustKubectl(t, "get", "apiservice", localcluster.APIService, "-o", "jsonpath={.status.conditions[?(@.type==\"Available\")].status}")
	if out != "True" {
		t.Errorf("APIService Available=%q with the bucket unreachable", out)
	}
	mustKubectl(t, "get", "namespaces")
	mustKubectl(t, "get", "restores,schedules", "-n", home)
	// The ark command line says what is wrong, and fails.
	for _, args := range [][]string{{"backup", "get"}, {"backup", "describe", "default-daily"}, {"get", "backups", "-o", "json"}} {
		out, code := arkCmd(t, t.TempDir(), args...)
		if code != 1 || !strings.Contains(out, "Error: ") || !strings.Contains(out, cluster.BucketDir) || !strings.Contains(out, "Ark cannot reach its backup storage location") {
			t.Errorf("ark %s with the bucket unreachable: exit %d\n%s", strings.Join(args, " "), code, out)
		}
	}
	restore()
	eventually(t, 3*pollInterval+5*time.Second, "backups are back with the bucket", func() error {
		out, err := kubectl(t, "get", "backups", "-n", home, "--no-headers")
		if err != nil || !strings.Contains(out, "default-daily") {
			return fmt.Errorf("%v: %s", err, out)
		}
		return nil
	})
}
