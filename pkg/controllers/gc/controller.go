// Package gc deletes backups: those past their expiration and those a user
// deleted. A backup goes to Deleting, then its volume snapshots, the
// restores made from it and its bucket files are removed, its metadata file
// last, so it leaves the list only when nothing of it is left. Nothing is
// deleted when something cannot be read, and nothing in a bucket that
// belongs to another cluster's Ark.
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
	"github.com/arkproject/ark/pkg/controllers/keyqueue"
	"github.com/arkproject/ark/pkg/generated/clientset/versioned"
	arkinformers "github.com/arkproject/ark/pkg/generated/informers/externalversions/ark/v1"
	arklisters "github.com/arkproject/ark/pkg/generated/listers/ark/v1"
	"github.com/arkproject/ark/pkg/objectstore"
	"github.com/arkproject/ark/pkg/snapshot"
)

// OwnerKey marks which cluster's Ark owns a backup storage location.
const OwnerKey = "ark-owner.json"

// Owner is the content of OwnerKey.
type Owner struct {
	// Cluster identifies the owning cluster (its kube-system namespace UID).
	Cluster string `json:"cluster"`
}

var volumeSnapshotGVR = schema.GroupVersionResource{Group: "snapshot.storage.k8s.io", Version: "v1", Resource: "volumesnapshots"}

// Controller deletes expired and deleted backups.
type Controller struct {
	client   versioned.Interface
	lister   arklisters.BackupLister
	synced   cache.InformerSynced
	store    objectstore.Store
	dynamic  dynamic.Interface
	recorder record.EventRecorder
	queue    workqueue.TypedRateLimitingInterface[string]
	clock    clock.Clock
	// Interval is how often every backup is checked for expiry.
	Interval time.Duration
	// Cluster identifies this cluster in the location's owner marker.
	Cluster string
	// Layout places each namespace's backups and restores in the bucket.
	Layout backupstore.Layout
	// GCE deletes GCE disk snapshots; nil when the server has no
	// --gce-project, and then a backup with one cannot be deleted.
	GCE   SnapshotDeleter
	owned bool
}

// SnapshotDeleter deletes the snapshot a record names; one already gone is
// not an error.
type SnapshotDeleter interface {
	Delete(ctx context.Context, rec snapshot.Record) error
}

