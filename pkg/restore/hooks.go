package restore

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
	"github.com/arkproject/ark/pkg/hooks"
)

// ExecAccessChecker is implemented by access checkers that can say whether
// a requester may exec into pods: restore hooks exec as the requester, and
// a user who could not `kubectl exec` into the pod gets a clear result
// rather than an opaque refusal from the API server.
type ExecAccessChecker interface {
	CanExec(ctx context.Context, user *arkv1.UserInfo, namespace string) (allowed bool, reason string, err error)
}

// HookResult is what one exec hook did in one restored pod.
type HookResult struct {
	Namespace string   `json:"namespace"`
	Pod       string   `json:"pod"`
	Hook      string   `json:"hook"`
	Container string   `json:"container"`
	Command   []string `json:"command"`
	// Outcome is succeeded or failed.
	Outcome string `json:"outcome"`
	OnError string `json:"onError"`
	Stdout  string `json:"stdout,omitempty"`
	// Error says why a failed hook failed: its container never ran, the
	// requester may not exec, the command failed (with its stderr), or
	// it timed out.
	Error string `json:"error,omitempty"`
}

// Outcomes of an exec hook.
const (
	HookSucceeded = "succeeded"
	HookFailed    = "failed"
)

// maxHookWorkers bounds the exec hooks that wait and run at once.
const maxHookWorkers = 8

// hookRunner runs the exec hooks of restored pods while the restore goes on:
// a pod runs only once its controller, volumes and node are there, and a
// restore does not wait for one pod before creating the next.
type hookRunner struct {
	wg  sync.WaitGroup
	sem chan struct{}
}

// podHooks finds a restored pod's hooks and adds its init hooks' containers
// before its own; it returns the exec hooks to run once the pod runs, and
// says what it added.
func (r *run) podHooks(obj *unstructured.Unstructured) (exec []hooks.Hook, notes []string, err error) {
	found, err := hooks.ForRestore(r.restore.Spec.Hooks, hooks.PodOf(obj))
	if err != nil {
		return nil, nil, err
	}
	if len(found.Init) > 0 {
		existing, _, _ := unstructured.NestedSlice(obj.Object, "spec", "initContainers")
		added := make([]any, 0, len(found.Init)+len(existing))
		for i, c := range found.Init {
			m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&c)
			if err != nil {
				return nil, nil, fmt.Errorf("init hook %s: %w", found.InitFrom[i], err)
			}
			added = append(added, m)
			notes = append(notes, fmt.Sprintf("init hook %s added init container %s", found.InitFrom[i], c.Name))
		}
		if err := unstructured.SetNestedSlice(obj.Object, append(added, existing...), "spec", "initContainers"); err != nil {
			return nil, nil, err
		}
	}
	if r.restore.Spec.Preview {
		for _, h := range found.Exec {
			notes = append(notes, fmt.Sprintf("exec hook %s would run %q in container %s", h.Name, h.Command, h.Container))
		}
		return nil, notes, nil
	}
	return found.Exec, notes, nil
}

// startExecHooks runs a created pod's exec hooks in the background, in
// order; a failed Fail hook stops the pod's later ones.
func (r *run) startExecHooks(ctx context.Context, pod hooks.Pod, list []hooks.Hook) {
	r.hooks.wg.Add(1)
	go func() {
		defer r.hooks.wg.Done()
		select {
		case r.hooks.sem <- struct{}{}:
		case <-ctx.Done():
			return
		}
		defer func() { <-r.hooks.sem }()
		for _, h := range list {
			res := r.runExecHook(ctx, pod, h)
			r.results.hook(res)
			if res.Outcome == HookFailed && h.OnError == arkv1.HookErrorModeFail {
				return
			}
		}
	}()
}

// waitHooks waits for every exec hook started to finish.
func (r *run) waitHooks() {
	r.hooks.wg.Wait()
}

func (r *run) runExecHook(ctx context.Context, pod hooks.Pod, h hooks.Hook) HookResult {
	res := HookResult{Namespace: pod.Namespace, Pod: pod.Name, Hook: h.Name, Container: h.Container, Command: h.Command, OnError: string(h.OnError)}
	fail := func(format string, args ...any) HookResult {
		res.Outcome, res.Error = HookFailed, fmt.Sprintf(format, args...)
		return res
	}
	if r.Hooks == nil {
		return fail("this server cannot run hooks")
	}
	user := r.restore.Spec.Requester
	if checker, ok := r.Access.(ExecAccessChecker); ok {
		allowed, reason, err := checker.CanExec(ctx, user, pod.Namespace)
		if err != nil {
			return fail("checking whether %s may exec into pods in %s: %v", user.Username, pod.Namespace, err)
		}
		if !allowed {
			return fail("%s may not exec into pods in %s: %s", user.Username, pod.Namespace, reason)
		}
	}
	if r.MaxHookTimeout > 0 {
		h.Timeout, h.Wait = min(h.Timeout, r.MaxHookTimeout), min(h.Wait, r.MaxHookTimeout)
	}
	if err := r.waitRunning(ctx, pod, h.Container, h.Wait); err != nil {
		return fail("%v", err)
	}
	r.results.infof("running exec hook %s in pod %s/%s container %s: %q", h.Name, pod.Namespace, pod.Name, h.Container, h.Command)
	out, err := hooks.Run(ctx, r.Hooks, pod, h)
	res.Stdout = out
	if err != nil {
		return fail("%v", err)
	}
	res.Outcome = HookSucceeded
	return res
}

// waitRunning waits until the container runs, reading the pod as the
// requester. A pod that ended, or a container that does not exist, will
// never run it: that is said at once rather than after the wait.
func (r *run) waitRunning(ctx context.Context, pod hooks.Pod, container string, timeout time.Duration) error {
	pods := r.Dynamic.Resource(corev1.SchemeGroupVersion.WithResource("pods")).Namespace(pod.Namespace)
	var last string
	err := wait.PollUntilContextTimeout(ctx, time.Second, timeout, true, func(ctx context.Context) (bool, error) {
		obj, err := pods.Get(ctx, pod.Name, metav1.GetOptions{})
		if err != nil {
			last = err.Error()
			return false, nil
		}
		var p corev1.Pod
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(obj.Object, &p); err != nil {
			return false, err
		}
		switch p.Status.Phase {
		case corev1.PodSucceeded, corev1.PodFailed:
			return false, fmt.Errorf("pod %s/%s is %s: its container %s will not run again", pod.Namespace, pod.Name, p.Status.Phase, container)
		}
		for _, s := range p.Status.ContainerStatuses {
			if s.Name == container && s.State.Running != nil {
				return true, nil
			}
		}
		last = "pod is " + string(p.Status.Phase)
		if p.Status.Phase == "" {
			last = "pod has no status yet"
		}
		return false, nil
	})
	if err != nil && ctx.Err() == nil && !strings.Contains(err.Error(), "will not run again") {
		return fmt.Errorf("container %s of pod %s/%s was not running within %s (%s)", container, pod.Namespace, pod.Name, timeout, last)
	}
	return err
}
