package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
	"github.com/arkproject/ark/pkg/restore"
	"github.com/arkproject/ark/test/e2e/framework"
)

// Restore hooks in pods the scheduler places and kwok runs: an init hook's
// container is in the restored pod before the pod's own, an exec hook from
// the restore's spec and one from a pod's annotation run once the pods run
// (kwok runs the commands on this machine, in the cluster directory), and
// their output is in the restore's results and log.
func TestRestoreHooksRunInRestoredPods(t *testing.T) {
	nonce := strconv.FormatInt(time.Now().UnixNano(), 36)
	baked, counted := "bakery-oven-"+nonce+".txt", "bakery-till-"+nonce+".txt"
	for _, f := range []string{baked, counted} {
		path := filepath.Join(cluster.ExecDir(), f)
		t.Cleanup(func() { os.Remove(path) })
	}
	if out, err := kubectlIn(t, fmt.Sprintf(`apiVersion: v1
kind: Namespace
metadata: {name: bakery}
---
apiVersion: v1
kind: Pod
metadata: {name: oven, namespace: bakery, labels: {app: oven}}
spec:
  initContainers: [{name: own-init, image: busybox}]
  containers: [{name: oven, image: busybox}]
---
apiVersion: v1
kind: Pod
metadata:
  name: till
  namespace: bakery
  annotations:
    post.hook.restore.ark.heptio.com/command: '["/bin/sh","-c","echo counted %[1]s | tee %[2]s"]'
    post.hook.restore.ark.heptio.com/wait-timeout: 90s
spec:
  containers: [{name: till, image: busybox}]
`, nonce, counted), "apply", "-f", "-"); err != nil {
		t.Fatalf("fixture: %v\n%s", err, out)
	}
	t.Cleanup(func() { _, _ = kubectl(t, "delete", "namespace", "bakery", "--wait=false") })
	framework.WaitPodRunning(t, "bakery", "oven")
	framework.WaitPodRunning(t, "bakery", "till")
	runBackup(t, home, &arkv1.Backup{ObjectMeta: metav1.ObjectMeta{Name: "bakery-1"}, Spec: arkv1.BackupSpec{IncludedNamespaces: []string{"bakery"}}}, "")
	mustKubectl(t, "delete", "namespace", "bakery", "--timeout=90s")

	r := runRestore(t, home, &arkv1.Restore{ObjectMeta: metav1.ObjectMeta{Name: "bakery-1-restore"}, Spec: arkv1.RestoreSpec{
		BackupName: "bakery-1",
		Hooks: arkv1.RestoreHooks{Resources: []arkv1.RestoreResourceHookSpec{{
			Name:          "bake",
			LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "oven"}},
			PostHooks: []arkv1.RestoreResourceHook{
				{Init: &arkv1.InitRestoreHook{InitContainers: []runtime.RawExtension{{Raw: []byte(`{"name":"prep","image":"busybox","command":["true"]}`)}}}},
				{Exec: &arkv1.ExecRestoreHook{Command: []string{"/bin/sh", "-c", "echo baked " + nonce + " | tee " + baked}, OnError: arkv1.HookErrorModeFail,
					WaitTimeout: metav1.Duration{Duration: 90 * time.Second}}},
			},
		}}},
	}}, "")
	logs := mustKubectl(t, "get", "--raw", "/apis/ark.heptio.com/v1/namespaces/"+home+"/restores/bakery-1-restore/logs")
	if r.Status.Phase != arkv1.RestorePhaseCompleted || r.Status.Errors != 0 {
		t.Fatalf("restore: %+v\n%s", r.Status, logs)
	}
	if got := jsonpath(t, "{.spec.initContainers[*].name}", "get", "pod", "oven", "-n", "bakery"); got != "prep own-init" {
		t.Errorf("the restored pod's init containers: %q", got)
	}
	if got := jsonpath(t, "{.spec.initContainers[*].name}", "get", "pod", "till", "-n", "bakery"); got != "" {
		t.Errorf("a pod the hook does not select got init containers: %q", got)
	}
	raw := mustKubectl(t, "get", "--raw", "/apis/ark.heptio.com/v1/namespaces/"+home+"/restores/bakery-1-restore/results")
	var doc struct {
		Hooks []restore.HookResult `json:"hooks"`
	}
	if err := json.Unmarshal([]byte(raw), &doc); err != nil {
		t.Fatal(err)
	}
	got := map[string]restore.HookResult{}
	for _, h := range doc.Hooks {
		got[h.Pod] = h
	}
	for pod, want := range map[string]string{"oven": "baked " + nonce, "till": "counted " + nonce} {
		if h := got[pod]; h.Outcome != restore.HookSucceeded || h.Stdout != want {
			t.Errorf("pod %s's hook: %+v, want succeeded printing %q\n%s", pod, h, want, logs)
		}
	}
	for file, want := range map[string]string{baked: "baked " + nonce + "\n", counted: "counted " + nonce + "\n"} {
		data, err := os.ReadFile(filepath.Join(cluster.ExecDir(), file))
		if err != nil || string(data) != want {
			t.Errorf("%s: %q, %v (want %q)", file, data, err, want)
		}
	}
	if !strings.Contains(logs, fmt.Sprintf(`exec hook bake in pod bakery/oven container oven succeeded; it printed "baked %s"`, nonce)) {
		t.Errorf("the log does not show the hook's output:\n%s", logs)
	}
}
