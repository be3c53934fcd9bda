package restore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	k8stypes "k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	clienttesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/record"
	clocktesting "k8s.io/utils/clock/testing"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
	"github.com/arkproject/ark/pkg/controllers/eventtest"
	"github.com/arkproject/ark/pkg/generated/clientset/versioned/fake"
	"github.com/arkproject/ark/pkg/generated/informers/externalversions"
	arkinformers "github.com/arkproject/ark/pkg/generated/informers/externalversions/ark/v1"
	restoreengine "github.com/arkproject/ark/pkg/restore"
)

const (
	testNS  = "team-a"
	otherNS = "team-b"
)

// t0 is whole seconds, so timestamps survive any serialization unchanged.
var t0 = time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)

// progressStep is one progress call of the fake engine, after advancing the
// fake clock by advance.
type progressStep struct {
	advance     time.Duration
	total, done int
}

// engineCall is what one Run of the fake engine was given.
type engineCall struct {
	restore *arkv1.Restore
	backup  string
}

// fakeEngine is a restore engine that records what it was given, reports
// progress as scripted and returns a configured result.
type fakeEngine struct {
	clock *clocktesting.FakeClock
	steps []progressStep
	out   restoreengine.Outcome
	err   error
	// release, when set, makes Run wait until it is closed or ctx ends; in
	// the latter case Run returns an error wrapping ctx.Err().
	release chan struct{}
	// started is closed when Run is first called, if set.
	started chan struct{}
	// during, if set, runs inside Run after the progress steps.
	during func(ctx context.Context, progress restoreengine.ProgressFunc)

	mu    sync.Mutex
	calls []engineCall
}

func (e *fakeEngine) Run(ctx context.Context, r *arkv1.Restore, b *arkv1.Backup, progress restoreengine.ProgressFunc) (restoreengine.Outcome, error) {
	backup := b.Name
	e.mu.Lock()
	e.calls = append(e.calls, engineCall{restore: r.DeepCopy(), backup: backup})
	first := len(e.calls) == 1
	e.mu.Unlock()
	if first && e.started != nil {
		close(e.started)
	}
	for _, s := range e.steps {
		e.clock.Step(s.advance)
		progress(s.total, s.done)
	}
	if e.during != nil {
		e.during(ctx, progress)
	}
	if e.release != nil {
		select {
		case <-e.release:
		case <-ctx.Done():
			return restoreengine.Outcome{Items: 3}, fmt.Errorf("restoring deployments.apps: %w", ctx.Err())
		}
	}
	return e.out, e.err
}

func (e *fakeEngine) runs() []engineCall {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]engineCall(nil), e.calls...)
}

type harness struct {
	client   *fake.Clientset
	factory  externalversions.SharedInformerFactory
	informer arkinformers.RestoreInformer
	clock    *clocktesting.FakeClock
	engine   *fakeEngine
	c        *Controller
	recorder *record.FakeRecorder

	mu         sync.Mutex
	newEngines int
}

// newHarness builds a controller over a fake clientset holding objs
// (restores and backups). The informer is not started: the restores among
// objs are put in its indexer, and tests add more with add.
func newHarness(t *testing.T, objs ...runtime.Object) *harness {
	t.Helper()
	ros := make([]runtime.Object, 0, len(objs))
	for _, o := range objs {
		ros = append(ros, o.DeepCopyObject())
	}
	h := &harness{client: fake.NewSimpleClientset(ros...), clock: clocktesting.NewFakeClock(t0)}
	h.engine = &fakeEngine{clock: h.clock}
	h.factory = externalversions.NewSharedInformerFactory(h.client, 0)
	h.informer = h.factory.Ark().V1().Restores()
	h.c = New(h.client, h.informer, func() Engine {
		h.mu.Lock()
		h.newEngines++
		h.mu.Unlock()
		return h.engine
	})
	h.c.clock = h.clock
	h.c.ProgressInterval = time.Second
	h.recorder = record.NewFakeRecorder(100)
	h.c.Recorder = h.recorder
	for _, o := range objs {
		if r, ok := o.(*arkv1.Restore); ok {
			h.add(t, r)
		}
	}
	return h
}

func (h *harness) add(t *testing.T, r *arkv1.Restore) {
	t.Helper()
	if err := h.informer.Informer().GetIndexer().Add(r.DeepCopy()); err != nil {
		t.Fatal(err)
	}
}

func (h *harness) engineCount() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.newEngines
}

// statusUpdates returns the objects of every restores/status update, in order.
func (h *harness) statusUpdates() []*arkv1.Restore {
	var out []*arkv1.Restore
	for _, a := range h.client.Actions() {
		u, ok := a.(clienttesting.UpdateAction)
		if !ok || a.GetSubresource() != "status" || a.GetResource().Resource != "restores" {
			continue
		}
		out = append(out, u.GetObject().(*arkv1.Restore).DeepCopy())
	}
	return out
}

// backupWrites returns the verbs of every write to backups.
func (h *harness) backupWrites() []string {
	var out []string
	for _, a := range h.client.Actions() {
		if a.GetResource().Resource != "backups" {
			continue
		}
		switch a.GetVerb() {
		case "get", "list", "watch":
		default:
			out = append(out, a.GetVerb())
		}
	}
	return out
}

func (h *harness) getIn(t *testing.T, ns, name string) *arkv1.Restore {
	t.Helper()
	r, err := h.client.ArkV1().Restores(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get %s/%s: %v", ns, name, err)
	}
	return r
}

func (h *harness) get(t *testing.T, name string) *arkv1.Restore {
	t.Helper()
	return h.getIn(t, testNS, name)
}

func newRestore(name string, phase arkv1.RestorePhase, backupName string) *arkv1.Restore {
	return &arkv1.Restore{
		ObjectMeta: metav1.ObjectMeta{Namespace: testNS, Name: name, UID: k8stypes.UID("uid-" + name)},
		Spec: arkv1.RestoreSpec{
			BackupName:             backupName,
			IncludedNamespaces:     []string{"app"},
			ExistingResourcePolicy: arkv1.ExistingResourcePolicyUpdate,
			Requester:              &arkv1.UserInfo{Username: "alice"},
		},
		Status: arkv1.RestoreStatus{Phase: phase},
	}
}

func newScheduleRestore(name, schedule string) *arkv1.Restore {
	r := newRestore(name, arkv1.RestorePhaseNew, "")
	r.Spec.ScheduleName = schedule
	return r
}

