package hooks

import (
	"bytes"
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/remotecommand"
)

// Executor runs a command in a container of a pod.
type Executor interface {
	Exec(ctx context.Context, namespace, pod, container string, command []string) (stdout, stderr string, err error)
}

// PodExec runs commands through the pods/exec subresource, as `kubectl exec`
// does, so the command runs in the pod's container wherever that is.
type PodExec struct {
	Config *rest.Config
	Client kubernetes.Interface
}

var _ Executor = &PodExec{}

// outputLimit caps what is kept of a hook's output for the backup log.
const outputLimit = 16 << 10

// Exec runs command and returns its output; ctx bounds it (the hook's timeout).
func (p *PodExec) Exec(ctx context.Context, namespace, pod, container string, command []string) (string, string, error) {
	req := p.Client.CoreV1().RESTClient().Post().
		Resource("pods").Namespace(namespace).Name(pod).SubResource("exec").
		VersionedParams(&corev1.PodExecOptions{
			Container: container,
			Command:   command,
			Stdout:    true,
			Stderr:    true,
		}, scheme.ParameterCodec)
	exec, err := remotecommand.NewSPDYExecutor(p.Config, "POST", req.URL())
	if err != nil {
		return "", "", fmt.Errorf("preparing exec in %s/%s: %w", namespace, pod, err)
	}
	var stdout, stderr limitedBuffer
	err = exec.StreamWithContext(ctx, remotecommand.StreamOptions{Stdout: &stdout, Stderr: &stderr})
	return stdout.String(), stderr.String(), err
}

// limitedBuffer keeps the first outputLimit bytes and drops the rest.
type limitedBuffer struct {
	buf       bytes.Buffer
	truncated bool
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if room := outputLimit - l.buf.Len(); room > 0 {
		l.buf.Write(p[:min(room, len(p))])
	}
	if l.buf.Len() >= outputLimit && len(p) > 0 {
		l.truncated = true
	}
	return len(p), nil
}

func (l *limitedBuffer) String() string {
	s := strings.TrimRight(l.buf.String(), "\n")
	if l.truncated {
		s += " [truncated]"
	}
	return s
}

// Run runs one hook in a pod with its timeout, and says whether the backup
// may go on: a failure of a Continue hook is a warning, of a Fail hook an error.
func Run(ctx context.Context, e Executor, pod Pod, h Hook) (stdout string, err error) {
	ctx, cancel := context.WithTimeout(ctx, h.Timeout)
	defer cancel()
	out, errOut, err := e.Exec(ctx, pod.Namespace, pod.Name, h.Container, h.Command)
	if err != nil {
		if ctx.Err() == context.DeadlineExceeded {
			err = fmt.Errorf("timed out after %s", h.Timeout)
		}
		if errOut != "" {
			// Quoted: the pod writes it, and must not forge log lines.
			err = fmt.Errorf("%w: %q", err, errOut)
		}
		return out, err
	}
	return out, nil
}
