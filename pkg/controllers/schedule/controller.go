// Package schedule is the controller that takes scheduled backups: the
// first when a schedule is created, then one at each cron tick, never two of
// one schedule at a time, and after downtime one catch-up backup rather than
// one per missed tick.
package schedule

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
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
	"github.com/arkproject/ark/pkg/controllers/keyqueue"
	"github.com/arkproject/ark/pkg/generated/clientset/versioned"
	arkinformers "github.com/arkproject/ark/pkg/generated/informers/externalversions/ark/v1"
	arklisters "github.com/arkproject/ark/pkg/generated/listers/ark/v1"
	"github.com/arkproject/ark/pkg/metrics"
)

// busyRetry is how soon a schedule whose previous backup still runs is
// looked at again.
const busyRetry = 5 * time.Second

// maxCatchUpSteps bounds the walk over missed ticks after a long downtime.
const maxCatchUpSteps = 1 << 20

// Controller creates the backups of schedules.
type Controller struct {
	client  versioned.Interface
	lister  arklisters.ScheduleLister
	backups arklisters.BackupLister
	synced  []cache.InformerSynced
	queue   workqueue.TypedRateLimitingInterface[string]
	clock   clock.WithTicker
	// Recorder, when set, gets an event for every phase a schedule enters,
	// every backup it creates and every run that took no backup.
	Recorder record.EventRecorder
}

// New returns a controller over the schedules and backups informers.
func New(client versioned.Interface, schedules arkinformers.ScheduleInformer, backups arkinformers.BackupInformer, clk clock.WithTicker) *Controller {
	if clk == nil {
		clk = clock.RealClock{}
	}
	c := &Controller{
		client:  client,
		lister:  schedules.Lister(),
		backups: backups.Lister(),
		synced:  []cache.InformerSynced{schedules.Informer().HasSynced, backups.Informer().HasSynced},
		queue:   workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](), workqueue.TypedRateLimitingQueueConfig[string]{Name: "schedules", Clock: clk}),
		clock:   clk,
	}
	_, _ = schedules.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueue,
		UpdateFunc: func(_, obj interface{}) { c.enqueue(obj) },
	})
	// When a scheduled backup finishes, its schedule may be due again.
	_, _ = backups.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		UpdateFunc: func(_, obj interface{}) {
			if b, ok := obj.(*arkv1.Backup); ok && b.Labels[arkv1.LabelScheduleName] != "" {
				c.queue.Add(b.Namespace + "/" + b.Labels[arkv1.LabelScheduleName])
			}
		},
	})
	return c
}

// States lists every schedule with its period and the completion of its
// newest Completed backup, from the informers, for the schedule metrics.
func (c *Controller) States() []metrics.ScheduleState {
	all, err := c.lister.List(labels.Everything())
	if err != nil {
		return nil
	}
	now := c.clock.Now()
	out := make([]metrics.ScheduleState, 0, len(all))
	for _, s := range all {
		st := metrics.ScheduleState{Namespace: s.Namespace, Name: s.Name, Created: s.CreationTimestamp.Time}
		if sched, err := validation.ParseCron(s.Spec.Schedule); err == nil && !s.Spec.Paused {
			next := sched.Next(now)
			st.Period = sched.Next(next).Sub(next)
		}
		sel := labels.SelectorFromSet(labels.Set{arkv1.LabelScheduleName: s.Name})
		if backups, err := c.backups.Backups(s.Namespace).List(sel); err == nil {
			for _, b := range backups {
				if b.Status.Phase == arkv1.BackupPhaseCompleted && b.Status.CompletionTimestamp != nil && b.Status.CompletionTimestamp.After(st.LastSuccess) {
					st.LastSuccess = b.Status.CompletionTimestamp.Time
				}
			}
		}
		out = append(out, st)
	}
	return out
}

func (c *Controller) enqueue(obj interface{}) {
	if key, err := cache.MetaNamespaceKeyFunc(obj); err == nil {
		c.queue.Add(key)
	}
}

// Run processes schedules until ctx ends.
func (c *Controller) Run(ctx context.Context, workers int) {
	defer utilruntime.HandleCrash()
	defer c.queue.ShutDown()
	klog.InfoS("Starting schedule controller")
	if !cache.WaitForCacheSync(ctx.Done(), c.synced...) {
		return
	}
	keyqueue.StartWorkers(ctx, workers, c.processNextWorkItem)
	<-ctx.Done()
}

func (c *Controller) processNextWorkItem(ctx context.Context) bool {
	return keyqueue.ProcessNext(ctx, c.queue, "schedule", c.sync)
}

