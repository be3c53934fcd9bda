package ark

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// VolumeSnapshotLocation records where, and with what, administrators mean
// volume snapshots to be taken, with Heptio Ark's field names. Locations live
// in Ark's home namespace only: they name cloud projects and credential
// Secrets, which are administrators' configuration.
//
// Nothing acts on a VolumeSnapshotLocation yet: backups still snapshot each
// volume by its kind (CSI volumes through their VolumeSnapshotClass, GCE
// persistent disks in the project of the disk or of --gce-project, hostPath
// and local volumes into the backup's bucket), and no controller writes the
// status. A location records the intent, checked when it is written, so that
// manifests can be kept and reviewed now.
type VolumeSnapshotLocation struct {
	metav1.TypeMeta
	// Standard object metadata.
	metav1.ObjectMeta

	// Spec says which snapshotter the location is for and how to configure it.
	Spec VolumeSnapshotLocationSpec
	// Status is reserved for a controller; none writes it yet.
	Status VolumeSnapshotLocationStatus
}

// VolumeSnapshotLocationSpec says which snapshotter a location is for.
type VolumeSnapshotLocationSpec struct {
	// Provider is the snapshotter: "csi" (CSI volumes, through the
	// snapshot.storage.k8s.io API), "gcp" (GCE persistent disks) or
	// "hostpath" (hostPath and local volumes, archived into the backup's
	// bucket). Only snapshotters Ark has are accepted: a location for one
	// it lacks (aws, azure) would look acted on and never be.
	Provider string
	// Config holds provider-specific settings: for gcp, "project" and
	// "snapshotLocation" (the region or multi-region snapshots are stored
	// in); for csi, "volumeSnapshotClass"; hostpath takes none. Unknown keys
	// are refused.
	Config map[string]string
	// Credential names the key of a Secret in Ark's home namespace that
	// holds the provider's credentials; unset means the server's own.
	Credential *SecretKeyReference
}

// VolumeSnapshotLocationPhase says whether a location can be used.
type VolumeSnapshotLocationPhase string

const (
	// VolumeSnapshotLocationPhaseAvailable is a location a controller found usable.
	VolumeSnapshotLocationPhaseAvailable VolumeSnapshotLocationPhase = "Available"
	// VolumeSnapshotLocationPhaseUnavailable is a location a controller
	// found unusable; Message says why.
	VolumeSnapshotLocationPhaseUnavailable VolumeSnapshotLocationPhase = "Unavailable"
)

// VolumeSnapshotLocationStatus is what a controller observed of a location.
// No controller acts on locations yet, so it stays empty.
type VolumeSnapshotLocationStatus struct {
	// Phase says whether the location can be used.
	Phase VolumeSnapshotLocationPhase
	// Message explains an Unavailable phase.
	Message string
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// VolumeSnapshotLocationList is a list of VolumeSnapshotLocations.
type VolumeSnapshotLocationList struct {
	metav1.TypeMeta
	// Standard list metadata.
	metav1.ListMeta
	// Items are the locations.
	Items []VolumeSnapshotLocation
}
