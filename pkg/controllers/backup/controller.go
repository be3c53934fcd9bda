// Package backup is the controller that takes the backups users ask for: it
// picks up New backups, marks them InProgress, runs the backup engine with
// live progress in status, and records the outcome. The final status write
// (after every file is uploaded) is the commit point.
package backup

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/retry"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
	"github.com/arkproject/ark/pkg/apis/ark/validation"
	backupengine "github.com/arkproject/ark/pkg/backup"
	"github.com/arkproject/ark/pkg/backupstore"
	"github.com/arkproject/ark/pkg/backupstore/encryption"
	"github.com/arkproject/ark/pkg/controllers/fairshare"
	"github.com/arkproject/ark/pkg/controllers/keyqueue"
	"github.com/arkproject/ark/pkg/generated/clientset/versioned"
	arkinformers "github.com/arkproject/ark/pkg/generated/informers/externalversions/ark/v1"
	arklisters "github.com/arkproject/ark/pkg/generated/listers/ark/v1"
	"github.com/arkproject/ark/pkg/metrics"
	"github.com/arkproject/ark/pkg/objectstore"
	"github.com/arkproject/ark/pkg/provenance"
)

// InterruptedReason is the failure reason of backups that were running when
// the server stopped.
const InterruptedReason = "ark-apiserver stopped while the backup was in progress; its files may be incomplete, take a new backup"

// slotRetry is how soon a backup that found no free slot is looked at again.
const slotRetry = 2 * time.Second

// Engine takes one backup; the controller gets a fresh one per backup so that
// per-backup caches (access decisions, discovery) never outlive it.
type Engine interface {
	Run(ctx context.Context, backup *arkv1.Backup, progress backupengine.ProgressFunc) (backupengine.Outcome, error)
}

// Controller runs backups.
type Controller struct {
	client    versioned.Interface
	lister    arklisters.BackupLister
	synced    cache.InformerSynced
	queue     workqueue.TypedRateLimitingInterface[string]
	newEngine func() Engine
	clock     clock.Clock
	// ProgressInterval is how often progress is written to status.
	ProgressInterval time.Duration
	// Slots, when set, share the workers fairly among namespaces: a backup
	// whose namespace has no free slot waits in the queue.
	Slots *fairshare.Slots
	// Scope, when its home namespace is set, has every backup's spec
	// validated again as it starts (confinement, bounds), as the API did.
	Scope validation.Scope
	// CheckSnapshotLocations, when set, says what makes the volume
	// snapshot locations a backup names unusable for it (see
	// snapshot.ResolveLocations); any problem fails its validation.
	CheckSnapshotLocations func(*arkv1.Backup) []string
	// WaitFor are the other informers (such as volume snapshot locations')
	// that must have synced before the first backup is looked at.
	WaitFor []cache.InformerSynced
	// Provenance, when set, runs only the backups this cluster's API
	// accepted, and leaves those of other clusters alone.
	Provenance Provenance
	// FinalStatusBackoff paces the retries of a backup's final status
	// write, which go on until the storage location takes it: the files
	// are uploaded, and only that write makes the backup Completed.
	FinalStatusBackoff wait.Backoff
	// Stores and Layout, when set, let an interrupted backup keep the log
	// it had published while it ran (see salvageLog): Stores returns the
	// store of a backup's location for writing, and Keys its encryption
	// keys (nil when it has none; an encrypted backup's log stays so).
	Stores func(location string) (objectstore.Store, error)
	Keys   func(location string) *encryption.Keyring
	Layout backupstore.Layout
	// Recorder, when set, gets an event for every phase a backup enters,
	// so `kubectl describe backup` and `kubectl get events` tell its story.
	Recorder record.EventRecorder
}

// The reasons of the events a backup gets, one per phase it enters.
const (
	ReasonStarted          = "Started"
	ReasonCompleted        = "Completed"
	ReasonPartiallyFailed  = "PartiallyFailed"
	ReasonFailed           = "Failed"
	ReasonFailedValidation = "FailedValidation"
	ReasonInterrupted      = "Interrupted"
)