func newBackup(name string, phase arkv1.BackupPhase) *arkv1.Backup {
	return &arkv1.Backup{
		ObjectMeta: metav1.ObjectMeta{Namespace: testNS, Name: name, UID: k8stypes.UID("uid-" + name),
			CreationTimestamp: metav1.NewTime(t0.Add(-time.Hour))},
		Spec: arkv1.BackupSpec{
			IncludedNamespaces: []string{"app"},
			StorageLocation:    arkv1.DefaultStorageLocation,
			Requester:          &arkv1.UserInfo{Username: "alice"},
		},
		Status: arkv1.BackupStatus{Phase: phase},
	}
}

// scheduled is a backup of schedule in ns, created age before t0.
func scheduled(ns, name, schedule string, phase arkv1.BackupPhase, age time.Duration) *arkv1.Backup {
	b := newBackup(name, phase)
	b.Namespace = ns
	b.CreationTimestamp = metav1.NewTime(t0.Add(-age))
	if schedule != "" {
		b.Labels = map[string]string{arkv1.LabelScheduleName: schedule}
	}
	return b
}

func timeEqual(got *metav1.Time, want time.Time) bool {
	return got != nil && got.Time.Equal(want)
}

func progressIs(p *arkv1.Progress, total, done int) bool {
	return p != nil && p.TotalItems == total && p.ItemsDone == done
}

func key(name string) string { return testNS + "/" + name }

func TestSyncClaimsAndCompletesNewRestore(t *testing.T) {
	for _, phase := range []arkv1.RestorePhase{"", arkv1.RestorePhaseNew} {
		for _, backupPhase := range []arkv1.BackupPhase{arkv1.BackupPhaseCompleted, arkv1.BackupPhasePartiallyFailed} {
			t.Run(fmt.Sprintf("restore %q of %s backup", phase, backupPhase), func(t *testing.T) {
				h := newHarness(t, newRestore("r1", phase, "nightly-1"), newBackup("nightly-1", backupPhase))
				h.engine.steps = []progressStep{{0, 1, 0}, {0, 2, 1}}
				h.engine.out = restoreengine.Outcome{Items: 7, Summary: restoreengine.Summary{Created: 5, Skipped: 2, Warnings: 2}}
				h.engine.during = func(context.Context, restoreengine.ProgressFunc) { h.clock.Step(90 * time.Millisecond) }

				if err := h.c.sync(context.Background(), key("r1")); err != nil {
					t.Fatalf("sync: %v", err)
				}

				updates := h.statusUpdates()
				if len(updates) != 2 {
					t.Fatalf("status updates = %d, want 2 (claim, final): %+v", len(updates), updates)
				}
				claim := updates[0]
				if claim.Name != "r1" || claim.Status.Phase != arkv1.RestorePhaseInProgress {
					t.Errorf("claim = %s phase %q, want r1 InProgress", claim.Name, claim.Status.Phase)
				}
				if !timeEqual(claim.Status.StartTimestamp, t0) {
					t.Errorf("claim startTimestamp = %v, want %v", claim.Status.StartTimestamp, t0)
				}
				if claim.Status.BackupName != "nightly-1" {
					t.Errorf("claim status.backupName = %q, want nightly-1", claim.Status.BackupName)
				}
				if !progressIs(claim.Status.Progress, 0, 0) {
					t.Errorf("claim progress = %+v, want {0 0}", claim.Status.Progress)
				}
				if claim.Status.CompletionTimestamp != nil || claim.Status.FailureReason != "" || len(claim.Status.ValidationErrors) != 0 {
					t.Errorf("claim status = %+v, want no completion, failure or validation errors", claim.Status)
				}

				runs := h.engine.runs()
				if len(runs) != 1 || h.engineCount() != 1 {
					t.Fatalf("engine runs = %d (engines made %d), want 1", len(runs), h.engineCount())
				}
				got := runs[0]
				if got.backup != "nightly-1" {
					t.Errorf("engine got backup %q, want nightly-1", got.backup)
				}
				if got.restore.Name != "r1" || got.restore.Namespace != testNS || got.restore.Spec.Requester == nil ||
					got.restore.Spec.Requester.Username != "alice" || got.restore.Spec.ExistingResourcePolicy != arkv1.ExistingResourcePolicyUpdate {
					t.Errorf("engine got restore %s/%s spec %+v", got.restore.Namespace, got.restore.Name, got.restore.Spec)
				}
				if s := got.restore.Status; s.Phase != arkv1.RestorePhaseInProgress || !timeEqual(s.StartTimestamp, t0) ||
					s.BackupName != "nightly-1" || !progressIs(s.Progress, 0, 0) {
					t.Errorf("engine got status %+v, want the claimed InProgress status", s)
				}

				final := h.get(t, "r1").Status
				end := t0.Add(90 * time.Millisecond)
				if final.Phase != arkv1.RestorePhaseCompleted {
					t.Errorf("final phase = %q, want Completed", final.Phase)
				}
				if !timeEqual(final.CompletionTimestamp, end) {
					t.Errorf("final completionTimestamp = %v, want %v", final.CompletionTimestamp, end)
				}
				if !timeEqual(final.StartTimestamp, t0) || final.BackupName != "nightly-1" {
					t.Errorf("final status lost claim fields: %+v", final)
				}
				if final.Warnings != 2 || final.Errors != 0 {
					t.Errorf("final warnings/errors = %d/%d, want 2/0", final.Warnings, final.Errors)
				}
				if !progressIs(final.Progress, 7, 7) {
					t.Errorf("final progress = %+v, want {7 7}", final.Progress)
				}
				if final.FailureReason != "" {
					t.Errorf("final failureReason = %q, want empty", final.FailureReason)
				}
				if w := h.backupWrites(); len(w) != 0 {
					t.Errorf("writes to backups = %v, want none", w)
				}
			})
		}
	}
}

