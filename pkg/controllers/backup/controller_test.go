package backup

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
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
	"github.com/arkproject/ark/pkg/apis/ark/validation"
	backupengine "github.com/arkproject/ark/pkg/backup"
	"github.com/arkproject/ark/pkg/backupstore"
	"github.com/arkproject/ark/pkg/backupstore/backupstoretest"
	"github.com/arkproject/ark/pkg/backupstore/encryption"
	"github.com/arkproject/ark/pkg/controllers/eventtest"
	"github.com/arkproject/ark/pkg/generated/clientset/versioned/fake"
	"github.com/arkproject/ark/pkg/generated/informers/externalversions"
	arkinformers "github.com/arkproject/ark/pkg/generated/informers/externalversions/ark/v1"
	"github.com/arkproject/ark/pkg/objectstore"
	"github.com/arkproject/ark/pkg/provenance"
)

const testNS = "ark"

// t0 is whole seconds, so timestamps survive any serialization unchanged.
var t0 = time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)

// progressStep is one progress call of the fake engine, after advancing the
// fake clock by advance.
type progressStep struct {
	advance     time.Duration
	total, done int
}

// fakeEngine is a backup engine that records what it was given, reports
// progress as scripted and returns a configured result.
type fakeEngine struct {
	clock *clocktesting.FakeClock
	steps []progressStep
	out   backupengine.Outcome
	err   error
	// release, when set, makes Run wait until it is closed or ctx ends; in
	// the latter case Run returns an error wrapping ctx.Err().
	release chan struct{}
	// started is closed when Run is first called, if set.
	started chan struct{}
	// during, if set, runs inside Run after the progress steps.
	during func(ctx context.Context)

	mu    sync.Mutex
	calls []*arkv1.Backup
}

func (e *fakeEngine) Run(ctx context.Context, b *arkv1.Backup, progress backupengine.ProgressFunc) (backupengine.Outcome, error) {
	e.mu.Lock()
	e.calls = append(e.calls, b.DeepCopy())
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
		e.during(ctx)
	}
	if e.release != nil {
		select {
		case <-e.release:
		case <-ctx.Done():
			return backupengine.Outcome{Items: 3}, fmt.Errorf("listing pods: %w", ctx.Err())
		}
	}
	return e.out, e.err
}

func (e *fakeEngine) runs() []*arkv1.Backup {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]*arkv1.Backup(nil), e.calls...)
}

type harness struct {
	client   *fake.Clientset
	factory  externalversions.SharedInformerFactory
	informer arkinformers.BackupInformer
	clock    *clocktesting.FakeClock
	engine   *fakeEngine
	c        *Controller
	recorder *record.FakeRecorder

	mu         sync.Mutex
	newEngines int
}

// newHarness builds a controller over a fake clientset holding objs. The
// informer is not started: tests put objects in its indexer with add.
func newHarness(t *testing.T, objs ...*arkv1.Backup) *harness {
	t.Helper()
	ros := make([]runtime.Object, 0, len(objs))
	for _, o := range objs {
		ros = append(ros, o.DeepCopy())
	}
	h := &harness{client: fake.NewSimpleClientset(ros...), clock: clocktesting.NewFakeClock(t0)}
	h.engine = &fakeEngine{clock: h.clock}
	h.factory = externalversions.NewSharedInformerFactory(h.client, 0)
	h.informer = h.factory.Ark().V1().Backups()
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
		h.add(t, o)
	}
	return h
}

func (h *harness) add(t *testing.T, b *arkv1.Backup) {
	t.Helper()
	if err := h.informer.Informer().GetIndexer().Add(b.DeepCopy()); err != nil {
		t.Fatal(err)
	}
}

func (h *harness) engineCount() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.newEngines
}

// statusUpdates returns the objects of every backups/status update, in order.
func (h *harness) statusUpdates() []*arkv1.Backup {
	var out []*arkv1.Backup
	for _, a := range h.client.Actions() {
		u, ok := a.(clienttesting.UpdateAction)
		if !ok || a.GetSubresource() != "status" || a.GetResource().Resource != "backups" {
			continue
		}
		out = append(out, u.GetObject().(*arkv1.Backup).DeepCopy())
	}
	return out
}

func (h *harness) get(t *testing.T, name string) *arkv1.Backup {
	t.Helper()
	b, err := h.client.ArkV1().Backups(testNS).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get %s: %v", name, err)
	}
	return b
}

func newBackup(name string, phase arkv1.BackupPhase) *arkv1.Backup {
	return &arkv1.Backup{
		ObjectMeta: metav1.ObjectMeta{Namespace: testNS, Name: name, UID: k8stypes.UID("uid-" + name)},
		Spec: arkv1.BackupSpec{
			IncludedNamespaces: []string{"app"},
			TTL:                metav1.Duration{Duration: 24 * time.Hour},
			StorageLocation:    arkv1.DefaultStorageLocation,
			Requester:          &arkv1.UserInfo{Username: "alice"},
		},
		Status: arkv1.BackupStatus{Phase: phase},
	}
}

func timeEqual(got *metav1.Time, want time.Time) bool {
	return got != nil && got.Time.Equal(want)
}

func progressIs(p *arkv1.Progress, total, done int) bool {
	return p != nil && p.TotalItems == total && p.ItemsDone == done
}

func key(name string) string { return testNS + "/" + name }

