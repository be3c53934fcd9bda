package e2e

import (
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
)

// debugSecret is a value that must never reach a support bundle: it is in
// a Secret the backup holds, and in a location's config under a key that
// names a credential (kmsKeyId), applied with kubectl so that the
// last-applied-configuration annotation repeats it.
const debugSecret = "SECRET-debug-e2e-7f3a"

// ark debug as the administrator: the bundle holds the server's build, the
// backup and its log, the restore's results, and no credential; and since
// Ark runs here as a local process, the summary says there are no pods.
func TestDebugBundleAsAdministrator(t *testing.T) {
	if out, err := kubectlIn(t, fmt.Sprintf(`apiVersion: v1
kind: Namespace
metadata: {name: debug-src}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: debug-src}
data: {colour: teal}
---
apiVersion: v1
kind: Secret
metadata: {name: debug-creds, namespace: debug-src}
stringData: {password: %[1]q}
---
apiVersion: ark.heptio.com/v1
kind: BackupStorageLocation
metadata: {name: debug-elsewhere, namespace: %[2]s}
spec:
  provider: aws
  objectStorage: {bucket: debug-elsewhere}
  accessMode: ReadOnly
  config: {region: us-east-1, kmsKeyId: %[1]q}
`, debugSecret, home), "apply", "-f", "-"); err != nil {
		t.Fatalf("fixture: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		kubectl(t, "delete", "namespace", "debug-src", "debug-dst", "--wait=false", "--ignore-not-found")
		kubectl(t, "delete", "bsl", "debug-elsewhere", "-n", home, "--ignore-not-found")
	})
	b := runBackup(t, home, &arkv1.Backup{ObjectMeta: metav1.ObjectMeta{Name: "debug-bundle"}, Spec: arkv1.BackupSpec{IncludedNamespaces: []string{"debug-src"}}}, "")
	if b.Status.Phase != arkv1.BackupPhaseCompleted {
		t.Fatalf("backup: %q %s", b.Status.Phase, b.Status.FailureReason)
	}
	r := runRestore(t, home, &arkv1.Restore{ObjectMeta: metav1.ObjectMeta{Name: "debug-bundle"}, Spec: arkv1.RestoreSpec{BackupName: "debug-bundle", NamespaceMapping: map[string]string{"debug-src": "debug-dst"}}}, "")
	t.Cleanup(func() {
		ark.ArkV1().Restores(home).Delete(context.Background(), "debug-bundle", metav1.DeleteOptions{})
	})
	if r.Status.Phase != arkv1.RestorePhaseCompleted {
		t.Fatalf("restore: %q %s", r.Status.Phase, r.Status.FailureReason)
	}

	dir := t.TempDir()
	bundle := filepath.Join(dir, "bundle.tar.gz")
	out := mustArk(t, dir, "debug", "--backup", "debug-bundle", "--restore", "debug-bundle", "--output", bundle)
	if !strings.Contains(out, "Wrote "+bundle+" (") {
		t.Errorf("ark debug does not say where it wrote the bundle:\n%s", out)
	}
	files := readDebugBundle(t, bundle)

	if v := files["version.txt"]; !strings.Contains(v, "\nServer: ark "+runningServerBuild(t)+"\n") || !strings.Contains(v, "Condition: Available=True") {
		t.Errorf("version.txt does not name the server's build and the APIService's condition:\n%s", v)
	}
	if got := files["resources/backups.ark.heptio.com/namespaces/"+home+"/debug-bundle.yaml"]; !strings.Contains(got, "kind: Backup") || !strings.Contains(got, "phase: Completed") {
		t.Errorf("the backup in resources/:\n%s", got)
	}
	if got := files["resources/restores.ark.heptio.com/namespaces/"+home+"/debug-bundle.yaml"]; !strings.Contains(got, "backupName: debug-bundle") {
		t.Errorf("the restore in resources/:\n%s", got)
	}
	if got := files["resources/apiservices.apiregistration.k8s.io/cluster/v1.ark.heptio.com.yaml"]; !strings.Contains(got, "kind: APIService") {
		t.Errorf("the APIService in resources/:\n%s", got)
	}
	if got := files["logs/backups/"+home+"/debug-bundle.log"]; !strings.Contains(got, "starting backup "+home+"/debug-bundle") {
		t.Errorf("the backup's log:\n%s", got)
	}
	if got := files["logs/restores/"+home+"/debug-bundle.log"]; got == "" {
		t.Error("the restore's log is empty or missing")
	}
	if got := files["results/restores/"+home+"/debug-bundle.json"]; !strings.Contains(got, `"name":"settings"`) {
		t.Errorf("the restore's results:\n%s", got)
	}
	if got := files["resources/backupstoragelocations.ark.heptio.com/namespaces/"+home+"/debug-elsewhere.yaml"]; !strings.Contains(got, "kmsKeyId: REDACTED") || !strings.Contains(got, "region: us-east-1") {
		t.Errorf("the location's config is not redacted as it should be:\n%s", got)
	}
	backupEvents := 0
	for name := range files {
		if strings.HasPrefix(name, "resources/events/namespaces/"+home+"/debug-bundle.") {
			backupEvents++
		}
	}
	if backupEvents == 0 {
		t.Errorf("no event of the backup or restore in the bundle: %v", debugFileNames(files))
	}
	noSecrets(t, files)

	summary := files["summary.txt"]
	for _, want := range []string{
		"resources/backups.ark.heptio.com: ", " in all namespaces\n",
		"Ark does not run as pods: the APIService reaches it through the ExternalName Service ark-system/ark-apiserver",
		"\nNot collected: nothing\n",
	} {
		if !strings.Contains(summary, want) {
			t.Errorf("summary lacks %q:\n%s", want, summary)
		}
	}
	if !strings.Contains(out, summary) {
		t.Errorf("ark debug did not print the summary:\n%s", out)
	}
}

