package ark

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// +genclient
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// Backup is a request to back up Kubernetes objects and persistent volumes,
// and the record of that backup. Backups are stored in the backup storage
// location (the bucket) itself, as backups/<name>/ark-backup.json, so the
// bucket is the single source of truth for which backups exist.
type Backup struct {
	metav1.TypeMeta
	// Standard object metadata.
	metav1.ObjectMeta

	// Spec says what to back up. It cannot change once the backup has started.
	Spec BackupSpec
	// Status is written by Ark's backup controller.
	Status BackupStatus
}

// BackupSpec says what a backup contains.
type BackupSpec struct {
	// IncludedNamespaces lists the namespaces to back up; empty or "*" means all.
	// Outside Ark's home namespace a backup may only include its own namespace.
	IncludedNamespaces []string
	// ExcludedNamespaces lists namespaces never backed up.
	ExcludedNamespaces []string
	// IncludedResources lists the resources to back up (plural, singular or short
	// names, optionally qualified by group as in "deployments.apps"); empty or "*" means all.
	IncludedResources []string
	// ExcludedResources lists resources never backed up.
	ExcludedResources []string
	// OrderedResources puts named items of a resource first in the tarball,
	// in the order given, the rest after them as listed. A restore hands a
	// resource's items to its workers in tarball order, so these start
	// first: a database's primary before its replicas. Keys are resource
	// names as in IncludedResources; values are comma-separated
	// "namespace/name" ("name" when cluster-scoped).
	OrderedResources map[string]string
	// LabelSelector restricts the backup to objects whose labels match.
	LabelSelector *metav1.LabelSelector
	// IncludeClusterResources says whether cluster-scoped resources are backed up.
	// Unset means: those related to included namespaced objects (such as the
	// persistent volumes of included claims), and all of them when the whole
	// cluster is backed up. Outside Ark's home namespace it may not be true.
	IncludeClusterResources *bool
	// SnapshotVolumes says whether persistent volumes are snapshotted. Default true.
	SnapshotVolumes *bool
	// TTL is how long the backup is kept before it expires and is deleted,
	// counted from its start. Default 720h (30 days).
	TTL metav1.Duration
	// Hooks are commands run in pods before and after they are backed up.
	Hooks BackupHooks
	// StorageLocation names the backup storage location. Default "default".
	StorageLocation string
	// VolumeSnapshotLocations name the VolumeSnapshotLocations whose
	// snapshotters and settings the backup's volume snapshots use.
	VolumeSnapshotLocations []string
	// Requester is the user who asked for the backup. The API server sets it on
	// create from the authenticated user; any value a client sends is replaced.
	// The backup controller reads only what this user may read.
	Requester *UserInfo
}

// UserInfo identifies an authenticated user, as a SubjectAccessReview needs it.
type UserInfo struct {
	// Username of the user.
	Username string
	// UID of the user, if the authenticator provides one.
	UID string
	// Groups the user belongs to.
	Groups []string
	// Extra attributes from the authenticator.
	Extra map[string]ExtraValue
}

// ExtraValue holds the values of one extra attribute of a user.
type ExtraValue []string

// BackupHooks holds the hooks of a backup.
type BackupHooks struct {
	// Resources are hook specifications, each applied to the pods it selects.
	Resources []BackupResourceHookSpec
}

// BackupResourceHookSpec selects pods and says which hooks run in them.
type BackupResourceHookSpec struct {
	// Name identifies the hook specification in logs.
	Name string
	// IncludedNamespaces restricts the hooks to pods in these namespaces.
	IncludedNamespaces []string
	// ExcludedNamespaces are namespaces whose pods never run these hooks.
	ExcludedNamespaces []string
	// IncludedResources restricts the hooks to these resources (default: pods).
	IncludedResources []string
	// ExcludedResources are resources whose items never run these hooks.
	ExcludedResources []string
	// LabelSelector restricts the hooks to pods whose labels match.
	LabelSelector *metav1.LabelSelector
	// Hooks is the deprecated name of PreHooks; defaulting moves it there.
	Hooks []BackupResourceHook
	// PreHooks run before the pod is backed up.
	PreHooks []BackupResourceHook
	// PostHooks run after the pod and its volumes are backed up.
	PostHooks []BackupResourceHook
}

// BackupResourceHook is one hook. Exec is the only kind today.
type BackupResourceHook struct {
	// Exec runs a command in a container of the pod.
	Exec *ExecHook
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
	Container string
	// Command and its arguments, run without a shell.
	Command []string
	// OnError is Continue or Fail. Default Fail.
	OnError HookErrorMode
	// Timeout bounds how long the command may run. Default 30s.
	Timeout metav1.Duration
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
	TotalItems int
	// ItemsDone is the number of items processed so far.
	ItemsDone int
}

