package schedule

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clienttesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/record"
	clocktesting "k8s.io/utils/clock/testing"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
	"github.com/arkproject/ark/pkg/controllers/eventtest"
	"github.com/arkproject/ark/pkg/generated/clientset/versioned/fake"
	"github.com/arkproject/ark/pkg/generated/informers/externalversions"
	arkinformers "github.com/arkproject/ark/pkg/generated/informers/externalversions/ark/v1"
)

const testNS = "ark"

// created is when the test schedule was created; not on a whole second, as
// creation timestamps in memory need not be.
var created = at("2026-11-25T10:17:42.9Z")

var backupsGVR = arkv1.SchemeGroupVersion.WithResource("backups")

// harness is one replica of the controller: its own informers (not started:
// tests put objects in their indexers) and clock, over a clientset that
// replicas may share.
type harness struct {
	client    *fake.Clientset
	factory   externalversions.SharedInformerFactory
	schedules arkinformers.ScheduleInformer
	backups   arkinformers.BackupInformer
	clock     *clocktesting.FakeClock
	c         *Controller
	recorder  *record.FakeRecorder
}

func newReplica(client *fake.Clientset, now time.Time) *harness {
	h := &harness{client: client, clock: clocktesting.NewFakeClock(now)}
	h.factory = externalversions.NewSharedInformerFactory(client, 0)
	h.schedules = h.factory.Ark().V1().Schedules()
	h.backups = h.factory.Ark().V1().Backups()
	h.c = New(client, h.schedules, h.backups, h.clock)
	h.recorder = record.NewFakeRecorder(100)
	h.c.Recorder = h.recorder
	return h
}

// newHarness puts s in a new fake clientset and in the replica's informer.
func newHarness(t *testing.T, s *arkv1.Schedule, now time.Time) *harness {
	t.Helper()
	h := newReplica(fake.NewSimpleClientset(s.DeepCopy()), now)
	h.refresh(t, s.Name)
	return h
}

func newSchedule(expr string) *arkv1.Schedule {
	return &arkv1.Schedule{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: testNS, Name: "nightly",
			CreationTimestamp: metav1.NewTime(created),
			Labels:            map[string]string{"team": "shop"},
		},
		Spec: arkv1.ScheduleSpec{
			Schedule: expr,
			Template: arkv1.BackupSpec{
				IncludedNamespaces: []string{"shop"},
				ExcludedResources:  []string{"events"},
				TTL:                metav1.Duration{Duration: 72 * time.Hour},
				StorageLocation:    arkv1.DefaultStorageLocation,
			},
		},
	}
}

// refresh copies the schedule from the clientset into the informer, as a
// watch would.
func (h *harness) refresh(t *testing.T, name string) *arkv1.Schedule {
	t.Helper()
	s, err := h.client.ArkV1().Schedules(testNS).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get schedule %s: %v", name, err)
	}
	if err := h.schedules.Informer().GetIndexer().Update(s.DeepCopy()); err != nil {
		t.Fatal(err)
	}
	return s
}

// finish marks a backup Completed in the clientset and the informer.
func (h *harness) finish(t *testing.T, name string) {
	t.Helper()
	b, err := h.client.ArkV1().Backups(testNS).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get backup %s: %v", name, err)
	}
	b.Status.Phase = arkv1.BackupPhaseCompleted
	if err := h.client.Tracker().Update(backupsGVR, b, testNS); err != nil {
		t.Fatal(err)
	}
	if err := h.backups.Informer().GetIndexer().Update(b.DeepCopy()); err != nil {
		t.Fatal(err)
	}
}

func (h *harness) sync(t *testing.T) time.Duration {
	t.Helper()
	after, err := h.c.sync(context.Background(), testNS+"/nightly")
	if err != nil {
		t.Fatalf("sync: %v", err)
	}
	return after
}

// backupNames lists the backups in the clientset, sorted.
func backupNames(t *testing.T, client *fake.Clientset) []string {
	t.Helper()
	list, err := client.ArkV1().Backups(testNS).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, b := range list.Items {
		names = append(names, b.Name)
	}
	sort.Strings(names)
	return names
}

func creates(client *fake.Clientset) int {
	n := 0
	for _, a := range client.Actions() {
		if a.GetVerb() == "create" && a.GetResource() == backupsGVR {
			n++
		}
	}
	return n
}

