package backup

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
)

var podsGVR = schema.GroupVersionResource{Version: "v1", Resource: "pods"}

// hookExec is a fake pods/exec: it records calls and, like a real hook
// would, changes the pod (an annotation) so the test can see whether the pod
// was read after the hook.
type hookExec struct {
	e      *env
	calls  []string
	failOn string
}

func (h *hookExec) Exec(ctx context.Context, ns, pod, container string, command []string) (string, string, error) {
	h.calls = append(h.calls, ns+"/"+pod+"/"+container+":"+strings.Join(command, " "))
	if command[0] == h.failOn {
		return "", "no such file", errors.New("command terminated with exit code 1")
	}
	obj, err := h.e.dyn.Resource(podsGVR).Namespace(ns).Get(ctx, pod, metav1.GetOptions{})
	if err != nil {
		return "", "", err
	}
	ann := obj.GetAnnotations()
	ann["hook-ran"] = command[0]
	obj.SetAnnotations(ann)
	_, err = h.e.dyn.Resource(podsGVR).Namespace(ns).Update(ctx, obj, metav1.UpdateOptions{})
	return "done", "", err
}

func addPod(t *testing.T, e *env, name, phase string, annotations map[string]any) {
	t.Helper()
	p := object("v1", "Pod", "app", name, map[string]any{"app": "db"}, map[string]any{
		"spec":   map[string]any{"containers": []any{map[string]any{"name": "db"}, map[string]any{"name": "side"}}},
		"status": map[string]any{"phase": phase},
	})
	if annotations == nil {
		annotations = map[string]any{}
	}
	_ = unstructured.SetNestedMap(p.Object, annotations, "metadata", "annotations")
	if _, err := e.dyn.Resource(podsGVR).Namespace("app").Create(context.Background(), p, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func podAnnotations(t *testing.T, s *stored, name string) map[string]string {
	t.Helper()
	var pod struct {
		Metadata struct {
			Annotations map[string]string `json:"annotations"`
		} `json:"metadata"`
	}
	data, ok := s.contents["resources/pods/namespaces/app/"+name+".json"]
	if !ok {
		t.Fatalf("pod %s not in the tarball: %v", name, s.entries)
	}
	if err := json.Unmarshal(data, &pod); err != nil {
		t.Fatal(err)
	}
	return pod.Metadata.Annotations
}

// A pod's pre hook runs before the pod is read for the backup, the post hook
// after: the backed-up pod carries what the pre hook did and not the post's.
func TestHooksRunAroundThePod(t *testing.T) {
	e := newEnv(t)
	addPod(t, e, "db-0", "Running", map[string]any{
		"pre.hook.backup.ark.heptio.com/command":  `["freeze"]`,
		"post.hook.backup.ark.heptio.com/command": `["thaw"]`,
	})
	h := &hookExec{e: e}
	e.b.Hooks = h
	s := e.run(t, newBackup("b1", func(s *arkv1.BackupSpec) { s.IncludedNamespaces = []string{"app"} }))
	if s.err != nil {
		t.Fatal(s.err)
	}
	if want := []string{"app/db-0/db:freeze", "app/db-0/db:thaw"}; strings.Join(h.calls, ",") != strings.Join(want, ",") {
		t.Errorf("hook calls %v, want %v", h.calls, want)
	}
	if got := podAnnotations(t, s, "db-0")["hook-ran"]; got != "freeze" {
		t.Errorf("backed-up pod shows hook-ran=%q, want the pre hook's mark", got)
	}
	if !strings.Contains(s.log, `running pre hook annotation in pod app/db-0 container db: ["freeze"]`) {
		t.Errorf("log:\n%s", s.log)
	}
}

func TestSpecHooksAndErrorModes(t *testing.T) {
	spec := func(mode arkv1.HookErrorMode) func(*arkv1.BackupSpec) {
		return func(s *arkv1.BackupSpec) {
			s.IncludedNamespaces = []string{"app"}
			s.Hooks.Resources = []arkv1.BackupResourceHookSpec{{
				Name:          "quiesce",
				LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}},
				PreHooks:      []arkv1.BackupResourceHook{{Exec: &arkv1.ExecHook{Container: "side", Command: []string{"broken"}, OnError: mode}}},
			}}
		}
	}

	e := newEnv(t)
	addPod(t, e, "db-0", "Running", nil)
	e.b.Hooks = &hookExec{e: e, failOn: "broken"}
	s := e.run(t, newBackup("cont", spec(arkv1.HookErrorModeContinue)))
	if s.err != nil || s.out.Warnings != 1 || s.out.Errors != 0 {
		t.Fatalf("Continue hook failure: %v %+v", s.err, s.out)
	}
	if msgs := s.results.Warnings.Namespaces["app"]; len(msgs) != 1 || !strings.Contains(msgs[0], "pre hook quiesce in pod app/db-0 failed") {
		t.Errorf("warnings: %+v", s.results.Warnings)
	}

	e = newEnv(t)
	addPod(t, e, "db-0", "Running", nil)
	e.b.Hooks = &hookExec{e: e, failOn: "broken"}
	s = e.run(t, newBackup("fail", spec(arkv1.HookErrorModeFail)))
	if s.err == nil || !strings.Contains(s.err.Error(), "pre hook quiesce in pod app/db-0 failed: command terminated with exit code 1: \"no such file\"") {
		t.Fatalf("Fail hook failure: %v", s.err)
	}
}