func TestSyncClaimsAndCompletesNewBackup(t *testing.T) {
	for _, phase := range []arkv1.BackupPhase{"", arkv1.BackupPhaseNew} {
		t.Run(fmt.Sprintf("phase %q", phase), func(t *testing.T) {
			h := newHarness(t, newBackup("b1", phase))
			h.engine.steps = []progressStep{{0, 1, 0}, {0, 2, 1}}
			h.engine.out = backupengine.Outcome{Items: 7, Warnings: 2}
			h.engine.during = func(context.Context) { h.clock.Step(90 * time.Millisecond) }

			if err := h.c.sync(context.Background(), key("b1")); err != nil {
				t.Fatalf("sync: %v", err)
			}

			updates := h.statusUpdates()
			if len(updates) != 2 {
				t.Fatalf("status updates = %d, want 2 (claim, final): %+v", len(updates), updates)
			}
			claim := updates[0]
			if claim.Name != "b1" || claim.Status.Phase != arkv1.BackupPhaseInProgress {
				t.Errorf("claim = %s phase %q, want b1 InProgress", claim.Name, claim.Status.Phase)
			}
			if !timeEqual(claim.Status.StartTimestamp, t0) {
				t.Errorf("claim startTimestamp = %v, want %v", claim.Status.StartTimestamp, t0)
			}
			if !timeEqual(claim.Status.Expiration, t0.Add(24*time.Hour)) {
				t.Errorf("claim expiration = %v, want %v", claim.Status.Expiration, t0.Add(24*time.Hour))
			}
			if claim.Status.Version != 1 {
				t.Errorf("claim version = %d, want 1", claim.Status.Version)
			}
			if !progressIs(claim.Status.Progress, 0, 0) {
				t.Errorf("claim progress = %+v, want {0 0}", claim.Status.Progress)
			}
			if claim.Status.CompletionTimestamp != nil {
				t.Errorf("claim completionTimestamp = %v, want nil", claim.Status.CompletionTimestamp)
			}

			runs := h.engine.runs()
			if len(runs) != 1 || h.engineCount() != 1 {
				t.Fatalf("engine runs = %d (engines made %d), want 1", len(runs), h.engineCount())
			}
			got := runs[0]
			if got.Name != "b1" || got.Namespace != testNS || got.Spec.Requester == nil || got.Spec.Requester.Username != "alice" {
				t.Errorf("engine got %s/%s requester %+v", got.Namespace, got.Name, got.Spec.Requester)
			}
			if got.Status.Phase != arkv1.BackupPhaseInProgress || !timeEqual(got.Status.StartTimestamp, t0) ||
				!timeEqual(got.Status.Expiration, t0.Add(24*time.Hour)) || got.Status.Version != 1 ||
				!progressIs(got.Status.Progress, 0, 0) {
				t.Errorf("engine got status %+v, want the claimed InProgress status", got.Status)
			}

			final := h.get(t, "b1")
			end := t0.Add(90 * time.Millisecond)
			if final.Status.Phase != arkv1.BackupPhaseCompleted {
				t.Errorf("final phase = %q, want Completed", final.Status.Phase)
			}
			if !timeEqual(final.Status.CompletionTimestamp, end) {
				t.Errorf("final completionTimestamp = %v, want %v", final.Status.CompletionTimestamp, end)
			}
			if !timeEqual(final.Status.StartTimestamp, t0) || !timeEqual(final.Status.Expiration, t0.Add(24*time.Hour)) || final.Status.Version != 1 {
				t.Errorf("final status lost claim fields: %+v", final.Status)
			}
			if final.Status.Warnings != 2 || final.Status.Errors != 0 {
				t.Errorf("final warnings/errors = %d/%d, want 2/0", final.Status.Warnings, final.Status.Errors)
			}
			if !progressIs(final.Status.Progress, 7, 7) {
				t.Errorf("final progress = %+v, want {7 7}", final.Status.Progress)
			}
			if final.Status.FailureReason != "" {
				t.Errorf("final failureReason = %q, want empty", final.Status.FailureReason)
			}
		})
	}
}

