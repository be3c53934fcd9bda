package v1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// Well-known labels and annotations Ark reads or writes.
const (
	// LabelRestoreName is set on every object a restore creates.
	LabelRestoreName = "ark.heptio.com/restore-name"
	// LabelBackupName is set on every object a restore creates, naming the source backup.
	LabelBackupName = "ark.heptio.com/backup-name"
	// LabelExcludeFromBackup set to "true" on an object keeps it out of
	// every backup, whatever the backup selects: for objects a namespace's
	// owner knows are worthless or harmful in another cluster (caches,
	// per-cluster credentials). The backup's log names each one skipped.
	LabelExcludeFromBackup = "ark.heptio.com/exclude-from-backup"
	// LabelScheduleName is set on every backup a schedule creates.
	LabelScheduleName = "ark.heptio.com/schedule-name"
	// LegacyLabelScheduleName is Heptio Ark's label for the same: scheduled
	// backups carry both, so `ark backup get -l ark-schedule=S` of Heptio
	// Ark's client finds them, and restores from a schedule find the
	// backups Heptio Ark's servers wrote.
	LegacyLabelScheduleName = "ark-schedule"
	// DefaultStorageLocation is the name of the location configured by --backup-location.
	DefaultStorageLocation = "default"
	// AnnotationNamespaceUID records the UID of the namespace a Backup was
	// created in, so that the backups of a deleted namespace (which stay in
	// the bucket) never become those of a new namespace of the same name.
	// Restores and Schedules need none: they are deleted with their namespace.
	AnnotationNamespaceUID = "ark.heptio.com/namespace-uid"
	// AnnotationAdoptedFrom names the cluster a Backup was adopted from
	// (see the backups/adopt subresource), or "unsigned" for a record no
	// cluster's Ark had accepted: the lasting trace of a takeover.
	AnnotationAdoptedFrom = "ark.heptio.com/adopted-from"
)

// +genclient
// +genclient:method=Adopt,verb=update,subresource=adopt,input=Backup,result=Backup
// +genclient:method=Contents,verb=get,subresource=contents,result=BackupContents
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// Backup is a request to back up Kubernetes objects and persistent volumes,
// and the record of that backup. Backups are stored in the backup storage
// location (the bucket) itself, as backups/<name>/ark-backup.json, so the
// bucket is the single source of truth for which backups exist.
type Backup struct {
	metav1.TypeMeta `json:",inline"`
	// Standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec says what to back up. It cannot change once the backup has started.
	// +optional
	Spec BackupSpec `json:"spec,omitempty"`
	// Status is written by Ark's backup controller.
	// +optional
	Status BackupStatus `json:"status,omitempty"`
}

