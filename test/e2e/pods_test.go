package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
	"github.com/arkproject/ark/test/e2e/framework"
	"github.com/arkproject/ark/test/localcluster"
)

// With kube-scheduler in the local cluster, pods that name no node are
// scheduled onto the fake node and run (kwok plays their lifecycle): a
// Deployment rolls out, and survives the disaster-recovery path.

const harbor = `apiVersion: v1
kind: Namespace
metadata: {name: harbor}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: ferry, namespace: harbor}
spec:
  replicas: 2
  selector: {matchLabels: {app: ferry}}
  template:
    metadata: {labels: {app: ferry}}
    spec: {containers: [{name: ferry, image: nginx}]}
`

// deploymentAvailable checks what a rollout means: the Available condition
// is True and every replica is updated, ready and available.
func deploymentAvailable(t *testing.T, ns, name string, replicas int) error {
	t.Helper()
	got := jsonpath(t, `{.status.conditions[?(@.type=="Available")].status},{.status.updatedReplicas},{.status.readyReplicas},{.status.availableReplicas}`,
		"get", "deployment", name, "-n", ns)
	n := strconv.Itoa(replicas)
	if want := "True," + n + "," + n + "," + n; got != want {
		return fmt.Errorf("Available,updated,ready,available = %q, want %q", got, want)
	}
	return nil
}

// runningPods returns "name node phase" of the pods of ns with label app.
func runningPods(t *testing.T, ns, app string) []string {
	t.Helper()
	return lines(jsonpath(t, `{range .items[*]}{.metadata.name} {.spec.nodeName} {.status.phase}{"\n"}{end}`, "get", "pods", "-n", ns, "-l", "app="+app))
}

// checkPodsRun requires exactly want pods of app, each scheduled onto the
// fake node (none of them names it) and Running.
func checkPodsRun(t *testing.T, ns, app string, want int) {
	t.Helper()
	pods := runningPods(t, ns, app)
	if len(pods) != want {
		t.Errorf("%d pods of %s/%s, want %d: %q", len(pods), ns, app, want, pods)
	}
	for _, p := range pods {
		if f := strings.Fields(p); len(f) != 3 || f[1] != localcluster.NodeName || f[2] != "Running" {
			t.Errorf("pod not scheduled onto %s and Running: %q", localcluster.NodeName, p)
		}
	}
}

// A Deployment of two replicas rolls out; backed up, its namespace deleted
// and restored, it becomes Available again, with two running pods.
func TestRestoredDeploymentBecomesAvailable(t *testing.T) {
	if out, err := kubectlIn(t, harbor, "apply", "-f", "-"); err != nil {
		t.Fatalf("fixture: %v\n%s", err, out)
	}
	t.Cleanup(func() { _, _ = kubectl(t, "delete", "namespace", "harbor", "--wait=false") })
	eventually(t, 2*time.Minute, "deployment harbor/ferry is Available", func() error {
		return deploymentAvailable(t, "harbor", "ferry", 2)
	})
	checkPodsRun(t, "harbor", "ferry", 2)

	b := runBackup(t, home, &arkv1.Backup{ObjectMeta: metav1.ObjectMeta{Name: "harbor-1"}, Spec: arkv1.BackupSpec{IncludedNamespaces: []string{"harbor"}}}, "")
	if b.Status.Phase != arkv1.BackupPhaseCompleted {
		t.Fatalf("backup: %+v", b.Status)
	}
	entries := download(t, home, "harbor-1")
	pods := 0
	for name := range entries {
		if strings.HasPrefix(name, "resources/pods/namespaces/harbor/") {
			pods++
		}
	}
	if pods != 2 || entries["resources/deployments.apps/namespaces/harbor/ferry.json"] == nil {
		t.Fatalf("the backup does not hold the deployment and its 2 pods: %v", names(entries))
	}

	mustKubectl(t, "delete", "namespace", "harbor", "--timeout=90s")
	if out, err := kubectl(t, "get", "namespace", "harbor"); err == nil {
		t.Fatalf("namespace harbor still exists after its deletion:\n%s", out)
	}

	r := runRestore(t, home, &arkv1.Restore{ObjectMeta: metav1.ObjectMeta{Name: "harbor-1-restore"}, Spec: arkv1.RestoreSpec{BackupName: "harbor-1"}}, "")
	if r.Status.Phase != arkv1.RestorePhaseCompleted {
		logs, _ := kubectl(t, "get", "--raw", "/apis/ark.heptio.com/v1/namespaces/"+home+"/restores/harbor-1-restore/logs")
		t.Fatalf("restore: %+v\n%s", r.Status, logs)
	}
	if got := jsonpath(t, `{.metadata.labels.ark\.heptio\.com/restore-name}`, "get", "deployment", "ferry", "-n", "harbor"); got != "harbor-1-restore" {
		t.Fatalf("deployment harbor/ferry is not the restored one: restore label %q", got)
	}
	eventually(t, 2*time.Minute, "the restored deployment harbor/ferry is Available", func() error {
		return deploymentAvailable(t, "harbor", "ferry", 2)
	})
	// The restored pods are adopted, not doubled by new ones.
	checkPodsRun(t, "harbor", "ferry", 2)
}

