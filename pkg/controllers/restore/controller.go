// Package restore is the controller that carries out restores: it resolves
// the backup (by name, or the newest completed one of a schedule), runs the
// restore engine with live progress, and records the outcome.
package restore

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/retry"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
	"github.com/arkproject/ark/pkg/apis/ark/validation"
	"github.com/arkproject/ark/pkg/controllers/fairshare"
	"github.com/arkproject/ark/pkg/controllers/keyqueue"
	"github.com/arkproject/ark/pkg/generated/clientset/versioned"
	arkinformers "github.com/arkproject/ark/pkg/generated/informers/externalversions/ark/v1"
	arklisters "github.com/arkproject/ark/pkg/generated/listers/ark/v1"
	"github.com/arkproject/ark/pkg/metrics"
	restoreengine "github.com/arkproject/ark/pkg/restore"
)

// InterruptedReason is the failure reason of restores that were running when
// the server stopped.
const InterruptedReason = "ark-apiserver stopped while the restore was in progress; some items may have been restored, run it again with the update policy or a new name"

// slotRetry is how soon a restore that found no free slot is looked at again.
const slotRetry = 2 * time.Second

// Engine restores one backup.
type Engine interface {
	// Run restores backup (as the restore's requester read it) into the cluster.
	Run(ctx context.Context, restore *arkv1.Restore, backup *arkv1.Backup, progress restoreengine.ProgressFunc) (restoreengine.Outcome, error)
}

// Controller runs restores.
type Controller struct {
	client    versioned.Interface
	lister    arklisters.RestoreLister
	synced    cache.InformerSynced
	queue     workqueue.TypedRateLimitingInterface[string]
	newEngine func() Engine
	clock     clock.Clock
	// ProgressInterval is how often progress is written to status.
	ProgressInterval time.Duration
	// Slots, when set, share the workers fairly among namespaces: a restore
	// whose namespace has no free slot waits in the queue.
	Slots *fairshare.Slots
	// Scope, when its home namespace is set, has every restore's spec
	// validated again as it starts (confinement), as the API did.
	Scope validation.Scope
	// ArkAs, when set, returns a client of Ark's API acting as a user: the
	// backup to restore is looked up as the requester, so a restore only
	// finds a backup its requester may read (not one of another
	// namespace's lifetime, say). Nil looks up with the controller's client.
	ArkAs func(*arkv1.UserInfo) (versioned.Interface, error)
	// CanDownload, when set, says whether a user may download the backups
	// of a namespace: a restore of another namespace's backup needs it.
	CanDownload func(ctx context.Context, user *arkv1.UserInfo, namespace string) (allowed bool, reason string, err error)
	// Recorder, when set, gets an event for every phase a restore enters,
	// so `kubectl describe restore` and `kubectl get events` tell its story.
	Recorder record.EventRecorder
}

// The reasons of the events a restore gets, one per phase it enters.
const (
	ReasonStarted          = "Started"
	ReasonCompleted        = "Completed"
	ReasonPartiallyFailed  = "PartiallyFailed"
	ReasonPreviewed        = "Previewed"
	ReasonFailed           = "Failed"
	ReasonFailedValidation = "FailedValidation"
	ReasonInterrupted      = "Interrupted"
)

func (c *Controller) event(r *arkv1.Restore, eventType, reason, format string, args ...any) {
	if c.Recorder != nil {
		c.Recorder.Eventf(r, eventType, reason, format, args...)
	}
}

// New returns a controller over the restores informer.
func New(client versioned.Interface, informer arkinformers.RestoreInformer, newEngine func() Engine) *Controller {
	c := &Controller{
		client:           client,
		lister:           informer.Lister(),
		synced:           informer.Informer().HasSynced,
		queue:            workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](), workqueue.TypedRateLimitingQueueConfig[string]{Name: "restores"}),
		newEngine:        newEngine,
		clock:            clock.RealClock{},
		ProgressInterval: time.Second,
	}
	_, _ = informer.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueue,
		UpdateFunc: func(_, obj interface{}) { c.enqueue(obj) },
	})
	return c
}

func (c *Controller) enqueue(obj interface{}) {
	r, ok := obj.(*arkv1.Restore)
	if !ok || (r.Status.Phase != "" && r.Status.Phase != arkv1.RestorePhaseNew) {
		return
	}
	if key, err := cache.MetaNamespaceKeyFunc(obj); err == nil {
		c.queue.Add(key)
	}
}

