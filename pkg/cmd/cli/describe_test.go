package cli

import (
	"bytes"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
)

// describeNow is the fixed "now" of the describe tests.
var describeNow = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

func at(d time.Duration) *metav1.Time { t := metav1.NewTime(describeNow.Add(d)); return &t }

func completedBackup() *arkv1.Backup {
	return &arkv1.Backup{
		ObjectMeta: metav1.ObjectMeta{
			Name: "nginx-backup", Namespace: "heptio-ark",
			Labels: map[string]string{arkv1.LabelScheduleName: "nightly", "app": "nginx"},
		},
		Spec: arkv1.BackupSpec{
			IncludedNamespaces:      []string{"nginx-example", "shop"},
			ExcludedResources:       []string{"secrets", "events"},
			OrderedResources:        map[string]string{"pods": "shop/db-0,shop/db-1", "persistentvolumes": "pv-1"},
			LabelSelector:           &metav1.LabelSelector{MatchLabels: map[string]string{"app": "nginx"}, MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "tier", Operator: metav1.LabelSelectorOpNotIn, Values: []string{"db"}}}},
			IncludeClusterResources: ptr(false),
			SnapshotVolumes:         ptr(true),
			TTL:                     metav1.Duration{Duration: 72 * time.Hour},
			StorageLocation:         "default",
			Hooks: arkv1.BackupHooks{Resources: []arkv1.BackupResourceHookSpec{
				{
					Name:               "fsfreeze",
					IncludedNamespaces: []string{"nginx-example"},
					LabelSelector:      &metav1.LabelSelector{MatchLabels: map[string]string{"app": "nginx"}},
					PreHooks:           []arkv1.BackupResourceHook{{Exec: &arkv1.ExecHook{Command: []string{"fsfreeze", "-f", "/var/log/nginx"}}}},
					PostHooks:          []arkv1.BackupResourceHook{{Exec: &arkv1.ExecHook{Command: []string{"fsfreeze", "-u", "/var/log/nginx"}}}},
				},
				{
					Name: "flush",
					PreHooks: []arkv1.BackupResourceHook{
						{Exec: &arkv1.ExecHook{Command: []string{"sync"}}},
						{Exec: &arkv1.ExecHook{Command: []string{"sync"}}},
					},
				},
			}},
			Requester: &arkv1.UserInfo{Username: "alice@example.com", Groups: []string{"admins"}},
		},
		Status: arkv1.BackupStatus{
			Phase:                    arkv1.BackupPhaseCompleted,
			StartTimestamp:           at(-2 * time.Hour),
			CompletionTimestamp:      at(-110 * time.Minute),
			Expiration:               at(70 * time.Hour),
			Progress:                 &arkv1.Progress{TotalItems: 42, ItemsDone: 42},
			Warnings:                 2,
			VolumeSnapshotsAttempted: 3,
			VolumeSnapshotsCompleted: 2,
		},
	}
}

func TestDescribeBackup(t *testing.T) {
	for _, tc := range []struct {
		golden string
		backup *arkv1.Backup
	}{
		{"describe-backup-completed.golden", completedBackup()},
		{"describe-backup-new.golden", &arkv1.Backup{ObjectMeta: metav1.ObjectMeta{Name: "fresh", Namespace: "team-a"}}},
		{"describe-backup-failed.golden", &arkv1.Backup{
			ObjectMeta: metav1.ObjectMeta{Name: "broken", Namespace: "team-a"},
			Spec:       arkv1.BackupSpec{IncludedNamespaces: []string{"team-a"}, IncludeClusterResources: ptr(true), TTL: metav1.Duration{Duration: time.Hour}},
			Status: arkv1.BackupStatus{
				Phase:            arkv1.BackupPhaseFailedValidation,
				FailureReason:    "spec rejected",
				ValidationErrors: []string{"includeClusterResources may not be true outside heptio-ark", "storage location \"nope\" does not exist"},
				StartTimestamp:   at(-3 * time.Hour),
				Expiration:       at(-2 * time.Hour), // expired: no "(in ...)"
				Errors:           1,
			},
		}},
	} {
		t.Run(tc.golden, func(t *testing.T) {
			var buf bytes.Buffer
			describeBackup(&buf, tc.backup, describeNow)
			golden(t, tc.golden, buf.Bytes())
		})
	}
}