func (c *Controller) event(b *arkv1.Backup, eventType, reason, format string, args ...any) {
	if c.Recorder != nil {
		c.Recorder.Eventf(b, eventType, reason, format, args...)
	}
}

// Provenance tells the backups this cluster's API accepted (see package
// provenance).
type Provenance interface {
	// Foreign reports whether a backup says it is another cluster's.
	Foreign(annotations map[string]string) bool
	// Verify checks that this cluster's API signed the backup as it is.
	Verify(b *arkv1.Backup) error
}

// ours reports whether this cluster's controllers may act on b.
func (c *Controller) ours(b *arkv1.Backup) bool {
	return c.Provenance == nil || !c.Provenance.Foreign(b.Annotations)
}

// New returns a controller over the backups informer.
func New(client versioned.Interface, informer arkinformers.BackupInformer, newEngine func() Engine) *Controller {
	c := &Controller{
		client:             client,
		lister:             informer.Lister(),
		synced:             informer.Informer().HasSynced,
		queue:              workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](), workqueue.TypedRateLimitingQueueConfig[string]{Name: "backups"}),
		newEngine:          newEngine,
		clock:              clock.RealClock{},
		ProgressInterval:   time.Second,
		FinalStatusBackoff: wait.Backoff{Duration: time.Second, Factor: 2, Jitter: 0.2, Steps: math.MaxInt32, Cap: time.Minute},
	}
	_, _ = informer.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueue,
		UpdateFunc: func(_, obj interface{}) { c.enqueue(obj) },
	})
	return c
}

func (c *Controller) enqueue(obj interface{}) {
	b, ok := obj.(*arkv1.Backup)
	if !ok || (b.Status.Phase != "" && b.Status.Phase != arkv1.BackupPhaseNew) {
		return
	}
	key, err := cache.MetaNamespaceKeyFunc(obj)
	if err != nil {
		utilruntime.HandleError(err)
		return
	}
	c.queue.Add(key)
}

// Run processes backups with workers until ctx ends. Backups left InProgress
// by a previous run are marked Failed first: nobody is working on them.
func (c *Controller) Run(ctx context.Context, workers int) {
	defer utilruntime.HandleCrash()
	defer c.queue.ShutDown()
	klog.InfoS("Starting backup controller", "workers", workers)
	if !cache.WaitForCacheSync(ctx.Done(), append([]cache.InformerSynced{c.synced}, c.WaitFor...)...) {
		return
	}
	c.failInterrupted(ctx)
	keyqueue.StartWorkers(ctx, workers, c.processNextWorkItem)
	<-ctx.Done()
	klog.InfoS("Stopping backup controller")
}

func (c *Controller) failInterrupted(ctx context.Context) {
	backups, err := c.lister.List(labels.Everything())
	if err != nil {
		utilruntime.HandleError(err)
		return
	}
	for _, b := range backups {
		if b.Status.Phase != arkv1.BackupPhaseInProgress || !c.ours(b) {
			continue
		}
		err := c.updateStatus(ctx, b, func(s *arkv1.BackupStatus) {
			if s.Phase != arkv1.BackupPhaseInProgress {
				return
			}
			s.Phase = arkv1.BackupPhaseFailed
			s.FailureReason = InterruptedReason
			now := metav1.NewTime(c.clock.Now())
			s.CompletionTimestamp = &now
		})
		if err != nil {
			utilruntime.HandleError(fmt.Errorf("marking interrupted backup %s/%s failed: %w", b.Namespace, b.Name, err))
			continue
		}
		klog.InfoS("Marked interrupted backup failed", "backup", klog.KObj(b))
		c.event(b, corev1.EventTypeWarning, ReasonInterrupted, "Backup failed: %s", InterruptedReason)
		// Counted here, where it ended: the server that started it is gone.
		metrics.BackupFinished(b, arkv1.BackupPhaseFailed, time.Time{}, time.Time{}, 0, 0, 0)
		c.salvageLog(ctx, b)
	}
}