func checkStatus(t *testing.T, s *arkv1.Schedule, tick time.Time) {
	t.Helper()
	if s.Status.Phase != arkv1.SchedulePhaseEnabled {
		t.Errorf("phase = %q, want Enabled", s.Status.Phase)
	}
	if s.Status.LastBackup == nil || !s.Status.LastBackup.Time.Equal(tick) {
		t.Errorf("lastBackup = %v, want %s", s.Status.LastBackup, tick.Format(time.RFC3339))
	}
	if want := BackupName("nightly", tick); s.Status.LastBackupName != want {
		t.Errorf("lastBackupName = %q, want %q", s.Status.LastBackupName, want)
	}
}

func equalNames(got []string, want ...string) bool {
	return fmt.Sprint(got) == fmt.Sprint(want)
}

func TestNewScheduleTakesFirstBackupAtOnce(t *testing.T) {
	now := at("2026-11-25T10:17:43.2Z")
	h := newHarness(t, newSchedule("0 */6 * * *"), now)

	after := h.sync(t)

	first := at("2026-11-25T10:17:42Z")
	name := "nightly-20261125101742"
	if got := backupNames(t, h.client); !equalNames(got, name) {
		t.Fatalf("backups = %v, want [%s]", got, name)
	}
	b, err := h.client.ArkV1().Backups(testNS).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if b.Labels[arkv1.LabelScheduleName] != "nightly" {
		t.Errorf("labels = %v, want %s=nightly", b.Labels, arkv1.LabelScheduleName)
	}
	if b.Labels["team"] != "shop" {
		t.Errorf("labels = %v, want the schedule's labels too", b.Labels)
	}
	if want := newSchedule("").Spec.Template; !apiequality.Semantic.DeepEqual(b.Spec, want) {
		t.Errorf("spec = %+v, want the template %+v", b.Spec, want)
	}
	checkStatus(t, h.refresh(t, "nightly"), first)
	if want := at("2026-11-25T12:00:00Z").Sub(now); after != want {
		t.Errorf("requeue after %s, want %s (to the next tick)", after, want)
	}
	eventtest.Expect(t, h.recorder, `Normal Enabled Schedule enabled: backups at "0 */6 * * *"`, "Normal BackupCreated Created backup "+name)
}

func TestBackupAtEachTick(t *testing.T) {
	h := newHarness(t, newSchedule("0 */6 * * *"), at("2026-11-25T10:17:43Z"))
	h.sync(t)
	h.refresh(t, "nightly")
	h.finish(t, "nightly-20261125101742")

	h.clock.SetTime(at("2026-11-25T11:59:59Z"))
	if after := h.sync(t); after != time.Second {
		t.Errorf("before the tick: requeue after %s, want 1s", after)
	}
	if got := backupNames(t, h.client); len(got) != 1 {
		t.Fatalf("before the tick: backups = %v, want only the first", got)
	}

	h.clock.SetTime(at("2026-11-25T12:00:00Z"))
	after := h.sync(t)
	if got := backupNames(t, h.client); !equalNames(got, "nightly-20261125101742", "nightly-20261125120000") {
		t.Fatalf("at the tick: backups = %v", got)
	}
	checkStatus(t, h.refresh(t, "nightly"), at("2026-11-25T12:00:00Z"))
	if after != 6*time.Hour {
		t.Errorf("at the tick: requeue after %s, want 6h", after)
	}

	// Late for the next tick: named for the tick, not for the time it runs.
	h.finish(t, "nightly-20261125120000")
	h.clock.SetTime(at("2026-11-25T18:00:07.5Z"))
	after = h.sync(t)
	if got := backupNames(t, h.client); len(got) != 3 || got[2] != "nightly-20261125180000" {
		t.Fatalf("after the tick: backups = %v", got)
	}
	if want := at("2026-11-26T00:00:00Z").Sub(h.clock.Now()); after != want {
		t.Errorf("after the tick: requeue after %s, want %s", after, want)
	}
}

