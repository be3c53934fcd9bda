package restore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"

	"github.com/arkproject/ark/pkg/snapshot"
)

// existingVolume is what a restore does with a backed-up persistent volume
// whose name the cluster already has: left alone, the restored claim would
// wait for it forever whenever it belongs to another claim or still
// remembers the deleted one.
type existingVolume int

const (
	// volumeLeft: the volume is free or already bound to the claim; the
	// claim binds to it (or is there) without help.
	volumeLeft existingVolume = iota
	// volumeRebind: the volume is Released by the claim being restored,
	// which was deleted: forgetting the old claim's UID lets the new one
	// bind it, with its data untouched.
	volumeRebind
	// volumeCopy: the volume belongs to another claim (the source of a
	// namespace mapping still exists): a copy is made under a new name from
	// the backup's volume data, and the claim binds to the copy.
	volumeCopy
	// volumeUnavailable: as volumeCopy, but the backup holds no data to copy
	// from: the claim cannot be restored and fails with the reason.
	volumeUnavailable
)

// decideExistingVolume chooses, for a backed-up volume whose name exists,
// given the claim the restore binds it to (ns/name after mapping; "" when
// the volume was not bound) and whether the backup holds its data.
func decideExistingVolume(existing *corev1.PersistentVolume, claimNS, claimName string, haveData bool) (existingVolume, string) {
	ref := existing.Spec.ClaimRef
	if claimName == "" || ref == nil {
		return volumeLeft, ""
	}
	if ref.Namespace == claimNS && ref.Name == claimName {
		if existing.Status.Phase == corev1.VolumeReleased && ref.UID != "" {
			return volumeRebind, ""
		}
		return volumeLeft, ""
	}
	if haveData {
		return volumeCopy, ""
	}
	return volumeUnavailable, fmt.Sprintf("its volume %s is bound to claim %s/%s and the backup holds no data to make a copy from (a hostPath or local volume snapshot, or a CSI snapshot)", existing.Name, ref.Namespace, ref.Name)
}

// copyName is the name of a volume's copy for a claim: stable, so that a
// restore run again finds its copy, and within the 253 characters allowed.
func copyName(volume, claimNS, claimName string) string {
	sum := sha256.Sum256([]byte(claimNS + "/" + claimName))
	suffix := "-" + hex.EncodeToString(sum[:])[:10]
	return strings.TrimRight(volume[:min(len(volume), 253-len(suffix))], "-.") + suffix
}

// asCopy turns a backed-up hostPath or local volume into its copy for the
// restored claim: a new name and a sibling directory, into which the
// backup's data is then restored, so the source volume is never touched.
func asCopy(obj *unstructured.Unstructured, claimNS, claimName string) error {
	name := copyName(obj.GetName(), claimNS, claimName)
	suffix := name[strings.LastIndex(name, "-"):]
	for _, field := range [][]string{{"spec", "hostPath", "path"}, {"spec", "local", "path"}} {
		if p, ok, _ := unstructured.NestedString(obj.Object, field...); ok && p != "" {
			if err := unstructured.SetNestedField(obj.Object, strings.TrimRight(p, "/")+suffix, field...); err != nil {
				return err
			}
		}
	}
	obj.SetName(name)
	return nil
}

// volumeDataRecord returns the backup's hostPath/local snapshot of a volume,
// from which a copy can be made.
func (r *run) volumeDataRecord(pv string) (snapshot.Record, bool) {
	rec, ok := r.snapshots[pv]
	return rec, ok && rec.Snapshotter == snapshot.HostPathName && r.HostPath != nil
}

// claimOf returns the claim a backed-up volume is bound to, after mapping.
func claimOf(obj *unstructured.Unstructured) (ns, name string) {
	ns, _, _ = unstructured.NestedString(obj.Object, "spec", "claimRef", "namespace")
	name, _, _ = unstructured.NestedString(obj.Object, "spec", "claimRef", "name")
	return ns, name
}

func toVolume(obj *unstructured.Unstructured) (*corev1.PersistentVolume, error) {
	var pv corev1.PersistentVolume
	err := runtime.DefaultUnstructuredConverter.FromUnstructured(obj.Object, &pv)
	return &pv, err
}