// Run processes restores until ctx ends; restores left InProgress by a
// previous run are marked Failed first.
func (c *Controller) Run(ctx context.Context, workers int) {
	defer utilruntime.HandleCrash()
	defer c.queue.ShutDown()
	klog.InfoS("Starting restore controller", "workers", workers)
	if !cache.WaitForCacheSync(ctx.Done(), c.synced) {
		return
	}
	c.failInterrupted(ctx)
	keyqueue.StartWorkers(ctx, workers, c.processNextWorkItem)
	<-ctx.Done()
}

func (c *Controller) failInterrupted(ctx context.Context) {
	restores, err := c.lister.List(labels.Everything())
	if err != nil {
		utilruntime.HandleError(err)
		return
	}
	for _, r := range restores {
		if r.Status.Phase != arkv1.RestorePhaseInProgress {
			continue
		}
		marked := false
		if err := c.updateStatus(ctx, r.Namespace, r.Name, func(s *arkv1.RestoreStatus) {
			if marked = s.Phase == arkv1.RestorePhaseInProgress; !marked {
				return
			}
			now := metav1.NewTime(c.clock.Now())
			s.Phase, s.FailureReason, s.CompletionTimestamp = arkv1.RestorePhaseFailed, InterruptedReason, &now
		}); err != nil {
			utilruntime.HandleError(fmt.Errorf("marking interrupted restore %s/%s failed: %w", r.Namespace, r.Name, err))
			continue
		}
		if marked {
			// Counted here, where it ended: the server that started it is gone.
			metrics.RestoreFinished(r, arkv1.RestorePhaseFailed, time.Time{}, time.Time{}, metrics.RestoreItems{})
			c.event(r, corev1.EventTypeWarning, ReasonInterrupted, "Restore failed: %s", InterruptedReason)
		}
	}
}

func (c *Controller) processNextWorkItem(ctx context.Context) bool {
	return keyqueue.ProcessNext(ctx, c.queue, "restore", keyqueue.NoRequeue(c.sync))
}

// resolveBackup finds the backup to restore: the named one, or the newest
// completed backup of the named schedule, in the restore's namespace.
func (c *Controller) resolveBackup(ctx context.Context, r *arkv1.Restore) (*arkv1.Backup, string) {
	client := c.client
	if c.ArkAs != nil {
		var err error
		if client, err = c.ArkAs(r.Spec.Requester); err != nil {
			return nil, "spec.requester: " + err.Error()
		}
	}
	source := restoreengine.SourceNamespace(r)
	if source != r.Namespace {
		// Restoring another namespace's backup here hands its contents to
		// this namespace: only for who may download them anyway.
		if c.CanDownload == nil {
			return nil, fmt.Sprintf("spec.backupNamespace: this server cannot check access to namespace %s", source)
		}
		allowed, reason, err := c.CanDownload(ctx, r.Spec.Requester, source)
		if err != nil {
			return nil, ""
		}
		if !allowed {
			return nil, fmt.Sprintf("spec.backupNamespace: %s may not download the backups of namespace %s: %s", r.Spec.Requester.Username, source, reason)
		}
	}
	backups := client.ArkV1().Backups(source)
	if r.Spec.BackupName != "" {
		b, err := backups.Get(ctx, r.Spec.BackupName, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil, fmt.Sprintf("spec.backupName: backup %q does not exist in namespace %s", r.Spec.BackupName, source)
		}
		if apierrors.IsForbidden(err) {
			return nil, fmt.Sprintf("spec.backupName: %s may not read backup %q: %v", r.Spec.Requester.Username, r.Spec.BackupName, err)
		}
		if err != nil {
			return nil, ""
		}
		switch b.Status.Phase {
		case arkv1.BackupPhaseCompleted, arkv1.BackupPhasePartiallyFailed:
			return b, ""
		case arkv1.BackupPhaseCorrupt:
			return nil, fmt.Sprintf("spec.backupName: backup %q cannot be restored: %s", b.Name, b.Status.FailureReason)
		}
		phase := b.Status.Phase
		if phase == "" {
			phase = arkv1.BackupPhaseNew
		}
		return nil, fmt.Sprintf("spec.backupName: backup %q is %s; only Completed and PartiallyFailed backups can be restored", b.Name, phase)
	}
	// A schedule's backups carry Ark's label, and Heptio Ark's; those a
	// Heptio Ark server took carry only its own.
	var done []arkv1.Backup
	seen := map[string]bool{}
	for _, label := range []string{arkv1.LabelScheduleName, arkv1.LegacyLabelScheduleName} {
		list, err := backups.List(ctx, metav1.ListOptions{LabelSelector: label + "=" + r.Spec.ScheduleName})
		if apierrors.IsForbidden(err) {
			return nil, fmt.Sprintf("spec.scheduleName: %s may not list backups: %v", r.Spec.Requester.Username, err)
		}
		if err != nil {
			return nil, ""
		}
		for _, b := range list.Items {
			if b.Status.Phase == arkv1.BackupPhaseCompleted && !seen[b.Name] {
				seen[b.Name] = true
				done = append(done, b)
			}
		}
	}
	if len(done) == 0 {
		return nil, fmt.Sprintf("spec.scheduleName: schedule %q has no completed backup in namespace %s", r.Spec.ScheduleName, source)
	}
	// Newest first; names break ties of the same second (scheduled backup
	// names end in their timestamp, so the later name is the later backup).
	sort.Slice(done, func(i, j int) bool {
		if !done[i].CreationTimestamp.Equal(&done[j].CreationTimestamp) {
			return done[i].CreationTimestamp.After(done[j].CreationTimestamp.Time)
		}
		return done[i].Name > done[j].Name
	})
	return &done[0], ""
}