func TestSyncOutcomes(t *testing.T) {
	for _, tc := range []struct {
		name       string
		out        restoreengine.Outcome
		err        error
		wantPhase  arkv1.RestorePhase
		wantReason string
		wantEvent  string
		preview    bool
	}{
		{"warnings only", restoreengine.Outcome{Items: 4, Summary: restoreengine.Summary{Skipped: 3, Warnings: 3}}, nil, arkv1.RestorePhaseCompleted, "",
			"Normal Completed Restored backup b1 in 0s: 0 created, 0 updated, 3 skipped, 3 warnings", false},
		{"one item error", restoreengine.Outcome{Items: 9, Summary: restoreengine.Summary{Created: 8, Failed: 1, Errors: 1}}, nil, arkv1.RestorePhasePartiallyFailed, "",
			"Warning PartiallyFailed Restored backup b1 in 0s: 8 created, 0 updated, 0 skipped, 1 failed (1 errors, 0 warnings): `ark restore describe r1` says which", false},
		{"created with a data error", restoreengine.Outcome{Items: 2, Summary: restoreengine.Summary{Created: 2, Errors: 1}}, nil, arkv1.RestorePhasePartiallyFailed, "",
			"Warning PartiallyFailed Restored backup b1 in 0s: 2 created, 0 updated, 0 skipped, 0 failed (1 errors, 0 warnings)", false},
		{"item errors and warnings", restoreengine.Outcome{Items: 9, Summary: restoreengine.Summary{Failed: 2, Warnings: 1, Errors: 2}}, nil, arkv1.RestorePhasePartiallyFailed, "",
			"Warning PartiallyFailed Restored backup b1 in 0s: 0 created, 0 updated, 0 skipped, 2 failed (2 errors, 1 warnings)", false},
		{"engine error", restoreengine.Outcome{Items: 5, Summary: restoreengine.Summary{Errors: 1}}, errors.New("reading the backup: checksum mismatch"), arkv1.RestorePhaseFailed, "reading the backup: checksum mismatch",
			"Warning Failed Restore of backup b1 failed after 0s: reading the backup: checksum mismatch", false},
		{"engine error, nothing done", restoreengine.Outcome{}, errors.New("the restore records no requester, so there is no one whose rights it could use"), arkv1.RestorePhaseFailed, "the restore records no requester, so there is no one whose rights it could use",
			"Warning Failed Restore of backup b1 failed after 0s: the restore records no requester", false},
		{"preview with refusals", restoreengine.Outcome{Items: 6, Summary: restoreengine.Summary{Warnings: 1, Preview: &arkv1.RestorePreview{WouldCreate: 3, WouldConflict: 1, WouldBeDenied: 2}}}, nil, arkv1.RestorePhasePreviewed, "",
			"Normal Previewed Previewed a restore of backup b1 in 0s, changing nothing: 3 would be created, 0 updated, 0 skipped, 1 would conflict, 2 would be denied, 0 would fail: `ark restore results r1` says which", true},
		{"preview that could not run", restoreengine.Outcome{}, errors.New("reading the backup: checksum mismatch"), arkv1.RestorePhaseFailed, "reading the backup: checksum mismatch",
			"Warning Failed Restore of backup b1 failed after 0s: reading the backup: checksum mismatch", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRestore("r1", arkv1.RestorePhaseNew, "b1")
			r.Spec.Preview = tc.preview
			h := newHarness(t, r, newBackup("b1", arkv1.BackupPhaseCompleted))
			h.engine.out, h.engine.err = tc.out, tc.err
			if err := h.c.sync(context.Background(), key("r1")); err != nil {
				t.Fatalf("sync: %v", err)
			}
			if n := len(h.engine.runs()); n != 1 {
				t.Fatalf("engine runs = %d, want 1", n)
			}
			s := h.get(t, "r1").Status
			if s.Phase != tc.wantPhase {
				t.Errorf("phase = %q, want %q", s.Phase, tc.wantPhase)
			}
			if s.FailureReason != tc.wantReason {
				t.Errorf("failureReason = %q, want %q", s.FailureReason, tc.wantReason)
			}
			switch {
			case tc.wantPhase == arkv1.RestorePhasePreviewed && (s.Preview == nil || *s.Preview != *tc.out.Preview):
				t.Errorf("status.preview = %+v, want %+v", s.Preview, tc.out.Preview)
			case tc.wantPhase != arkv1.RestorePhasePreviewed && s.Preview != nil:
				t.Errorf("status.preview = %+v on a restore that did not finish a preview", s.Preview)
			}
			if s.Warnings != tc.out.Warnings || s.Errors != tc.out.Errors {
				t.Errorf("warnings/errors = %d/%d, want %d/%d", s.Warnings, s.Errors, tc.out.Warnings, tc.out.Errors)
			}
			if !progressIs(s.Progress, tc.out.Items, tc.out.Items) {
				t.Errorf("progress = %+v, want {%d %d}", s.Progress, tc.out.Items, tc.out.Items)
			}
			if !timeEqual(s.CompletionTimestamp, t0) || !timeEqual(s.StartTimestamp, t0) || s.BackupName != "b1" {
				t.Errorf("timestamps/backupName = %v/%v/%q, want %v/%v/b1", s.StartTimestamp, s.CompletionTimestamp, s.BackupName, t0, t0)
			}
			if n := len(h.statusUpdates()); n != 2 {
				t.Errorf("status updates = %d, want 2 (claim, final)", n)
			}
			eventtest.Expect(t, h.recorder, "Normal Started Restore of backup b1 started", tc.wantEvent)
		})
	}
}

