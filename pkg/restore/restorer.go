package restore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/klog/v2"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
	"github.com/arkproject/ark/pkg/backupstore"
	"github.com/arkproject/ark/pkg/backupstore/encryption"
	"github.com/arkproject/ark/pkg/hooks"
	"github.com/arkproject/ark/pkg/objectstore"
	"github.com/arkproject/ark/pkg/resourcescope"
	"github.com/arkproject/ark/pkg/restore/archive"
	"github.com/arkproject/ark/pkg/restore/modifiers"
	"github.com/arkproject/ark/pkg/snapshot"
)

// AccessChecker answers whether the user who asked for a restore may create
// a resource in a namespace ("" for cluster-scoped), so a restore never
// creates what its requester could not.
type AccessChecker interface {
	CanCreate(ctx context.Context, user *arkv1.UserInfo, gr schema.GroupResource, namespace string) (allowed bool, reason string, err error)
}

// UpdateAccessChecker is implemented by access checkers that can also say
// whether the requester may update a resource, as the update policy does to
// existing objects.
type UpdateAccessChecker interface {
	CanUpdate(ctx context.Context, user *arkv1.UserInfo, gr schema.GroupResource, namespace string) (allowed bool, reason string, err error)
}

// Restorer restores backups into one cluster.
// DefaultMemoryBudget is the uncompressed size of items a restore keeps in
// memory rather than unpacking them to its scratch directory: writing and
// re-reading one small file per item was most of the time before a restore's
// first create, and CPU taken from the API server it creates through. Larger
// backups spill to disk, so memory stays bounded.
const DefaultMemoryBudget int64 = 64 << 20

// MetadataCreator is a client that can create an object and receive only the
// created object's metadata back; the requester's dynamic client is one.
// A restore needs the new object's UID, not the object: having the API
// server encode every created object, and decoding it, cost both sides CPU
// for nothing.
type MetadataCreator interface {
	CreateMetadata(ctx context.Context, gvr schema.GroupVersionResource, namespace string, obj *unstructured.Unstructured, opts metav1.CreateOptions) (*metav1.ObjectMeta, error)
}

type Restorer struct {
	Discovery discovery.DiscoveryInterface
	// Dynamic creates, reads and updates the restored objects: it acts as
	// the restore's requester, so Kubernetes applies its own rules (RBAC
	// escalation checks, admission) to everything a restore creates. When
	// it is also a MetadataCreator, objects other than volumes are created
	// through that.
	Dynamic dynamic.Interface
	// Cluster is Ark's own client, for lookups that are not the user's
	// business: whether a target namespace exists, whether a restored
	// definition is established. nil means Dynamic.
	Cluster dynamic.Interface
	Access  AccessChecker
	// Store is the location of the backup being restored.
	Store objectstore.Store
	// FilesStore keeps the restore's own files (logs, results): nil means
	// Store, which a ReadOnly location cannot be.
	FilesStore objectstore.Store
	// HomeNamespace is where restores may create cluster-scoped objects.
	HomeNamespace string
	// ScratchDir holds the unpacked backup during a restore; "" is the
	// system's temporary directory.
	ScratchDir string
	// Workers create the items of one resource in parallel; 0 means 16.
	Workers int
	// Limits bound what is read from the backup. A zero MemoryBudget means
	// DefaultMemoryBudget; a negative one unpacks every backup to disk.
	Limits archive.Limits
	// HostPath restores the data of hostPath and local volumes; nil skips it.
	HostPath *snapshot.HostPath
	// LegacySnapshots are the disk snapshots a Heptio Ark record keeps in
	// status.volumeBackups, by persistent volume. Ark cannot make disks
	// from them: each such volume is skipped, its result naming the
	// snapshot to restore it from by hand.
	LegacySnapshots map[string]*arkv1.VolumeBackupInfo
	// Unsigned says that no cluster's Ark signed the backup's record: it
	// was written by Heptio Ark, or by an Ark from before records were
	// signed. Such a backup of the home namespace with no checksum
	// manifest is read in Heptio Ark's layout (which is Velero's format 1:
	// same tarball, same volume snapshot list), with a warning. A signed
	// record's manifest is always required: removing it must not turn
	// off the checks of this cluster's own backups.
	Unsigned bool
	// ClaimBindTimeout is how long a restore waits for the claims it
	// restored to bind before reporting those that did not; 0 does not wait.
	ClaimBindTimeout time.Duration
	// Format is the layout of Store's backups: Ark's (the zero value) or
	// a Velero server's.
	Format backupstore.Format
	// Keys are the encryption keys of Store's location, which open an
	// encrypted backup; FilesKeys those of FilesStore's, with which the
	// restore's own files are encrypted. Nil is a location without keys.
	Keys, FilesKeys *encryption.Keyring
	// Hooks runs the exec restore hooks in restored pods, as the
	// requester; nil reports each as failed ("cannot run hooks").
	Hooks hooks.Executor
	// MaxHookTimeout, when positive, bounds how long an exec hook waits
	// and runs (tenant restores).
	MaxHookTimeout time.Duration
}