func TestSyncOutcomes(t *testing.T) {
	for _, tc := range []struct {
		name       string
		out        backupengine.Outcome
		err        error
		wantPhase  arkv1.BackupPhase
		wantReason string
		wantEvent  string
	}{
		{"warnings only", backupengine.Outcome{Items: 4, Warnings: 3}, nil, arkv1.BackupPhaseCompleted, "",
			"Normal Completed Backed up 4 items in 0s, 3 warnings"},
		{"one item error", backupengine.Outcome{Items: 9, Errors: 1}, nil, arkv1.BackupPhasePartiallyFailed, "",
			"Warning PartiallyFailed Backed up 9 items in 0s; 1 could not be backed up (errors), 0 warnings: `ark backup logs b1` says which"},
		{"item errors", backupengine.Outcome{Items: 9, Warnings: 1, Errors: 2}, nil, arkv1.BackupPhasePartiallyFailed, "",
			"Warning PartiallyFailed Backed up 9 items in 0s; 2 could not be backed up (errors), 1 warnings"},
		{"engine error", backupengine.Outcome{Items: 5, Errors: 1}, errors.New("uploading the tarball: bucket is gone"), arkv1.BackupPhaseFailed, "uploading the tarball: bucket is gone",
			"Warning Failed Backup failed after 0s: uploading the tarball: bucket is gone"},
		{"engine error, nothing done", backupengine.Outcome{}, errors.New("the backup records no requester"), arkv1.BackupPhaseFailed, "the backup records no requester",
			"Warning Failed Backup failed after 0s: the backup records no requester"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, newBackup("b1", arkv1.BackupPhaseNew))
			h.engine.out, h.engine.err = tc.out, tc.err
			if err := h.c.sync(context.Background(), key("b1")); err != nil {
				t.Fatalf("sync: %v", err)
			}
			if n := len(h.engine.runs()); n != 1 {
				t.Fatalf("engine runs = %d, want 1", n)
			}
			s := h.get(t, "b1").Status
			if s.Phase != tc.wantPhase {
				t.Errorf("phase = %q, want %q", s.Phase, tc.wantPhase)
			}
			if s.FailureReason != tc.wantReason {
				t.Errorf("failureReason = %q, want %q", s.FailureReason, tc.wantReason)
			}
			if s.Warnings != tc.out.Warnings || s.Errors != tc.out.Errors {
				t.Errorf("warnings/errors = %d/%d, want %d/%d", s.Warnings, s.Errors, tc.out.Warnings, tc.out.Errors)
			}
			if !progressIs(s.Progress, tc.out.Items, tc.out.Items) {
				t.Errorf("progress = %+v, want {%d %d}", s.Progress, tc.out.Items, tc.out.Items)
			}
			if !timeEqual(s.CompletionTimestamp, t0) {
				t.Errorf("completionTimestamp = %v, want %v", s.CompletionTimestamp, t0)
			}
			eventtest.Expect(t, h.recorder, `Normal Started Backup started, to storage location "default"`, tc.wantEvent)
		})
	}
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
					s = append(s, progressStep{0, i, i - 1})
				}
				return s
			}(),
			want: nil,
		},
		{
			name: "clock moves",
			steps: []progressStep{
				{0, 1, 0},                                          // 0s since claim: no
				{500 * time.Millisecond, 2, 1},                     // 0.5s: no
				{500 * time.Millisecond, 3, 2},                     // 1s: yes
				{999 * time.Millisecond, 4, 3},                     // 0.999s since last: no
				{time.Millisecond, 5, 4},                           // 1s: yes
				{10 * time.Second, 6, 5},                           // 10s: yes
				{0, 6, 6},                                          // 0s: no
				{900 * time.Millisecond, 7, 6},                     // 0.9s: no
				{200*time.Millisecond + time.Nanosecond, 8, 7},     // 1.1s: yes
				{999*time.Millisecond + time.Nanosecond - 1, 9, 8}, // 0.999s: no
			},
			want: []arkv1.Progress{{TotalItems: 3, ItemsDone: 2}, {TotalItems: 5, ItemsDone: 4}, {TotalItems: 6, ItemsDone: 5}, {TotalItems: 8, ItemsDone: 7}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, newBackup("b1", arkv1.BackupPhaseNew))
			h.engine.steps = tc.steps
			h.engine.out = backupengine.Outcome{Items: 9}
			if err := h.c.sync(context.Background(), key("b1")); err != nil {
				t.Fatalf("sync: %v", err)
			}
			updates := h.statusUpdates()
			if len(updates) != len(tc.want)+2 {
				t.Fatalf("status updates = %d, want claim + %d progress + final", len(updates), len(tc.want))
			}
			for i, want := range tc.want {
				u := updates[i+1]
				if u.Status.Phase != arkv1.BackupPhaseInProgress || !progressIs(u.Status.Progress, want.TotalItems, want.ItemsDone) {
					t.Errorf("progress update %d = phase %q progress %+v, want InProgress %+v", i, u.Status.Phase, u.Status.Progress, want)
				}
			}
			last := updates[len(updates)-1]
			if last.Status.Phase != arkv1.BackupPhaseCompleted || !progressIs(last.Status.Progress, 9, 9) {
				t.Errorf("final update = phase %q progress %+v, want Completed {9 9}", last.Status.Phase, last.Status.Progress)
			}
		})
	}
}

