package hooks

import (
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/arkproject/ark/pkg/apis/ark"
	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
)

// Annotation keys a backed-up pod carries to define the command run in it
// once it is restored and running: post.hook.restore.ark.heptio.com/command
// and so on, the names Velero's users know under velero.io.
const (
	restorePrefix      = "post.hook.restore.ark.heptio.com/"
	annExecTimeout     = "exec-timeout"
	annWaitTimeout     = "wait-timeout"
	defaultRestoreWait = arkv1.DefaultRestoreHookWait
)

// RestoreHooks are what a restore does to and in one restored pod.
type RestoreHooks struct {
	// Init are the init containers added before the pod's own, in order,
	// and InitFrom the hook specifications they came from.
	Init     []corev1.Container
	InitFrom []string
	// Exec run in the pod once it runs, in order.
	Exec []Hook
}

// ForRestore returns the hooks of a restored pod. As for backups, a pod that
// defines its exec hook in annotations gets only that one; init hooks come
// from the spec only.
func ForRestore(spec arkv1.RestoreHooks, pod Pod) (RestoreHooks, error) {
	var out RestoreHooks
	annotated, ok, err := restoreFromAnnotations(pod)
	if err != nil {
		return out, err
	}
	if ok {
		out.Exec = []Hook{annotated}
	}
	for _, rh := range spec.Resources {
		match, err := filters{rh.IncludedNamespaces, rh.ExcludedNamespaces, rh.IncludedResources, rh.ExcludedResources, rh.LabelSelector}.match(pod)
		if err != nil {
			return out, fmt.Errorf("hook %s: %w", rh.Name, err)
		}
		if !match {
			continue
		}
		for _, h := range rh.PostHooks {
			if h.Init != nil {
				containers, err := ark.DecodeContainers(h.Init.InitContainers)
				if err != nil {
					return out, fmt.Errorf("hook %s: %w", rh.Name, err)
				}
				for range containers {
					out.InitFrom = append(out.InitFrom, rh.Name)
				}
				out.Init = append(out.Init, containers...)
			}
			if h.Exec != nil && !ok {
				hook := Hook{Name: rh.Name, Container: h.Exec.Container, Command: h.Exec.Command, OnError: h.Exec.OnError,
					Timeout: h.Exec.ExecTimeout.Duration, Wait: h.Exec.WaitTimeout.Duration}
				restoreDefaults(&hook, pod)
				out.Exec = append(out.Exec, hook)
			}
		}
	}
	return out, nil
}

// restoreFromAnnotations reads post.hook.restore.ark.heptio.com/* from the pod.
func restoreFromAnnotations(pod Pod) (Hook, bool, error) {
	command, ok := pod.Annotations[restorePrefix+annCommand]
	if !ok {
		return Hook{}, false, nil
	}
	h := Hook{Name: "annotation", Container: pod.Annotations[restorePrefix+annContainer]}
	var err error
	if h.Command, err = parseCommand(pod, restorePrefix+annCommand, command); err != nil {
		return Hook{}, false, err
	}
	switch mode := arkv1.HookErrorMode(pod.Annotations[restorePrefix+annOnError]); mode {
	case "", arkv1.HookErrorModeContinue, arkv1.HookErrorModeFail:
		h.OnError = mode
	default:
		return Hook{}, false, fmt.Errorf("pod %s/%s: annotation %s%s must be Continue or Fail, not %q", pod.Namespace, pod.Name, restorePrefix, annOnError, mode)
	}
	for key, into := range map[string]*time.Duration{annExecTimeout: &h.Timeout, annWaitTimeout: &h.Wait} {
		if t := pod.Annotations[restorePrefix+key]; t != "" {
			d, err := time.ParseDuration(t)
			if err != nil || d < 0 {
				return Hook{}, false, fmt.Errorf("pod %s/%s: annotation %s%s is not a duration: %q", pod.Namespace, pod.Name, restorePrefix, key, t)
			}
			*into = d
		}
	}
	restoreDefaults(&h, pod)
	return h, true, nil
}

// restoreDefaults fills in the pod's first container, Continue (as Velero
// does for restore hooks), 30s to run and 5m to wait.
func restoreDefaults(h *Hook, pod Pod) {
	if h.OnError == "" {
		h.OnError = arkv1.HookErrorModeContinue
	}
	if h.Wait == 0 {
		h.Wait = defaultRestoreWait
	}
	defaults(h, pod)
}
