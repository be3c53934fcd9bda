package backup

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/arkproject/ark/pkg/snapshot"
)

var (
	pvcGVR = schema.GroupVersionResource{Version: "v1", Resource: "persistentvolumeclaims"}
	pvGVR  = schema.GroupVersionResource{Version: "v1", Resource: "persistentvolumes"}
)

// snapshotsWanted is spec.snapshotVolumes, true unless set to false.
func (r *run) snapshotsWanted() bool {
	return r.backup.Spec.SnapshotVolumes == nil || *r.backup.Spec.SnapshotVolumes
}

// claimBinding is what a backed-up claim says of its volume.
type claimBinding struct {
	uid    string
	volume string
}

// holdClaim records a claim of the backup (read with the requester's
// rights), so that its volume may be snapshotted.
func (r *run) holdClaim(claim *unstructured.Unstructured) {
	pv, _, _ := unstructured.NestedString(claim.Object, "spec", "volumeName")
	if pv == "" {
		return
	}
	r.claims[claim.GetNamespace()+"/"+claim.GetName()] = claimBinding{uid: string(claim.GetUID()), volume: pv}
}

// snapshotPodVolumes snapshots the persistent volumes a pod mounts, between
// its pre and post hooks. The claim and the volume are read with the
// requester's rights: a claim naming someone else's volume, or a volume the
// requester may not read, is never snapshotted.
func (r *run) snapshotPodVolumes(ctx context.Context, pod *unstructured.Unstructured) {
	if !r.snapshotsWanted() {
		return
	}
	volumes, _, _ := unstructured.NestedSlice(pod.Object, "spec", "volumes")
	for _, v := range volumes {
		claim, _, _ := unstructured.NestedString(asMap(v), "persistentVolumeClaim", "claimName")
		if claim == "" {
			continue
		}
		pvc, err := r.Dynamic.Resource(pvcGVR).Namespace(pod.GetNamespace()).Get(ctx, claim, metav1.GetOptions{})
		if err != nil {
			r.log.warnf(pod.GetNamespace(), "", "pod %s: reading claim %s to snapshot its volume: %v", pod.GetName(), claim, err)
			continue
		}
		r.holdClaim(pvc)
		pvName, _, _ := unstructured.NestedString(pvc.Object, "spec", "volumeName")
		if pvName == "" || r.snapshotted.Has(pvName) {
			continue
		}
		pv, err := r.Dynamic.Resource(pvGVR).Get(ctx, pvName, metav1.GetOptions{})
		if err != nil {
			r.log.warnf(pod.GetNamespace(), "", "pod %s: reading volume %s to snapshot it: %v; its data is not backed up", pod.GetName(), pvName, err)
			continue
		}
		r.snapshotPV(ctx, pv)
	}
}

func asMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

// boundToHeldClaim says why a volume may not be snapshotted, or "" when it
// may: its claimRef names a claim this backup holds, and that claim names
// the volume (both directions, so a claim that merely names another
// namespace's volume gets nothing).
func (r *run) boundToHeldClaim(pv *unstructured.Unstructured) string {
	ns, _, _ := unstructured.NestedString(pv.Object, "spec", "claimRef", "namespace")
	name, _, _ := unstructured.NestedString(pv.Object, "spec", "claimRef", "name")
	uid, _, _ := unstructured.NestedString(pv.Object, "spec", "claimRef", "uid")
	if name == "" {
		return "it is not bound to a claim"
	}
	key := ns + "/" + name
	c, ok := r.claims[key]
	if !ok {
		return "its claim " + key + " is not in the backup"
	}
	if c.volume != pv.GetName() {
		return "its claim " + key + " is bound to volume " + c.volume
	}
	if uid != "" && c.uid != "" && uid != c.uid {
		return "it is bound to an earlier claim named " + key
	}
	return ""
}

// snapshotPV snapshots one persistent volume once per backup with the first
// snapshotter that handles it, and records the outcome.
func (r *run) snapshotPV(ctx context.Context, item *unstructured.Unstructured) {
	if !r.snapshotsWanted() || r.snapshotted.Has(item.GetName()) {
		return
	}
	if why := r.boundToHeldClaim(item); why != "" {
		r.log.infof("persistent volume %s is not snapshotted: %s", item.GetName(), why)
		return
	}
	var pv corev1.PersistentVolume
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(item.Object, &pv); err != nil {
		r.log.errorf("", "cluster", "reading persistent volume %s: %v", item.GetName(), err)
		return
	}
	r.snapshotted.Insert(item.GetName())
	s := snapshot.For(r.Snapshotters, &pv)
	if s == nil {
		r.log.infof("no volume snapshotter handles persistent volume %s; its data is not backed up", pv.Name)
		return
	}
	r.log.infof("snapshotting persistent volume %s with %s", pv.Name, s.Name())
	rec, err := s.Snapshot(ctx, r.ref, &pv)
	rec.PersistentVolume, rec.Snapshotter = pv.Name, s.Name()
	if err != nil {
		rec.Phase, rec.Error = snapshot.PhaseFailed, err.Error()
		r.log.errorf("", "cluster", "snapshot of persistent volume %s failed: %v", pv.Name, err)
	} else {
		rec.Phase = snapshot.PhaseCompleted
		r.log.infof("snapshot of persistent volume %s completed: %s (%d bytes)", pv.Name, rec.SnapshotID, rec.Size)
	}
	r.snapshots = append(r.snapshots, rec)
}
