// Package backup serves Backups straight from the backup storage location:
// the bucket's backups/<name>/ark-backup.json is the Backup object and there
// is no copy in etcd, so what `kubectl get backups` shows is what the bucket
// holds.
package backup

import (
	"cmp"
	"context"
	"errors"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/utils/clock"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"

	"github.com/arkproject/ark/pkg/apis/ark"
	"github.com/arkproject/ark/pkg/apis/ark/validation"
	"github.com/arkproject/ark/pkg/backupstore"
	"github.com/arkproject/ark/pkg/backupstore/encryption"
	"github.com/arkproject/ark/pkg/locations"
	"github.com/arkproject/ark/pkg/objectstore"
	"github.com/arkproject/ark/pkg/provenance"
)

// maxUpdateAttempts bounds the retries of an update that carries no
// resourceVersion when other writers keep changing the object in between;
// each retry waits a little longer, with jitter, so contending writers spread out.
const maxUpdateAttempts = 20

// retryPause is the wait before retry number attempt of a contended write.
func retryPause(ctx context.Context, attempt int) error {
	d := time.Duration(attempt) * 5 * time.Millisecond
	d += time.Duration(rand.Int64N(int64(d) + 1))
	select {
	case <-time.After(d):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// bookmarkInterval is how often idle watchers learn the current revision.
const bookmarkInterval = time.Minute

// Options configure the bucket-backed storage.
type Options struct {
	// Locations are the backup storage locations served: the backups of
	// every one are listed, got and watched, and new ones go to the one
	// their spec.storageLocation names (the default one when empty).
	Locations *locations.Set
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
	// Signer signs every Backup this API accepts, so the controllers run
	// only those (see package provenance); nil signs nothing.
	Signer *provenance.Signer
	// Lifetimes, when set, ties backups to the lifetime of their
	// namespace rather than its name (see Lifetimes).
	Lifetimes *Lifetimes
}

// Lifetimes record the UID of a backup's namespace when it is created, and
// hide a backup from the users of a later namespace of the same name: a new
// owner of a recreated namespace sees nothing of the former one's backups,
// while administrators still find, restore and delete them.
type Lifetimes struct {
	// NamespaceUID asks the cluster for a namespace's UID, on create.
	NamespaceUID func(ctx context.Context, namespace string) (string, error)
	// CurrentUID returns a namespace's UID from a cache, "" if unknown.
	CurrentUID func(namespace string) string
	// Administrator reports whether the request's user administers Ark
	// (may list the home namespace's backups) and so sees every lifetime.
	Administrator func(ctx context.Context) bool
}

// REST is the storage of backups.
type REST struct {
	ix        *index
	locations *locations.Set
	codec     runtime.Codec
	strategy  strategy
	visible   func(string) bool
	// terminating is Options.NamespaceTerminating, or nil.
	terminating func(context.Context, string) (bool, error)
	// pollInterval is Options.PollInterval.
	pollInterval time.Duration
	clock        clock.WithTicker
	cancel       context.CancelFunc
	signer       *provenance.Signer
	lifetimes    *Lifetimes
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
		ix:           newIndex(backupstore.Layout{HomeNamespace: opts.Scope.HomeNamespace}, opts.Codec, clk),
		locations:    opts.Locations,
		codec:        opts.Codec,
		strategy:     newStrategy(typer, opts.Scope),
		visible:      visible,
		terminating:  opts.NamespaceTerminating,
		pollInterval: opts.PollInterval,
		clock:        clk,
		cancel:       cancel,
		signer:       opts.Signer,
		lifetimes:    opts.Lifetimes,
	}
	// Locations come and go with their objects: the index follows, one
	// change at a time so that an older view never overwrites a newer one.
	var following sync.Mutex
	follow := func() {
		following.Lock()
		defer following.Unlock()
		r.ix.setLocations(ctx, opts.Locations.All(), opts.PollInterval)
	}
	opts.Locations.OnChange(follow)
	follow()
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

// followInterval is how often a followed log is checked for more: the
// engine publishes it every 2 seconds; the bucket poll is the natural pace.
func (r *REST) followInterval() time.Duration {
	if r.pollInterval <= 0 {
		return time.Second
	}
	return min(r.pollInterval, 2*time.Second)
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

// WaitForNextPoll blocks until the poll after now of every location has
// finished; tests and the benchmark use it to wait for changes made behind
// the server's back.
func (r *REST) WaitForNextPoll(ctx context.Context) error {
	// Twice: the poll that ends first may have started before the caller's change.
	for range 2 {
		for _, done := range r.ix.nextPolls() {
			select {
			case <-done:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	return nil
}

// toAPIError turns a bucket failure into the status the client sees.
// Failures of a location reach here as unavailableErrors naming it.
func (r *REST) toAPIError(name string, err error) error {
	var ue *unavailableError
	var status apierrors.APIStatus
	switch {
	case err == nil:
		return nil
	case errors.As(err, &status):
		return err
	case errors.Is(err, encryption.ErrKeyNotHeld):
		// Not the bucket's failure: the location's key Secret lacks the
		// key, and adding it back makes the backup readable.
		return &apierrors.StatusError{ErrStatus: metav1.Status{
			Status: metav1.StatusFailure, Code: http.StatusConflict, Reason: metav1.StatusReasonConflict,
			Message: err.Error(), Details: &metav1.StatusDetails{Group: ark.GroupName, Kind: "backups", Name: name},
		}}
	case errors.Is(err, backupstore.ErrCorrupt):
		return apierrors.NewInternalError(err)
	case errors.As(err, &ue):
		return apierrors.NewServiceUnavailable(ue.Error())
	case errors.Is(err, objectstore.ErrNotFound), errors.Is(err, objectstore.ErrInvalidKey):
		return apierrors.NewNotFound(ark.Resource("backups"), name)
	default:
		return apierrors.NewServiceUnavailable(err.Error())
	}
}

// unavailable wraps a failure of a location's bucket with the location.
func unavailable(loc *locations.Location, err error) error {
	var ue *unavailableError
	if errors.As(err, &ue) {
		return err
	}
	store := "not opened"
	if loc.Store != nil {
		store = loc.Store.String()
	}
	return &unavailableError{location: loc.Name, store: store, err: err}
}

// ref is where a backup of the namespace lives in a bucket of Ark's format.
func (r *REST) ref(namespace, name string) backupstore.Backup {
	return r.ix.layout.Backup(namespace, name)
}

// refIn is where a backup of the namespace lives in a location's bucket,
// whatever its format.
func (r *REST) refIn(loc *locations.Location, namespace, name string) backupstore.Backup {
	return r.ix.layoutOf(loc).Backup(namespace, name)
}

// load returns the stored backup and the location it lives in: a cheap
// attribute read of its metadata file validates the cached copy, and only a
// changed file is read again. What it finds updates the index, so a change
// made behind our back shows at once.
//
// The location the index serves the backup from is asked first, then every
// other in rank order, so a backup added to any bucket is found at once. A
// location that cannot answer is a 503 naming it, unless another holds the
// backup: "not found" is said only when every location answered.
func (r *REST) load(ctx context.Context, namespace, name string) (*ark.Backup, int64, *locations.Location, error) {
	var down error
	for _, loc := range r.ix.lookupOrder(r.ix.locationOf(namespace, name)) {
		if !r.ix.layoutOf(loc).Serves(namespace) {
			continue // a Velero bucket holds the home namespace's backups only
		}
		ref := r.refIn(loc, namespace, name)
		store, err := loc.Readable()
		if err != nil {
			down = cmp.Or(down, unavailable(loc, err))
			continue
		}
		attrs, err := store.Attrs(ctx, ref.MetadataKey())
		if errors.Is(err, objectstore.ErrNotFound) || errors.Is(err, objectstore.ErrInvalidKey) {
			r.ix.forget(loc.Name, namespace, name)
			continue
		}
		if err != nil {
			down = cmp.Or(down, unavailable(loc, err))
			continue
		}
		if b := r.ix.cached(loc.Name, namespace, name, attrs.Generation); b != nil {
			return b, attrs.Generation, loc, nil
		}
		b, read, err := r.ix.read(ctx, loc, ref)
		if errors.Is(err, objectstore.ErrNotFound) {
			r.ix.forget(loc.Name, namespace, name)
			continue
		}
		if err != nil {
			down = cmp.Or(down, unavailable(loc, err))
			continue
		}
		r.ix.observe(loc.Name, b, read)
		return b, read.Generation, loc, nil
	}
	if down != nil {
		return nil, 0, nil, r.toAPIError(name, down)
	}
	return nil, 0, nil, apierrors.NewNotFound(ark.Resource("backups"), name)
}

// loadInNamespace is load of a backup of the request's namespace,
// answering 404 for a hidden one.
func (r *REST) loadInNamespace(ctx context.Context, name string) (*ark.Backup, int64, *locations.Location, error) {
	ns, ok := genericapirequest.NamespaceFrom(ctx)
	if !ok || ns == "" {
		return nil, 0, nil, apierrors.NewBadRequest("a backup is read in its namespace")
	}
	if !r.visible(ns) {
		return nil, 0, nil, apierrors.NewNotFound(ark.Resource("backups"), name)
	}
	b, gen, loc, err := r.load(ctx, ns, name)
	if err != nil {
		return nil, 0, nil, err
	}
	if !r.lifetimeView(ctx, false)(b) {
		return nil, 0, nil, apierrors.NewNotFound(ark.Resource("backups"), name)
	}
	return b, gen, loc, nil
}

// Get reads a backup from the bucket.
func (r *REST) Get(ctx context.Context, name string, _ *metav1.GetOptions) (runtime.Object, error) {
	b, _, _, err := r.loadInNamespace(ctx, name)
	if err != nil {
		return nil, err
	}
	return b.DeepCopy(), nil
}