// BackupName is the name of a schedule's backup for a tick:
// <schedule>-<YYYYMMDDhhmmss> in UTC. It is a function of the tick alone, so
// every replica computes the same name and the bucket's create-if-absent
// lets only one of them create it.
//
// Validation keeps a new schedule's name short enough for this to be a valid
// backup name (validation.MaxScheduleNameLength); the name of a schedule
// created before that limit is cut so that its backups are still accepted,
// and without the dots and dashes the cut may leave, as "<name>.-<stamp>"
// would not be a DNS subdomain.
func BackupName(schedule string, tick time.Time) string {
	stamp := tick.UTC().Format("20060102150405")
	if max := validation.MaxBackupNameLength() - len(stamp) - 1; len(schedule) > max {
		schedule = strings.TrimRight(schedule[:max], ".-")
	}
	return schedule + "-" + stamp
}

// NextBackup says when the schedule takes its next backup, as the
// controller will compute it: a time in the past means one is due now.
// Paused and invalid schedules have none (zero time).
func NextBackup(s *arkv1.Schedule, now time.Time) time.Time {
	sched, err := validation.ParseCron(s.Spec.Schedule)
	if err != nil || s.Spec.Paused {
		return time.Time{}
	}
	// due's rule without its walk over missed ticks, which only picks the
	// catch-up backup's name: never backed up means due at once; otherwise
	// the tick after the last backup, due now if already passed.
	if s.Status.LastBackup == nil {
		return s.CreationTimestamp.Time
	}
	return nextTick(sched, s.Status.LastBackup.Time)
}

// due returns the tick a backup is due for, or when the next one is.
// A schedule's first backup is due at its creation. After downtime only the
// latest missed tick is due: one catch-up backup, not one per missed tick.
func due(s *arkv1.Schedule, sched cron.Schedule, now time.Time) (bool, time.Time) {
	last := s.CreationTimestamp.Time.UTC().Truncate(time.Second)
	if s.Status.LastBackup == nil {
		// The first backup is the creation's, unless a regular tick has
		// passed since (the controller was down): then that tick's backup
		// is the one catch-up backup.
		if next := nextTick(sched, last); next.After(now) || next.IsZero() {
			return true, last
		}
	} else {
		last = s.Status.LastBackup.Time
	}
	next := nextTick(sched, last)
	if next.After(now) {
		return false, next
	}
	tick := next
	for i := 0; i < maxCatchUpSteps; i++ {
		n := nextTick(sched, tick)
		if n.After(now) || n.IsZero() {
			break
		}
		tick = n
	}
	return true, tick
}

// nextTick is sched.Next, except that a wall-clock time repeated when
// daylight saving time ends fires once, as cron does: robfig/cron would fire
// 02:30 twice on the night the clocks go back.
func nextTick(sched cron.Schedule, t time.Time) time.Time {
	n := sched.Next(t)
	spec, ok := sched.(*cron.SpecSchedule)
	if !ok || n.IsZero() {
		return n
	}
	prev, cur := t.In(spec.Location), n.In(spec.Location)
	if prev.Year() == cur.Year() && prev.YearDay() == cur.YearDay() && prev.Hour() == cur.Hour() && prev.Minute() == cur.Minute() {
		return sched.Next(n)
	}
	return n
}

// The reasons of a schedule's events.
const (
	ReasonEnabled          = "Enabled"
	ReasonFailedValidation = "FailedValidation"
	ReasonBackupCreated    = "BackupCreated"
	ReasonBackupNameTaken  = "BackupNameTaken"
)

func (c *Controller) event(s *arkv1.Schedule, eventType, reason, format string, args ...any) {
	if c.Recorder != nil {
		c.Recorder.Eventf(s, eventType, reason, format, args...)
	}
}

