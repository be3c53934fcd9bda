package e2e

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/arkproject/ark/pkg/version"
)

// ark version learns the server's build through kube-apiserver, with a
// ServerStatusRequest the aggregator routes to Ark and RBAC checks like any
// other create: Kubernetes' view role grants it (through the aggregated
// ark-server-status role) in the namespace it is bound in; a user without
// it is told so and still gets the rest; nothing is stored.
func TestCLIVersionShowsServer(t *testing.T) {
	dir := t.TempDir()
	serverLine := "Server: ark " + runningServerBuild(t)

	out := mustArk(t, dir, "version")
	got := lines(out)
	if len(got) != 4 || !strings.HasPrefix(got[0], "Client: ark ") || !strings.HasPrefix(got[1], "Kubernetes: v") ||
		got[2] != "Server: ark.heptio.com/v1 served by APIService v1.ark.heptio.com (Available=True)" || got[3] != serverLine {
		t.Fatalf("ark version as the administrator:\n%s\nwant its last line %q", out, serverLine)
	}
	// Built from the same checkout, client and server report the same build.
	if client := strings.TrimSuffix(strings.TrimPrefix(got[0], "Client: ark "), " (API ark.heptio.com/v1)"); "Server: ark "+client != serverLine {
		t.Errorf("client build %q, server %q", client, serverLine)
	}

	// The resource is Kubernetes-native: kubectl creates one and reads the
	// answer, and cannot read one back, since nothing is stored.
	answer, err := kubectlIn(t, "apiVersion: ark.heptio.com/v1\nkind: ServerStatusRequest\nmetadata: {generateName: kubectl-}\n",
		"create", "-n", home, "-f", "-", "-o", "jsonpath={.status.phase}|{.status.serverVersion}|{.status.commit}|{.status.goVersion}|{.status.platform}|{.metadata.resourceVersion}")
	f := append(strings.Split(answer, "|"), "", "", "", "", "")
	answered := version.Info{Version: f[1], Commit: f[2], GoVersion: f[3], Platform: f[4]}
	if err != nil || f[0] != "Processed" || f[5] != "" || "Server: ark "+answered.String() != serverLine {
		t.Errorf("kubectl create serverstatusrequest: %v %q, want Processed and the build of %q, no resourceVersion", err, answer, serverLine)
	}
	if out, err := kubectl(t, "get", "serverstatusrequests", "-n", home); err == nil || !strings.Contains(out, "MethodNotAllowed") && !strings.Contains(out, "does not allow this method") {
		t.Errorf("kubectl get serverstatusrequests: %v\n%s", err, out)
	}

	// vera may view the namespace ssr-view, and so ask there; not in the
	// home namespace, where she has no role.
	mustKubectl(t, "create", "namespace", "ssr-view")
	t.Cleanup(func() { kubectl(t, "delete", "namespace", "ssr-view", "--wait=false") })
	mustKubectl(t, "create", "rolebinding", "vera-views", "-n", "ssr-view", "--clusterrole=view", "--user=vera")
	eventually(t, 60*time.Second, "vera (view in ssr-view) sees the server's version", func() error {
		out, code := arkCmd(t, dir, "--as=vera", "-n", "ssr-view", "version")
		if l := lines(out); code != 0 || len(l) != 4 || l[3] != serverLine {
			return fmt.Errorf("exit %d:\n%s", code, out)
		}
		return nil
	})
	for _, user := range []string{"vera", "nobody-version"} {
		out, code := arkCmd(t, dir, "--as="+user, "version")
		l := lines(out)
		if code != 0 || len(l) != 4 || !strings.HasPrefix(l[0], "Client: ark ") || !strings.HasPrefix(l[1], "Kubernetes: v") ||
			!strings.HasPrefix(l[2], "Server: ark.heptio.com/v1 served") ||
			!strings.HasPrefix(l[3], `Server: ark version unknown: you may not create serverstatusrequests in namespace "heptio-ark"`) {
			t.Errorf("ark version as %s, who may not ask in %s: exit %d\n%s", user, home, code, out)
		}
	}
	// (Without --validate=false kubectl first lists CRDs, which this user may not.)
	if out, err := kubectlIn(t, "apiVersion: ark.heptio.com/v1\nkind: ServerStatusRequest\nmetadata: {generateName: kubectl-}\n",
		"--as=nobody-version", "create", "--validate=false", "-n", "ssr-view", "-f", "-"); err == nil || !strings.Contains(out, "Forbidden") {
		t.Errorf("a user without the right creating a ServerStatusRequest: %v\n%s", err, out)
	}
}

// runningServerBuild is what the running ark-apiserver binary says of its
// build (--version), whatever the suite built it with.
func runningServerBuild(t *testing.T) string {
	t.Helper()
	pid, err := cluster.ArkPID()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	self, err := exec.CommandContext(ctx, fmt.Sprintf("/proc/%d/exe", pid), "--version").Output()
	if err != nil {
		t.Fatalf("ark-apiserver --version: %v", err)
	}
	build, ok := strings.CutPrefix(strings.TrimSpace(string(self)), "ark-apiserver version ")
	if !ok || build == "" {
		t.Fatalf("ark-apiserver --version printed %q", self)
	}
	return build
}
