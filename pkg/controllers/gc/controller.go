// Package gc deletes backups: those past their expiration and those a user
// deleted. A backup goes to Deleting, then its volume snapshots, the
// restores made from it and its bucket files are removed, its metadata file
// last, so it leaves the list only when nothing of it is left. Nothing is
// deleted when something cannot be read or does not belong to the backup,
// and no backup this cluster's Ark did not accept is touched: in a bucket
// shared by several clusters each one expires and deletes its own.
package gc

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/retry"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
	"github.com/arkproject/ark/pkg/backupstore"
	"github.com/arkproject/ark/pkg/backupstore/encryption"
	"github.com/arkproject/ark/pkg/controllers/keyqueue"
	"github.com/arkproject/ark/pkg/generated/clientset/versioned"
	arkinformers "github.com/arkproject/ark/pkg/generated/informers/externalversions/ark/v1"
	arklisters "github.com/arkproject/ark/pkg/generated/listers/ark/v1"
	"github.com/arkproject/ark/pkg/locations"
	"github.com/arkproject/ark/pkg/objectstore"
	"github.com/arkproject/ark/pkg/snapshot"
)

var volumeSnapshotGVR = schema.GroupVersionResource{Group: "snapshot.storage.k8s.io", Version: "v1", Resource: "volumesnapshots"}

// Controller deletes expired and deleted backups.
type Controller struct {
	client    versioned.Interface
	lister    arklisters.BackupLister
	synced    cache.InformerSynced
	locations *locations.Set
	dynamic   dynamic.Interface
	recorder  record.EventRecorder
	queue     workqueue.TypedRateLimitingInterface[string]
	clock     clock.Clock
	// Interval is how often every backup is checked for expiry.
	Interval time.Duration
	// Provenance, when set, limits the collector to the backups this
	// cluster's API accepted (signed); nil acts on every backup (tests).
	Provenance Provenance
	// Layout places each namespace's backups and restores in the bucket.
	Layout backupstore.Layout
	// GCE deletes GCE disk snapshots; nil when the server has no
	// --gce-project, and then a backup with one cannot be deleted.
	GCE SnapshotDeleter
}

// Provenance tells this cluster's backups (see package provenance).
type Provenance interface {
	// Verify checks that this cluster's API signed the backup as it is.
	Verify(b *arkv1.Backup) error
}

// SnapshotDeleter deletes the snapshot a record names; one already gone is
// not an error.
type SnapshotDeleter interface {
	// Made checks that the snapshot is one Ark took for the backup named
	// backup (or is already gone).
	Made(ctx context.Context, backup string, rec snapshot.Record) error
	Delete(ctx context.Context, rec snapshot.Record) error
}

// New returns a garbage collector over the backups informer.
//
// Backups are deleted from the location they live in (their
// spec.storageLocation, found in locs); those of ReadOnly locations are
// never expired or deleted.
func New(client versioned.Interface, backups arkinformers.BackupInformer, locs *locations.Set, dyn dynamic.Interface, recorder record.EventRecorder) *Controller {
	c := &Controller{
		client: client, lister: backups.Lister(), synced: backups.Informer().HasSynced,
		locations: locs, dynamic: dyn, recorder: recorder,
		queue:    workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](), workqueue.TypedRateLimitingQueueConfig[string]{Name: "gc"}),
		clock:    clock.RealClock{},
		Interval: time.Minute,
	}
	_, _ = backups.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		UpdateFunc: func(_, obj interface{}) {
			if b, ok := obj.(*arkv1.Backup); ok && b.Status.Phase == arkv1.BackupPhaseDeleting {
				c.enqueue(b)
			}
		},
		AddFunc: func(obj interface{}) {
			if b, ok := obj.(*arkv1.Backup); ok && b.Status.Phase == arkv1.BackupPhaseDeleting {
				c.enqueue(b)
			}
		},
	})
	return c
}

func (c *Controller) enqueue(b *arkv1.Backup) { c.queue.Add(b.Namespace + "/" + b.Name) }

// Run collects garbage until ctx ends.
func (c *Controller) Run(ctx context.Context) {
	defer utilruntime.HandleCrash()
	defer c.queue.ShutDown()
	if !cache.WaitForCacheSync(ctx.Done(), c.synced) {
		return
	}
	klog.InfoS("Starting backup garbage collector", "interval", c.Interval)
	go wait.UntilWithContext(ctx, c.scan, c.Interval)
	keyqueue.StartWorkers(ctx, 1, c.processNextWorkItem)
	<-ctx.Done()
}