// sourceFormat says how the backup's folder is laid out: the location's
// format, or, for an unsigned home-namespace backup of an Ark location that
// has no manifest, Heptio Ark's (read as Velero's; heptio is then true).
func (r *Restorer) sourceFormat(ctx context.Context, namespace, backup string) (format backupstore.Format, heptio bool, err error) {
	if r.Format.IsVelero() || !r.Unsigned || namespace != r.HomeNamespace {
		return r.Format, false, nil
	}
	ref := backupstore.Layout{HomeNamespace: r.HomeNamespace, Format: r.Format, Keys: r.Keys}.Backup(namespace, backup)
	_, err = r.Store.Attrs(ctx, ref.ManifestKey())
	switch {
	case errors.Is(err, objectstore.ErrNotFound):
		return backupstore.FormatVelero, true, nil
	case err != nil:
		return "", false, fmt.Errorf("reading the manifest of backup %q: %w", backup, err)
	}
	return r.Format, false, nil
}

// clearFiles removes the files of an earlier restore of the same name (one
// deleted, possibly with its namespace): a restore that fails before writing
// its own must never serve another's results or log.
func clearFiles(ctx context.Context, store objectstore.Store, files backupstore.Restore) error {
	for _, key := range []string{files.ResultsKey(), files.LogsKey(), files.KeyFileKey()} {
		if err := store.Delete(ctx, key, objectstore.Conditions{}); err != nil && !errors.Is(err, objectstore.ErrNotFound) {
			return fmt.Errorf("removing the files of an earlier restore named %s: %w", files.Name, err)
		}
	}
	return nil
}

// SourceNamespace is the namespace of the backup a restore restores:
// spec.backupNamespace, or the restore's own.
func SourceNamespace(r *arkv1.Restore) string {
	if r.Spec.BackupNamespace != "" {
		return r.Spec.BackupNamespace
	}
	return r.Namespace
}

func (r *Restorer) cluster() dynamic.Interface {
	if r.Cluster != nil {
		return r.Cluster
	}
	return r.Dynamic
}

// ProgressFunc receives the items to restore and those done so far. It is
// called from one goroutine at a time, with done never decreasing, and not
// once per item: while a call runs, the items finished meanwhile are
// reported together by the next. The last call, before Run returns, reports
// every item finished. A slow ProgressFunc (one that writes the restore's
// status, say) delays the next report, never the restore.
type ProgressFunc func(total, done int)

// Outcome summarizes a finished restore.
type Outcome struct {
	Summary
	Items int
}

// apiResource is how the cluster serves a resource.
type apiResource struct {
	gvr        schema.GroupVersionResource
	namespaced bool
}

// run is one restore in progress.
type run struct {
	*Restorer
	restore  *arkv1.Restore
	backup   string
	source   backupstore.Backup
	results  *results
	shaper   *shaper
	served   map[string]apiResource
	selector labels.Selector
	confined bool
	// namespaces are the target namespaces checked (and created) or being
	// checked, so that each is looked up and created once: see
	// ensureNamespace.
	nsMu       sync.Mutex
	namespaces map[string]*namespaceCheck
	uidMu      sync.Mutex
	restored   sets.Set[string] // "ns/name" of restored claims, for their volumes
	// definitions are the definitions restored or found defined, whose
	// resources discovery must serve before they are restored.
	definitions sets.Set[string]
	// previewDefined are the definitions a preview found it would create,
	// and previewNamespaces the target namespaces: their items cannot be
	// dry-run by the API server, which has neither.
	previewDefined    sets.Set[string]
	previewNamespaces sets.Set[string]
	total             int
	// done counts the items finished; workers only add to it and nudge the
	// progress publisher (see publishProgress), never waiting for it.
	done            atomic.Int64
	progress        ProgressFunc
	progressPending chan struct{}
	byKind          map[string][]archive.Item
	includeNS       func(string) bool
	// aliases maps singular, short and kind names to group-resources.
	aliases map[string][]string
	// snapshots are the backup's completed volume snapshots, by PV name.
	snapshots map[string]snapshot.Record
	// velero holds the volumes a Velero backup saved outside its tarball,
	// which are reported as not restored; nil for Ark's backups.
	velero *veleroVolumes
	// csi are a Velero backup's CSI snapshots Ark restores; nil for Ark's.
	csi *veleroCSI
	// modifiers are the restore's resource modifier rules; nil for none.
	modifiers *modifiers.Set
	// hooks runs the exec hooks of restored pods.
	hooks hookRunner
	// volumeCopies and volumeUnavailable say, by restored claim
	// ("ns/name"), which copy of its volume it binds to, or why it cannot
	// be restored (see restoreExistingVolume).
	volumesMu                       sync.Mutex
	volumeCopies, volumeUnavailable map[string]string
}

