package backup

import (
	"context"
	"errors"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
	"github.com/arkproject/ark/pkg/backupstore"
	"github.com/arkproject/ark/pkg/snapshot"
)

// orderedSnapshotter records snapshots in a shared event list, so tests can
// see them between a pod's hooks.
type orderedSnapshotter struct {
	events *[]string
	fail   bool
}

func (s *orderedSnapshotter) Name() string { return "fake" }
func (s *orderedSnapshotter) Handles(pv *corev1.PersistentVolume) bool {
	return pv.Spec.HostPath != nil
}
func (s *orderedSnapshotter) Snapshot(_ context.Context, ref backupstore.Backup, pv *corev1.PersistentVolume) (snapshot.Record, error) {
	backup := ref.Name
	*s.events = append(*s.events, "snapshot "+pv.Name)
	if s.fail {
		return snapshot.Record{VolumeID: pv.Spec.HostPath.Path}, errors.New("disk on fire")
	}
	return snapshot.Record{VolumeID: pv.Spec.HostPath.Path, SnapshotID: "snap-" + backup + "-" + pv.Name, Size: 7}, nil
}

// orderedExec records hooks in the same event list.
type orderedExec struct{ events *[]string }

func (o orderedExec) Exec(_ context.Context, ns, pod, _ string, command []string) (string, string, error) {
	*o.events = append(*o.events, "hook "+command[0])
	return "", "", nil
}