func TestOneCatchUpBackupAfterDowntime(t *testing.T) {
	s := newSchedule("0 */6 * * *")
	s.Status.Phase = arkv1.SchedulePhaseEnabled
	last := metav1.NewTime(at("2026-11-25T12:00:00Z"))
	s.Status.LastBackup, s.Status.LastBackupName = &last, "nightly-20261125120000"
	// Down from just after 12:00 on the 25th to 03:10 on the 27th: seven ticks missed.
	now := at("2026-11-27T03:10:00Z")
	h := newHarness(t, s, now)

	after := h.sync(t)

	if got := backupNames(t, h.client); !equalNames(got, "nightly-20261127000000") {
		t.Fatalf("backups = %v, want one, for the latest missed tick", got)
	}
	checkStatus(t, h.refresh(t, "nightly"), at("2026-11-27T00:00:00Z"))
	if want := at("2026-11-27T06:00:00Z").Sub(now); after != want {
		t.Errorf("requeue after %s, want %s", after, want)
	}

	h.finish(t, "nightly-20261127000000")
	h.sync(t)
	if got := backupNames(t, h.client); len(got) != 1 {
		t.Errorf("after catching up: backups = %v, want still one", got)
	}
}

func TestRunningBackupBlocksTheNext(t *testing.T) {
	for _, phase := range []arkv1.BackupPhase{"", arkv1.BackupPhaseNew, arkv1.BackupPhaseInProgress} {
		t.Run(fmt.Sprintf("phase %q", phase), func(t *testing.T) {
			h := newHarness(t, newSchedule("0 */6 * * *"), at("2026-11-25T10:17:43Z"))
			running := &arkv1.Backup{
				ObjectMeta: metav1.ObjectMeta{Namespace: testNS, Name: "nightly-manual", Labels: map[string]string{arkv1.LabelScheduleName: "nightly"}},
				Status:     arkv1.BackupStatus{Phase: phase},
			}
			if err := h.backups.Informer().GetIndexer().Add(running); err != nil {
				t.Fatal(err)
			}

			if after := h.sync(t); after != busyRetry {
				t.Errorf("requeue after %s, want busyRetry (%s)", after, busyRetry)
			}
			if n := creates(h.client); n != 0 {
				t.Errorf("%d backups created, want none", n)
			}
			if s := h.refresh(t, "nightly"); s.Status.LastBackup != nil || s.Status.LastBackupName != "" {
				t.Errorf("status = %+v, want no last backup", s.Status)
			}
		})
	}
}

// Finished backups of the schedule, and running backups of other schedules
// or of none, do not block it.
func TestOtherBackupsDoNotBlock(t *testing.T) {
	h := newHarness(t, newSchedule("0 */6 * * *"), at("2026-11-25T10:17:43Z"))
	for _, b := range []*arkv1.Backup{
		{ObjectMeta: metav1.ObjectMeta{Namespace: testNS, Name: "weekly-1", Labels: map[string]string{arkv1.LabelScheduleName: "weekly"}}, Status: arkv1.BackupStatus{Phase: arkv1.BackupPhaseInProgress}},
		{ObjectMeta: metav1.ObjectMeta{Namespace: testNS, Name: "manual"}, Status: arkv1.BackupStatus{Phase: arkv1.BackupPhaseNew}},
		{ObjectMeta: metav1.ObjectMeta{Namespace: "elsewhere", Name: "nightly-1", Labels: map[string]string{arkv1.LabelScheduleName: "nightly"}}, Status: arkv1.BackupStatus{Phase: arkv1.BackupPhaseInProgress}},
		{ObjectMeta: metav1.ObjectMeta{Namespace: testNS, Name: "nightly-1", Labels: map[string]string{arkv1.LabelScheduleName: "nightly"}}, Status: arkv1.BackupStatus{Phase: arkv1.BackupPhaseCompleted}},
		{ObjectMeta: metav1.ObjectMeta{Namespace: testNS, Name: "nightly-2", Labels: map[string]string{arkv1.LabelScheduleName: "nightly"}}, Status: arkv1.BackupStatus{Phase: arkv1.BackupPhaseFailed}},
		{ObjectMeta: metav1.ObjectMeta{Namespace: testNS, Name: "nightly-3", Labels: map[string]string{arkv1.LabelScheduleName: "nightly"}}, Status: arkv1.BackupStatus{Phase: arkv1.BackupPhaseDeleting}},
	} {
		if err := h.backups.Informer().GetIndexer().Add(b); err != nil {
			t.Fatal(err)
		}
	}

	h.sync(t)

	if got := backupNames(t, h.client); !equalNames(got, "nightly-20261125101742") {
		t.Errorf("backups = %v, want the first scheduled backup", got)
	}
}

