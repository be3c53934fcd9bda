package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
)

// A finished backup's retention is changed the way users try it, with
// ark backup set-ttl or by editing spec.ttl; its expiration follows, and the
// garbage collector with it. Nothing else of its spec changes.
func TestRetentionOfAFinishedBackup(t *testing.T) {
	mustKubectl(t, "create", "namespace", "ttl-app")
	mustKubectl(t, "create", "configmap", "cm", "-n", "ttl-app", "--from-literal=k=v")
	t.Cleanup(func() { _, _ = kubectl(t, "delete", "namespace", "ttl-app", "--wait=false") })
	b := runBackup(t, home, &arkv1.Backup{ObjectMeta: metav1.ObjectMeta{Name: "keep-me"}, Spec: arkv1.BackupSpec{IncludedNamespaces: []string{"ttl-app"}}}, "")
	if b.Status.Phase != arkv1.BackupPhaseCompleted || b.Status.StartTimestamp == nil {
		t.Fatalf("backup: %+v", b.Status)
	}

	out, code := arkCmd(t, t.TempDir(), "backup", "set-ttl", "keep-me", "48h", "-n", home)
	want := b.Status.StartTimestamp.Add(48 * time.Hour).UTC().Format(time.RFC3339)
	if code != 0 || !strings.Contains(out, "expires at "+want) {
		t.Fatalf("ark backup set-ttl: exit %d\n%s(want it to expire at %s)", code, out, want)
	}
	got, err := ark.ArkV1().Backups(home).Get(context.Background(), "keep-me", metav1.GetOptions{})
	if err != nil || got.Status.Expiration.UTC().Format(time.RFC3339) != want || got.Spec.TTL.Duration != 48*time.Hour {
		t.Fatalf("after set-ttl: %v ttl %s expiration %v", err, got.Spec.TTL.Duration, got.Status.Expiration)
	}

	out2, err := kubectl(t, "patch", "backup", "keep-me", "-n", home, "--type=merge", "-p", `{"spec":{"includedNamespaces":["kube-system"]}}`)
	if err == nil || !strings.Contains(out2, "but for spec.ttl") {
		t.Errorf("changing what a finished backup holds: %v %s", err, out2)
	}

	// Shortened to nothing, it expires and goes.
	mustKubectl(t, "patch", "backup", "keep-me", "-n", home, "--type=merge", "-p", `{"spec":{"ttl":"1s"}}`)
	eventually(t, time.Minute, "the backup expires with its new retention", func() error {
		_, err := ark.ArkV1().Backups(home).Get(context.Background(), "keep-me", metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("still there: %v", err)
	})
}
