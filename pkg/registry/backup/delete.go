package backup

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/apiserver/pkg/util/dryrun"
	"k8s.io/klog/v2"

	"github.com/arkproject/ark/pkg/apis/ark"
	"github.com/arkproject/ark/pkg/registry"
)

// Delete marks a backup Deleting; the garbage collector then removes its
// snapshots and files, and the backup leaves the list when its metadata file
// is gone. The request returns the object in its Deleting state.
func (r *REST) Delete(ctx context.Context, name string, deleteValidation rest.ValidateObjectFunc, options *metav1.DeleteOptions) (runtime.Object, bool, error) {
	for attempt := 1; ; attempt++ {
		old, gen, loc, err := r.loadInNamespace(ctx, name)
		if err != nil {
			return nil, false, err
		}
		if r.namespaceBeingDeleted(ctx, old.Namespace) {
			return nil, false, apierrors.NewNotFound(ark.Resource("backups"), name)
		}
		if options != nil && options.Preconditions != nil {
			if p := options.Preconditions.UID; p != nil && *p != old.UID {
				return nil, false, apierrors.NewConflict(ark.Resource("backups"), name, fmt.Errorf("precondition failed: UID in precondition: %v, UID in object meta: %v", *p, old.UID))
			}
			if p := options.Preconditions.ResourceVersion; p != nil && *p != old.ResourceVersion {
				return nil, false, apierrors.NewConflict(ark.Resource("backups"), name, fmt.Errorf("precondition failed: ResourceVersion in precondition: %v, ResourceVersion in object meta: %v", *p, old.ResourceVersion))
			}
		}
		if err := r.forbidForeign(old, "delete"); err != nil {
			return nil, false, err
		}
		if deleteValidation != nil {
			if err := deleteValidation(ctx, old.DeepCopyObject()); err != nil {
				return nil, false, err
			}
		}
		if old.Status.Phase == ark.BackupPhaseDeleting {
			return old.DeepCopy(), false, nil
		}
		b := old.DeepCopy()
		if old.Status.Phase == ark.BackupPhaseCorrupt {
			// Nothing of a corrupt record is kept: a fresh record of
			// this cluster's, Deleting, takes its place, and the garbage
			// collector removes the folder's files (and only snapshots
			// made for that backup) as for any other backup.
			var err error
			if b, err = r.replaceCorrupt(ctx, old); err != nil {
				return nil, false, err
			}
		}
		b.Status.Phase = ark.BackupPhaseDeleting
		if b.DeletionTimestamp == nil {
			now := metav1.NewTime(r.clock.Now())
			b.DeletionTimestamp = &now
		}
		if options != nil && dryrun.IsDryRun(options.DryRun) {
			return b, false, nil
		}
		saved, again, err := r.swapOrRetry(ctx, loc, name, b, gen, attempt)
		if again {
			continue
		}
		if err != nil {
			return nil, false, err
		}
		klog.InfoS("Backup marked for deletion", "backup", klog.KObj(b))
		return saved, false, nil
	}
}

// replaceCorrupt returns the record that replaces a Corrupt one being
// deleted: its name, the location, the reason, and this cluster's signature
// with the deleting user as requester.
func (r *REST) replaceCorrupt(ctx context.Context, old *ark.Backup) (*ark.Backup, error) {
	b := &ark.Backup{}
	b.Name, b.Namespace = old.Name, old.Namespace
	b.UID = types.UID(uuid.NewString())
	b.CreationTimestamp = old.CreationTimestamp
	b.Spec.StorageLocation = old.Spec.StorageLocation
	b.Spec.Requester = registry.Requester(ctx, r.strategy.Scope, nil)
	b.Status.FailureReason = "deleted as corrupt: " + old.Status.FailureReason
	if err := r.sign(b); err != nil {
		return nil, err
	}
	return b, nil
}

// DeleteCollection marks every selected backup Deleting. In a namespace that
// is terminating it does nothing: deleting a namespace never deletes backups.
func (r *REST) DeleteCollection(ctx context.Context, deleteValidation rest.ValidateObjectFunc, options *metav1.DeleteOptions, listOptions *metainternalversion.ListOptions) (runtime.Object, error) {
	if ns, _ := genericapirequest.NamespaceFrom(ctx); ns != "" && r.namespaceBeingDeleted(ctx, ns) {
		return &ark.BackupList{}, nil
	}
	listObj, err := r.List(ctx, listOptions)
	if err != nil {
		return nil, err
	}
	out := &ark.BackupList{ListMeta: listObj.(*ark.BackupList).ListMeta}
	for _, b := range listObj.(*ark.BackupList).Items {
		if r.foreign(&b) {
			continue // another cluster's to delete
		}
		if loc, err := r.locations.Get(b.Spec.StorageLocation); err == nil && loc.ReadOnly {
			continue // nothing is deleted in a ReadOnly location
		}
		obj, _, err := r.Delete(genericapirequest.WithNamespace(ctx, b.Namespace), b.Name, deleteValidation, options)
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out.Items = append(out.Items, *obj.(*ark.Backup))
	}
	return out, nil
}

// namespaceControllers are the identities kube-controller-manager's namespace
// controller acts as; their deletes are never honoured, because deleting a
// namespace must not delete the backups in the bucket.
var namespaceControllers = map[string]bool{
	"system:serviceaccount:kube-system:namespace-controller": true,
	"system:kube-controller-manager":                         true,
}

// namespaceBeingDeleted reports whether a delete in ns is part of deleting
// the namespace: the namespace is hidden, the caller is the namespace
// controller, or the cluster says the namespace is terminating. Any one is
// enough; a failed live check falls back to the other two.
func (r *REST) namespaceBeingDeleted(ctx context.Context, ns string) bool {
	if !r.visible(ns) {
		return true
	}
	if u, ok := genericapirequest.UserFrom(ctx); ok && namespaceControllers[u.GetName()] {
		return true
	}
	if r.terminating != nil {
		terminating, err := r.terminating(ctx, ns)
		if err != nil {
			klog.ErrorS(err, "Checking whether a namespace is terminating", "namespace", ns)
			return false
		}
		return terminating
	}
	return false
}