// salvageLog turns the log an interrupted backup published while it ran
// (its -logs.live file) into its log, so `ark backup logs` shows how far it
// got, and no live file is left behind. A backup that already has a log
// keeps it; the live file goes either way.
func (c *Controller) salvageLog(ctx context.Context, b *arkv1.Backup) {
	if c.Stores == nil {
		return
	}
	store, err := c.Stores(b.Spec.StorageLocation)
	if err != nil {
		klog.ErrorS(err, "Cannot keep the live log of an interrupted backup", "backup", klog.KObj(b))
		return
	}
	layout := c.Layout
	if c.Keys != nil {
		layout.Keys = c.Keys(b.Spec.StorageLocation)
	}
	ref := layout.Backup(b.Namespace, b.Name)
	// An encrypted backup's live log is read, and its log written, with
	// the data key its key file holds.
	dk, err := ref.DataKey(ctx, store)
	if err != nil {
		klog.ErrorS(err, "Cannot keep the live log of an interrupted encrypted backup", "backup", klog.KObj(b))
		return
	}
	live, _, err := objectstore.ReadAll(ctx, store, ref.LiveLogKey(), 16<<20)
	if errors.Is(err, objectstore.ErrNotFound) {
		return
	}
	if err == nil && dk != nil {
		live, err = dk.Open(live, ref.LiveLogKey())
	}
	if err != nil {
		klog.ErrorS(err, "Reading the live log of an interrupted backup", "backup", klog.KObj(b))
		return
	}
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	_, _ = gz.Write(live)
	fmt.Fprintf(gz, "%s backup interrupted: %s\n", c.clock.Now().UTC().Format(time.RFC3339), InterruptedReason)
	_ = gz.Close()
	final := buf.Bytes()
	if dk != nil {
		final = dk.Seal(final, ref.LogsKey())
	}
	_, err = objectstore.PutBytes(ctx, store, ref.LogsKey(), final, objectstore.Conditions{DoesNotExist: true})
	if err != nil && !errors.Is(err, objectstore.ErrPreconditionFailed) {
		klog.ErrorS(err, "Keeping the live log of an interrupted backup", "backup", klog.KObj(b))
		return
	}
	if err := store.Delete(ctx, ref.LiveLogKey(), objectstore.Conditions{}); err != nil && !errors.Is(err, objectstore.ErrNotFound) {
		klog.ErrorS(err, "Removing the live log of an interrupted backup", "backup", klog.KObj(b))
	}
}

func (c *Controller) processNextWorkItem(ctx context.Context) bool {
	return keyqueue.ProcessNext(ctx, c.queue, "backup", keyqueue.NoRequeue(c.sync))
}

