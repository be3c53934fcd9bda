package faults

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
	"github.com/arkproject/ark/test/e2e/framework"
)

// bigVolume gives namespace ns a hostPath claim whose volume holds size
// bytes that do not compress, so archiving it keeps a backup busy for
// seconds.
func bigVolume(t *testing.T, ns, pv string, size int64) {
	t.Helper()
	dir := filepath.Join(framework.Cluster.VolumesDir(), pv)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(filepath.Join(dir, "blob"))
	if err != nil {
		t.Fatal(err)
	}
	rnd := rand.NewChaCha8([32]byte{1})
	if _, err := io.CopyN(f, rnd, size); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	framework.HostPathClaim(t, ns, pv, dir)
	t.Cleanup(func() {
		_, _ = kubectl(t, "delete", "namespace", ns, "--wait=false")
		_, _ = kubectl(t, "delete", "pv", pv, "--wait=false")
	})
}

// uploads lists the partial uploads in the file bucket.
func uploads(t *testing.T) []string {
	t.Helper()
	matches, err := filepath.Glob(filepath.Join(framework.Cluster.BucketDir, ".ark-tmp", "upload-*"))
	if err != nil {
		t.Fatal(err)
	}
	return matches
}

func scratchDirs(t *testing.T) []string {
	t.Helper()
	matches, err := filepath.Glob(filepath.Join(framework.Cluster.TempDir(), "ark-restore-*"))
	if err != nil {
		t.Fatal(err)
	}
	return matches
}

// A kill -9 in the middle of a backup, and again in the middle of a
// restore, leaves partial uploads, a live log and a scratch directory.
// Once the server is back the backup and restore say they were
// interrupted, the backup keeps the log it had, and the litter is gone.
func TestKillMidBackupAndRestoreLeavesNoLitter(t *testing.T) {
	bigVolume(t, "crash-app", "crash-data", 400<<20)
	framework.KubectlCreate(t, &arkv1.Backup{
		TypeMeta:   metav1.TypeMeta{APIVersion: arkv1.SchemeGroupVersion.String(), Kind: "Backup"},
		ObjectMeta: metav1.ObjectMeta{Name: "crash-1", Namespace: home},
		Spec:       arkv1.BackupSpec{IncludedNamespaces: []string{"crash-app"}},
	}, "")
	t.Cleanup(func() { framework.RemoveBackupFiles(home, "crash-1") })
	live := bucketFile("crash-1", "crash-1-logs.live")
	eventually(t, 2*time.Minute, "the backup is uploading its volume, with a live log", func() error {
		if len(uploads(t)) == 0 {
			return fmt.Errorf("no upload in progress")
		}
		if _, err := os.Stat(live); err != nil {
			return err
		}
		return nil
	})
	framework.Cluster.KillArk()
	litter := uploads(t)
	if len(litter) == 0 {
		t.Fatal("the kill left no partial upload to clean up: the test did not hit the upload")
	}
	if _, err := os.Stat(live); err != nil {
		t.Fatalf("the kill left no live log: %v", err)
	}
	if err := framework.Cluster.StartArk(t.Context()); err != nil {
		t.Fatal(err)
	}
	eventually(t, time.Minute, "the interrupted backup is Failed, with the reason", func() error {
		p, reason := phase(t, "crash-1")
		if p != arkv1.BackupPhaseFailed {
			return fmt.Errorf("phase %q", p)
		}
		return contains(reason, "stopped while the backup was in progress")
	})
	eventually(t, 30*time.Second, "the partial uploads are removed", func() error {
		for _, u := range litter {
			if _, err := os.Stat(u); !os.IsNotExist(err) {
				return fmt.Errorf("%s is left: %v", u, err)
			}
		}
		return nil
	})
	if _, err := os.Stat(live); !os.IsNotExist(err) {
		t.Errorf("the live log is left: %v", err)
	}
	logs, err := rawGet(t, "crash-1", "logs")
	if err != nil || contains(logs, "backup interrupted") != nil {
		t.Errorf("the interrupted backup's log: %v\n%.500s", err, logs)
	}

	// Now a restore, big enough to be caught running.
	const n = 1500
	mustKubectl(t, "create", "namespace", "crash-many")
	t.Cleanup(func() { _, _ = kubectl(t, "delete", "namespace", "crash-many", "crash-many-copy", "--wait=false") })
	createConfigMaps(t, "crash-many", n)
	backupOf(t, "crash-2", "crash-many")
	framework.KubectlCreate(t, &arkv1.Restore{
		TypeMeta:   metav1.TypeMeta{APIVersion: arkv1.SchemeGroupVersion.String(), Kind: "Restore"},
		ObjectMeta: metav1.ObjectMeta{Name: "crash-2-restore", Namespace: home},
		Spec:       arkv1.RestoreSpec{BackupName: "crash-2", NamespaceMapping: map[string]string{"crash-many": "crash-many-copy"}},
	}, "")
	eventually(t, time.Minute, "the restore is unpacked in its scratch directory", func() error {
		if len(scratchDirs(t)) == 0 {
			return fmt.Errorf("no scratch directory")
		}
		return nil
	})
	framework.Cluster.KillArk()
	scratch := scratchDirs(t)
	if len(scratch) == 0 {
		t.Fatal("the kill left no scratch directory: the restore had finished")
	}
	if err := framework.Cluster.StartArk(t.Context()); err != nil {
		t.Fatal(err)
	}
	r := framework.WaitRestore(t, home, "crash-2-restore")
	if r.Status.Phase != arkv1.RestorePhaseFailed || !strings.Contains(r.Status.FailureReason, "stopped") {
		t.Errorf("interrupted restore: %s %q", r.Status.Phase, r.Status.FailureReason)
	}
	eventually(t, 30*time.Second, "the scratch directory is removed", func() error {
		if left := scratchDirs(t); len(left) != 0 {
			return fmt.Errorf("left: %v", left)
		}
		return nil
	})
}

// createConfigMaps makes n small config maps in ns, a few at a time.
func createConfigMaps(t *testing.T, ns string, n int) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	sem := make(chan struct{}, 16)
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			_, err := framework.Cluster.Kube.CoreV1().ConfigMaps(ns).Create(context.Background(), &corev1.ConfigMap{
				ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("cm-%05d", i)},
				Data:       map[string]string{"k": strings.Repeat("v", 512)},
			}, metav1.CreateOptions{})
			if err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}
