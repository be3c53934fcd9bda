package backupstoragelocation

import (
	"context"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/registry/generic"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"

	"github.com/arkproject/ark/pkg/apis/ark"
	"github.com/arkproject/ark/pkg/apis/ark/validation"
	"github.com/arkproject/ark/pkg/registry"
)

// REST is the storage of backup storage locations.
type REST struct {
	*genericregistry.Store
}

// ShortNames are what `kubectl get bsl` accepts, as with Velero.
func (*REST) ShortNames() []string { return []string{"bsl"} }

// Categories puts locations in `kubectl get ark`.
func (*REST) Categories() []string { return []string{"ark"} }

// NewREST returns the storage of locations and of their status subresource.
//
// mayReadSecret, when set, says whether the request's user may get a Secret
// of the home namespace: a location may name as its credential only a
// Secret its author may read, since the server reads it as itself.
func NewREST(scheme *runtime.Scheme, optsGetter generic.RESTOptionsGetter, scope validation.Scope, mayReadSecret func(ctx context.Context, name string) bool) (*REST, *registry.StatusREST, error) {
	s := strategy{Strategy: registry.NewStrategy(scheme, scope), mayReadSecret: mayReadSecret}
	store := &genericregistry.Store{
		NewFunc:                   func() runtime.Object { return &ark.BackupStorageLocation{} },
		NewListFunc:               func() runtime.Object { return &ark.BackupStorageLocationList{} },
		PredicateFunc:             Match,
		DefaultQualifiedResource:  ark.Resource("backupstoragelocations"),
		SingularQualifiedResource: ark.Resource("backupstoragelocation"),
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