// mine reports whether this cluster's Ark accepted b, and so may expire and
// delete it. Another cluster's backups sharing the bucket are that
// cluster's; a record no Ark here accepted (planted, or an earlier Ark's)
// is nobody's until it is adopted (backups/adopt).
func (c *Controller) mine(b *arkv1.Backup) error {
	if c.Provenance == nil {
		return nil
	}
	return c.Provenance.Verify(b)
}

// scan queues every backup of this cluster past its expiration and every
// Deleting one. Another cluster's expired backups are left out here, on
// the informer's copy, rather than read from the bucket and left alone one
// by one every scan: a mounted bucket of 100,000 of them cost a core.
func (c *Controller) scan(ctx context.Context) {
	backups, err := c.lister.List(labels.Everything())
	if err != nil {
		utilruntime.HandleError(err)
		return
	}
	now := c.clock.Now()
	for _, b := range backups {
		if b.Status.Phase == arkv1.BackupPhaseDeleting || (expired(b, now) && c.mine(b) == nil) {
			c.enqueue(b)
		}
	}
}

// expired reports a finished backup past its expiration. Running backups
// expire only once they are done. One refused before it ran has no
// expiration of its own: it lives as long as its TTL from its creation.
func expired(b *arkv1.Backup, now time.Time) bool {
	switch b.Status.Phase {
	case arkv1.BackupPhaseCompleted, arkv1.BackupPhasePartiallyFailed, arkv1.BackupPhaseFailed:
	case arkv1.BackupPhaseFailedValidation:
		if b.Status.Expiration == nil {
			return !b.CreationTimestamp.IsZero() && !now.Before(b.CreationTimestamp.Add(b.Spec.TTL.Duration))
		}
	default:
		return false
	}
	return b.Status.Expiration != nil && !now.Before(b.Status.Expiration.Time)
}

func (c *Controller) processNextWorkItem(ctx context.Context) bool {
	return keyqueue.ProcessNext(ctx, c.queue, "deleting backup", keyqueue.NoRequeue(c.sync))
}

func (c *Controller) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	backups := c.client.ArkV1().Backups(ns)
	b, err := backups.Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		// Typically the bucket is unreachable: nothing can be read, so
		// nothing is deleted; say so on the object as last seen.
		if cached, cerr := c.lister.Backups(ns).Get(name); cerr == nil {
			c.recorder.Eventf(cached, corev1.EventTypeWarning, "DeletionBlocked", "deletion blocked: cannot read the backup: %v", err)
		}
		return err
	}
	if loc, err := c.location(b); err == nil && loc.ReadOnly {
		klog.V(2).InfoS("Leaving a backup of a ReadOnly location alone", "backup", klog.KObj(b), "location", loc.Name)
		return nil
	}
	if b.Status.Phase != arkv1.BackupPhaseDeleting {
		if !expired(b, c.clock.Now()) {
			return nil
		}
		if err := c.mine(b); err != nil {
			// Another cluster's backups expire on that cluster's terms.
			klog.V(2).InfoS("Leaving an expired backup this cluster's Ark did not accept", "backup", klog.KObj(b), "reason", err)
			return nil
		}
		klog.InfoS("Backup expired", "backup", klog.KObj(b), "expiration", b.Status.Expiration)
		c.recorder.Eventf(b, corev1.EventTypeNormal, "Expired", "Backup expired at %s; deleting it", b.Status.Expiration.UTC().Format(time.RFC3339))
		return backups.Delete(ctx, name, metav1.DeleteOptions{}) // marks it Deleting; the update queues it again
	}
	if err := c.mine(b); err != nil {
		// Another cluster's deletion is that cluster's to carry out; a
		// record nobody here accepted waits for an adoption.
		klog.V(2).InfoS("Leaving a Deleting backup this cluster's Ark did not accept", "backup", klog.KObj(b), "reason", err)
		c.recorder.Eventf(b, corev1.EventTypeWarning, "DeletionBlocked", "not deleted here: %v; the cluster whose Ark accepted it deletes it, or adopt it (ark backup adopt) to delete it from this cluster", err)
		return nil
	}
	if err := c.deleteBackup(ctx, b); err != nil {
		return errors.Join(err, c.blocked(ctx, b, err.Error()))
	}
	klog.InfoS("Backup deleted", "backup", klog.KObj(b))
	// Reading it again makes the API server drop it from list and watch at once.
	_, _ = backups.Get(ctx, name, metav1.GetOptions{})
	return nil
}

