package backup

import (
	"context"
	"fmt"

	apiequality "k8s.io/apimachinery/pkg/api/equality"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/registry/generic"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/apiserver/pkg/storage"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"

	"github.com/arkproject/ark/pkg/apis/ark"
	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
	"github.com/arkproject/ark/pkg/apis/ark/validation"
	"github.com/arkproject/ark/pkg/registry"
)

// strategy lets users own a Backup's spec; its status is reset on create and
// kept on update. The requester is recorded on create and again on every
// change of the spec: whoever last defined what a backup does is the one it
// acts as, so editing someone else's queued backup never borrows their
// rights. It runs the
// same create/update checks as a genericregistry.Store would, but the object
// is then written to the bucket instead of etcd.
type strategy struct {
	registry.Strategy
}

var (
	_ rest.RESTCreateStrategy  = strategy{}
	_ rest.RESTUpdateStrategy  = strategy{}
	_ rest.ResetFieldsStrategy = strategy{}
)

func newStrategy(typer runtime.ObjectTyper, scope validation.Scope) strategy {
	return strategy{registry.NewStrategy(typer, scope)}
}

func (s strategy) PrepareForCreate(ctx context.Context, obj runtime.Object) {
	r := obj.(*ark.Backup)
	r.Status = ark.BackupStatus{Phase: ark.BackupPhaseNew}
	r.Generation = 1
	r.Spec.Requester = registry.Requester(ctx, s.Scope, r.Spec.Requester)
	registry.ConfineToNamespace(&r.Spec, r.Namespace, s.Scope)
}

func (s strategy) PrepareForUpdate(ctx context.Context, obj, old runtime.Object) {
	r, o := obj.(*ark.Backup), old.(*ark.Backup)
	r.Status = o.Status
	supplied := r.Spec.Requester
	r.Spec.Requester = o.Spec.Requester
	if !apiequality.Semantic.DeepEqual(r.Spec, o.Spec) {
		r.Generation = o.Generation + 1
		if o.Status.StartTimestamp != nil && validation.OnlyTTLChanged(&r.Spec, &o.Spec) {
			// A started backup's retention: it expires that long after it
			// started; it runs no more, so it acts as nobody new.
			exp := metav1.NewTime(o.Status.StartTimestamp.Add(r.Spec.TTL.Duration))
			r.Status.Expiration = &exp
			registry.ConfineToNamespace(&r.Spec, r.Namespace, s.Scope)
			return
		}
		r.Spec.Requester = registry.Requester(ctx, s.Scope, supplied)
		// A corrected spec gets another chance: the controller takes New ones.
		if o.Status.Phase == ark.BackupPhaseFailedValidation {
			r.Status = ark.BackupStatus{Phase: ark.BackupPhaseNew}
		}
	}
	registry.ConfineToNamespace(&r.Spec, r.Namespace, s.Scope)
}

func (s strategy) Validate(ctx context.Context, obj runtime.Object) field.ErrorList {
	return validation.ValidateBackup(obj.(*ark.Backup), s.Scope)
}

func (s strategy) ValidateUpdate(ctx context.Context, obj, old runtime.Object) field.ErrorList {
	return validation.ValidateBackupUpdate(obj.(*ark.Backup), old.(*ark.Backup), s.Scope)
}

// statusStrategy lets controllers own status: the spec of the update is discarded.
type statusStrategy struct {
	strategy
}

func (statusStrategy) GetResetFields() map[fieldpath.APIVersion]*fieldpath.Set {
	return registry.StatusResetFields()
}

func (statusStrategy) PrepareForUpdate(ctx context.Context, obj, old runtime.Object) {
	r, o := obj.(*ark.Backup), old.(*ark.Backup)
	r.Spec = o.Spec
}

func (statusStrategy) ValidateUpdate(ctx context.Context, obj, old runtime.Object) field.ErrorList {
	return validation.ValidateBackupStatusUpdate(obj.(*ark.Backup), old.(*ark.Backup))
}

// GetAttrs returns the labels and selectable fields of a Backup.
func GetAttrs(obj runtime.Object) (labels.Set, fields.Set, error) {
	r, ok := obj.(*ark.Backup)
	if !ok {
		return nil, nil, fmt.Errorf("not a Backup: %T", obj)
	}
	return labels.Set(r.Labels), SelectableFields(r), nil
}

// SelectableFields are the fields a field selector may name.
func SelectableFields(r *ark.Backup) fields.Set {
	return generic.AddObjectMetaFieldsSet(fields.Set{
		"status.phase":         string(r.Status.Phase),
		"spec.storageLocation": r.Spec.StorageLocation,
		"spec.scheduleName":    r.Labels[arkv1.LabelScheduleName],
	}, &r.ObjectMeta, true)
}

// Match is the selection predicate of list and watch.
func Match(label labels.Selector, field fields.Selector) storage.SelectionPredicate {
	return storage.SelectionPredicate{Label: label, Field: field, GetAttrs: GetAttrs}
}
