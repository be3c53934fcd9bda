// Package framework runs end-to-end suites against the local cluster of
// test/localcluster: a real kube-apiserver with Ark registered as an
// APIService, built from this checkout. Each suite's TestMain calls Main;
// the helpers create objects as a given user with kubectl, as users do, and
// wait for backups and restores to finish.
package framework

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/rest"

	"github.com/arkproject/ark/pkg/generated/clientset/versioned"
	"github.com/arkproject/ark/test/localcluster"
)

var (
	// Cluster is the suite's running local cluster.
	Cluster *localcluster.Cluster
	// Ark is a clientset of Ark's API as the cluster administrator.
	Ark versioned.Interface
	// ArkCLI is the ark command line built from this checkout.
	ArkCLI string
	// base is how Cluster was started, for peers; work holds every cluster.
	base localcluster.Options
	work string
)

// Options configure a suite's cluster.
type Options struct {
	// BucketPollInterval is ark-apiserver's --bucket-poll-interval.
	BucketPollInterval time.Duration
	// ArkArgs are extra flags for ark-apiserver.
	ArkArgs []string
}

// Runner runs a suite's tests; *testing.M is one.
type Runner interface{ Run() int }

// Main builds ark-apiserver and ark from this checkout, starts the local
// cluster, runs the suite and stops the cluster; it returns the exit code.
// When the suite fails, the tail of every process log is printed.
func Main(m Runner, opts Options) int {
	root, err := repoRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	work, err = os.MkdirTemp("", "ark-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(work)

	// Test the code in this checkout, not whatever bin/ holds.
	arkBin := filepath.Join(work, "ark-apiserver")
	ArkCLI = filepath.Join(work, "ark")
	for bin, pkg := range map[string]string{arkBin: "./cmd/ark-apiserver", ArkCLI: "./cmd/ark"} {
		build := exec.Command("go", "build", "-o", bin, pkg)
		build.Dir = root
		if out, err := build.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "building %s: %v\n%s", pkg, err, out)
			return 1
		}
	}
	lopts, err := localcluster.DefaultOptions(root, filepath.Join(work, "cluster"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	lopts.ArkAPIServer = arkBin
	lopts.BucketPollInterval = opts.BucketPollInterval
	lopts.ArkArgs = opts.ArkArgs
	lopts.Log = os.Stderr
	base = lopts
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	Cluster, err = localcluster.Start(ctx, lopts)
	cancel()
	if err != nil {
		fmt.Fprintf(os.Stderr, "starting the local cluster (binaries come from `make controlplane`): %v\n", err)
		DumpLogs(filepath.Join(work, "cluster", "logs"))
		return 1
	}
	defer Cluster.Stop()
	if Ark, err = versioned.NewForConfig(AdminConfig()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	code := m.Run()
	if code != 0 {
		DumpLogs(Cluster.LogDir())
	}
	return code
}

// StartPeer starts (or, with the name of a peer stopped before, starts
// again on a fresh etcd, as make run does) another whole local cluster
// whose Ark shares the suite cluster's bucket: a disaster-recovery or
// staging cluster on the same storage. The caller stops it.
func StartPeer(ctx context.Context, name string) (*localcluster.Cluster, error) {
	opts := base
	opts.Dir = filepath.Join(work, name)
	opts.BucketDir = Cluster.BucketDir
	return localcluster.Start(ctx, opts)
}

// repoRoot is the directory of go.mod above the working directory.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above the working directory")
		}
		dir = parent
	}
}

// DumpLogs prints the tail of every process log, so a CI failure explains itself.
func DumpLogs(dir string) {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			continue
		}
		lines := strings.Split(string(data), "\n")
		if len(lines) > 40 {
			lines = lines[len(lines)-40:]
		}
		fmt.Fprintf(os.Stderr, "==== %s (last lines)\n%s\n", e.Name(), strings.Join(lines, "\n"))
	}
}

// AdminConfig is a copy of the administrator's client configuration.
func AdminConfig() *rest.Config { return rest.CopyConfig(Cluster.Config) }

// Kubectl runs the cluster's kubectl as the administrator (or, with
// --as=USER among args, as USER).
func Kubectl(t *testing.T, args ...string) (string, error) {
	t.Helper()
	return KubectlIn(t, "", args...)
}

// KubectlIn runs kubectl with stdin.
func KubectlIn(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var in []byte
	if stdin != "" {
		in = []byte(stdin)
	}
	out, err := Cluster.Kubectl(ctx, in, args...)
	return string(out), err
}

// MustKubectl runs kubectl and fails the test on error.
func MustKubectl(t *testing.T, args ...string) string {
	t.Helper()
	out, err := Kubectl(t, args...)
	if err != nil {
		t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// Eventually retries fn until it returns nil or the timeout passes.
func Eventually(t *testing.T, timeout time.Duration, what string, fn func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var err error
	for time.Now().Before(deadline) {
		if err = fn(); err == nil {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("%s: not within %s: %v", what, timeout, err)
}

// Lines returns the non-empty lines of s.
func Lines(s string) []string {
	var out []string
	for _, l := range strings.Split(strings.TrimSpace(s), "\n") {
		if strings.TrimSpace(l) != "" {
			out = append(out, l)
		}
	}
	return out
}
