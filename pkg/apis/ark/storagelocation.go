package ark

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// BackupStorageLocation describes a bucket backups are kept in. Locations
// live in Ark's home namespace only: they are administrators' configuration,
// not something a namespace's users choose. This server serves one location,
// the one given by --backup-location; it appears as an object named by
// --storage-location (default "default") so it can be seen and watched.
type BackupStorageLocation struct {
	metav1.TypeMeta
	// Standard object metadata.
	metav1.ObjectMeta

	// Spec says where the bucket is and how it may be used.
	Spec BackupStorageLocationSpec
	// Status is written by Ark's storage location controller.
	Status BackupStorageLocationStatus
}

// BackupStorageLocationSpec says where a location's bucket is.
type BackupStorageLocationSpec struct {
	// Provider is the kind of object store: "file" (a directory), "gcp"
	// (Google Cloud Storage), "aws" (S3 and S3-compatible stores) or
	// "azure" (Azure Blob Storage; the bucket is the container).
	Provider string
	// ObjectStorage names the bucket and the prefix within it.
	ObjectStorage ObjectStorageLocation
	// Config holds provider-specific settings: for aws, Heptio Ark's keys
	// ("region", "s3Url", "s3ForcePathStyle", "caCert", ...), as in an
	// s3:// --backup-location's query; for azure, "storageAccount" and
	// "storageAccountURI" (the Blob service URL), as in an azure:// one;
	// for gcp, "pubsubSubscription" (projects/P/subscriptions/ID, of the
	// bucket's Pub/Sub notifications, to learn of changes without
	// polling), as in a gs:// one.
	Config map[string]string
	// Credential names the key of a Secret in Ark's home namespace that
	// holds the credentials of the bucket; unset means the server's own
	// (its environment, its service account).
	Credential *SecretKeyReference
	// AccessMode is ReadWrite (backups are written there) or ReadOnly
	// (backups are only read from there, as while migrating). Default ReadWrite.
	AccessMode BackupStorageLocationAccessMode
	// Default marks the location backups go to when they name none.
	Default bool
	// Format is the layout of the backups in the bucket: "ark" (Ark's own,
	// the default) or "velero" (a Velero server's: backups/<name>/velero-backup.json,
	// velero.io/v1), which Ark lists and restores from but never writes,
	// so a velero location must be ReadOnly.
	Format BackupStorageLocationFormat
	// Encryption, when set, encrypts the backups and restores written to
	// the location with keys from a Secret.
	Encryption *BackupStorageLocationEncryption
}

// BackupStorageLocationEncryption names a location's encryption keys.
type BackupStorageLocationEncryption struct {
	// KeySecret is the Secret, in Ark's home namespace, holding the keys.
	KeySecret string
}

// ObjectStorageLocation is a bucket and a prefix within it.
type ObjectStorageLocation struct {
	// Bucket is the bucket's name; for the "file" provider, the absolute
	// path of the directory.
	Bucket string
	// Prefix is the path within the bucket Ark's files are kept under.
	Prefix string
}

// SecretKeyReference names one key of a Secret in the location's namespace.
type SecretKeyReference struct {
	// Name is the Secret's name.
	Name string
	// Key is the key within the Secret.
	Key string
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
	Phase BackupStorageLocationPhase
	// LastSyncedTime is when the bucket was last listed successfully.
	LastSyncedTime *metav1.Time
	// BackupCount is how many backups the API serves from the location.
	BackupCount int32
	// Message explains an Unavailable phase: the last error.
	Message string
	// Encryption is what the location's keys can read.
	Encryption *BackupStorageLocationEncryptionStatus
}

// BackupStorageLocationEncryptionStatus says which keys a location holds
// and which its backups need.
type BackupStorageLocationEncryptionStatus struct {
	// ActiveKeyID is the key new backups are written with.
	ActiveKeyID string
	// KeyIDs are the keys the Secret holds.
	KeyIDs []string
	// BackupsByKey counts the encrypted backups by key.
	BackupsByKey map[string]int32
	// UnreadableBackups counts the backups whose key is not held.
	UnreadableBackups int32
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// BackupStorageLocationList is a list of BackupStorageLocations.
type BackupStorageLocationList struct {
	metav1.TypeMeta
	// Standard list metadata.
	metav1.ListMeta
	// Items are the locations.
	Items []BackupStorageLocation
}
