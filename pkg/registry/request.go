package registry

import (
	"context"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/apiserver/pkg/storage/names"

	"github.com/arkproject/ark/pkg/apis/ark"
)

// Request is a namespaced object that is answered in its create and never
// stored, as a TokenReview is: ServerStatusRequests, DeleteBackupRequests.
type Request interface {
	metav1.Object
	runtime.Object
}

// PrepareRequest does for such a create what the generic store does for a
// stored one before answering it: the object's namespace must be the
// request's, a generateName becomes a name, the object is validated
// (validate, a 422 of kind) and then admitted (createValidation, on a
// copy). It returns the namespace.
func PrepareRequest(ctx context.Context, req Request, resource, kind string, validate func() field.ErrorList, createValidation rest.ValidateObjectFunc) (string, error) {
	namespace, ok := genericapirequest.NamespaceFrom(ctx)
	if !ok || namespace == "" {
		return "", apierrors.NewBadRequest(resource + " are namespaced: the request names no namespace")
	}
	if err := rest.EnsureObjectNamespaceMatchesRequestNamespace(namespace, req); err != nil {
		return "", err
	}
	if req.GetName() == "" && req.GetGenerateName() != "" {
		req.SetName(names.SimpleNameGenerator.GenerateName(req.GetGenerateName()))
	}
	if errs := validate(); len(errs) > 0 {
		return "", apierrors.NewInvalid(ark.Kind(kind), req.GetName(), errs)
	}
	if createValidation != nil {
		if err := createValidation(ctx, req.DeepCopyObject()); err != nil {
			return "", err
		}
	}
	return namespace, nil
}
