package restore

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/arkproject/ark/pkg/apis/ark"
)

// BackupLookup returns a backup as the API serves it (from the bucket).
type BackupLookup func(ctx context.Context, namespace, name string) (*ark.Backup, error)

// MayReadBackup reports whether the user of ctx may get a backup: the door
// check answers only about backups its caller could see anyway.
type MayReadBackup func(ctx context.Context, namespace, name string) bool

// Door checks, when a Restore is created or re-pointed, that the backup it
// names exists and can be restored, so that a typo or an unfinished backup
// is a 422 at once rather than a FailedValidation later. Ark serves the
// backups, so it knows. What can only be known later (the requester's
// rights in a source namespace, a schedule's latest backup, a backup that
// goes away in the meantime) the restore controller still checks.
type Door struct {
	Backups BackupLookup
	MayRead MayReadBackup
}

func (d *Door) validate(ctx context.Context, r *ark.Restore) field.ErrorList {
	if d == nil || d.Backups == nil || r.Spec.BackupName == "" {
		return nil
	}
	ns := r.Namespace
	if r.Spec.BackupNamespace != "" {
		ns = r.Spec.BackupNamespace
	}
	// Someone who may not read the backup learns nothing of it here.
	if d.MayRead != nil && !d.MayRead(ctx, ns, r.Spec.BackupName) {
		return nil
	}
	path := field.NewPath("spec", "backupName")
	b, err := d.Backups(ctx, ns, r.Spec.BackupName)
	switch {
	case apierrors.IsNotFound(err):
		return field.ErrorList{field.NotFound(path, fmt.Sprintf("backup %q in namespace %s", r.Spec.BackupName, ns))}
	case err != nil:
		// The bucket cannot say now; the controller checks again.
		return nil
	}
	switch b.Status.Phase {
	case ark.BackupPhaseCompleted, ark.BackupPhasePartiallyFailed:
		return nil
	case ark.BackupPhaseCorrupt:
		return field.ErrorList{field.Invalid(path, r.Spec.BackupName, fmt.Sprintf("backup %q cannot be restored: %s", b.Name, b.Status.FailureReason))}
	}
	phase := b.Status.Phase
	if phase == "" {
		phase = ark.BackupPhaseNew
	}
	return field.ErrorList{field.Invalid(path, r.Spec.BackupName, fmt.Sprintf("backup %q is %s; only Completed and PartiallyFailed backups can be restored", b.Name, phase))}
}
