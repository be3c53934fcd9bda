package tenancy

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
	"github.com/arkproject/ark/test/e2e/framework"
)

// Case 4: re-pointing someone else's restore makes it yours. The
// administrator's restore in req-a failed validation (its backup does not
// exist); mallory, admin of req-a, points it at the administrator's backup
// that holds a binding to cluster-admin. The restore then records mallory as
// its requester and creates as mallory, so the binding is refused.
func TestRepointedRestoreActsAsTheEditor(t *testing.T) {
	tenant(t, "req-a", map[string]string{"mallory": "admin"})
	mustKubectl(t, "create", "serviceaccount", "ci", "-n", "req-a")
	mustKubectl(t, "create", "rolebinding", "ci-all", "-n", "req-a", "--clusterrole=cluster-admin", "--serviceaccount=req-a:ci")
	b := backup(t, "req-a", "req-admin", "", nil)
	if b.Status.Phase != arkv1.BackupPhaseCompleted {
		t.Fatalf("the administrator's backup: %+v", b.Status)
	}
	mustKubectl(t, "delete", "rolebinding", "ci-all", "-n", "req-a")

	// A schedule with no backups: the restore fails validation when it runs.
	r := restore(t, "req-a", "fix-me", "", arkv1.RestoreSpec{ScheduleName: "not-there"})
	if r.Status.Phase != arkv1.RestorePhaseFailedValidation || r.Spec.Requester.Username != "kubernetes-admin" {
		t.Fatalf("the administrator's restore: %+v %+v", r.Spec.Requester, r.Status)
	}
	out, err := kubectl(t, "patch", "restore", "fix-me", "-n", "req-a", "--type=merge", "-p", `{"spec":{"scheduleName":null,"backupName":"req-admin"}}`, "--as=mallory")
	if err != nil {
		t.Fatalf("mallory's patch: %v\n%s", err, out)
	}
	got := framework.WaitRestore(t, "req-a", "fix-me")
	if got.Spec.Requester == nil || got.Spec.Requester.Username != "mallory" {
		t.Fatalf("after mallory's change the requester is %+v", got.Spec.Requester)
	}
	if exists(t, "rolebinding", "ci-all", "-n", "req-a") {
		t.Fatal("mallory's restore created the administrator's binding to cluster-admin")
	}
	res := results(t, "req-a", "fix-me")
	if it := res["rolebindings.rbac.authorization.k8s.io req-a/ci-all"]; it["action"] != "failed" || !strings.Contains(it["reason"], "mallory") {
		t.Errorf("the binding's result: %v", it)
	}

	// A change of labels alone keeps the requester.
	restore(t, "req-a", "labels-only", "", arkv1.RestoreSpec{ScheduleName: "not-there"})
	mustKubectl(t, "label", "restore", "labels-only", "-n", "req-a", "seen=yes", "--as=mallory")
	patched, err := framework.Ark.ArkV1().Restores("req-a").Get(ctx(), "labels-only", metav1.GetOptions{})
	if err != nil || patched.Labels["seen"] != "yes" || patched.Spec.Requester.Username != "kubernetes-admin" {
		t.Errorf("a label change moved the requester: %v %+v", err, patched)
	}
}

// Case 9: passing a requester on is Ark's own loopback identity's alone. A
// client calling itself system:apiserver (here by impersonation through
// kube-apiserver) and naming a cluster administrator as the requester is
// recorded as itself.
func TestRequesterCannotBePassedOnByName(t *testing.T) {
	tenant(t, "pass-a", map[string]string{"system:apiserver": "admin"})
	out, err := kubectlIn(t, `apiVersion: ark.heptio.com/v1
kind: Backup
metadata: {name: passed-on, namespace: pass-a}
spec:
  requester: {username: kubernetes-admin, groups: ["system:masters", "system:authenticated"]}
`, "create", "-f", "-", "--as=system:apiserver", "--as-group=tenants")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	t.Cleanup(func() { framework.RemoveBackupFiles("pass-a", "passed-on") })
	b := framework.WaitBackup(t, "pass-a", "passed-on")
	r := b.Spec.Requester
	if r == nil || r.Username != "system:apiserver" || strings.Contains(strings.Join(r.Groups, ","), "system:masters") {
		t.Fatalf("the requester passed on by name was recorded: %+v", r)
	}
}

// Case 9: a pod cannot forge lines of a backup's log through its hook's
// output: the output is quoted.
func TestHookOutputCannotForgeLogLines(t *testing.T) {
	tenant(t, "quote-a", map[string]string{"mallory": "admin"})
	if out, err := kubectlIn(t, `apiVersion: v1
kind: Pod
metadata:
  name: chatty
  namespace: quote-a
  annotations:
    pre.hook.backup.ark.heptio.com/command: '["printf","ok\nerror everything is on fire: restore nothing"]'
spec:
  nodeName: kwok-node-0
  containers: [{name: app, image: busybox}]
`, "apply", "-f", "-", "--as=mallory"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	framework.WaitPodRunning(t, "quote-a", "chatty")
	b := backup(t, "quote-a", "chatty-1", "mallory", nil)
	logs := mustKubectl(t, "get", "--raw", "/apis/ark.heptio.com/v1/namespaces/quote-a/backups/chatty-1/logs", "--as=mallory")
	for _, line := range strings.Split(logs, "\n") {
		if strings.HasPrefix(line, "error everything is on fire") {
			t.Errorf("the pod wrote a line of the log: %q", line)
		}
	}
	if !strings.Contains(logs, `printed "ok\nerror everything is on fire: restore nothing"`) {
		t.Errorf("the hook's output is not in the log, quoted:\n%s", logs)
	}
	if b.Status.Errors != 0 {
		t.Errorf("the backup counts the pod's words as errors: %+v", b.Status)
	}
}
