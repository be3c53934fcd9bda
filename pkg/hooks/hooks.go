// Package hooks finds and runs the commands a backup runs in pods before and
// after backing them up — from the Backup's spec.hooks and from the pods' own
// annotations — through pods/exec, so they run wherever the pod runs.
package hooks

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/sets"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
)

// Phase is when a hook runs relative to backing up its pod.
type Phase string

const (
	// Pre hooks run before the pod (and its volumes) are backed up.
	Pre Phase = "pre"
	// Post hooks run after.
	Post Phase = "post"
)

// Annotation keys a pod carries to define its own hooks, as Heptio Ark's
// users wrote them: pre.hook.backup.ark.heptio.com/command and so on.
const (
	annotationSuffix = ".hook.backup.ark.heptio.com/"
	annContainer     = "container"
	annCommand       = "command"
	annOnError       = "on-error"
	annTimeout       = "timeout"
)

// Hook is one command to run in one pod.
type Hook struct {
	// Name says where the hook came from, for logs: the spec's hook name, or
	// "annotation".
	Name      string
	Container string
	Command   []string
	OnError   arkv1.HookErrorMode
	Timeout   time.Duration
	// Wait bounds how long a restore hook waits for its container to run.
	Wait time.Duration
}

// Pod is what hook selection needs to know of a pod.
type Pod struct {
	Namespace   string
	Name        string
	Labels      map[string]string
	Annotations map[string]string
	// Containers are the pod's container names, in order.
	Containers []string
}

// PodOf reads what hook selection needs from a pod object, for backups
// (the pod as read) and restores (the pod as it will be created).
func PodOf(obj *unstructured.Unstructured) Pod {
	p := Pod{Namespace: obj.GetNamespace(), Name: obj.GetName(), Labels: obj.GetLabels(), Annotations: obj.GetAnnotations()}
	containers, _, _ := unstructured.NestedSlice(obj.Object, "spec", "containers")
	for _, c := range containers {
		if m, ok := c.(map[string]any); ok {
			if name, ok := m["name"].(string); ok {
				p.Containers = append(p.Containers, name)
			}
		}
	}
	return p
}

// For returns the hooks of phase for a pod. A pod that defines a hook in its
// annotations gets only that one, as in Heptio Ark: the annotations are the
// pod owner's word on how to quiesce it. Otherwise every matching spec hook
// applies, in order.
func For(spec arkv1.BackupHooks, pod Pod, phase Phase) ([]Hook, error) {
	if h, ok, err := fromAnnotations(pod, phase); err != nil || ok {
		if ok {
			return []Hook{h}, nil
		}
		return nil, err
	}
	var out []Hook
	for _, rh := range spec.Resources {
		match, err := matches(rh, pod)
		if err != nil {
			return nil, fmt.Errorf("hook %s: %w", rh.Name, err)
		}
		if !match {
			continue
		}
		list := rh.PreHooks
		if phase == Post {
			list = rh.PostHooks
		}
		for _, h := range list {
			if h.Exec == nil {
				continue
			}
			out = append(out, Hook{
				Name:      rh.Name,
				Container: h.Exec.Container,
				Command:   h.Exec.Command,
				OnError:   h.Exec.OnError,
				Timeout:   h.Exec.Timeout.Duration,
			})
		}
	}
	for i := range out {
		defaults(&out[i], pod)
	}
	return out, nil
}

// filters are a hook spec's selection of pods, the same for backups and
// restores.
type filters struct {
	includedNamespaces, excludedNamespaces []string
	includedResources, excludedResources   []string
	labelSelector                          *metav1.LabelSelector
}

// matches applies a hook spec's namespace, resource and label filters to a pod.
func matches(rh arkv1.BackupResourceHookSpec, pod Pod) (bool, error) {
	return filters{rh.IncludedNamespaces, rh.ExcludedNamespaces, rh.IncludedResources, rh.ExcludedResources, rh.LabelSelector}.match(pod)
}

func (f filters) match(pod Pod) (bool, error) {
	inc, exc := sets.New(f.includedNamespaces...), sets.New(f.excludedNamespaces...)
	if exc.Has(pod.Namespace) || (inc.Len() > 0 && !inc.Has("*") && !inc.Has(pod.Namespace)) {
		return false, nil
	}
	// Hooks run in pods: a spec that names resources must include pods.
	if len(f.includedResources) > 0 && !anyPods(f.includedResources) {
		return false, nil
	}
	if anyPods(f.excludedResources) {
		return false, nil
	}
	if f.labelSelector != nil {
		sel, err := metav1.LabelSelectorAsSelector(f.labelSelector)
		if err != nil {
			return false, err
		}
		if !sel.Matches(labels.Set(pod.Labels)) {
			return false, nil
		}
	}
	return true, nil
}

func anyPods(resources []string) bool {
	for _, r := range resources {
		switch strings.ToLower(r) {
		case "*", "pods", "pod", "po":
			return true
		}
	}
	return false
}

// fromAnnotations reads <phase>.hook.backup.ark.heptio.com/* from the pod.
// The command is a JSON array (["/bin/sh","-c","sync"]) or a single word.
func fromAnnotations(pod Pod, phase Phase) (Hook, bool, error) {
	prefix := string(phase) + annotationSuffix
	command, ok := pod.Annotations[prefix+annCommand]
	if !ok {
		return Hook{}, false, nil
	}
	h := Hook{Name: "annotation", Container: pod.Annotations[prefix+annContainer]}
	var err error
	if h.Command, err = parseCommand(pod, prefix+annCommand, command); err != nil {
		return Hook{}, false, err
	}
	switch mode := arkv1.HookErrorMode(pod.Annotations[prefix+annOnError]); mode {
	case "", arkv1.HookErrorModeContinue, arkv1.HookErrorModeFail:
		h.OnError = mode
	default:
		return Hook{}, false, fmt.Errorf("pod %s/%s: annotation %s%s must be Continue or Fail, not %q", pod.Namespace, pod.Name, prefix, annOnError, mode)
	}
	if t := pod.Annotations[prefix+annTimeout]; t != "" {
		d, err := time.ParseDuration(t)
		if err != nil || d < 0 {
			return Hook{}, false, fmt.Errorf("pod %s/%s: annotation %s%s is not a duration: %q", pod.Namespace, pod.Name, prefix, annTimeout, t)
		}
		h.Timeout = d
	}
	defaults(&h, pod)
	return h, true, nil
}

// parseCommand reads a command annotation: a JSON array
// (["/bin/sh","-c","sync"]) or a single word.
func parseCommand(pod Pod, key, command string) ([]string, error) {
	var out []string
	if strings.HasPrefix(strings.TrimSpace(command), "[") {
		if err := json.Unmarshal([]byte(command), &out); err != nil {
			return nil, fmt.Errorf("pod %s/%s: annotation %s is not a JSON array of strings: %w", pod.Namespace, pod.Name, key, err)
		}
	} else if command != "" {
		out = []string{command}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("pod %s/%s: annotation %s is empty", pod.Namespace, pod.Name, key)
	}
	return out, nil
}

// defaults fills in the pod's first container, Fail and 30s.
func defaults(h *Hook, pod Pod) {
	if h.Container == "" && len(pod.Containers) > 0 {
		h.Container = pod.Containers[0]
	}
	if h.OnError == "" {
		h.OnError = arkv1.HookErrorModeFail
	}
	if h.Timeout == 0 {
		h.Timeout = arkv1.DefaultHookTimeout
	}
}