// sync creates the schedule's due backup, if any, and says when to look again.
func (c *Controller) sync(ctx context.Context, key string) (time.Duration, error) {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return 0, nil
	}
	s, err := c.lister.Schedules(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	sched, perr := validation.ParseCron(s.Spec.Schedule)
	if perr != nil {
		problem := "spec.schedule: " + perr.Error()
		err := c.setStatus(ctx, s, func(st *arkv1.ScheduleStatus) {
			st.Phase, st.ValidationErrors = arkv1.SchedulePhaseFailedValidation, []string{problem}
		})
		if err == nil && s.Status.Phase != arkv1.SchedulePhaseFailedValidation {
			c.event(s, corev1.EventTypeWarning, ReasonFailedValidation, "Schedule takes no backups: %s", problem)
		}
		return 0, err
	}
	if s.Status.Phase != arkv1.SchedulePhaseEnabled {
		if err := c.setStatus(ctx, s, func(st *arkv1.ScheduleStatus) {
			st.Phase, st.ValidationErrors = arkv1.SchedulePhaseEnabled, nil
		}); err != nil {
			return 0, err
		}
		c.event(s, corev1.EventTypeNormal, ReasonEnabled, "Schedule enabled: backups at %q", s.Spec.Schedule)
	}
	if s.Spec.Paused {
		return 0, nil // unpausing updates the schedule, which queues it
	}
	now := c.clock.Now()
	isDue, tick := due(s, sched, now)
	if !isDue {
		return tick.Sub(now), nil
	}
	if busy, err := c.backupRunning(s); err != nil || busy {
		return busyRetry, err
	}
	backupName := BackupName(s.Name, tick)
	b := &arkv1.Backup{
		ObjectMeta: metav1.ObjectMeta{
			Name:      backupName,
			Namespace: s.Namespace,
			// Both Ark's label and Heptio Ark's, which its client selects by.
			Labels: map[string]string{arkv1.LabelScheduleName: s.Name, arkv1.LegacyLabelScheduleName: s.Name},
		},
		Spec: *s.Spec.Template.DeepCopy(),
	}
	for k, v := range s.Labels {
		if _, taken := b.Labels[k]; !taken {
			b.Labels[k] = v
		}
	}
	_, err = c.client.ArkV1().Backups(s.Namespace).Create(ctx, b, metav1.CreateOptions{})
	var failure *arkv1.ScheduleFailure
	last := metav1.NewTime(tick)
	switch {
	case apierrors.IsAlreadyExists(err):
		existing, gerr := c.client.ArkV1().Backups(s.Namespace).Get(ctx, backupName, metav1.GetOptions{})
		if gerr != nil && !apierrors.IsNotFound(gerr) {
			return 0, fmt.Errorf("reading backup %s, whose name is taken: %w", backupName, gerr)
		}
		if gerr == nil && takenBy(s, existing) {
			klog.V(2).InfoS("Scheduled backup already exists (another replica took it)", "schedule", klog.KObj(s), "backup", backupName)
			break
		}
		// Someone else's backup has the name: this run takes none, and
		// says so rather than pass the other backup off as its own.
		reason := fmt.Sprintf("backup %s was not taken: a backup of that name that is not this schedule's already exists in namespace %s", backupName, s.Namespace)
		failure = &arkv1.ScheduleFailure{Time: last, BackupName: backupName, Reason: reason}
		klog.InfoS("Scheduled backup not taken: its name is taken", "schedule", klog.KObj(s), "backup", backupName)
		c.event(s, corev1.EventTypeWarning, ReasonBackupNameTaken, "%s", reason)
	case err != nil:
		return 0, fmt.Errorf("creating backup %s: %w", backupName, err)
	default:
		klog.InfoS("Created scheduled backup", "schedule", klog.KObj(s), "backup", backupName)
		c.event(s, corev1.EventTypeNormal, ReasonBackupCreated, "Created backup %s", backupName)
	}
	if err := c.setStatus(ctx, s, func(st *arkv1.ScheduleStatus) {
		st.Phase, st.LastBackup = arkv1.SchedulePhaseEnabled, &last
		if failure != nil {
			st.LastFailure = failure
		} else {
			st.LastBackupName = backupName
		}
	}); err != nil {
		return 0, err
	}
	return max(nextTick(sched, tick).Sub(now), time.Second), nil
}

// takenBy reports whether b is the backup this schedule (on another
// replica) made for a tick: labelled with the schedule and acting as the
// schedule's requester.
func takenBy(s *arkv1.Schedule, b *arkv1.Backup) bool {
	return b.Labels[arkv1.LabelScheduleName] == s.Name && apiequality.Semantic.DeepEqual(b.Spec.Requester, s.Spec.Template.Requester)
}

// backupRunning reports whether a backup of the schedule is New or InProgress.
func (c *Controller) backupRunning(s *arkv1.Schedule) (bool, error) {
	sel := labels.SelectorFromSet(labels.Set{arkv1.LabelScheduleName: s.Name})
	backups, err := c.backups.Backups(s.Namespace).List(sel)
	if err != nil {
		return false, err
	}
	for _, b := range backups {
		switch b.Status.Phase {
		case "", arkv1.BackupPhaseNew, arkv1.BackupPhaseInProgress:
			return true, nil
		}
	}
	return false, nil
}

func (c *Controller) setStatus(ctx context.Context, s *arkv1.Schedule, mutate func(*arkv1.ScheduleStatus)) error {
	return retry.RetryOnConflict(retry.DefaultBackoff, func() error {
		latest, err := c.client.ArkV1().Schedules(s.Namespace).Get(ctx, s.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		mutate(&latest.Status)
		_, err = c.client.ArkV1().Schedules(s.Namespace).UpdateStatus(ctx, latest, metav1.UpdateOptions{})
		return err
	})
}