func TestSyncServerStoppingLeavesRestoreInProgress(t *testing.T) {
	h := newHarness(t, newRestore("r1", arkv1.RestorePhaseNew, "b1"), newBackup("b1", arkv1.BackupPhaseCompleted))
	h.engine.release = make(chan struct{}) // never released
	h.engine.started = make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- h.c.sync(ctx, key("r1")) }()
	select {
	case <-h.engine.started:
	case <-time.After(10 * time.Second):
		t.Fatal("engine not started")
	}
	cancel()
	select {
	case err := <-errc:
		if err != nil {
			t.Errorf("sync = %v, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("sync did not return after cancel")
	}
	updates := h.statusUpdates()
	if len(updates) != 1 || updates[0].Status.Phase != arkv1.RestorePhaseInProgress {
		t.Errorf("status updates = %d, want only the claim", len(updates))
	}
	if s := h.get(t, "r1").Status; s.Phase != arkv1.RestorePhaseInProgress || s.FailureReason != "" || s.CompletionTimestamp != nil || !progressIs(s.Progress, 0, 0) {
		t.Errorf("status = %+v, want still InProgress {0 0} with no failure", s)
	}

	// The next leader marks it interrupted.
	h.add(t, h.get(t, "r1"))
	h.c.failInterrupted(context.Background())
	if s := h.get(t, "r1").Status; s.Phase != arkv1.RestorePhaseFailed || s.FailureReason != InterruptedReason {
		t.Errorf("after failInterrupted: phase %q reason %q", s.Phase, s.FailureReason)
	}
}

func TestSyncScheduleNamePicksNewestCompletedBackup(t *testing.T) {
	backups := []*arkv1.Backup{
		scheduled(testNS, "daily-3h", "daily", arkv1.BackupPhaseCompleted, 3*time.Hour),
		scheduled(testNS, "daily-2h", "daily", arkv1.BackupPhaseCompleted, 2*time.Hour), // the one
		scheduled(testNS, "daily-4h", "daily", arkv1.BackupPhaseCompleted, 4*time.Hour),
		scheduled(testNS, "daily-1h", "daily", arkv1.BackupPhaseInProgress, time.Hour),
		scheduled(testNS, "daily-30m", "daily", arkv1.BackupPhaseFailed, 30*time.Minute),
		scheduled(testNS, "daily-20m", "daily", arkv1.BackupPhaseNew, 20*time.Minute),
		scheduled(testNS, "daily-15m", "daily", arkv1.BackupPhaseFailedValidation, 15*time.Minute),
		scheduled(testNS, "daily-10m", "daily", arkv1.BackupPhaseDeleting, 10*time.Minute),
		scheduled(testNS, "hourly-5m", "hourly", arkv1.BackupPhaseCompleted, 5*time.Minute),
		scheduled(testNS, "daily-named", "", arkv1.BackupPhaseCompleted, 4*time.Minute),
		scheduled(testNS, "dailyx-3m", "dailyx", arkv1.BackupPhaseCompleted, 3*time.Minute),
		scheduled(otherNS, "daily-1m", "daily", arkv1.BackupPhaseCompleted, time.Minute),
	}
	objs := []runtime.Object{newScheduleRestore("r1", "daily")}
	for _, b := range backups {
		objs = append(objs, b)
	}
	h := newHarness(t, objs...)
	h.engine.out = restoreengine.Outcome{Items: 3, Summary: restoreengine.Summary{Created: 3}}

	if err := h.c.sync(context.Background(), key("r1")); err != nil {
		t.Fatalf("sync: %v", err)
	}
	runs := h.engine.runs()
	if len(runs) != 1 {
		t.Fatalf("engine runs = %d, want 1", len(runs))
	}
	if runs[0].backup != "daily-2h" || runs[0].restore.Status.BackupName != "daily-2h" {
		t.Errorf("engine got backup %q (status.backupName %q), want daily-2h", runs[0].backup, runs[0].restore.Status.BackupName)
	}
	updates := h.statusUpdates()
	if len(updates) != 2 || updates[0].Status.Phase != arkv1.RestorePhaseInProgress || updates[0].Status.BackupName != "daily-2h" {
		t.Fatalf("status updates = %+v, want the claim naming daily-2h, then the final write", updates)
	}
	s := h.get(t, "r1").Status
	if s.Phase != arkv1.RestorePhaseCompleted || s.BackupName != "daily-2h" || !progressIs(s.Progress, 3, 3) {
		t.Errorf("final status = %+v, want Completed from daily-2h with {3 3}", s)
	}
	if sp := h.get(t, "r1").Spec; sp.ScheduleName != "daily" || sp.BackupName != "" {
		t.Errorf("spec changed to %+v", sp)
	}
}

func TestSyncScheduleNameWithoutCompletedBackupFailsValidation(t *testing.T) {
	h := newHarness(t,
		newScheduleRestore("r1", "weekly"),
		scheduled(testNS, "weekly-running", "weekly", arkv1.BackupPhaseInProgress, time.Hour),
		scheduled(testNS, "weekly-failed", "weekly", arkv1.BackupPhaseFailed, 2*time.Hour),
		scheduled(testNS, "daily-done", "daily", arkv1.BackupPhaseCompleted, time.Hour),
		scheduled(testNS, "weekly-named", "", arkv1.BackupPhaseCompleted, time.Hour),
		scheduled(otherNS, "weekly-done", "weekly", arkv1.BackupPhaseCompleted, time.Hour),
	)
	if err := h.c.sync(context.Background(), key("r1")); err != nil {
		t.Fatalf("sync: %v", err)
	}
	if n := h.engineCount(); n != 0 || len(h.engine.runs()) != 0 {
		t.Errorf("engines made = %d, want 0", n)
	}
	s := h.get(t, "r1").Status
	if s.Phase != arkv1.RestorePhaseFailedValidation {
		t.Errorf("phase = %q, want FailedValidation", s.Phase)
	}
	want := `spec.scheduleName: schedule "weekly" has no completed backup in namespace ` + testNS
	if len(s.ValidationErrors) != 1 || s.ValidationErrors[0] != want {
		t.Errorf("validationErrors = %q, want [%q]", s.ValidationErrors, want)
	}
	if s.StartTimestamp != nil || s.CompletionTimestamp != nil || s.BackupName != "" || s.Progress != nil {
		t.Errorf("status = %+v, want only phase and validation errors", s)
	}
	if n := len(h.statusUpdates()); n != 1 {
		t.Errorf("status updates = %d, want 1", n)
	}
	eventtest.Expect(t, h.recorder, "Warning FailedValidation Restore refused: "+want)
}

func TestSyncBackupNameValidation(t *testing.T) {
	for _, tc := range []struct {
		name    string
		backups []*arkv1.Backup
		want    string
	}{
		{"missing", nil, `spec.backupName: backup "b1" does not exist in namespace ` + testNS},
		{"only in another namespace", []*arkv1.Backup{scheduled(otherNS, "b1", "", arkv1.BackupPhaseCompleted, time.Hour)},
			`spec.backupName: backup "b1" does not exist in namespace ` + testNS},
		{"InProgress", []*arkv1.Backup{newBackup("b1", arkv1.BackupPhaseInProgress)},
			`spec.backupName: backup "b1" is InProgress; only Completed and PartiallyFailed backups can be restored`},
		{"Failed", []*arkv1.Backup{newBackup("b1", arkv1.BackupPhaseFailed)},
			`spec.backupName: backup "b1" is Failed; only Completed and PartiallyFailed backups can be restored`},
		{"Deleting", []*arkv1.Backup{newBackup("b1", arkv1.BackupPhaseDeleting)},
			`spec.backupName: backup "b1" is Deleting; only Completed and PartiallyFailed backups can be restored`},
		{"FailedValidation", []*arkv1.Backup{newBackup("b1", arkv1.BackupPhaseFailedValidation)},
			`spec.backupName: backup "b1" is FailedValidation; only Completed and PartiallyFailed backups can be restored`},
		{"New", []*arkv1.Backup{newBackup("b1", arkv1.BackupPhaseNew)},
			`spec.backupName: backup "b1" is New; only Completed and PartiallyFailed backups can be restored`},
		{"Corrupt", []*arkv1.Backup{func() *arkv1.Backup {
			b := newBackup("b1", arkv1.BackupPhaseCorrupt)
			b.Status.FailureReason = "the record backups/b1/ark-backup.json in the backup storage location is corrupt, so nothing of it is used: it is empty"
			return b
		}()},
			`spec.backupName: backup "b1" cannot be restored: the record backups/b1/ark-backup.json in the backup storage location is corrupt, so nothing of it is used: it is empty`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			objs := []runtime.Object{newRestore("r1", "", "b1")}
			for _, b := range tc.backups {
				objs = append(objs, b)
			}
			h := newHarness(t, objs...)
			if err := h.c.sync(context.Background(), key("r1")); err != nil {
				t.Fatalf("sync: %v", err)
			}
			if n := h.engineCount(); n != 0 || len(h.engine.runs()) != 0 {
				t.Errorf("engines made = %d, want 0", n)
			}
			s := h.get(t, "r1").Status
			if s.Phase != arkv1.RestorePhaseFailedValidation {
				t.Errorf("phase = %q, want FailedValidation", s.Phase)
			}
			if len(s.ValidationErrors) != 1 || s.ValidationErrors[0] != tc.want {
				t.Errorf("validationErrors = %q, want [%q]", s.ValidationErrors, tc.want)
			}
			if s.StartTimestamp != nil || s.BackupName != "" || s.Progress != nil {
				t.Errorf("status = %+v, want no claim fields", s)
			}
			if n := len(h.statusUpdates()); n != 1 {
				t.Errorf("status updates = %d, want 1", n)
			}
			if w := h.backupWrites(); len(w) != 0 {
				t.Errorf("writes to backups = %v, want none", w)
			}
		})
	}
}

