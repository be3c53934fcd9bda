package restore

import (
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/arkproject/ark/pkg/backup"
	"github.com/arkproject/ark/pkg/backupstore"
	"github.com/arkproject/ark/pkg/objectstore"
	"github.com/arkproject/ark/pkg/restore/archive"
	"github.com/arkproject/ark/pkg/snapshot"
)

// maxSnapshotRecords caps the volume-snapshots file read into memory.
const maxSnapshotRecords = 64 << 20

// loadSnapshots reads a backup's volume-snapshot records, checked against
// its manifest like the tarball. A backup without the file has no snapshots.
func loadSnapshots(ctx context.Context, store objectstore.Store, ref backupstore.Backup) (map[string]snapshot.Record, error) {
	name := ref.Name
	manifestData, _, err := objectstore.ReadAll(ctx, store, ref.ManifestKey(), 1<<20)
	if err != nil {
		return nil, fmt.Errorf("reading the manifest of backup %q: %w", name, err)
	}
	var m backup.Manifest
	if err := json.Unmarshal(manifestData, &m); err != nil {
		return nil, fmt.Errorf("the manifest of backup %q is malformed: %w", name, err)
	}
	key := ref.VolumeSnapshotsKey()
	want, listed := m.Files[key[strings.LastIndex(key, "/")+1:]]
	data, _, err := objectstore.ReadAll(ctx, store, key, maxSnapshotRecords)
	if errors.Is(err, objectstore.ErrNotFound) && !listed {
		return map[string]snapshot.Record{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the volume snapshots of backup %q: %w", name, err)
	}
	sum := sha256.Sum256(data)
	if !listed || hex.EncodeToString(sum[:]) != want.SHA256 {
		return nil, fmt.Errorf("backup %q: its volume-snapshots file does not match its manifest: %w", name, archive.ErrCorrupt)
	}
	gz, err := gzip.NewReader(strings.NewReader(string(data)))
	if err != nil {
		return nil, fmt.Errorf("backup %q: volume snapshots: %w", name, err)
	}
	raw, err := io.ReadAll(io.LimitReader(gz, maxSnapshotRecords))
	if err != nil {
		return nil, fmt.Errorf("backup %q: volume snapshots: %w", name, err)
	}
	var records []snapshot.Record
	if err := json.Unmarshal(raw, &records); err != nil {
		return nil, fmt.Errorf("backup %q: volume snapshots: %w", name, err)
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

// restoreVolumeData puts a restored hostPath/local volume's data back.
func (r *run) restoreVolumeData(ctx context.Context, created *unstructured.Unstructured) (string, error) {
	rec, ok := r.snapshots[created.GetName()]
	if !ok || rec.Snapshotter != snapshot.HostPathName || r.HostPath == nil {
		return "", nil
	}
	if !snapshot.InBackup(r.source, rec.SnapshotID) {
		return "", fmt.Errorf("its snapshot %s is not in the folder of backup %s", rec.SnapshotID, r.backup)
	}
	var pv corev1.PersistentVolume
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(created.Object, &pv); err != nil {
		return "", err
	}
	n, err := r.HostPath.Restore(ctx, rec, &pv)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("restored %d bytes of volume data from %s", n, rec.SnapshotID), nil
}
