package faults

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
	"github.com/arkproject/ark/test/e2e/framework"
)

// The bucket turns read-only under a running backup, so its last uploads
// and its final status write fail. When the bucket comes back the backup is
// finished, with the reason, rather than left InProgress for ever.
//
// The backup's own folder is made read-only with a read-only bind mount
// (the whole bucket cannot be remounted while an upload holds a file open
// for writing), which needs root with CAP_SYS_ADMIN; elsewhere the test
// says so and skips.
func TestReadOnlyBucketAtTheFinalWrite(t *testing.T) {
	bigVolume(t, "ro-app", "ro-data", 200<<20)
	framework.KubectlCreate(t, &arkv1.Backup{
		TypeMeta:   metav1.TypeMeta{APIVersion: arkv1.SchemeGroupVersion.String(), Kind: "Backup"},
		ObjectMeta: metav1.ObjectMeta{Name: "ro-1", Namespace: home},
		Spec:       arkv1.BackupSpec{IncludedNamespaces: []string{"ro-app"}},
	}, "")
	t.Cleanup(func() { framework.RemoveBackupFiles(home, "ro-1") })
	eventually(t, 2*time.Minute, "the backup is uploading its volume", func() error {
		if len(uploads(t)) == 0 {
			return fmt.Errorf("no upload in progress")
		}
		return nil
	})
	folder := framework.BucketBackupDir(home, "ro-1")
	if out, err := exec.Command("mount", "--bind", folder, folder).CombinedOutput(); err != nil {
		t.Skipf("cannot bind-mount here (needs root with CAP_SYS_ADMIN): %v %s", err, out)
	}
	mounted := true
	unmount := func() {
		if mounted {
			if out, err := exec.Command("umount", folder).CombinedOutput(); err != nil {
				t.Errorf("umount: %v %s", err, out)
			}
			mounted = false
		}
	}
	t.Cleanup(unmount)
	if out, err := exec.Command("mount", "-o", "remount,ro,bind", folder).CombinedOutput(); err != nil {
		t.Fatalf("remount read-only: %v %s", err, out)
	}
	// Hold it read-only until the volume's upload has ended (its commit
	// into the folder fails) and the backup's last writes have failed too.
	eventually(t, 2*time.Minute, "the volume's upload has ended", func() error {
		if u := uploads(t); len(u) != 0 {
			return fmt.Errorf("still uploading %v", u)
		}
		return nil
	})
	time.Sleep(8 * time.Second)
	if p, _ := phase(t, "ro-1"); p != arkv1.BackupPhaseInProgress {
		t.Fatalf("phase %q while the folder is read-only: the fault missed the final write", p)
	}
	unmount()
	got := framework.WaitBackup(t, home, "ro-1")
	if got.Status.Phase != arkv1.BackupPhaseFailed && got.Status.Phase != arkv1.BackupPhasePartiallyFailed {
		t.Errorf("after the bucket came back: %s %q", got.Status.Phase, got.Status.FailureReason)
	}
	if got.Status.CompletionTimestamp == nil {
		t.Error("no completion time")
	}
	reasons := got.Status.FailureReason
	if out, err := rawGet(t, "ro-1", "logs"); err == nil {
		reasons += out
	}
	if !strings.Contains(reasons, "read-only file system") && !strings.Contains(reasons, "cross-device") {
		t.Errorf("neither the status nor the log says the folder could not be written: %q", reasons)
	}
	// The final status write itself failed while the folder was read-only,
	// and was retried until it landed.
	data, err := os.ReadFile(filepath.Join(framework.Cluster.LogDir(), "ark-apiserver.log"))
	if err != nil {
		t.Fatal(err)
	}
	retried := false
	for _, line := range strings.Split(string(data), "\n") {
		if strings.Contains(line, "Writing the backup's final status failed; retrying") && strings.Contains(line, `backup="heptio-ark/ro-1"`) {
			retried = true
		}
	}
	if !retried {
		t.Error("the server's log shows no failed final status write of ro-1: the fault did not hit it")
	}
	t.Logf("finished as %s: %s", got.Status.Phase, got.Status.FailureReason)
}
