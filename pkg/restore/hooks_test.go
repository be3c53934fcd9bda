package restore

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	clienttesting "k8s.io/client-go/testing"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
)

// fakeExec records the commands run and answers from a script.
type fakeExec struct {
	mu     sync.Mutex
	calls  []string
	answer func(pod, container string, command []string) (string, string, error)
}

func (e *fakeExec) Exec(_ context.Context, ns, pod, container string, command []string) (string, string, error) {
	e.mu.Lock()
	e.calls = append(e.calls, ns+"/"+pod+" "+container+" "+strings.Join(command, " "))
	e.mu.Unlock()
	if e.answer != nil {
		return e.answer(pod, container, command)
	}
	return "ok from " + pod, "", nil
}

// execAccess is fakeAccess that also answers exec rights.
type execAccess struct {
	*fakeAccess
	denyExec string
}

func (a execAccess) CanExec(_ context.Context, _ *arkv1.UserInfo, ns string) (bool, string, error) {
	if ns == a.denyExec {
		return false, "RBAC: no create on pods/exec", nil
	}
	return true, "", nil
}

// runningPods makes the fake cluster answer that restored pods run, except
// those named in stuck.
func runningPods(f *fixture, stuck ...string) {
	f.dyn.PrependReactor("get", "pods", func(a clienttesting.Action) (bool, runtime.Object, error) {
		g := a.(clienttesting.GetActionImpl)
		obj, err := f.dyn.Tracker().Get(g.GetResource(), g.GetNamespace(), g.GetName())
		if err != nil {
			return true, nil, err
		}
		u := obj.(*unstructured.Unstructured).DeepCopy()
		state := map[string]any{"running": map[string]any{"startedAt": "2026-12-04T00:00:00Z"}}
		phase := "Running"
		for _, s := range stuck {
			if s == g.GetName() {
				state, phase = map[string]any{"waiting": map[string]any{"reason": "ContainerCreating"}}, "Pending"
			}
		}
		_ = unstructured.SetNestedField(u.Object, phase, "status", "phase")
		_ = unstructured.SetNestedSlice(u.Object, []any{map[string]any{"name": "c", "state": state}}, "status", "containerStatuses")
		return true, u, nil
	})
}

func withHooks(specs ...arkv1.RestoreResourceHookSpec) func(*arkv1.Restore) {
	return func(r *arkv1.Restore) { r.Spec.Hooks.Resources = specs }
}

func execHook(onError arkv1.HookErrorMode, command ...string) arkv1.RestoreResourceHook {
	return arkv1.RestoreResourceHook{Exec: &arkv1.ExecRestoreHook{Command: command, OnError: onError, WaitTimeout: metav1.Duration{Duration: 3 * time.Second}}}
}

// TestRestoreHooks: an init hook's container goes before the pod's own, an
// exec hook runs in the pod once it runs and its output is in the results,
// and a pod's own annotation takes the place of the spec's exec hooks.
func TestRestoreHooks(t *testing.T) {
	f := newFixture(t)
	f.seedNamespace("shop")
	exec := &fakeExec{}
	f.restorer.Hooks = exec
	runningPods(f)
	withInit := pod("shop", "db-0", "Running")
	_ = unstructured.SetNestedSlice(withInit.obj.Object, []any{map[string]any{"name": "own-init", "image": "busybox"}}, "spec", "initContainers")
	withInit = withLabels(withInit, map[string]string{"app": "db"})
	annotated := withAnnotations(withLabels(pod("shop", "db-1", "Running"), map[string]string{"app": "db"}), map[string]string{
		"post.hook.restore.ark.heptio.com/command": `["/bin/sh","-c","echo from annotation"]`,
	})
	f.backup(withInit, annotated, withLabels(pod("shop", "web-0", "Running"), map[string]string{"app": "web"}))

	out := f.run(newRestore(withHooks(arkv1.RestoreResourceHookSpec{
		Name:          "prepare-db",
		LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}},
		PostHooks: []arkv1.RestoreResourceHook{
			{Init: &arkv1.InitRestoreHook{InitContainers: []runtime.RawExtension{{Raw: []byte(`{"name":"restore-data","image":"busybox","command":["cp","-r","/backup","/data"]}`)}}}},
			execHook("", "/bin/check", "--ready"),
		},
	})))

	inits, _, _ := unstructured.NestedSlice(f.sent("pods shop/db-0").Object, "spec", "initContainers")
	if len(inits) != 2 || inits[0].(map[string]any)["name"] != "restore-data" || inits[1].(map[string]any)["name"] != "own-init" {
		t.Errorf("db-0's init containers: %v", inits)
	}
	if inits, _, _ := unstructured.NestedSlice(f.sent("pods shop/web-0").Object, "spec", "initContainers"); len(inits) != 0 {
		t.Errorf("a pod the hook does not select got init containers: %v", inits)
	}
	doc := f.results(testRestore)
	if it := doc.want(t, "pods", "shop", "db-0", ActionCreated); it != nil && strings.Join(it.Hooks, ";") != "init hook prepare-db added init container restore-data" {
		t.Errorf("db-0's hooks: %q", it.Hooks)
	}
	equalStrings(t, "commands run", sortedCopy(exec.calls), []string{
		"shop/db-0 c /bin/check --ready",
		"shop/db-1 c /bin/sh -c echo from annotation",
	})
	if len(doc.Hooks) != 2 || doc.Summary.HooksRun != 2 || doc.Summary.HooksFailed != 0 {
		t.Fatalf("hook results %+v, summary %+v", doc.Hooks, doc.Summary)
	}
	for _, h := range doc.Hooks {
		if h.Outcome != HookSucceeded || h.Stdout != "ok from "+h.Pod || h.OnError != "Continue" {
			t.Errorf("hook result %+v", h)
		}
	}
	if out.Errors != 0 || out.Warnings != 0 {
		t.Errorf("outcome %+v", out.Summary)
	}
	if logs := f.logs(testRestore); !strings.Contains(logs, `exec hook prepare-db in pod shop/db-0 container c succeeded; it printed "ok from db-0"`) {
		t.Errorf("the log does not show the hook's output:\n%s", logs)
	}
}

