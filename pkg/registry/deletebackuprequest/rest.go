// Package deletebackuprequest serves DeleteBackupRequests, the way Heptio
// Ark's client deletes backups (`ark backup delete`). A create deletes the
// backup as `kubectl delete backup` does, as the requesting user and with
// the same check of their right to delete it, and is answered at once;
// nothing is stored (the backup's Deleting phase, its events and the audit
// log are the record), so there is nothing to get, watch or delete, and a
// list is always empty.
package deletebackuprequest

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation/field"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/klog/v2"

	"github.com/arkproject/ark/pkg/apis/ark"
	"github.com/arkproject/ark/pkg/apis/ark/validation"
	"github.com/arkproject/ark/pkg/registry"
)

// REST answers DeleteBackupRequests.
type REST struct {
	rest.TableConvertor
	// MayDelete says whether the request's user may delete the backup
	// namespace/name: creating this request must not be a way around
	// RBAC's delete verb on backups.
	MayDelete func(ctx context.Context, namespace, name string) bool
	// Delete deletes the backup namespace/name as `kubectl delete backup`
	// does (the backups storage's Delete, with ctx's namespace and user).
	Delete func(ctx context.Context, name string, options *metav1.DeleteOptions) (runtime.Object, bool, error)
}

// NewREST returns the storage of deletebackuprequests.
func NewREST(mayDelete func(ctx context.Context, namespace, name string) bool, del func(ctx context.Context, name string, options *metav1.DeleteOptions) (runtime.Object, bool, error)) *REST {
	return &REST{TableConvertor: rest.NewDefaultTableConvertor(ark.Resource("deletebackuprequests")), MayDelete: mayDelete, Delete: del}
}

var _ interface {
	rest.Creater
	rest.Lister
	rest.Scoper
	rest.Storage
	rest.SingularNameProvider
} = &REST{}

// New returns an empty DeleteBackupRequest.
func (*REST) New() runtime.Object { return &ark.DeleteBackupRequest{} }

// NewList returns an empty list.
func (*REST) NewList() runtime.Object { return &ark.DeleteBackupRequestList{} }

// Destroy does nothing: there is no store behind the resource.
func (*REST) Destroy() {}

// NamespaceScoped is true: a request deletes a backup of its own namespace.
func (*REST) NamespaceScoped() bool { return true }

// GetSingularName is the resource's singular name.
func (*REST) GetSingularName() string { return "deletebackuprequest" }

// List is always empty: requests are answered in their create and not kept.
// It is served because Heptio Ark's `ark backup describe` lists them.
func (*REST) List(ctx context.Context, options *metainternalversion.ListOptions) (runtime.Object, error) {
	return &ark.DeleteBackupRequestList{}, nil
}

// Create deletes the backup the request names and returns the request,
// Processed. Anything that stops the deletion (no such backup, no right
// to delete it, another cluster's backup, a read-only location, a changed
// UID) is the create's error, with the backup storage's own status.
func (r *REST) Create(ctx context.Context, obj runtime.Object, createValidation rest.ValidateObjectFunc, options *metav1.CreateOptions) (runtime.Object, error) {
	req, ok := obj.(*ark.DeleteBackupRequest)
	if !ok {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("not a DeleteBackupRequest: %T", obj))
	}
	validate := func() field.ErrorList { return validation.ValidateDeleteBackupRequest(req) }
	namespace, err := registry.PrepareRequest(ctx, req, "deletebackuprequests", "DeleteBackupRequest", validate, createValidation)
	if err != nil {
		return nil, err
	}
	backup := req.Spec.BackupName
	user := ""
	if u, ok := genericapirequest.UserFrom(ctx); ok {
		user = u.GetName()
	}
	if r.MayDelete == nil || !r.MayDelete(ctx, namespace, backup) {
		return nil, apierrors.NewForbidden(ark.Resource("backups"), backup,
			fmt.Errorf("user %q may not delete backups in namespace %q, and a DeleteBackupRequest deletes the backup", user, namespace))
	}
	del := &metav1.DeleteOptions{}
	if options != nil {
		del.DryRun = options.DryRun
	}
	if uid := req.Labels[validation.LabelDeleteBackupUID]; uid != "" {
		u := types.UID(uid)
		del.Preconditions = &metav1.Preconditions{UID: &u}
	}
	if _, _, err := r.Delete(ctx, backup, del); err != nil {
		return nil, err
	}
	out := req.DeepCopy()
	out.ManagedFields, out.ResourceVersion, out.UID = nil, "", ""
	out.CreationTimestamp = metav1.Now()
	out.Status = ark.DeleteBackupRequestStatus{Phase: ark.DeleteBackupRequestPhaseProcessed}
	klog.InfoS("Backup deleted by a DeleteBackupRequest", "backup", klog.KRef(namespace, backup), "request", req.Name, "user", user)
	return out, nil
}
