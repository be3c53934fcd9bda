package backup

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
	"github.com/arkproject/ark/pkg/backupstore"
	"github.com/arkproject/ark/pkg/backupstore/encryption"
	"github.com/arkproject/ark/pkg/hooks"
	"github.com/arkproject/ark/pkg/objectstore"
	"github.com/arkproject/ark/pkg/snapshot"
)

// DefaultPageSize is how many objects one LIST returns.
const DefaultPageSize = 500

// Backupper takes backups of one cluster into one backup storage location.
type Backupper struct {
	Discovery discovery.DiscoveryInterface
	Dynamic   dynamic.Interface
	// Access checks the requester's rights before anything is read.
	Access AccessChecker
	Store  objectstore.Store
	// Layout places the backup's files in the bucket by its namespace.
	Layout backupstore.Layout
	// Snapshotters snapshot persistent volumes, the first that handles a
	// volume wins; none means volume data is not backed up.
	Snapshotters []snapshot.VolumeSnapshotter
	// Hooks runs pre and post hooks in pods; nil means hooks are not run
	// (and a backup that has some gets a warning).
	Hooks hooks.Executor
	// PageSize is the LIST page size; 0 means DefaultPageSize.
	PageSize int64
	// LiveLogInterval is how often a running backup's log is published for
	// followers; 0 means every 2 seconds.
	LiveLogInterval time.Duration
	// MaxHookTimeout, when set, caps every hook's timeout: a namespace's
	// users write their pods' hook annotations, and must not hold a
	// worker for as long as they like.
	MaxHookTimeout time.Duration
}

// ProgressFunc receives the number of items found and written so far. It is
// called after every item; callers throttle what they publish.
type ProgressFunc func(total, done int)

// Outcome summarizes a finished backup.
type Outcome struct {
	Items    int
	Warnings int
	Errors   int
	// VolumeSnapshotsAttempted and VolumeSnapshotsCompleted count volume snapshots.
	VolumeSnapshotsAttempted int
	VolumeSnapshotsCompleted int
	// EncryptionKeyID is the location key that wraps the backup's data
	// key; empty when the backup is not encrypted.
	EncryptionKeyID string
}

// run is the state of one backup in progress.
type run struct {
	*Backupper
	backup *arkv1.Backup
	ref    backupstore.Backup
	// dataKey encrypts the backup's files; nil when it is not encrypted.
	dataKey  *encryption.DataKey
	log      *backupLog
	tar      *tarball
	list     *resourceList
	lists    *lister
	ns       namespaceFilter
	progress ProgressFunc
	total    int
	done     int
	filter   resourceFilter
	// unlisted are the resources, by where, that the requester may not
	// list and did not name: skipped, and reported once at the end.
	unlisted map[string][]string
	// claims are the backed-up claims bound to a volume, by "ns/name".
	claims    map[string]claimBinding
	startTime time.Time
	// snapshotted are the PVs already snapshotted; snapshots their records.
	snapshotted sets.Set[string]
	snapshots   []snapshot.Record
	// customHeld are the custom resources ("widgets.example.com") with
	// items in the backup; definitionsHeld the definitions it holds.
	customHeld, definitionsHeld sets.Set[string]
	// ordered are the items spec.orderedResources puts first, by
	// group-resource (see resolveOrdered).
	ordered map[string][]string
}