// Failures: a Fail hook is an error of the restore and stops the pod's later
// hooks; a Continue hook's failure is a warning; a container that never runs
// and a requester who may not exec each fail the hook with the reason.
func TestRestoreHookFailures(t *testing.T) {
	f := newFixture(t)
	f.seedNamespace("shop")
	f.seedNamespace("locked")
	exec := &fakeExec{answer: func(pod, _ string, command []string) (string, string, error) {
		if command[0] == "/bin/false" {
			return "", "no such table", errors.New("command terminated with exit code 1")
		}
		return "fine", "", nil
	}}
	f.restorer.Hooks = exec
	f.restorer.Access = execAccess{fakeAccess: f.access, denyExec: "locked"}
	runningPods(f, "stuck")
	f.backup(pod("shop", "a", "Running"), pod("shop", "b", "Running"), pod("shop", "stuck", "Pending"), pod("locked", "c", "Running"))
	out := f.run(newRestore(withHooks(
		arkv1.RestoreResourceHookSpec{Name: "strict", IncludedNamespaces: []string{"shop"}, LabelSelector: nil,
			PostHooks: []arkv1.RestoreResourceHook{execHook(arkv1.HookErrorModeFail, "/bin/false"), execHook("", "/bin/never-reached")}},
		arkv1.RestoreResourceHookSpec{Name: "lenient", IncludedNamespaces: []string{"locked"},
			PostHooks: []arkv1.RestoreResourceHook{execHook(arkv1.HookErrorModeContinue, "/bin/true")}},
	)))
	doc := f.results(testRestore)
	byPod := map[string]HookResult{}
	for _, h := range doc.Hooks {
		if _, dup := byPod[h.Pod]; dup {
			t.Errorf("pod %s ran a hook after a failed Fail hook: %+v", h.Pod, doc.Hooks)
		}
		byPod[h.Pod] = h
	}
	for pod, want := range map[string]string{
		"a":     `command terminated with exit code 1: "no such table"`,
		"b":     `command terminated with exit code 1`,
		"stuck": "container c of pod shop/stuck was not running within 3s (pod is Pending)",
		"c":     "alice may not exec into pods in locked: RBAC: no create on pods/exec",
	} {
		if h := byPod[pod]; h.Outcome != HookFailed || !strings.Contains(h.Error, want) {
			t.Errorf("pod %s: %+v, want failed with %q", pod, h, want)
		}
	}
	for _, call := range exec.calls {
		if strings.Contains(call, "never-reached") || strings.Contains(call, "locked/") || strings.Contains(call, "stuck") {
			t.Errorf("ran %q", call)
		}
	}
	// Three Fail hooks failed (errors); the Continue one is a warning.
	if out.Errors != 3 || out.Warnings != 1 || doc.Summary.HooksFailed != 4 {
		t.Errorf("errors %d, warnings %d, hooks failed %d; want 3, 1, 4", out.Errors, out.Warnings, doc.Summary.HooksFailed)
	}
}

// A preview adds init containers to what it dry-runs (so admission checks
// them) and runs no exec hook, saying what would run.
func TestPreviewRunsNoHooks(t *testing.T) {
	f := newFixture(t)
	f.seedNamespace("shop")
	exec := &fakeExec{}
	f.restorer.Hooks = exec
	f.backup(pod("shop", "a", "Running"))
	f.run(newRestore(preview(""), withHooks(arkv1.RestoreResourceHookSpec{Name: "h", PostHooks: []arkv1.RestoreResourceHook{
		{Init: &arkv1.InitRestoreHook{InitContainers: []runtime.RawExtension{{Raw: []byte(`{"name":"i","image":"busybox"}`)}}}},
		execHook("", "/bin/check"),
	}})))
	if len(exec.calls) != 0 {
		t.Errorf("a preview ran %v", exec.calls)
	}
	if len(f.dryRuns) != 1 {
		t.Fatalf("dry runs: %d", len(f.dryRuns))
	}
	if inits, _, _ := unstructured.NestedSlice(f.dryRuns[0].obj.Object, "spec", "initContainers"); len(inits) != 1 {
		t.Errorf("the dry run lacks the init container: %v", inits)
	}
	it := f.results(testRestore).want(t, "pods", "shop", "a", ActionWouldCreate)
	if it != nil && !strings.Contains(strings.Join(it.Hooks, ";"), `exec hook h would run ["/bin/check"] in container c`) {
		t.Errorf("hooks %q", it.Hooks)
	}
}
