package v1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// +genclient
// +genclient:onlyVerbs=create,list
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// DeleteBackupRequest asks for a backup to be deleted: Heptio Ark's client
// deletes backups this way. Ark answers it in the create, as if the
// requester had deleted the backup (the same rights are checked: the
// right to delete that backup, not just to create this request), and
// stores nothing: the backup's Deleting phase and events are the record.
type DeleteBackupRequest struct {
	metav1.TypeMeta `json:",inline"`
	// Standard object metadata. Heptio Ark's client sets generateName and
	// the labels ark.heptio.com/backup-name and ark.heptio.com/backup-uid;
	// a backup-uid label is a precondition on the backup's UID.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec names the backup.
	// +optional
	Spec DeleteBackupRequestSpec `json:"spec,omitempty"`
	// Status is the server's answer; whatever a client sends is replaced.
	// +optional
	Status DeleteBackupRequestStatus `json:"status,omitempty"`
}

// DeleteBackupRequestSpec names the backup to delete, in the request's namespace.
type DeleteBackupRequestSpec struct {
	// BackupName is the backup to delete.
	BackupName string `json:"backupName"`
}

// DeleteBackupRequestPhase is where a deletion request is. Heptio Ark also
// had New and InProgress for requests its controller had not finished; an
// Ark request is answered in its create.
type DeleteBackupRequestPhase string

const (
	// DeleteBackupRequestPhaseProcessed is a request whose backup is now Deleting.
	DeleteBackupRequestPhaseProcessed DeleteBackupRequestPhase = "Processed"
)

// DeleteBackupRequestStatus is the answer to a DeleteBackupRequest. A
// request that cannot be carried out is refused with an API error instead,
// so errors is always empty; it is kept for Heptio Ark's clients.
type DeleteBackupRequestStatus struct {
	// Phase is Processed.
	// +optional
	Phase DeleteBackupRequestPhase `json:"phase,omitempty"`
	// Errors is empty: failures are the create's error.
	// +optional
	// +listType=atomic
	Errors []string `json:"errors,omitempty"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// DeleteBackupRequestList is a list of DeleteBackupRequests: always empty,
// since none is stored, and served so that Heptio Ark's `ark backup
// describe` (which lists them) works.
type DeleteBackupRequestList struct {
	metav1.TypeMeta `json:",inline"`
	// Standard list metadata.
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`
	// Items is empty.
	Items []DeleteBackupRequest `json:"items"`
}

// +genclient
// +genclient:onlyVerbs=create
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// DownloadRequest is Heptio Ark's way to fetch a backup's or restore's
// files: its server answered with a pre-signed URL of the bucket, which
// anyone holding it could use for minutes, past RBAC and audit. Ark does
// not hand out such URLs: every create is refused with a message naming
// the subresource (and `ark` command) that serves the same file to the
// requesting user, checked by RBAC on every read. The type exists so that
// the refusal can name the right subresource for the target.
type DownloadRequest struct {
	metav1.TypeMeta `json:",inline"`
	// Standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec says which file is wanted.
	// +optional
	Spec DownloadRequestSpec `json:"spec,omitempty"`
	// Status is never written.
	// +optional
	Status DownloadRequestStatus `json:"status,omitempty"`
}

// DownloadRequestSpec says which file is wanted.
type DownloadRequestSpec struct {
	// Target is the file.
	Target DownloadTarget `json:"target"`
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

// DownloadTarget names a file by its kind and the Backup or Restore it belongs to.
type DownloadTarget struct {
	// Kind is the kind of file.
	Kind DownloadTargetKind `json:"kind"`
	// Name is the backup's or restore's name.
	Name string `json:"name"`
}

// DownloadRequestStatus is Heptio Ark's answer: a URL. Ark never writes it.
type DownloadRequestStatus struct {
	// Phase is never set by Ark.
	// +optional
	Phase string `json:"phase,omitempty"`
	// DownloadURL is never set by Ark.
	// +optional
	DownloadURL string `json:"downloadURL,omitempty"`
	// Expiration is never set by Ark.
	// +optional
	Expiration *metav1.Time `json:"expiration,omitempty"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// DownloadRequestList is a list of DownloadRequests, for the scheme's sake:
// none is ever stored or listed.
type DownloadRequestList struct {
	metav1.TypeMeta `json:",inline"`
	// Standard list metadata.
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`
	// Items is empty.
	Items []DownloadRequest `json:"items"`
}
