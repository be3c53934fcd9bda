package backup

import (
	"context"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
	"github.com/arkproject/ark/pkg/hooks"
)

// ExecAccessChecker is implemented by access checkers that can also say
// whether a requester may exec into pods: hooks run with Ark's rights, so a
// user who could not `kubectl exec` into a pod must not get it done by
// hooks either.
type ExecAccessChecker interface {
	CanExec(ctx context.Context, user *arkv1.UserInfo, namespace string) (allowed bool, reason string, err error)
}

// errHookFailed is a Fail-mode hook that failed: the backup fails.
type errHookFailed struct{ msg string }

func (e errHookFailed) Error() string { return e.msg }

// runPodHooks runs the pod's hooks of phase. It returns an error only when a
// Fail-mode hook failed; everything else is logged as a warning or error.
func (r *run) runPodHooks(ctx context.Context, item *unstructured.Unstructured, phase hooks.Phase) (ran bool, err error) {
	pod := hooks.PodOf(item)
	list, err := hooks.For(r.backup.Spec.Hooks, pod, phase)
	if err != nil {
		r.log.errorf(pod.Namespace, "", "%s hooks of pod %s: %v", phase, pod.Name, err)
		return false, nil
	}
	if len(list) == 0 {
		return false, nil
	}
	if r.Hooks == nil {
		r.log.warnf(pod.Namespace, "", "pod %s has %s hooks but this server cannot run hooks", pod.Name, phase)
		return false, nil
	}
	if phaseOf(item) != "Running" {
		r.log.warnf(pod.Namespace, "", "pod %s is %s, not Running: its %s hooks are skipped", pod.Name, phaseOf(item), phase)
		return false, nil
	}
	if checker, ok := r.Access.(ExecAccessChecker); ok {
		allowed, reason, err := checker.CanExec(ctx, r.backup.Spec.Requester, pod.Namespace)
		if err != nil || !allowed {
			if err != nil {
				reason = err.Error()
			}
			msg := fmt.Sprintf("%s may not exec into pods in %s, so the %s hooks of pod %s do not run: %s", r.backup.Spec.Requester.Username, pod.Namespace, phase, pod.Name, reason)
			r.log.errorf(pod.Namespace, "", "%s", msg)
			return false, nil
		}
	}
	for _, h := range list {
		if r.MaxHookTimeout > 0 && h.Timeout > r.MaxHookTimeout {
			r.log.warnf(pod.Namespace, "", "%s hook %s in pod %s/%s asks for a timeout of %s; it gets at most %s", phase, h.Name, pod.Namespace, pod.Name, h.Timeout, r.MaxHookTimeout)
			h.Timeout = r.MaxHookTimeout
		}
		r.log.infof("running %s hook %s in pod %s/%s container %s: %q", phase, h.Name, pod.Namespace, pod.Name, h.Container, h.Command)
		out, err := hooks.Run(ctx, r.Hooks, pod, h)
		if err == nil {
			if out != "" {
				// Quoted: the output is the pod's, and must not forge log lines.
				r.log.infof("%s hook %s in pod %s/%s printed %q", phase, h.Name, pod.Namespace, pod.Name, out)
			}
			continue
		}
		msg := fmt.Sprintf("%s hook %s in pod %s/%s failed: %v", phase, h.Name, pod.Namespace, pod.Name, err)
		if h.OnError == arkv1.HookErrorModeContinue {
			r.log.warnf(pod.Namespace, "", "%s", msg)
			continue
		}
		r.log.errorf(pod.Namespace, "", "%s", msg)
		return true, errHookFailed{msg: msg}
	}
	return true, nil
}

func phaseOf(item *unstructured.Unstructured) string {
	phase, _, _ := unstructured.NestedString(item.Object, "status", "phase")
	return phase
}

// writePod backs up a pod between its hooks: pre hooks run first and the pod
// is read again after them, so its backup shows what the hooks did; then its
// volumes are snapshotted; post hooks run last.
func (r *run) writePod(ctx context.Context, res resource, item *unstructured.Unstructured, enc *encodedItem) error {
	ran, err := r.runPodHooks(ctx, item, hooks.Pre)
	if err != nil {
		return err
	}
	if ran {
		fresh, err := r.Dynamic.Resource(res.gvr).Namespace(item.GetNamespace()).Get(ctx, item.GetName(), metav1.GetOptions{})
		if err != nil {
			r.log.errorf(item.GetNamespace(), "", "reading pod %s after its pre hooks: %v", item.GetName(), err)
			return nil
		}
		item, enc = fresh, nil
	}
	if err := r.write(ctx, res, item, enc); err != nil {
		return err
	}
	r.snapshotPodVolumes(ctx, item)
	_, err = r.runPodHooks(ctx, item, hooks.Post)
	return err
}