// redirectClaim points a claim at the copy of its volume, or says why it
// cannot be restored. It returns "" when the claim may be created.
func (r *run) redirectClaim(obj *unstructured.Unstructured) string {
	volume, _, _ := unstructured.NestedString(obj.Object, "spec", "volumeName")
	if volume == "" {
		return ""
	}
	r.volumesMu.Lock()
	defer r.volumesMu.Unlock()
	key := obj.GetNamespace() + "/" + obj.GetName()
	if why, ok := r.volumeUnavailable[key]; ok {
		return why
	}
	if copyOf, ok := r.volumeCopies[key]; ok {
		_ = unstructured.SetNestedField(obj.Object, copyOf, "spec", "volumeName")
	}
	return ""
}

// noteVolume remembers, for the claim restored later, what became of its volume.
func (r *run) noteVolume(claimKey, copyName, unavailable string) {
	r.volumesMu.Lock()
	defer r.volumesMu.Unlock()
	if copyName != "" {
		r.volumeCopies[claimKey] = copyName
	}
	if unavailable != "" {
		r.volumeUnavailable[claimKey] = unavailable
	}
}

// restoreExistingVolume handles a backed-up volume whose name the cluster
// already has (see existingVolume). handled is false when the usual
// "already exists" path applies.
func (r *run) restoreExistingVolume(ctx context.Context, ri dynamic.ResourceInterface, api apiResource, obj *unstructured.Unstructured, res ItemResult) (out ItemResult, handled bool) {
	fail := func(format string, args ...any) (ItemResult, bool) {
		res.Action, res.Reason = ActionFailed, fmt.Sprintf(format, args...)
		return res, true
	}
	existingObj, err := ri.Get(ctx, obj.GetName(), metav1.GetOptions{})
	if err != nil {
		return fail("reading the existing volume: %v", err)
	}
	existing, err := toVolume(existingObj)
	if err != nil {
		return fail("decoding the existing volume: %v", err)
	}
	claimNS, claimName := claimOf(obj)
	claimKey := claimNS + "/" + claimName
	backedUp := obj.GetName()
	_, haveData := r.volumeDataRecord(backedUp)
	decision, why := decideExistingVolume(existing, claimNS, claimName, haveData)
	switch decision {
	case volumeLeft:
		return res, false
	case volumeUnavailable:
		r.noteVolume(claimKey, "", why)
		res.Action, res.Reason = ActionSkipped, why
		return res, true
	case volumeRebind:
		if checker, ok := r.Access.(UpdateAccessChecker); ok {
			allowed, reason, err := checker.CanUpdate(ctx, r.restore.Spec.Requester, api.gvr.GroupResource(), "")
			if err != nil {
				return fail("checking whether %s may update persistentvolumes: %v", r.restore.Spec.Requester.Username, err)
			}
			if !allowed {
				why := fmt.Sprintf("volume %s is Released by the deleted claim %s, and %s may not update persistentvolumes to give it back: %s", backedUp, claimKey, r.restore.Spec.Requester.Username, reason)
				r.noteVolume(claimKey, "", why)
				return fail("%s", why)
			}
		}
		// The old claim's UID is what keeps the volume from binding again.
		patch := []byte(`{"spec":{"claimRef":{"uid":null,"resourceVersion":null}}}`)
		if _, err := ri.Patch(ctx, backedUp, types.MergePatchType, patch, r.patchOptions()); err != nil {
			return fail("giving the released volume back to claim %s: %v", claimKey, err)
		}
		res.Action, res.Note = ActionUpdated, fmt.Sprintf("was Released; given back to the restored claim %s, its data untouched", claimKey)
		return res, true
	}
	// volumeCopy: the copy is a new object, so creating it is checked
	// like any other (the caller checked create rights already).
	if err := asCopy(obj, claimNS, claimName); err != nil {
		return fail("making a copy of the volume: %v", err)
	}
	created, err := ri.Create(ctx, obj, r.createOptions())
	switch {
	case apierrors.IsAlreadyExists(err):
		// A restore run again finds the copy it made.
		r.noteVolume(claimKey, obj.GetName(), "")
		res.Action, res.Note = ActionSkipped, fmt.Sprintf("its copy %s for claim %s exists already", obj.GetName(), claimKey)
		return res, true
	case err != nil:
		return fail("creating a copy of the volume for claim %s: %v", claimKey, err)
	}
	r.noteVolume(claimKey, created.GetName(), "")
	res.Action = ActionCreated
	res.Note = fmt.Sprintf("volume %s is bound to claim %s/%s, so a copy %s was made for claim %s", backedUp, existing.Spec.ClaimRef.Namespace, existing.Spec.ClaimRef.Name, created.GetName(), claimKey)
	note, err := r.restoreVolumeData(ctx, created, backedUp)
	if err != nil {
		res.Reason = fmt.Sprintf("volume data not restored: %v", err)
	}
	if note != "" {
		res.Note += "; " + note
	}
	return res, true
}

