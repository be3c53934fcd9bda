package restore

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
)

// The decision for a backed-up volume whose name the cluster has.
func TestDecideExistingVolume(t *testing.T) {
	vol := func(phase corev1.PersistentVolumePhase, ns, name, uid string) *corev1.PersistentVolume {
		pv := &corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: "pv-1"}, Status: corev1.PersistentVolumeStatus{Phase: phase}}
		if name != "" {
			pv.Spec.ClaimRef = &corev1.ObjectReference{Namespace: ns, Name: name, UID: types.UID("uid-" + uid)}
			if uid == "" {
				pv.Spec.ClaimRef.UID = ""
			}
		}
		return pv
	}
	for _, tc := range []struct {
		name      string
		existing  *corev1.PersistentVolume
		claim     string // ns/name the restore binds it to
		haveData  bool
		want      existingVolume
		reasonHas string
	}{
		{"released by the restored claim", vol(corev1.VolumeReleased, "shop", "data", "old"), "shop/data", false, volumeRebind, ""},
		{"released, already forgotten", vol(corev1.VolumeReleased, "shop", "data", ""), "shop/data", false, volumeLeft, ""},
		{"bound to the restored claim (it exists)", vol(corev1.VolumeBound, "shop", "data", "x"), "shop/data", false, volumeLeft, ""},
		{"available, pre-bound to it", vol(corev1.VolumeAvailable, "shop", "data", ""), "shop/data", false, volumeLeft, ""},
		{"available and free", vol(corev1.VolumeAvailable, "", "", ""), "shop/data", false, volumeLeft, ""},
		{"not bound in the backup", vol(corev1.VolumeBound, "shop", "data", "x"), "", false, volumeLeft, ""},
		{"bound to the source of a mapping, data", vol(corev1.VolumeBound, "shop", "data", "x"), "shop-copy/data", true, volumeCopy, ""},
		{"bound to the source of a mapping, no data", vol(corev1.VolumeBound, "shop", "data", "x"), "shop-copy/data", false, volumeUnavailable, "bound to claim shop/data"},
		{"released by another claim, no data", vol(corev1.VolumeReleased, "other", "c", "x"), "shop/data", false, volumeUnavailable, "no data to make a copy from"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ns, name, _ := strings.Cut(tc.claim, "/")
			got, why := decideExistingVolume(tc.existing, ns, name, tc.haveData)
			if got != tc.want || !strings.Contains(why, tc.reasonHas) || (tc.reasonHas == "") != (why == "") {
				t.Errorf("got %v %q, want %v %q", got, why, tc.want, tc.reasonHas)
			}
		})
	}
}

func TestCopyOfAVolume(t *testing.T) {
	a, b := copyName("pv-1", "shop-copy", "data"), copyName("pv-1", "shop-2", "data")
	if a == b || !strings.HasPrefix(a, "pv-1-") || a != copyName("pv-1", "shop-copy", "data") {
		t.Errorf("copy names %q %q: want distinct per claim, stable, prefixed", a, b)
	}
	if long := copyName(strings.Repeat("v", 253), "ns", "c"); len(long) > 253 {
		t.Errorf("copy name of %d characters", len(long))
	}
	obj := &unstructured.Unstructured{Object: map[string]any{"metadata": map[string]any{"name": "pv-1"},
		"spec": map[string]any{"hostPath": map[string]any{"path": "/data/pv-1/"}}}}
	if err := asCopy(obj, "shop-copy", "data"); err != nil {
		t.Fatal(err)
	}
	path, _, _ := unstructured.NestedString(obj.Object, "spec", "hostPath", "path")
	if obj.GetName() != a || path != "/data/pv-1"+a[len("pv-1"):] {
		t.Errorf("copy %s at %s", obj.GetName(), path)
	}
}

// A Released volume whose claim is restored is given back to it: its old
// claim's UID is dropped, and nothing else about it changes.
func TestRunReleasedVolumeIsRebound(t *testing.T) {
	f := newFixture(t)
	existing := pv("pv-1", "abc", "data").obj.DeepCopy()
	existing.Object["status"] = map[string]any{"phase": "Released"}
	f.seed("persistentvolumes", existing)
	f.backup(namespaceItem("abc"), pv("pv-1", "abc", "data"), pvc("abc", "data", "pv-1"))
	out := f.run(newRestore())
	doc := f.results(testRestore)
	if it := doc.want(t, "persistentvolumes", "", "pv-1", ActionUpdated); it != nil && !strings.Contains(it.Note, "given back to the restored claim abc/data") {
		t.Errorf("note %q", it.Note)
	}
	got := f.get("persistentvolumes", "", "pv-1")
	if _, has, _ := unstructured.NestedString(got.Object, "spec", "claimRef", "uid"); has {
		t.Errorf("the old claim's UID is still on the volume: %v", got.Object["spec"])
	}
	if name, _, _ := unstructured.NestedString(got.Object, "spec", "claimRef", "name"); name != "data" {
		t.Errorf("claimRef lost: %v", got.Object["spec"])
	}
	doc.want(t, "persistentvolumeclaims", "abc", "data", ActionCreated)
	if out.Errors != 0 || out.Warnings != 0 {
		t.Errorf("outcome %+v", out)
	}
}

// A mapped claim whose volume still belongs to the source claim, with no
// data to copy, fails with the reason instead of waiting forever.
func TestRunClaimWhoseVolumeIsTaken(t *testing.T) {
	f := newFixture(t)
	f.seed("persistentvolumes", pv("pv-1", "abc", "data").obj.DeepCopy())
	f.backup(namespaceItem("abc"), pv("pv-1", "abc", "data"), pvc("abc", "data", "pv-1"))
	out := f.run(newRestore(func(r *arkv1.Restore) { r.Spec.NamespaceMapping = map[string]string{"abc": "def"} }))
	doc := f.results(testRestore)
	doc.want(t, "persistentvolumes", "", "pv-1", ActionSkipped, "bound to claim abc/data")
	doc.want(t, "persistentvolumeclaims", "def", "data", ActionFailed, "its volume pv-1 is bound to claim abc/data", "no data to make a copy from")
	for _, k := range f.createdKeys() {
		if strings.HasPrefix(k, "persistentvolume") {
			t.Errorf("created %s", k)
		}
	}
	if out.Failed != 1 {
		t.Errorf("outcome %+v", out)
	}
}
