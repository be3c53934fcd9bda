package v1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// +genclient
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// BackupStorageLocation describes a bucket backups are kept in. Locations
// live in Ark's home namespace only: they are administrators' configuration,
// not something a namespace's users choose. This server serves one location,
// the one given by --backup-location; it appears as an object named by
// --storage-location (default "default") so it can be seen and watched.
type BackupStorageLocation struct {
	metav1.TypeMeta `json:",inline"`
	// Standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec says where the bucket is and how it may be used.
	// +optional
	Spec BackupStorageLocationSpec `json:"spec,omitempty"`
	// Status is written by Ark's storage location controller.
	// +optional
	Status BackupStorageLocationStatus `json:"status,omitempty"`
}

// BackupStorageLocationSpec says where a location's bucket is.
type BackupStorageLocationSpec struct {
	// Provider is the kind of object store: "file" (a directory), "gcp"
	// (Google Cloud Storage), "aws" (S3 and S3-compatible stores) or
	// "azure" (Azure Blob Storage; the bucket is the container).
	Provider string `json:"provider"`
	// ObjectStorage names the bucket and the prefix within it.
	ObjectStorage ObjectStorageLocation `json:"objectStorage"`
	// Config holds provider-specific settings: for aws, Heptio Ark's keys
	// ("region", "s3Url", "s3ForcePathStyle", "caCert", ...), as in an
	// s3:// --backup-location's query; for azure, "storageAccount" and
	// "storageAccountURI" (the Blob service URL), as in an azure:// one;
	// for gcp, "pubsubSubscription" (projects/P/subscriptions/ID, of the
	// bucket's Pub/Sub notifications, to learn of changes without
	// polling), as in a gs:// one.
	// +optional
	Config map[string]string `json:"config,omitempty"`
	// Credential names the key of a Secret in Ark's home namespace that
	// holds the credentials of the bucket; unset means the server's own
	// (its environment, its service account).
	// +optional
	Credential *SecretKeyReference `json:"credential,omitempty"`
	// AccessMode is ReadWrite (backups are written there) or ReadOnly
	// (backups are only read from there, as while migrating). Default ReadWrite.
	// +optional
	AccessMode BackupStorageLocationAccessMode `json:"accessMode,omitempty"`
	// Default marks the location backups go to when they name none.
	// +optional
	Default bool `json:"default,omitempty"`
	// Format is the layout of the backups in the bucket: "ark" (Ark's own,
	// the default) or "velero" (a Velero server's: backups/<name>/velero-backup.json,
	// velero.io/v1), which Ark lists and restores from but never writes,
	// so a velero location must be ReadOnly.
	// +optional
	Format BackupStorageLocationFormat `json:"format,omitempty"`
	// Encryption, when set, encrypts every backup and restore written to
	// the location, client-side, with keys from a Secret; backups written
	// before stay readable. Unset writes plaintext.
	// +optional
	Encryption *BackupStorageLocationEncryption `json:"encryption,omitempty"`
}

// BackupStorageLocationEncryption names a location's encryption keys.
type BackupStorageLocationEncryption struct {
	// KeySecret is the name of a Secret in Ark's home namespace: its entry
	// "active" names the key new backups are written with, and every other
	// entry is a key of 32 random bytes (raw or base64) named by its ID.
	// Keep old keys there while backups need them; keep a copy of the
	// Secret outside the cluster, or its backups cannot be restored
	// after a disaster.
	KeySecret string `json:"keySecret"`
}

// ObjectStorageLocation is a bucket and a prefix within it.
type ObjectStorageLocation struct {
	// Bucket is the bucket's name; for the "file" provider, the absolute
	// path of the directory.
	Bucket string `json:"bucket"`
	// Prefix is the path within the bucket Ark's files are kept under.
	// +optional
	Prefix string `json:"prefix,omitempty"`
}

// SecretKeyReference names one key of a Secret in the location's namespace.
type SecretKeyReference struct {
	// Name is the Secret's name.
	Name string `json:"name"`
	// Key is the key within the Secret.
	Key string `json:"key"`
}

