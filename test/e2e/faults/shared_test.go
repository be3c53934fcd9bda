package faults

import (
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
	"github.com/arkproject/ark/test/e2e/framework"
	"github.com/arkproject/ark/test/localcluster"
)

// peer drives a second whole cluster with kubectl as its administrator.
type peer struct {
	t *testing.T
	c *localcluster.Cluster
}

func startPeer(t *testing.T, name string) *peer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	c, err := framework.StartPeer(ctx, name)
	if err != nil {
		t.Fatalf("starting cluster %s: %v", name, err)
	}
	t.Cleanup(c.Stop)
	return &peer{t: t, c: c}
}

func (p *peer) kubectl(stdin string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var in []byte
	if stdin != "" {
		in = []byte(stdin)
	}
	out, err := p.c.Kubectl(ctx, in, args...)
	return string(out), err
}

func (p *peer) must(stdin string, args ...string) string {
	p.t.Helper()
	out, err := p.kubectl(stdin, args...)
	if err != nil {
		p.t.Fatalf("kubectl %s (cluster %s): %v\n%s", strings.Join(args, " "), p.c.LogDir(), err, out)
	}
	return out
}

// backup creates a backup of ns in the peer and waits until it Completed.
func (p *peer) backup(name, ns string) {
	p.t.Helper()
	p.must(fmt.Sprintf(`{"apiVersion":"ark.heptio.com/v1","kind":"Backup","metadata":{"name":%q,"namespace":%q},"spec":{"includedNamespaces":[%q]}}`, name, home, ns), "create", "-f", "-")
	p.t.Cleanup(func() { framework.RemoveBackupFiles(home, name) })
	framework.Eventually(p.t, 2*time.Minute, "backup "+name+" completes in the peer", func() error {
		if got := p.must("", "get", "backup", name, "-n", home, "-o", "jsonpath={.status.phase}"); got != "Completed" {
			return fmt.Errorf("phase %q", got)
		}
		return nil
	})
}

// clusterID is the identity the peer's Ark signs with.
func (p *peer) clusterID() string {
	p.t.Helper()
	enc := p.must("", "get", "secret", "ark-provenance", "-n", localcluster.SystemNamespace, "-o", "jsonpath={.data.cluster}")
	id, err := base64.StdEncoding.DecodeString(enc)
	if err != nil || len(id) == 0 {
		p.t.Fatalf("cluster id %q: %v", enc, err)
	}
	return string(id)
}

