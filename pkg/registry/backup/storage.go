// Package backup serves Backups straight from the backup storage location:
// the bucket's backups/<name>/ark-backup.json is the Backup object and there
// is no copy in etcd, so what `kubectl get backups` shows is what the bucket
// holds.
package backup

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/apiserver/pkg/storage"
	"k8s.io/apiserver/pkg/util/dryrun"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"

	"github.com/arkproject/ark/pkg/apis/ark"
	"github.com/arkproject/ark/pkg/apis/ark/validation"
	"github.com/arkproject/ark/pkg/objectstore"
)

// maxUpdateAttempts bounds the retries of an update that carries no
// resourceVersion when another writer changes the object in between.
const maxUpdateAttempts = 5

// bookmarkInterval is how often idle watchers learn the current revision.
const bookmarkInterval = time.Minute

// Options configure the bucket-backed storage.
type Options struct {
	// Store is the backup storage location.
	Store objectstore.Store
	// LocationName names the location in spec.storageLocation and in errors.
	LocationName string
	// Codec encodes Backups as ark.heptio.com/v1 JSON and decodes any served
	// version to the internal type.
	Codec runtime.Codec
	// Scope is the validation scope (home namespace, locations).
	Scope validation.Scope
	// PollInterval is how often the bucket is listed for changes made by others.
	PollInterval time.Duration
	// NamespaceVisible, when set, hides the backups of namespaces that are
	// terminating or absent, so that deleting a namespace never touches the
	// bucket and still finishes.
	NamespaceVisible func(namespace string) bool
	// NamespaceTerminating, when set, asks the cluster (not a cache) whether a
	// namespace is being deleted. Deletes consult it so that a namespace
	// deletion racing the namespace cache can never delete backups.
	NamespaceTerminating func(ctx context.Context, namespace string) (bool, error)
	// Clock is for tests; nil means the real clock.
	Clock clock.WithTicker
}

// REST is the storage of backups.
type REST struct {
	ix       *index
	store    objectstore.Store
	codec    runtime.Codec
	strategy strategy
	visible  func(string) bool
	// terminating is Options.NamespaceTerminating, or nil.
	terminating func(context.Context, string) (bool, error)
	clock       clock.WithTicker
	cancel      context.CancelFunc
}

var (
	_ rest.Storage              = &REST{}
	_ rest.Scoper               = &REST{}
	_ rest.SingularNameProvider = &REST{}
	_ rest.ShortNamesProvider   = &REST{}
	_ rest.CategoriesProvider   = &REST{}
	_ rest.Creater              = &REST{}
	_ rest.Getter               = &REST{}
	_ rest.Lister               = &REST{}
	_ rest.Watcher              = &REST{}
	_ rest.Updater              = &REST{}
	_ rest.Patcher              = &REST{}
	_ rest.GracefulDeleter      = &REST{}
	_ rest.CollectionDeleter    = &REST{}
	_ rest.TableConvertor       = &REST{}
	_ rest.ResetFieldsStrategy  = &REST{}
	_ rest.Patcher              = &StatusREST{}
	_ rest.ResetFieldsStrategy  = &StatusREST{}
	_ rest.StandardStorage      = &REST{}
)

// NewREST returns the storage of backups and of their status subresource, and
// starts polling the bucket; Destroy stops it.
func NewREST(typer runtime.ObjectTyper, opts Options) (*REST, *StatusREST) {
	clk := opts.Clock
	if clk == nil {
		clk = clock.RealClock{}
	}
	visible := opts.NamespaceVisible
	if visible == nil {
		visible = func(string) bool { return true }
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &REST{
		ix:          newIndex(opts.Store, opts.LocationName, opts.Codec, clk),
		store:       opts.Store,
		codec:       opts.Codec,
		strategy:    newStrategy(typer, opts.Scope),
		visible:     visible,
		terminating: opts.NamespaceTerminating,
		clock:       clk,
		cancel:      cancel,
	}
	go r.ix.run(ctx, opts.PollInterval)
	go func() {
		t := clk.NewTicker(bookmarkInterval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C():
				r.ix.bookmark()
			}
		}
	}()
	return r, &StatusREST{r: r}
}

// New returns an empty Backup.
func (r *REST) New() runtime.Object { return &ark.Backup{} }

// NewList returns an empty BackupList.
func (r *REST) NewList() runtime.Object { return &ark.BackupList{} }

// Destroy stops polling the bucket.
func (r *REST) Destroy() { r.cancel() }

// NamespaceScoped is true: backups live in namespaces.
func (r *REST) NamespaceScoped() bool { return true }

// GetSingularName is used by kubectl and discovery.
func (r *REST) GetSingularName() string { return "backup" }

// ShortNames are what `kubectl get bkp` accepts.
func (r *REST) ShortNames() []string { return []string{"bkp"} }

