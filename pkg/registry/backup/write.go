package backup

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/apiserver/pkg/util/dryrun"
	"k8s.io/klog/v2"

	"github.com/arkproject/ark/pkg/apis/ark"
	"github.com/arkproject/ark/pkg/locations"
	"github.com/arkproject/ark/pkg/objectstore"
)

// encode serializes a Backup for ark-backup.json. Its resourceVersion is not
// stored: it is the generation of the file itself; nor are its conditions,
// which the serving API derives.
func (r *REST) encode(b *ark.Backup) ([]byte, error) {
	c := b.DeepCopy()
	c.ResourceVersion = ""
	c.Status.Conditions = nil // derived as served, never stored (see conditions.go)
	data, err := runtime.Encode(r.codec, c)
	if err != nil {
		return nil, apierrors.NewInternalError(fmt.Errorf("encoding backup %s: %w", b.Name, err))
	}
	return data, nil
}

// Create writes ark-backup.json with a does-not-exist precondition, so two
// creators (two replicas, two schedules) can never both win.
func (r *REST) Create(ctx context.Context, obj runtime.Object, createValidation rest.ValidateObjectFunc, options *metav1.CreateOptions) (runtime.Object, error) {
	b, ok := obj.(*ark.Backup)
	if !ok {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("not a Backup: %T", obj))
	}
	rest.FillObjectMetaSystemFields(b)
	if b.GenerateName != "" && b.Name == "" {
		b.Name = r.strategy.GenerateName(b.GenerateName)
	}
	if b.Spec.StorageLocation == "" {
		def, err := r.locations.Default()
		if err != nil {
			return nil, apierrors.NewInvalid(ark.Kind("Backup"), b.Name, field.ErrorList{field.Required(field.NewPath("spec", "storageLocation"), err.Error())})
		}
		b.Spec.StorageLocation = def.Name
	}
	if err := rest.BeforeCreate(r.strategy, ctx, b); err != nil {
		return nil, err
	}
	if createValidation != nil {
		if err := createValidation(ctx, b.DeepCopyObject()); err != nil {
			return nil, err
		}
	}
	dropOrigin(b)
	b.Status.Conditions = nil // the server's to derive, whatever was sent
	if err := r.recordLifetime(ctx, b); err != nil {
		return nil, err
	}
	if err := r.sign(b); err != nil {
		return nil, err
	}
	if options != nil && dryrun.IsDryRun(options.DryRun) {
		return b, nil
	}
	loc, store, err := r.writable(b.Name, b.Spec.StorageLocation)
	if err != nil {
		return nil, err
	}
	// A name is one backup in every location: one held elsewhere (as of
	// that location's latest poll) is taken.
	if other := r.ix.heldElsewhere(loc.Name, b.Namespace, b.Name); other != "" {
		return nil, apierrors.NewAlreadyExists(ark.Resource("backups"), fmt.Sprintf("%s (in backup storage location %q)", b.Name, other))
	}
	data, err := r.encode(b)
	if err != nil {
		return nil, err
	}
	attrs, err := objectstore.PutBytes(ctx, store, r.ref(b.Namespace, b.Name).MetadataKey(), data, objectstore.Conditions{DoesNotExist: true})
	switch {
	case errors.Is(err, objectstore.ErrPreconditionFailed):
		return nil, apierrors.NewAlreadyExists(ark.Resource("backups"), b.Name)
	case err != nil:
		return nil, r.toAPIError(b.Name, unavailable(loc, err))
	}
	b.ResourceVersion = strconv.FormatInt(attrs.Generation, 10)
	b.Status.Conditions = r.ix.observe(loc.Name, b.DeepCopy(), attrs)
	klog.V(2).InfoS("Created backup in storage location", "backup", klog.KObj(b), "location", loc.Name, "generation", attrs.Generation)
	return b, nil
}

// writable returns a location by name and its store, or the API's answer
// when backups cannot be written there: 422 for an unknown or ReadOnly
// location (nothing is ever written to one), 503 for one that could not be
// opened.
func (r *REST) writable(backup, name string) (*locations.Location, objectstore.Store, error) {
	p := field.NewPath("spec", "storageLocation")
	loc, err := r.locations.Get(name)
	if err != nil {
		return nil, nil, apierrors.NewInvalid(ark.Kind("Backup"), backup, field.ErrorList{field.NotSupported(p, name, r.locations.Names())})
	}
	store, err := loc.Writable()
	switch {
	case errors.Is(err, locations.ErrReadOnly):
		return nil, nil, apierrors.NewInvalid(ark.Kind("Backup"), backup, field.ErrorList{field.Forbidden(p, fmt.Sprintf("backup storage location %q is ReadOnly: nothing is written, expired or deleted there", name))})
	case err != nil:
		return nil, nil, r.toAPIError(backup, unavailable(loc, err))
	}
	return loc, store, nil
}

// Update changes a backup's spec or metadata. With forceAllowCreate (a
// server-side apply of a backup that does not exist yet) it creates the
// backup, as etcd-backed storage does, so GitOps tools that apply on the
// server manage Backups as they do Restores and Schedules.
func (r *REST) Update(ctx context.Context, name string, objInfo rest.UpdatedObjectInfo, createValidation rest.ValidateObjectFunc, updateValidation rest.ValidateObjectUpdateFunc, forceAllowCreate bool, options *metav1.UpdateOptions) (runtime.Object, bool, error) {
	obj, created, err := r.update(ctx, name, objInfo, updateValidation, r.strategy, options)
	if !forceAllowCreate || !apierrors.IsNotFound(err) {
		return obj, created, err
	}
	newObj, err := objInfo.UpdatedObject(ctx, nil)
	if err != nil {
		return nil, false, err
	}
	if b, ok := newObj.(*ark.Backup); ok && b.Name != name {
		return nil, false, apierrors.NewBadRequest(fmt.Sprintf("the name of the object (%s) does not match the name on the URL (%s)", b.Name, name))
	}
	createOptions := &metav1.CreateOptions{}
	if options != nil {
		createOptions.DryRun, createOptions.FieldManager = options.DryRun, options.FieldManager
	}
	obj, err = r.Create(ctx, newObj, createValidation, createOptions)
	if err != nil {
		return nil, false, err
	}
	return obj, true, nil
}