// New returns a garbage collector over the backups informer.
func New(client versioned.Interface, backups arkinformers.BackupInformer, store objectstore.Store, dyn dynamic.Interface, recorder record.EventRecorder, cluster string) *Controller {
	c := &Controller{
		client: client, lister: backups.Lister(), synced: backups.Informer().HasSynced,
		store: store, dynamic: dyn, recorder: recorder, Cluster: cluster,
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
	c.owned = c.claimLocation(ctx) == nil
	klog.InfoS("Starting backup garbage collector", "interval", c.Interval, "ownsLocation", c.owned)
	go wait.UntilWithContext(ctx, c.scan, c.Interval)
	keyqueue.StartWorkers(ctx, 1, c.processNextWorkItem)
	<-ctx.Done()
}

// claimLocation writes this cluster's owner marker into an unclaimed bucket
// and returns why the bucket is not (or not known to be) this cluster's, or
// nil when it is.
func (c *Controller) claimLocation(ctx context.Context) error {
	if c.Cluster == "" {
		return nil
	}
	mine, _ := json.Marshal(Owner{Cluster: c.Cluster})
	_, err := objectstore.PutBytes(ctx, c.store, OwnerKey, mine, objectstore.Conditions{DoesNotExist: true})
	if err == nil {
		return nil
	}
	data, _, rerr := objectstore.ReadAll(ctx, c.store, OwnerKey, 1<<16)
	if rerr != nil {
		klog.ErrorS(rerr, "Reading the owner of the backup storage location; deleting nothing until it can be read")
		return fmt.Errorf("the owner of the backup storage location cannot be read, so nothing is deleted until it can: %w", rerr)
	}
	var owner Owner
	if json.Unmarshal(data, &owner) != nil || owner.Cluster != c.Cluster {
		klog.InfoS("The backup storage location belongs to another cluster's Ark: its backups are never deleted from here", "owner", owner.Cluster, "cluster", c.Cluster)
		return errors.New("the backup storage location belongs to another cluster's Ark, so its files are never deleted from here")
	}
	return nil
}

// scan queues every backup past its expiration and every Deleting one.
func (c *Controller) scan(ctx context.Context) {
	backups, err := c.lister.List(labels.Everything())
	if err != nil {
		utilruntime.HandleError(err)
		return
	}
	now := c.clock.Now()
	for _, b := range backups {
		if b.Status.Phase == arkv1.BackupPhaseDeleting || expired(b, now) {
			c.enqueue(b)
		}
	}
}

// expired reports a finished backup past its expiration. Running backups
// expire only once they are done.
func expired(b *arkv1.Backup, now time.Time) bool {
	if b.Status.Expiration == nil || now.Before(b.Status.Expiration.Time) {
		return false
	}
	switch b.Status.Phase {
	case arkv1.BackupPhaseCompleted, arkv1.BackupPhasePartiallyFailed, arkv1.BackupPhaseFailed, arkv1.BackupPhaseFailedValidation:
		return true
	}
	return false
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
	if b.Status.Phase != arkv1.BackupPhaseDeleting {
		if !expired(b, c.clock.Now()) {
			return nil
		}
		if !c.owned {
			if err := c.claimLocation(ctx); err != nil {
				// Another cluster's backups expire on that cluster's terms.
				klog.V(2).InfoS("Leaving an expired backup of a location this server does not own", "backup", klog.KObj(b), "reason", err)
				return nil
			}
			c.owned = true
		}
		klog.InfoS("Backup expired", "backup", klog.KObj(b), "expiration", b.Status.Expiration)
		c.recorder.Eventf(b, corev1.EventTypeNormal, "Expired", "Backup expired at %s; deleting it", b.Status.Expiration.UTC().Format(time.RFC3339))
		return backups.Delete(ctx, name, metav1.DeleteOptions{}) // marks it Deleting; the update queues it again
	}
	if !c.owned {
		// Read the owner again: it may only have been unreadable at start.
		if err := c.claimLocation(ctx); err != nil {
			return c.blocked(ctx, b, err.Error())
		}
		c.owned = true
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
	ref := c.Layout.Backup(b.Namespace, b.Name)
	records, err := c.snapshots(ctx, ref)
	if err != nil {
		return err
	}
	for _, rec := range records {
		if err := c.deleteSnapshot(ctx, ref, rec); err != nil {
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
		if err := c.deletePrefix(ctx, c.Layout.Restore(r.Namespace, r.Name).Dir(), ""); err != nil {
			return err
		}
		if err := c.client.ArkV1().Restores(b.Namespace).Delete(ctx, r.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("deleting restore %s: %w", r.Name, err)
		}
	}
	// Everything but the metadata file, then the metadata file, only if it
	// is still the Deleting version we read (not a new backup of that name).
	if err := c.deletePrefix(ctx, ref.Dir(), ref.MetadataKey()); err != nil {
		return err
	}
	gen, err := generationOf(b)
	if err != nil {
		return err
	}
	err = c.store.Delete(ctx, ref.MetadataKey(), objectstore.Conditions{GenerationMatch: gen})
	if err != nil && !errors.Is(err, objectstore.ErrNotFound) {
		return fmt.Errorf("deleting %s: %w", ref.MetadataKey(), err)
	}
	return nil
}

func generationOf(b *arkv1.Backup) (int64, error) {
	var gen int64
	if _, err := fmt.Sscan(b.ResourceVersion, &gen); err != nil {
		return 0, fmt.Errorf("backup %s has no usable resourceVersion %q", b.Name, b.ResourceVersion)
	}
	return gen, nil
}

// snapshots reads the backup's volume-snapshot records; a backup without
// the file (failed early, or from an older format) has none.
func (c *Controller) snapshots(ctx context.Context, ref backupstore.Backup) ([]snapshot.Record, error) {
	data, _, err := objectstore.ReadAll(ctx, c.store, ref.VolumeSnapshotsKey(), 64<<20)
	if errors.Is(err, objectstore.ErrNotFound) {
		return nil, nil
	}
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

func (c *Controller) deleteSnapshot(ctx context.Context, ref backupstore.Backup, rec snapshot.Record) error {
	if rec.SnapshotID == "" {
		return nil
	}
	switch rec.Snapshotter {
	case snapshot.HostPathName:
		if !snapshot.InBackup(ref, rec.SnapshotID) {
			klog.InfoS("Not deleting a volume archive outside the backup's folder", "backup", klog.KRef(ref.Namespace, ref.Name), "key", rec.SnapshotID)
			return nil
		}
		if err := c.store.Delete(ctx, rec.SnapshotID, objectstore.Conditions{}); err != nil && !errors.Is(err, objectstore.ErrNotFound) {
			return err
		}
	case snapshot.CSIName:
		ns, name, _ := strings.Cut(rec.SnapshotID, "/")
		if c.dynamic == nil {
			return errors.New("no cluster client to delete VolumeSnapshots with")
		}
		if ref.Namespace != c.Layout.HomeNamespace && ns != ref.Namespace {
			// A namespace's backup snapshots only its own namespace's claims.
			klog.InfoS("Not deleting a VolumeSnapshot of another namespace", "backup", klog.KRef(ref.Namespace, ref.Name), "volumeSnapshot", rec.SnapshotID)
			return nil
		}
		vs, err := c.dynamic.Resource(volumeSnapshotGVR).Namespace(ns).Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		if vs.GetLabels()[snapshot.LabelBackupName] != ref.Name {
			// The record is read from the bucket: only a snapshot this
			// backup made (and labelled) is its to delete.
			klog.InfoS("Not deleting a VolumeSnapshot this backup did not make", "backup", klog.KRef(ref.Namespace, ref.Name), "volumeSnapshot", rec.SnapshotID)
			return nil
		}
		if err := c.dynamic.Resource(volumeSnapshotGVR).Namespace(ns).Delete(ctx, name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return err
		}
	case snapshot.GCEName:
		// Leaving the disk snapshot would leak it (and its cost) for good
		// once the record is gone: deletion waits for a server that can.
		if c.GCE == nil {
			return fmt.Errorf("GCE snapshot %s cannot be deleted by a server without --gce-project", rec.SnapshotID)
		}
		return c.GCE.Delete(ctx, rec)
	default:
		return fmt.Errorf("snapshot %s was taken by %q, which this server does not know", rec.SnapshotID, rec.Snapshotter)
	}
	return nil
}

// deletePrefix deletes every object under prefix but keep.
func (c *Controller) deletePrefix(ctx context.Context, prefix, keep string) error {
	var keys []string
	if err := objectstore.ListAll(ctx, c.store, prefix, func(a objectstore.ObjectAttrs) error {
		if a.Key != keep {
			keys = append(keys, a.Key)
		}
		return nil
	}); err != nil {
		return fmt.Errorf("listing %s: %w", prefix, err)
	}
	for _, k := range keys {
		if err := c.store.Delete(ctx, k, objectstore.Conditions{}); err != nil && !errors.Is(err, objectstore.ErrNotFound) {
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
