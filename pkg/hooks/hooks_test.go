package hooks

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
)

func pod(ns string, labels, annotations map[string]string) Pod {
	return Pod{Namespace: ns, Name: "db-0", Labels: labels, Annotations: annotations, Containers: []string{"db", "sidecar"}}
}

var spec = arkv1.BackupHooks{Resources: []arkv1.BackupResourceHookSpec{
	{
		Name:               "freeze",
		IncludedNamespaces: []string{"prod"},
		LabelSelector:      &metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}},
		PreHooks:           []arkv1.BackupResourceHook{{Exec: &arkv1.ExecHook{Command: []string{"fsfreeze", "--freeze", "/data"}}}},
		PostHooks:          []arkv1.BackupResourceHook{{Exec: &arkv1.ExecHook{Container: "sidecar", Command: []string{"fsfreeze", "--unfreeze", "/data"}, OnError: arkv1.HookErrorModeContinue, Timeout: metav1.Duration{Duration: time.Minute}}}},
	},
	{
		Name:              "not-for-pods",
		IncludedResources: []string{"deployments"},
		PreHooks:          []arkv1.BackupResourceHook{{Exec: &arkv1.ExecHook{Command: []string{"never"}}}},
	},
}}

func TestSpecHooksSelectPods(t *testing.T) {
	cases := []struct {
		name  string
		pod   Pod
		phase Phase
		want  []Hook
	}{
		{"pre, matching", pod("prod", map[string]string{"app": "db"}, nil), Pre,
			[]Hook{{Name: "freeze", Container: "db", Command: []string{"fsfreeze", "--freeze", "/data"}, OnError: arkv1.HookErrorModeFail, Timeout: 30 * time.Second}}},
		{"post, matching, explicit container and mode", pod("prod", map[string]string{"app": "db"}, nil), Post,
			[]Hook{{Name: "freeze", Container: "sidecar", Command: []string{"fsfreeze", "--unfreeze", "/data"}, OnError: arkv1.HookErrorModeContinue, Timeout: time.Minute}}},
		{"other namespace", pod("dev", map[string]string{"app": "db"}, nil), Pre, nil},
		{"other labels", pod("prod", map[string]string{"app": "web"}, nil), Pre, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := For(spec, tc.pod, tc.phase)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestAnnotationHooksWinOverSpec(t *testing.T) {
	p := pod("prod", map[string]string{"app": "db"}, map[string]string{
		"pre.hook.backup.ark.heptio.com/command":  `["/bin/sh", "-c", "sync"]`,
		"pre.hook.backup.ark.heptio.com/on-error": "Continue",
		"pre.hook.backup.ark.heptio.com/timeout":  "5s",
		"post.hook.backup.ark.heptio.com/command": "resume",
	})
	pre, err := For(spec, p, Pre)
	if err != nil {
		t.Fatal(err)
	}
	want := []Hook{{Name: "annotation", Container: "db", Command: []string{"/bin/sh", "-c", "sync"}, OnError: arkv1.HookErrorModeContinue, Timeout: 5 * time.Second}}
	if !reflect.DeepEqual(pre, want) {
		t.Errorf("pre: %+v", pre)
	}
	post, err := For(spec, p, Post)
	if err != nil || len(post) != 1 || post[0].Command[0] != "resume" || post[0].OnError != arkv1.HookErrorModeFail {
		t.Errorf("post: %+v %v", post, err)
	}
}

func TestBadAnnotationsAreErrors(t *testing.T) {
	for name, ann := range map[string]map[string]string{
		"not JSON":      {"pre.hook.backup.ark.heptio.com/command": `["unterminated`},
		"empty":         {"pre.hook.backup.ark.heptio.com/command": ``},
		"bad mode":      {"pre.hook.backup.ark.heptio.com/command": "x", "pre.hook.backup.ark.heptio.com/on-error": "Maybe"},
		"bad timeout":   {"pre.hook.backup.ark.heptio.com/command": "x", "pre.hook.backup.ark.heptio.com/timeout": "soon"},
		"negative time": {"pre.hook.backup.ark.heptio.com/command": "x", "pre.hook.backup.ark.heptio.com/timeout": "-1s"},
	} {
		if _, err := For(spec, pod("prod", nil, ann), Pre); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

type fakeExec struct {
	err   error
	block bool
	calls [][]string
}

func (f *fakeExec) Exec(ctx context.Context, ns, pod, container string, command []string) (string, string, error) {
	f.calls = append(f.calls, append([]string{ns + "/" + pod + "/" + container}, command...))
	if f.block {
		<-ctx.Done()
		return "", "", ctx.Err()
	}
	return "ok", "oops", f.err
}

func TestRunReportsFailuresAndTimeouts(t *testing.T) {
	p := pod("prod", nil, nil)
	h := Hook{Name: "x", Container: "db", Command: []string{"true"}, Timeout: 50 * time.Millisecond}
	e := &fakeExec{}
	if out, err := Run(context.Background(), e, p, h); err != nil || out != "ok" {
		t.Errorf("success: %q %v", out, err)
	}
	if got := e.calls[0]; !reflect.DeepEqual(got, []string{"prod/db-0/db", "true"}) {
		t.Errorf("exec call: %v", got)
	}
	e = &fakeExec{err: errors.New("command terminated with exit code 1")}
	if _, err := Run(context.Background(), e, p, h); err == nil || err.Error() != `command terminated with exit code 1: "oops"` {
		t.Errorf("failure: %v", err)
	}
	e = &fakeExec{block: true}
	start := time.Now()
	if _, err := Run(context.Background(), e, p, h); err == nil || err.Error() != "timed out after 50ms" {
		t.Errorf("timeout: %v", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Errorf("timeout not honoured: %s", time.Since(start))
	}
}
