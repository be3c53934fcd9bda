// Package metrics holds Ark's own Prometheus metrics, served on the
// server's /metrics beside the generic apiserver_* series. They are
// registered in component-base's legacy registry, as Kubernetes components
// register theirs, so the endpoint the generic API server already serves
// (and protects with delegated authorization) carries them.
//
// What they are for is alerting: a backup that failed, a schedule with no
// successful backup for longer than its period, a bucket that cannot be
// reached. Labels stay bounded: a namespace and a schedule name (backups
// that no schedule created have schedule ""), a phase, a location.
package metrics

import (
	"sync"
	"sync/atomic"
	"time"

	"k8s.io/component-base/metrics"
	"k8s.io/component-base/metrics/legacyregistry"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
)

const namespace = "ark"

// durationBuckets span a second to about nine hours, doubling.
var durationBuckets = metrics.ExponentialBuckets(1, 2, 16)

var (
	backupAttempts    = counterVec("backup", "attempts_total", "Backups this server started running, by namespace and schedule (\"\" for a backup no schedule created).", []string{"namespace", "schedule"})
	backupsFinished   = counterVec("backup", "finished_total", "Backups that ended, by namespace, schedule and phase (Completed, PartiallyFailed, Failed, FailedValidation).", []string{"namespace", "schedule", "phase"})
	backupDuration    = histogramVec("backup", "duration_seconds", "How long backups that ran took, from start to their final status, by namespace and schedule.", durationBuckets, []string{"namespace", "schedule"})
	backupItems       = counterVec("backup", "items_total", "Items backed up, by namespace and schedule.", []string{"namespace", "schedule"})
	backupWarnings    = counterVec("backup", "warnings_total", "Warnings of backups that ended, by namespace and schedule.", []string{"namespace", "schedule"})
	backupErrors      = counterVec("backup", "errors_total", "Errors (items not backed up) of backups that ended, by namespace and schedule.", []string{"namespace", "schedule"})
	backupLastSuccess = gaugeVec("backup", "last_successful_timestamp_seconds", "When the last Completed backup of a namespace and schedule ended, in seconds since the epoch: alert when it is older than the schedule's period.", []string{"namespace", "schedule"})

	restoreAttempts  = counterVec("restore", "attempts_total", "Restores this server started running, by namespace.", []string{"namespace"})
	restoresFinished = counterVec("restore", "finished_total", "Restores that ended, by namespace and phase (Completed, PartiallyFailed, Failed, FailedValidation).", []string{"namespace", "phase"})
	restoreDuration  = histogramVec("restore", "duration_seconds", "How long restores that ran took, from start to their final status, by namespace.", durationBuckets, []string{"namespace"})
	restoreItems     = counterVec("restore", "items_total", "Items of restores that ended, by namespace and what was done with them (created, updated, skipped, failed).", []string{"namespace", "action"})

	bucketPolls        = counterVec("bucket", "polls_total", "Polls of backup storage locations for their backups (listings, and reads of the records changes named), by location and result (ok, error).", []string{"location", "result"})
	bucketPollDuration = histogramVec("bucket", "poll_duration_seconds", "How long polls of backup storage locations took, by location.", metrics.ExponentialBuckets(0.001, 4, 10), []string{"location"})
	locationAvailable  = gaugeVec("backup_storage_location", "available", "1 if the last poll of a backup storage location's bucket worked, 0 if it failed.", []string{"location"})
	backupWatchers     = metrics.NewGauge(&metrics.GaugeOpts{
		Namespace: namespace, Subsystem: "backup", Name: "watchers",
		Help:           "Open watches of the bucket-backed backups, the in-process controllers' included.",
		StabilityLevel: metrics.ALPHA,
	})
)

