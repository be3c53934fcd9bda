package backupstore

import (
	"context"
	"errors"
	"fmt"
	"sort"
)

// MaxVeleroVolumesSize caps a Velero backup's volume-snapshot and
// pod-volume-backup lists, gzipped and inflated.
const MaxVeleroVolumesSize = 16 << 20

// VeleroVolume is one volume whose data a Velero server saved outside the
// tarball: a snapshot by its volume snapshotter (<name>-volumesnapshots.json.gz)
// or a file-system backup of a pod's volume by restic or kopia
// (<name>-podvolumebackups.json.gz). Ark restores neither.
type VeleroVolume struct {
	// PersistentVolume is the snapshotted volume's name (snapshots).
	PersistentVolume string
	// Namespace, Pod and Volume name a pod's volume (pod volume backups).
	Namespace, Pod, Volume string
	// Kind is "snapshot" or "pod volume backup".
	Kind string
	// Location is the Velero volume snapshot location, or the uploader.
	Location string
	// VolumeID and SnapshotID are the provider's IDs (the snapshot's, or
	// the file-system backup's).
	VolumeID, SnapshotID string
	// Phase is Velero's phase of the snapshot or backup.
	Phase string
}

// Where names the item the volume's data belongs to, for messages.
func (v VeleroVolume) Where() string {
	if v.PersistentVolume != "" {
		return "persistent volume " + v.PersistentVolume
	}
	return fmt.Sprintf("volume %s of pod %s/%s", v.Volume, v.Namespace, v.Pod)
}

// veleroSnapshot is what Ark reads of one entry of Velero's volume
// snapshot list. Velero writes the volume's name under the key
// "PersistentVolumeName" (its field tag is malformed); encoding/json
// matches keys without regard to case, so either spelling is read.
type veleroSnapshot struct {
	Spec struct {
		Location             string `json:"location"`
		PersistentVolumeName string `json:"persistentVolumeName"`
		ProviderVolumeID     string `json:"providerVolumeID"`
	} `json:"spec"`
	Status struct {
		ProviderSnapshotID string `json:"providerSnapshotID"`
		Phase              string `json:"phase"`
	} `json:"status"`
}

// veleroPodVolumeBackup is what Ark reads of a velero.io/v1 PodVolumeBackup.
type veleroPodVolumeBackup struct {
	Spec struct {
		Pod struct {
			Namespace string `json:"namespace"`
			Name      string `json:"name"`
		} `json:"pod"`
		Volume       string `json:"volume"`
		UploaderType string `json:"uploaderType"`
	} `json:"spec"`
	Status struct {
		SnapshotID string `json:"snapshotID"`
		Phase      string `json:"phase"`
	} `json:"status"`
}

// VeleroVolumes reads the volumes a Velero backup saved outside its
// tarball, sorted; a list the backup does not have is empty. It reads the
// files of a Velero backup only.
func VeleroVolumes(ctx context.Context, f *Files) ([]VeleroVolume, error) {
	var out []VeleroVolume
	var snaps []veleroSnapshot
	if err := f.ReadGzipJSON(ctx, f.ref.VolumeSnapshotsKey(), MaxVeleroVolumesSize, &snaps); err != nil && !errors.Is(err, ErrAbsent) {
		return nil, err
	}
	for _, s := range snaps {
		out = append(out, VeleroVolume{
			Kind: "snapshot", PersistentVolume: s.Spec.PersistentVolumeName, Location: s.Spec.Location,
			VolumeID: s.Spec.ProviderVolumeID, SnapshotID: s.Status.ProviderSnapshotID, Phase: s.Status.Phase,
		})
	}
	var pvbs []veleroPodVolumeBackup
	if err := f.ReadGzipJSON(ctx, f.ref.VeleroPodVolumeBackups(), MaxVeleroVolumesSize, &pvbs); err != nil && !errors.Is(err, ErrAbsent) {
		return nil, err
	}
	for _, p := range pvbs {
		uploader := p.Spec.UploaderType
		if uploader == "" {
			uploader = "restic"
		}
		out = append(out, VeleroVolume{
			Kind: "pod volume backup", Namespace: p.Spec.Pod.Namespace, Pod: p.Spec.Pod.Name, Volume: p.Spec.Volume,
			Location: uploader, SnapshotID: p.Status.SnapshotID, Phase: p.Status.Phase,
		})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Where() < out[j].Where() })
	return out, nil
}