func TestFailInterrupted(t *testing.T) {
	running := newBackup("running", arkv1.BackupPhaseInProgress)
	start := metav1.NewTime(t0.Add(-time.Hour))
	running.Status.StartTimestamp = &start
	running.Status.Progress = &arkv1.Progress{TotalItems: 10, ItemsDone: 4}
	running.Status.Version = 1
	running2 := newBackup("running2", arkv1.BackupPhaseInProgress)
	done := newBackup("done", arkv1.BackupPhaseCompleted)
	failed := newBackup("failed", arkv1.BackupPhaseFailed)
	failed.Status.FailureReason = "earlier failure"
	fresh := newBackup("fresh", arkv1.BackupPhaseNew)
	unset := newBackup("unset", "")
	h := newHarness(t, running, running2, done, failed, fresh, unset)
	h.clock.Step(time.Minute)
	now := t0.Add(time.Minute)

	h.c.failInterrupted(context.Background())

	for _, name := range []string{"running", "running2"} {
		s := h.get(t, name).Status
		if s.Phase != arkv1.BackupPhaseFailed || s.FailureReason != InterruptedReason {
			t.Errorf("%s: phase %q reason %q, want Failed %q", name, s.Phase, s.FailureReason, InterruptedReason)
		}
		if !timeEqual(s.CompletionTimestamp, now) {
			t.Errorf("%s: completionTimestamp = %v, want %v", name, s.CompletionTimestamp, now)
		}
	}
	if s := h.get(t, "running").Status; !timeEqual(s.StartTimestamp, start.Time) || !progressIs(s.Progress, 10, 4) || s.Version != 1 {
		t.Errorf("running: other status fields changed: %+v", s)
	}
	updated := map[string]int{}
	for _, u := range h.statusUpdates() {
		updated[u.Name]++
	}
	if len(updated) != 2 || updated["running"] != 1 || updated["running2"] != 1 {
		t.Errorf("status updates per backup = %v, want one each for running and running2", updated)
	}
	for _, want := range []*arkv1.Backup{done, failed, fresh, unset} {
		got := h.get(t, want.Name)
		if got.Status.Phase != want.Status.Phase || got.Status.FailureReason != want.Status.FailureReason || got.Status.CompletionTimestamp != nil {
			t.Errorf("%s: status changed to %+v", want.Name, got.Status)
		}
	}
	if n := len(h.engine.runs()); n != 0 {
		t.Errorf("failInterrupted ran the engine %d times", n)
	}
	eventtest.Expect(t, h.recorder, "Warning Interrupted Backup failed: "+InterruptedReason, "Warning Interrupted Backup failed: "+InterruptedReason)

	// The New ones are then taken as usual.
	h.engine.out = backupengine.Outcome{Items: 1}
	for _, name := range []string{"fresh", "unset"} {
		if err := h.c.sync(context.Background(), key(name)); err != nil {
			t.Fatalf("sync %s: %v", name, err)
		}
		if s := h.get(t, name).Status; s.Phase != arkv1.BackupPhaseCompleted {
			t.Errorf("%s: phase %q after sync, want Completed", name, s.Phase)
		}
	}
	if n := len(h.engine.runs()); n != 2 {
		t.Errorf("engine runs = %d, want 2", n)
	}
}

// A backup the cache still shows InProgress but that finished in the
// meantime is left alone.
func TestFailInterruptedRechecksLatest(t *testing.T) {
	cached := newBackup("b1", arkv1.BackupPhaseInProgress)
	h := newHarness(t)
	stored := newBackup("b1", arkv1.BackupPhaseCompleted)
	if err := h.client.Tracker().Add(stored); err != nil {
		t.Fatal(err)
	}
	h.add(t, cached)

	h.c.failInterrupted(context.Background())

	s := h.get(t, "b1").Status
	if s.Phase != arkv1.BackupPhaseCompleted || s.FailureReason != "" || s.CompletionTimestamp != nil {
		t.Errorf("status = %+v, want the stored Completed status untouched", s)
	}
}

func TestSyncLeavesOtherPhasesAlone(t *testing.T) {
	for _, phase := range []arkv1.BackupPhase{
		arkv1.BackupPhaseInProgress, arkv1.BackupPhaseCompleted, arkv1.BackupPhasePartiallyFailed,
		arkv1.BackupPhaseFailed, arkv1.BackupPhaseFailedValidation, arkv1.BackupPhaseDeleting,
	} {
		t.Run(string(phase), func(t *testing.T) {
			b := newBackup("b1", phase)
			h := newHarness(t, b)
			if err := h.c.sync(context.Background(), key("b1")); err != nil {
				t.Fatalf("sync: %v", err)
			}
			if n := len(h.engine.runs()); n != 0 || h.engineCount() != 0 {
				t.Errorf("engine runs = %d (engines made %d), want 0", n, h.engineCount())
			}
			if a := h.client.Actions(); len(a) != 0 {
				t.Errorf("client actions = %v, want none", a)
			}
			if s := h.get(t, "b1").Status; s.Phase != phase {
				t.Errorf("phase = %q, want %q", s.Phase, phase)
			}
		})
	}
}

