package integration

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
)

// A bucket Heptio Ark wrote lists: its record (no namespace, nulls, the
// deprecated hooks list, volumeBackups) reads as a Completed backup of the
// home namespace that no cluster here signed, with what Heptio Ark
// recorded kept: the schedule label, the snapshot locations, the disk
// snapshot, and the hooks as pre hooks.
func TestHeptioArkRecordLists(t *testing.T) {
	ts := startServer(t, serverOptions{})
	ts.waitReady(t, true)
	raw, err := os.ReadFile(filepath.Join("testdata", "records", "heptio-ark-v0.9.json"))
	if err != nil {
		t.Fatal(err)
	}
	const name = "nginx-daily-20180901030000"
	writeBehindBack(t, ts.Store, name, string(raw))
	ts.waitForPoll(t)
	assertListed(t, ts, name)
	b, err := ts.Client.ArkV1().Backups(home).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if b.Namespace != home || b.Status.Phase != arkv1.BackupPhaseCompleted || b.Status.FailureReason != "" {
		t.Fatalf("read as %s/%s %+v", b.Namespace, b.Name, b.Status)
	}
	if b.Labels[arkv1.LegacyLabelScheduleName] != "nginx-daily" {
		t.Errorf("labels %v", b.Labels)
	}
	if got := b.Spec.VolumeSnapshotLocations; len(got) != 1 || got[0] != "aws-default" {
		t.Errorf("spec.volumeSnapshotLocations %v", got)
	}
	vb := b.Status.VolumeBackups["pvc-6b9ff2d3-ad9c-11e8-9c2d-42010a800002"]
	if vb == nil || vb.SnapshotID != "snap-0a8e2f5d9c3b1e7f4" || vb.Type != "gp2" || vb.AvailabilityZone != "us-east-1c" {
		t.Errorf("status.volumeBackups %+v", b.Status.VolumeBackups)
	}
	if h := b.Spec.Hooks.Resources; len(h) != 1 || len(h[0].PreHooks) != 1 || len(h[0].Hooks) != 0 || h[0].PreHooks[0].Exec.Command[0] != "/sbin/fsfreeze" {
		t.Errorf("hooks %+v: want the deprecated list read as pre", h)
	}
	if b.Status.CompletionTimestamp == nil || b.Status.CompletionTimestamp.UTC().Format("15:04:05") != "03:00:41" {
		t.Errorf("completion %v", b.Status.CompletionTimestamp)
	}
	// Listed with selectors the old client uses.
	list, err := ts.Client.ArkV1().Backups(home).List(context.Background(), metav1.ListOptions{LabelSelector: "ark-schedule=nginx-daily"})
	if err != nil || len(list.Items) != 1 {
		t.Errorf("list -l ark-schedule=nginx-daily: %v, %v", list, err)
	}
}