func TestSyncBackupReadErrorIsRetried(t *testing.T) {
	for _, tc := range []struct {
		name    string
		restore *arkv1.Restore
		verb    string
	}{
		{"backupName", newRestore("r1", arkv1.RestorePhaseNew, "b1"), "get"},
		{"scheduleName", newScheduleRestore("r1", "daily"), "list"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, tc.restore,
				newBackup("b1", arkv1.BackupPhaseCompleted),
				scheduled(testNS, "daily-1", "daily", arkv1.BackupPhaseCompleted, time.Hour))
			calls := 0
			h.client.PrependReactor(tc.verb, "backups", func(clienttesting.Action) (bool, runtime.Object, error) {
				calls++
				return true, nil, apierrors.NewServiceUnavailable("bucket unreachable")
			})

			if err := h.c.sync(context.Background(), key("r1")); err == nil {
				t.Error("sync = nil, want an error so the restore is retried")
			}
			if calls != 1 {
				t.Errorf("backup %s calls = %d, want 1", tc.verb, calls)
			}
			if n := len(h.statusUpdates()); n != 0 {
				t.Errorf("status updates = %d, want 0", n)
			}
			if n := h.engineCount(); n != 0 {
				t.Errorf("engines made = %d, want 0", n)
			}
			if s := h.get(t, "r1").Status; s.Phase != arkv1.RestorePhaseNew || len(s.ValidationErrors) != 0 {
				t.Errorf("status = %+v, want untouched New", s)
			}

			// Through the queue: the key is requeued with backoff.
			h.c.queue.Add(key("r1"))
			if !h.c.processNextWorkItem(context.Background()) {
				t.Fatal("processNextWorkItem reported shutdown")
			}
			if n := h.c.queue.NumRequeues(key("r1")); n != 1 {
				t.Errorf("requeues = %d, want 1", n)
			}
		})
	}
}

func TestFailInterrupted(t *testing.T) {
	running := newRestore("running", arkv1.RestorePhaseInProgress, "b1")
	start := metav1.NewTime(t0.Add(-time.Hour))
	running.Status.StartTimestamp = &start
	running.Status.BackupName = "b1"
	running.Status.Progress = &arkv1.Progress{TotalItems: 10, ItemsDone: 4}
	elsewhere := newRestore("running2", arkv1.RestorePhaseInProgress, "b1")
	elsewhere.Namespace = otherNS
	done := newRestore("done", arkv1.RestorePhaseCompleted, "b1")
	partial := newRestore("partial", arkv1.RestorePhasePartiallyFailed, "b1")
	partial.Status.Errors = 2
	failed := newRestore("failed", arkv1.RestorePhaseFailed, "b1")
	failed.Status.FailureReason = "earlier failure"
	invalid := newRestore("invalid", arkv1.RestorePhaseFailedValidation, "b1")
	invalid.Status.ValidationErrors = []string{"nope"}
	fresh := newRestore("fresh", arkv1.RestorePhaseNew, "b1")
	unset := newRestore("unset", "", "b1")
	h := newHarness(t, running, elsewhere, done, partial, failed, invalid, fresh, unset, newBackup("b1", arkv1.BackupPhaseCompleted))
	h.clock.Step(time.Minute)
	now := t0.Add(time.Minute)

	h.c.failInterrupted(context.Background())

	for _, r := range []*arkv1.Restore{running, elsewhere} {
		s := h.getIn(t, r.Namespace, r.Name).Status
		if s.Phase != arkv1.RestorePhaseFailed || s.FailureReason != InterruptedReason {
			t.Errorf("%s/%s: phase %q reason %q, want Failed %q", r.Namespace, r.Name, s.Phase, s.FailureReason, InterruptedReason)
		}
		if !timeEqual(s.CompletionTimestamp, now) {
			t.Errorf("%s/%s: completionTimestamp = %v, want %v", r.Namespace, r.Name, s.CompletionTimestamp, now)
		}
	}
	if s := h.get(t, "running").Status; !timeEqual(s.StartTimestamp, start.Time) || !progressIs(s.Progress, 10, 4) || s.BackupName != "b1" {
		t.Errorf("running: other status fields changed: %+v", s)
	}
	updated := map[string]int{}
	for _, u := range h.statusUpdates() {
		updated[u.Namespace+"/"+u.Name]++
	}
	if len(updated) != 2 || updated[key("running")] != 1 || updated[otherNS+"/running2"] != 1 {
		t.Errorf("status updates per restore = %v, want one each for running and running2", updated)
	}
	for _, want := range []*arkv1.Restore{done, partial, failed, invalid, fresh, unset} {
		got := h.get(t, want.Name).Status
		if got.Phase != want.Status.Phase || got.FailureReason != want.Status.FailureReason || got.CompletionTimestamp != nil ||
			got.Errors != want.Status.Errors || len(got.ValidationErrors) != len(want.Status.ValidationErrors) {
			t.Errorf("%s: status changed to %+v", want.Name, got)
		}
	}
	if n := h.engineCount(); n != 0 {
		t.Errorf("failInterrupted made %d engines", n)
	}
	interrupted := "Warning Interrupted Restore failed: " + InterruptedReason
	eventtest.Expect(t, h.recorder, interrupted, interrupted)

	// The New ones are then taken as usual.
	h.engine.out = restoreengine.Outcome{Items: 1, Summary: restoreengine.Summary{Created: 1}}
	for _, name := range []string{"fresh", "unset"} {
		if err := h.c.sync(context.Background(), key(name)); err != nil {
			t.Fatalf("sync %s: %v", name, err)
		}
		if s := h.get(t, name).Status; s.Phase != arkv1.RestorePhaseCompleted {
			t.Errorf("%s: phase %q after sync, want Completed", name, s.Phase)
		}
	}
	if n := len(h.engine.runs()); n != 2 {
		t.Errorf("engine runs = %d, want 2", n)
	}
}