// The schedules' series are read from the schedules and their backups
// when scraped, not counted as things happen: the bucket is the record of
// which backups succeeded, so they are right after a restart and for
// backups another replica took. The replica running the controllers
// reports them.
var (
	schedulePeriodDesc = metrics.NewDesc("ark_schedule_period_seconds",
		"Time between two runs of a schedule that is enabled and not paused, by namespace and schedule.",
		[]string{"namespace", "schedule"}, nil, metrics.ALPHA, "")
	scheduleCreatedDesc = metrics.NewDesc("ark_schedule_created_timestamp_seconds",
		"When a schedule was created, in seconds since the epoch: what a schedule with no successful backup yet is measured from.",
		[]string{"namespace", "schedule"}, nil, metrics.ALPHA, "")
	scheduleLastSuccessDesc = metrics.NewDesc("ark_schedule_last_successful_backup_timestamp_seconds",
		"When the newest Completed backup of a schedule completed, in seconds since the epoch, as its record in the bucket says; absent if none has.",
		[]string{"namespace", "schedule"}, nil, metrics.ALPHA, "")
	// schedules lists the schedules' states when scraped.
	schedules atomic.Pointer[func() []ScheduleState]
)

// ScheduleState is what the schedule series say of one schedule.
type ScheduleState struct {
	Namespace, Name string
	// Period is the time between two runs; zero for a paused or invalid
	// schedule, which then has no period series (and no alert on it).
	Period time.Duration
	// Created is when the schedule was created.
	Created time.Time
	// LastSuccess is when its newest Completed backup completed; zero if
	// none has.
	LastSuccess time.Time
}

// ReportSchedules says how to list the schedules' states when scraped.
func ReportSchedules(list func() []ScheduleState) { schedules.Store(&list) }

type scheduleCollector struct{ metrics.BaseStableCollector }

func (*scheduleCollector) DescribeWithStability(ch chan<- *metrics.Desc) {
	ch <- schedulePeriodDesc
	ch <- scheduleCreatedDesc
	ch <- scheduleLastSuccessDesc
}

func (*scheduleCollector) CollectWithStability(ch chan<- metrics.Metric) {
	list := schedules.Load()
	if list == nil {
		return
	}
	for _, s := range (*list)() {
		ch <- metrics.NewLazyConstMetric(scheduleCreatedDesc, metrics.GaugeValue, float64(s.Created.Unix()), s.Namespace, s.Name)
		if s.Period > 0 {
			ch <- metrics.NewLazyConstMetric(schedulePeriodDesc, metrics.GaugeValue, s.Period.Seconds(), s.Namespace, s.Name)
		}
		if !s.LastSuccess.IsZero() {
			ch <- metrics.NewLazyConstMetric(scheduleLastSuccessDesc, metrics.GaugeValue, float64(s.LastSuccess.Unix()), s.Namespace, s.Name)
		}
	}
}

// counterVec, gaugeVec and histogramVec make Ark's series: under the ark
// namespace, alpha stability.
func counterVec(subsystem, name, help string, labels []string) *metrics.CounterVec {
	return metrics.NewCounterVec(&metrics.CounterOpts{Namespace: namespace, Subsystem: subsystem, Name: name, Help: help, StabilityLevel: metrics.ALPHA}, labels)
}

func gaugeVec(subsystem, name, help string, labels []string) *metrics.GaugeVec {
	return metrics.NewGaugeVec(&metrics.GaugeOpts{Namespace: namespace, Subsystem: subsystem, Name: name, Help: help, StabilityLevel: metrics.ALPHA}, labels)
}

func histogramVec(subsystem, name, help string, buckets []float64, labels []string) *metrics.HistogramVec {
	return metrics.NewHistogramVec(&metrics.HistogramOpts{Namespace: namespace, Subsystem: subsystem, Name: name, Help: help, Buckets: buckets, StabilityLevel: metrics.ALPHA}, labels)
}

var registerOnce sync.Once