func TestEnqueueOnlyNewBackups(t *testing.T) {
	h := newHarness(t)
	for _, phase := range []arkv1.BackupPhase{
		"", arkv1.BackupPhaseNew, arkv1.BackupPhaseInProgress, arkv1.BackupPhaseCompleted,
		arkv1.BackupPhasePartiallyFailed, arkv1.BackupPhaseFailed, arkv1.BackupPhaseFailedValidation,
		arkv1.BackupPhaseDeleting,
	} {
		h.c.enqueue(newBackup("p-"+string(phase), phase))
	}
	h.c.enqueue("not a backup")
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

func TestSyncClaimConflict(t *testing.T) {
	h := newHarness(t, newBackup("b1", arkv1.BackupPhaseNew))
	h.client.PrependReactor("update", "backups", func(a clienttesting.Action) (bool, runtime.Object, error) {
		if a.GetSubresource() != "status" {
			return false, nil, nil
		}
		return true, nil, apierrors.NewConflict(arkv1.Resource("backups"), "b1", errors.New("the object has been modified"))
	})
	h.c.queue.Add(key("b1"))

	if !h.c.processNextWorkItem(context.Background()) {
		t.Fatal("processNextWorkItem reported shutdown")
	}
	if n := len(h.engine.runs()); n != 0 || h.engineCount() != 0 {
		t.Errorf("engine runs = %d (engines made %d), want 0", n, h.engineCount())
	}
	if n := len(h.statusUpdates()); n != 1 {
		t.Errorf("status updates = %d, want 1 (the claim, not retried)", n)
	}
	if n := h.c.queue.NumRequeues(key("b1")); n != 0 {
		t.Errorf("requeues = %d, want 0", n)
	}
	if n := h.c.queue.Len(); n != 0 {
		t.Errorf("queue length = %d, want 0", n)
	}
	if err := h.c.sync(context.Background(), key("b1")); err != nil {
		t.Errorf("sync = %v, want nil", err)
	}
}

func TestSyncClaimOtherErrorIsRetried(t *testing.T) {
	h := newHarness(t, newBackup("b1", arkv1.BackupPhaseNew))
	h.client.PrependReactor("update", "backups", func(a clienttesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewServiceUnavailable("bucket unreachable")
	})
	err := h.c.sync(context.Background(), key("b1"))
	if !apierrors.IsServiceUnavailable(err) {
		t.Errorf("sync = %v, want the ServiceUnavailable error", err)
	}
	if n := len(h.engine.runs()); n != 0 {
		t.Errorf("engine runs = %d, want 0", n)
	}
}

func TestSyncBackupGone(t *testing.T) {
	t.Run("not in lister", func(t *testing.T) {
		h := newHarness(t)
		if err := h.client.Tracker().Add(newBackup("b1", arkv1.BackupPhaseNew)); err != nil {
			t.Fatal(err)
		}
		if err := h.c.sync(context.Background(), key("b1")); err != nil {
			t.Errorf("sync = %v, want nil", err)
		}
		if n := len(h.engine.runs()); n != 0 || h.engineCount() != 0 {
			t.Errorf("engine runs = %d (engines made %d), want 0", n, h.engineCount())
		}
		if a := h.client.Actions(); len(a) != 0 {
			t.Errorf("client actions = %v, want none", a)
		}
	})
	t.Run("deleted from lister", func(t *testing.T) {
		b := newBackup("b1", arkv1.BackupPhaseNew)
		h := newHarness(t, b)
		if err := h.informer.Informer().GetIndexer().Delete(b); err != nil {
			t.Fatal(err)
		}
		if err := h.c.sync(context.Background(), key("b1")); err != nil {
			t.Errorf("sync = %v, want nil", err)
		}
		if n := len(h.engine.runs()); n != 0 {
			t.Errorf("engine runs = %d, want 0", n)
		}
		if a := h.client.Actions(); len(a) != 0 {
			t.Errorf("client actions = %v, want none", a)
		}
	})
	t.Run("not on the server", func(t *testing.T) {
		h := newHarness(t)
		h.add(t, newBackup("b1", arkv1.BackupPhaseNew))
		if err := h.c.sync(context.Background(), key("b1")); err != nil {
			t.Errorf("sync = %v, want nil", err)
		}
		if n := len(h.engine.runs()); n != 0 {
			t.Errorf("engine runs = %d, want 0", n)
		}
	})
	t.Run("bad key", func(t *testing.T) {
		h := newHarness(t)
		if err := h.c.sync(context.Background(), "a/b/c"); err != nil {
			t.Errorf("sync = %v, want nil", err)
		}
	})
}

func TestSyncServerStoppingLeavesBackupInProgress(t *testing.T) {
	h := newHarness(t, newBackup("b1", arkv1.BackupPhaseNew))
	h.engine.release = make(chan struct{}) // never released
	h.engine.started = make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- h.c.sync(ctx, key("b1")) }()
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
	if len(updates) != 1 || updates[0].Status.Phase != arkv1.BackupPhaseInProgress {
		t.Errorf("status updates = %d, want only the claim", len(updates))
	}
	if s := h.get(t, "b1").Status; s.Phase != arkv1.BackupPhaseInProgress || s.FailureReason != "" || s.CompletionTimestamp != nil {
		t.Errorf("status = %+v, want still InProgress with no failure", s)
	}

	// The next leader marks it interrupted.
	h.add(t, h.get(t, "b1"))
	h.c.failInterrupted(context.Background())
	if s := h.get(t, "b1").Status; s.Phase != arkv1.BackupPhaseFailed || s.FailureReason != InterruptedReason {
		t.Errorf("after failInterrupted: phase %q reason %q", s.Phase, s.FailureReason)
	}
}

// A deletion requested while the backup runs must survive the final write.
func TestSyncDeletionRequestedDuringRunStands(t *testing.T) {
	h := newHarness(t, newBackup("b1", arkv1.BackupPhaseNew))
	h.engine.out = backupengine.Outcome{Items: 3}
	h.engine.during = func(ctx context.Context) {
		// What the registry's Delete does: mark the backup Deleting.
		b, err := h.client.ArkV1().Backups(testNS).Get(ctx, "b1", metav1.GetOptions{})
		if err != nil {
			t.Error(err)
			return
		}
		b.Status.Phase = arkv1.BackupPhaseDeleting
		now := metav1.NewTime(h.clock.Now())
		b.DeletionTimestamp = &now
		if err := h.client.Tracker().Update(arkv1.SchemeGroupVersion.WithResource("backups"), b, testNS); err != nil {
			t.Error(err)
		}
	}
	if err := h.c.sync(context.Background(), key("b1")); err != nil {
		t.Fatalf("sync: %v", err)
	}
	if s := h.get(t, "b1").Status; s.Phase != arkv1.BackupPhaseDeleting {
		t.Errorf("phase = %q, want Deleting (the deletion request must not be undone)", s.Phase)
	}
}

