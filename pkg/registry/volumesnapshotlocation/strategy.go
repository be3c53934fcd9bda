// Package volumesnapshotlocation serves VolumeSnapshotLocations from etcd.
// Nothing acts on them yet: they record administrators' intent, checked
// when written, and their status stays empty until a controller owns it.
package volumesnapshotlocation

import (
	"context"
	"fmt"

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

// strategy lets administrators own a location's spec; its status is a
// controller's, never what a user claims.
type strategy struct {
	registry.Strategy
}

var (
	_ rest.RESTCreateStrategy  = strategy{}
	_ rest.RESTUpdateStrategy  = strategy{}
	_ rest.ResetFieldsStrategy = strategy{}
)

func (strategy) PrepareForCreate(ctx context.Context, obj runtime.Object) {
	l := obj.(*ark.VolumeSnapshotLocation)
	l.Status = ark.VolumeSnapshotLocationStatus{}
	l.Generation = 1
}

func (strategy) PrepareForUpdate(ctx context.Context, obj, old runtime.Object) {
	l, o := obj.(*ark.VolumeSnapshotLocation), old.(*ark.VolumeSnapshotLocation)
	l.Status = o.Status
	if !apiequality.Semantic.DeepEqual(l.Spec, o.Spec) {
		l.Generation = o.Generation + 1
	}
}

func (s strategy) Validate(ctx context.Context, obj runtime.Object) field.ErrorList {
	return validation.ValidateVolumeSnapshotLocation(obj.(*ark.VolumeSnapshotLocation), s.Scope)
}

func (s strategy) ValidateUpdate(ctx context.Context, obj, old runtime.Object) field.ErrorList {
	return validation.ValidateVolumeSnapshotLocationUpdate(obj.(*ark.VolumeSnapshotLocation), old.(*ark.VolumeSnapshotLocation))
}

// statusStrategy lets controllers own status: the spec of the update is discarded.
type statusStrategy struct {
	strategy
}

func (statusStrategy) GetResetFields() map[fieldpath.APIVersion]*fieldpath.Set {
	return registry.StatusResetFields()
}

func (statusStrategy) PrepareForUpdate(ctx context.Context, obj, old runtime.Object) {
	obj.(*ark.VolumeSnapshotLocation).Spec = old.(*ark.VolumeSnapshotLocation).Spec
}

func (statusStrategy) ValidateUpdate(ctx context.Context, obj, old runtime.Object) field.ErrorList {
	return validation.ValidateVolumeSnapshotLocationStatusUpdate(obj.(*ark.VolumeSnapshotLocation), old.(*ark.VolumeSnapshotLocation))
}

// GetAttrs returns the labels and selectable fields of a location.
func GetAttrs(obj runtime.Object) (labels.Set, fields.Set, error) {
	l, ok := obj.(*ark.VolumeSnapshotLocation)
	if !ok {
		return nil, nil, fmt.Errorf("not a VolumeSnapshotLocation: %T", obj)
	}
	return labels.Set(l.Labels), SelectableFields(l), nil
}

// SelectableFields are the fields a field selector may name.
func SelectableFields(l *ark.VolumeSnapshotLocation) fields.Set {
	return generic.AddObjectMetaFieldsSet(fields.Set{
		"status.phase":  string(l.Status.Phase),
		"spec.provider": l.Spec.Provider,
	}, &l.ObjectMeta, true)
}

// Match is the selection predicate of list and watch.
func Match(label labels.Selector, field fields.Selector) storage.SelectionPredicate {
	return storage.SelectionPredicate{Label: label, Field: field, GetAttrs: GetAttrs}
}
