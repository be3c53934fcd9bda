// Package schedule serves Schedules from etcd.
package schedule

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

// strategy lets users own a Schedule's spec. The template's requester is the
// user who last changed the spec: scheduled backups run with that user's
// rights, never with those of Ark's controllers.
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

func (st strategy) PrepareForCreate(ctx context.Context, obj runtime.Object) {
	s := obj.(*ark.Schedule)
	s.Status = ark.ScheduleStatus{Phase: ark.SchedulePhaseNew}
	s.Generation = 1
	s.Spec.Template.Requester = registry.Requester(ctx, st.Scope, s.Spec.Template.Requester)
	registry.ConfineToNamespace(&s.Spec.Template, s.Namespace, st.Scope)
}

func (st strategy) PrepareForUpdate(ctx context.Context, obj, old runtime.Object) {
	s, o := obj.(*ark.Schedule), old.(*ark.Schedule)
	s.Status = o.Status
	registry.ConfineToNamespace(&s.Spec.Template, s.Namespace, st.Scope)
	supplied := s.Spec.Template.Requester
	s.Spec.Template.Requester = o.Spec.Template.Requester
	if !apiequality.Semantic.DeepEqual(s.Spec, o.Spec) {
		s.Spec.Template.Requester = registry.Requester(ctx, st.Scope, supplied)
		s.Generation = o.Generation + 1
	}
}

func (s strategy) Validate(ctx context.Context, obj runtime.Object) field.ErrorList {
	return validation.ValidateSchedule(obj.(*ark.Schedule), s.Scope)
}

func (s strategy) ValidateUpdate(ctx context.Context, obj, old runtime.Object) field.ErrorList {
	return validation.ValidateScheduleUpdate(obj.(*ark.Schedule), old.(*ark.Schedule), s.Scope)
}

// statusStrategy lets controllers own status: the spec of the update is discarded.
type statusStrategy struct {
	strategy
}

func (statusStrategy) GetResetFields() map[fieldpath.APIVersion]*fieldpath.Set {
	return registry.StatusResetFields()
}

func (statusStrategy) PrepareForUpdate(ctx context.Context, obj, old runtime.Object) {
	obj.(*ark.Schedule).Spec = old.(*ark.Schedule).Spec
}

func (statusStrategy) ValidateUpdate(ctx context.Context, obj, old runtime.Object) field.ErrorList {
	return validation.ValidateScheduleStatusUpdate(obj.(*ark.Schedule), old.(*ark.Schedule))
}

// GetAttrs returns the labels and selectable fields of a Schedule.
func GetAttrs(obj runtime.Object) (labels.Set, fields.Set, error) {
	s, ok := obj.(*ark.Schedule)
	if !ok {
		return nil, nil, fmt.Errorf("not a Schedule: %T", obj)
	}
	return labels.Set(s.Labels), SelectableFields(s), nil
}

// SelectableFields are the fields a field selector may name.
func SelectableFields(s *ark.Schedule) fields.Set {
	return generic.AddObjectMetaFieldsSet(fields.Set{"status.phase": string(s.Status.Phase)}, &s.ObjectMeta, true)
}

// Match is the selection predicate of list and watch.
func Match(label labels.Selector, field fields.Selector) storage.SelectionPredicate {
	return storage.SelectionPredicate{Label: label, Field: field, GetAttrs: GetAttrs}
}