func (c *Controller) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	cached, err := c.lister.Restores(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if cached.Status.Phase != "" && cached.Status.Phase != arkv1.RestorePhaseNew {
		return nil
	}
	var problems []string
	if c.Scope.HomeNamespace != "" {
		problems = validation.RecheckRestore(cached, c.Scope)
	}
	var backup *arkv1.Backup
	if len(problems) == 0 {
		var problem string
		if backup, problem = c.resolveBackup(ctx, cached); problem != "" {
			problems = []string{problem}
		}
	}
	r := cached.DeepCopy()
	if len(problems) > 0 {
		r.Status.Phase = arkv1.RestorePhaseFailedValidation
		r.Status.ValidationErrors = problems
		_, err := c.client.ArkV1().Restores(ns).UpdateStatus(ctx, r, metav1.UpdateOptions{})
		if apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
			return nil
		}
		if err == nil {
			metrics.RestoreFinished(r, arkv1.RestorePhaseFailedValidation, time.Time{}, time.Time{}, metrics.RestoreItems{})
			c.event(r, corev1.EventTypeWarning, ReasonFailedValidation, "Restore refused: %s", strings.Join(problems, "; "))
		}
		return err
	}
	if backup == nil {
		return fmt.Errorf("reading the backup of restore %s failed; retrying", key)
	}
	if c.Slots != nil {
		if !c.Slots.TryAcquire(ns) {
			c.queue.AddAfter(key, slotRetry)
			return nil
		}
		defer c.Slots.Release(ns)
	}
	start := metav1.NewTime(c.clock.Now())
	r.Status.Phase = arkv1.RestorePhaseInProgress
	r.Status.StartTimestamp = &start
	r.Status.BackupName = backup.Name
	r.Status.Progress = &arkv1.Progress{}
	r, err = c.client.ArkV1().Restores(ns).UpdateStatus(ctx, r, metav1.UpdateOptions{})
	if apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	klog.InfoS("Restore started", "restore", klog.KObj(r), "backup", backup.Name)
	metrics.RestoreStarted(r)
	c.event(r, corev1.EventTypeNormal, ReasonStarted, "Restore of backup %s started", backup.Name)

	// The engine given here reports progress from one goroutine that its
	// item workers never wait for, so a status write here slows the reports,
	// not the restore; another engine may call from several goroutines at
	// once: mu makes the check of last, its update and the write one step.
	var mu sync.Mutex
	last := c.clock.Now()
	progress := func(total, done int) {
		mu.Lock()
		defer mu.Unlock()
		if c.clock.Since(last) < c.ProgressInterval {
			return
		}
		last = c.clock.Now()
		if err := c.updateStatus(ctx, ns, name, func(s *arkv1.RestoreStatus) {
			s.Progress = &arkv1.Progress{TotalItems: total, ItemsDone: done}
		}); err != nil {
			klog.ErrorS(err, "Publishing restore progress", "restore", klog.KObj(r))
		}
	}
	// The engine's cleanup (removing the unpacked backup, seconds for a
	// large one) waits until the outcome below is written: Completed is
	// written as soon as the last item is restored. Deferred, it also runs
	// when the server is stopping or the status write fails.
	engineCtx, cleanups := restoreengine.DeferCleanup(ctx)
	defer cleanups.Run()
	out, runErr := c.newEngine().Run(engineCtx, r, backup, progress)
	if runErr != nil && ctx.Err() != nil {
		return nil // stopping; the next leader marks it interrupted
	}
	var phase arkv1.RestorePhase // the final one, once written
	err = c.updateStatus(ctx, ns, name, func(s *arkv1.RestoreStatus) {
		defer func() { phase = s.Phase }()
		now := metav1.NewTime(c.clock.Now())
		s.CompletionTimestamp = &now
		s.Warnings, s.Errors = out.Warnings, out.Errors
		s.Progress = &arkv1.Progress{TotalItems: out.Items, ItemsDone: out.Items}
		switch {
		case runErr != nil:
			s.Phase, s.FailureReason = arkv1.RestorePhaseFailed, runErr.Error()
			klog.ErrorS(runErr, "Restore failed", "restore", klog.KObj(r))
		case r.Spec.Preview:
			// What a restore would refuse is the preview's answer, not
			// its failure: the counts say it.
			s.Phase, s.Preview = arkv1.RestorePhasePreviewed, out.Preview
			if s.Preview == nil {
				s.Preview = &arkv1.RestorePreview{}
			}
			klog.InfoS("Restore previewed", "restore", klog.KObj(r), "wouldCreate", s.Preview.WouldCreate, "wouldConflict", s.Preview.WouldConflict, "wouldBeDenied", s.Preview.WouldBeDenied)
		case out.Errors > 0:
			s.Phase = arkv1.RestorePhasePartiallyFailed
			klog.InfoS("Restore partially failed", "restore", klog.KObj(r), "created", out.Created, "failed", out.Failed)
		default:
			s.Phase = arkv1.RestorePhaseCompleted
			klog.InfoS("Restore completed", "restore", klog.KObj(r), "created", out.Created, "updated", out.Updated, "skipped", out.Skipped)
		}
	})
	if err == nil {
		metrics.RestoreFinished(r, phase, start.Time, c.clock.Now(), metrics.RestoreItems{Created: out.Created, Updated: out.Updated, Skipped: out.Skipped, Failed: out.Failed})
		took := c.clock.Since(start.Time).Round(time.Second)
		switch phase {
		case arkv1.RestorePhaseFailed:
			c.event(r, corev1.EventTypeWarning, ReasonFailed, "Restore of backup %s failed after %s: %v", backup.Name, took, runErr)
		case arkv1.RestorePhasePartiallyFailed:
			c.event(r, corev1.EventTypeWarning, ReasonPartiallyFailed, "Restored backup %s in %s: %d created, %d updated, %d skipped, %d failed (%d errors, %d warnings): `ark restore describe %s` says which", backup.Name, took, out.Created, out.Updated, out.Skipped, out.Failed, out.Errors, out.Warnings, r.Name)
		case arkv1.RestorePhasePreviewed:
			p := out.Preview
			if p == nil {
				p = &arkv1.RestorePreview{}
			}
			c.event(r, corev1.EventTypeNormal, ReasonPreviewed, "Previewed a restore of backup %s in %s, changing nothing: %d would be created, %d updated, %d skipped, %d would conflict, %d would be denied, %d would fail: `ark restore results %s` says which", backup.Name, took, p.WouldCreate, p.WouldUpdate, p.WouldSkip, p.WouldConflict, p.WouldBeDenied, p.WouldFail, r.Name)
		case arkv1.RestorePhaseCompleted:
			c.event(r, corev1.EventTypeNormal, ReasonCompleted, "Restored backup %s in %s: %d created, %d updated, %d skipped, %d warnings", backup.Name, took, out.Created, out.Updated, out.Skipped, out.Warnings)
		}
	}
	return err
}

// updateStatus applies mutate to the latest status, retrying on conflicts.
func (c *Controller) updateStatus(ctx context.Context, ns, name string, mutate func(*arkv1.RestoreStatus)) error {
	return retry.RetryOnConflict(retry.DefaultBackoff, func() error {
		r, err := c.client.ArkV1().Restores(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		mutate(&r.Status)
		_, err = c.client.ArkV1().Restores(ns).UpdateStatus(ctx, r, metav1.UpdateOptions{})
		return err
	})
}