func TestHooksSkippedWhereTheyCannotRun(t *testing.T) {
	e := newEnv(t)
	addPod(t, e, "pending", "Pending", map[string]any{"pre.hook.backup.ark.heptio.com/command": "freeze"})
	h := &hookExec{e: e}
	e.b.Hooks = h
	s := e.run(t, newBackup("b1", func(s *arkv1.BackupSpec) { s.IncludedNamespaces = []string{"app"} }))
	if s.err != nil || len(h.calls) != 0 || s.out.Warnings != 1 {
		t.Fatalf("hooks of a pending pod: %v calls=%v %+v", s.err, h.calls, s.out)
	}
	if _, ok := s.contents["resources/pods/namespaces/app/pending.json"]; !ok {
		t.Errorf("the pending pod is not backed up")
	}

	e = newEnv(t)
	addPod(t, e, "db-0", "Running", map[string]any{"pre.hook.backup.ark.heptio.com/command": "freeze"})
	e.b.Hooks = nil
	s = e.run(t, newBackup("b2", func(s *arkv1.BackupSpec) { s.IncludedNamespaces = []string{"app"} }))
	if s.err != nil || s.out.Warnings != 1 || !strings.Contains(s.log, "cannot run hooks") {
		t.Fatalf("no executor: %v %+v\n%s", s.err, s.out, s.log)
	}
}

// denyExec is an access checker that lets the requester list everything but
// not exec into pods.
type denyExec struct{ *fakeAccess }

func (denyExec) CanExec(context.Context, *arkv1.UserInfo, string) (bool, string, error) {
	return false, "no pods/exec", nil
}

func TestHooksNeedTheRequesterToMayExec(t *testing.T) {
	e := newEnv(t)
	addPod(t, e, "db-0", "Running", map[string]any{"pre.hook.backup.ark.heptio.com/command": "freeze"})
	h := &hookExec{e: e}
	e.b.Hooks = h
	e.b.Access = denyExec{e.access}
	s := e.run(t, newBackup("b1", func(s *arkv1.BackupSpec) { s.IncludedNamespaces = []string{"app"} }))
	if s.err != nil || len(h.calls) != 0 || s.out.Errors != 1 {
		t.Fatalf("exec denied: %v calls=%v %+v", s.err, h.calls, s.out)
	}
	if msgs := s.results.Errors.Namespaces["app"]; len(msgs) != 1 || !strings.Contains(msgs[0], "alice may not exec into pods in app") {
		t.Errorf("errors: %+v", s.results.Errors)
	}
}

// A pod's hook output is quoted in the log, so a pod cannot forge log
// lines; and a hook's timeout is capped by MaxHookTimeout, whatever the
// pod's annotation asks for.
func TestHookOutputQuotedAndTimeoutCapped(t *testing.T) {
	e := newEnv(t)
	addPod(t, e, "db-0", "Running", map[string]any{
		"pre.hook.backup.ark.heptio.com/command": "freeze",
		"pre.hook.backup.ark.heptio.com/timeout": "8760h",
	})
	var timeout time.Duration
	e.b.Hooks = execFunc(func(ctx context.Context, ns, pod, container string, command []string) (string, string, error) {
		if d, ok := ctx.Deadline(); ok {
			timeout = time.Until(d)
		}
		return "done\nerror forged line: everything failed", "", nil
	})
	e.b.MaxHookTimeout = time.Minute
	s := e.run(t, newBackup("b1", appOnly))
	mustSucceed(t, s)
	if timeout <= 0 || timeout > time.Minute {
		t.Errorf("the hook ran with a timeout of %s, not at most a minute", timeout)
	}
	if strings.Contains(s.log, "\nerror forged line") {
		t.Errorf("the pod forged a log line:\n%s", s.log)
	}
	if !strings.Contains(s.log, `printed "done\nerror forged line: everything failed"`) {
		t.Errorf("the output is not quoted in the log:\n%s", s.log)
	}
	if !strings.Contains(s.log, "asks for a timeout of 8760h0m0s; it gets at most 1m0s") {
		t.Errorf("the log does not say the timeout was capped:\n%s", s.log)
	}
}

type execFunc func(ctx context.Context, ns, pod, container string, command []string) (string, string, error)

func (f execFunc) Exec(ctx context.Context, ns, pod, container string, command []string) (string, string, error) {
	return f(ctx, ns, pod, container, command)
}

// No message breaks a line of the log: a pod's annotation (here, the hook
// command) or any other text from the cluster stays on its own line.
func TestLogLinesCannotBeForged(t *testing.T) {
	e := newEnv(t)
	addPod(t, e, "db-0", "Running", map[string]any{
		"pre.hook.backup.ark.heptio.com/command": "[\"sh\",\"-c\",\"x\\nerror all backups are gone\\r\\nerror and more\"]",
	})
	e.b.Hooks = orderedExec{&[]string{}}
	s := e.run(t, newBackup("b1", appOnly))
	mustSucceed(t, s)
	for _, line := range strings.Split(s.log, "\n") {
		if strings.HasPrefix(line, "error ") {
			t.Errorf("a forged line: %q", line)
		}
	}
}