// Run restores restore's backup. It returns an error when the restore as a
// whole failed; when the backup cannot be verified that happens before
// anything is created. Under a context from DeferCleanup, the scratch
// directory is removed by the Cleanups, not before Run returns.
func (r *Restorer) Run(ctx context.Context, restore *arkv1.Restore, backup string, progress ProgressFunc) (out Outcome, err error) {
	if restore.Spec.Requester == nil {
		return out, errors.New("the restore records no requester, so there is no one whose rights it could use")
	}
	if progress == nil {
		progress = func(int, int) {}
	}
	sel := labels.Everything()
	if restore.Spec.LabelSelector != nil {
		if sel, err = metav1.LabelSelectorAsSelector(restore.Spec.LabelSelector); err != nil {
			return out, fmt.Errorf("the restore's label selector is invalid: %w", err)
		}
	}
	// The scratch directory stays locked while in use, so that CleanScratch
	// can tell it from one a killed server left behind.
	scratchDir, err := newScratch(r.ScratchDir)
	if err != nil {
		return out, err
	}
	// Removed after Run returns when the caller deferred cleanup (see
	// DeferCleanup), so that the restore's outcome is recorded first; the
	// directory stays locked until then.
	defer func() {
		remove := func() {
			start := time.Now()
			if err := scratchDir.remove(); err != nil {
				klog.ErrorS(err, "Removing a restore's scratch directory", "restore", klog.KObj(restore), "dir", scratchDir.dir)
				return
			}
			klog.V(2).InfoS("Removed a restore's scratch directory", "restore", klog.KObj(restore), "dir", scratchDir.dir, "duration", time.Since(start))
		}
		if !Defer(ctx, remove) {
			remove()
		}
	}()
	// The backup is the restore's namespace's unless it names another; the
	// restore's files go to the restore's namespace's folder.
	layout := backupstore.Layout{HomeNamespace: r.HomeNamespace, Keys: r.FilesKeys}
	files := layout.Restore(restore.Namespace, restore.Name)
	filesStore := r.FilesStore
	if filesStore == nil {
		filesStore = r.Store
	}
	if err := clearFiles(ctx, filesStore, files); err != nil {
		return out, err
	}
	format, heptio, err := r.sourceFormat(ctx, SourceNamespace(restore), backup)
	if err != nil {
		return out, err
	}
	// Read before the backup: rules that went missing or bad since the
	// restore was accepted fail it before anything is downloaded or created.
	mods, err := r.resourceModifiers(ctx, restore)
	if err != nil {
		return out, err
	}
	source := backupstore.Layout{HomeNamespace: r.HomeNamespace, Format: format, Keys: r.Keys}.Backup(SourceNamespace(restore), backup)
	unpackStart := time.Now()
	limits := r.Limits
	if limits.MemoryBudget == 0 {
		limits.MemoryBudget = DefaultMemoryBudget
	}
	index, err := archive.Extract(ctx, r.Store, source, scratchDir.data(), limits)
	if err != nil {
		return out, err
	}
	// Before the scratch directory goes (deferred above, so this runs first).
	defer index.Close()
	// Nothing is created before the whole backup is verified and unpacked:
	// this is the time a restore takes before its first item, the part of
	// its duration that grows with the backup and that a plain client
	// creating the same objects does not have.
	klog.InfoS("Restore unpacked its backup", "restore", klog.KObj(restore), "backup", backup, "items", len(index.Items), "inMemory", len(index.Items) > 0 && index.Items[0].InMemory(), "duration", time.Since(unpackStart))
	var (
		snapshots map[string]snapshot.Record
		velero    *veleroVolumes
	)
	if source.Format().IsVelero() {
		velero, err = loadVeleroVolumes(ctx, r.Store, source)
	} else {
		snapshots, err = loadSnapshots(ctx, r.Store, source)
	}
	if err != nil {
		return out, err
	}

	dk, err := files.StartEncryption(ctx, filesStore)
	if err != nil {
		return out, err
	}
	resW, err := backupstore.NewFileWriter(ctx, filesStore, files.ResultsKey(), dk, nil)
	if err != nil {
		return out, err
	}
	logW, err := backupstore.NewFileWriter(ctx, filesStore, files.LogsKey(), dk, nil)
	if err != nil {
		resW.Abort()
		return out, err
	}
	run := &run{
		Restorer: r, restore: restore, backup: backup, source: source, progress: progress, selector: sel,
		results:        newResults(resW, logW, restore.Name),
		shaper:         &shaper{restore: restore.Name, backup: backup, mapping: restore.Spec.NamespaceMapping, restoredUIDs: map[string]string{}},
		confined:       restore.Namespace != r.HomeNamespace,
		restored:       sets.New[string](),
		definitions:    sets.New[string](),
		previewDefined: sets.New[string](), previewNamespaces: sets.New[string](),
		byKind:       map[string][]archive.Item{},
		namespaces:   map[string]*namespaceCheck{},
		snapshots:    snapshots,
		velero:       velero,
		modifiers:    mods,
		hooks:        hookRunner{sem: make(chan struct{}, maxHookWorkers)},
		volumeCopies: map[string]string{}, volumeUnavailable: map[string]string{},
		progressPending: make(chan struct{}, 1),
	}
	run.shaper.preserveNodePorts = restore.Spec.PreserveNodePorts != nil && *restore.Spec.PreserveNodePorts
	inc := sets.New(restore.Spec.IncludedNamespaces...)
	exc := sets.New(restore.Spec.ExcludedNamespaces...)
	run.includeNS = func(ns string) bool {
		return !exc.Has(ns) && (inc.Len() == 0 || inc.Has("*") || inc.Has(ns))
	}
	if restore.Spec.Preview {
		run.results.infof("previewing a restore of backup %s, requested by %s: every write is sent with dryRun=All, and nothing is changed", backup, restore.Spec.Requester.Username)
	} else {
		run.results.infof("restoring backup %s into the cluster, requested by %s", backup, restore.Spec.Requester.Username)
	}
	if velero != nil {
		csi, err := findVeleroCSI(index.Items)
		if err != nil {
			resW.Abort()
			logW.Abort()
			return out, err
		}
		run.csi, run.snapshots = csi, csi.records(run.shaper.target)
		writer := "a Velero backup"
		if heptio {
			writer = "written by Heptio Ark (no cluster signed it)"
		}
		run.results.warnf("backup %s is %s (format %s): it has no Ark checksum manifest, so its tarball could not be checked against one; every entry was checked as Ark's are", backup, writer, index.Version)
	}
	if r.Keys != nil && !index.Encrypted && !source.Format().IsVelero() {
		// Written before the location was encrypted, or planted by
		// someone who can write the bucket: its files were checked
		// against its manifest only, which anyone can rewrite.
		run.results.warnf("backup %s is not encrypted although its location is: nothing authenticates it with the location's key (was it written before encryption was turned on?)", backup)
	}
	stopProgress := run.startProgress()
	runErr := run.restoreAll(ctx, index)
	stopProgress()
	// Even after a failure: hooks already started write into the results.
	run.waitHooks()
	if runErr == nil && !restore.Spec.Preview {
		run.waitClaimsBound(ctx)
	}
	counts := run.results.counts()
	if p := counts.Preview; restore.Spec.Preview && p != nil {
		run.results.infof("preview finished, nothing was changed: %d would be created, %d updated, %d skipped, %d would conflict, %d would be denied, %d would fail", p.WouldCreate, p.WouldUpdate, p.WouldSkip, p.WouldConflict, p.WouldBeDenied, p.WouldFail)
	} else {
		run.results.infof("restore finished: %d created, %d updated, %d skipped, %d failed", counts.Created, counts.Updated, counts.Skipped, counts.Failed)
	}
	closeErr := run.results.close()
	if runErr != nil || closeErr != nil {
		resW.Abort()
		logW.Abort()
		if runErr != nil {
			return out, runErr
		}
		return out, closeErr
	}
	if err := resW.Close(); err != nil {
		logW.Abort()
		return out, err
	}
	if err := logW.Close(); err != nil {
		return out, err
	}
	return Outcome{Summary: run.results.counts(), Items: run.total}, nil
}

