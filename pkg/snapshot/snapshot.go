// Package snapshot takes point-in-time copies of persistent volumes for a
// backup. Each VolumeSnapshotter handles one kind of volume: hostPath and
// local volumes archived into the bucket (the embedded default), CSI volumes
// through snapshot.storage.k8s.io, GCE persistent disks through the compute API.
package snapshot

import (
	"context"

	corev1 "k8s.io/api/core/v1"

	"github.com/arkproject/ark/pkg/backupstore"
)

// Record describes one volume snapshot of a backup; the list of them is the
// backup's <name>-volumesnapshots.json.gz, which restores read.
type Record struct {
	// PersistentVolume is the name of the snapshotted PV.
	PersistentVolume string `json:"persistentVolumeName"`
	// Snapshotter is the VolumeSnapshotter that took it.
	Snapshotter string `json:"snapshotter"`
	// VolumeID is the volume as the snapshotter knows it (a path, a disk, a handle).
	VolumeID string `json:"volumeID"`
	// SnapshotID identifies the snapshot for restores: a bucket key, a
	// VolumeSnapshot, a disk snapshot name.
	SnapshotID string `json:"snapshotID,omitempty"`
	// Size of the snapshot in bytes, when known.
	Size int64 `json:"size,omitempty"`
	// Phase is Completed or Failed.
	Phase string `json:"phase"`
	// Error explains a Failed phase.
	Error string `json:"error,omitempty"`
}

// Snapshot phases.
const (
	PhaseCompleted = "Completed"
	PhaseFailed    = "Failed"
)

// VolumeSnapshotter snapshots the persistent volumes it handles.
type VolumeSnapshotter interface {
	// Name identifies the snapshotter in records and logs.
	Name() string
	// Handles reports whether it can snapshot pv.
	Handles(pv *corev1.PersistentVolume) bool
	// Snapshot takes a snapshot of pv for a backup. The record's
	// PersistentVolume, Snapshotter and Phase are filled in by the caller.
	Snapshot(ctx context.Context, backup backupstore.Backup, pv *corev1.PersistentVolume) (Record, error)
}

// For returns the first snapshotter that handles pv, or nil.
func For(snapshotters []VolumeSnapshotter, pv *corev1.PersistentVolume) VolumeSnapshotter {
	for _, s := range snapshotters {
		if s.Handles(pv) {
			return s
		}
	}
	return nil
}
