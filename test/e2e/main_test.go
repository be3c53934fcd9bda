// Package e2e checks Ark the way users run it: behind a real kube-apiserver
// as an aggregated API server, with kube-controller-manager, RBAC and kubectl.
// TestMain starts the local cluster of test/localcluster once for the suite.
package e2e

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

// pollInterval and gcInterval are ark-apiserver's --bucket-poll-interval
// and --gc-interval in the suite.
const (
	pollInterval = time.Second
	gcInterval   = 5 * time.Second
)

var (
	cluster *localcluster.Cluster
	ark     versioned.Interface
	// arkCLI is the ark command line built from this checkout.
	arkCLI string
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	root, err := filepath.Abs("../..")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	work, err := os.MkdirTemp("", "ark-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(work)

	// Test the code in this checkout, not whatever bin/ holds.
	arkBin := filepath.Join(work, "ark-apiserver")
	arkCLI = filepath.Join(work, "ark")
	for bin, pkg := range map[string]string{arkBin: "./cmd/ark-apiserver", arkCLI: "./cmd/ark"} {
		build := exec.Command("go", "build", "-o", bin, pkg)
		build.Dir = root
		if out, err := build.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "building %s: %v\n%s", pkg, err, out)
			return 1
		}
	}
	opts, err := localcluster.DefaultOptions(root, filepath.Join(work, "cluster"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	opts.ArkAPIServer = arkBin
	opts.BucketPollInterval = pollInterval
	opts.ArkArgs = []string{"--gc-interval=" + gcInterval.String()}
	opts.Log = os.Stderr
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	cluster, err = localcluster.Start(ctx, opts)
	cancel()
	if err != nil {
		fmt.Fprintf(os.Stderr, "starting the local cluster (binaries come from `make controlplane`): %v\n", err)
		dumpLogs(filepath.Join(work, "cluster", "logs"))
		return 1
	}
	defer cluster.Stop()
	if ark, err = versioned.NewForConfig(adminConfig()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	code := m.Run()
	if code != 0 {
		dumpLogs(cluster.LogDir())
	}
	return code
}

// dumpLogs prints the tail of every process log, so a CI failure explains itself.
func dumpLogs(dir string) {
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

func adminConfig() *rest.Config { return rest.CopyConfig(cluster.Config) }

// kubectl runs the cluster's kubectl as the administrator.
func kubectl(t *testing.T, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := cluster.Kubectl(ctx, nil, args...)
	return string(out), err
}

// kubectlIn runs kubectl with stdin.
func kubectlIn(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := cluster.Kubectl(ctx, []byte(stdin), args...)
	return string(out), err
}

// mustKubectl runs kubectl and fails the test on error.
func mustKubectl(t *testing.T, args ...string) string {
	t.Helper()
	out, err := kubectl(t, args...)
	if err != nil {
		t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// eventually retries fn until it returns nil or the timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, fn func() error) {
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

// lines returns the non-empty lines of s.
func lines(s string) []string {
	var out []string
	for _, l := range strings.Split(strings.TrimSpace(s), "\n") {
		if strings.TrimSpace(l) != "" {
			out = append(out, l)
		}
	}
	return out
}
