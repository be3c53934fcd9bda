package e2e

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
	backupcontroller "github.com/arkproject/ark/pkg/controllers/backup"
)

// A crash mid-backup (SIGKILL, no shutdown code) leaves no Completed ghost:
// the bucket keeps the backup InProgress, the restarted server marks it
// Failed with the reason, every other backup is intact, and the next backup
// of the same namespace completes. A pre hook that sleeps holds the backup
// InProgress while the server is killed.
func TestCrashMidBackup(t *testing.T) {
	sleeperPod(t, "crash", 20)
	if out, err := kubectlIn(t, `apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: crash}
data: {a: b}
`, "apply", "-f", "-"); err != nil {
		t.Fatalf("fixture: %v\n%s", err, out)
	}
	// A finished backup (of the config map only: no pod, so no hook) that
	// the crash must leave as it is.
	if b := runBackup(t, home, &arkv1.Backup{ObjectMeta: metav1.ObjectMeta{Name: "crash-0"}, Spec: arkv1.BackupSpec{IncludedNamespaces: []string{"crash"}, IncludedResources: []string{"configmaps"}}}, ""); b.Status.Phase != arkv1.BackupPhaseCompleted {
		t.Fatalf("crash-0: %+v", b.Status)
	}
	before := bucketBackups(t)

	ctx := context.Background()
	if _, err := ark.ArkV1().Backups(home).Create(ctx, &arkv1.Backup{ObjectMeta: metav1.ObjectMeta{Name: "crash-1"}, Spec: arkv1.BackupSpec{IncludedNamespaces: []string{"crash"}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(filepath.Join(cluster.BucketDir, "backups", "crash-1")) })
	eventually(t, time.Minute, "the backup runs its pre hook", func() error {
		b, err := ark.ArkV1().Backups(home).Get(ctx, "crash-1", metav1.GetOptions{})
		if err != nil || b.Status.Phase != arkv1.BackupPhaseInProgress {
			return fmt.Errorf("%v %q", err, b.Status.Phase)
		}
		return nil
	})

	cluster.KillArk()
	restarted := false
	t.Cleanup(func() {
		if !restarted {
			if err := cluster.StartArk(context.Background()); err != nil {
				t.Errorf("restarting ark-apiserver: %v", err)
			}
		}
	})
	// The bucket is the truth while no server runs: no ghost Completed.
	var onDisk arkv1.Backup
	data, err := os.ReadFile(filepath.Join(cluster.BucketDir, "backups", "crash-1", "ark-backup.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &onDisk); err != nil {
		t.Fatal(err)
	}
	if onDisk.Status.Phase != arkv1.BackupPhaseInProgress {
		t.Errorf("after the crash the bucket says %q, want InProgress", onDisk.Status.Phase)
	}

	startCtx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	if err := cluster.StartArk(startCtx); err != nil {
		t.Fatalf("restarting ark-apiserver: %v", err)
	}
	restarted = true
	// The new server takes the Lease once the dead one's expires.
	eventually(t, 90*time.Second, "the interrupted backup is marked Failed", func() error {
		b, err := ark.ArkV1().Backups(home).Get(ctx, "crash-1", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if b.Status.Phase != arkv1.BackupPhaseFailed || b.Status.FailureReason != backupcontroller.InterruptedReason {
			return fmt.Errorf("phase %q reason %q", b.Status.Phase, b.Status.FailureReason)
		}
		return nil
	})
	after := bucketBackups(t)
	for name, phase := range before {
		if after[name] != phase {
			t.Errorf("backup %s was %q before the crash, %q after", name, phase, after[name])
		}
	}

	mustKubectl(t, "annotate", "pod", "sleeper", "-n", "crash", "pre.hook.backup.ark.heptio.com/command-")
	b := runBackup(t, home, &arkv1.Backup{ObjectMeta: metav1.ObjectMeta{Name: "crash-2"}, Spec: arkv1.BackupSpec{IncludedNamespaces: []string{"crash"}}}, "")
	if b.Status.Phase != arkv1.BackupPhaseCompleted {
		t.Errorf("the backup after the crash: %+v", b.Status)
	}
	if names := strings.Join(names(download(t, home, "crash-2")), "\n"); !strings.Contains(names, "resources/configmaps/namespaces/crash/settings.json") {
		t.Errorf("the backup after the crash lacks the config map:\n%s", names)
	}
}

// bucketBackups reads every backup's phase straight from the bucket.
func bucketBackups(t *testing.T) map[string]arkv1.BackupPhase {
	t.Helper()
	out := map[string]arkv1.BackupPhase{}
	dirs, err := os.ReadDir(filepath.Join(cluster.BucketDir, "backups"))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	for _, d := range dirs {
		data, err := os.ReadFile(filepath.Join(cluster.BucketDir, "backups", d.Name(), "ark-backup.json"))
		if err != nil {
			continue // being written or deleted by another test
		}
		var b arkv1.Backup
		if err := json.Unmarshal(data, &b); err != nil {
			t.Fatalf("%s: %v", d.Name(), err)
		}
		out[d.Name()] = b.Status.Phase
	}
	return out
}