func volumeEnv(t *testing.T, fail bool) (*env, *[]string) {
	t.Helper()
	e := newEnv(t)
	events := &[]string{}
	e.b.Hooks = orderedExec{events}
	e.b.Snapshotters = []snapshot.VolumeSnapshotter{&orderedSnapshotter{events: events, fail: fail}}
	ctx := context.Background()
	pv, err := e.dyn.Resource(pvGVR).Get(ctx, "pv-1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_ = unstructured.SetNestedField(pv.Object, "/data/pv-1", "spec", "hostPath", "path")
	if _, err := e.dyn.Resource(pvGVR).Update(ctx, pv, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	addPod(t, e, "db-0", "Running", map[string]any{
		"pre.hook.backup.ark.heptio.com/command":  "freeze",
		"post.hook.backup.ark.heptio.com/command": "thaw",
	})
	pod, _ := e.dyn.Resource(podsGVR).Namespace("app").Get(ctx, "db-0", metav1.GetOptions{})
	_ = unstructured.SetNestedSlice(pod.Object, []any{map[string]any{"name": "data", "persistentVolumeClaim": map[string]any{"claimName": "data"}}}, "spec", "volumes")
	if _, err := e.dyn.Resource(podsGVR).Namespace("app").Update(ctx, pod, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	return e, events
}

// A pod's volumes are snapshotted after its pre hooks and before its post
// hooks, once per volume, and recorded in the volume-snapshots file.
func TestVolumesSnapshottedBetweenHooks(t *testing.T) {
	e, events := volumeEnv(t, false)
	s := e.run(t, newBackup("b1", func(s *arkv1.BackupSpec) { s.IncludedNamespaces = []string{"app"} }))
	if s.err != nil {
		t.Fatal(s.err)
	}
	if got := strings.Join(*events, ", "); got != "hook freeze, snapshot pv-1, hook thaw" {
		t.Errorf("order: %s", got)
	}
	if s.out.VolumeSnapshotsAttempted != 1 || s.out.VolumeSnapshotsCompleted != 1 {
		t.Errorf("outcome %+v", s.out)
	}
	if len(s.snapshots) != 1 {
		t.Fatalf("volume snapshots file: %+v", s.snapshots)
	}
	rec := s.snapshots[0].(map[string]any)
	if rec["persistentVolumeName"] != "pv-1" || rec["snapshotter"] != "fake" || rec["phase"] != "Completed" || rec["snapshotID"] != "snap-b1-pv-1" || rec["volumeID"] != "/data/pv-1" {
		t.Errorf("record %+v", rec)
	}
}

func TestSnapshotVolumesFalse(t *testing.T) {
	e, events := volumeEnv(t, false)
	s := e.run(t, newBackup("b1", func(s *arkv1.BackupSpec) {
		s.IncludedNamespaces = []string{"app"}
		s.SnapshotVolumes = ptrBool(false)
	}))
	if s.err != nil {
		t.Fatal(s.err)
	}
	if got := strings.Join(*events, ", "); got != "hook freeze, hook thaw" {
		t.Errorf("events with snapshotVolumes=false: %s", got)
	}
	if len(s.snapshots) != 0 || s.out.VolumeSnapshotsAttempted != 0 {
		t.Errorf("snapshots taken: %+v %+v", s.snapshots, s.out)
	}
	if _, ok := s.contents["resources/persistentvolumes/cluster/pv-1.json"]; !ok {
		t.Errorf("the PV object itself must still be backed up")
	}
}

func TestFailedSnapshotIsRecorded(t *testing.T) {
	e, _ := volumeEnv(t, true)
	s := e.run(t, newBackup("b1", func(s *arkv1.BackupSpec) { s.IncludedNamespaces = []string{"app"} }))
	if s.err != nil {
		t.Fatal(s.err)
	}
	if s.out.VolumeSnapshotsAttempted != 1 || s.out.VolumeSnapshotsCompleted != 0 || s.out.Errors != 1 {
		t.Errorf("outcome %+v", s.out)
	}
	rec := s.snapshots[0].(map[string]any)
	if rec["phase"] != "Failed" || rec["error"] != "disk on fire" {
		t.Errorf("record %+v", rec)
	}
	if !strings.Contains(strings.Join(s.results.Errors.Cluster, "\n"), "snapshot of persistent volume pv-1 failed: disk on fire") {
		t.Errorf("results %+v", s.results.Errors)
	}
}

func ptrBool(b bool) *bool { return &b }

// A claim that names another namespace's volume gets nothing: the volume's
// claimRef points elsewhere, so it is neither snapshotted through the pod
// that mounts the claim nor through the claim itself.
func TestClaimNamingAnotherNamespacesVolumeIsNotSnapshotted(t *testing.T) {
	e, events := volumeEnv(t, false)
	ctx := context.Background()
	// The volume belongs to a claim of namespace "other".
	pv, _ := e.dyn.Resource(pvGVR).Get(ctx, "pv-1", metav1.GetOptions{})
	_ = unstructured.SetNestedMap(pv.Object, map[string]any{"namespace": "other", "name": "vault", "uid": "uid-vault"}, "spec", "claimRef")
	if _, err := e.dyn.Resource(pvGVR).Update(ctx, pv, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	s := e.run(t, newBackup("b1", func(s *arkv1.BackupSpec) { s.IncludedNamespaces = []string{"app"} }))
	if s.err != nil {
		t.Fatal(s.err)
	}
	if got := strings.Join(*events, ", "); got != "hook freeze, hook thaw" {
		t.Errorf("events: %s (the volume of another namespace's claim was snapshotted)", got)
	}
	if len(s.snapshots) != 0 || s.out.VolumeSnapshotsAttempted != 0 {
		t.Errorf("snapshots taken: %+v %+v", s.snapshots, s.out)
	}
	if !strings.Contains(s.log, "persistent volume pv-1 is not snapshotted: its claim other/vault is not in the backup") {
		t.Errorf("log does not say why:\n%s", s.log)
	}
}

// A volume whose claimRef names a claim of the backup, while that claim is
// bound to another volume, is not snapshotted either (both directions).
func TestVolumeClaimingABackedUpClaimIsNotEnough(t *testing.T) {
	e, events := volumeEnv(t, false)
	ctx := context.Background()
	pvc, _ := e.dyn.Resource(pvcGVR).Namespace("app").Get(ctx, "data", metav1.GetOptions{})
	_ = unstructured.SetNestedField(pvc.Object, "pv-2", "spec", "volumeName")
	if _, err := e.dyn.Resource(pvcGVR).Namespace("app").Update(ctx, pvc, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	s := e.run(t, newBackup("b1", func(s *arkv1.BackupSpec) { s.IncludedNamespaces = []string{"*"} }))
	if s.err != nil {
		t.Fatal(s.err)
	}
	for _, ev := range *events {
		if strings.HasPrefix(ev, "snapshot ") {
			t.Errorf("snapshotted: %s", ev)
		}
	}
	if !strings.Contains(s.log, "persistent volume pv-1 is not snapshotted: its claim app/data is bound to volume pv-2") {
		t.Errorf("log does not say why:\n%s", s.log)
	}
}