// Register adds Ark's metrics to the legacy registry the server's /metrics
// serves; calling it again does nothing.
func Register() {
	registerOnce.Do(func() {
		for _, m := range []metrics.Registerable{
			backupAttempts, backupsFinished, backupDuration, backupItems, backupWarnings, backupErrors, backupLastSuccess,
			restoreAttempts, restoresFinished, restoreDuration, restoreItems,
			bucketPolls, bucketPollDuration, locationAvailable, backupWatchers,
		} {
			legacyregistry.MustRegister(m)
		}
		legacyregistry.CustomMustRegister(&scheduleCollector{})
	})
}

// schedule is the schedule that created a backup, "" for none.
func schedule(b *arkv1.Backup) string { return b.Labels[arkv1.LabelScheduleName] }

// BackupStarted counts a backup this server started running.
func BackupStarted(b *arkv1.Backup) {
	backupAttempts.WithLabelValues(b.Namespace, schedule(b)).Inc()
}

// BackupFinished records a backup's end, once its final status is written:
// its phase, and for one that ran (started is not zero) how long it took,
// its items, warnings and errors.
func BackupFinished(b *arkv1.Backup, phase arkv1.BackupPhase, started, ended time.Time, items, warnings, errors int) {
	ns, s := b.Namespace, schedule(b)
	backupsFinished.WithLabelValues(ns, s, string(phase)).Inc()
	if started.IsZero() {
		return
	}
	backupDuration.WithLabelValues(ns, s).Observe(ended.Sub(started).Seconds())
	backupItems.WithLabelValues(ns, s).Add(float64(items))
	backupWarnings.WithLabelValues(ns, s).Add(float64(warnings))
	backupErrors.WithLabelValues(ns, s).Add(float64(errors))
	if phase == arkv1.BackupPhaseCompleted {
		backupLastSuccess.WithLabelValues(ns, s).Set(float64(ended.Unix()))
	}
}

// RestoreStarted counts a restore this server started running.
func RestoreStarted(r *arkv1.Restore) {
	restoreAttempts.WithLabelValues(r.Namespace).Inc()
}

// RestoreItems are what a restore did with its items.
type RestoreItems struct {
	Created, Updated, Skipped, Failed int
}

// RestoreFinished records a restore's end, once its final status is
// written: its phase, and for one that ran (started is not zero) how long
// it took and what it did with its items.
func RestoreFinished(r *arkv1.Restore, phase arkv1.RestorePhase, started, ended time.Time, items RestoreItems) {
	restoresFinished.WithLabelValues(r.Namespace, string(phase)).Inc()
	if started.IsZero() {
		return
	}
	restoreDuration.WithLabelValues(r.Namespace).Observe(ended.Sub(started).Seconds())
	for action, n := range map[string]int{"created": items.Created, "updated": items.Updated, "skipped": items.Skipped, "failed": items.Failed} {
		restoreItems.WithLabelValues(r.Namespace, action).Add(float64(n))
	}
}

// BucketPolled records a poll of a location's bucket: how long it took and
// whether it worked, which is also the location's availability.
func BucketPolled(location string, took time.Duration, err error) {
	bucketPollDuration.WithLabelValues(location).Observe(took.Seconds())
	result, available := "ok", 1.0
	if err != nil {
		result, available = "error", 0
	}
	bucketPolls.WithLabelValues(location, result).Inc()
	locationAvailable.WithLabelValues(location).Set(available)
}

// LocationGone forgets a location no longer served, so that its series
// stop rather than report its last state for ever.
func LocationGone(location string) {
	for _, result := range []string{"ok", "error"} {
		bucketPolls.Delete(map[string]string{"location": location, "result": result})
	}
	bucketPollDuration.Delete(map[string]string{"location": location})
	locationAvailable.Delete(map[string]string{"location": location})
}

// BackupWatchers sets the number of open watches of backups, which the
// backup index (a server has one) keeps.
func BackupWatchers(n int) { backupWatchers.Set(float64(n)) }
