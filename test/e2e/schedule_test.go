package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
)

// scheduledBackups lists the backups a schedule created, oldest first.
func scheduledBackups(t *testing.T, schedule string) []arkv1.Backup {
	t.Helper()
	list, err := ark.ArkV1().Backups(home).List(context.Background(), metav1.ListOptions{LabelSelector: arkv1.LabelScheduleName + "=" + schedule})
	if err != nil {
		t.Fatal(err)
	}
	sort.Slice(list.Items, func(i, j int) bool { return list.Items[i].Name < list.Items[j].Name })
	return list.Items
}

// A schedule takes its first backup at once and the next at the next tick,
// named <schedule>-<YYYYMMDDhhmmss> in UTC.
func TestScheduleTakesBackups(t *testing.T) {
	if out, err := kubectlIn(t, `apiVersion: v1
kind: Namespace
metadata: {name: cron-src}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: c, namespace: cron-src}
data: {k: v}
`, "apply", "-f", "-"); err != nil {
		t.Fatalf("fixture: %v\n%s", err, out)
	}
	s, err := ark.ArkV1().Schedules(home).Create(context.Background(), &arkv1.Schedule{
		ObjectMeta: metav1.ObjectMeta{Name: "every20"},
		Spec:       arkv1.ScheduleSpec{Schedule: "@every 20s", Template: arkv1.BackupSpec{IncludedNamespaces: []string{"cron-src"}, TTL: metav1.Duration{Duration: time.Hour}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ark.ArkV1().Schedules(home).Delete(context.Background(), "every20", metav1.DeleteOptions{})
		for _, b := range scheduledBackups(t, "every20") {
			os.RemoveAll(filepath.Join(cluster.BucketDir, "backups", b.Name))
		}
	})
	first := "every20-" + s.CreationTimestamp.UTC().Format("20060102150405")
	eventually(t, 15*time.Second, "the first backup at creation", func() error {
		got := scheduledBackups(t, "every20")
		if len(got) != 1 || got[0].Name != first {
			return fmt.Errorf("backups %v, want [%s]", names2(got), first)
		}
		return nil
	})
	eventually(t, 60*time.Second, "the second backup at the next tick", func() error {
		got := scheduledBackups(t, "every20")
		if len(got) < 2 {
			return fmt.Errorf("backups %v", names2(got))
		}
		want := "every20-" + s.CreationTimestamp.UTC().Truncate(time.Second).Add(20*time.Second).Format("20060102150405")
		if got[1].Name != want {
			return fmt.Errorf("second backup %s, want %s", got[1].Name, want)
		}
		return nil
	})
	got := scheduledBackups(t, "every20")
	for _, b := range got {
		if b.Spec.Requester == nil || b.Spec.Requester.Username != "kubernetes-admin" {
			t.Errorf("%s runs as %+v, want the schedule's creator", b.Name, b.Spec.Requester)
		}
		if strings.Join(b.Spec.IncludedNamespaces, ",") != "cron-src" || b.Spec.TTL.Duration != time.Hour {
			t.Errorf("%s spec %+v is not the template", b.Name, b.Spec)
		}
	}
	sched, err := ark.ArkV1().Schedules(home).Get(context.Background(), "every20", metav1.GetOptions{})
	if err != nil || sched.Status.Phase != arkv1.SchedulePhaseEnabled || sched.Status.LastBackup == nil {
		t.Errorf("schedule status: %v %+v", err, sched.Status)
	}
	// Paused: no more backups.
	mustKubectl(t, "patch", "schedule", "every20", "-n", home, "--type=merge", "-p", `{"spec":{"paused":true}}`)
	n := len(scheduledBackups(t, "every20"))
	time.Sleep(25 * time.Second)
	if after := len(scheduledBackups(t, "every20")); after != n {
		t.Errorf("a paused schedule created %d backups", after-n)
	}
}

func names2(bs []arkv1.Backup) []string {
	var out []string
	for _, b := range bs {
		out = append(out, b.Name)
	}
	return out
}

// A backup with a 15s TTL is gone within a minute, with its bucket files and
// the restore made from it.
func TestExpiredBackupIsDeletedCompletely(t *testing.T) {
	if out, err := kubectlIn(t, `apiVersion: v1
kind: Namespace
metadata: {name: shortlived}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: c, namespace: shortlived}
data: {k: v}
`, "apply", "-f", "-"); err != nil {
		t.Fatalf("fixture: %v\n%s", err, out)
	}
	b := runBackup(t, home, &arkv1.Backup{ObjectMeta: metav1.ObjectMeta{Name: "short"}, Spec: arkv1.BackupSpec{IncludedNamespaces: []string{"shortlived"}, TTL: metav1.Duration{Duration: 15 * time.Second}}}, "")
	if b.Status.Phase != arkv1.BackupPhaseCompleted {
		t.Fatalf("backup: %+v", b.Status)
	}
	r := runRestore(t, home, &arkv1.Restore{ObjectMeta: metav1.ObjectMeta{Name: "short-restore"}, Spec: arkv1.RestoreSpec{BackupName: "short", NamespaceMapping: map[string]string{"shortlived": "shortlived-copy"}}}, "")
	if r.Status.Phase != arkv1.RestorePhaseCompleted {
		t.Fatalf("restore: %+v", r.Status)
	}
	dir := filepath.Join(cluster.BucketDir, "backups", "short")
	if _, err := os.Stat(dir); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	eventually(t, 60*time.Second, "the expired backup is gone", func() error {
		if out, err := kubectl(t, "get", "backup", "short", "-n", home); err == nil {
			return fmt.Errorf("still listed: %s", out)
		}
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			return fmt.Errorf("bucket files remain: %v", err)
		}
		if _, err := os.Stat(filepath.Join(cluster.BucketDir, "restores", "short-restore")); !os.IsNotExist(err) {
			return fmt.Errorf("restore files remain: %v", err)
		}
		if out, err := kubectl(t, "get", "restore", "short-restore", "-n", home); err == nil {
			return fmt.Errorf("the restore remains: %s", out)
		}
		return nil
	})
	t.Logf("gone %s after the backup completed (ttl 15s, gc interval %s)", time.Since(start).Round(time.Second), gcInterval)
	// The restored objects themselves are the user's: they stay.
	mustKubectl(t, "get", "configmap", "c", "-n", "shortlived-copy")
}

// A user's delete goes through the same path: Deleting, then gone.
func TestDeletedBackupIsRemoved(t *testing.T) {
	mustKubectl(t, "create", "namespace", "deleteme")
	runBackup(t, home, &arkv1.Backup{ObjectMeta: metav1.ObjectMeta{Name: "deleteme"}, Spec: arkv1.BackupSpec{IncludedNamespaces: []string{"deleteme"}}}, "")
	mustKubectl(t, "delete", "backup", "deleteme", "-n", home, "--timeout=60s")
	if _, err := os.Stat(filepath.Join(cluster.BucketDir, "backups", "deleteme")); !os.IsNotExist(err) {
		t.Errorf("bucket files remain after kubectl delete returned: %v", err)
	}
}

// With the bucket unreachable the collector deletes nothing and says why.
func TestGCWithUnreachableBucketDeletesNothing(t *testing.T) {
	mustKubectl(t, "create", "namespace", "gc-outage")
	runBackup(t, home, &arkv1.Backup{ObjectMeta: metav1.ObjectMeta{Name: "outage"}, Spec: arkv1.BackupSpec{IncludedNamespaces: []string{"gc-outage"}, TTL: metav1.Duration{Duration: 10 * time.Second}}}, "")
	dir := filepath.Join(cluster.BucketDir, "backups", "outage")
	before, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	away := cluster.BucketDir + ".gc-away"
	if err := os.Rename(cluster.BucketDir, away); err != nil {
		t.Fatal(err)
	}
	restored := false
	t.Cleanup(func() {
		if !restored {
			os.Rename(away, cluster.BucketDir)
		}
	})
	time.Sleep(10*time.Second + 2*gcInterval)
	eventually(t, 30*time.Second, "a DeletionBlocked event", func() error {
		out, _ := kubectl(t, "get", "events", "-n", home, "--field-selector", "involvedObject.name=outage", "-o", "jsonpath={.items[*].reason}")
		if !strings.Contains(out, "DeletionBlocked") {
			return fmt.Errorf("events: %q", out)
		}
		return nil
	})
	after, err := os.ReadDir(filepath.Join(away, "backups", "outage"))
	if err != nil || len(after) != len(before) {
		t.Fatalf("files changed during the outage: %d before, %d after (%v)", len(before), len(after), err)
	}
	if err := os.Rename(away, cluster.BucketDir); err != nil {
		t.Fatal(err)
	}
	restored = true
	eventually(t, 60*time.Second, "deleted once the bucket is back", func() error {
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			return fmt.Errorf("still there")
		}
		return nil
	})
}

