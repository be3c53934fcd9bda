package v1

import (
	"time"

	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// DefaultBackupTTL is how long a backup is kept when its spec gives no TTL.
const DefaultBackupTTL = 720 * time.Hour

// DefaultHookTimeout bounds an exec hook that names no timeout.
const DefaultHookTimeout = 30 * time.Second

func addDefaultingFuncs(scheme *runtime.Scheme) error {
	return RegisterDefaults(scheme)
}

// SetDefaults_BackupSpec fills in the defaults the seed documents: volumes are
// snapshotted, backups live 30 days, and they go to the default location.
// Schedule templates are BackupSpecs too, so scheduled backups get the same.
func SetDefaults_BackupSpec(obj *BackupSpec) {
	if obj.SnapshotVolumes == nil {
		t := true
		obj.SnapshotVolumes = &t
	}
	if obj.TTL.Duration == 0 {
		obj.TTL = metav1.Duration{Duration: DefaultBackupTTL}
	}
	if obj.StorageLocation == "" {
		obj.StorageLocation = DefaultStorageLocation
	}
}

// SetDefaults_ExecHook makes a hook fail its backup unless told otherwise, and
// bounds how long it may run.
func SetDefaults_ExecHook(obj *ExecHook) {
	if obj.OnError == "" {
		obj.OnError = HookErrorModeFail
	}
	if obj.Timeout.Duration == 0 {
		obj.Timeout = metav1.Duration{Duration: DefaultHookTimeout}
	}
}

// DefaultRestoreHookWait bounds how long an exec restore hook waits for its
// container to run, when it names no waitTimeout.
const DefaultRestoreHookWait = 5 * time.Minute

// SetDefaults_ExecRestoreHook lets a failed restore hook be a warning, as in
// Velero (the objects are restored either way), and bounds its waits.
func SetDefaults_ExecRestoreHook(obj *ExecRestoreHook) {
	if obj.OnError == "" {
		obj.OnError = HookErrorModeContinue
	}
	if obj.ExecTimeout.Duration == 0 {
		obj.ExecTimeout = metav1.Duration{Duration: DefaultHookTimeout}
	}
	if obj.WaitTimeout.Duration == 0 {
		obj.WaitTimeout = metav1.Duration{Duration: DefaultRestoreHookWait}
	}
}

// SetDefaults_RestoreSpec restores volumes and leaves existing objects alone
// unless told otherwise.
func SetDefaults_RestoreSpec(obj *RestoreSpec) {
	if obj.RestorePVs == nil {
		t := true
		obj.RestorePVs = &t
	}
	if obj.ExistingResourcePolicy == "" {
		obj.ExistingResourcePolicy = ExistingResourcePolicyNone
	}
}

// SetDefaults_BackupStorageLocationSpec makes a location writable unless
// told otherwise, as Heptio Ark did, and of Ark's own format.
func SetDefaults_BackupStorageLocationSpec(obj *BackupStorageLocationSpec) {
	if obj.AccessMode == "" {
		obj.AccessMode = BackupStorageLocationAccessModeReadWrite
	}
	if obj.Format == "" {
		obj.Format = BackupStorageLocationFormatArk
	}
}

// SetDefaults_BackupResourceHookSpec gives the deprecated hooks alias the
// meaning it had in Heptio Ark: the hooks run before the pod is backed up.
// It moves them to pre, so the alias is never stored. An alias equal to
// pre is dropped: that is what `kubectl apply` of the same Heptio Ark
// manifest again sends (its hooks patched onto the stored pre). A spec
// that sets both differently keeps both, for validation to refuse.
func SetDefaults_BackupResourceHookSpec(obj *BackupResourceHookSpec) {
	switch {
	case len(obj.Hooks) == 0:
	case len(obj.PreHooks) == 0:
		obj.PreHooks, obj.Hooks = obj.Hooks, nil
	default:
		for _, hooks := range [][]BackupResourceHook{obj.Hooks, obj.PreHooks} {
			for i := range hooks {
				if hooks[i].Exec != nil {
					SetDefaults_ExecHook(hooks[i].Exec)
				}
			}
		}
		if apiequality.Semantic.DeepEqual(obj.Hooks, obj.PreHooks) {
			obj.Hooks = nil
		}
	}
}