func TestPausedScheduleCreatesNothing(t *testing.T) {
	s := newSchedule("0 */6 * * *")
	s.Spec.Paused = true
	h := newHarness(t, s, at("2026-11-25T10:17:43Z"))

	if after := h.sync(t); after != 0 {
		t.Errorf("requeue after %s, want none (unpausing queues it)", after)
	}
	h.clock.SetTime(at("2026-11-26T10:00:00Z"))
	h.refresh(t, "nightly")
	h.sync(t)

	if n := creates(h.client); n != 0 {
		t.Errorf("%d backups created, want none", n)
	}
	if got := h.refresh(t, "nightly"); got.Status.LastBackup != nil {
		t.Errorf("lastBackup = %v, want none", got.Status.LastBackup)
	}
}

func TestInvalidCronFailsValidation(t *testing.T) {
	for _, expr := range []string{"every tuesday", "61 * * * *", "CRON_TZ=UTC", "@every 1ms"} {
		t.Run(expr, func(t *testing.T) {
			s := newSchedule(expr)
			s.Status.Phase = arkv1.SchedulePhaseEnabled // it was valid once
			h := newHarness(t, s, at("2026-11-25T10:17:43Z"))

			if after := h.sync(t); after != 0 {
				t.Errorf("requeue after %s, want none", after)
			}

			got := h.refresh(t, "nightly")
			if got.Status.Phase != arkv1.SchedulePhaseFailedValidation {
				t.Errorf("phase = %q, want FailedValidation", got.Status.Phase)
			}
			if len(got.Status.ValidationErrors) != 1 || !strings.HasPrefix(got.Status.ValidationErrors[0], "spec.schedule: invalid cron expression") {
				t.Errorf("validationErrors = %q, want one about spec.schedule", got.Status.ValidationErrors)
			}
			if n := creates(h.client); n != 0 {
				t.Errorf("%d backups created, want none", n)
			}
			eventtest.Expect(t, h.recorder, "Warning FailedValidation Schedule takes no backups: spec.schedule: invalid cron expression")
			// Synced again, it is still invalid: no second event.
			h.sync(t)
			eventtest.Expect(t, h.recorder)
		})
	}
}

// A schedule fixed after failing validation is enabled again, due or not.
func TestFixedScheduleIsEnabledAgain(t *testing.T) {
	t.Run("due", func(t *testing.T) {
		s := newSchedule("0 */6 * * *")
		s.Status.Phase = arkv1.SchedulePhaseFailedValidation
		s.Status.ValidationErrors = []string{"spec.schedule: invalid cron expression: bad"}
		h := newHarness(t, s, at("2026-11-25T10:17:43Z"))

		h.sync(t)

		got := h.refresh(t, "nightly")
		checkStatus(t, got, at("2026-11-25T10:17:42Z"))
		if len(got.Status.ValidationErrors) != 0 {
			t.Errorf("validationErrors = %q, want none", got.Status.ValidationErrors)
		}
	})
	t.Run("not due", func(t *testing.T) {
		s := newSchedule("0 */6 * * *")
		last := metav1.NewTime(at("2026-11-25T12:00:00Z"))
		s.Status = arkv1.ScheduleStatus{
			Phase:      arkv1.SchedulePhaseFailedValidation,
			LastBackup: &last, LastBackupName: "nightly-20261125120000",
			ValidationErrors: []string{"spec.schedule: invalid cron expression: bad"},
		}
		h := newHarness(t, s, at("2026-11-25T13:00:00Z"))

		if after := h.sync(t); after != 5*time.Hour {
			t.Errorf("requeue after %s, want 5h", after)
		}

		got := h.refresh(t, "nightly")
		checkStatus(t, got, at("2026-11-25T12:00:00Z"))
		if len(got.Status.ValidationErrors) != 0 {
			t.Errorf("validationErrors = %q, want none", got.Status.ValidationErrors)
		}
		if n := creates(h.client); n != 0 {
			t.Errorf("%d backups created, want none", n)
		}
		eventtest.Expect(t, h.recorder, "Normal Enabled Schedule enabled")
	})
}