// A restore the cache still shows InProgress but that finished in the
// meantime is left alone.
func TestFailInterruptedRechecksLatest(t *testing.T) {
	h := newHarness(t)
	stored := newRestore("r1", arkv1.RestorePhaseCompleted, "b1")
	if err := h.client.Tracker().Add(stored); err != nil {
		t.Fatal(err)
	}
	h.add(t, newRestore("r1", arkv1.RestorePhaseInProgress, "b1"))

	h.c.failInterrupted(context.Background())

	s := h.get(t, "r1").Status
	if s.Phase != arkv1.RestorePhaseCompleted || s.FailureReason != "" || s.CompletionTimestamp != nil {
		t.Errorf("status = %+v, want the stored Completed status untouched", s)
	}
}

func TestSyncLeavesOtherPhasesAlone(t *testing.T) {
	for _, phase := range []arkv1.RestorePhase{
		arkv1.RestorePhaseInProgress, arkv1.RestorePhaseCompleted, arkv1.RestorePhasePartiallyFailed,
		arkv1.RestorePhaseFailed, arkv1.RestorePhaseFailedValidation,
	} {
		t.Run(string(phase), func(t *testing.T) {
			h := newHarness(t, newRestore("r1", phase, "b1"), newBackup("b1", arkv1.BackupPhaseCompleted))
			if err := h.c.sync(context.Background(), key("r1")); err != nil {
				t.Fatalf("sync: %v", err)
			}
			if n := len(h.engine.runs()); n != 0 || h.engineCount() != 0 {
				t.Errorf("engine runs = %d (engines made %d), want 0", n, h.engineCount())
			}
			if a := h.client.Actions(); len(a) != 0 {
				t.Errorf("client actions = %v, want none", a)
			}
			if s := h.get(t, "r1").Status; s.Phase != phase {
				t.Errorf("phase = %q, want %q", s.Phase, phase)
			}
		})
	}
}

func TestEnqueueOnlyNewRestores(t *testing.T) {
	h := newHarness(t)
	for _, phase := range []arkv1.RestorePhase{
		"", arkv1.RestorePhaseNew, arkv1.RestorePhaseInProgress, arkv1.RestorePhaseCompleted,
		arkv1.RestorePhasePartiallyFailed, arkv1.RestorePhaseFailed, arkv1.RestorePhaseFailedValidation,
	} {
		h.c.enqueue(newRestore("p-"+string(phase), phase, "b1"))
	}
	h.c.enqueue("not a restore")
	h.c.enqueue(newBackup("a-backup", arkv1.BackupPhaseNew))
	got := map[string]bool{}
	for h.c.queue.Len() > 0 {
		k, _ := h.c.queue.Get()
		got[k] = true
		h.c.queue.Done(k)
	}
	if len(got) != 2 || !got[key("p-")] || !got[key("p-New")] {
		t.Errorf("queued %v, want exactly %s and %s", got, key("p-"), key("p-New"))
	}
}

func TestSyncClaimLost(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
	}{
		{"conflict", apierrors.NewConflict(arkv1.Resource("restores"), "r1", errors.New("the object has been modified"))},
		{"deleted", apierrors.NewNotFound(arkv1.Resource("restores"), "r1")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, newRestore("r1", arkv1.RestorePhaseNew, "b1"), newBackup("b1", arkv1.BackupPhaseCompleted))
			h.client.PrependReactor("update", "restores", func(a clienttesting.Action) (bool, runtime.Object, error) {
				if a.GetSubresource() != "status" {
					return false, nil, nil
				}
				return true, nil, tc.err
			})
			h.c.queue.Add(key("r1"))

			if !h.c.processNextWorkItem(context.Background()) {
				t.Fatal("processNextWorkItem reported shutdown")
			}
			if n := len(h.engine.runs()); n != 0 || h.engineCount() != 0 {
				t.Errorf("engine runs = %d (engines made %d), want 0", n, h.engineCount())
			}
			if n := len(h.statusUpdates()); n != 1 {
				t.Errorf("status updates = %d, want 1 (the claim, not retried)", n)
			}
			if n := h.c.queue.NumRequeues(key("r1")); n != 0 {
				t.Errorf("requeues = %d, want 0", n)
			}
			if n := h.c.queue.Len(); n != 0 {
				t.Errorf("queue length = %d, want 0", n)
			}
			if err := h.c.sync(context.Background(), key("r1")); err != nil {
				t.Errorf("sync = %v, want nil", err)
			}
			if s := h.get(t, "r1").Status; s.Phase != arkv1.RestorePhaseNew {
				t.Errorf("phase = %q, want New", s.Phase)
			}
		})
	}
}

func TestSyncClaimOtherErrorIsRetried(t *testing.T) {
	h := newHarness(t, newRestore("r1", arkv1.RestorePhaseNew, "b1"), newBackup("b1", arkv1.BackupPhaseCompleted))
	h.client.PrependReactor("update", "restores", func(clienttesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewServiceUnavailable("etcd unreachable")
	})
	err := h.c.sync(context.Background(), key("r1"))
	if !apierrors.IsServiceUnavailable(err) {
		t.Errorf("sync = %v, want the ServiceUnavailable error", err)
	}
	if n := len(h.engine.runs()); n != 0 || h.engineCount() != 0 {
		t.Errorf("engine runs = %d (engines made %d), want 0", n, h.engineCount())
	}
}

func TestSyncValidationWriteErrors(t *testing.T) {
	for _, tc := range []struct {
		name    string
		err     error
		wantErr bool
	}{
		{"conflict", apierrors.NewConflict(arkv1.Resource("restores"), "r1", errors.New("the object has been modified")), false},
		{"deleted", apierrors.NewNotFound(arkv1.Resource("restores"), "r1"), false},
		{"unavailable", apierrors.NewServiceUnavailable("etcd unreachable"), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, newRestore("r1", arkv1.RestorePhaseNew, "missing"))
			h.client.PrependReactor("update", "restores", func(clienttesting.Action) (bool, runtime.Object, error) {
				return true, nil, tc.err
			})
			err := h.c.sync(context.Background(), key("r1"))
			if (err != nil) != tc.wantErr {
				t.Errorf("sync = %v, want error: %v", err, tc.wantErr)
			}
			updates := h.statusUpdates()
			if len(updates) != 1 || updates[0].Status.Phase != arkv1.RestorePhaseFailedValidation {
				t.Errorf("status updates = %+v, want one FailedValidation attempt", updates)
			}
			if n := h.engineCount(); n != 0 {
				t.Errorf("engines made = %d, want 0", n)
			}
		})
	}
}