// BackupStatus is what the backup controller observed.
type BackupStatus struct {
	// Phase is the backup's current phase.
	Phase BackupPhase
	// Version is the version of the backup tarball's format.
	Version int
	// ValidationErrors explain a FailedValidation phase.
	ValidationErrors []string
	// StartTimestamp is when the backup started.
	StartTimestamp *metav1.Time
	// CompletionTimestamp is when the backup finished, successfully or not.
	CompletionTimestamp *metav1.Time
	// Expiration is when the backup expires: start + ttl.
	Expiration *metav1.Time
	// Progress counts the items backed up so far.
	Progress *Progress
	// Warnings counts the warnings logged during the backup.
	Warnings int
	// Errors counts the errors logged during the backup.
	Errors int
	// FailureReason explains a Failed phase.
	FailureReason string
	// VolumeSnapshotsAttempted counts the volume snapshots started.
	VolumeSnapshotsAttempted int
	// VolumeSnapshotsCompleted counts the volume snapshots that succeeded.
	VolumeSnapshotsCompleted int
	// VolumeBackups are Heptio Ark's disk snapshots of an old record.
	VolumeBackups map[string]*VolumeBackupInfo
	// EncryptionKeyID is the location key the backup's data key was
	// wrapped with when it was written; empty when it is not encrypted.
	EncryptionKeyID string
	// Conditions are what the serving API observes of the backup; they
	// are never stored in the bucket.
	Conditions []metav1.Condition
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
	SnapshotID       string
	Type             string
	AvailabilityZone string
	Iops             *int64
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// BackupList is a list of Backups.
type BackupList struct {
	metav1.TypeMeta
	// Standard list metadata.
	metav1.ListMeta
	// Items are the backups.
	Items []Backup
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// BackupContents is what a finished backup holds, read from its files and
// checked against its manifest; backups/contents serves it.
type BackupContents struct {
	metav1.TypeMeta
	// Standard object metadata: the name, namespace and UID of the backup.
	metav1.ObjectMeta

	// Resources are the items backed up, one entry per resource, sorted by resource.
	Resources []BackupResourceItems
	// VolumeSnapshots are the backup's volume snapshots, sorted by persistent volume.
	VolumeSnapshots []BackupVolumeSnapshot
}

// BackupResourceItems are the items of one resource in a backup.
type BackupResourceItems struct {
	// Resource is the resource, group-qualified outside the core group.
	Resource string
	// Items are "namespace/name" or, cluster-scoped, "name", sorted.
	Items []string
}

// BackupVolumeSnapshot records one volume snapshot of a backup.
type BackupVolumeSnapshot struct {
	// PersistentVolume is the name of the snapshotted PersistentVolume.
	PersistentVolume string
	// Snapshotter is what took the snapshot.
	Snapshotter string
	// VolumeID is the volume as the snapshotter knows it.
	VolumeID string
	// SnapshotID is the snapshot as restores find it.
	SnapshotID string
	// Size of the snapshot in bytes, when known.
	Size int64
	// Phase is Completed or Failed.
	Phase string
	// Error says why a Failed snapshot failed.
	Error string
}

// +genclient
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// Restore is a request to restore objects and volumes from a backup, and the
// record of that restore.
type Restore struct {
	metav1.TypeMeta
	// Standard object metadata.
	metav1.ObjectMeta

	// Spec says what to restore. It cannot change once the restore has started.
	Spec RestoreSpec
	// Status is written by Ark's restore controller.
	Status RestoreStatus
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
	BackupName string
	// ScheduleName restores from the newest completed backup of this schedule.
	ScheduleName string
	// BackupNamespace is the namespace of the backup or schedule; empty is
	// the restore's own.
	BackupNamespace string
	// IncludedNamespaces lists the backed-up namespaces to restore; empty or "*" means all.
	IncludedNamespaces []string
	// ExcludedNamespaces lists backed-up namespaces not restored.
	ExcludedNamespaces []string
	// IncludedResources lists the resources to restore; empty or "*" means all.
	IncludedResources []string
	// ExcludedResources lists resources not restored.
	ExcludedResources []string
	// NamespaceMapping maps backed-up namespaces to the namespaces they are
	// restored into, e.g. {"abc": "def", "123": "456"}.
	NamespaceMapping map[string]string
	// LabelSelector restricts the restore to objects whose labels match.
	LabelSelector *metav1.LabelSelector
	// IncludeClusterResources says whether cluster-scoped resources are restored.
	IncludeClusterResources *bool
	// RestorePVs says whether persistent volumes are re-created from their snapshots. Default true.
	RestorePVs *bool
	// PreserveNodePorts keeps the node ports of every restored Service. By
	// default they are dropped, since the target cluster may already use them;
	// the ark.heptio.com/preserve-node-ports annotation keeps them per Service.
	PreserveNodePorts *bool
	// ExistingResourcePolicy is "none" (skip with a warning, the default) or "update".
	ExistingResourcePolicy ExistingResourcePolicy
	// Preview runs the restore without changing the cluster: see the v1 type.
	Preview bool
	// ResourceModifier names the ConfigMap of patch rules: see the v1 type.
	ResourceModifier *ResourceModifierReference
	// Hooks run in the pods the restore creates: see the v1 type.
	Hooks RestoreHooks
	// RestoreStatus says which resources get their status back: see the v1 type.
	RestoreStatus *RestoreStatusSpec
	// Requester is the user who asked for the restore, set by the API server on create.
	Requester *UserInfo
}

// RestoreStatusSpec selects the resources whose status is restored.
type RestoreStatusSpec struct {
	IncludedResources []string
	ExcludedResources []string
}

// RestoreHooks holds the hooks of a restore.
type RestoreHooks struct {
	Resources []RestoreResourceHookSpec
}

// RestoreResourceHookSpec selects restored pods and says which hooks run in them.
type RestoreResourceHookSpec struct {
	Name               string
	IncludedNamespaces []string
	ExcludedNamespaces []string
	IncludedResources  []string
	ExcludedResources  []string
	LabelSelector      *metav1.LabelSelector
	PostHooks          []RestoreResourceHook
}

// RestoreResourceHook is one hook: exactly one of Exec and Init.
type RestoreResourceHook struct {
	Exec *ExecRestoreHook
	Init *InitRestoreHook
}

// ExecRestoreHook runs a command in a restored pod once it runs.
type ExecRestoreHook struct {
	Container   string
	Command     []string
	OnError     HookErrorMode
	ExecTimeout metav1.Duration
	WaitTimeout metav1.Duration
}

// InitRestoreHook adds init containers to a restored pod.
type InitRestoreHook struct {
	InitContainers []runtime.RawExtension
}

// ResourceModifierReference names a ConfigMap in the restore's namespace.
type ResourceModifierReference struct {
	APIGroup string
	Kind     string
	Name     string
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
	// RestorePhasePreviewed is a finished preview: nothing was changed.
	RestorePhasePreviewed RestorePhase = "Previewed"
)

// RestorePreview counts what a preview found a restore would do.
type RestorePreview struct {
	WouldCreate   int
	WouldUpdate   int
	WouldSkip     int
	WouldConflict int
	WouldBeDenied int
	WouldFail     int
}

// RestoreStatus is what the restore controller observed.
type RestoreStatus struct {
	// Phase is the restore's current phase.
	Phase RestorePhase
	// BackupName is the backup actually restored (resolved from scheduleName if needed).
	BackupName string
	// ValidationErrors explain a FailedValidation phase.
	ValidationErrors []string
	// StartTimestamp is when the restore started.
	StartTimestamp *metav1.Time
	// CompletionTimestamp is when the restore finished.
	CompletionTimestamp *metav1.Time
	// Progress counts the items restored so far.
	Progress *Progress
	// Warnings counts the warnings of the restore.
	Warnings int
	// Errors counts the errors of the restore.
	Errors int
	// FailureReason explains a Failed phase.
	FailureReason string
	// Preview counts what a preview found, once it has finished.
	Preview *RestorePreview
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// RestoreList is a list of Restores.
type RestoreList struct {
	metav1.TypeMeta
	// Standard list metadata.
	metav1.ListMeta
	// Items are the restores.
	Items []Restore
}

// +genclient
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// Schedule takes backups on a cron schedule.
type Schedule struct {
	metav1.TypeMeta
	// Standard object metadata.
	metav1.ObjectMeta

	// Spec says when to back up and what.
	Spec ScheduleSpec
	// Status is written by Ark's schedule controller.
	Status ScheduleStatus
}

// ScheduleSpec says when to back up and what.
type ScheduleSpec struct {
	// Schedule is a cron expression: five fields ("0 */6 * * *"), a descriptor
	// ("@daily", "@every 6h"), optionally prefixed by CRON_TZ=<zone>.
	Schedule string
	// Template is the spec of every backup the schedule creates.
	Template BackupSpec
	// Paused stops the schedule from creating backups.
	Paused bool
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
	Phase SchedulePhase
	// LastBackup is when the schedule last created a backup.
	LastBackup *metav1.Time
	// LastBackupName is the name of the backup it last created.
	LastBackupName string
	// ValidationErrors explain a FailedValidation phase.
	ValidationErrors []string
	// LastFailure explains the latest run that took no backup.
	LastFailure *ScheduleFailure
}

// ScheduleFailure is a run of a schedule that took no backup.
type ScheduleFailure struct {
	// Time is the tick of the run.
	Time metav1.Time
	// BackupName is the name the backup would have had.
	BackupName string
	// Reason says why it was not taken.
	Reason string
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// ScheduleList is a list of Schedules.
type ScheduleList struct {
	metav1.TypeMeta
	// Standard list metadata.
	metav1.ListMeta
	// Items are the schedules.
	Items []Schedule
}