func TestRunEndToEnd(t *testing.T) {
	h := newHarness(t)
	for _, b := range []*arkv1.Backup{
		newBackup("fresh", arkv1.BackupPhaseNew),
		newBackup("stale", arkv1.BackupPhaseInProgress),
		newBackup("old", arkv1.BackupPhaseCompleted),
	} {
		if err := h.client.Tracker().Add(b); err != nil {
			t.Fatal(err)
		}
	}
	h.engine.steps = []progressStep{{2 * time.Second, 4, 2}}
	h.engine.out = backupengine.Outcome{Items: 4, Warnings: 1}

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

	var last *arkv1.Backup
	err := wait.PollUntilContextTimeout(ctx, 10*time.Millisecond, 20*time.Second, true, func(ctx context.Context) (bool, error) {
		b, err := h.client.ArkV1().Backups(testNS).Get(ctx, "fresh", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		last = b
		return b.Status.Phase == arkv1.BackupPhaseCompleted, nil
	})
	if err != nil {
		t.Fatalf("waiting for Completed: %v (last status %+v)", err, last.Status)
	}
	s := last.Status
	if s.Warnings != 1 || !progressIs(s.Progress, 4, 4) || s.Version != 1 || !timeEqual(s.StartTimestamp, t0) ||
		!timeEqual(s.CompletionTimestamp, t0.Add(2*time.Second)) || !timeEqual(s.Expiration, t0.Add(24*time.Hour)) {
		t.Errorf("final status = %+v", s)
	}
	if s := h.get(t, "stale").Status; s.Phase != arkv1.BackupPhaseFailed || s.FailureReason != InterruptedReason {
		t.Errorf("stale: phase %q reason %q, want Failed/interrupted", s.Phase, s.FailureReason)
	}
	if s := h.get(t, "old").Status; s.Phase != arkv1.BackupPhaseCompleted || s.CompletionTimestamp != nil {
		t.Errorf("old: status changed to %+v", s)
	}
	runs := h.engine.runs()
	if len(runs) != 1 || runs[0].Name != "fresh" {
		t.Errorf("engine runs = %d, want exactly one, for fresh", len(runs))
	}
	var progressWrites int
	for _, u := range h.statusUpdates() {
		if u.Name == "fresh" && u.Status.Phase == arkv1.BackupPhaseInProgress && progressIs(u.Status.Progress, 4, 2) {
			progressWrites++
		}
	}
	if progressWrites != 1 {
		t.Errorf("progress writes {4 2} = %d, want 1", progressWrites)
	}
}

// A Backup that arrived through the bucket without a requester or with an
// invalid selector is never run: it fails validation with the reasons.
func TestSyncRefusesUnusableBackups(t *testing.T) {
	noRequester := newBackup("no-requester", arkv1.BackupPhaseNew)
	noRequester.Spec.Requester = nil
	badSelector := newBackup("bad-selector", "")
	badSelector.Spec.LabelSelector = &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "a", Operator: "Near"}}}
	h := newHarness(t, noRequester, badSelector)
	for name, want := range map[string]string{
		"no-requester": "spec.requester: the backup records no requester",
		"bad-selector": "spec.labelSelector: ",
	} {
		if err := h.c.sync(context.Background(), key(name)); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got := h.get(t, name)
		if got.Status.Phase != arkv1.BackupPhaseFailedValidation || len(got.Status.ValidationErrors) != 1 || !strings.HasPrefix(got.Status.ValidationErrors[0], want) {
			t.Errorf("%s: %+v", name, got.Status)
		}
	}
	if n := h.engineCount(); n != 0 {
		t.Errorf("the engine ran %d times for unusable backups", n)
	}
	eventtest.Expect(t, h.recorder, "Warning FailedValidation Backup refused: spec.", "Warning FailedValidation Backup refused: spec.")
}

