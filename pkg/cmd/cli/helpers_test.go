package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	clienttesting "k8s.io/client-go/testing"

	"github.com/arkproject/ark/pkg/generated/clientset/versioned/fake"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/ with the current output")

// golden compares got with testdata/<name>, or rewrites the file with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run `go test ./pkg/cmd/cli/ -update` to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s (rerun with -update if the change is intended)\n--- got:\n%s\n--- want:\n%s", path, got, want)
	}
}

// result is what one run of the command line printed and returned.
type result struct {
	out, err string
	runErr   error
}

// run executes the ark command tree with args against the fake clientset
// (nil: none, the kubeconfig decides), reading stdin.
func run(t *testing.T, client *fake.Clientset, stdin io.Reader, args ...string) result {
	t.Helper()
	if stdin == nil {
		stdin = strings.NewReader("")
	}
	var out, errOut bytes.Buffer
	root, env := NewRootCommand("ark", stdin, &out, &errOut)
	if client != nil {
		env.ark = client
	}
	root.SetArgs(append([]string{}, args...))
	err := root.ExecuteContext(context.Background())
	return result{out: out.String(), err: errOut.String(), runErr: err}
}

// mustRun is run that fails the test on an error.
func mustRun(t *testing.T, client *fake.Clientset, stdin io.Reader, args ...string) result {
	t.Helper()
	r := run(t, client, stdin, args...)
	if r.runErr != nil {
		t.Fatalf("ark %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.runErr, r.out, r.err)
	}
	return r
}

// wantErr runs args and fails unless the command fails with an error
// containing every one of substrs.
func wantErr(t *testing.T, client *fake.Clientset, args []string, substrs ...string) result {
	t.Helper()
	r := run(t, client, nil, args...)
	if r.runErr == nil {
		t.Fatalf("ark %s: no error; stdout:\n%s", strings.Join(args, " "), r.out)
	}
	for _, s := range substrs {
		if !strings.Contains(r.runErr.Error(), s) {
			t.Errorf("ark %s: error %q does not contain %q", strings.Join(args, " "), r.runErr, s)
		}
	}
	return r
}

// verbs lists "verb resource" of every action the fake saw.
func verbs(c *fake.Clientset) []string {
	var out []string
	for _, a := range c.Actions() {
		out = append(out, a.GetVerb()+" "+a.GetResource().Resource)
	}
	return out
}

// actionsWithVerb returns the fake's actions of one verb.
func actionsWithVerb(c *fake.Clientset, verb string) []clienttesting.Action {
	var out []clienttesting.Action
	for _, a := range c.Actions() {
		if a.GetVerb() == verb {
			out = append(out, a)
		}
	}
	return out
}

// assertEqual compares with reflect.DeepEqual and shows both as JSON.
func assertEqual(t *testing.T, what string, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		g, _ := json.MarshalIndent(got, "", "  ")
		w, _ := json.MarshalIndent(want, "", "  ")
		t.Errorf("%s:\n got: %s\nwant: %s", what, g, w)
	}
}

// kubeconfig writes a kubeconfig whose only cluster is server.
func kubeconfig(t *testing.T, server string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "kubeconfig")
	cfg := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: test
  cluster:
    server: %s
contexts:
- name: test
  context:
    cluster: test
    user: test
current-context: test
users:
- name: test
  user: {}
`, server)
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// apiServer is an httptest server whose handler a test sets; it fails the
// test on requests it did not expect.
func apiServer(t *testing.T, handler http.HandlerFunc) (*httptest.Server, string) {
	t.Helper()
	ts := httptest.NewServer(handler)
	t.Cleanup(ts.Close)
	return ts, kubeconfig(t, ts.URL)
}

func ptr[T any](v T) *T { return &v }