// Another replica created the backup first: this one's create fails with
// AlreadyExists, which is no error, and it still records the backup.
func TestBackupAlreadyCreatedByAnotherReplica(t *testing.T) {
	h := newHarness(t, newSchedule("0 */6 * * *"), at("2026-11-25T10:17:43Z"))
	theirs := &arkv1.Backup{ObjectMeta: metav1.ObjectMeta{
		Namespace: testNS, Name: "nightly-20261125101742",
		Labels:      map[string]string{arkv1.LabelScheduleName: "nightly"},
		Annotations: map[string]string{"created-by": "other replica"},
	}}
	// In the clientset only: this replica's informer has not seen it yet.
	if err := h.client.Tracker().Add(theirs); err != nil {
		t.Fatal(err)
	}

	after, err := h.c.sync(context.Background(), testNS+"/nightly")
	if err != nil {
		t.Fatalf("sync: %v", err)
	}

	if n := creates(h.client); n != 1 {
		t.Errorf("%d creates, want 1 (refused)", n)
	}
	if got := backupNames(t, h.client); !equalNames(got, "nightly-20261125101742") {
		t.Errorf("backups = %v", got)
	}
	b, err := h.client.ArkV1().Backups(testNS).Get(context.Background(), "nightly-20261125101742", metav1.GetOptions{})
	if err != nil || b.Annotations["created-by"] != "other replica" {
		t.Errorf("the other replica's backup was replaced: %+v, %v", b, err)
	}
	checkStatus(t, h.refresh(t, "nightly"), at("2026-11-25T10:17:42Z"))
	if want := at("2026-11-25T12:00:00Z").Sub(h.clock.Now()); after != want {
		t.Errorf("requeue after %s, want %s", after, want)
	}
}

func TestCreateErrorIsReturned(t *testing.T) {
	h := newHarness(t, newSchedule("0 */6 * * *"), at("2026-11-25T10:17:43Z"))
	h.client.PrependReactor("create", "backups", func(clienttesting.Action) (bool, runtime.Object, error) {
		return true, nil, fmt.Errorf("etcd is sad")
	})

	if _, err := h.c.sync(context.Background(), testNS+"/nightly"); err == nil || !strings.Contains(err.Error(), "etcd is sad") {
		t.Errorf("sync = %v, want the create error", err)
	}
	if s := h.refresh(t, "nightly"); s.Status.LastBackup != nil {
		t.Errorf("lastBackup = %v recorded for a backup not created", s.Status.LastBackup)
	}
}

// Two replicas over one API server, syncing the same schedule at the same
// time (their clocks a little apart), take one backup per tick between them.
func TestTwoReplicasTakeOneBackupPerTick(t *testing.T) {
	s := newSchedule("0 */6 * * *")
	client := fake.NewSimpleClientset(s.DeepCopy())
	a := newReplica(client, at("2026-11-25T10:17:43.1Z"))
	b := newReplica(client, at("2026-11-25T10:17:44.8Z"))
	for _, r := range []*harness{a, b} {
		r.refresh(t, "nightly")
	}

	a.sync(t)
	b.sync(t) // its informers have seen neither the backup nor the status

	if got := backupNames(t, client); !equalNames(got, "nightly-20261125101742") {
		t.Fatalf("first round: backups = %v, want one", got)
	}
	if n := creates(client); n != 2 {
		t.Errorf("first round: %d creates, want 2 (one refused)", n)
	}
	checkStatus(t, a.refresh(t, "nightly"), at("2026-11-25T10:17:42Z"))

	for _, r := range []*harness{a, b} {
		r.refresh(t, "nightly")
		r.finish(t, "nightly-20261125101742")
	}
	a.clock.SetTime(at("2026-11-25T12:00:00.2Z"))
	b.clock.SetTime(at("2026-11-25T12:00:01.3Z"))
	b.sync(t)
	a.sync(t)

	if got := backupNames(t, client); !equalNames(got, "nightly-20261125101742", "nightly-20261125120000") {
		t.Errorf("second round: backups = %v, want one more, for 12:00", got)
	}
	checkStatus(t, b.refresh(t, "nightly"), at("2026-11-25T12:00:00Z"))
}

// Run, end to end over running informers: a new schedule gets its first backup.
func TestRunTakesFirstBackup(t *testing.T) {
	client := fake.NewSimpleClientset(newSchedule("0 */6 * * *"))
	h := newReplica(client, at("2026-11-25T10:17:43Z"))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	h.factory.Start(ctx.Done())
	go func() {
		defer close(done)
		h.c.Run(ctx, 1)
	}()
	defer func() {
		cancel()
		<-done
		h.factory.Shutdown()
	}()

	deadline := time.Now().Add(10 * time.Second)
	for len(backupNames(t, client)) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no backup created")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got := backupNames(t, client); !equalNames(got, "nightly-20261125101742") {
		t.Errorf("backups = %v", got)
	}
}

