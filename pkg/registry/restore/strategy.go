// Package restore serves Restores from etcd.
package restore

import (
	"context"
	"fmt"
	"reflect"

	apiequality "k8s.io/apimachinery/pkg/api/equality"

	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/registry/generic"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/apiserver/pkg/storage"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"

	"github.com/arkproject/ark/pkg/apis/ark"
	"github.com/arkproject/ark/pkg/apis/ark/validation"
	"github.com/arkproject/ark/pkg/registry"
)

// strategy lets users own a Restore's spec; its status is reset on create and
// kept on update. The requester is recorded on create and again on every
// change of the spec, so a restore re-pointed by someone else acts as them.
type strategy struct {
	registry.Strategy
	door *Door
}

var (
	_ rest.RESTCreateStrategy  = strategy{}
	_ rest.RESTUpdateStrategy  = strategy{}
	_ rest.ResetFieldsStrategy = strategy{}
)

func newStrategy(typer runtime.ObjectTyper, scope validation.Scope, door *Door) strategy {
	return strategy{registry.NewStrategy(typer, scope), door}
}

func (s strategy) PrepareForCreate(ctx context.Context, obj runtime.Object) {
	r := obj.(*ark.Restore)
	r.Status = ark.RestoreStatus{Phase: ark.RestorePhaseNew}
	r.Generation = 1
	r.Spec.Requester = registry.Requester(ctx, s.Scope, r.Spec.Requester)
}

func (s strategy) PrepareForUpdate(ctx context.Context, obj, old runtime.Object) {
	r, o := obj.(*ark.Restore), old.(*ark.Restore)
	r.Status = o.Status
	supplied := r.Spec.Requester
	r.Spec.Requester = o.Spec.Requester
	if !apiequality.Semantic.DeepEqual(r.Spec, o.Spec) {
		r.Spec.Requester = registry.Requester(ctx, s.Scope, supplied)
		r.Generation = o.Generation + 1
		// A corrected spec gets another chance: the controller takes New ones.
		if o.Status.Phase == ark.RestorePhaseFailedValidation {
			r.Status = ark.RestoreStatus{Phase: ark.RestorePhaseNew}
		}
	}
}

func (s strategy) Validate(ctx context.Context, obj runtime.Object) field.ErrorList {
	r := obj.(*ark.Restore)
	allErrs := validation.ValidateRestore(r, s.Scope)
	if len(allErrs) == 0 {
		allErrs = s.door.validate(ctx, r)
	}
	return allErrs
}

func (s strategy) ValidateUpdate(ctx context.Context, obj, old runtime.Object) field.ErrorList {
	r, o := obj.(*ark.Restore), old.(*ark.Restore)
	allErrs := validation.ValidateRestoreUpdate(r, o, s.Scope)
	if len(allErrs) == 0 && (r.Spec.BackupName != o.Spec.BackupName || r.Spec.BackupNamespace != o.Spec.BackupNamespace ||
		!reflect.DeepEqual(r.Spec.ResourceModifier, o.Spec.ResourceModifier)) {
		allErrs = s.door.validate(ctx, r)
	}
	return allErrs
}

// statusStrategy lets controllers own status: the spec of the update is discarded.
type statusStrategy struct {
	strategy
}

func (statusStrategy) GetResetFields() map[fieldpath.APIVersion]*fieldpath.Set {
	return registry.StatusResetFields()
}

func (statusStrategy) PrepareForUpdate(ctx context.Context, obj, old runtime.Object) {
	r, o := obj.(*ark.Restore), old.(*ark.Restore)
	r.Spec = o.Spec
	if o.Spec.ScheduleName != "" && o.Spec.BackupName == "" && o.Status.BackupName == "" && r.Status.BackupName != "" {
		// The controller chose the schedule's backup: record it in the
		// spec too, where Heptio Ark did and its client reads it. This is
		// the one change to the spec the status may make, once.
		r.Spec.BackupName = r.Status.BackupName
	}
}

func (statusStrategy) ValidateUpdate(ctx context.Context, obj, old runtime.Object) field.ErrorList {
	return validation.ValidateRestoreStatusUpdate(obj.(*ark.Restore), old.(*ark.Restore))
}

// GetAttrs returns the labels and selectable fields of a Restore.
func GetAttrs(obj runtime.Object) (labels.Set, fields.Set, error) {
	r, ok := obj.(*ark.Restore)
	if !ok {
		return nil, nil, fmt.Errorf("not a Restore: %T", obj)
	}
	return labels.Set(r.Labels), SelectableFields(r), nil
}

// SelectableFields are the fields a field selector may name.
func SelectableFields(r *ark.Restore) fields.Set {
	return generic.AddObjectMetaFieldsSet(fields.Set{
		"status.phase":    string(r.Status.Phase),
		"spec.backupName": r.Spec.BackupName,
	}, &r.ObjectMeta, true)
}

// Match is the selection predicate of list and watch.
func Match(label labels.Selector, field fields.Selector) storage.SelectionPredicate {
	return storage.SelectionPredicate{Label: label, Field: field, GetAttrs: GetAttrs}
}