// waitClaimsBound waits, up to ClaimBindTimeout, for the restored claims to
// bind, and reports each that did not, with why, as an error: a claim left
// Pending is a restore that did not work, whatever else was created.
func (r *run) waitClaimsBound(ctx context.Context) {
	if r.ClaimBindTimeout <= 0 || r.restored.Len() == 0 {
		return
	}
	pending := sets.List(r.restored)
	r.results.infof("waiting up to %s for %d restored claims to bind", r.ClaimBindTimeout, len(pending))
	// Claims, their volumes and events are read as the requester, who made
	// the claims; Ark's own identity reads only storage classes.
	claims := r.Dynamic.Resource(corev1.SchemeGroupVersion.WithResource("persistentvolumeclaims"))
	check := func(ctx context.Context) (bool, error) {
		left := pending[:0]
		for _, key := range pending {
			ns, name, _ := strings.Cut(key, "/")
			c, err := claims.Namespace(ns).Get(ctx, name, metav1.GetOptions{})
			if err == nil && !r.mustBind(ctx, c) {
				continue
			}
			left = append(left, key)
		}
		pending = left
		return len(pending) == 0, nil
	}
	_ = wait.PollUntilContextTimeout(ctx, time.Second, r.ClaimBindTimeout, true, check)
	for _, key := range pending {
		r.results.errorf("claim %s did not bind within %s: %s", key, r.ClaimBindTimeout, r.whyUnbound(ctx, key))
	}
}

// mustBind reports whether a claim is still waiting to bind. A claim of a
// WaitForFirstConsumer class binds only when a pod uses it: not waited for.
func (r *run) mustBind(ctx context.Context, c *unstructured.Unstructured) bool {
	if phase, _, _ := unstructured.NestedString(c.Object, "status", "phase"); phase == string(corev1.ClaimBound) {
		return false
	}
	if volume, _, _ := unstructured.NestedString(c.Object, "spec", "volumeName"); volume != "" {
		return true
	}
	class, _, _ := unstructured.NestedString(c.Object, "spec", "storageClassName")
	if class == "" {
		return true
	}
	sc, err := r.cluster().Resource(storageClassGVR).Get(ctx, class, metav1.GetOptions{})
	if err != nil {
		return true
	}
	mode, _, _ := unstructured.NestedString(sc.Object, "volumeBindingMode")
	return mode != string(storagev1.VolumeBindingWaitForFirstConsumer)
}

var storageClassGVR = storagev1.SchemeGroupVersion.WithResource("storageclasses")

// whyUnbound says what keeps a claim from binding: its phase, its volume's
// state, and the last warning Kubernetes recorded for it.
func (r *run) whyUnbound(ctx context.Context, key string) string {
	ns, name, _ := strings.Cut(key, "/")
	c, err := r.Dynamic.Resource(corev1.SchemeGroupVersion.WithResource("persistentvolumeclaims")).Namespace(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return fmt.Sprintf("reading it: %v", err)
	}
	phase, _, _ := unstructured.NestedString(c.Object, "status", "phase")
	if phase == "" {
		phase = string(corev1.ClaimPending)
	}
	parts := []string{"it is " + phase}
	if volume, _, _ := unstructured.NestedString(c.Object, "spec", "volumeName"); volume != "" {
		pvObj, err := r.Dynamic.Resource(corev1.SchemeGroupVersion.WithResource("persistentvolumes")).Get(ctx, volume, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			parts = append(parts, fmt.Sprintf("its volume %s does not exist", volume))
		case err == nil:
			if pv, err := toVolume(pvObj); err == nil {
				s := fmt.Sprintf("its volume %s is %s", volume, pv.Status.Phase)
				if ref := pv.Spec.ClaimRef; ref != nil && (ref.Namespace != ns || ref.Name != name) {
					s += fmt.Sprintf(" and bound to claim %s/%s", ref.Namespace, ref.Name)
				}
				parts = append(parts, s)
			}
		}
	}
	events, err := r.Dynamic.Resource(corev1.SchemeGroupVersion.WithResource("events")).Namespace(ns).List(ctx, metav1.ListOptions{
		FieldSelector: "involvedObject.kind=PersistentVolumeClaim,involvedObject.name=" + name + ",type=Warning",
	})
	if err == nil && len(events.Items) > 0 {
		last := events.Items[len(events.Items)-1]
		msg, _, _ := unstructured.NestedString(last.Object, "message")
		parts = append(parts, "last event: "+msg)
	}
	return strings.Join(parts, "; ")
}
