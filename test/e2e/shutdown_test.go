package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
	backupcontroller "github.com/arkproject/ark/pkg/controllers/backup"
)

// ark-apiserver told to stop (SIGTERM, as the kubelet sends) while a
// backup runs and a client watches backups through kube-apiserver: it ends
// the watch and exits within seconds, well inside a pod's 30 s grace
// period, and the backup it left ends in a clear phase once a server runs
// again. An open watch of backups used to hold every stop for 60 s.
func TestStopWithAWatchAndABackupInProgress(t *testing.T) {
	sleeperPod(t, "stopping", 30)
	t.Cleanup(func() { kubectl(t, "delete", "namespace", "stopping", "--wait=false") })
	ctx := context.Background()
	if _, err := ark.ArkV1().Backups(home).Create(ctx, &arkv1.Backup{ObjectMeta: metav1.ObjectMeta{Name: "stopping"}, Spec: arkv1.BackupSpec{IncludedNamespaces: []string{"stopping"}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(filepath.Join(cluster.BucketDir, "backups", "stopping")) })
	eventually(t, time.Minute, "the backup runs its pre hook", func() error {
		b, err := ark.ArkV1().Backups(home).Get(ctx, "stopping", metav1.GetOptions{})
		if err != nil || b.Status.Phase != arkv1.BackupPhaseInProgress {
			return fmt.Errorf("%v %q", err, b.Status.Phase)
		}
		return nil
	})
	w, err := ark.ArkV1().Backups(home).Watch(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	watchEnded := make(chan time.Time, 1)
	go func() {
		for range w.ResultChan() {
		}
		watchEnded <- time.Now()
	}()

	restarted := false
	t.Cleanup(func() {
		if !restarted {
			if err := cluster.StartArk(context.Background()); err != nil {
				t.Errorf("restarting ark-apiserver: %v", err)
			}
		}
	})
	stopped := time.Now()
	took, killed := cluster.StopArkWithin(30 * time.Second)
	t.Logf("ark-apiserver exited %s after SIGTERM, with a backup running and a watch open", took.Round(10*time.Millisecond))
	if killed || took > 10*time.Second {
		t.Errorf("stopping took %s (killed after the grace period: %v), want a few seconds", took, killed)
	}
	select {
	case at := <-watchEnded:
		if at.Before(stopped) {
			t.Fatalf("the watch ended %s before the server was told to stop: the test proves nothing", stopped.Sub(at))
		}
		t.Logf("the watch through kube-apiserver ended %s after SIGTERM", at.Sub(stopped).Round(time.Millisecond))
	case <-time.After(10 * time.Second):
		t.Error("the watch through kube-apiserver is still open after the server stopped")
	}

	if err := cluster.StartArk(ctx); err != nil {
		t.Fatalf("restarting ark-apiserver: %v", err)
	}
	restarted = true
	// The stopped server released its Lease: the new one takes the
	// controllers at once and finds the backup it left.
	eventually(t, 90*time.Second, "the backup left running ends in a clear phase", func() error {
		b, err := ark.ArkV1().Backups(home).Get(ctx, "stopping", metav1.GetOptions{})
		if err != nil {
			return err
		}
		switch {
		case b.Status.Phase == arkv1.BackupPhaseFailed && b.Status.FailureReason == backupcontroller.InterruptedReason,
			b.Status.Phase == arkv1.BackupPhaseCompleted:
			t.Logf("after the restart the backup is %s %s", b.Status.Phase, b.Status.FailureReason)
			return nil
		}
		return fmt.Errorf("phase %q reason %q", b.Status.Phase, b.Status.FailureReason)
	})
}