func TestSyncRestoreGone(t *testing.T) {
	t.Run("not in lister", func(t *testing.T) {
		h := newHarness(t, newBackup("b1", arkv1.BackupPhaseCompleted))
		if err := h.client.Tracker().Add(newRestore("r1", arkv1.RestorePhaseNew, "b1")); err != nil {
			t.Fatal(err)
		}
		if err := h.c.sync(context.Background(), key("r1")); err != nil {
			t.Errorf("sync = %v, want nil", err)
		}
		if n := h.engineCount(); n != 0 {
			t.Errorf("engines made = %d, want 0", n)
		}
		if a := h.client.Actions(); len(a) != 0 {
			t.Errorf("client actions = %v, want none", a)
		}
	})
	t.Run("not on the server", func(t *testing.T) {
		h := newHarness(t, newBackup("b1", arkv1.BackupPhaseCompleted))
		h.add(t, newRestore("r1", arkv1.RestorePhaseNew, "b1"))
		if err := h.c.sync(context.Background(), key("r1")); err != nil {
			t.Errorf("sync = %v, want nil", err)
		}
		if n := h.engineCount(); n != 0 {
			t.Errorf("engines made = %d, want 0", n)
		}
	})
	t.Run("bad key", func(t *testing.T) {
		h := newHarness(t)
		if err := h.c.sync(context.Background(), "a/b/c"); err != nil {
			t.Errorf("sync = %v, want nil", err)
		}
		if a := h.client.Actions(); len(a) != 0 {
			t.Errorf("client actions = %v, want none", a)
		}
	})
}

func TestSyncThrottlesProgress(t *testing.T) {
	for _, tc := range []struct {
		name  string
		steps []progressStep
		want  []arkv1.Progress
	}{
		{
			name: "clock stands still",
			steps: func() []progressStep {
				var s []progressStep
				for i := 1; i <= 50; i++ {
					s = append(s, progressStep{0, 50, i})
				}
				return s
			}(),
			want: nil,
		},
		{
			name: "clock moves",
			steps: []progressStep{
				{0, 9, 0},                              // 0s since claim: no
				{time.Second - time.Millisecond, 9, 1}, // 0.999s: no
				{time.Millisecond, 9, 2},               // 1s: yes
				{500 * time.Millisecond, 9, 3},         // 0.5s: no
				{500 * time.Millisecond, 9, 4},         // 1s: yes
				{5 * time.Second, 9, 5},                // 5s: yes
				{0, 9, 6},                              // 0s: no
				{time.Second, 9, 7},                    // 1s: yes
				{time.Second - time.Millisecond, 9, 8}, // 0.999s: no
			},
			want: []arkv1.Progress{{TotalItems: 9, ItemsDone: 2}, {TotalItems: 9, ItemsDone: 4}, {TotalItems: 9, ItemsDone: 5}, {TotalItems: 9, ItemsDone: 7}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, newRestore("r1", arkv1.RestorePhaseNew, "b1"), newBackup("b1", arkv1.BackupPhaseCompleted))
			h.engine.steps = tc.steps
			h.engine.out = restoreengine.Outcome{Items: 9, Summary: restoreengine.Summary{Created: 9}}
			if err := h.c.sync(context.Background(), key("r1")); err != nil {
				t.Fatalf("sync: %v", err)
			}
			updates := h.statusUpdates()
			if len(updates) != len(tc.want)+2 {
				t.Fatalf("status updates = %d, want claim + %d progress + final", len(updates), len(tc.want))
			}
			for i, want := range tc.want {
				u := updates[i+1]
				if u.Status.Phase != arkv1.RestorePhaseInProgress || u.Status.BackupName != "b1" ||
					!progressIs(u.Status.Progress, want.TotalItems, want.ItemsDone) {
					t.Errorf("progress update %d = phase %q progress %+v, want InProgress %+v", i, u.Status.Phase, u.Status.Progress, want)
				}
			}
			last := updates[len(updates)-1]
			if last.Status.Phase != arkv1.RestorePhaseCompleted || !progressIs(last.Status.Progress, 9, 9) {
				t.Errorf("final update = phase %q progress %+v, want Completed {9 9}", last.Status.Phase, last.Status.Progress)
			}
		})
	}
}

// slowSinceClock is a fake clock whose Since takes a while.
type slowSinceClock struct {
	*clocktesting.FakeClock
	delay time.Duration
}

func (c slowSinceClock) Since(ts time.Time) time.Duration {
	time.Sleep(c.delay)
	return c.FakeClock.Since(ts)
}

// The restore engine reports progress from its parallel item workers, so
// the progress callback is called concurrently; it must still publish at
// most once per interval (and, under -race, not race).
func TestSyncProgressFromParallelWorkers(t *testing.T) {
	const workers, calls = 16, 3
	h := newHarness(t, newRestore("r1", arkv1.RestorePhaseNew, "b1"), newBackup("b1", arkv1.BackupPhaseCompleted))
	// A slow Since widens the window between checking and updating the time
	// of the last publication, so unsynchronized callers all get through.
	h.c.clock = slowSinceClock{FakeClock: h.clock, delay: 5 * time.Millisecond}
	h.engine.out = restoreengine.Outcome{Items: workers * calls, Summary: restoreengine.Summary{Created: workers * calls}}
	h.engine.during = func(_ context.Context, progress restoreengine.ProgressFunc) {
		h.clock.Step(time.Second)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				for i := range calls {
					progress(workers*calls, w*calls+i+1)
				}
			}()
		}
		close(start)
		wg.Wait()
	}
	if err := h.c.sync(context.Background(), key("r1")); err != nil {
		t.Fatalf("sync: %v", err)
	}
	updates := h.statusUpdates()
	if len(updates) != 3 {
		t.Fatalf("status updates = %d, want claim + 1 progress + final", len(updates))
	}
	if p := updates[1].Status.Progress; updates[1].Status.Phase != arkv1.RestorePhaseInProgress || p == nil || p.TotalItems != workers*calls || p.ItemsDone < 1 {
		t.Errorf("progress update = phase %q progress %+v", updates[1].Status.Phase, p)
	}
	if s := h.get(t, "r1").Status; s.Phase != arkv1.RestorePhaseCompleted || !progressIs(s.Progress, workers*calls, workers*calls) {
		t.Errorf("final status = %+v", s)
	}
}