// sync takes the backup if it is New.
func (c *Controller) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	cached, err := c.lister.Backups(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if cached.Status.Phase != "" && cached.Status.Phase != arkv1.BackupPhaseNew {
		return nil
	}
	// The API validated the spec, but a Backup can also arrive straight
	// through the bucket: refuse what cannot be backed up faithfully.
	if !c.ours(cached) {
		return nil // another cluster's, sharing the bucket: it runs there
	}
	problems := unusable(cached)
	if c.Provenance != nil {
		if err := c.Provenance.Verify(cached); err != nil {
			problems = append(problems, "metadata.annotations["+provenance.SignatureAnnotation+"]: "+err.Error()+"; it never runs")
		}
	}
	if c.Scope.HomeNamespace != "" {
		problems = append(problems, validation.RecheckBackup(cached, c.Scope)...)
	}
	if c.CheckSnapshotLocations != nil && len(cached.Spec.VolumeSnapshotLocations) > 0 {
		problems = append(problems, c.CheckSnapshotLocations(cached)...)
	}
	if len(problems) > 0 {
		b := cached.DeepCopy()
		b.Status.Phase = arkv1.BackupPhaseFailedValidation
		b.Status.ValidationErrors = problems
		_, err := c.client.ArkV1().Backups(ns).UpdateStatus(ctx, b, metav1.UpdateOptions{})
		if apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		klog.InfoS("Backup failed validation", "backup", klog.KObj(b), "errors", problems)
		c.event(b, corev1.EventTypeWarning, ReasonFailedValidation, "Backup refused: %s", strings.Join(problems, "; "))
		metrics.BackupFinished(b, arkv1.BackupPhaseFailedValidation, time.Time{}, time.Time{}, 0, 0, 0)
		return nil
	}
	if c.Slots != nil {
		if !c.Slots.TryAcquire(ns) {
			c.queue.AddAfter(key, slotRetry)
			return nil
		}
		defer c.Slots.Release(ns)
	}
	// Claim it: the write is conditional on the version we saw, so a second
	// worker (or replica) racing us gets a conflict and backs off.
	b := cached.DeepCopy()
	start := metav1.NewTime(c.clock.Now())
	expires := metav1.NewTime(start.Add(b.Spec.TTL.Duration))
	b.Status.Phase = arkv1.BackupPhaseInProgress
	b.Status.StartTimestamp = &start
	b.Status.Expiration = &expires
	b.Status.Version = backupengine.FormatVersion
	b.Status.Progress = &arkv1.Progress{}
	b, err = c.client.ArkV1().Backups(ns).UpdateStatus(ctx, b, metav1.UpdateOptions{})
	if apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
		return nil // someone else has it, or it is gone; the informer tells us more
	}
	if err != nil {
		return err
	}
	klog.InfoS("Backup started", "backup", klog.KObj(b))
	c.event(b, corev1.EventTypeNormal, ReasonStarted, "Backup started, to storage location %q", b.Spec.StorageLocation)
	metrics.BackupStarted(b)

	last := c.clock.Now()
	progress := func(total, done int) {
		if c.clock.Since(last) < c.ProgressInterval {
			return
		}
		last = c.clock.Now()
		if err := c.updateStatus(ctx, b, func(s *arkv1.BackupStatus) {
			s.Progress = &arkv1.Progress{TotalItems: total, ItemsDone: done}
		}); err != nil {
			klog.ErrorS(err, "Publishing backup progress", "backup", klog.KObj(b))
		}
	}
	out, runErr := c.newEngine().Run(ctx, b, progress)
	if runErr != nil && ctx.Err() != nil {
		// The server is stopping; the next leader marks the backup interrupted.
		return nil
	}
	var ended arkv1.BackupStatus // the final status, once written
	err = c.finish(ctx, b, func(s *arkv1.BackupStatus) {
		defer func() { ended = *s }()
		if s.Phase == arkv1.BackupPhaseDeleting {
			// Its deletion was requested while it ran: finishing must not
			// turn it back into a kept backup.
			klog.InfoS("Backup finished after its deletion was requested", "backup", klog.KObj(b))
			return
		}
		now := metav1.NewTime(c.clock.Now())
		s.CompletionTimestamp = &now
		s.Warnings, s.Errors = out.Warnings, out.Errors
		s.VolumeSnapshotsAttempted, s.VolumeSnapshotsCompleted = out.VolumeSnapshotsAttempted, out.VolumeSnapshotsCompleted
		s.EncryptionKeyID = out.EncryptionKeyID
		s.Progress = &arkv1.Progress{TotalItems: out.Items, ItemsDone: out.Items}
		switch {
		case runErr != nil:
			s.Phase = arkv1.BackupPhaseFailed
			s.FailureReason = runErr.Error()
			klog.ErrorS(runErr, "Backup failed", "backup", klog.KObj(b))
		case out.Errors > 0:
			s.Phase = arkv1.BackupPhasePartiallyFailed
			klog.InfoS("Backup partially failed", "backup", klog.KObj(b), "items", out.Items, "errors", out.Errors, "warnings", out.Warnings)
		default:
			s.Phase = arkv1.BackupPhaseCompleted
			klog.InfoS("Backup completed", "backup", klog.KObj(b), "items", out.Items, "warnings", out.Warnings)
		}
	})
	if err == nil && ended.Phase != arkv1.BackupPhaseDeleting {
		metrics.BackupFinished(b, ended.Phase, start.Time, c.clock.Now(), out.Items, out.Warnings, out.Errors)
		took := c.clock.Since(start.Time).Round(time.Second)
		switch ended.Phase {
		case arkv1.BackupPhaseFailed:
			c.event(b, corev1.EventTypeWarning, ReasonFailed, "Backup failed after %s: %s", took, ended.FailureReason)
		case arkv1.BackupPhasePartiallyFailed:
			c.event(b, corev1.EventTypeWarning, ReasonPartiallyFailed, "Backed up %d items in %s; %d could not be backed up (errors), %d warnings: `ark backup logs %s` says which", out.Items, took, out.Errors, out.Warnings, b.Name)
		case arkv1.BackupPhaseCompleted:
			c.event(b, corev1.EventTypeNormal, ReasonCompleted, "Backed up %d items in %s, %d warnings", out.Items, took, out.Warnings)
		}
	}
	return err
}

