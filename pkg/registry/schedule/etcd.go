package schedule

import (
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/registry/generic"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"

	"github.com/arkproject/ark/pkg/apis/ark"
	"github.com/arkproject/ark/pkg/apis/ark/validation"
	"github.com/arkproject/ark/pkg/registry"
)

// REST is the storage of schedules.
type REST struct {
	*genericregistry.Store
}

// ShortNames are what `kubectl get sch` accepts.
func (*REST) ShortNames() []string { return []string{"sch"} }

// Categories puts schedules in `kubectl get ark`.
func (*REST) Categories() []string { return []string{"ark"} }

// NewREST returns the storage of schedules and of their status subresource.
func NewREST(scheme *runtime.Scheme, optsGetter generic.RESTOptionsGetter, scope validation.Scope) (*REST, *registry.StatusREST, error) {
	s := newStrategy(scheme, scope)
	store := &genericregistry.Store{
		NewFunc:                   func() runtime.Object { return &ark.Schedule{} },
		NewListFunc:               func() runtime.Object { return &ark.ScheduleList{} },
		PredicateFunc:             Match,
		DefaultQualifiedResource:  ark.Resource("schedules"),
		SingularQualifiedResource: ark.Resource("schedule"),
		CreateStrategy:            s,
		UpdateStrategy:            s,
		DeleteStrategy:            s,
		ResetFieldsStrategy:       s,
		TableConvertor:            tableConvertor{},
	}
	if err := store.CompleteWithOptions(&generic.StoreOptions{RESTOptions: optsGetter, AttrFunc: GetAttrs}); err != nil {
		return nil, nil, err
	}
	return &REST{store}, registry.NewStatusREST(store, statusStrategy{s}), nil
}
