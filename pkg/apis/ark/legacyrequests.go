package ark

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// DeleteBackupRequest asks for a backup to be deleted, as Heptio Ark's
// client does; it is answered in the create and never stored (see the v1 type).
type DeleteBackupRequest struct {
	metav1.TypeMeta
	metav1.ObjectMeta

	Spec   DeleteBackupRequestSpec
	Status DeleteBackupRequestStatus
}

// DeleteBackupRequestSpec names the backup to delete.
type DeleteBackupRequestSpec struct {
	BackupName string
}

// DeleteBackupRequestPhase is where a deletion request is.
type DeleteBackupRequestPhase string

const (
	// DeleteBackupRequestPhaseProcessed is a request whose backup is now Deleting.
	DeleteBackupRequestPhaseProcessed DeleteBackupRequestPhase = "Processed"
)

// DeleteBackupRequestStatus is the answer to a DeleteBackupRequest.
type DeleteBackupRequestStatus struct {
	Phase  DeleteBackupRequestPhase
	Errors []string
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// DeleteBackupRequestList is a list of DeleteBackupRequests (always empty).
type DeleteBackupRequestList struct {
	metav1.TypeMeta
	metav1.ListMeta
	Items []DeleteBackupRequest
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// DownloadRequest is Heptio Ark's request for a pre-signed URL; Ark refuses
// every one (see the v1 type).
type DownloadRequest struct {
	metav1.TypeMeta
	metav1.ObjectMeta

	Spec   DownloadRequestSpec
	Status DownloadRequestStatus
}

// DownloadRequestSpec says which file is wanted.
type DownloadRequestSpec struct {
	Target DownloadTarget
}

// DownloadTargetKind is the kind of file a DownloadRequest asks for.
type DownloadTargetKind string

// The files Heptio Ark's DownloadRequests could name.
const (
	DownloadTargetKindBackupLog             DownloadTargetKind = "BackupLog"
	DownloadTargetKindBackupContents        DownloadTargetKind = "BackupContents"
	DownloadTargetKindBackupVolumeSnapshots DownloadTargetKind = "BackupVolumeSnapshots"
	DownloadTargetKindRestoreLog            DownloadTargetKind = "RestoreLog"
	DownloadTargetKindRestoreResults        DownloadTargetKind = "RestoreResults"
)

// DownloadTarget names a file by kind and owner.
type DownloadTarget struct {
	Kind DownloadTargetKind
	Name string
}

// DownloadRequestStatus is never written by Ark.
type DownloadRequestStatus struct {
	Phase       string
	DownloadURL string
	Expiration  *metav1.Time
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// DownloadRequestList is a list of DownloadRequests (never served).
type DownloadRequestList struct {
	metav1.TypeMeta
	metav1.ListMeta
	Items []DownloadRequest
}
