package restore

import (
	"context"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/arkproject/ark/pkg/backupstore"
	"github.com/arkproject/ark/pkg/objectstore"
	"github.com/arkproject/ark/pkg/snapshot"
)

// loadSnapshots reads a backup's completed volume-snapshot records by
// persistent volume, checked against its manifest like the tarball.
func loadSnapshots(ctx context.Context, store objectstore.Store, ref backupstore.Backup) (map[string]snapshot.Record, error) {
	files, err := backupstore.OpenFiles(ctx, store, ref)
	if err != nil {
		return nil, err
	}
	records, err := snapshot.ReadRecords(ctx, files)
	if err != nil {
		return nil, fmt.Errorf("reading the volume snapshots: %w", err)
	}
	out := map[string]snapshot.Record{}
	for _, r := range records {
		if r.Phase == snapshot.PhaseCompleted {
			out[r.PersistentVolume] = r
		}
	}
	return out, nil
}

// csiSnapshotOf returns the completed CSI snapshot of a persistent volume.
func (r *run) csiSnapshotOf(pv string) (snapshot.Record, bool) {
	rec, ok := r.snapshots[pv]
	return rec, ok && rec.Snapshotter == snapshot.CSIName
}

// claimFromSnapshot makes a claim whose volume was snapshotted with CSI
// provision a new volume from the snapshot, instead of binding the old one.
func (r *run) claimFromSnapshot(obj *unstructured.Unstructured) error {
	pv, _, _ := unstructured.NestedString(obj.Object, "spec", "volumeName")
	rec, ok := r.csiSnapshotOf(pv)
	if !ok {
		return nil
	}
	ns, name, _ := strings.Cut(rec.SnapshotID, "/")
	if ns != obj.GetNamespace() {
		return fmt.Errorf("its volume's snapshot %s is in namespace %s; a claim can only use a snapshot of its own namespace", rec.SnapshotID, ns)
	}
	unstructured.RemoveNestedField(obj.Object, "spec", "volumeName")
	return unstructured.SetNestedMap(obj.Object, map[string]any{
		"apiGroup": "snapshot.storage.k8s.io", "kind": "VolumeSnapshot", "name": name,
	}, "spec", "dataSource")
}

// restoreVolumeData puts a restored hostPath/local volume's data back, from
// the snapshot of backedUp (its name in the backup: a copy has another).
func (r *run) restoreVolumeData(ctx context.Context, created *unstructured.Unstructured, backedUp string) (string, error) {
	rec, ok := r.volumeDataRecord(backedUp)
	if !ok {
		return "", nil
	}
	if !snapshot.InBackup(r.source, rec.SnapshotID) {
		return "", fmt.Errorf("its snapshot %s is not in the folder of backup %s", rec.SnapshotID, r.backup)
	}
	if r.restore.Spec.Preview {
		return fmt.Sprintf("its data would be restored from %s", rec.SnapshotID), nil
	}
	pv, err := toVolume(created)
	if err != nil {
		return "", err
	}
	n, err := r.HostPath.RestoreFrom(ctx, r.source, rec, pv)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("restored %d bytes of volume data from %s", n, rec.SnapshotID), nil
}