// BackupSpec says what a backup contains.
type BackupSpec struct {
	// IncludedNamespaces lists the namespaces to back up; empty or "*" means all.
	// Outside Ark's home namespace a backup may only include its own namespace.
	// +optional
	// +listType=atomic
	IncludedNamespaces []string `json:"includedNamespaces,omitempty"`
	// ExcludedNamespaces lists namespaces never backed up.
	// +optional
	// +listType=atomic
	ExcludedNamespaces []string `json:"excludedNamespaces,omitempty"`
	// IncludedResources lists the resources to back up (plural, singular or short
	// names, optionally qualified by group as in "deployments.apps"); empty or "*" means all.
	// +optional
	// +listType=atomic
	IncludedResources []string `json:"includedResources,omitempty"`
	// ExcludedResources lists resources never backed up.
	// +optional
	// +listType=atomic
	ExcludedResources []string `json:"excludedResources,omitempty"`
	// OrderedResources puts named items of a resource first in the tarball,
	// in the order given, the rest after them as listed. A restore hands a
	// resource's items to its workers in tarball order, so these start
	// first: a database's primary before its replicas. Keys are resource
	// names as in includedResources; values are comma-separated
	// "namespace/name" ("name" when cluster-scoped).
	// +optional
	OrderedResources map[string]string `json:"orderedResources,omitempty"`
	// LabelSelector restricts the backup to objects whose labels match.
	// +optional
	LabelSelector *metav1.LabelSelector `json:"labelSelector,omitempty"`
	// IncludeClusterResources says whether cluster-scoped resources are backed up.
	// Unset means: those related to included namespaced objects (such as the
	// persistent volumes of included claims), and all of them when the whole
	// cluster is backed up. Outside Ark's home namespace it may not be true.
	// +optional
	IncludeClusterResources *bool `json:"includeClusterResources,omitempty"`
	// SnapshotVolumes says whether persistent volumes are snapshotted. Default true.
	// +optional
	SnapshotVolumes *bool `json:"snapshotVolumes,omitempty"`
	// TTL is how long the backup is kept before it expires and is deleted,
	// counted from its start. Default 720h (30 days).
	// +optional
	TTL metav1.Duration `json:"ttl,omitempty"`
	// Hooks are commands run in pods before and after they are backed up.
	// +optional
	Hooks BackupHooks `json:"hooks,omitempty"`
	// StorageLocation names the backup storage location. Default "default".
	// +optional
	StorageLocation string `json:"storageLocation,omitempty"`
	// VolumeSnapshotLocations name the VolumeSnapshotLocations (in Ark's
	// home namespace) whose snapshotters and settings this backup's volume
	// snapshots use, at most one per provider. A volume no named location
	// handles is not snapshotted. Empty means every snapshotter the server
	// has, with its own settings.
	// +optional
	// +listType=atomic
	VolumeSnapshotLocations []string `json:"volumeSnapshotLocations,omitempty"`
	// Requester is the user who asked for the backup. The API server sets it on
	// create from the authenticated user; any value a client sends is replaced.
	// The backup controller reads only what this user may read.
	// +optional
	Requester *UserInfo `json:"requester,omitempty"`
}

// UserInfo identifies an authenticated user, as a SubjectAccessReview needs it.
type UserInfo struct {
	// Username of the user.
	Username string `json:"username"`
	// UID of the user, if the authenticator provides one.
	// +optional
	UID string `json:"uid,omitempty"`
	// Groups the user belongs to.
	// +optional
	// +listType=atomic
	Groups []string `json:"groups,omitempty"`
	// Extra attributes from the authenticator.
	// +optional
	Extra map[string]ExtraValue `json:"extra,omitempty"`
}

// ExtraValue holds the values of one extra attribute of a user.
// +protobuf.nullable=true
// +protobuf.options.(gogoproto.goproto_stringer)=false
type ExtraValue []string

// BackupHooks holds the hooks of a backup.
type BackupHooks struct {
	// Resources are hook specifications, each applied to the pods it selects.
	// +optional
	// +listType=atomic
	Resources []BackupResourceHookSpec `json:"resources,omitempty"`
}

// BackupResourceHookSpec selects pods and says which hooks run in them.
type BackupResourceHookSpec struct {
	// Name identifies the hook specification in logs.
	Name string `json:"name"`
	// IncludedNamespaces restricts the hooks to pods in these namespaces.
	// +optional
	// +listType=atomic
	IncludedNamespaces []string `json:"includedNamespaces,omitempty"`
	// ExcludedNamespaces are namespaces whose pods never run these hooks.
	// +optional
	// +listType=atomic
	ExcludedNamespaces []string `json:"excludedNamespaces,omitempty"`
	// IncludedResources restricts the hooks to these resources (default: pods).
	// +optional
	// +listType=atomic
	IncludedResources []string `json:"includedResources,omitempty"`
	// ExcludedResources are resources whose items never run these hooks.
	// +optional
	// +listType=atomic
	ExcludedResources []string `json:"excludedResources,omitempty"`
	// LabelSelector restricts the hooks to pods whose labels match.
	// +optional
	LabelSelector *metav1.LabelSelector `json:"labelSelector,omitempty"`
	// Hooks is the deprecated name of pre, kept so that Heptio Ark's
	// manifests run their hooks: the server moves it to pre on every write,
	// so it is never stored. Setting both is refused.
	// +optional
	// +listType=atomic
	Hooks []BackupResourceHook `json:"hooks,omitempty"`
	// PreHooks run before the pod is backed up.
	// +optional
	// +listType=atomic
	PreHooks []BackupResourceHook `json:"pre,omitempty"`
	// PostHooks run after the pod and its volumes are backed up.
	// +optional
	// +listType=atomic
	PostHooks []BackupResourceHook `json:"post,omitempty"`
}