func (r *run) discover(ctx context.Context) error {
	if cached, ok := r.Discovery.(discovery.CachedDiscoveryInterface); ok && r.served != nil {
		// Again, after definitions were restored: ask the cluster.
		cached.Invalidate()
	}
	lists, err := r.Discovery.ServerPreferredResources()
	if err != nil && len(lists) == 0 {
		return fmt.Errorf("discovering the cluster's resources: %w", err)
	}
	r.served = map[string]apiResource{}
	r.aliases = map[string][]string{}
	resourcescope.Each(lists, func(gv schema.GroupVersion, res metav1.APIResource) {
		gr := res.Name
		if gv.Group != "" {
			gr += "." + gv.Group
		}
		r.served[gr] = apiResource{gvr: gv.WithResource(res.Name), namespaced: res.Namespaced}
		// Every name kubectl accepts: plural, singular, kind, short names.
		for _, alias := range resourcescope.Names(res) {
			r.aliases[alias] = append(r.aliases[alias], gr)
		}
	})
	return nil
}

// restoreAll restores the selected items, one resource at a time in
// priority order, the items of a resource in parallel.
func (r *run) restoreAll(ctx context.Context, index *archive.Index) error {
	if err := r.discover(ctx); err != nil {
		return err
	}
	resFilter := r.resourceFilter()
	for _, it := range index.Items {
		// A resource the cluster does not serve yet may be defined by a CRD
		// of this restore: its short names are only known after that, so
		// it is filtered again when its turn comes.
		_, served := r.served[it.Resource]
		if neverRestored(it.Resource) || (served && !resFilter.includes(it.Resource)) {
			continue
		}
		if it.Namespace != "" && !r.includeNS(it.Namespace) {
			continue
		}
		r.byKind[it.Resource] = append(r.byKind[it.Resource], it)
		r.total++
	}
	var kinds []string
	for k := range r.byKind {
		kinds = append(kinds, k)
	}
	for _, kind := range ordered(kinds) {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := r.restoreKind(ctx, kind, r.byKind[kind]); err != nil {
			return err
		}
		if kind == crdKind {
			// Custom resources restored next need their definitions served.
			if err := r.discoverDefinitions(ctx); err != nil {
				return err
			}
		}
	}
	return nil
}

// discoverDefinitions discovers the cluster's resources again once the
// restored definitions are established, waiting (up to 30 seconds) until
// discovery serves the resources they define: it lags a little behind.
func (r *run) discoverDefinitions(ctx context.Context) error {
	r.uidMu.Lock()
	waiting := sets.List(r.definitions)
	r.uidMu.Unlock()
	var discErr error
	_ = wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		if discErr = r.discover(ctx); discErr != nil {
			return false, nil
		}
		for _, gr := range waiting {
			if _, ok := r.served[gr]; !ok {
				return false, nil
			}
		}
		return true, nil
	})
	if err := ctx.Err(); err != nil {
		return err
	}
	return discErr
}

// definitionRestorable reports whether the backup holds the definition of a
// custom resource (restored, or not, before it).
func (r *run) definitionRestorable(kind string) bool {
	for _, it := range r.byKind[crdKind] {
		if it.Name == kind {
			return true
		}
	}
	return false
}

func (r *run) resourceFilter() nameFilter {
	return newNameFilter(r.resolve(r.restore.Spec.IncludedResources), r.resolve(r.restore.Spec.ExcludedResources))
}

