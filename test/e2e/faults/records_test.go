package faults

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
	"github.com/arkproject/ark/test/e2e/framework"
)

// Oversized, empty, null, {} and garbage records beside good ones: each is
// listed as Corrupt with its reason, list and watch and the controllers go
// on, a restore of one fails at once, and deleting one removes its folder.
// Nothing rewrites them meanwhile.
func TestBadRecordsNeverHurtTheOthers(t *testing.T) {
	namespaceWith(t, "rec-app", "cm")
	backupOf(t, "rec-good", "rec-app")
	bad := map[string][]byte{
		"rec-oversized": []byte(`{"metadata":{"name":"rec-oversized"},"pad":"` + strings.Repeat("x", 5<<20) + `"}`),
		"rec-empty":     nil,
		"rec-null":      []byte("null"),
		"rec-object":    []byte("{}"),
		"rec-garbage":   {0x1f, 0x8b, 0x08, 0x00, 0xde, 0xad, 0xbe, 0xef},
	}
	want := map[string]string{
		"rec-oversized": "larger than", "rec-empty": "it is empty", "rec-null": `names backup ""`,
		"rec-object": `names backup ""`, "rec-garbage": "corrupt",
	}
	for name, data := range bad {
		dir := framework.BucketBackupDir(home, name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		// Written whole, then renamed into place, as every object store
		// writes an object: a poll never sees half a record. (A poll
		// that did would read it again on the write's event, but under
		// load that event's poll may come a duty cycle later, 10x the
		// last poll's time, past this test's wait.)
		tmp := filepath.Join(dir, ".writing-record")
		if err := os.WriteFile(tmp, data, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(dir, "ark-backup.json")); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { framework.RemoveBackupFiles(home, name) })
	}

	eventually(t, time.Minute, "every bad record is listed as Corrupt, the good one as it is", func() error {
		list, err := framework.Ark.ArkV1().Backups(home).List(context.Background(), metav1.ListOptions{})
		if err != nil {
			return err
		}
		seen := map[string]arkv1.Backup{}
		for _, b := range list.Items {
			seen[b.Name] = b
		}
		if b := seen["rec-good"]; b.Status.Phase != arkv1.BackupPhaseCompleted {
			return fmt.Errorf("rec-good is %q", b.Status.Phase)
		}
		for name, reason := range want {
			b, ok := seen[name]
			if !ok {
				return fmt.Errorf("%s is not listed", name)
			}
			if b.Status.Phase != arkv1.BackupPhaseCorrupt || !strings.Contains(b.Status.FailureReason, reason) {
				return fmt.Errorf("%s: %s %q, want Corrupt saying %q", name, b.Status.Phase, b.Status.FailureReason, reason)
			}
		}
		return nil
	})
	table := mustKubectl(t, "get", "backups", "-n", home)
	for name := range want {
		if !strings.Contains(table, name) {
			t.Errorf("kubectl get backups does not show %s:\n%s", name, table)
		}
	}

	// The controllers go on: a new backup runs.
	backupOf(t, "rec-after", "rec-app")

	// A restore of a corrupt record is refused when it is created, with the reason.
	out, err := framework.TryKubectlCreate(t, &arkv1.Restore{
		TypeMeta:   metav1.TypeMeta{APIVersion: arkv1.SchemeGroupVersion.String(), Kind: "Restore"},
		ObjectMeta: metav1.ObjectMeta{Name: "rec-null-restore", Namespace: home},
		Spec:       arkv1.RestoreSpec{BackupName: "rec-null"},
	}, "")
	if err == nil || contains(out, "is invalid", "cannot be restored", "is corrupt") != nil {
		t.Errorf("restore of a corrupt record: %v %s", err, out)
	}

	// A corrupt record cannot be changed, only deleted; reading never rewrote it.
	if out, err := kubectl(t, "label", "backup", "rec-object", "-n", home, "x=y"); err == nil || !strings.Contains(out, "only deleted") {
		t.Errorf("labelling a corrupt record: %v %s", err, out)
	}
	if data, err := os.ReadFile(bucketFile("rec-object", "ark-backup.json")); err != nil || string(data) != "{}" {
		t.Errorf("the {} record became %q (%v)", data, err)
	}
	mustKubectl(t, "delete", "backup", "rec-garbage", "-n", home, "--wait=false")
	eventually(t, time.Minute, "the deleted corrupt record's folder is gone", func() error {
		if _, err := os.Stat(framework.BucketBackupDir(home, "rec-garbage")); !os.IsNotExist(err) {
			return fmt.Errorf("still there: %v", err)
		}
		return nil
	})
	if _, err := os.Stat(bucketFile("rec-good", "rec-good.tar.gz")); err != nil {
		t.Errorf("the good backup lost its tarball: %v", err)
	}
}

// Names whose files would not fit a backend are refused with the reason;
// the longest allowed name works end to end.
func TestNamesFitTheBucket(t *testing.T) {
	namespaceWith(t, "long-app", "cm")
	long := strings.Repeat("n", 232)
	out, err := framework.TryKubectlCreate(t, &arkv1.Backup{
		TypeMeta:   metav1.TypeMeta{APIVersion: arkv1.SchemeGroupVersion.String(), Kind: "Backup"},
		ObjectMeta: metav1.ObjectMeta{Name: long, Namespace: home},
	}, "")
	if err == nil || contains(out, "must be no more than 231 characters", "file names are limited to 255 bytes") != nil {
		t.Errorf("a 232-character name: %v %s", err, out)
	}
	longest := strings.Repeat("n", 231)
	backupOf(t, longest, "long-app")
	if _, err := os.Stat(bucketFile(longest, longest+"-volumesnapshots.json.gz")); err != nil {
		t.Errorf("the 255-byte file name of the longest backup name: %v", err)
	}
}