// BackupResourceHook is one hook. Exec is the only kind today.
type BackupResourceHook struct {
	// Exec runs a command in a container of the pod.
	Exec *ExecHook `json:"exec"`
}

// HookErrorMode says what a failed hook does to its backup.
type HookErrorMode string

const (
	// HookErrorModeContinue records the failure and goes on with the backup.
	HookErrorModeContinue HookErrorMode = "Continue"
	// HookErrorModeFail fails the backup.
	HookErrorModeFail HookErrorMode = "Fail"
)

// ExecHook runs a command in a container through pods/exec.
type ExecHook struct {
	// Container is the container to run in; default: the pod's first container.
	// +optional
	Container string `json:"container,omitempty"`
	// Command and its arguments, run without a shell.
	// +listType=atomic
	Command []string `json:"command"`
	// OnError is Continue or Fail. Default Fail.
	// +optional
	OnError HookErrorMode `json:"onError,omitempty"`
	// Timeout bounds how long the command may run. Default 30s.
	// +optional
	Timeout metav1.Duration `json:"timeout,omitempty"`
}

// BackupPhase is where a backup is in its life.
type BackupPhase string

const (
	// BackupPhaseNew is a backup not yet picked up by the controller.
	BackupPhaseNew BackupPhase = "New"
	// BackupPhaseFailedValidation is a backup whose spec the controller rejected.
	BackupPhaseFailedValidation BackupPhase = "FailedValidation"
	// BackupPhaseInProgress is a backup being taken.
	BackupPhaseInProgress BackupPhase = "InProgress"
	// BackupPhaseCompleted is a backup whose every item was backed up.
	BackupPhaseCompleted BackupPhase = "Completed"
	// BackupPhasePartiallyFailed is a finished backup with errors on some items.
	BackupPhasePartiallyFailed BackupPhase = "PartiallyFailed"
	// BackupPhaseFailed is a backup that could not be taken.
	BackupPhaseFailed BackupPhase = "Failed"
	// BackupPhaseDeleting is a backup whose deletion was requested.
	BackupPhaseDeleting BackupPhase = "Deleting"
	// BackupPhaseCorrupt is a record in the bucket that cannot be read as a
	// Backup (unreadable, oversized, not a Backup, or misplaced). Nothing
	// of it is trusted: status.failureReason says what is wrong, and the
	// only thing that can be done with it is to delete it.
	BackupPhaseCorrupt BackupPhase = "Corrupt"
)

// Progress counts the items of a running operation.
type Progress struct {
	// TotalItems is the number of items found so far.
	// +optional
	TotalItems int `json:"totalItems,omitempty"`
	// ItemsDone is the number of items processed so far.
	// +optional
	ItemsDone int `json:"itemsDone,omitempty"`
}