// BackupStorageLocationAccessMode says whether Ark may write to a location.
type BackupStorageLocationAccessMode string

const (
	// BackupStorageLocationAccessModeReadWrite lets backups be written to the location.
	BackupStorageLocationAccessModeReadWrite BackupStorageLocationAccessMode = "ReadWrite"
	// BackupStorageLocationAccessModeReadOnly only lets backups be read from it.
	BackupStorageLocationAccessModeReadOnly BackupStorageLocationAccessMode = "ReadOnly"
)

// BackupStorageLocationFormat is the layout of the backups in a location's bucket.
type BackupStorageLocationFormat string

const (
	// BackupStorageLocationFormatArk is Ark's own layout.
	BackupStorageLocationFormatArk BackupStorageLocationFormat = "ark"
	// BackupStorageLocationFormatVelero is the layout a Velero server
	// writes; such a location is only read from.
	BackupStorageLocationFormatVelero BackupStorageLocationFormat = "velero"
)

// Annotations of the backups Ark reads from a location of format velero.
const (
	// AnnotationRecordFormat says what a Backup was translated from: for
	// a Velero backup, "velero.io/v1" and the format version of its
	// tarball ("velero.io/v1; format 1.1.0").
	AnnotationRecordFormat = "ark.heptio.com/record-format"
	// VeleroCluster is the owner (the ark.heptio.com/cluster annotation)
	// of every backup read from a Velero bucket: a Velero server's, which
	// no Ark runs, expires, changes, adopts or deletes.
	VeleroCluster = "velero"
)

// BackupStorageLocationPhase says whether a location answers.
type BackupStorageLocationPhase string

const (
	// BackupStorageLocationPhaseAvailable is a location whose bucket the
	// latest poll listed.
	BackupStorageLocationPhaseAvailable BackupStorageLocationPhase = "Available"
	// BackupStorageLocationPhaseUnavailable is a location whose bucket did
	// not answer, or that this server does not serve.
	BackupStorageLocationPhaseUnavailable BackupStorageLocationPhase = "Unavailable"
)

// BackupStorageLocationStatus is what the storage location controller observed.
type BackupStorageLocationStatus struct {
	// Phase says whether the location answers.
	// +optional
	Phase BackupStorageLocationPhase `json:"phase,omitempty"`
	// LastSyncedTime is when the bucket was last listed successfully.
	// +optional
	LastSyncedTime *metav1.Time `json:"lastSyncedTime,omitempty"`
	// BackupCount is how many backups the API serves from the location.
	// +optional
	BackupCount int32 `json:"backupCount,omitempty"`
	// Message explains an Unavailable phase: the last error.
	// +optional
	Message string `json:"message,omitempty"`
	// Encryption is what the location's keys can read.
	// +optional
	Encryption *BackupStorageLocationEncryptionStatus `json:"encryption,omitempty"`
}

// BackupStorageLocationEncryptionStatus says which keys a location holds
// and which its backups need.
type BackupStorageLocationEncryptionStatus struct {
	// ActiveKeyID is the key new backups are written with.
	// +optional
	ActiveKeyID string `json:"activeKeyID,omitempty"`
	// KeyIDs are the keys the Secret holds.
	// +optional
	// +listType=atomic
	KeyIDs []string `json:"keyIDs,omitempty"`
	// BackupsByKey counts the location's encrypted backups by the key
	// their records name.
	// +optional
	BackupsByKey map[string]int32 `json:"backupsByKey,omitempty"`
	// UnreadableBackups counts the backups written with a key the Secret
	// no longer holds: they cannot be restored until it is added back.
	// +optional
	UnreadableBackups int32 `json:"unreadableBackups,omitempty"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// BackupStorageLocationList is a list of BackupStorageLocations.
type BackupStorageLocationList struct {
	metav1.TypeMeta `json:",inline"`
	// Standard list metadata.
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`
	// Items are the locations.
	Items []BackupStorageLocation `json:"items"`
}