// Categories puts backups in `kubectl get ark`.
func (r *REST) Categories() []string { return []string{"ark"} }

// GetResetFields says which fields an update of the main resource leaves alone.
func (r *REST) GetResetFields() map[fieldpath.APIVersion]*fieldpath.Set {
	return r.strategy.GetResetFields()
}

// WaitForNextPoll blocks until the poll after now has finished; tests and the
// benchmark use it to wait for changes made behind the server's back.
func (r *REST) WaitForNextPoll(ctx context.Context) error {
	first := r.ix.nextPoll()
	select {
	case <-first:
	case <-ctx.Done():
		return ctx.Err()
	}
	// The poll that just ended may have started before the caller's change.
	select {
	case <-r.ix.nextPoll():
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// toAPIError turns a bucket failure into the status the client sees.
func (r *REST) toAPIError(name string, err error) error {
	var ue *unavailableError
	var status apierrors.APIStatus
	switch {
	case err == nil:
		return nil
	case errors.As(err, &status):
		return err
	case errors.As(err, &ue):
		return apierrors.NewServiceUnavailable(ue.Error())
	case errors.Is(err, objectstore.ErrNotFound), errors.Is(err, objectstore.ErrInvalidKey):
		return apierrors.NewNotFound(ark.Resource("backups"), name)
	case errors.Is(err, errCorrupt):
		return apierrors.NewInternalError(err)
	default:
		return apierrors.NewServiceUnavailable(r.ix.unavailable(err).Error())
	}
}

// load returns the stored backup: a cheap attribute read of its metadata file
// validates the cached copy, and only a changed file is read again. What it
// finds updates the index, so a change made behind our back shows at once.
func (r *REST) load(ctx context.Context, name string) (*ark.Backup, int64, error) {
	attrs, err := r.store.Attrs(ctx, MetadataKey(name))
	if errors.Is(err, objectstore.ErrNotFound) || errors.Is(err, objectstore.ErrInvalidKey) {
		r.ix.forget(name)
		return nil, 0, apierrors.NewNotFound(ark.Resource("backups"), name)
	}
	if err != nil {
		return nil, 0, r.toAPIError(name, r.ix.unavailable(err))
	}
	if b := r.ix.cached(name, attrs.Generation); b != nil {
		return b, attrs.Generation, nil
	}
	b, gen, err := r.ix.read(ctx, name)
	if errors.Is(err, objectstore.ErrNotFound) {
		r.ix.forget(name)
		return nil, 0, apierrors.NewNotFound(ark.Resource("backups"), name)
	}
	if err != nil {
		if errors.Is(err, errCorrupt) {
			return nil, 0, apierrors.NewInternalError(err)
		}
		return nil, 0, r.toAPIError(name, r.ix.unavailable(err))
	}
	r.ix.observe(b, gen)
	return b, gen, nil
}

// loadInNamespace is load, answering 404 for a backup of another namespace
// or of a hidden one.
func (r *REST) loadInNamespace(ctx context.Context, name string) (*ark.Backup, int64, error) {
	b, gen, err := r.load(ctx, name)
	if err != nil {
		return nil, 0, err
	}
	ns, _ := genericapirequest.NamespaceFrom(ctx)
	if (ns != "" && b.Namespace != ns) || !r.visible(b.Namespace) {
		return nil, 0, apierrors.NewNotFound(ark.Resource("backups"), name)
	}
	return b, gen, nil
}

// Get reads a backup from the bucket.
func (r *REST) Get(ctx context.Context, name string, _ *metav1.GetOptions) (runtime.Object, error) {
	b, _, err := r.loadInNamespace(ctx, name)
	if err != nil {
		return nil, err
	}
	return b.DeepCopy(), nil
}

// predicate builds the selection of a list or watch; nil selectors select everything.
func predicate(options *metainternalversion.ListOptions) storage.SelectionPredicate {
	label, field := labels.Everything(), fields.Everything()
	if options != nil {
		if options.LabelSelector != nil {
			label = options.LabelSelector
		}
		if options.FieldSelector != nil {
			field = options.FieldSelector
		}
	}
	return Match(label, field)
}

// filter selects the backups of the request's namespace that are visible and match.
func (r *REST) filter(ctx context.Context, options *metainternalversion.ListOptions) func(*ark.Backup) bool {
	ns, _ := genericapirequest.NamespaceFrom(ctx)
	pred := predicate(options)
	return func(b *ark.Backup) bool {
		if ns != "" && b.Namespace != ns {
			return false
		}
		if !r.visible(b.Namespace) {
			return false
		}
		ok, err := pred.Matches(b)
		return err == nil && ok
	}
}

// List serves backups from the index: no per-backup read, and a 503 rather
// than an empty list when the bucket could not be listed.
func (r *REST) List(ctx context.Context, options *metainternalversion.ListOptions) (runtime.Object, error) {
	items, rev, err := r.ix.snapshot(r.filter(ctx, options))
	if err != nil {
		return nil, r.toAPIError("", err)
	}
	list := &ark.BackupList{ListMeta: metav1.ListMeta{ResourceVersion: strconv.FormatUint(rev, 10)}}
	start := 0
	if options != nil && options.Continue != "" {
		after, err := decodeContinue(options.Continue)
		if err != nil {
			return nil, apierrors.NewBadRequest(err.Error())
		}
		for start < len(items) && itemKey(items[start]) <= after {
			start++
		}
	}
	end := len(items)
	if options != nil && options.Limit > 0 && int64(end-start) > options.Limit {
		end = start + int(options.Limit)
		list.Continue = encodeContinue(itemKey(items[end-1]))
		remaining := int64(len(items) - end)
		list.RemainingItemCount = &remaining
	}
	list.Items = make([]ark.Backup, 0, end-start)
	for _, b := range items[start:end] {
		list.Items = append(list.Items, *b.DeepCopy())
	}
	return list, nil
}

// itemKey orders backups as the index sorts them, by namespace then name:
// NUL sorts before every character a name may hold.
func itemKey(b *ark.Backup) string { return b.Namespace + "\x00" + b.Name }

func encodeContinue(key string) string {
	return base64.RawURLEncoding.EncodeToString([]byte("v2:" + key))
}

func decodeContinue(token string) (string, error) {
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || !strings.HasPrefix(string(raw), "v2:") {
		return "", fmt.Errorf("invalid continue token %q", token)
	}
	return strings.TrimPrefix(string(raw), "v2:"), nil
}

// Watch streams changes from the index: initial events, resumption within
// the event window, bookmarks, and selector-aware ADDED/DELETED transitions.
func (r *REST) Watch(ctx context.Context, options *metainternalversion.ListOptions) (watch.Interface, error) {
	opts := watchOptions{filter: r.filter(ctx, options)}
	if options != nil {
		opts.resourceVersion = options.ResourceVersion
		opts.sendInitialEvents = options.SendInitialEvents != nil && *options.SendInitialEvents
		opts.bookmarks = options.AllowWatchBookmarks
	}
	w, err := r.ix.watch(opts)
	if err != nil {
		return nil, r.toAPIError("", err)
	}
	return w, nil
}

// encode serializes a backup for the bucket. The resourceVersion is not
// stored: it is the generation of the file itself.
func (r *REST) encode(b *ark.Backup) ([]byte, error) {
	c := b.DeepCopy()
	c.ResourceVersion = ""
	c.SelfLink = ""
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
	if err := rest.BeforeCreate(r.strategy, ctx, b); err != nil {
		return nil, err
	}
	if createValidation != nil {
		if err := createValidation(ctx, b.DeepCopyObject()); err != nil {
			return nil, err
		}
	}
	if options != nil && dryrun.IsDryRun(options.DryRun) {
		return b, nil
	}
	data, err := r.encode(b)
	if err != nil {
		return nil, err
	}
	attrs, err := objectstore.PutBytes(ctx, r.store, MetadataKey(b.Name), data, objectstore.Conditions{DoesNotExist: true})
	switch {
	case errors.Is(err, objectstore.ErrPreconditionFailed):
		return nil, apierrors.NewAlreadyExists(ark.Resource("backups"), b.Name)
	case err != nil:
		return nil, r.toAPIError(b.Name, err)
	}
	b.ResourceVersion = strconv.FormatInt(attrs.Generation, 10)
	r.ix.observe(b.DeepCopy(), attrs.Generation)
	klog.V(2).InfoS("Created backup in storage location", "backup", klog.KObj(b), "generation", attrs.Generation)
	return b, nil
}

// Update changes a backup's spec or metadata.
func (r *REST) Update(ctx context.Context, name string, objInfo rest.UpdatedObjectInfo, createValidation rest.ValidateObjectFunc, updateValidation rest.ValidateObjectUpdateFunc, forceAllowCreate bool, options *metav1.UpdateOptions) (runtime.Object, bool, error) {
	return r.update(ctx, name, objInfo, updateValidation, r.strategy, options)
}

// update is a compare-and-swap on the metadata file's generation. A caller's
// resourceVersion must match the stored one (else 409); without one, a
// concurrent change makes us re-read and re-apply, as etcd storage does.
func (r *REST) update(ctx context.Context, name string, objInfo rest.UpdatedObjectInfo, updateValidation rest.ValidateObjectUpdateFunc, strat rest.RESTUpdateStrategy, options *metav1.UpdateOptions) (runtime.Object, bool, error) {
	for attempt := 1; ; attempt++ {
		old, gen, err := r.loadInNamespace(ctx, name)
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
		if err := rest.BeforeUpdate(strat, ctx, b, old); err != nil {
			return nil, false, err
		}
		if updateValidation != nil {
			if err := updateValidation(ctx, b.DeepCopyObject(), old.DeepCopyObject()); err != nil {
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
		saved, err := r.swap(ctx, b, gen)
		if errors.Is(err, objectstore.ErrPreconditionFailed) {
			// Someone wrote in between. Re-read and re-apply: a caller's stale
			// resourceVersion is then caught by the check above, while a patch
			// (whose version comes from the object it was applied to) lands.
			if attempt == maxUpdateAttempts {
				return nil, false, r.conflict(name)
			}
			continue
		}
		if err != nil {
			return nil, false, err
		}
		return saved, false, nil
	}
}

// swap writes b if the stored file is still at generation gen.
func (r *REST) swap(ctx context.Context, b *ark.Backup, gen int64) (*ark.Backup, error) {
	data, err := r.encode(b)
	if err != nil {
		return nil, err
	}
	attrs, err := objectstore.PutBytes(ctx, r.store, MetadataKey(b.Name), data, objectstore.Conditions{GenerationMatch: gen})
	if errors.Is(err, objectstore.ErrPreconditionFailed) {
		return nil, err
	}
	if err != nil {
		return nil, r.toAPIError(b.Name, err)
	}
	b.ResourceVersion = strconv.FormatInt(attrs.Generation, 10)
	r.ix.observe(b.DeepCopy(), attrs.Generation)
	return b, nil
}

func (r *REST) conflict(name string) error {
	return apierrors.NewConflict(ark.Resource("backups"), name, errors.New(registryOptimisticLockMsg))
}

// registryOptimisticLockMsg is the message kubectl users know from etcd-backed resources.
const registryOptimisticLockMsg = "the object has been modified; please apply your changes to the latest version and try again"

// Delete marks a backup Deleting; the garbage collector then removes its
// snapshots and files, and the backup leaves the list when its metadata file
// is gone. The request returns the object in its Deleting state.
func (r *REST) Delete(ctx context.Context, name string, deleteValidation rest.ValidateObjectFunc, options *metav1.DeleteOptions) (runtime.Object, bool, error) {
	for attempt := 1; ; attempt++ {
		old, gen, err := r.loadInNamespace(ctx, name)
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
		if deleteValidation != nil {
			if err := deleteValidation(ctx, old.DeepCopyObject()); err != nil {
				return nil, false, err
			}
		}
		if old.Status.Phase == ark.BackupPhaseDeleting {
			return old.DeepCopy(), false, nil
		}
		b := old.DeepCopy()
		b.Status.Phase = ark.BackupPhaseDeleting
		if b.DeletionTimestamp == nil {
			now := metav1.NewTime(r.clock.Now())
			b.DeletionTimestamp = &now
		}
		if options != nil && dryrun.IsDryRun(options.DryRun) {
			return b, false, nil
		}
		saved, err := r.swap(ctx, b, gen)
		if errors.Is(err, objectstore.ErrPreconditionFailed) && attempt < maxUpdateAttempts {
			continue
		}
		if errors.Is(err, objectstore.ErrPreconditionFailed) {
			return nil, false, r.conflict(name)
		}
		if err != nil {
			return nil, false, err
		}
		klog.InfoS("Backup marked for deletion", "backup", klog.KObj(b))
		return saved, false, nil
	}
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

// StatusREST serves backups/status: controllers write status, the spec of
// the request is ignored.
type StatusREST struct {
	r *REST
}

// New returns an empty Backup.
func (s *StatusREST) New() runtime.Object { return &ark.Backup{} }

// Destroy does nothing: the main storage owns the poller.
func (s *StatusREST) Destroy() {}

// Get reads a backup, as patching needs.
func (s *StatusREST) Get(ctx context.Context, name string, options *metav1.GetOptions) (runtime.Object, error) {
	return s.r.Get(ctx, name, options)
}

// Update writes a backup's status.
func (s *StatusREST) Update(ctx context.Context, name string, objInfo rest.UpdatedObjectInfo, createValidation rest.ValidateObjectFunc, updateValidation rest.ValidateObjectUpdateFunc, forceAllowCreate bool, options *metav1.UpdateOptions) (runtime.Object, bool, error) {
	return s.r.update(ctx, name, objInfo, updateValidation, statusStrategy{s.r.strategy}, options)
}

// GetResetFields says which fields a status update leaves alone.
func (s *StatusREST) GetResetFields() map[fieldpath.APIVersion]*fieldpath.Set {
	return statusStrategy{s.r.strategy}.GetResetFields()
}
