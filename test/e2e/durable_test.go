package e2e

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
)

// Schedules and Restores live in the server's etcd, which runs embedded in
// its data directory unless --etcd-servers is given: the shipped
// StatefulSet keeps that directory on a PersistentVolume. A server on its
// embedded etcd, killed and started again on the same directory, serves the
// same objects (same UIDs, specs and statuses), as a pod rescheduled with
// its claim does. (The rest of the suite runs Ark on the cluster's etcd;
// this test switches to the embedded one and back.)
func TestSchedulesAndRestoresSurviveARestart(t *testing.T) {
	ctx := context.Background()
	cluster.StopArk()
	back := false
	t.Cleanup(func() {
		if back {
			return
		}
		cluster.StopArk()
		if err := cluster.StartArk(context.Background()); err != nil {
			t.Errorf("restarting ark-apiserver on the cluster's etcd: %v", err)
		}
	})
	startCtx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	if err := cluster.StartArkEmbeddedEtcd(startCtx); err != nil {
		t.Fatalf("starting ark-apiserver on its embedded etcd: %v", err)
	}
	schedules, restores := ark.ArkV1().Schedules(home), ark.ArkV1().Restores(home)
	s, err := schedules.Create(ctx, &arkv1.Schedule{
		ObjectMeta: metav1.ObjectMeta{Name: "durable"},
		Spec:       arkv1.ScheduleSpec{Schedule: "@every 1h", Paused: true, Template: arkv1.BackupSpec{IncludedNamespaces: []string{"durable"}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// A restore, with the status its controller wrote: that must come
	// back too.
	mustKubectl(t, "create", "namespace", "durable-src")
	t.Cleanup(func() { kubectl(t, "delete", "namespace", "durable-src", "durable-dst", "--wait=false") })
	if b := runBackup(t, home, &arkv1.Backup{ObjectMeta: metav1.ObjectMeta{Name: "durable"}, Spec: arkv1.BackupSpec{IncludedNamespaces: []string{"durable-src"}}}, ""); b.Status.Phase != arkv1.BackupPhaseCompleted {
		t.Fatalf("backup durable: %q %s", b.Status.Phase, b.Status.FailureReason)
	}
	r := runRestore(t, home, &arkv1.Restore{ObjectMeta: metav1.ObjectMeta{Name: "durable"}, Spec: arkv1.RestoreSpec{BackupName: "durable", NamespaceMapping: map[string]string{"durable-src": "durable-dst"}}}, "")
	if r.Status.Phase != arkv1.RestorePhaseCompleted {
		t.Fatalf("restore durable: %q %s", r.Status.Phase, r.Status.FailureReason)
	}
	if _, err := os.Stat(filepath.Join(cluster.ArkDataDir(), "etcd", "member-data")); err != nil {
		t.Fatalf("the embedded etcd has no data in the data directory: %v", err)
	}

	// As they are when the server dies.
	if s, err = schedules.Get(ctx, "durable", metav1.GetOptions{}); err != nil {
		t.Fatal(err)
	}
	if r, err = restores.Get(ctx, "durable", metav1.GetOptions{}); err != nil {
		t.Fatal(err)
	}
	cluster.KillArk()
	if err := cluster.StartArkEmbeddedEtcd(startCtx); err != nil {
		t.Fatalf("restarting ark-apiserver on its embedded etcd: %v", err)
	}

	var s2 *arkv1.Schedule
	var r2 *arkv1.Restore
	eventually(t, time.Minute, "the schedule and restore are served again", func() error {
		if s2, err = schedules.Get(ctx, "durable", metav1.GetOptions{}); err != nil {
			return err
		}
		r2, err = restores.Get(ctx, "durable", metav1.GetOptions{})
		return err
	})
	if s2.UID != s.UID || !apiequality.Semantic.DeepEqual(s2.Spec, s.Spec) || !apiequality.Semantic.DeepEqual(s2.Status, s.Status) {
		t.Errorf("after the restart the schedule is %s %+v %+v, want %s %+v %+v", s2.UID, s2.Spec, s2.Status, s.UID, s.Spec, s.Status)
	}
	if r2.UID != r.UID || !apiequality.Semantic.DeepEqual(r2.Spec, r.Spec) || !apiequality.Semantic.DeepEqual(r2.Status, r.Status) {
		t.Errorf("after the restart the restore is %s %+v %+v, want %s %+v %+v", r2.UID, r2.Spec, r2.Status, r.UID, r.Spec, r.Status)
	}
	for _, err := range []error{
		schedules.Delete(ctx, "durable", metav1.DeleteOptions{}),
		restores.Delete(ctx, "durable", metav1.DeleteOptions{}),
	} {
		if err != nil {
			t.Errorf("deleting from the embedded etcd: %v", err)
		}
	}

	// Its objects were its data directory's alone: the cluster's etcd,
	// which the rest of the suite uses, never held them.
	cluster.StopArk()
	back = true
	if err := cluster.StartArk(startCtx); err != nil {
		t.Fatalf("restarting ark-apiserver on the cluster's etcd: %v", err)
	}
	if _, err := schedules.Get(ctx, "durable", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("on the cluster's etcd, schedule durable: %v, want NotFound", err)
	}
	// The killed server held the controllers' Lease: wait until this one
	// has it and runs backups, so that the tests after this one find the
	// controllers running.
	if b := runBackup(t, home, &arkv1.Backup{ObjectMeta: metav1.ObjectMeta{Name: "durable-after"}, Spec: arkv1.BackupSpec{IncludedNamespaces: []string{"durable-src"}}}, ""); b.Status.Phase != arkv1.BackupPhaseCompleted {
		t.Errorf("a backup after switching back: %q %s", b.Status.Phase, b.Status.FailureReason)
	}
}