// finish writes a backup's final status, retrying (FinalStatusBackoff)
// until the storage location takes it or the server stops: a bucket that is
// briefly unreachable or read-only must not leave a backup whose files are
// all uploaded InProgress for ever. If the server stops first, the next
// leader marks the backup interrupted.
func (c *Controller) finish(ctx context.Context, b *arkv1.Backup, mutate func(*arkv1.BackupStatus)) error {
	var last error
	err := wait.ExponentialBackoffWithContext(ctx, c.FinalStatusBackoff, func(ctx context.Context) (bool, error) {
		err := c.updateStatus(ctx, b, mutate)
		switch {
		case err == nil:
			if last != nil {
				klog.InfoS("Wrote the backup's final status once the storage location took it", "backup", klog.KObj(b))
			}
			return true, nil
		case apierrors.IsNotFound(err):
			return true, nil // its record is gone: nothing left to finish
		case apierrors.IsForbidden(err), apierrors.IsInvalid(err), apierrors.IsBadRequest(err):
			return false, err // retrying cannot help
		}
		last = err
		klog.ErrorS(err, "Writing the backup's final status failed; retrying until the storage location takes it", "backup", klog.KObj(b))
		return false, nil
	})
	if err != nil && last != nil {
		return fmt.Errorf("%w (last error: %v)", err, last)
	}
	return err
}

// updateStatus applies mutate to the latest version of the backup's status,
// retrying on conflicts (the bucket's compare-and-swap). A record of the
// same name but another UID is another backup (this one was deleted and the
// name taken again, say while a final status waited for the bucket): it is
// not touched, and the answer is NotFound.
func (c *Controller) updateStatus(ctx context.Context, of *arkv1.Backup, mutate func(*arkv1.BackupStatus)) error {
	return retry.RetryOnConflict(retry.DefaultBackoff, func() error {
		b, err := c.client.ArkV1().Backups(of.Namespace).Get(ctx, of.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if b.UID != of.UID {
			return apierrors.NewNotFound(arkv1.Resource("backups"), of.Name)
		}
		mutate(&b.Status)
		_, err = c.client.ArkV1().Backups(of.Namespace).UpdateStatus(ctx, b, metav1.UpdateOptions{})
		return err
	})
}

// unusable lists what makes a backup impossible to take as asked.
func unusable(b *arkv1.Backup) []string {
	var problems []string
	if b.Spec.Requester == nil {
		problems = append(problems, "spec.requester: the backup records no requester, so there is no one whose rights it could use")
	}
	if b.Spec.LabelSelector != nil {
		if _, err := metav1.LabelSelectorAsSelector(b.Spec.LabelSelector); err != nil {
			problems = append(problems, "spec.labelSelector: "+err.Error())
		}
	}
	if b.Spec.TTL.Duration < 0 {
		problems = append(problems, "spec.ttl: must not be negative")
	}
	return problems
}
