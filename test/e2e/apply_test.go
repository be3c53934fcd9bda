package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/arkproject/ark/test/e2e/framework"
)

// GitOps tools apply on the server: every kind of Ark's is created by a
// server-side apply, applying the same manifest again changes nothing, and
// applying a change changes just that.
func TestServerSideApplyOfEveryKind(t *testing.T) {
	mustKubectl(t, "create", "namespace", "ssa-app")
	mustKubectl(t, "create", "configmap", "cm", "-n", "ssa-app", "--from-literal=k=v")
	t.Cleanup(func() { _, _ = kubectl(t, "delete", "namespace", "ssa-app", "ssa-copy", "--wait=false") })
	t.Cleanup(func() { framework.RemoveBackupFiles(home, "ssa-backup") })
	manifests := map[string]string{
		"backup": `apiVersion: ark.heptio.com/v1
kind: Backup
metadata: {name: ssa-backup, namespace: ` + home + `, labels: {team: LABEL}}
spec: {includedNamespaces: [ssa-app]}
`,
		"schedule": `apiVersion: ark.heptio.com/v1
kind: Schedule
metadata: {name: ssa-schedule, namespace: ` + home + `, labels: {team: LABEL}}
spec: {schedule: "0 3 * * *", paused: true, template: {includedNamespaces: [ssa-app]}}
`,
		"restore": `apiVersion: ark.heptio.com/v1
kind: Restore
metadata: {name: ssa-restore, namespace: ` + home + `, labels: {team: LABEL}}
spec: {backupName: ssa-backup, namespaceMapping: {ssa-app: ssa-copy}}
`,
		"backupstoragelocation": `apiVersion: ark.heptio.com/v1
kind: BackupStorageLocation
metadata: {name: ssa-backupstoragelocation, namespace: ` + home + `, labels: {team: LABEL}}
spec: {provider: aws, objectStorage: {bucket: ssa-bucket, prefix: cluster-b}, config: {region: eu-west-1}}
`,
	}
	apply := func(kind, label string) string {
		t.Helper()
		out, err := kubectlIn(t, strings.ReplaceAll(manifests[kind], "LABEL", label), "apply", "--server-side", "-f", "-")
		if err != nil {
			t.Fatalf("kubectl apply --server-side of a %s: %v\n%s", kind, err, out)
		}
		return out
	}
	for _, kind := range []string{"backup", "schedule", "restore", "backupstoragelocation"} {
		name := "ssa-" + kind
		if out := apply(kind, "a"); !strings.Contains(out, "serverside-applied") {
			t.Errorf("first apply of the %s: %s", kind, out)
		}
		if kind == "backup" {
			framework.WaitBackup(t, home, name)
		}
		if kind == "restore" {
			framework.WaitRestore(t, home, name)
		}
		if kind == "backupstoragelocation" {
			// Its one status write ("not served yet") must come first.
			eventually(t, 30*time.Second, "the location's status is written", func() error {
				if got := jsonpath(t, "{.status.phase}", "get", kind, name, "-n", home); got != "Unavailable" {
					return fmt.Errorf("phase %q", got)
				}
				return nil
			})
			// Then its status settles: a busy machine serves the location
			// (and writes why it is unavailable) a sync or two later, which
			// must not be taken for the second apply's doing.
			eventually(t, time.Minute, "the location's status settles", func() error {
				first := jsonpath(t, "{.metadata.resourceVersion}", "get", kind, name, "-n", home)
				time.Sleep(6 * time.Second) // longer than a sync interval (5s here)
				if again := jsonpath(t, "{.metadata.resourceVersion}", "get", kind, name, "-n", home); again != first {
					return fmt.Errorf("resourceVersion %s -> %s", first, again)
				}
				return nil
			})
		}
		before := jsonpath(t, "{.metadata.resourceVersion}", "get", kind, name, "-n", home)
		apply(kind, "a")
		if after := jsonpath(t, "{.metadata.resourceVersion}", "get", kind, name, "-n", home); after != before {
			t.Errorf("applying the same %s again changed it: resourceVersion %s -> %s", kind, before, after)
		}
		apply(kind, "b")
		eventually(t, 10*time.Second, "the "+kind+"'s label changes", func() error {
			if got := jsonpath(t, "{.metadata.labels.team}", "get", kind, name, "-n", home); got != "b" {
				return fmt.Errorf("label %q", got)
			}
			return nil
		})
		if managers := jsonpath(t, "{.metadata.managedFields[*].manager}", "get", kind, name, "-n", home, "--show-managed-fields"); !strings.Contains(managers, "kubectl") {
			t.Errorf("the %s's managed fields name no kubectl manager: %q", kind, managers)
		}
	}
	mustKubectl(t, "get", "configmap", "cm", "-n", "ssa-copy")
	mustKubectl(t, "delete", "schedule", "ssa-schedule", "-n", home)
	mustKubectl(t, "delete", "backupstoragelocation", "ssa-backupstoragelocation", "-n", home)
}