// Run takes the backup and uploads its files. It returns an error when the
// backup as a whole failed (nothing usable was stored); per-item problems are
// counted in the Outcome and written to the results and the log.
func (b *Backupper) Run(ctx context.Context, backup *arkv1.Backup, progress ProgressFunc) (out Outcome, err error) {
	if backup.Spec.Requester == nil {
		return out, errors.New("the backup records no requester, so there is no one whose rights it could use")
	}
	if sel := backup.Spec.LabelSelector; sel != nil {
		// selector() cannot fail later: an invalid selector must fail the
		// backup, never widen it to every object.
		if _, err := metav1.LabelSelectorAsSelector(sel); err != nil {
			return out, fmt.Errorf("the backup's label selector is invalid: %w", err)
		}
	}
	if progress == nil {
		progress = func(int, int) {}
	}
	ref := b.Layout.Backup(backup.Namespace, backup.Name)
	start := time.Now()
	if backup.Status.StartTimestamp != nil {
		start = backup.Status.StartTimestamp.Time
	}
	// An encrypted backup's key file comes first: a follower of its live
	// log, and a restore, find the data key there.
	dk, err := ref.StartEncryption(ctx, b.Store)
	if err != nil {
		return out, err
	}
	uploads := map[string]*upload{}
	var tarball *tarball
	defer func() {
		if err != nil {
			// The tarball's compression writes into its upload from its
			// own goroutines: stopped first, and waited for.
			if tarball != nil {
				tarball.abort()
			}
			for _, u := range uploads {
				u.abort()
			}
			if dk != nil {
				_ = b.Store.Delete(context.WithoutCancel(ctx), ref.KeyFileKey(), objectstore.Conditions{})
			}
		}
	}()
	open := func(key string) (*upload, error) {
		u, err := newUpload(ctx, b.Store, key, dk)
		if err == nil {
			uploads[key] = u
		}
		return u, err
	}
	tarUp, err := open(ref.TarballKey())
	if err != nil {
		return out, err
	}
	logUp, err := open(ref.LogsKey())
	if err != nil {
		return out, err
	}
	listUp, err := open(ref.ResourceListKey())
	if err != nil {
		return out, err
	}
	tarball = newTarball(tarUp, start)
	r := &run{
		Backupper: b, backup: backup, progress: progress,
		ref:         ref,
		dataKey:     dk,
		log:         newBackupLog(logUp, backup.Name),
		tar:         tarball,
		list:        newResourceList(listUp),
		ns:          newNamespaceFilter(backup.Spec.IncludedNamespaces, backup.Spec.ExcludedNamespaces),
		claims:      map[string]claimBinding{},
		unlisted:    map[string][]string{},
		snapshotted: sets.New[string](),
		startTime:   start,
		customHeld:  sets.New[string](), definitionsHeld: sets.New[string](),
	}
	r.log.infof("starting backup %s/%s of %s, requested by %s", backup.Namespace, backup.Name, r.ns, backup.Spec.Requester.Username)
	stopLive := r.publishLiveLog(ctx)
	defer func() {
		stopLive()
		if err != nil {
			// A failed backup keeps no files; its reason is in its status.
			_ = b.Store.Delete(context.WithoutCancel(ctx), ref.LiveLogKey(), objectstore.Conditions{})
		}
	}()
	if err := r.tar.add("metadata/version", []byte(strconv.Itoa(FormatVersion))); err != nil {
		return out, err
	}
	if err := r.collect(ctx); err != nil {
		return out, err
	}
	r.log.infof("backed up %d items: %d warnings, %d errors", r.done, r.log.results.Warnings.Count, r.log.results.Errors.Count)

	manifest := backupstore.Manifest{Version: backupstore.ManifestVersion, Files: map[string]backupstore.ManifestEntry{}}
	finish := func(key string, closeStream func() error) error {
		if err := closeStream(); err != nil {
			return fmt.Errorf("finishing %s: %w", key, err)
		}
		entry, err := uploads[key].commit()
		if err != nil {
			return err
		}
		delete(uploads, key)
		manifest.Files[backupstore.FileName(key)] = entry
		return nil
	}
	if err := finish(ref.TarballKey(), r.tar.close); err != nil {
		return out, err
	}
	if err := finish(ref.ResourceListKey(), r.list.close); err != nil {
		return out, err
	}
	out = Outcome{Items: r.done, Warnings: r.log.results.Warnings.Count, Errors: r.log.results.Errors.Count}
	if dk != nil {
		out.EncryptionKeyID = ref.Keys().ActiveID()
	}
	for _, s := range r.snapshots {
		out.VolumeSnapshotsAttempted++
		if s.Phase == snapshot.PhaseCompleted {
			out.VolumeSnapshotsCompleted++
		}
	}
	stopLive()
	if err := finish(ref.LogsKey(), r.log.close); err != nil {
		return out, err
	}
	// Followers switch to the final log once the backup's phase is final;
	// the live copy is only a convenience, so a failed delete is harmless.
	_ = b.Store.Delete(ctx, ref.LiveLogKey(), objectstore.Conditions{})
	for _, f := range []struct {
		key string
		v   any
	}{
		{ref.ResultsKey(), r.log.results},
		{ref.VolumeSnapshotsKey(), append([]snapshot.Record{}, r.snapshots...)},
	} {
		key, v := f.key, f.v
		u, err := open(key)
		if err != nil {
			return out, err
		}
		gz := newGzipJSON(u)
		if err := finish(key, func() error { return gz.write(v) }); err != nil {
			return out, err
		}
	}
	manifest.Seal(dk)
	data, err := json.MarshalIndent(manifest, "", "  ")
	if err != nil {
		return out, err
	}
	if _, err := objectstore.PutBytes(ctx, b.Store, ref.ManifestKey(), data, objectstore.Conditions{}); err != nil {
		return out, fmt.Errorf("uploading the manifest: %w", err)
	}
	return out, nil
}