// Two ark-apiserver replicas sharing etcd and the bucket, both running the
// schedule controller (no leader election): each tick still yields exactly
// one backup, because its name is a function of the tick and creation in
// the bucket is conditional.
func TestTwoReplicasBackUpOncePerTick(t *testing.T) {
	ctx := context.Background()
	cluster.StopArk()
	if err := cluster.StartArk(ctx, "--leader-elect=false"); err != nil {
		t.Fatal(err)
	}
	if err := cluster.StartReplica(ctx, "ark-replica", "--leader-elect=false"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cluster.StopReplica("ark-replica")
		cluster.StopArk()
		if err := cluster.StartArk(context.Background()); err != nil {
			t.Errorf("restarting ark-apiserver: %v", err)
		}
	})
	mustKubectl(t, "create", "namespace", "twice-src")
	s, err := ark.ArkV1().Schedules(home).Create(ctx, &arkv1.Schedule{
		ObjectMeta: metav1.ObjectMeta{Name: "twice"},
		Spec:       arkv1.ScheduleSpec{Schedule: "@every 10s", Template: arkv1.BackupSpec{IncludedNamespaces: []string{"twice-src"}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ark.ArkV1().Schedules(home).Delete(context.Background(), "twice", metav1.DeleteOptions{})
		for _, b := range scheduledBackups(t, "twice") {
			os.RemoveAll(filepath.Join(cluster.BucketDir, "backups", b.Name))
		}
	})
	time.Sleep(35 * time.Second)
	mustKubectl(t, "patch", "schedule", "twice", "-n", home, "--type=merge", "-p", `{"spec":{"paused":true}}`)
	elapsed := time.Since(s.CreationTimestamp.Time)
	got := scheduledBackups(t, "twice")
	created := s.CreationTimestamp.UTC().Truncate(time.Second)
	valid := map[string]bool{}
	for k := 0; k <= int(elapsed/(10*time.Second))+1; k++ {
		valid["twice-"+created.Add(time.Duration(k)*10*time.Second).Format("20060102150405")] = true
	}
	for _, b := range got {
		if !valid[b.Name] {
			t.Errorf("backup %s is not named for a tick of the schedule", b.Name)
		}
	}
	if len(got) < 3 || len(got) > int(elapsed/(10*time.Second))+1 {
		t.Errorf("%d backups in %s of a 10s schedule on two replicas: %v", len(got), elapsed.Round(time.Second), names2(got))
	}
	t.Logf("%d backups in %s: %v", len(got), elapsed.Round(time.Second), names2(got))
}