func (r *run) restoreKind(ctx context.Context, kind string, items []archive.Item) error {
	if !r.resourceFilter().includes(kind) {
		for range items {
			r.finish(ItemResult{}) // left out by the filters: no result, but done
		}
		return nil
	}
	api, ok := r.served[kind]
	if !ok && r.wouldDefine(kind) {
		for _, it := range items {
			r.finish(r.previewUndefined(ctx, kind, it))
		}
		return nil
	}
	if !ok {
		// An error, not a warning: the object the user backed up is not
		// back, and a restore that says Completed would hide that.
		why := fmt.Sprintf("resource %s is not served by this cluster", kind)
		if r.definitionRestorable(kind) {
			why += "; its definition is in the backup but was not restored (see the result of " + kind + ")"
		} else {
			why += " and the backup holds no definition of it; install it and restore again"
		}
		for _, it := range items {
			res := ItemResult{Resource: kind, Namespace: r.shaper.target(it.Namespace), Name: it.Name, Action: ActionFailed, Reason: why}
			if res.Namespace != it.Namespace {
				res.SourceNamespace = it.Namespace
			}
			r.finish(res)
		}
		return nil
	}
	workers := r.Workers
	if workers <= 0 {
		workers = 16
	}
	if kind == "namespaces" || kind == crdKind {
		workers = 1
	}
	jobs := make(chan archive.Item)
	var wg sync.WaitGroup
	for range min(workers, len(items)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for it := range jobs {
				r.finish(r.restoreItem(ctx, kind, api, it))
			}
		}()
	}
	for _, it := range items {
		select {
		case jobs <- it:
		case <-ctx.Done():
		}
	}
	close(jobs)
	wg.Wait()
	return ctx.Err()
}

// finish records an item's result (items the filters leave out have none)
// and advances progress. It does not wait for progress to be published:
// publishing writes the restore's status, a round trip to the API server
// that all workers would otherwise pause for.
func (r *run) finish(res ItemResult) {
	if res.Action != "" && r.velero != nil {
		if w := r.velero.warning(res); w != "" {
			res.Warning = w
		}
	}
	if r.restore.Spec.Preview {
		res.Action = previewAction(res)
	}
	if res.Action != "" {
		r.results.item(res)
	}
	r.done.Add(1)
	select {
	case r.progressPending <- struct{}{}:
	default: // the publisher has a nudge waiting already
	}
}

// startProgress starts the goroutine that reports progress, and returns the
// function that stops it once the items are done. Stopping reports the
// final count, if the last report did not, and waits for the report in
// flight: no progress call comes after Run returns, where it could overwrite
// the status its caller writes for the finished restore.
func (r *run) startProgress() (stop func()) {
	quit, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		reported := int64(-1)
		report := func() {
			// total is fixed before the first item finishes, and quit is
			// closed after the last.
			if done := r.done.Load(); done != reported {
				r.progress(r.total, int(done))
				reported = done
			}
		}
		for {
			select {
			case <-r.progressPending:
				report()
			case <-quit:
				report()
				return
			}
		}
	}()
	return func() {
		close(quit)
		<-stopped
	}
}

