package restore

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/arkproject/ark/pkg/apis/ark"
	"github.com/arkproject/ark/pkg/restore/modifiers"
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
	// ConfigMap reads a ConfigMap's data as the requester (the resource
	// modifier rules a restore names); nil in standalone mode.
	ConfigMap ConfigMapLookup
}

// ConfigMapLookup reads the data of a ConfigMap as user.
type ConfigMapLookup func(ctx context.Context, user *ark.UserInfo, namespace, name string) (map[string]string, error)

func (d *Door) validate(ctx context.Context, r *ark.Restore) field.ErrorList {
	if d == nil {
		return nil
	}
	return append(d.validateBackup(ctx, r), d.validateModifiers(ctx, r)...)
}

// validateModifiers reads the resource modifier rules as the requester, who
// must be able to read them, and parses them: a missing ConfigMap or a
// malformed rule is found now, not when the restore runs.
func (d *Door) validateModifiers(ctx context.Context, r *ark.Restore) field.ErrorList {
	ref := r.Spec.ResourceModifier
	if d.ConfigMap == nil || ref == nil || r.Spec.Requester == nil {
		return nil
	}
	path := field.NewPath("spec", "resourceModifier", "name")
	data, err := d.ConfigMap(ctx, r.Spec.Requester, r.Namespace, ref.Name)
	switch {
	case apierrors.IsNotFound(err):
		return field.ErrorList{field.NotFound(path, fmt.Sprintf("ConfigMap %q in namespace %s", ref.Name, r.Namespace))}
	case apierrors.IsForbidden(err):
		return field.ErrorList{field.Forbidden(path, fmt.Sprintf("%s may not read ConfigMap %q in namespace %s, which the restore would read as them", r.Spec.Requester.Username, ref.Name, r.Namespace))}
	case err != nil:
		// The cluster cannot say now; the restore reads it again.
		return nil
	}
	if _, err := modifiers.Parse(data); err != nil {
		return field.ErrorList{field.Invalid(path, ref.Name, err.Error())}
	}
	return nil
}

func (d *Door) validateBackup(ctx context.Context, r *ark.Restore) field.ErrorList {
	if d.Backups == nil || r.Spec.BackupName == "" {
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
		if c := meta.FindStatusCondition(b.Status.Conditions, ark.BackupConditionEncryptionKeyAvailable); c != nil && c.Status == metav1.ConditionFalse {
			return field.ErrorList{field.Invalid(path, r.Spec.BackupName, fmt.Sprintf("backup %q cannot be restored: %s", b.Name, c.Message))}
		}
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