// deleteBackup removes, in this order, the volume snapshots, the restores
// made from the backup, its files, and its metadata file. It stops at the
// first thing it cannot read or delete, so a backup is never half-forgotten:
// it stays listed, Deleting, until everything is gone.
func (c *Controller) deleteBackup(ctx context.Context, b *arkv1.Backup) error {
	loc, err := c.location(b)
	if err != nil {
		return err
	}
	store, err := loc.Writable()
	if err != nil {
		return err
	}
	ref := loc.Layout(c.Layout.HomeNamespace).Backup(b.Namespace, b.Name)
	records, err := c.snapshots(ctx, store, ref)
	if errors.Is(err, encryption.ErrKeyNotHeld) {
		if b.Status.VolumeSnapshotsAttempted > 0 {
			return fmt.Errorf("%w; its %d volume snapshots are listed in a file only that key opens, so they could not be found to delete: put the key back in the location's key Secret and the deletion goes on", err, b.Status.VolumeSnapshotsAttempted)
		}
		// The records are unreadable without the key, and would list
		// nothing: the backup took no volume snapshots. A backup whose
		// key is gone for good can still be deleted.
		c.recorder.Eventf(b, corev1.EventTypeNormal, "DeletingWithoutKey", "the backup's key is not held (%v); it took no volume snapshots, so its files are deleted without reading its volume-snapshot records", err)
		records, err = nil, nil
	}
	if err != nil {
		return err
	}
	// The records are read from the bucket: every one must name a snapshot
	// taken for this backup before any is deleted.
	for _, rec := range records {
		if err := c.checkSnapshot(ctx, ref, rec); err != nil {
			return fmt.Errorf("the volume snapshot record of %s is not this backup's, so nothing is deleted: %w", rec.PersistentVolume, err)
		}
	}
	for _, rec := range records {
		if err := c.deleteSnapshot(ctx, store, rec); err != nil {
			return fmt.Errorf("deleting the snapshot of volume %s: %w", rec.PersistentVolume, err)
		}
	}
	restores, err := c.client.ArkV1().Restores(b.Namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("listing the restores of the backup: %w", err)
	}
	for _, r := range restores.Items {
		if r.Spec.BackupName != b.Name && r.Status.BackupName != b.Name {
			continue
		}
		if err := c.deletePrefix(ctx, store, c.Layout.Restore(r.Namespace, r.Name).Dir(), ""); err != nil {
			return err
		}
		if err := c.client.ArkV1().Restores(b.Namespace).Delete(ctx, r.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("deleting restore %s: %w", r.Name, err)
		}
	}
	// Everything but the metadata file, then the metadata file, only if it
	// is still the Deleting version we read (not a new backup of that name).
	if err := c.deletePrefix(ctx, store, ref.Dir(), ref.MetadataKey()); err != nil {
		return err
	}
	gen, err := generationOf(b)
	if err != nil {
		return err
	}
	err = store.Delete(ctx, ref.MetadataKey(), objectstore.Conditions{GenerationMatch: gen})
	if err != nil && !errors.Is(err, objectstore.ErrNotFound) {
		return fmt.Errorf("deleting %s: %w", ref.MetadataKey(), err)
	}
	return nil
}

// location returns the location a backup lives in.
func (c *Controller) location(b *arkv1.Backup) (*locations.Location, error) {
	return c.locations.Resolve(b.Spec.StorageLocation)
}

func generationOf(b *arkv1.Backup) (int64, error) {
	var gen int64
	if _, err := fmt.Sscan(b.ResourceVersion, &gen); err != nil {
		return 0, fmt.Errorf("backup %s has no usable resourceVersion %q", b.Name, b.ResourceVersion)
	}
	return gen, nil
}

// snapshots reads the backup's volume-snapshot records; a backup without
// the file (failed early, or from an older format) has none. An encrypted
// backup's are decrypted: without its key, nothing is deleted.
func (c *Controller) snapshots(ctx context.Context, store objectstore.Store, ref backupstore.Backup) ([]snapshot.Record, error) {
	rc, err := ref.OpenFile(ctx, store, ref.VolumeSnapshotsKey())
	if errors.Is(err, objectstore.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the volume snapshots of the backup: %w", err)
	}
	data, err := io.ReadAll(io.LimitReader(rc, 64<<20))
	rc.Close()
	if err != nil {
		return nil, fmt.Errorf("reading the volume snapshots of the backup: %w", err)
	}
	raw, err := gunzip(data)
	if err != nil {
		return nil, fmt.Errorf("reading the volume snapshots of the backup: %w", err)
	}
	var records []snapshot.Record
	if err := json.Unmarshal(raw, &records); err != nil {
		return nil, fmt.Errorf("reading the volume snapshots of the backup: %w", err)
	}
	return records, nil
}