// A user who may only view one namespace gets a bundle too: what Kubernetes'
// view role lets them read there (the events of Ark objects, the server's
// build through a ServerStatusRequest), and a summary naming each part that
// was forbidden.
func TestDebugBundleAsNamespaceViewer(t *testing.T) {
	mustKubectl(t, "create", "namespace", "debug-view")
	t.Cleanup(func() { kubectl(t, "delete", "namespace", "debug-view", "--wait=false") })
	mustKubectl(t, "create", "rolebinding", "dana-views", "-n", "debug-view", "--clusterrole=view", "--user=dana")
	dir := t.TempDir()
	serverBuild := runningServerBuild(t)

	var files map[string]string
	eventually(t, 60*time.Second, "dana's bundle holds the server's build, which view grants", func() error {
		bundle := filepath.Join(dir, "dana.tar.gz")
		out, code := arkCmd(t, dir, "--as=dana", "-n", "debug-view", "debug", "--output", bundle, "--force")
		if code != 0 {
			return fmt.Errorf("exit %d:\n%s", code, out)
		}
		files = readDebugBundle(t, bundle)
		if !strings.Contains(files["version.txt"], "Server: ark "+serverBuild) {
			return fmt.Errorf("version.txt:\n%s", files["version.txt"])
		}
		return nil
	})
	summary := files["summary.txt"]
	for _, want := range []string{
		`backups in all namespaces: forbidden: backups.ark.heptio.com is forbidden: User "dana" cannot list resource "backups"`,
		`backups in namespace debug-view: forbidden: `,
		`backupstoragelocations in namespace debug-view: forbidden: `,
		`APIService v1.ark.heptio.com: forbidden: `,
		`statefulsets ark-system/ark-apiserver: forbidden: `,
		`pods in ark-system: forbidden: `,
		`events of Ark objects in all namespaces: forbidden: `,
		"resources/events: 0 of Ark objects in namespace debug-view",
	} {
		if !strings.Contains(summary, want) {
			t.Errorf("dana's summary lacks %q:\n%s", want, summary)
		}
	}
	if strings.Contains(summary, "does not run as pods") {
		t.Errorf("dana, who may not list pods, was told Ark runs no pods:\n%s", summary)
	}
	noSecrets(t, files)
}

// readDebugBundle returns the bundle's files by name.
func readDebugBundle(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	files := map[string]string{}
	for name, data := range tarEntries(t, f, false) {
		files[name] = string(data)
	}
	for _, want := range []string{"summary.txt", "version.txt"} {
		if _, ok := files[want]; !ok {
			t.Fatalf("the bundle has no %s: %v", want, debugFileNames(files))
		}
	}
	return files
}

// noSecrets fails if any file of the bundle holds the secret value, plain
// or as a Secret's base64, or managedFields.
func noSecrets(t *testing.T, files map[string]string) {
	t.Helper()
	for name, data := range files {
		for _, leak := range []string{debugSecret, base64.StdEncoding.EncodeToString([]byte(debugSecret)), "managedFields"} {
			if strings.Contains(data, leak) {
				t.Errorf("%s holds %q", name, leak)
			}
		}
	}
}

func debugFileNames(files map[string]string) []string {
	var out []string
	for n := range files {
		out = append(out, n)
	}
	return out
}
