package volumesnapshotlocation

import (
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/registry/generic"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"

	"github.com/arkproject/ark/pkg/apis/ark"
	"github.com/arkproject/ark/pkg/apis/ark/validation"
	"github.com/arkproject/ark/pkg/registry"
)

// REST is the storage of volume snapshot locations.
type REST struct {
	*genericregistry.Store
}

// ShortNames are what `kubectl get vsl` accepts, as with Heptio Ark and Velero.
func (*REST) ShortNames() []string { return []string{"vsl"} }

// Categories puts locations in `kubectl get ark`.
func (*REST) Categories() []string { return []string{"ark"} }

// NewREST returns the storage of locations and of their status subresource.
func NewREST(scheme *runtime.Scheme, optsGetter generic.RESTOptionsGetter, scope validation.Scope) (*REST, *registry.StatusREST, error) {
	s := strategy{registry.NewStrategy(scheme, scope)}
	store := &genericregistry.Store{
		NewFunc:                   func() runtime.Object { return &ark.VolumeSnapshotLocation{} },
		NewListFunc:               func() runtime.Object { return &ark.VolumeSnapshotLocationList{} },
		PredicateFunc:             Match,
		DefaultQualifiedResource:  ark.Resource("volumesnapshotlocations"),
		SingularQualifiedResource: ark.Resource("volumesnapshotlocation"),
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