// restoreItem restores one item and says what happened.
func (r *run) restoreItem(ctx context.Context, kind string, api apiResource, it archive.Item) ItemResult {
	res := ItemResult{Resource: kind, Namespace: r.shaper.target(it.Namespace), Name: it.Name}
	if it.Namespace != "" && res.Namespace != it.Namespace {
		res.SourceNamespace = it.Namespace
	}
	fail := func(format string, args ...any) ItemResult {
		res.Action, res.Reason = ActionFailed, fmt.Sprintf(format, args...)
		return res
	}
	skip := func(format string, args ...any) ItemResult {
		res.Action, res.Reason = ActionSkipped, fmt.Sprintf(format, args...)
		return res
	}
	// failAPI reports a refused write with the API server's reason; a
	// Forbidden one (RBAC, admission such as Pod Security or a quota) is a denial.
	failAPI := func(err error, format string, args ...any) ItemResult {
		var refused refusal
		res.denied = apierrors.IsForbidden(err) || errors.As(err, &refused)
		return fail(format, args...)
	}
	if api.namespaced != (it.Namespace != "") {
		// The layout says one scope, the cluster another: a tampered or
		// foreign backup. Never check rights in one scope and create in another.
		return fail("the backup stores %s as %s, but the cluster serves it as %s", kind, scopeWord(it.Namespace != ""), scopeWord(api.namespaced))
	}
	data, err := it.Content()
	if err != nil {
		return fail("reading the backed-up object: %v", err)
	}
	obj := &unstructured.Unstructured{}
	// UnmarshalJSON keeps integers as int64; encoding/json would round them.
	if err := obj.UnmarshalJSON(data); err != nil {
		return fail("decoding the backed-up object: %v", err)
	}
	if finished(kind, obj) {
		res.Action = ActionSkipped
		res.Reason = ""
		return res
	}
	if !r.selector.Matches(labels.Set(obj.GetLabels())) && kind != "namespaces" {
		return ItemResult{}
	}
	if !api.namespaced {
		if !r.wantClusterScoped(kind, obj) {
			return ItemResult{}
		}
		if kind == crdKind && (r.confined || r.restore.Spec.ExistingResourcePolicy != arkv1.ExistingResourcePolicyUpdate) && r.defined(ctx, obj.GetName()) {
			// The definition a namespace backup carries along is
			// usually still there: nothing to say.
			res.Action, res.Note = ActionSkipped, "already defined in the cluster; left as it is"
			r.uidMu.Lock()
			r.definitions.Insert(obj.GetName())
			r.uidMu.Unlock()
			return res
		}
		if r.confined {
			if kind == "namespaces" && r.shaper.target(obj.GetName()) == r.restore.Namespace {
				// The restore's own namespace exists (the restore is in
				// it): nothing to create, nothing to warn about.
				res.Action, res.Name = ActionSkipped, r.restore.Namespace
				return res
			}
			return skip("a restore in namespace %s may not create cluster-scoped objects", r.restore.Namespace)
		}
	} else if r.confined && res.Namespace != r.restore.Namespace {
		return fail("a restore in namespace %s may only restore into %s, not %s", r.restore.Namespace, r.restore.Namespace, res.Namespace)
	}
	if kind == "persistentvolumes" && r.restore.Spec.RestorePVs != nil && !*r.restore.Spec.RestorePVs {
		return skip("restorePVs is false")
	}
	if kind == "persistentvolumes" {
		if rec, ok := r.csiSnapshotOf(obj.GetName()); ok {
			res.Action = ActionSkipped
			res.Note = fmt.Sprintf("a new volume is provisioned from CSI snapshot %s when its claim is restored", rec.SnapshotID)
			return res
		}
		if info := r.LegacySnapshots[obj.GetName()]; info != nil {
			// Restoring the object alone would point at the old disk,
			// which may be gone or another cluster's: the data is in
			// the snapshot, which Ark cannot turn into a disk.
			return skip("its data is in disk snapshot %s taken by Heptio Ark (type %q, zone %q), which Ark cannot restore: create a disk from the snapshot and a PersistentVolume for it", info.SnapshotID, info.Type, info.AvailabilityZone)
		}
	}

	oldUID := string(obj.GetUID())
	status, keepStatus := r.statusToRestore(kind, obj)
	r.uidMu.Lock() // shape reads the UIDs other workers record
	r.shaper.shape(kind, obj)
	r.uidMu.Unlock()
	if r.csi != nil {
		if err := r.csi.reshape(kind, it.Namespace, it.Name, obj, r.shaper.target); err != nil {
			return fail("%v", err)
		}
	}
	if res.Modifiers, err = r.modify(kind, obj); err != nil {
		return fail("%v", err)
	}
	var execHooks []hooks.Hook
	if kind == "pods" {
		if execHooks, res.Hooks, err = r.podHooks(obj); err != nil {
			return fail("restore hooks: %v", err)
		}
	}
	if kind == "persistentvolumeclaims" && (r.restore.Spec.RestorePVs == nil || *r.restore.Spec.RestorePVs) {
		if err := r.claimFromSnapshot(obj); err != nil {
			return fail("%v", err)
		}
		if why := r.redirectClaim(obj); why != "" {
			return fail("%s", why)
		}
	}
	if kind == "namespaces" {
		res.Name = obj.GetName()
	}
	allowed, reason, err := r.Access.CanCreate(ctx, r.restore.Spec.Requester, api.gvr.GroupResource(), res.Namespace)
	if err != nil {
		return fail("checking whether %s may create %s: %v", r.restore.Spec.Requester.Username, kind, err)
	}
	if !allowed {
		res.denied = true
		return fail("%s may not create %s in %s: %s", r.restore.Spec.Requester.Username, kind, scopeName(res.Namespace), reason)
	}
	if api.namespaced {
		if err := r.ensureNamespace(ctx, res.Namespace); err != nil {
			return failAPI(err, "namespace %s: %v", res.Namespace, err)
		}
		if r.wouldCreateNamespace(res.Namespace) {
			// The API server refuses even a dry run into a namespace that
			// does not exist: only the requester's rights were checked.
			res.Action, res.Note = ActionCreated, fmt.Sprintf("namespace %s would be created first, so only %s's rights were checked, not the API server's dry run", res.Namespace, r.restore.Spec.Requester.Username)
			return res
		}
	}
	gvr := api.gvr
	if gv, err := schema.ParseGroupVersion(obj.GetAPIVersion()); err == nil && gv.Group == gvr.Group && gv.Version != "" {
		gvr.Version = gv.Version // create in the version it was backed up in
	}
	client := r.Dynamic.Resource(gvr)
	var ri dynamic.ResourceInterface = client
	if api.namespaced {
		ri = client.Namespace(res.Namespace)
	}
	var (
		created *metav1.ObjectMeta
		full    *unstructured.Unstructured // a volume's data is restored from it
	)
	if mc, ok := r.Dynamic.(MetadataCreator); ok && kind != "persistentvolumes" {
		created, err = mc.CreateMetadata(ctx, gvr, res.Namespace, obj, r.createOptions())
	} else if full, err = ri.Create(ctx, obj, r.createOptions()); err == nil {
		created = metadataOf(full)
	}
	switch {
	case err == nil:
		res.Action = ActionCreated
		r.remember(ctx, kind, oldUID, created)
		if keepStatus {
			r.restoreStatus(ctx, ri, obj, created.ResourceVersion, status, &res)
		}
		if len(execHooks) > 0 {
			r.startExecHooks(ctx, hooks.PodOf(obj), execHooks)
		}
		if kind == "persistentvolumes" {
			note, err := r.restoreVolumeData(ctx, full, obj.GetName())
			res.Note = note
			if err != nil {
				res.Reason = fmt.Sprintf("volume data not restored: %v", err)
			}
		}
		return res
	case apierrors.IsAlreadyExists(err):
		if kind == "persistentvolumes" {
			if out, handled := r.restoreExistingVolume(ctx, ri, api, obj, res); handled {
				return out
			}
		}
		if kind == "namespaces" || madeByKubernetes(kind, obj) {
			res.Action = ActionSkipped
			return res
		}
		update := r.restore.Spec.ExistingResourcePolicy == arkv1.ExistingResourcePolicyUpdate
		if !update && !r.restore.Spec.Preview {
			return skip("%s %s already exists and the existing-resource policy is %q", kind, displayName(res), policyOf(r.restore))
		}
		if checker, ok := r.Access.(UpdateAccessChecker); ok && update {
			allowed, reason, err := checker.CanUpdate(ctx, r.restore.Spec.Requester, api.gvr.GroupResource(), res.Namespace)
			if err != nil {
				return fail("checking whether %s may update %s: %v", r.restore.Spec.Requester.Username, kind, err)
			}
			if !allowed {
				res.denied = true
				return fail("%s already exists and %s may not update %s in %s: %s", displayName(res), r.restore.Spec.Requester.Username, kind, scopeName(res.Namespace), reason)
			}
		}
		existing, err := ri.Get(ctx, obj.GetName(), metav1.GetOptions{})
		if err != nil && !update {
			// Only a preview reads it under the policy "none", which
			// leaves it as it is whatever it holds.
			return skip("%s %s already exists and the existing-resource policy is %q; it could not be compared: %v", kind, displayName(res), policyOf(r.restore), err)
		}
		if err != nil {
			return failAPI(err, "reading the existing object: %v", err)
		}
		if r.restore.Spec.Preview {
			// What a restore would do to the object there: nothing if
			// it holds what the backup does; otherwise leave it (a
			// conflict) or update it, as the policy says.
			if res.Diff = differences(kind, obj, existing); len(res.Diff) == 0 {
				res.Action, res.Note = ActionSkipped, "exists and is identical to the backed-up object"
				return res
			}
			if !update {
				res.Action, res.Note = actionConflict, fmt.Sprintf("exists and differs from the backed-up object; the existing-resource policy %q would leave it as it is", policyOf(r.restore))
				return res
			}
		}
		obj.SetResourceVersion(existing.GetResourceVersion())
		updated, err := ri.Update(ctx, obj, r.updateOptions())
		if err != nil {
			return failAPI(err, "updating the existing object: %v", err)
		}
		res.Action = ActionUpdated
		r.remember(ctx, kind, oldUID, metadataOf(updated))
		if keepStatus {
			r.restoreStatus(ctx, ri, obj, updated.GetResourceVersion(), status, &res)
		}
		return res
	default:
		return failAPI(err, "%v", err)
	}
}