// collect lists every selected resource and writes its items.
func (r *run) collect(ctx context.Context) error {
	resources, discErr := discoverResources(r.Discovery)
	discErr = withoutArkGroup(discErr)
	if discErr != nil {
		if len(resources) == 0 {
			return fmt.Errorf("discovering the cluster's resources: %w", discErr)
		}
		r.log.warnf("", "", "some API groups could not be discovered and are not backed up: %v", discErr)
	}
	filter, unknown := newResourceFilter(r.backup.Spec.IncludedResources, r.backup.Spec.ExcludedResources, resources)
	r.filter = filter
	for _, u := range unknown {
		r.log.warnf("", "", "resource %q is not served by this cluster", u)
	}
	r.ordered = r.resolveOrdered(resources)
	defer r.reportUnlisted()
	// The listings run ahead in goroutines that must all have stopped when
	// collect returns, whether it succeeded or not.
	ctx, cancel := context.WithCancel(ctx)
	r.lists = newLister(ctx, r, r.planLists(resources))
	defer func() {
		cancel()
		r.lists.wg.Wait()
	}()
	for _, res := range resources {
		if err := ctx.Err(); err != nil {
			return err
		}
		definitions := res.GroupResource() == crdResource
		if !filter.includes(res) {
			if definitions {
				if err := r.addDefinitions(ctx, res); err != nil {
					return err
				}
			}
			continue
		}
		var err error
		if res.namespaced {
			err = r.backupNamespaced(ctx, res)
		} else {
			err = r.backupClusterScoped(ctx, res, filter)
		}
		if err == nil && definitions {
			err = r.addDefinitions(ctx, res)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// planLists returns the LISTs of namespaced resources collect will make, in
// its order, for the lister to start ahead. Cluster-scoped resources are
// left out: whether and how they are listed depends on what was backed up
// before them (claims, custom resources), so they are listed when reached.
func (r *run) planLists(resources []resource) []listRequest {
	var plan []listRequest
	for _, res := range resources {
		if !res.namespaced || !r.filter.includes(res) {
			continue
		}
		for _, ns := range r.namespacesToList() {
			plan = append(plan, newListRequest(res, ns, r.selector()))
		}
	}
	return plan
}

// namespacesToList are the namespaces listed one by one, or all at once.
func (r *run) namespacesToList() []string {
	if namespaces := r.ns.listed(); namespaces != nil {
		return namespaces
	}
	return []string{metav1.NamespaceAll}
}

func (r *run) backupNamespaced(ctx context.Context, res resource) error {
	for _, ns := range r.namespacesToList() {
		if err := r.listAndWrite(ctx, res, ns, r.selector(), func(item *unstructured.Unstructured) bool {
			return r.ns.includes(item.GetNamespace())
		}); err != nil {
			return err
		}
	}
	return nil
}

// backupClusterScoped backs up a cluster-scoped resource when the spec asks
// for cluster resources, or, when it does not say, if the whole cluster is
// backed up or the items are tied to what was: the namespaces themselves and
// the persistent volumes of backed-up claims.
func (r *run) backupClusterScoped(ctx context.Context, res resource, filter resourceFilter) error {
	include := r.backup.Spec.IncludeClusterResources
	gr := res.GroupResource()
	switch {
	case gr == "namespaces":
		keep := func(item *unstructured.Unstructured) bool { return r.ns.includes(item.GetName()) }
		if r.ns.wholeCluster() || (include != nil && *include) || filter.explicitlyIncluded(res) {
			return r.listAndWrite(ctx, res, "", "", keep)
		}
		return r.listImplied(ctx, res, keep)
	case include != nil && !*include:
		return nil
	case (include != nil && *include) || r.ns.wholeCluster() || filter.explicitlyIncluded(res):
		return r.listAndWrite(ctx, res, "", r.selector(), nil)
	case gr == "persistentvolumes":
		if len(r.claims) == 0 {
			return nil
		}
		return r.listImplied(ctx, res, func(item *unstructured.Unstructured) bool {
			return r.boundToHeldClaim(item) == ""
		})
	}
	return nil
}

func (r *run) selector() string {
	if r.backup.Spec.LabelSelector == nil {
		return ""
	}
	sel, err := metav1.LabelSelectorAsSelector(r.backup.Spec.LabelSelector)
	if err != nil {
		return ""
	}
	return sel.String()
}

// listAndWrite lists res (in ns, or cluster-wide) page by page, writing each
// item that keep accepts. A denied or failed list is an error for that
// resource, not for the backup.
func (r *run) listAndWrite(ctx context.Context, res resource, ns, selector string, keep func(*unstructured.Unstructured) bool) error {
	return r.listItems(ctx, res, ns, selector, false, keep)
}

// listImplied lists a cluster-scoped resource the backup did not ask for but
// that goes with what it did (namespace objects, claimed volumes). A requester
// who may not read it gets a warning, not an error: a namespace user can
// rarely list cluster-scoped resources, and their backup is still whole.
func (r *run) listImplied(ctx context.Context, res resource, keep func(*unstructured.Unstructured) bool) error {
	return r.listItems(ctx, res, "", "", true, keep)
}

func (r *run) listItems(ctx context.Context, res resource, ns, selector string, implied bool, keep func(*unstructured.Unstructured) bool) error {
	gr := res.GroupResource()
	scope := "cluster"
	if res.namespaced && ns != "" {
		scope = ""
	}
	l := r.lists.take(newListRequest(res, ns, selector))
	// Pods' pre hooks quiesce their applications: nothing after the pods is
	// read before the hooks have run.
	if gr != "pods" {
		r.lists.fill()
	}
	select {
	case <-l.checked:
	case <-ctx.Done():
		return ctx.Err()
	}
	if l.accessErr != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		r.log.errorf(ns, scope, "checking whether %s may list %s: %v", r.backup.Spec.Requester.Username, gr, l.accessErr)
		return nil
	}
	if !l.allowed {
		where := "cluster-wide"
		if ns != "" {
			where = "in namespace " + ns
		}
		if !implied && !r.filter.explicitlyIncluded(res) {
			// Not asked for by name: "everything" means everything the
			// requester may read, so this is said once, not an error.
			r.unlisted[where] = append(r.unlisted[where], gr)
			return nil
		}
		report := r.log.errorf
		if implied {
			report = r.log.warnf
		}
		report(ns, scope, "%s may not list %s %s, so they are not backed up: %s", r.backup.Spec.Requester.Username, gr, where, l.reason)
		return nil
	}
	close(l.promoted)
	write := r.write
	if gr == "pods" {
		write = r.writePod
	}
	first, err := r.writeOrdered(ctx, res, ns, selector, keep, write)
	if err != nil {
		return err
	}
	// The total grows as pages arrive, using the server's count of what
	// remains when it gives one, so progress is an honest estimate.
	base, expected, received, skipped := r.total, 0, 0, 0
	for page := range l.pages {
		if page.err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			r.log.errorf(ns, scope, "listing %s: %v", gr, page.err)
			return nil
		}
		received += len(page.items)
		if rem := page.remaining; rem != nil {
			expected = received + int(*rem)
		}
		r.total = base + max(expected, received) - skipped
		for i := range page.items {
			item := &page.items[i]
			if first.Has(itemName(item)) || (keep != nil && !keep(item)) {
				skipped++
				r.total--
				continue
			}
			if excludedByLabel(item) {
				r.log.infof("skipped %s %s: labelled %s=true", gr, itemName(item), arkv1.LabelExcludeFromBackup)
				skipped++
				r.total--
				continue
			}
			if err := write(ctx, res, item, &page.encoded[i]); err != nil {
				return err
			}
		}
		if page.last {
			return nil
		}
	}
	// The listing stopped before its last page: the backup was cancelled.
	if err := ctx.Err(); err != nil {
		return err
	}
	return fmt.Errorf("listing %s stopped before its last page", gr)
}

// excludedByLabel reports whether the item's owner keeps it out of backups
// with arkv1.LabelExcludeFromBackup. Items listed raw carry only this label
// (see rawItems), which is all it reads.
func excludedByLabel(item *unstructured.Unstructured) bool {
	v, _, _ := unstructured.NestedString(item.Object, "metadata", "labels", arkv1.LabelExcludeFromBackup)
	return v == "true"
}

// itemName is "namespace/name", or "name" for a cluster-scoped item, as the
// log names items.
func itemName(item *unstructured.Unstructured) string {
	if ns := item.GetNamespace(); ns != "" {
		return ns + "/" + item.GetName()
	}
	return item.GetName()
}

// write stores one item in the tarball and the resource list. enc is the
// item already prepared and encoded by the lister, or nil to do it here.
func (r *run) write(ctx context.Context, res resource, item *unstructured.Unstructured, enc *encodedItem) error {
	ns, name := item.GetNamespace(), item.GetName()
	if !res.namespaced {
		ns = ""
	}
	path, err := itemPath(res.GroupResource(), ns, name)
	if err != nil {
		r.log.errorf(ns, "cluster", "%s %s: %v", res.GroupResource(), name, err)
		return nil
	}
	if enc == nil {
		e := encode(res, item)
		enc = &e
	}
	if enc.err != nil {
		r.log.errorf(ns, "cluster", "encoding %s %s/%s: %v", res.GroupResource(), ns, name, enc.err)
		return nil
	}
	if err := r.tar.add(path, enc.data); err != nil {
		return err
	}
	if err := r.list.add(res.GroupResource(), ns, name); err != nil {
		return err
	}
	if res.GroupResource() == "persistentvolumes" {
		r.snapshotPV(ctx, item)
	}
	if res.GroupResource() == "persistentvolumeclaims" {
		r.holdClaim(item)
	}
	if res.GroupResource() == crdResource {
		r.definitionsHeld.Insert(name)
	} else if mayBeCustom(res) {
		r.customHeld.Insert(res.GroupResource())
	}
	r.done++
	r.progress(max(r.total, r.done), r.done)
	return nil
}

// prepare removes what a restore must not see and what only churns:
// managed fields everywhere, and a node's status.
func prepare(res resource, item *unstructured.Unstructured) {
	unstructured.RemoveNestedField(item.Object, "metadata", "managedFields")
	if res.GroupResource() == "nodes" {
		unstructured.RemoveNestedField(item.Object, "status")
	}
}

// reportUnlisted says, once per namespace, which resources were skipped
// because the requester may not list them: a warning, so that an honest
// tenant's backup of their namespace completes.
func (r *run) reportUnlisted() {
	wheres := make([]string, 0, len(r.unlisted))
	for w := range r.unlisted {
		wheres = append(wheres, w)
	}
	sort.Strings(wheres)
	for _, where := range wheres {
		ns, scope := strings.TrimPrefix(where, "in namespace "), ""
		if ns == where {
			ns, scope = "", "cluster"
		}
		r.log.warnf(ns, scope, "%s may not list these resources %s, so they are not backed up: %s", r.backup.Spec.Requester.Username, where, strings.Join(r.unlisted[where], ", "))
	}
}

// withoutArkGroup drops discovery failures of Ark's own group, which is never
// backed up (and is briefly unavailable while the server starts).
func withoutArkGroup(err error) error {
	var failed *discovery.ErrGroupDiscoveryFailed
	if !errors.As(err, &failed) {
		return err
	}
	rest := map[schema.GroupVersion]error{}
	for gv, e := range failed.Groups {
		if gv.Group != arkGroup {
			rest[gv] = e
		}
	}
	if len(rest) == 0 {
		return nil
	}
	return &discovery.ErrGroupDiscoveryFailed{Groups: rest}
}

// publishLiveLog uploads the log's start every LiveLogInterval while the
// backup runs, so `backups/logs` can follow it from any replica. The
// returned func stops it after one last upload; it may be called twice.
func (r *run) publishLiveLog(ctx context.Context) (stop func()) {
	interval := r.LiveLogInterval
	if interval == 0 {
		interval = 2 * time.Second
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	publish := func() {
		if data, ok := r.log.liveSnapshot(); ok {
			if r.dataKey != nil {
				data = r.dataKey.Seal(data, r.ref.LiveLogKey())
			}
			_, _ = objectstore.PutBytes(ctx, r.Store, r.ref.LiveLogKey(), data, objectstore.Conditions{})
		}
	}
	go func() {
		defer close(finished)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			publish()
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			close(done)
			<-finished
		})
	}
}