func TestDescribeRestore(t *testing.T) {
	for _, tc := range []struct {
		golden  string
		restore *arkv1.Restore
	}{
		{"describe-restore.golden", &arkv1.Restore{
			ObjectMeta: metav1.ObjectMeta{Name: "nginx-backup-20240501100000", Namespace: "heptio-ark"},
			Spec: arkv1.RestoreSpec{
				BackupName:             "nginx-backup",
				IncludedNamespaces:     []string{"abc", "123"},
				ExcludedResources:      []string{"secrets"},
				NamespaceMapping:       map[string]string{"abc": "def", "123": "456"},
				LabelSelector:          &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
				RestorePVs:             ptr(false),
				PreserveNodePorts:      ptr(true),
				ExistingResourcePolicy: arkv1.ExistingResourcePolicyUpdate,
				Requester:              &arkv1.UserInfo{Username: "bob"},
			},
			Status: arkv1.RestoreStatus{
				Phase:               arkv1.RestorePhasePartiallyFailed,
				BackupName:          "nginx-backup",
				StartTimestamp:      at(-time.Hour),
				CompletionTimestamp: at(-59 * time.Minute),
				Progress:            &arkv1.Progress{TotalItems: 12, ItemsDone: 12},
				Warnings:            3,
				Errors:              1,
			},
		}},
		{"describe-restore-from-schedule.golden", &arkv1.Restore{
			ObjectMeta: metav1.ObjectMeta{Name: "latest", Namespace: "heptio-ark"},
			Spec:       arkv1.RestoreSpec{ScheduleName: "nightly", IncludeClusterResources: ptr(true)},
			Status: arkv1.RestoreStatus{
				Phase:         arkv1.RestorePhaseFailed,
				FailureReason: "backup storage location unavailable",
			},
		}},
	} {
		t.Run(tc.golden, func(t *testing.T) {
			var buf bytes.Buffer
			describeRestore(&buf, tc.restore)
			golden(t, tc.golden, buf.Bytes())
		})
	}
}

func TestDescribeSchedule(t *testing.T) {
	for _, tc := range []struct {
		golden   string
		schedule *arkv1.Schedule
	}{
		{"describe-schedule.golden", &arkv1.Schedule{
			ObjectMeta: metav1.ObjectMeta{Name: "nightly", Namespace: "heptio-ark"},
			Spec: arkv1.ScheduleSpec{
				Schedule: "CRON_TZ=Europe/Berlin 0 3 * * *",
				Template: completedBackup().Spec,
			},
			Status: arkv1.ScheduleStatus{
				Phase:          arkv1.SchedulePhaseEnabled,
				LastBackup:     at(-9 * time.Hour),
				LastBackupName: "nightly-20240501030000",
				LastFailure: &arkv1.ScheduleFailure{Time: *at(-33 * time.Hour), BackupName: "nightly-20240430030000",
					Reason: "backup nightly-20240430030000 was not taken: a backup of that name that is not this schedule's already exists in namespace heptio-ark"},
			},
		}},
		{"describe-schedule-invalid.golden", &arkv1.Schedule{
			ObjectMeta: metav1.ObjectMeta{Name: "bad", Namespace: "team-a"},
			Spec:       arkv1.ScheduleSpec{Schedule: "61 * * * *", Paused: true},
			Status: arkv1.ScheduleStatus{
				Phase:            arkv1.SchedulePhaseFailedValidation,
				ValidationErrors: []string{"invalid schedule: end of range (61) above maximum (59)"},
			},
		}},
	} {
		t.Run(tc.golden, func(t *testing.T) {
			var buf bytes.Buffer
			describeSchedule(&buf, tc.schedule, describeNow)
			golden(t, tc.golden, buf.Bytes())
		})
	}
}
