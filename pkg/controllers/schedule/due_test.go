package schedule

import (
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/arkproject/ark/pkg/apis/ark"
	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
	"github.com/arkproject/ark/pkg/apis/ark/validation"
)

func schedule(expr string, created time.Time, last *time.Time) *arkv1.Schedule {
	s := &arkv1.Schedule{
		ObjectMeta: metav1.ObjectMeta{Name: "daily", CreationTimestamp: metav1.NewTime(created)},
		Spec:       arkv1.ScheduleSpec{Schedule: expr},
	}
	if last != nil {
		t := metav1.NewTime(*last)
		s.Status.LastBackup = &t
	}
	return s
}

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func ptr(t time.Time) *time.Time { return &t }

func TestDue(t *testing.T) {
	cases := []struct {
		name     string
		expr     string
		created  time.Time
		last     *time.Time
		now      time.Time
		wantDue  bool
		wantTick time.Time
	}{
		{"first backup at creation", "0 */6 * * *", at("2026-11-25T10:17:42.9Z"), nil, at("2026-11-25T10:17:43Z"), true, at("2026-11-25T10:17:42Z")},
		{"not yet", "0 */6 * * *", at("2026-11-25T10:00:00Z"), ptr(at("2026-11-25T10:17:42Z")), at("2026-11-25T11:59:59Z"), false, at("2026-11-25T12:00:00Z")},
		{"on the tick", "0 */6 * * *", at("2026-11-25T10:00:00Z"), ptr(at("2026-11-25T10:17:42Z")), at("2026-11-25T12:00:00Z"), true, at("2026-11-25T12:00:00Z")},
		// Down from 10:17 to 23:30: ticks at 12:00 and 18:00 missed; one catch-up, for 18:00.
		{"catch-up after downtime", "0 */6 * * *", at("2026-11-25T10:00:00Z"), ptr(at("2026-11-25T10:17:42Z")), at("2026-11-25T23:30:00Z"), true, at("2026-11-25T18:00:00Z")},
		{"every", "@every 20s", at("2026-11-25T10:00:00Z"), ptr(at("2026-11-25T10:00:00Z")), at("2026-11-25T10:00:25Z"), true, at("2026-11-25T10:00:20Z")},
		{"every, not yet", "@every 20s", at("2026-11-25T10:00:00Z"), ptr(at("2026-11-25T10:00:00Z")), at("2026-11-25T10:00:19Z"), false, at("2026-11-25T10:00:20Z")},
		// 02:30 Europe/Berlin does not exist on 2026-03-29 (clocks jump 02:00 -> 03:00).
		{"DST gap with CRON_TZ", "CRON_TZ=Europe/Berlin 30 2 * * *", at("2026-03-27T00:00:00Z"), ptr(at("2026-03-28T01:30:00Z")), at("2026-03-30T12:00:00Z"), true, at("2026-03-30T00:30:00Z")},
		// Autumn: 02:30 Berlin happens twice on 2026-10-25 (00:30Z and 01:30Z);
		// after the first, the next backup is the next day's, not an hour later.
		{"DST repeat with CRON_TZ: first 02:30", "CRON_TZ=Europe/Berlin 30 2 * * *", at("2026-10-20T00:00:00Z"), ptr(at("2026-10-24T00:30:00Z")), at("2026-10-25T00:35:00Z"), true, at("2026-10-25T00:30:00Z")},
		{"DST repeat with CRON_TZ: no second 02:30", "CRON_TZ=Europe/Berlin 30 2 * * *", at("2026-10-20T00:00:00Z"), ptr(at("2026-10-25T00:30:00Z")), at("2026-10-25T01:35:00Z"), false, at("2026-10-26T01:30:00Z")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sched, err := validation.ParseCron(tc.expr)
			if err != nil {
				t.Fatal(err)
			}
			gotDue, gotTick := due(schedule(tc.expr, tc.created, tc.last), sched, tc.now)
			if gotDue != tc.wantDue || !gotTick.Equal(tc.wantTick) {
				t.Errorf("due = %v at %s, want %v at %s", gotDue, gotTick.UTC().Format(time.RFC3339), tc.wantDue, tc.wantTick.UTC().Format(time.RFC3339))
			}
		})
	}
}