// A backup outside the home namespace is confined when it starts, not only
// when the API accepted it: one that reaches further (written into the
// bucket, or accepted under other rules) fails validation and never runs.
func TestSyncRechecksConfinement(t *testing.T) {
	wide := newBackup("wide", arkv1.BackupPhaseNew)
	wide.Namespace = "team-a"
	wide.Spec.IncludedNamespaces = []string{"*"}
	wide.Spec.IncludeClusterResources = ptrTo(true)
	own := newBackup("own", arkv1.BackupPhaseNew)
	own.Namespace = "team-a"
	own.Spec.IncludedNamespaces = []string{"team-a"}
	h := newHarness(t, wide, own)
	h.c.Scope = validation.Scope{HomeNamespace: testNS}
	ctx := context.Background()
	if err := h.c.sync(ctx, "team-a/wide"); err != nil {
		t.Fatal(err)
	}
	got, err := h.client.ArkV1().Backups("team-a").Get(ctx, "wide", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	msgs := strings.Join(got.Status.ValidationErrors, "\n")
	if got.Status.Phase != arkv1.BackupPhaseFailedValidation || !strings.Contains(msgs, "spec.includedNamespaces[0]") || !strings.Contains(msgs, "spec.includeClusterResources") {
		t.Errorf("wide: %+v", got.Status)
	}
	if n := h.engineCount(); n != 0 {
		t.Fatalf("the engine ran for a backup reaching outside its namespace")
	}
	if err := h.c.sync(ctx, "team-a/own"); err != nil {
		t.Fatal(err)
	}
	if n := h.engineCount(); n != 1 {
		t.Errorf("a confined backup of its own namespace did not run (%d engines)", n)
	}
}

func ptrTo[T any](v T) *T { return &v }

// Only backups this cluster's API signed run. A record that appeared in the
// bucket fails validation and never reaches the engine, however powerful the
// requester it names; another cluster's backup is left alone entirely.
func TestSyncRunsOnlyAcceptedBackups(t *testing.T) {
	mine, _ := provenance.NewSigner(bytes.Repeat([]byte{7}, provenance.KeySize), "this-cluster")
	theirs, _ := provenance.NewSigner(bytes.Repeat([]byte{8}, provenance.KeySize), "other-cluster")
	signed := newBackup("signed", arkv1.BackupPhaseNew)
	if err := mine.Sign(signed); err != nil {
		t.Fatal(err)
	}
	forged := newBackup("forged", arkv1.BackupPhaseNew)
	forged.Spec.Requester = &arkv1.UserInfo{Username: "admin", Groups: []string{"system:masters"}}
	tampered := signed.DeepCopy()
	tampered.Name = "tampered"
	tampered.Spec.IncludedNamespaces = []string{"*"}
	foreign := newBackup("foreign", arkv1.BackupPhaseNew)
	if err := theirs.Sign(foreign); err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, signed, forged, tampered, foreign)
	h.c.Provenance = mine
	for _, name := range []string{"forged", "tampered", "foreign"} {
		if err := h.c.sync(context.Background(), key(name)); err != nil {
			t.Fatal(err)
		}
	}
	if n := h.engineCount(); n != 0 {
		t.Fatalf("the engine ran %d times for backups this API did not accept", n)
	}
	for _, name := range []string{"forged", "tampered"} {
		got := h.get(t, name)
		if got.Status.Phase != arkv1.BackupPhaseFailedValidation || !strings.Contains(strings.Join(got.Status.ValidationErrors, " "), "was not accepted by this cluster's Ark API") {
			t.Errorf("%s: %+v", name, got.Status)
		}
	}
	if got := h.get(t, "foreign"); got.Status.Phase != arkv1.BackupPhaseNew {
		t.Errorf("another cluster's backup was touched: %+v", got.Status)
	}
	if err := h.c.sync(context.Background(), key("signed")); err != nil {
		t.Fatal(err)
	}
	if n := h.engineCount(); n != 1 {
		t.Errorf("the signed backup did not run")
	}
}

// A final status write that fails (the bucket briefly read-only or
// unreachable) is retried until it lands: the backup ends Completed rather
// than InProgress for ever.
func TestFinalStatusIsRetriedUntilTheBucketTakesIt(t *testing.T) {
	h := newHarness(t, newBackup("b1", arkv1.BackupPhaseNew))
	h.c.FinalStatusBackoff = wait.Backoff{Duration: time.Millisecond, Factor: 1, Steps: 100}
	h.engine.out = backupengine.Outcome{Items: 3}
	var mu sync.Mutex
	failures := 0
	h.client.PrependReactor("update", "backups", func(a clienttesting.Action) (bool, runtime.Object, error) {
		b := a.(clienttesting.UpdateAction).GetObject().(*arkv1.Backup)
		mu.Lock()
		defer mu.Unlock()
		if b.Status.CompletionTimestamp != nil && failures < 3 {
			failures++
			return true, nil, apierrors.NewServiceUnavailable("backup storage location \"default\" is unavailable: read-only file system")
		}
		return false, nil, nil
	})
	if err := h.c.sync(context.Background(), key("b1")); err != nil {
		t.Fatalf("sync: %v", err)
	}
	if failures != 3 {
		t.Fatalf("final write failed %d times, want 3", failures)
	}
	if s := h.get(t, "b1").Status; s.Phase != arkv1.BackupPhaseCompleted || !progressIs(s.Progress, 3, 3) {
		t.Errorf("status %+v, want Completed with 3 items", s)
	}

	// When the server stops first, the error says so and the next leader
	// marks the backup interrupted.
	h2 := newHarness(t, newBackup("b2", arkv1.BackupPhaseNew))
	h2.c.FinalStatusBackoff = wait.Backoff{Duration: time.Millisecond, Factor: 1, Steps: 5}
	h2.client.PrependReactor("update", "backups", func(a clienttesting.Action) (bool, runtime.Object, error) {
		if a.(clienttesting.UpdateAction).GetObject().(*arkv1.Backup).Status.CompletionTimestamp != nil {
			return true, nil, apierrors.NewServiceUnavailable("read-only file system")
		}
		return false, nil, nil
	})
	if err := h2.c.sync(context.Background(), key("b2")); err == nil || !strings.Contains(err.Error(), "read-only file system") {
		t.Errorf("sync = %v, want the last write error", err)
	}
	if s := h2.get(t, "b2").Status; s.Phase != arkv1.BackupPhaseInProgress {
		t.Errorf("phase %q, want InProgress", s.Phase)
	}
}