// A pod's pre hook, from its annotation, runs for real in a pod the
// scheduler placed: kwok runs the command on this machine in the cluster
// directory, so the file it writes is there, and what it printed is in the
// backup's log.
func TestBackupHookRunsInScheduledPod(t *testing.T) {
	nonce := strconv.FormatInt(time.Now().UnixNano(), 36)
	file := "lighthouse-" + nonce + ".txt"
	written := filepath.Join(cluster.ExecDir(), file)
	t.Cleanup(func() { os.Remove(written) })
	if out, err := kubectlIn(t, fmt.Sprintf(`apiVersion: v1
kind: Namespace
metadata: {name: lighthouse}
---
apiVersion: v1
kind: Pod
metadata:
  name: keeper
  namespace: lighthouse
  labels: {app: keeper}
  annotations:
    pre.hook.backup.ark.heptio.com/command: '["/bin/sh","-c","echo lit %[1]s | tee %[2]s"]'
spec:
  containers: [{name: keeper, image: busybox}]
`, nonce, file), "apply", "-f", "-"); err != nil {
		t.Fatalf("fixture: %v\n%s", err, out)
	}
	t.Cleanup(func() { _, _ = kubectl(t, "delete", "namespace", "lighthouse", "--wait=false") })
	framework.WaitPodRunning(t, "lighthouse", "keeper")
	checkPodsRun(t, "lighthouse", "keeper", 1)
	if _, err := os.Stat(written); err == nil {
		t.Fatalf("%s exists before the backup", written)
	}

	b := runBackup(t, home, &arkv1.Backup{ObjectMeta: metav1.ObjectMeta{Name: "lighthouse-1"}, Spec: arkv1.BackupSpec{IncludedNamespaces: []string{"lighthouse"}}}, "")
	logs := mustKubectl(t, "get", "--raw", "/apis/ark.heptio.com/v1/namespaces/"+home+"/backups/lighthouse-1/logs")
	if b.Status.Phase != arkv1.BackupPhaseCompleted || b.Status.Warnings != 0 || b.Status.Errors != 0 {
		t.Fatalf("backup: %+v\n%s", b.Status, logs)
	}
	if !strings.Contains(logs, "running pre hook annotation in pod lighthouse/keeper container keeper") {
		t.Errorf("the hook's run is not in the log:\n%s", logs)
	}
	if want := fmt.Sprintf(`pre hook annotation in pod lighthouse/keeper printed "lit %s"`, nonce); !strings.Contains(logs, want) {
		t.Errorf("the hook's output is not in the log (want %s):\n%s", want, logs)
	}
	data, err := os.ReadFile(written)
	if err != nil {
		t.Fatalf("the hook's command did not write its file in the cluster directory: %v\n%s", err, logs)
	}
	if got := string(data); got != "lit "+nonce+"\n" {
		t.Errorf("%s holds %q", written, got)
	}
}