func TestBackupNames(t *testing.T) {
	tick := at("2026-11-25T10:17:42Z")
	if got := BackupName("daily", tick); got != "daily-20261125101742" {
		t.Errorf("name %q", got)
	}
	berlin, _ := time.LoadLocation("Europe/Berlin")
	if got := BackupName("daily", tick.In(berlin)); got != "daily-20261125101742" {
		t.Errorf("names are UTC whatever the zone: %q", got)
	}
	// The same tick gives the same name: two replicas cannot both create it.
	if BackupName("daily", tick) != BackupName("daily", tick.Add(999*time.Millisecond)) {
		t.Errorf("same-second ticks differ")
	}
	long := BackupName(string(make([]byte, 300)), tick)
	if len(long) > validation.MaxBackupNameLength() {
		t.Errorf("name of %d characters", len(long))
	}
}

// A schedule's backups must pass the API's validation of backup names: the
// longest schedule name it allows is kept whole, and a longer one (of a
// schedule created before the limit) is cut to a valid name.
func TestBackupNamesAreValid(t *testing.T) {
	tick := at("2026-11-25T10:17:42Z")
	valid := func(name string) {
		t.Helper()
		b := &ark.Backup{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "heptio-ark"}}
		if errs := validation.ValidateBackup(b, validation.Scope{HomeNamespace: "heptio-ark"}); len(errs) != 0 {
			t.Errorf("backup name %q (%d characters) is refused: %v", name, len(name), errs)
		}
	}
	longest := strings.Repeat("s", validation.MaxScheduleNameLength())
	if got, want := BackupName(longest, tick), longest+"-20261125101742"; got != want {
		t.Errorf("BackupName of the longest schedule name = %q, want %q", got, want)
	}
	valid(BackupName(longest, tick))
	for _, legacy := range []string{
		strings.Repeat("s", 253),
		// Cut right after a dot, or a dot and a dash.
		strings.Repeat("s", validation.MaxScheduleNameLength()-1) + ".t",
		strings.Repeat("s", validation.MaxScheduleNameLength()-2) + ".-t",
	} {
		got := BackupName(legacy, tick)
		valid(got)
		if !strings.HasSuffix(got, "s-20261125101742") {
			t.Errorf("BackupName(%q) = %q, want the schedule's name cut before the dot", legacy, got)
		}
	}
}

// A schedule created while the controller was down gets one backup when it
// is back: the latest tick's, not the creation's and then the tick's.
func TestDueCreatedDuringDowntime(t *testing.T) {
	sched, _ := validation.ParseCron("0 */6 * * *")
	s := schedule("0 */6 * * *", at("2026-11-25T10:17:42Z"), nil)
	isDue, tick := due(s, sched, at("2026-11-25T23:30:00Z"))
	if !isDue || !tick.Equal(at("2026-11-25T18:00:00Z")) {
		t.Errorf("due %v at %s, want the 18:00 tick", isDue, tick)
	}
}

// NextBackup is what `ark schedule describe` shows: due is the
// controller's own rule, so the two cannot disagree.
func TestNextBackup(t *testing.T) {
	now := at("2024-05-01T12:00:00Z")
	// Backed up at 03:00 today: next is 03:00 tomorrow.
	if got := NextBackup(schedule("0 3 * * *", at("2024-04-01T00:00:00Z"), ptr(at("2024-05-01T03:00:00Z"))), now); !got.Equal(at("2024-05-02T03:00:00Z")) {
		t.Errorf("next = %v", got)
	}
	// Never backed up, just created: due at once (the creation's backup).
	if got := NextBackup(schedule("0 3 * * *", now.Add(-time.Second), nil), now); got.After(now) {
		t.Errorf("a new schedule's next = %v, want due now", got)
	}
	// Last backup two days ago: a catch-up backup is due now.
	if got := NextBackup(schedule("0 3 * * *", at("2024-04-01T00:00:00Z"), ptr(at("2024-04-29T03:00:00Z"))), now); got.After(now) {
		t.Errorf("missed ticks: next = %v, want due now", got)
	}
	paused := schedule("0 3 * * *", at("2024-04-01T00:00:00Z"), nil)
	paused.Spec.Paused = true
	if got := NextBackup(paused, now); !got.IsZero() {
		t.Errorf("paused: next = %v", got)
	}
	if got := NextBackup(schedule("61 * * * *", at("2024-04-01T00:00:00Z"), nil), now); !got.IsZero() {
		t.Errorf("invalid: next = %v", got)
	}
}