// A backup deleted while its final status waits for the bucket, and its
// name taken again by a new backup, leaves the new one alone: the late
// write must not mark a backup that never ran Failed (or Completed).
func TestFinalStatusLeavesANewBackupOfTheSameNameAlone(t *testing.T) {
	h := newHarness(t, newBackup("b1", arkv1.BackupPhaseNew))
	h.c.FinalStatusBackoff = wait.Backoff{Duration: time.Millisecond, Factor: 1, Steps: 100}
	h.engine.err = errors.New("uploading: backup location is unavailable")
	successor := newBackup("b1", arkv1.BackupPhaseNew)
	successor.UID = "uid-b1-successor"
	var mu sync.Mutex
	replaced := false
	h.client.PrependReactor("update", "backups", func(a clienttesting.Action) (bool, runtime.Object, error) {
		b := a.(clienttesting.UpdateAction).GetObject().(*arkv1.Backup)
		mu.Lock()
		defer mu.Unlock()
		if b.Status.CompletionTimestamp == nil || replaced {
			return false, nil, nil
		}
		// The bucket is away; meanwhile the backup is deleted and a new
		// one of the same name created.
		replaced = true
		if err := h.client.Tracker().Delete(arkv1.SchemeGroupVersion.WithResource("backups"), testNS, "b1"); err != nil {
			t.Error(err)
		}
		if err := h.client.Tracker().Create(arkv1.SchemeGroupVersion.WithResource("backups"), successor.DeepCopy(), testNS); err != nil {
			t.Error(err)
		}
		return true, nil, apierrors.NewServiceUnavailable("backup storage location \"default\" is unavailable")
	})
	if err := h.c.sync(context.Background(), key("b1")); err != nil {
		t.Fatalf("sync: %v", err)
	}
	if !replaced {
		t.Fatal("the final write was never attempted")
	}
	got := h.get(t, "b1")
	if got.UID != successor.UID || got.Status.Phase != arkv1.BackupPhaseNew || got.Status.CompletionTimestamp != nil || got.Status.FailureReason != "" {
		t.Errorf("the new backup of the same name was written: uid %s, status %+v", got.UID, got.Status)
	}
}

// An interrupted backup keeps the log it published while it ran, and no
// live file is left behind.
func TestInterruptedBackupKeepsItsLiveLog(t *testing.T) {
	store, err := objectstore.NewFileStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, newBackup("b1", arkv1.BackupPhaseInProgress), newBackup("b2", arkv1.BackupPhaseInProgress))
	h.c.Stores = func(string) (objectstore.Store, error) { return store, nil }
	h.c.Layout = backupstore.Layout{HomeNamespace: testNS}
	ctx := context.Background()
	ref := h.c.Layout.Backup(testNS, "b1")
	if _, err := objectstore.PutBytes(ctx, store, ref.LiveLogKey(), []byte("listing configmaps\n"), objectstore.Conditions{}); err != nil {
		t.Fatal(err)
	}
	h.c.failInterrupted(ctx)
	if _, err := store.Attrs(ctx, ref.LiveLogKey()); !errors.Is(err, objectstore.ErrNotFound) {
		t.Errorf("live log left behind: %v", err)
	}
	data, _, err := objectstore.ReadAll(ctx, store, ref.LogsKey(), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	gz, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	text, _ := io.ReadAll(gz)
	if !strings.HasPrefix(string(text), "listing configmaps\n") || !strings.Contains(string(text), "backup interrupted") {
		t.Errorf("log = %q", text)
	}
	if _, err := store.Attrs(ctx, h.c.Layout.Backup(testNS, "b2").LogsKey()); !errors.Is(err, objectstore.ErrNotFound) {
		t.Errorf("a log was made for a backup that published none: %v", err)
	}
}

// An interrupted encrypted backup's live log is decrypted to be kept, and
// its log is written encrypted with the backup's own data key.
func TestInterruptedEncryptedBackupKeepsItsLiveLogEncrypted(t *testing.T) {
	store, err := objectstore.NewFileStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	keys, _ := backupstoretest.Keys(t, "k1", "k1")
	h := newHarness(t, newBackup("b1", arkv1.BackupPhaseInProgress))
	h.c.Stores = func(string) (objectstore.Store, error) { return store, nil }
	h.c.Keys = func(string) *encryption.Keyring { return keys }
	h.c.Layout = backupstore.Layout{HomeNamespace: testNS}
	ctx := context.Background()
	ref := backupstore.Layout{HomeNamespace: testNS, Keys: keys}.Backup(testNS, "b1")
	dk, err := ref.StartEncryption(ctx, store)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := objectstore.PutBytes(ctx, store, ref.LiveLogKey(), dk.Seal([]byte("listing secrets\n"), ref.LiveLogKey()), objectstore.Conditions{}); err != nil {
		t.Fatal(err)
	}
	h.c.failInterrupted(ctx)
	stored, _, err := objectstore.ReadAll(ctx, store, ref.LogsKey(), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.HasPrefix(stored, []byte{0x1f, 0x8b}) {
		t.Fatal("the kept log is stored in plaintext")
	}
	rc, err := ref.OpenFile(ctx, store, ref.LogsKey())
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	gz, err := gzip.NewReader(rc)
	if err != nil {
		t.Fatal(err)
	}
	text, _ := io.ReadAll(gz)
	if !strings.HasPrefix(string(text), "listing secrets\n") || !strings.Contains(string(text), "backup interrupted") {
		t.Errorf("log = %q", text)
	}
}
