package metrics

import (
	"errors"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/component-base/metrics/legacyregistry"
	"k8s.io/component-base/metrics/testutil"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
)

func backupOf(ns, name, schedule string) *arkv1.Backup {
	b := &arkv1.Backup{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	if schedule != "" {
		b.Labels = map[string]string{arkv1.LabelScheduleName: schedule}
	}
	return b
}

// compare checks the named series in the registry /metrics serves.
func compare(t *testing.T, want string, names ...string) {
	t.Helper()
	if err := testutil.GatherAndCompare(legacyregistry.DefaultGatherer, strings.NewReader(want), names...); err != nil {
		t.Error(err)
	}
}

// The series people alert on: backups by outcome, and when each schedule
// last succeeded. A backup that never ran (failed validation) counts as
// finished but adds no duration, items or success.
func TestBackupMetrics(t *testing.T) {
	Register()
	Register() // a second call does nothing (no duplicate registration panic)
	start := time.Unix(1_800_000_000, 0)
	daily := backupOf("team-a", "daily-1", "daily")
	BackupStarted(daily)
	BackupFinished(daily, arkv1.BackupPhaseCompleted, start, start.Add(90*time.Second), 120, 2, 0)
	BackupStarted(daily)
	BackupFinished(daily, arkv1.BackupPhasePartiallyFailed, start.Add(time.Hour), start.Add(time.Hour+30*time.Second), 100, 0, 3)
	BackupFinished(backupOf("heptio-ark", "manual", ""), arkv1.BackupPhaseFailedValidation, time.Time{}, time.Time{}, 0, 0, 0)

	compare(t, `
# HELP ark_backup_attempts_total [ALPHA] Backups this server started running, by namespace and schedule ("" for a backup no schedule created).
# TYPE ark_backup_attempts_total counter
ark_backup_attempts_total{namespace="team-a",schedule="daily"} 2
# HELP ark_backup_finished_total [ALPHA] Backups that ended, by namespace, schedule and phase (Completed, PartiallyFailed, Failed, FailedValidation).
# TYPE ark_backup_finished_total counter
ark_backup_finished_total{namespace="heptio-ark",phase="FailedValidation",schedule=""} 1
ark_backup_finished_total{namespace="team-a",phase="Completed",schedule="daily"} 1
ark_backup_finished_total{namespace="team-a",phase="PartiallyFailed",schedule="daily"} 1
# HELP ark_backup_last_successful_timestamp_seconds [ALPHA] When the last Completed backup of a namespace and schedule ended, in seconds since the epoch: alert when it is older than the schedule's period.
# TYPE ark_backup_last_successful_timestamp_seconds gauge
ark_backup_last_successful_timestamp_seconds{namespace="team-a",schedule="daily"} 1.80000009e+09
# HELP ark_backup_items_total [ALPHA] Items backed up, by namespace and schedule.
# TYPE ark_backup_items_total counter
ark_backup_items_total{namespace="team-a",schedule="daily"} 220
# HELP ark_backup_errors_total [ALPHA] Errors (items not backed up) of backups that ended, by namespace and schedule.
# TYPE ark_backup_errors_total counter
ark_backup_errors_total{namespace="team-a",schedule="daily"} 3
# HELP ark_backup_warnings_total [ALPHA] Warnings of backups that ended, by namespace and schedule.
# TYPE ark_backup_warnings_total counter
ark_backup_warnings_total{namespace="team-a",schedule="daily"} 2
`, "ark_backup_attempts_total", "ark_backup_finished_total", "ark_backup_last_successful_timestamp_seconds", "ark_backup_items_total", "ark_backup_errors_total", "ark_backup_warnings_total")
	testutil.AssertHistogramTotalCount(t, "ark_backup_duration_seconds", map[string]string{"namespace": "team-a", "schedule": "daily"}, 2)
	testutil.AssertVectorCount(t, "ark_backup_duration_seconds", map[string]string{"namespace": "heptio-ark"}, 0)
}

func TestRestoreMetrics(t *testing.T) {
	Register()
	start := time.Unix(1_800_000_000, 0)
	r := &arkv1.Restore{ObjectMeta: metav1.ObjectMeta{Namespace: "team-b", Name: "r1"}}
	RestoreStarted(r)
	RestoreFinished(r, arkv1.RestorePhasePartiallyFailed, start, start.Add(time.Minute), RestoreItems{Created: 7, Skipped: 2, Failed: 1})
	RestoreFinished(r, arkv1.RestorePhaseFailed, time.Time{}, time.Time{}, RestoreItems{}) // interrupted, counted by the next leader
	compare(t, `
# HELP ark_restore_attempts_total [ALPHA] Restores this server started running, by namespace.
# TYPE ark_restore_attempts_total counter
ark_restore_attempts_total{namespace="team-b"} 1
# HELP ark_restore_finished_total [ALPHA] Restores that ended, by namespace and phase (Completed, PartiallyFailed, Failed, FailedValidation).
# TYPE ark_restore_finished_total counter
ark_restore_finished_total{namespace="team-b",phase="Failed"} 1
ark_restore_finished_total{namespace="team-b",phase="PartiallyFailed"} 1
# HELP ark_restore_items_total [ALPHA] Items of restores that ended, by namespace and what was done with them (created, updated, skipped, failed).
# TYPE ark_restore_items_total counter
ark_restore_items_total{action="created",namespace="team-b"} 7
ark_restore_items_total{action="failed",namespace="team-b"} 1
ark_restore_items_total{action="skipped",namespace="team-b"} 2
ark_restore_items_total{action="updated",namespace="team-b"} 0
`, "ark_restore_attempts_total", "ark_restore_finished_total", "ark_restore_items_total")
	testutil.AssertHistogramTotalCount(t, "ark_restore_duration_seconds", map[string]string{"namespace": "team-b"}, 1)
}

// A location's availability follows its last poll, and a location no
// longer served leaves no series behind.
func TestBucketMetrics(t *testing.T) {
	Register()
	BucketPolled("default", 20*time.Millisecond, nil)
	BucketPolled("default", 30*time.Millisecond, nil)
	BucketPolled("offsite", time.Second, errors.New("unreachable"))
	compare(t, `
# HELP ark_backup_storage_location_available [ALPHA] 1 if the last poll of a backup storage location's bucket worked, 0 if it failed.
# TYPE ark_backup_storage_location_available gauge
ark_backup_storage_location_available{location="default"} 1
ark_backup_storage_location_available{location="offsite"} 0
# HELP ark_bucket_polls_total [ALPHA] Polls of backup storage locations for their backups (listings, and reads of the records changes named), by location and result (ok, error).
# TYPE ark_bucket_polls_total counter
ark_bucket_polls_total{location="default",result="ok"} 2
ark_bucket_polls_total{location="offsite",result="error"} 1
`, "ark_backup_storage_location_available", "ark_bucket_polls_total")
	testutil.AssertHistogramTotalCount(t, "ark_bucket_poll_duration_seconds", map[string]string{"location": "default"}, 2)

	BucketPolled("offsite", time.Second, nil)
	LocationGone("default")
	compare(t, `
# HELP ark_backup_storage_location_available [ALPHA] 1 if the last poll of a backup storage location's bucket worked, 0 if it failed.
# TYPE ark_backup_storage_location_available gauge
ark_backup_storage_location_available{location="offsite"} 1
`, "ark_backup_storage_location_available")
	testutil.AssertVectorCount(t, "ark_bucket_polls_total", map[string]string{"location": "default"}, 0)

	BackupWatchers(3)
	compare(t, `
# HELP ark_backup_watchers [ALPHA] Open watches of the bucket-backed backups, the in-process controllers' included.
# TYPE ark_backup_watchers gauge
ark_backup_watchers 3
`, "ark_backup_watchers")
}

// The schedules' series, as the schedule controller reports them: a
// paused schedule has no period (so no alert), one with no successful
// backup has no last-success series (the alert measures from creation).
func TestScheduleMetrics(t *testing.T) {
	Register()
	ReportSchedules(func() []ScheduleState {
		return []ScheduleState{
			{Namespace: "team-a", Name: "daily", Period: 24 * time.Hour, Created: time.Unix(1_700_000_000, 0), LastSuccess: time.Unix(1_800_000_000, 0)},
			{Namespace: "team-a", Name: "paused", Created: time.Unix(1_700_000_100, 0)},
			{Namespace: "team-b", Name: "new", Period: time.Hour, Created: time.Unix(1_700_000_200, 0)},
		}
	})
	defer schedules.Store(nil)
	compare(t, `
# HELP ark_schedule_period_seconds [ALPHA] Time between two runs of a schedule that is enabled and not paused, by namespace and schedule.
# TYPE ark_schedule_period_seconds gauge
ark_schedule_period_seconds{namespace="team-a",schedule="daily"} 86400
ark_schedule_period_seconds{namespace="team-b",schedule="new"} 3600
# HELP ark_schedule_created_timestamp_seconds [ALPHA] When a schedule was created, in seconds since the epoch: what a schedule with no successful backup yet is measured from.
# TYPE ark_schedule_created_timestamp_seconds gauge
ark_schedule_created_timestamp_seconds{namespace="team-a",schedule="daily"} 1.7e+09
ark_schedule_created_timestamp_seconds{namespace="team-a",schedule="paused"} 1.7000001e+09
ark_schedule_created_timestamp_seconds{namespace="team-b",schedule="new"} 1.7000002e+09
# HELP ark_schedule_last_successful_backup_timestamp_seconds [ALPHA] When the newest Completed backup of a schedule completed, in seconds since the epoch, as its record in the bucket says; absent if none has.
# TYPE ark_schedule_last_successful_backup_timestamp_seconds gauge
ark_schedule_last_successful_backup_timestamp_seconds{namespace="team-a",schedule="daily"} 1.8e+09
`, "ark_schedule_period_seconds", "ark_schedule_created_timestamp_seconds", "ark_schedule_last_successful_backup_timestamp_seconds")
}