// update is a compare-and-swap on the metadata file's generation. A caller's
// resourceVersion must match the stored one (else 409); without one, a
// concurrent change makes us re-read and re-apply, as etcd storage does.
func (r *REST) update(ctx context.Context, name string, objInfo rest.UpdatedObjectInfo, updateValidation rest.ValidateObjectUpdateFunc, strat rest.RESTUpdateStrategy, options *metav1.UpdateOptions) (runtime.Object, bool, error) {
	for attempt := 1; ; attempt++ {
		old, gen, loc, err := r.loadInNamespace(ctx, name)
		if err != nil {
			return nil, false, err
		}
		obj, err := objInfo.UpdatedObject(ctx, old.DeepCopy())
		if err != nil {
			return nil, false, err
		}
		b, ok := obj.(*ark.Backup)
		if !ok {
			return nil, false, apierrors.NewBadRequest(fmt.Sprintf("not a Backup: %T", obj))
		}
		requested := b.ResourceVersion
		if requested != "" && requested != old.ResourceVersion {
			return nil, false, r.conflict(name)
		}
		if err := refuseCorrupt(old); err != nil {
			return nil, false, err
		}
		// A backup's spec and status are its own cluster's alone: its
		// users change the one, its controllers the other.
		if err := r.forbidForeign(old, "change"); err != nil {
			return nil, false, err
		}
		_, status := strat.(statusStrategy)
		if err := rest.BeforeUpdate(strat, ctx, b, old); err != nil {
			return nil, false, err
		}
		if updateValidation != nil {
			if err := updateValidation(ctx, b.DeepCopyObject(), old.DeepCopyObject()); err != nil {
				return nil, false, err
			}
		}
		keepOrigin(b, old)
		b.Status.Conditions = old.Status.Conditions // the server's to derive, whatever was sent
		if !status {
			r.adopt(ctx, b, old)
			if err := r.sign(b); err != nil {
				return nil, false, err
			}
		}
		b.ResourceVersion = old.ResourceVersion
		if apiequality.Semantic.DeepEqual(b, old) {
			return b, false, nil // nothing to write
		}
		if options != nil && dryrun.IsDryRun(options.DryRun) {
			return b, false, nil
		}
		// If someone wrote in between, re-read and re-apply: a caller's
		// stale resourceVersion is then caught by the check above, while a
		// patch (whose version comes from the object it was applied to) lands.
		saved, again, err := r.swapOrRetry(ctx, loc, name, b, gen, attempt)
		if again {
			continue
		}
		if err != nil {
			return nil, false, err
		}
		return saved, false, nil
	}
}

// refuseCorrupt answers an update of a Corrupt record: nothing can be
// made of it but a deletion.
func refuseCorrupt(old *ark.Backup) error {
	if old.Status.Phase != ark.BackupPhaseCorrupt {
		return nil
	}
	return apierrors.NewInvalid(ark.Kind("Backup"), old.Name, field.ErrorList{
		field.Forbidden(field.NewPath("status", "phase"), "the backup's record in the bucket is corrupt, so it cannot be changed, only deleted: "+old.Status.FailureReason),
	})
}

// swap writes b to location loc if the stored file is still at generation gen.
func (r *REST) swap(ctx context.Context, loc *locations.Location, b *ark.Backup, gen int64) (*ark.Backup, error) {
	_, store, err := r.writable(b.Name, loc.Name)
	if err != nil {
		return nil, err
	}
	data, err := r.encode(b)
	if err != nil {
		return nil, err
	}
	attrs, err := objectstore.PutBytes(ctx, store, r.ref(b.Namespace, b.Name).MetadataKey(), data, objectstore.Conditions{GenerationMatch: gen})
	if errors.Is(err, objectstore.ErrPreconditionFailed) {
		return nil, err
	}
	if err != nil {
		return nil, r.toAPIError(b.Name, unavailable(loc, err))
	}
	b.ResourceVersion = strconv.FormatInt(attrs.Generation, 10)
	b.Status.Conditions = r.ix.observe(loc.Name, b.DeepCopy(), attrs)
	return b, nil
}

// swapOrRetry is swap in a read-modify-write loop: again says that someone
// wrote in between and the caller should re-read and re-apply (after a
// pause); after maxUpdateAttempts it is a 409.
func (r *REST) swapOrRetry(ctx context.Context, loc *locations.Location, name string, b *ark.Backup, gen int64, attempt int) (saved *ark.Backup, again bool, err error) {
	saved, err = r.swap(ctx, loc, b, gen)
	if errors.Is(err, objectstore.ErrPreconditionFailed) {
		if attempt < maxUpdateAttempts && retryPause(ctx, attempt) == nil {
			return nil, true, nil
		}
		return nil, false, r.conflict(name)
	}
	return saved, false, err
}

func (r *REST) conflict(name string) error {
	return apierrors.NewConflict(ark.Resource("backups"), name, errors.New(registryOptimisticLockMsg))
}

// registryOptimisticLockMsg is the message kubectl users know from etcd-backed resources.
const registryOptimisticLockMsg = "the object has been modified; please apply your changes to the latest version and try again"
