package snapshot

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"

	"github.com/arkproject/ark/pkg/backupstore"
)

// CSIName is the name of the CSI snapshotter.
const CSIName = "csi"

var (
	volumeSnapshotGVR      = schema.GroupVersionResource{Group: "snapshot.storage.k8s.io", Version: "v1", Resource: "volumesnapshots"}
	volumeSnapshotClassGVR = schema.GroupVersionResource{Group: "snapshot.storage.k8s.io", Version: "v1", Resource: "volumesnapshotclasses"}
)

// LabelBackupName marks the VolumeSnapshots a backup created.
const LabelBackupName = "ark.heptio.com/backup-name"

// CSI snapshots CSI volumes through the cluster's snapshot controller: it
// creates a snapshot.storage.k8s.io/v1 VolumeSnapshot of the volume's claim
// with a VolumeSnapshotClass of the volume's driver, and waits until the
// snapshot is ready to use. Restores create the claim again with the
// VolumeSnapshot as its data source.
type CSI struct {
	// Dynamic creates and reads VolumeSnapshots: it acts as the backup's
	// requester, so a snapshot is only made where they may make one.
	Dynamic dynamic.Interface
	// Classes reads VolumeSnapshotClasses, which are configuration (users
	// rarely may list them); nil means Dynamic.
	Classes dynamic.Interface
	// Class, when set, is the only VolumeSnapshotClass used (a volume
	// snapshot location's volumeSnapshotClass): volumes of other drivers
	// are not handled. Empty means the default class of each driver.
	Class string
	// ReadyTimeout bounds the wait for readyToUse; default 10 minutes.
	ReadyTimeout time.Duration
	// PollInterval is how often readiness is checked; default 1s.
	PollInterval time.Duration
}

var _ VolumeSnapshotter = &CSI{}

// Name returns "csi".
func (c *CSI) Name() string { return CSIName }

// Handles CSI volumes bound to a claim whose driver has a VolumeSnapshotClass.
func (c *CSI) Handles(pv *corev1.PersistentVolume) bool {
	if pv.Spec.CSI == nil || pv.Spec.ClaimRef == nil {
		return false
	}
	class, err := c.classFor(context.Background(), pv.Spec.CSI.Driver)
	return err == nil && class != ""
}

// classFor returns the VolumeSnapshotClass of driver, preferring the one
// annotated as the default.
func (c *CSI) classFor(ctx context.Context, driver string) (string, error) {
	classes := c.Classes
	if classes == nil {
		classes = c.Dynamic
	}
	if c.Class != "" {
		class, err := classes.Resource(volumeSnapshotClassGVR).Get(ctx, c.Class, metav1.GetOptions{})
		if err != nil {
			return "", err
		}
		if d, _, _ := unstructured.NestedString(class.Object, "driver"); d != driver {
			return "", nil
		}
		return c.Class, nil
	}
	list, err := classes.Resource(volumeSnapshotClassGVR).List(ctx, metav1.ListOptions{})
	if err != nil {
		return "", err
	}
	name := ""
	for _, item := range list.Items {
		d, _, _ := unstructured.NestedString(item.Object, "driver")
		if d != driver {
			continue
		}
		if item.GetAnnotations()["snapshot.storage.kubernetes.io/is-default-class"] == "true" {
			return item.GetName(), nil
		}
		if name == "" {
			name = item.GetName()
		}
	}
	return name, nil
}

// snapshotName is a valid, unique and stable name for a backup's snapshot of a claim.
func snapshotName(backup, claim string) string {
	name := "ark-" + backup + "-" + claim
	if len(name) <= 63 {
		return name
	}
	sum := sha256.Sum256([]byte(name))
	return name[:52] + "-" + hex.EncodeToString(sum[:])[:10]
}

// Snapshot creates the VolumeSnapshot and waits for it to be ready.
func (c *CSI) Snapshot(ctx context.Context, ref backupstore.Backup, pv *corev1.PersistentVolume) (Record, error) {
	backup := ref.Name
	ns, claim := pv.Spec.ClaimRef.Namespace, pv.Spec.ClaimRef.Name
	rec := Record{VolumeID: pv.Spec.CSI.VolumeHandle}
	class, err := c.classFor(ctx, pv.Spec.CSI.Driver)
	if err != nil || class == "" {
		return rec, fmt.Errorf("no VolumeSnapshotClass for CSI driver %s: %v", pv.Spec.CSI.Driver, err)
	}
	name := snapshotName(backup, claim)
	rec.SnapshotID = ns + "/" + name
	vs := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "snapshot.storage.k8s.io/v1",
		"kind":       "VolumeSnapshot",
		"metadata": map[string]any{
			"name": name, "namespace": ns,
			"labels": map[string]any{LabelBackupName: backup},
		},
		"spec": map[string]any{
			"volumeSnapshotClassName": class,
			"source":                  map[string]any{"persistentVolumeClaimName": claim},
		},
	}}
	client := c.Dynamic.Resource(volumeSnapshotGVR).Namespace(ns)
	if _, err := client.Create(ctx, vs, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return rec, fmt.Errorf("creating VolumeSnapshot %s/%s: %w", ns, name, err)
	}
	timeout, interval := c.ReadyTimeout, c.PollInterval
	if timeout == 0 {
		timeout = 10 * time.Minute
	}
	if interval == 0 {
		interval = time.Second
	}
	var lastErr string
	err = wait.PollUntilContextTimeout(ctx, interval, timeout, true, func(ctx context.Context) (bool, error) {
		got, err := client.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		if msg, _, _ := unstructured.NestedString(got.Object, "status", "error", "message"); msg != "" {
			lastErr = msg
		}
		ready, _, _ := unstructured.NestedBool(got.Object, "status", "readyToUse")
		if size, ok, _ := unstructured.NestedString(got.Object, "status", "restoreSize"); ok {
			rec.Size = parseQuantity(size)
		}
		return ready, nil
	})
	if err != nil {
		if lastErr != "" {
			return rec, fmt.Errorf("VolumeSnapshot %s/%s did not become ready: %s", ns, name, lastErr)
		}
		return rec, fmt.Errorf("VolumeSnapshot %s/%s did not become ready: %w", ns, name, err)
	}
	return rec, nil
}

// parseQuantity reads a restoreSize such as "1Gi" as bytes; 0 if unreadable.
func parseQuantity(s string) int64 {
	q, err := resource.ParseQuantity(s)
	if err != nil {
		return 0
	}
	return q.Value()
}