// Someone else's backup has the tick's name (made by a user of the
// namespace, labelled as the schedule's): the run takes no backup and says
// so in status and in an event, instead of taking theirs for its own.
func TestTakenBackupNameFailsTheRunVisibly(t *testing.T) {
	s := newSchedule("0 */6 * * *")
	s.Spec.Template.Requester = &arkv1.UserInfo{Username: "admin"}
	h := newHarness(t, s, at("2026-11-25T10:17:43Z"))
	squatter := &arkv1.Backup{
		ObjectMeta: metav1.ObjectMeta{Namespace: testNS, Name: "nightly-20261125101742", Labels: map[string]string{arkv1.LabelScheduleName: "nightly"}},
		Spec:       arkv1.BackupSpec{Requester: &arkv1.UserInfo{Username: "mallory"}},
	}
	if err := h.client.Tracker().Add(squatter); err != nil {
		t.Fatal(err)
	}
	if _, err := h.c.sync(context.Background(), testNS+"/nightly"); err != nil {
		t.Fatalf("sync: %v", err)
	}
	got := h.refresh(t, "nightly")
	f := got.Status.LastFailure
	if f == nil || f.BackupName != "nightly-20261125101742" || !strings.Contains(f.Reason, "not this schedule's") || !f.Time.Time.Equal(at("2026-11-25T10:17:42Z")) {
		t.Errorf("lastFailure = %+v", f)
	}
	if got.Status.LastBackupName == "nightly-20261125101742" {
		t.Error("the schedule records mallory's backup as its own")
	}
	if got.Status.LastBackup == nil || !got.Status.LastBackup.Time.Equal(at("2026-11-25T10:17:42Z")) {
		t.Errorf("the run is not consumed: lastBackup = %v", got.Status.LastBackup)
	}
	eventtest.Expect(t, h.recorder, "Normal Enabled", "Warning BackupNameTaken backup nightly-20261125101742 was not taken")
}

// The schedule metrics' states: the period of an enabled schedule, none for
// a paused one, and the completion of the newest Completed backup of each
// schedule, whatever its other backups and other schedules' backups say.
func TestStatesForMetrics(t *testing.T) {
	now := at("2026-11-26T12:00:00Z")
	h := newHarness(t, newSchedule("0 */6 * * *"), now)
	paused := newSchedule("@every 1h")
	paused.Name, paused.Spec.Paused = "paused", true
	if err := h.schedules.Informer().GetIndexer().Add(paused); err != nil {
		t.Fatal(err)
	}
	backup := func(name, schedule string, phase arkv1.BackupPhase, completed time.Time) {
		b := &arkv1.Backup{ObjectMeta: metav1.ObjectMeta{Namespace: testNS, Name: name, Labels: map[string]string{arkv1.LabelScheduleName: schedule}}}
		b.Status.Phase = phase
		if !completed.IsZero() {
			b.Status.CompletionTimestamp = &metav1.Time{Time: completed}
		}
		if err := h.backups.Informer().GetIndexer().Add(b); err != nil {
			t.Fatal(err)
		}
	}
	backup("nightly-1", "nightly", arkv1.BackupPhaseCompleted, at("2026-11-26T00:01:00Z"))
	backup("nightly-2", "nightly", arkv1.BackupPhaseCompleted, at("2026-11-26T06:02:00Z"))
	backup("nightly-3", "nightly", arkv1.BackupPhaseFailed, at("2026-11-26T12:00:00Z"))
	backup("other-1", "other", arkv1.BackupPhaseCompleted, at("2026-11-26T11:00:00Z"))

	got := map[string]string{}
	for _, s := range h.c.States() {
		got[s.Name] = fmt.Sprintf("%s period=%s created=%s last=%s", s.Namespace, s.Period, s.Created.UTC().Format(time.RFC3339), s.LastSuccess.UTC().Format(time.RFC3339))
	}
	want := map[string]string{
		"nightly": "ark period=6h0m0s created=2026-11-25T10:17:42Z last=2026-11-26T06:02:00Z",
		"paused":  "ark period=0s created=2026-11-25T10:17:42Z last=0001-01-01T00:00:00Z",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("States() = %v, want %v", got, want)
	}
}
