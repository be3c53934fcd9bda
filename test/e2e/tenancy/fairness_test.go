package tenancy

import (
	"fmt"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
	"github.com/arkproject/ark/test/e2e/framework"
)

// Case 8: one tenant cannot stall everyone. A backup in stall-a holds the
// namespace's slot with a long hook (whose pod asks for a timeout of a
// year); stall-a's next backup waits, while another tenant's and the
// administrators' backups go ahead. Limits that would let a tenant hold
// workers or the bucket for long are refused with 422.
//
// Case 4 on the way: the administrator's backup waiting in stall-a is
// edited by mallory; it then records and acts as mallory, who may not read
// Secrets, so none are backed up.
func TestOneTenantCannotStallEveryone(t *testing.T) {
	tenant(t, "stall-a", map[string]string{"mallory": "ark-namespace-user"})
	mustKubectl(t, "create", "rolebinding", "mallory-view", "-n", "stall-a", "--clusterrole=view", "--user=mallory")
	tenant(t, "stall-b", map[string]string{"bob": "admin"})
	mustKubectl(t, "create", "secret", "generic", "token", "-n", "stall-a", "--from-literal=t=admins-only")

	for _, c := range []struct{ doc, field string }{
		{`{apiVersion: ark.heptio.com/v1, kind: Schedule, metadata: {name: hammer, namespace: stall-b}, spec: {schedule: "@every 10s"}}`, "spec.schedule"},
		{`{apiVersion: ark.heptio.com/v1, kind: Backup, metadata: {name: forever, namespace: stall-b}, spec: {ttl: 876000h}}`, "spec.ttl"},
		{`{apiVersion: ark.heptio.com/v1, kind: Backup, metadata: {name: sleepy, namespace: stall-b}, spec: {hooks: {resources: [{name: h, pre: [{exec: {command: [sleep, "1"], timeout: 8760h}}]}]}}}`, "spec.hooks.resources[0].pre[0].exec.timeout"},
		{`{apiVersion: ark.heptio.com/v1, kind: Backup, metadata: {name: nodes, namespace: stall-b}, spec: {includedResources: [nodes]}}`, "spec.includedResources[0]"},
	} {
		out, err := kubectlIn(t, c.doc, "create", "-f", "-", "--as=bob")
		if err == nil || !strings.Contains(out, "is invalid") && !strings.Contains(out, "Forbidden") || !strings.Contains(out, c.field) {
			t.Errorf("bob creating %s: %v\n%s", c.field, err, out)
		}
	}

	if out, err := kubectlIn(t, `apiVersion: v1
kind: Pod
metadata:
  name: slow
  namespace: stall-a
  annotations:
    pre.hook.backup.ark.heptio.com/command: '["sh","-c","sleep 15"]'
    pre.hook.backup.ark.heptio.com/timeout: 8760h
spec:
  nodeName: kwok-node-0
  containers: [{name: app, image: busybox}]
`, "apply", "-f", "-"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	mustKubectl(t, "create", "configmap", "c", "-n", "stall-b", "--from-literal=k=v")
	framework.WaitPodRunning(t, "stall-a", "slow")

	create := func(ns, name, as string, spec arkv1.BackupSpec) {
		t.Helper()
		b := &arkv1.Backup{TypeMeta: metav1.TypeMeta{APIVersion: "ark.heptio.com/v1", Kind: "Backup"}, ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Spec: spec}
		framework.KubectlCreate(t, b, as)
		t.Cleanup(func() { framework.RemoveBackupFiles(ns, name) })
	}
	phase := func(ns, name string) arkv1.BackupPhase {
		b, err := framework.Ark.ArkV1().Backups(ns).Get(ctx(), name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return b.Status.Phase
	}
	start := time.Now()
	create("stall-a", "hold", "", arkv1.BackupSpec{IncludedResources: []string{"pods"}})
	eventually(t, 30*time.Second, "hold is running its hook", func() error {
		if p := phase("stall-a", "hold"); p != arkv1.BackupPhaseInProgress {
			return fmt.Errorf("%s", p)
		}
		return nil
	})
	create("stall-a", "queued", "", arkv1.BackupSpec{IncludedResources: []string{"secrets", "configmaps"}})
	create("stall-b", "other-tenant", "bob", arkv1.BackupSpec{})
	create(home, "admins", "", arkv1.BackupSpec{IncludedNamespaces: []string{"stall-b"}})
	for _, at := range [][2]string{{"stall-b", "other-tenant"}, {home, "admins"}} {
		b := framework.WaitBackup(t, at[0], at[1])
		if b.Status.Phase != arkv1.BackupPhaseCompleted {
			t.Errorf("%s/%s: %+v", at[0], at[1], b.Status)
		}
	}
	if p := phase("stall-a", "hold"); p != arkv1.BackupPhaseInProgress {
		t.Fatalf("hold is %s already (after %s): the hook was not slow enough to show anything", p, time.Since(start))
	}
	if p := phase("stall-a", "queued"); p != arkv1.BackupPhaseNew {
		t.Fatalf("stall-a's second backup did not wait for the first: %s", p)
	}

	// Mallory edits the administrator's waiting backup.
	if out, err := kubectl(t, "patch", "backup", "queued", "-n", "stall-a", "--type=merge", "-p", `{"spec":{"includedResources":["secrets","configmaps","serviceaccounts"]}}`, "--as=mallory"); err != nil {
		t.Fatalf("mallory's patch: %v\n%s", err, out)
	}
	q := framework.WaitBackup(t, "stall-a", "queued")
	if q.Spec.Requester == nil || q.Spec.Requester.Username != "mallory" {
		t.Fatalf("the edited backup acts as %+v", q.Spec.Requester)
	}
	entries := framework.Download(t, "stall-a", "queued")
	for name, data := range entries {
		if strings.HasPrefix(name, "resources/secrets/") || strings.Contains(string(data), "YWRtaW5zLW9ubHk") {
			t.Errorf("mallory's edit backed up a Secret: %s", name)
		}
	}
	if q.Status.Phase != arkv1.BackupPhasePartiallyFailed {
		t.Errorf("secrets were named and mallory may not list them: %+v", q.Status)
	}
	h := framework.WaitBackup(t, "stall-a", "hold")
	logs := mustKubectl(t, "get", "--raw", "/apis/ark.heptio.com/v1/namespaces/stall-a/backups/hold/logs")
	if h.Status.Phase != arkv1.BackupPhaseCompleted || !strings.Contains(logs, "asks for a timeout of 8760h0m0s; it gets at most 10m0s") {
		t.Errorf("hold: %+v\n%s", h.Status, logs)
	}
}