// Two clusters on one bucket, as a disaster-recovery or staging cluster
// shares production's: each runs, fails, expires and deletes only its own
// backups, reads and restores the other's, keeps its backups over a fresh
// start (make run), and takes over a lost cluster's only by adopting them.
func TestTwoClustersShareOneBucket(t *testing.T) {
	dr := startPeer(t, "dr")
	drID := dr.clusterID()

	// The same namespace, with different contents, in each cluster.
	namespaceWith(t, "sh-app", "only-in-main")
	dr.must("", "create", "namespace", "sh-app")
	dr.must("", "create", "configmap", "only-in-dr", "-n", "sh-app", "--from-literal=k=v")
	dr.backup("from-dr", "sh-app")
	backupOf(t, "from-main", "sh-app")

	// Each cluster backed up itself, not the other.
	main := framework.Download(t, home, "from-main")
	drs := framework.Download(t, home, "from-dr") // another cluster's backup is readable here
	if _, ok := main["resources/configmaps/namespaces/sh-app/only-in-main.json"]; !ok {
		t.Error("from-main does not hold this cluster's config map")
	}
	if _, ok := main["resources/configmaps/namespaces/sh-app/only-in-dr.json"]; ok {
		t.Error("from-main holds the other cluster's config map")
	}
	if _, ok := drs["resources/configmaps/namespaces/sh-app/only-in-dr.json"]; !ok {
		t.Error("from-dr does not hold the dr cluster's config map")
	}
	if _, ok := drs["resources/configmaps/namespaces/sh-app/only-in-main.json"]; ok {
		t.Error("from-dr holds this cluster's config map: the main cluster ran it")
	}

	// Each cluster shows who owns what.
	wide := mustKubectl(t, "get", "backups", "-n", home, "-o", "wide")
	for _, line := range framework.Lines(wide) {
		switch {
		case strings.HasPrefix(line, "from-dr "):
			if !strings.Contains(line, drID) {
				t.Errorf("from-dr's owner is not the dr cluster %s: %s", drID, line)
			}
		case strings.HasPrefix(line, "from-main "):
			if !strings.HasSuffix(strings.TrimSpace(line), "this") {
				t.Errorf("from-main's owner is not this cluster: %s", line)
			}
		}
	}

	// Neither deletes nor changes the other's backup.
	out, err := kubectl(t, "delete", "backup", "from-dr", "-n", home, "--wait=false")
	if err == nil || contains(out, "Forbidden", "belongs to another cluster's Ark", drID) != nil {
		t.Errorf("deleting the dr cluster's backup here: %v %s", err, out)
	}
	out, err = kubectl(t, "patch", "backup", "from-dr", "-n", home, "--subresource=status", "--type=merge", "-p", `{"status":{"phase":"Failed"}}`)
	if err == nil || !strings.Contains(out, "belongs to another cluster's Ark") {
		t.Errorf("failing the dr cluster's backup here: %v %s", err, out)
	}
	out, err = dr.kubectl("", "delete", "backup", "from-main", "-n", home, "--wait=false")
	if err == nil || !strings.Contains(out, "belongs to another cluster's Ark") {
		t.Errorf("deleting this cluster's backup from the dr cluster: %v %s", err, out)
	}

	// Restoring the other cluster's backup works.
	r := framework.RunRestore(t, home, &arkv1.Restore{
		ObjectMeta: metav1.ObjectMeta{Name: "from-dr-copy"},
		Spec:       arkv1.RestoreSpec{BackupName: "from-dr", NamespaceMapping: map[string]string{"sh-app": "sh-copy"}},
	}, "")
	t.Cleanup(func() { _, _ = kubectl(t, "delete", "namespace", "sh-copy", "--wait=false") })
	if r.Status.Phase != arkv1.RestorePhaseCompleted {
		t.Errorf("restore of the dr cluster's backup: %+v", r.Status)
	}
	mustKubectl(t, "get", "configmap", "only-in-dr", "-n", "sh-copy")

	// A backup of this cluster still running when the other's Ark starts
	// (and looks for work its predecessor left) is not failed by it.
	record(t, "from-main", func(o map[string]any) { o["status"].(map[string]any)["phase"] = "InProgress" })
	eventually(t, 10*time.Second, "from-main reads InProgress", func() error {
		if p, _ := phase(t, "from-main"); p != arkv1.BackupPhaseInProgress {
			return fmt.Errorf("%q", p)
		}
		return nil
	})
	dr.c.StopArk()
	if err := dr.c.StartArk(t.Context()); err != nil {
		t.Fatal(err)
	}
	eventually(t, time.Minute, "the dr cluster's new leader started its backup controller", func() error {
		data, _ := os.ReadFile(dr.c.LogDir() + "/ark-apiserver.log")
		if n := strings.Count(string(data), "Starting backup controller"); n < 2 {
			return fmt.Errorf("started %d times", n)
		}
		return nil
	})
	time.Sleep(3 * time.Second)
	if p, reason := phase(t, "from-main"); p != arkv1.BackupPhaseInProgress {
		t.Errorf("the dr cluster's leader touched this cluster's running backup: %s %q", p, reason)
	}
	record(t, "from-main", func(o map[string]any) { o["status"].(map[string]any)["phase"] = "Completed" })

	// make run again: the dr cluster starts on a fresh etcd with its saved
	// identity, and still deletes what it made before.
	dr.backup("dr-again", "sh-app")
	dr.c.Stop()
	dr = startPeer(t, "dr")
	if id := dr.clusterID(); id != drID {
		t.Fatalf("the dr cluster came back as %s, not %s", id, drID)
	}
	dr.must("", "delete", "backup", "dr-again", "-n", home, "--wait=false")
	eventually(t, time.Minute, "the second run deletes its earlier backup", func() error {
		if _, err := os.Stat(framework.BucketBackupDir(home, "dr-again")); !os.IsNotExist(err) {
			return fmt.Errorf("still in the bucket: %v", err)
		}
		return nil
	})

	// The dr cluster is lost. Its backups are not this cluster's until an
	// administrator adopts them, with one command.
	dr.c.Stop()
	time.Sleep(3 * time.Second)
	if p, _ := phase(t, "from-dr"); p != arkv1.BackupPhaseCompleted {
		t.Fatalf("from-dr is %s", p)
	}
	cmd := exec.Command(framework.ArkCLI, "--kubeconfig="+framework.Cluster.Kubeconfig, "backup", "adopt", "from-dr", "-n", home, "--confirm")
	adopted, err := cmd.CombinedOutput()
	if err != nil || contains(string(adopted), `Backup "from-dr" adopted from cluster `+drID) != nil {
		t.Fatalf("ark backup adopt: %v\n%s", err, adopted)
	}
	if got := framework.Jsonpath(t, `{.metadata.annotations.ark\.heptio\.com/adopted-from}`, "get", "backup", "from-dr", "-n", home); got != drID {
		t.Errorf("adopted-from annotation %q, want %q", got, drID)
	}
	mustKubectl(t, "delete", "backup", "from-dr", "-n", home, "--wait=false")
	eventually(t, time.Minute, "the adopted backup is deleted here", func() error {
		if _, err := os.Stat(framework.BucketBackupDir(home, "from-dr")); !os.IsNotExist(err) {
			return fmt.Errorf("still in the bucket: %v", err)
		}
		return nil
	})
}
