package snapshot

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"

	"github.com/arkproject/ark/pkg/backupstore"
)

func csiPV(driver string) *corev1.PersistentVolume {
	return &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: "pv-csi"},
		Spec: corev1.PersistentVolumeSpec{
			ClaimRef: &corev1.ObjectReference{Namespace: "shop", Name: "data"},
			PersistentVolumeSource: corev1.PersistentVolumeSource{
				CSI: &corev1.CSIPersistentVolumeSource{Driver: driver, VolumeHandle: "vol-123"},
			},
		},
	}
}

func snapshotClass(name, driver string, isDefault bool) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshotClass",
		"metadata": map[string]any{"name": name}, "driver": driver, "deletionPolicy": "Delete",
	}}
	if isDefault {
		u.SetAnnotations(map[string]string{"snapshot.storage.kubernetes.io/is-default-class": "true"})
	}
	return u
}

func newCSI(objs ...runtime.Object) (*CSI, *dynamicfake.FakeDynamicClient) {
	dyn := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), map[schema.GroupVersionResource]string{
		volumeSnapshotGVR:      "VolumeSnapshotList",
		volumeSnapshotClassGVR: "VolumeSnapshotClassList",
	}, objs...)
	return &CSI{Dynamic: dyn, PollInterval: 10 * time.Millisecond, ReadyTimeout: 2 * time.Second}, dyn
}

func TestCSIHandlesDriversWithAClass(t *testing.T) {
	c, _ := newCSI(snapshotClass("fast", "pd.example.com", false))
	if !c.Handles(csiPV("pd.example.com")) {
		t.Error("a driver with a class is not handled")
	}
	if c.Handles(csiPV("other.example.com")) {
		t.Error("a driver without a class is handled")
	}
	hp := &corev1.PersistentVolume{Spec: corev1.PersistentVolumeSpec{PersistentVolumeSource: corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/x"}}}}
	if c.Handles(hp) {
		t.Error("a hostPath volume is handled")
	}
}

// The test plays the snapshot controller: no CSI driver runs here, so it
// marks the VolumeSnapshot ready itself.
func TestCSISnapshotWaitsForReady(t *testing.T) {
	c, dyn := newCSI(snapshotClass("slow", "pd.example.com", false), snapshotClass("default", "pd.example.com", true))
	go func() {
		for {
			vs, err := dyn.Resource(volumeSnapshotGVR).Namespace("shop").Get(context.Background(), "ark-b1-data", metav1.GetOptions{})
			if err == nil {
				_ = unstructured.SetNestedField(vs.Object, true, "status", "readyToUse")
				_ = unstructured.SetNestedField(vs.Object, "1Gi", "status", "restoreSize")
				if _, err := dyn.Resource(volumeSnapshotGVR).Namespace("shop").Update(context.Background(), vs, metav1.UpdateOptions{}); err == nil {
					return
				}
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	rec, err := c.Snapshot(context.Background(), backupstore.Home("b1"), csiPV("pd.example.com"))
	if err != nil {
		t.Fatal(err)
	}
	if rec.SnapshotID != "shop/ark-b1-data" || rec.VolumeID != "vol-123" || rec.Size != 1<<30 {
		t.Errorf("record %+v", rec)
	}
	vs, err := dyn.Resource(volumeSnapshotGVR).Namespace("shop").Get(context.Background(), "ark-b1-data", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	class, _, _ := unstructured.NestedString(vs.Object, "spec", "volumeSnapshotClassName")
	claim, _, _ := unstructured.NestedString(vs.Object, "spec", "source", "persistentVolumeClaimName")
	if class != "default" || claim != "data" || vs.GetLabels()[LabelBackupName] != "b1" {
		t.Errorf("VolumeSnapshot spec: class %q claim %q labels %v", class, claim, vs.GetLabels())
	}
}

func TestCSISnapshotThatNeverBecomesReadyFails(t *testing.T) {
	c, dyn := newCSI(snapshotClass("fast", "pd.example.com", false))
	c.ReadyTimeout = 200 * time.Millisecond
	go func() {
		time.Sleep(50 * time.Millisecond)
		vs, err := dyn.Resource(volumeSnapshotGVR).Namespace("shop").Get(context.Background(), "ark-b1-data", metav1.GetOptions{})
		if err == nil {
			_ = unstructured.SetNestedField(vs.Object, "quota exceeded", "status", "error", "message")
			_, _ = dyn.Resource(volumeSnapshotGVR).Namespace("shop").Update(context.Background(), vs, metav1.UpdateOptions{})
		}
	}()
	_, err := c.Snapshot(context.Background(), backupstore.Home("b1"), csiPV("pd.example.com"))
	if err == nil || !strings.Contains(err.Error(), "quota exceeded") {
		t.Fatalf("got %v, want the snapshot controller's error", err)
	}
}

func TestSnapshotNamesFitKubernetes(t *testing.T) {
	long := snapshotName(strings.Repeat("b", 60), strings.Repeat("c", 60))
	if len(long) > 63 || long != snapshotName(strings.Repeat("b", 60), strings.Repeat("c", 60)) {
		t.Errorf("name %q (%d) not bounded or not stable", long, len(long))
	}
	if snapshotName("b1", "data") != "ark-b1-data" {
		t.Errorf("short name changed")
	}
}

// A location's class is the only one used: not the driver's default, and
// not for volumes of another driver.
func TestCSIWithALocationsClass(t *testing.T) {
	c, _ := newCSI(snapshotClass("default", "pd.example.com", true), snapshotClass("fast", "pd.example.com", false), snapshotClass("other", "nfs.example.com", true))
	c.Class = "fast"
	if got, err := c.classFor(context.Background(), "pd.example.com"); err != nil || got != "fast" {
		t.Errorf("class %q, %v; want fast", got, err)
	}
	if c.Handles(csiPV("nfs.example.com")) {
		t.Error("a volume of another driver is handled with the location's class")
	}
	c.Class = "missing"
	if c.Handles(csiPV("pd.example.com")) {
		t.Error("a volume is handled with a class that does not exist")
	}
}