func TestRunEndToEnd(t *testing.T) {
	h := newHarness(t)
	for _, o := range []runtime.Object{
		newBackup("b1", arkv1.BackupPhaseCompleted),
		newRestore("fresh", arkv1.RestorePhaseNew, "b1"),
		newRestore("stale", arkv1.RestorePhaseInProgress, "b1"),
		newRestore("old", arkv1.RestorePhaseCompleted, "b1"),
	} {
		if err := h.client.Tracker().Add(o); err != nil {
			t.Fatal(err)
		}
	}
	h.engine.steps = []progressStep{{2 * time.Second, 4, 2}}
	h.engine.out = restoreengine.Outcome{Items: 4, Summary: restoreengine.Summary{Created: 3, Skipped: 1, Warnings: 1}}

	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	defer func() {
		cancel()
		select {
		case <-stopped:
		case <-time.After(10 * time.Second):
			t.Error("Run did not return after cancel")
		}
		h.factory.Shutdown()
	}()
	h.factory.Start(ctx.Done())
	go func() {
		defer close(stopped)
		h.c.Run(ctx, 1)
	}()

	var last *arkv1.Restore
	err := wait.PollUntilContextTimeout(ctx, 10*time.Millisecond, 20*time.Second, true, func(ctx context.Context) (bool, error) {
		r, err := h.client.ArkV1().Restores(testNS).Get(ctx, "fresh", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		last = r
		return r.Status.Phase == arkv1.RestorePhaseCompleted, nil
	})
	if err != nil {
		t.Fatalf("waiting for Completed: %v (last status %+v)", err, last.Status)
	}
	s := last.Status
	if s.Warnings != 1 || s.Errors != 0 || !progressIs(s.Progress, 4, 4) || s.BackupName != "b1" || !timeEqual(s.StartTimestamp, t0) ||
		!timeEqual(s.CompletionTimestamp, t0.Add(2*time.Second)) || s.FailureReason != "" {
		t.Errorf("final status = %+v", s)
	}
	if s := h.get(t, "stale").Status; s.Phase != arkv1.RestorePhaseFailed || s.FailureReason != InterruptedReason {
		t.Errorf("stale: phase %q reason %q, want Failed/interrupted", s.Phase, s.FailureReason)
	}
	if s := h.get(t, "old").Status; s.Phase != arkv1.RestorePhaseCompleted || s.CompletionTimestamp != nil {
		t.Errorf("old: status changed to %+v", s)
	}
	runs := h.engine.runs()
	if len(runs) != 1 || runs[0].restore.Name != "fresh" || runs[0].backup != "b1" {
		t.Errorf("engine runs = %+v, want exactly one, for fresh from b1", runs)
	}
	var progressWrites int
	for _, u := range h.statusUpdates() {
		if u.Name == "fresh" && u.Status.Phase == arkv1.RestorePhaseInProgress && progressIs(u.Status.Progress, 4, 2) {
			progressWrites++
		}
	}
	if progressWrites != 1 {
		t.Errorf("progress writes {4 2} = %d, want 1", progressWrites)
	}
	if b, err := h.client.ArkV1().Backups(testNS).Get(ctx, "b1", metav1.GetOptions{}); err != nil || b.Status.Phase != arkv1.BackupPhaseCompleted {
		t.Errorf("backup b1 = %v, %v; want it untouched", b, err)
	}
	if w := h.backupWrites(); len(w) != 0 {
		t.Errorf("writes to backups = %v, want none", w)
	}
}

// Both selectors empty cannot pass API validation; the controller must not
// run such a restore from whatever backups an empty selector matches.
func TestSyncNeverRunsWithoutABackup(t *testing.T) {
	h := newHarness(t, newRestore("r1", arkv1.RestorePhaseNew, ""), newBackup("b1", arkv1.BackupPhaseCompleted))
	_ = h.c.sync(context.Background(), key("r1"))
	if n := h.engineCount(); n != 0 {
		t.Errorf("engines made = %d, want 0", n)
	}
	if s := h.get(t, "r1").Status; s.Phase != arkv1.RestorePhaseFailedValidation || len(s.ValidationErrors) != 1 || !strings.Contains(s.ValidationErrors[0], "scheduleName") {
		t.Errorf("status = %+v, want FailedValidation", s)
	}
}

// The engine's cleanup (the real engine removes its scratch directory then)
// runs only once the restore's outcome is written: whoever watches the
// restore sees it finished without waiting for the cleanup. It also runs when
// the server stops during the restore.
func TestSyncCleanupAfterOutcomeWritten(t *testing.T) {
	for _, tc := range []struct {
		name      string
		out       restoreengine.Outcome
		err       error
		stop      bool
		wantPhase arkv1.RestorePhase
	}{
		{"completed", restoreengine.Outcome{Items: 7, Summary: restoreengine.Summary{Created: 7}}, nil, false, arkv1.RestorePhaseCompleted},
		{"partially failed", restoreengine.Outcome{Items: 7, Summary: restoreengine.Summary{Created: 6, Failed: 1, Errors: 1}}, nil, false, arkv1.RestorePhasePartiallyFailed},
		{"failed", restoreengine.Outcome{}, errors.New("reading the backup: checksum mismatch"), false, arkv1.RestorePhaseFailed},
		{"server stopping", restoreengine.Outcome{}, nil, true, arkv1.RestorePhaseInProgress},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, newRestore("r1", arkv1.RestorePhaseNew, "b1"), newBackup("b1", arkv1.BackupPhaseCompleted))
			h.engine.out, h.engine.err = tc.out, tc.err
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var cleaned []arkv1.RestoreStatus
			h.engine.during = func(ctx context.Context, _ restoreengine.ProgressFunc) {
				if !restoreengine.Defer(ctx, func() {
					// As the engine's cleanup sees the restore.
					r, err := h.client.ArkV1().Restores(testNS).Get(context.Background(), "r1", metav1.GetOptions{})
					if err != nil {
						t.Errorf("cleanup: %v", err)
						return
					}
					cleaned = append(cleaned, r.Status)
				}) {
					t.Error("the engine's context takes no deferred cleanup")
				}
				if tc.stop {
					cancel()
					h.engine.err = fmt.Errorf("restoring configmaps: %w", ctx.Err())
				}
			}
			if err := h.c.sync(ctx, key("r1")); err != nil {
				t.Fatalf("sync: %v", err)
			}
			if len(cleaned) != 1 {
				t.Fatalf("cleanup ran %d times, want once", len(cleaned))
			}
			s := cleaned[0]
			if s.Phase != tc.wantPhase {
				t.Errorf("phase when the cleanup ran = %q, want %q", s.Phase, tc.wantPhase)
			}
			if !tc.stop && (s.CompletionTimestamp == nil || !progressIs(s.Progress, tc.out.Items, tc.out.Items) || s.Errors != tc.out.Errors) {
				t.Errorf("status when the cleanup ran = %+v, want the final one", s)
			}
		})
	}
}
