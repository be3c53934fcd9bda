package restore

import (
	"encoding/json"
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/arkproject/ark/pkg/restore/archive"
	"github.com/arkproject/ark/pkg/snapshot"
)

// Resources of Velero's CSI snapshots, as its tarballs name them.
const (
	volumeSnapshotsKind        = "volumesnapshots.snapshot.storage.k8s.io"
	volumeSnapshotContentsKind = "volumesnapshotcontents.snapshot.storage.k8s.io"
	// veleroSnapshotLabel is the label Velero's CSI support puts on a
	// claim whose volume it snapshotted, naming the VolumeSnapshot.
	veleroSnapshotLabel = "velero.io/volume-snapshot-name"
)

// veleroCSI are a Velero backup's CSI snapshots that Ark can restore: a
// claim labelled with its VolumeSnapshot, the VolumeSnapshot bound to a
// VolumeSnapshotContent, and that content's snapshot handle, all in the
// tarball. Restoring them the way the CSI snapshot API imports a snapshot
// (the content pre-provisioned from the handle, the VolumeSnapshot made
// from that content rather than from the claim) gives the claim a new
// volume with the snapshot's data. A claim whose snapshot lacks any part
// is restored as it is, its volume's data not restored.
type veleroCSI struct {
	// byVolume is the VolumeSnapshot ("ns/name", in the backup) of each
	// snapshotted persistent volume.
	byVolume map[string]string
	// contentOf is the VolumeSnapshotContent of each VolumeSnapshot.
	contentOf map[string]string
	// handles are the snapshot handles of the contents, by name.
	handles map[string]string
}

type csiHead struct {
	Metadata struct {
		Name      string            `json:"name"`
		Namespace string            `json:"namespace"`
		Labels    map[string]string `json:"labels"`
	} `json:"metadata"`
	Spec struct {
		VolumeName string `json:"volumeName"` // claims
		Source     struct {
			VolumeSnapshotContentName string `json:"volumeSnapshotContentName"`
			SnapshotHandle            string `json:"snapshotHandle"`
		} `json:"source"`
	} `json:"spec"`
	Status struct {
		BoundVolumeSnapshotContentName string `json:"boundVolumeSnapshotContentName"`
		SnapshotHandle                 string `json:"snapshotHandle"`
	} `json:"status"`
}

// findVeleroCSI finds the restorable CSI snapshots among a Velero backup's
// items.
func findVeleroCSI(items []archive.Item) (*veleroCSI, error) {
	claims := map[string]string{} // "ns/vs" -> volume
	c := &veleroCSI{byVolume: map[string]string{}, contentOf: map[string]string{}, handles: map[string]string{}}
	for _, it := range items {
		if it.Resource != "persistentvolumeclaims" && it.Resource != volumeSnapshotsKind && it.Resource != volumeSnapshotContentsKind {
			continue
		}
		data, err := it.Content()
		if err != nil {
			return nil, err
		}
		var h csiHead
		if err := json.Unmarshal(data, &h); err != nil {
			return nil, fmt.Errorf("reading %s %s/%s: %w", it.Resource, it.Namespace, it.Name, err)
		}
		switch it.Resource {
		case "persistentvolumeclaims":
			if vs := h.Metadata.Labels[veleroSnapshotLabel]; vs != "" && h.Spec.VolumeName != "" {
				claims[it.Namespace+"/"+vs] = h.Spec.VolumeName
			}
		case volumeSnapshotsKind:
			content := h.Status.BoundVolumeSnapshotContentName
			if content == "" {
				content = h.Spec.Source.VolumeSnapshotContentName
			}
			if content != "" {
				c.contentOf[it.Namespace+"/"+it.Name] = content
			}
		case volumeSnapshotContentsKind:
			handle := h.Status.SnapshotHandle
			if handle == "" {
				handle = h.Spec.Source.SnapshotHandle
			}
			if handle != "" {
				c.handles[it.Name] = handle
			}
		}
	}
	for vs, volume := range claims {
		if content, ok := c.contentOf[vs]; ok && c.handles[content] != "" {
			c.byVolume[volume] = vs
		}
	}
	return c, nil
}

// records are the snapshot records of the restorable snapshots, naming
// each VolumeSnapshot in its target namespace, for claimFromSnapshot.
func (c *veleroCSI) records(target func(string) string) map[string]snapshot.Record {
	out := map[string]snapshot.Record{}
	for volume, vs := range c.byVolume {
		ns, name := splitKey(vs)
		out[volume] = snapshot.Record{PersistentVolume: volume, Snapshotter: snapshot.CSIName, SnapshotID: target(ns) + "/" + name, Phase: snapshot.PhaseCompleted}
	}
	return out
}

// reshape makes a restorable snapshot's VolumeSnapshot and content an
// import of the snapshot: the content from its handle, kept when released
// (Retain: the data is the backup's), bound to the VolumeSnapshot in its
// target namespace; the VolumeSnapshot from that content, not from its
// old claim (which would take a new snapshot of the restored one).
// backupNS is the item's namespace in the backup.
func (c *veleroCSI) reshape(kind, backupNS, name string, obj *unstructured.Unstructured, target func(string) string) error {
	switch kind {
	case volumeSnapshotsKind:
		content, ok := c.contentOf[backupNS+"/"+name]
		if !ok || c.handles[content] == "" {
			return nil
		}
		return unstructured.SetNestedMap(obj.Object, map[string]any{"volumeSnapshotContentName": content}, "spec", "source")
	case volumeSnapshotContentsKind:
		handle := c.handles[name]
		if handle == "" {
			return nil
		}
		for vs, content := range c.contentOf {
			if content != name {
				continue
			}
			ns, vsName := splitKey(vs)
			if err := unstructured.SetNestedMap(obj.Object, map[string]any{"snapshotHandle": handle}, "spec", "source"); err != nil {
				return err
			}
			if err := unstructured.SetNestedField(obj.Object, "Retain", "spec", "deletionPolicy"); err != nil {
				return err
			}
			return unstructured.SetNestedMap(obj.Object, map[string]any{
				"apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshot", "namespace": target(ns), "name": vsName,
			}, "spec", "volumeSnapshotRef")
		}
	}
	return nil
}

func splitKey(key string) (ns, name string) {
	for i := 0; i < len(key); i++ {
		if key[i] == '/' {
			return key[:i], key[i+1:]
		}
	}
	return "", key
}