// BackupStatus is what the backup controller observed.
type BackupStatus struct {
	// Phase is the backup's current phase.
	// +optional
	Phase BackupPhase `json:"phase,omitempty"`
	// Version is the version of the backup tarball's format.
	// +optional
	Version int `json:"version,omitempty"`
	// ValidationErrors explain a FailedValidation phase.
	// +optional
	// +listType=atomic
	ValidationErrors []string `json:"validationErrors,omitempty"`
	// StartTimestamp is when the backup started.
	// +optional
	StartTimestamp *metav1.Time `json:"startTimestamp,omitempty"`
	// CompletionTimestamp is when the backup finished, successfully or not.
	// +optional
	CompletionTimestamp *metav1.Time `json:"completionTimestamp,omitempty"`
	// Expiration is when the backup expires: start + ttl.
	// +optional
	Expiration *metav1.Time `json:"expiration,omitempty"`
	// Progress counts the items backed up so far.
	// +optional
	Progress *Progress `json:"progress,omitempty"`
	// Warnings counts the warnings logged during the backup.
	// +optional
	Warnings int `json:"warnings,omitempty"`
	// Errors counts the errors logged during the backup.
	// +optional
	Errors int `json:"errors,omitempty"`
	// FailureReason explains a Failed phase.
	// +optional
	FailureReason string `json:"failureReason,omitempty"`
	// VolumeSnapshotsAttempted counts the volume snapshots started.
	// +optional
	VolumeSnapshotsAttempted int `json:"volumeSnapshotsAttempted,omitempty"`
	// VolumeSnapshotsCompleted counts the volume snapshots that succeeded.
	// +optional
	VolumeSnapshotsCompleted int `json:"volumeSnapshotsCompleted,omitempty"`
	// VolumeBackups are the cloud disk snapshots of a backup Heptio Ark
	// (v0.9 and earlier servers, and v0.10's) recorded in the backup itself,
	// by persistent volume. Ark never writes it (its snapshots are in the
	// backup's volume-snapshot records); it keeps it in old records so
	// restores can name each snapshot they cannot restore.
	// +optional
	VolumeBackups map[string]*VolumeBackupInfo `json:"volumeBackups,omitempty"`
	// EncryptionKeyID is the ID of the location key that wrapped the
	// backup's data key when it was written (rotation may since have
	// wrapped it again under a newer key); empty when the backup is not
	// encrypted. Only the ID: the record is stored in plaintext.
	// +optional
	EncryptionKeyID string `json:"encryptionKeyID,omitempty"`
	// Conditions are what the serving API observes of the backup, derived
	// as it serves it and never stored in the bucket. Of an encrypted
	// backup, EncryptionKeyAvailable says whether the location's key
	// Secret holds the key the backup's data key is wrapped with; when it
	// is False (reason KeyNotHeld) the backup cannot be read or restored
	// until the key is put back.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

const (
	// BackupConditionEncryptionKeyAvailable says whether this server holds
	// the key an encrypted backup's data key is wrapped with.
	BackupConditionEncryptionKeyAvailable = "EncryptionKeyAvailable"
	// BackupReasonKeyHeld is the reason of an available key.
	BackupReasonKeyHeld = "KeyHeld"
	// BackupReasonKeyNotHeld is the reason of a key the location's Secret
	// does not hold: the backup cannot be read or restored.
	BackupReasonKeyNotHeld = "KeyNotHeld"
)

// VolumeBackupInfo is Heptio Ark's record of one disk snapshot.
type VolumeBackupInfo struct {
	// SnapshotID is the cloud provider's snapshot.
	SnapshotID string `json:"snapshotID"`
	// Type is the volume's type, such as gp2 or pd-ssd.
	// +optional
	Type string `json:"type,omitempty"`
	// AvailabilityZone is where the volume was.
	// +optional
	AvailabilityZone string `json:"availabilityZone,omitempty"`
	// Iops is the volume's provisioned IOPS, when it had any.
	// +optional
	Iops *int64 `json:"iops,omitempty"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// BackupList is a list of Backups.
type BackupList struct {
	metav1.TypeMeta `json:",inline"`
	// Standard list metadata.
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`
	// Items are the backups.
	Items []Backup `json:"items"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// BackupContents is what a finished backup holds: the items it backed up,
// by resource, and a record of each volume snapshot it took or tried to
// take. It is read from the backup's files in the backup storage location,
// checked against the backup's manifest, and served read-only by the
// backups/contents subresource, which RBAC grants apart from reading the
// Backup: the names of a namespace's objects are its contents too.
type BackupContents struct {
	metav1.TypeMeta `json:",inline"`
	// Standard object metadata: the name, namespace and UID of the backup.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Resources are the items backed up, one entry per resource, sorted
	// by resource.
	// +optional
	// +listType=atomic
	Resources []BackupResourceItems `json:"resources,omitempty"`
	// VolumeSnapshots are the backup's volume snapshots, completed and
	// failed, sorted by persistent volume.
	// +optional
	// +listType=atomic
	VolumeSnapshots []BackupVolumeSnapshot `json:"volumeSnapshots,omitempty"`
}

// BackupResourceItems are the items of one resource in a backup.
type BackupResourceItems struct {
	// Resource is the resource's plural name, qualified by its API group
	// outside the core group: "deployments.apps", "configmaps".
	Resource string `json:"resource"`
	// Items are the backed-up items of the resource, sorted: "namespace/name",
	// or "name" when the resource is cluster-scoped.
	// +listType=atomic
	Items []string `json:"items"`
}

// BackupVolumeSnapshot records one volume snapshot of a backup.
type BackupVolumeSnapshot struct {
	// PersistentVolume is the name of the snapshotted PersistentVolume.
	PersistentVolume string `json:"persistentVolume"`
	// Snapshotter is what took the snapshot: hostpath, csi or gce.
	Snapshotter string `json:"snapshotter"`
	// VolumeID is the volume as the snapshotter knows it: a path, a CSI
	// volume handle, a disk.
	// +optional
	VolumeID string `json:"volumeID,omitempty"`
	// SnapshotID is the snapshot as restores find it: an archive in the
	// backup's folder, a VolumeSnapshot ("namespace/name"), a disk snapshot.
	// +optional
	SnapshotID string `json:"snapshotID,omitempty"`
	// Size of the snapshot in bytes, when known.
	// +optional
	Size int64 `json:"size,omitempty"`
	// Phase is Completed or Failed.
	Phase string `json:"phase"`
	// Error says why a Failed snapshot failed.
	// +optional
	Error string `json:"error,omitempty"`
}

// +genclient
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// Restore is a request to restore objects and volumes from a backup, and the
// record of that restore.
type Restore struct {
	metav1.TypeMeta `json:",inline"`
	// Standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec says what to restore. It cannot change once the restore has started.
	// +optional
	Spec RestoreSpec `json:"spec,omitempty"`
	// Status is written by Ark's restore controller.
	// +optional
	Status RestoreStatus `json:"status,omitempty"`
}

// ExistingResourcePolicy says what a restore does with an object that already exists.
type ExistingResourcePolicy string

const (
	// ExistingResourcePolicyNone leaves existing objects alone and warns.
	ExistingResourcePolicyNone ExistingResourcePolicy = "none"
	// ExistingResourcePolicyUpdate updates existing objects to the backed-up state.
	ExistingResourcePolicyUpdate ExistingResourcePolicy = "update"
)

// RestoreSpec says what a restore brings back.
type RestoreSpec struct {
	// BackupName is the backup, in the restore's namespace, to restore from.
	// Exactly one of backupName and scheduleName is set.
	// +optional
	BackupName string `json:"backupName,omitempty"`
	// ScheduleName restores from the newest completed backup of this schedule.
	// +optional
	ScheduleName string `json:"scheduleName,omitempty"`
	// BackupNamespace is the namespace of the backup (or schedule) to
	// restore from; empty means the restore's own. A restore outside the
	// home namespace may take another namespace's backup only to restore it
	// into its own namespace (namespaceMapping), and only if its requester
	// may download that backup (backups/download there).
	// +optional
	BackupNamespace string `json:"backupNamespace,omitempty"`
	// IncludedNamespaces lists the backed-up namespaces to restore; empty or "*" means all.
	// +optional
	// +listType=atomic
	IncludedNamespaces []string `json:"includedNamespaces,omitempty"`
	// ExcludedNamespaces lists backed-up namespaces not restored.
	// +optional
	// +listType=atomic
	ExcludedNamespaces []string `json:"excludedNamespaces,omitempty"`
	// IncludedResources lists the resources to restore; empty or "*" means all.
	// +optional
	// +listType=atomic
	IncludedResources []string `json:"includedResources,omitempty"`
	// ExcludedResources lists resources not restored.
	// +optional
	// +listType=atomic
	ExcludedResources []string `json:"excludedResources,omitempty"`
	// NamespaceMapping maps backed-up namespaces to the namespaces they are
	// restored into, e.g. {"abc": "def", "123": "456"}.
	// +optional
	NamespaceMapping map[string]string `json:"namespaceMapping,omitempty"`
	// LabelSelector restricts the restore to objects whose labels match.
	// +optional
	LabelSelector *metav1.LabelSelector `json:"labelSelector,omitempty"`
	// IncludeClusterResources says whether cluster-scoped resources are restored.
	// +optional
	IncludeClusterResources *bool `json:"includeClusterResources,omitempty"`
	// RestorePVs says whether persistent volumes are re-created from their snapshots. Default true.
	// +optional
	RestorePVs *bool `json:"restorePVs,omitempty"`
	// PreserveNodePorts keeps the node ports of every restored Service. By
	// default they are dropped, since the target cluster may already use them;
	// the ark.heptio.com/preserve-node-ports annotation keeps them per Service.
	// +optional
	PreserveNodePorts *bool `json:"preserveNodePorts,omitempty"`
	// ExistingResourcePolicy is "none" (skip with a warning, the default) or "update".
	// +optional
	ExistingResourcePolicy ExistingResourcePolicy `json:"existingResourcePolicy,omitempty"`
	// Preview goes through every step of the restore (reading and verifying
	// the backup, filters, mappings, shaping, rights checks) but sends each
	// create and update with dryRun=All, so that the API server's
	// validation, admission and RBAC answer for real while nothing is
	// persisted. The results say what the restore would do to each item,
	// and the restore ends Previewed. Default false.
	// +optional
	Preview bool `json:"preview,omitempty"`
	// ResourceModifier names a ConfigMap in the restore's namespace whose
	// one data key holds resource modifier rules: each selects objects by
	// group-resource, name, namespace, labels and field values, and patches
	// them (JSON Patch, JSON Merge Patch or strategic merge patch) before
	// they are created. The ConfigMap is read as the requester when the
	// restore is created (a missing ConfigMap or a malformed rule is a 422)
	// and again when it runs; each item's result names the rules applied.
	// +optional
	ResourceModifier *ResourceModifierReference `json:"resourceModifier,omitempty"`
	// Hooks run in the pods the restore creates: init containers added to
	// them, and commands run in them once they run. They run as the
	// requester, like a backup's hooks.
	// +optional
	Hooks RestoreHooks `json:"hooks,omitempty"`
	// RestoreStatus selects the resources whose backed-up status is
	// written back after the object is created, through its status
	// subresource, as the requester; by default no status is restored
	// (controllers rebuild it). Meant for custom resources whose status
	// is state no controller can rebuild.
	// +optional
	RestoreStatus *RestoreStatusSpec `json:"restoreStatus,omitempty"`
	// Requester is the user who asked for the restore, set by the API server on create.
	// +optional
	Requester *UserInfo `json:"requester,omitempty"`
}

// RestoreStatusSpec selects the resources whose status is restored.
type RestoreStatusSpec struct {
	// IncludedResources are the resources whose status is restored; "*"
	// means all. Empty means none.
	// +optional
	// +listType=atomic
	IncludedResources []string `json:"includedResources,omitempty"`
	// ExcludedResources are resources whose status is never restored.
	// +optional
	// +listType=atomic
	ExcludedResources []string `json:"excludedResources,omitempty"`
}

// RestoreHooks holds the hooks of a restore.
type RestoreHooks struct {
	// Resources are hook specifications, each applied to the restored pods
	// it selects.
	// +optional
	// +listType=atomic
	Resources []RestoreResourceHookSpec `json:"resources,omitempty"`
}

// RestoreResourceHookSpec selects restored pods and says which hooks run in
// them. Namespaces are those the pods are restored into (after mapping).
type RestoreResourceHookSpec struct {
	// Name identifies the hook specification in results and logs.
	Name string `json:"name"`
	// IncludedNamespaces restricts the hooks to pods restored into these namespaces.
	// +optional
	// +listType=atomic
	IncludedNamespaces []string `json:"includedNamespaces,omitempty"`
	// ExcludedNamespaces are namespaces whose restored pods never run these hooks.
	// +optional
	// +listType=atomic
	ExcludedNamespaces []string `json:"excludedNamespaces,omitempty"`
	// IncludedResources restricts the hooks to these resources (default: pods).
	// +optional
	// +listType=atomic
	IncludedResources []string `json:"includedResources,omitempty"`
	// ExcludedResources are resources whose items never run these hooks.
	// +optional
	// +listType=atomic
	ExcludedResources []string `json:"excludedResources,omitempty"`
	// LabelSelector restricts the hooks to pods whose labels match.
	// +optional
	LabelSelector *metav1.LabelSelector `json:"labelSelector,omitempty"`
	// PostHooks run as the pods are restored: init hooks change the pod
	// before it is created, exec hooks run in it once it runs.
	// +optional
	// +listType=atomic
	PostHooks []RestoreResourceHook `json:"postHooks,omitempty"`
}

// RestoreResourceHook is one hook: exactly one of exec and init.
type RestoreResourceHook struct {
	// Exec runs a command in a container of the restored pod once it runs.
	// +optional
	Exec *ExecRestoreHook `json:"exec,omitempty"`
	// Init adds init containers to the restored pod.
	// +optional
	Init *InitRestoreHook `json:"init,omitempty"`
}

// ExecRestoreHook runs a command in a restored pod's container through
// pods/exec, once the container is running.
type ExecRestoreHook struct {
	// Container is the container to run in; default: the pod's first container.
	// +optional
	Container string `json:"container,omitempty"`
	// Command and its arguments, run without a shell.
	// +listType=atomic
	Command []string `json:"command"`
	// OnError is Continue (the default, as in Velero: the objects are
	// restored either way) or Fail, which makes the restore PartiallyFailed.
	// +optional
	OnError HookErrorMode `json:"onError,omitempty"`
	// ExecTimeout bounds how long the command may run. Default 30s.
	// +optional
	ExecTimeout metav1.Duration `json:"execTimeout,omitempty"`
	// WaitTimeout bounds how long to wait for the container to run.
	// Default 5m.
	// +optional
	WaitTimeout metav1.Duration `json:"waitTimeout,omitempty"`
}

// InitRestoreHook adds init containers to a restored pod, before its own,
// so data can be prepared before the application starts.
type InitRestoreHook struct {
	// InitContainers are core/v1 Containers.
	// +listType=atomic
	InitContainers []runtime.RawExtension `json:"initContainers"`
}

// ResourceModifierReference names a ConfigMap in the restore's namespace,
// in the shape of a TypedLocalObjectReference, as Velero's restores have it.
type ResourceModifierReference struct {
	// APIGroup is empty: a ConfigMap is in the core group.
	// +optional
	APIGroup string `json:"apiGroup,omitempty"`
	// Kind is ConfigMap.
	Kind string `json:"kind"`
	// Name is the ConfigMap's name.
	Name string `json:"name"`
}

// RestorePhase is where a restore is in its life.
type RestorePhase string

const (
	// RestorePhaseNew is a restore not yet picked up by the controller.
	RestorePhaseNew RestorePhase = "New"
	// RestorePhaseFailedValidation is a restore whose spec the controller rejected.
	RestorePhaseFailedValidation RestorePhase = "FailedValidation"
	// RestorePhaseInProgress is a restore being carried out.
	RestorePhaseInProgress RestorePhase = "InProgress"
	// RestorePhaseCompleted is a restore whose every item was restored.
	RestorePhaseCompleted RestorePhase = "Completed"
	// RestorePhasePartiallyFailed is a finished restore with errors on some items.
	RestorePhasePartiallyFailed RestorePhase = "PartiallyFailed"
	// RestorePhaseFailed is a restore that could not be carried out.
	RestorePhaseFailed RestorePhase = "Failed"
	// RestorePhasePreviewed is a finished preview (spec.preview): nothing
	// was changed, and status.preview counts what a restore would do.
	RestorePhasePreviewed RestorePhase = "Previewed"
)

// RestorePreview counts what a preview found a restore would do, item by
// item; the restore's results hold each item's outcome.
type RestorePreview struct {
	// WouldCreate counts the items that do not exist and would be created.
	// +optional
	WouldCreate int `json:"wouldCreate,omitempty"`
	// WouldUpdate counts existing items the existing-resource policy
	// "update" would change.
	// +optional
	WouldUpdate int `json:"wouldUpdate,omitempty"`
	// WouldSkip counts the items left alone: identical to the backed-up
	// object, or skipped by the restore's rules.
	// +optional
	WouldSkip int `json:"wouldSkip,omitempty"`
	// WouldConflict counts existing items that differ from the backed-up
	// object and that the policy "none" would leave as they are.
	// +optional
	WouldConflict int `json:"wouldConflict,omitempty"`
	// WouldBeDenied counts the items the requester's rights or the API
	// server's admission would refuse.
	// +optional
	WouldBeDenied int `json:"wouldBeDenied,omitempty"`
	// WouldFail counts the items that would fail otherwise, e.g. as invalid.
	// +optional
	WouldFail int `json:"wouldFail,omitempty"`
}

// RestoreStatus is what the restore controller observed.
type RestoreStatus struct {
	// Phase is the restore's current phase.
	// +optional
	Phase RestorePhase `json:"phase,omitempty"`
	// BackupName is the backup actually restored (resolved from scheduleName if needed).
	// +optional
	BackupName string `json:"backupName,omitempty"`
	// ValidationErrors explain a FailedValidation phase.
	// +optional
	// +listType=atomic
	ValidationErrors []string `json:"validationErrors,omitempty"`
	// StartTimestamp is when the restore started.
	// +optional
	StartTimestamp *metav1.Time `json:"startTimestamp,omitempty"`
	// CompletionTimestamp is when the restore finished.
	// +optional
	CompletionTimestamp *metav1.Time `json:"completionTimestamp,omitempty"`
	// Progress counts the items restored so far.
	// +optional
	Progress *Progress `json:"progress,omitempty"`
	// Warnings counts the warnings of the restore.
	// +optional
	Warnings int `json:"warnings,omitempty"`
	// Errors counts the errors of the restore.
	// +optional
	Errors int `json:"errors,omitempty"`
	// FailureReason explains a Failed phase.
	// +optional
	FailureReason string `json:"failureReason,omitempty"`
	// Preview counts what a preview found, once it has finished.
	// +optional
	Preview *RestorePreview `json:"preview,omitempty"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// RestoreList is a list of Restores.
type RestoreList struct {
	metav1.TypeMeta `json:",inline"`
	// Standard list metadata.
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`
	// Items are the restores.
	Items []Restore `json:"items"`
}

// +genclient
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// Schedule takes backups on a cron schedule.
type Schedule struct {
	metav1.TypeMeta `json:",inline"`
	// Standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec says when to back up and what.
	// +optional
	Spec ScheduleSpec `json:"spec,omitempty"`
	// Status is written by Ark's schedule controller.
	// +optional
	Status ScheduleStatus `json:"status,omitempty"`
}

// ScheduleSpec says when to back up and what.
type ScheduleSpec struct {
	// Schedule is a cron expression: five fields ("0 */6 * * *"), a descriptor
	// ("@daily", "@every 6h"), optionally prefixed by CRON_TZ=<zone>.
	Schedule string `json:"schedule"`
	// Template is the spec of every backup the schedule creates.
	// +optional
	Template BackupSpec `json:"template,omitempty"`
	// Paused stops the schedule from creating backups.
	// +optional
	Paused bool `json:"paused,omitempty"`
}

// SchedulePhase is the state of a schedule.
type SchedulePhase string

const (
	// SchedulePhaseNew is a schedule not yet seen by the controller.
	SchedulePhaseNew SchedulePhase = "New"
	// SchedulePhaseEnabled is a valid schedule creating backups.
	SchedulePhaseEnabled SchedulePhase = "Enabled"
	// SchedulePhaseFailedValidation is a schedule whose spec the controller rejected.
	SchedulePhaseFailedValidation SchedulePhase = "FailedValidation"
)

// ScheduleStatus is what the schedule controller observed.
type ScheduleStatus struct {
	// Phase is the schedule's state.
	// +optional
	Phase SchedulePhase `json:"phase,omitempty"`
	// LastBackup is when the schedule last created a backup.
	// +optional
	LastBackup *metav1.Time `json:"lastBackup,omitempty"`
	// LastBackupName is the name of the backup it last created.
	// +optional
	LastBackupName string `json:"lastBackupName,omitempty"`
	// ValidationErrors explain a FailedValidation phase.
	// +optional
	// +listType=atomic
	ValidationErrors []string `json:"validationErrors,omitempty"`
	// LastFailure explains the latest run that took no backup, such as one
	// whose backup name was already taken by a backup not of this schedule.
	// +optional
	LastFailure *ScheduleFailure `json:"lastFailure,omitempty"`
}

// ScheduleFailure is a run of a schedule that took no backup.
type ScheduleFailure struct {
	// Time is the tick of the run.
	Time metav1.Time `json:"time"`
	// BackupName is the name the backup would have had.
	BackupName string `json:"backupName"`
	// Reason says why it was not taken.
	Reason string `json:"reason"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// ScheduleList is a list of Schedules.
type ScheduleList struct {
	metav1.TypeMeta `json:",inline"`
	// Standard list metadata.
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`
	// Items are the schedules.
	Items []Schedule `json:"items"`
}