// refusal is a step the requester's rights do not allow, found by Ark's own
// access check rather than refused by the API server.
type refusal string

func (r refusal) Error() string { return string(r) }

func scopeWord(namespaced bool) string {
	if namespaced {
		return "namespaced"
	}
	return "cluster-scoped"
}

func scopeName(ns string) string {
	if ns == "" {
		return "the cluster"
	}
	return "namespace " + ns
}

func displayName(res ItemResult) string {
	if res.Namespace == "" {
		return res.Name
	}
	return res.Namespace + "/" + res.Name
}

func policyOf(r *arkv1.Restore) arkv1.ExistingResourcePolicy {
	if r.Spec.ExistingResourcePolicy == "" {
		return arkv1.ExistingResourcePolicyNone
	}
	return r.Spec.ExistingResourcePolicy
}

// remember maps a restored object's old UID to its new one, and notes
// restored claims and definitions.
func (r *run) remember(ctx context.Context, kind, oldUID string, created *metav1.ObjectMeta) {
	r.uidMu.Lock()
	if oldUID != "" {
		r.shaper.restoredUIDs[oldUID] = string(created.UID)
	}
	if kind == "persistentvolumeclaims" {
		r.restored.Insert(created.Namespace + "/" + created.Name)
	}
	r.uidMu.Unlock()
	if kind == crdKind {
		preview := r.restore.Spec.Preview
		r.uidMu.Lock()
		if preview {
			// Not created, so never served: nothing to wait for.
			r.previewDefined.Insert(created.Name)
		} else {
			r.definitions.Insert(created.Name)
		}
		r.uidMu.Unlock()
		if !preview {
			r.waitEstablished(ctx, created.Name)
		}
	}
}

// metadataOf is what remember needs of an object the API server returned.
func metadataOf(u *unstructured.Unstructured) *metav1.ObjectMeta {
	return &metav1.ObjectMeta{UID: u.GetUID(), Namespace: u.GetNamespace(), Name: u.GetName(), ResourceVersion: u.GetResourceVersion()}
}

// wantClusterScoped decides whether a cluster-scoped item is restored:
// everything when the spec asks for cluster resources or the whole backup is
// restored, otherwise only the namespaces of restored items and the volumes
// of restored claims.
func (r *run) wantClusterScoped(kind string, obj *unstructured.Unstructured) bool {
	include := r.restore.Spec.IncludeClusterResources
	inc := r.restore.Spec.IncludedNamespaces
	whole := (len(inc) == 0 || (len(inc) == 1 && inc[0] == "*")) && len(r.restore.Spec.ExcludedNamespaces) == 0
	switch {
	case kind == "namespaces":
		return r.includeNS(obj.GetName())
	case include != nil && !*include:
		return false
	case (include != nil && *include) || whole:
		return true
	case kind == crdKind:
		// The definitions of the custom resources restored.
		return len(r.byKind[obj.GetName()]) > 0
	case kind == "persistentvolumes":
		ns, _, _ := unstructured.NestedString(obj.Object, "spec", "claimRef", "namespace")
		name, _, _ := unstructured.NestedString(obj.Object, "spec", "claimRef", "name")
		return ns != "" && r.includeNS(ns) && r.claimSelected(ns, name)
	}
	return false
}