// checkSnapshot verifies that rec names a snapshot this backup took: an
// archive inside the backup's own folder, a VolumeSnapshot labelled with
// the backup's name (in the backup's namespace for a namespace's backup),
// a GCE snapshot labelled for it. One already gone passes: there is nothing
// to delete.
func (c *Controller) checkSnapshot(ctx context.Context, ref backupstore.Backup, rec snapshot.Record) error {
	if rec.SnapshotID == "" {
		return nil
	}
	switch rec.Snapshotter {
	case snapshot.HostPathName:
		if !snapshot.InBackup(ref, rec.SnapshotID) {
			return fmt.Errorf("it names %q, outside the backup's folder %s", rec.SnapshotID, ref.Dir())
		}
	case snapshot.CSIName:
		ns, name, ok := strings.Cut(rec.SnapshotID, "/")
		if !ok || ns == "" || name == "" {
			return fmt.Errorf("VolumeSnapshot %q is not namespace/name", rec.SnapshotID)
		}
		if ref.Namespace != c.Layout.HomeNamespace && ns != ref.Namespace {
			return fmt.Errorf("VolumeSnapshot %s is in another namespace than the backup", rec.SnapshotID)
		}
		if c.dynamic == nil {
			return errors.New("no cluster client to read VolumeSnapshots with")
		}
		vs, err := c.dynamic.Resource(volumeSnapshotGVR).Namespace(ns).Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		if vs.GetLabels()[snapshot.LabelBackupName] != ref.Name {
			return fmt.Errorf("VolumeSnapshot %s is not labelled %s=%s: this backup did not take it", rec.SnapshotID, snapshot.LabelBackupName, ref.Name)
		}
	case snapshot.GCEName:
		// Leaving the disk snapshot would leak it (and its cost) for good
		// once the record is gone: deletion waits for a server that can.
		if c.GCE == nil {
			return fmt.Errorf("GCE snapshot %s cannot be checked or deleted by a server without --gce-project", rec.SnapshotID)
		}
		return c.GCE.Made(ctx, ref.Name, rec)
	default:
		return fmt.Errorf("snapshot %s was taken by %q, which this server does not know", rec.SnapshotID, rec.Snapshotter)
	}
	return nil
}

// deleteSnapshot deletes a snapshot checkSnapshot accepted.
func (c *Controller) deleteSnapshot(ctx context.Context, store objectstore.Store, rec snapshot.Record) error {
	if rec.SnapshotID == "" {
		return nil
	}
	switch rec.Snapshotter {
	case snapshot.HostPathName:
		if err := store.Delete(ctx, rec.SnapshotID, objectstore.Conditions{}); err != nil && !errors.Is(err, objectstore.ErrNotFound) {
			return err
		}
	case snapshot.CSIName:
		ns, name, _ := strings.Cut(rec.SnapshotID, "/")
		if err := c.dynamic.Resource(volumeSnapshotGVR).Namespace(ns).Delete(ctx, name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return err
		}
	case snapshot.GCEName:
		return c.GCE.Delete(ctx, rec)
	}
	return nil
}

// deletePrefix deletes every object under prefix but keep.
func (c *Controller) deletePrefix(ctx context.Context, store objectstore.Store, prefix, keep string) error {
	var keys []string
	if err := objectstore.ListAll(ctx, store, prefix, func(a objectstore.ObjectAttrs) error {
		if a.Key != keep {
			keys = append(keys, a.Key)
		}
		return nil
	}); err != nil {
		return fmt.Errorf("listing %s: %w", prefix, err)
	}
	for _, k := range keys {
		if err := store.Delete(ctx, k, objectstore.Conditions{}); err != nil && !errors.Is(err, objectstore.ErrNotFound) {
			return fmt.Errorf("deleting %s: %w", k, err)
		}
	}
	return nil
}

// blocked records why a Deleting backup could not be removed yet, in its
// status and as an event; it is retried.
func (c *Controller) blocked(ctx context.Context, b *arkv1.Backup, reason string) error {
	msg := "deletion blocked: " + reason
	c.recorder.Event(b, corev1.EventTypeWarning, "DeletionBlocked", msg)
	return retry.RetryOnConflict(retry.DefaultBackoff, func() error {
		latest, err := c.client.ArkV1().Backups(b.Namespace).Get(ctx, b.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if latest.Status.FailureReason == msg {
			return nil
		}
		latest.Status.FailureReason = msg
		_, err = c.client.ArkV1().Backups(b.Namespace).UpdateStatus(ctx, latest, metav1.UpdateOptions{})
		return err
	})
}

func gunzip(data []byte) ([]byte, error) {
	gz, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	defer gz.Close()
	return io.ReadAll(io.LimitReader(gz, 256<<20))
}
