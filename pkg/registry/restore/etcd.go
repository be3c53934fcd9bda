package restore

import (
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/registry/generic"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"

	"github.com/arkproject/ark/pkg/apis/ark"
	"github.com/arkproject/ark/pkg/apis/ark/validation"
	"github.com/arkproject/ark/pkg/registry"
)

// REST is the storage of restores.
type REST struct {
	*genericregistry.Store
}

// ShortNames are what `kubectl get rst` accepts.
func (*REST) ShortNames() []string { return []string{"rst"} }

// Categories puts restores in `kubectl get ark`.
func (*REST) Categories() []string { return []string{"ark"} }

// NewREST returns the storage of restores and of their status subresource;
// door, when set, checks at create that the backup can be restored.
func NewREST(scheme *runtime.Scheme, optsGetter generic.RESTOptionsGetter, scope validation.Scope, door *Door) (*REST, *registry.StatusREST, error) {
	s := newStrategy(scheme, scope, door)
	store := &genericregistry.Store{
		NewFunc:                   func() runtime.Object { return &ark.Restore{} },
		NewListFunc:               func() runtime.Object { return &ark.RestoreList{} },
		PredicateFunc:             Match,
		DefaultQualifiedResource:  ark.Resource("restores"),
		SingularQualifiedResource: ark.Resource("restore"),
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
