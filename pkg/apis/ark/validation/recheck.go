package validation

import (
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/arkproject/ark/pkg/apis/ark"
	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
)

// RecheckBackup validates a backup's spec again as it starts, with the
// rules its namespace has now: a Backup can arrive through the bucket rather
// than the API, and rules (confinement, bounds) may have changed since it
// was accepted. Its name is checked too, as the API would have: one too
// long for the storage location's file names would fail only halfway
// through, on the bucket. It returns the problems as messages with field
// paths.
func RecheckBackup(b *arkv1.Backup, scope Scope) []string {
	var spec ark.BackupSpec
	if err := arkv1.Convert_v1_BackupSpec_To_ark_BackupSpec(&b.Spec, &spec, nil); err != nil {
		return []string{"spec: " + err.Error()}
	}
	errs := backupNameTooLong(b.Name)
	return messages(append(errs, ValidateBackupSpec(&spec, b.Namespace, scope, field.NewPath("spec"))...))
}

// RecheckRestore validates a restore's spec again as it starts.
func RecheckRestore(r *arkv1.Restore, scope Scope) []string {
	var spec ark.RestoreSpec
	if err := arkv1.Convert_v1_RestoreSpec_To_ark_RestoreSpec(&r.Spec, &spec, nil); err != nil {
		return []string{"spec: " + err.Error()}
	}
	return messages(ValidateRestoreSpec(&spec, r.Namespace, scope, field.NewPath("spec")))
}

func messages(errs field.ErrorList) []string {
	out := make([]string, 0, len(errs))
	for _, e := range errs {
		out = append(out, e.Error())
	}
	return out
}