// claimSelected reports whether the backup holds the claim and this restore
// restores it (PVs are restored before their claims, so this checks the
// selection, not the outcome).
func (r *run) claimSelected(ns, name string) bool {
	for _, it := range r.byKind["persistentvolumeclaims"] {
		if it.Namespace == ns && it.Name == name {
			return true
		}
	}
	return false
}

// namespaceCheck is one lookup (and, if needed, creation) of a target
// namespace: the first item into the namespace makes it, the others wait for
// its outcome in done rather than each asking the cluster again.
type namespaceCheck struct {
	done chan struct{}
	err  error // set before done is closed
}

// ensureNamespace makes sure a target namespace exists, creating it if it
// does not. The items of a resource are restored by many workers at once:
// without coordination each of them would look the namespace up, check the
// requester's right to create namespaces and try to create it, all for the
// same answer. So one check runs per namespace and the other workers wait
// for it. A check that failed is forgotten once its waiters have its error:
// the failure may be passing (a timeout), and the next item tries again
// rather than trusting, or distrusting, the namespace forever.
func (r *run) ensureNamespace(ctx context.Context, ns string) error {
	r.nsMu.Lock()
	check, ok := r.namespaces[ns]
	if !ok {
		check = &namespaceCheck{done: make(chan struct{})}
		r.namespaces[ns] = check
	}
	r.nsMu.Unlock()
	if ok {
		select {
		case <-check.done:
			return check.err
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	check.err = r.createNamespace(ctx, ns)
	if check.err != nil {
		r.nsMu.Lock()
		delete(r.namespaces, ns)
		r.nsMu.Unlock()
	}
	close(check.done)
	return check.err
}

// createNamespace creates a target namespace that does not exist yet, if
// the requester may.
func (r *run) createNamespace(ctx context.Context, ns string) error {
	nsGVR := schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}
	if _, err := r.cluster().Resource(nsGVR).Get(ctx, ns, metav1.GetOptions{}); err == nil {
		return nil
	} else if !apierrors.IsNotFound(err) {
		return err
	}
	// Creating a namespace is creating a cluster-scoped object: the
	// requester must be allowed to, like for any restored item.
	allowed, reason, err := r.Access.CanCreate(ctx, r.restore.Spec.Requester, schema.GroupResource{Resource: "namespaces"}, "")
	if err != nil {
		return fmt.Errorf("checking whether %s may create it: %w", r.restore.Spec.Requester.Username, err)
	}
	if !allowed {
		return refusal(fmt.Sprintf("it does not exist and %s may not create namespaces: %s", r.restore.Spec.Requester.Username, reason))
	}
	obj := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{
		"name": ns,
		"labels": map[string]any{
			arkv1.LabelRestoreName: labelValue(r.restore.Name),
			arkv1.LabelBackupName:  labelValue(r.backup),
		},
	}}}
	if _, err := r.Dynamic.Resource(nsGVR).Create(ctx, obj, metav1.CreateOptions{DryRun: r.dryRun()}); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	if r.restore.Spec.Preview {
		r.nsMu.Lock()
		r.previewNamespaces.Insert(ns)
		r.nsMu.Unlock()
		r.results.infof("would create namespace %s", ns)
		return nil
	}
	r.results.infof("created namespace %s", ns)
	return nil
}

// crdKind is how definitions are named in the tarball and the results.
const crdKind = "customresourcedefinitions.apiextensions.k8s.io"

var crdGVR = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// defined reports whether the cluster has a definition of that name.
func (r *run) defined(ctx context.Context, name string) bool {
	_, err := r.cluster().Resource(crdGVR).Get(ctx, name, metav1.GetOptions{})
	return err == nil
}

// waitEstablished waits (up to a minute) until a restored definition is served.
func (r *run) waitEstablished(ctx context.Context, name string) {
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		crd, err := r.cluster().Resource(crdGVR).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		conds, _, _ := unstructured.NestedSlice(crd.Object, "status", "conditions")
		for _, c := range conds {
			m, _ := c.(map[string]any)
			if m["type"] == "Established" && m["status"] == "True" {
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		r.results.warnf("custom resource definition %s was not established within a minute", name)
	}
}

// resolve adds, for every name a user wrote, the group-resources it stands
// for: "cm" is configmaps, "deploy" deployments.apps. Names the cluster does
// not know are kept as written (the backup may hold resources it no longer
// serves).
func (r *run) resolve(names []string) []string {
	out := append([]string(nil), names...)
	for _, n := range names {
		out = append(out, r.aliases[strings.ToLower(n)]...)
	}
	return out
}

// nameFilter selects resources by the names a user wrote: plural,
// "resource.group", or "*".
type nameFilter struct {
	all                bool
	included, excluded sets.Set[string]
}

func newNameFilter(inc, exc []string) nameFilter {
	f := nameFilter{included: sets.New[string](), excluded: sets.New[string]()}
	if len(inc) == 0 || (len(inc) == 1 && inc[0] == "*") {
		f.all = true
	}
	for _, n := range inc {
		f.included.Insert(strings.ToLower(n))
	}
	for _, n := range exc {
		f.excluded.Insert(strings.ToLower(n))
	}
	return f
}

// includes matches "deployments.apps" by its full name or its plural alone.
func (f nameFilter) includes(groupResource string) bool {
	plural, _, _ := strings.Cut(groupResource, ".")
	if f.excluded.Has(groupResource) || f.excluded.Has(plural) {
		return false
	}
	return f.all || f.included.Has(groupResource) || f.included.Has(plural)
}
