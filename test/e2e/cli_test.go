package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
	"github.com/arkproject/ark/pkg/provenance"
)

// ark runs the ark command line as a user would, from dir.
func arkCmd(t *testing.T, dir string, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, arkCLI, append([]string{"--kubeconfig=" + cluster.Kubeconfig}, args...)...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return string(out), exit.ExitCode()
	}
	if err != nil {
		t.Fatalf("ark %v: %v", args, err)
	}
	return string(out), 0
}

func mustArk(t *testing.T, dir string, args ...string) string {
	t.Helper()
	out, code := arkCmd(t, dir, args...)
	if code != 0 {
		t.Fatalf("ark %s: exit %d\n%s", strings.Join(args, " "), code, out)
	}
	return out
}

// The seed's flows, typed as a user would.
func TestCLISeedFlows(t *testing.T) {
	dir := t.TempDir()
	if out, err := kubectlIn(t, `apiVersion: v1
kind: Namespace
metadata: {name: abc}
---
apiVersion: v1
kind: Namespace
metadata: {name: "123"}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: letters, namespace: abc, labels: {app: nginx}}
data: {a: b}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: digits, namespace: "123", labels: {app: nginx}}
data: {"1": "2"}
`, "apply", "-f", "-"); err != nil {
		t.Fatalf("fixture: %v\n%s", err, out)
	}

	// ark backup create with a TTL and without volume snapshots, waiting.
	out := mustArk(t, dir, "backup", "create", "nginx-backup", "--include-namespaces", "abc,123", "--ttl", "24h0m0s", "--snapshot-volumes=false", "--wait")
	if !strings.Contains(out, `Backup "nginx-backup" Completed`) || !strings.Contains(out, "items  Completed") {
		t.Errorf("backup create --wait:\n%s", out)
	}
	t.Cleanup(func() { os.RemoveAll(filepath.Join(cluster.BucketDir, "backups", "nginx-backup")) })
	out = mustArk(t, dir, "backup", "describe", "nginx-backup")
	for _, want := range []string{"Phase:                     Completed", "Snapshot volumes:          false", "TTL:                       24h0m0s", "Included namespaces:       abc, 123"} {
		if !strings.Contains(out, want) {
			t.Errorf("describe lacks %q:\n%s", want, out)
		}
	}
	out = mustArk(t, dir, "backup", "get")
	if !strings.Contains(out, "nginx-backup") || !strings.Contains(out, "STORAGE LOCATION") {
		t.Errorf("backup get:\n%s", out)
	}

	// ark backup download writes NAME-data.tar.gz.
	mustArk(t, dir, "backup", "download", "nginx-backup")
	names := tarNames(t, filepath.Join(dir, "nginx-backup-data.tar.gz"))
	if !strings.Contains(names, "resources/configmaps/namespaces/abc/letters.json") || !strings.Contains(names, "resources/configmaps/namespaces/123/digits.json") {
		t.Errorf("downloaded tarball:\n%s", names)
	}
	if out := mustArk(t, dir, "backup", "logs", "nginx-backup"); !strings.Contains(out, "starting backup heptio-ark/nginx-backup") {
		t.Errorf("backup logs:\n%s", out)
	}

	// Disaster, then a restore with two namespace mappings.
	mustKubectl(t, "delete", "namespace", "abc", "123", "--timeout=90s")
	out = mustArk(t, dir, "restore", "create", "--from-backup", "nginx-backup", "--namespace-mappings", "abc:def,123:456", "--wait")
	if !strings.Contains(out, "Completed") {
		t.Fatalf("restore create --wait:\n%s", out)
	}
	restoreName := ""
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, `Restore "nginx-backup-`) {
			restoreName = strings.Split(line, `"`)[1]
			break
		}
	}
	if len(restoreName) != len("nginx-backup-")+14 {
		t.Fatalf("default restore name %q is not <backup>-<YYYYMMDDhhmmss>", restoreName)
	}
	if got := jsonpath(t, `{.metadata.labels.ark\.heptio\.com/restore-name}`, "get", "configmap", "letters", "-n", "def"); got != restoreName {
		t.Errorf("restore label on def/letters: %q, want %q", got, restoreName)
	}
	if got := jsonpath(t, "{.data.1}", "get", "configmap", "digits", "-n", "456"); got != "2" {
		t.Errorf("456/digits: %q", got)
	}
	if out := mustArk(t, dir, "restore", "results", restoreName); !strings.Contains(out, `"name":"letters"`) {
		t.Errorf("restore results:\n%s", out)
	}

	// Schedules: create, see, pause.
	mustArk(t, dir, "schedule", "create", "nginx-daily", "--schedule", "0 3 * * *", "--include-namespaces", "def", "--ttl", "72h0m0s", "--paused")
	t.Cleanup(func() { arkCmd(t, dir, "schedule", "delete", "nginx-daily", "--confirm") })
	mustArk(t, dir, "schedule", "unpause", "nginx-daily")
	mustArk(t, dir, "schedule", "pause", "nginx-daily")
	out = mustArk(t, dir, "schedule", "get", "nginx-daily")
	if !strings.Contains(out, "0 3 * * *") || !strings.Contains(out, "true") {
		t.Errorf("schedule get:\n%s", out)
	}
	if got := jsonpath(t, "{.spec.paused}/{.spec.template.ttl}", "get", "schedule", "nginx-daily", "-n", home); got != "true/72h0m0s" {
		t.Errorf("schedule: %q", got)
	}
}

// Failures reach the user with a non-zero exit and a clear message.
func TestCLIErrors(t *testing.T) {
	dir := t.TempDir()
	out, code := arkCmd(t, dir, "backup", "create", "neg", "--ttl", "-1h")
	if code == 0 || !strings.Contains(out, "spec.ttl") || !strings.Contains(out, "must not be negative") {
		t.Errorf("negative ttl: exit %d\n%s", code, out)
	}
	out, code = arkCmd(t, dir, "restore", "create", "nothing", "--from-backup", "does-not-exist", "--wait")
	if code != 1 || !strings.Contains(out, `spec.backupName: Not found: "backup \"does-not-exist\" in namespace heptio-ark"`) {
		t.Errorf("restore of a missing backup: exit %d\n%s", code, out)
	}
	// A typo in a filter is refused at once, with what was meant.
	out, code = arkCmd(t, dir, "backup", "create", "typo", "--include-resources", "deploymnts")
	if code != 1 || !strings.Contains(out, `spec.includedResources[0]: Invalid value: "deploymnts": "deploymnts" is not a resource this cluster serves; did you mean "deployments"?`) {
		t.Errorf("typo in --include-resources: exit %d\n%s", code, out)
	}
	out, code = arkCmd(t, dir, "--as=nobody", "backup", "get")
	if code == 0 || !strings.Contains(out, "forbidden") || !strings.Contains(out, `User "nobody" cannot list resource "backups"`) {
		t.Errorf("forbidden: exit %d\n%s", code, out)
	}
	out, code = arkCmd(t, dir, "backup", "describe", "nosuch")
	if code == 0 || !strings.Contains(out, `"nosuch" not found`) {
		t.Errorf("not found: exit %d\n%s", code, out)
	}
}

// ark version reaches the server, and the same binary named kubectl-ark is
// found by kubectl as the plugin "kubectl ark".
func TestCLIVersionAndPlugin(t *testing.T) {
	dir := t.TempDir()
	out := mustArk(t, dir, "version")
	for _, want := range []string{"Client: ark ", "Kubernetes: v1.", "Server: ark.heptio.com/v1 served by APIService v1.ark.heptio.com (Available=True)"} {
		if !strings.Contains(out, want) {
			t.Errorf("ark version lacks %q:\n%s", want, out)
		}
	}

	bin := t.TempDir()
	data, err := os.ReadFile(arkCLI)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bin, "kubectl-ark"), data, 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, cluster.KubectlPath(), "ark", "schedule", "create", "via-plugin", "--schedule", "@daily", "--paused")
	// kubectl takes no flags before a plugin's name: KUBECONFIG it is.
	cmd.Env = append(os.Environ(), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"), "KUBECONFIG="+cluster.Kubeconfig)
	cmd.Dir = dir
	plugin, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl ark schedule create: %v\n%s", err, plugin)
	}
	t.Cleanup(func() { arkCmd(t, dir, "schedule", "delete", "via-plugin", "--confirm") })
	if !strings.Contains(string(plugin), "via-plugin") {
		t.Errorf("kubectl ark output:\n%s", plugin)
	}
	if got := jsonpath(t, "{.spec.paused}", "get", "schedule", "via-plugin", "-n", home); got != "true" {
		t.Errorf("schedule made through the plugin: paused=%q", got)
	}
}

// ark install --dry-run=server sends every manifest of artifacts/ through
// the real API server's validation and admission, persisting nothing: the
// apply path works and the manifests are valid for a real cluster.
func TestCLIInstallServerDryRun(t *testing.T) {
	dir := t.TempDir()
	before := mustKubectl(t, "get", "apiservice", "v1.ark.heptio.com", "-o", "jsonpath={.spec.caBundle}/{.spec.service.name}/{.metadata.resourceVersion}")
	ca := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(ca, []byte("-----BEGIN CERTIFICATE-----\nMIIBdummy\n-----END CERTIFICATE-----\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// (No GCS here: the bucket check is the subject of the next test.)
	out := mustArk(t, dir, "install", "--dry-run=server", "--ca-bundle-file", ca, "--image", "registry.example/ark:e2e", "--backup-location", "gs://e2e-bucket/c1", "--skip-bucket-check")
	for _, want := range []string{
		"namespace/heptio-ark applied (server dry run)",
		"clusterrole/ark-namespace-user applied (server dry run)",
		"statefulset/ark-apiserver applied (server dry run)",
		"apiservice/v1.ark.heptio.com applied (server dry run)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("install output lacks %q:\n%s", want, out)
		}
	}
	if after := mustKubectl(t, "get", "apiservice", "v1.ark.heptio.com", "-o", "jsonpath={.spec.caBundle}/{.spec.service.name}/{.metadata.resourceVersion}"); after != before {
		t.Errorf("a server dry run changed the APIService: %q -> %q", before, after)
	}
	if out, err := kubectl(t, "get", "statefulset", "ark-apiserver", "-n", "ark-system"); err == nil || !strings.Contains(out, "NotFound") {
		t.Errorf("a server dry run created the StatefulSet: %v\n%s", err, out)
	}
	// Without --ca-bundle-file the certificates are generated: their
	// Secrets pass the server's validation too, and are not created.
	out = mustArk(t, dir, "install", "--dry-run=server", "--image", "registry.example/ark:e2e", "--backup-location", "gs://e2e-bucket/c1", "--skip-bucket-check")
	for _, want := range []string{
		"Generated ark-apiserver's CA and serving certificate",
		"secret/ark-apiserver-ca applied (server dry run)",
		"secret/ark-apiserver-tls applied (server dry run)",
		"apiservice/v1.ark.heptio.com applied (server dry run)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("install output lacks %q:\n%s", want, out)
		}
	}
	if out, err := kubectl(t, "get", "secret", "ark-apiserver-tls", "-n", "ark-system"); err == nil || !strings.Contains(out, "NotFound") {
		t.Errorf("a server dry run created the serving certificate's Secret: %v\n%s", err, out)
	}
	if after := mustKubectl(t, "get", "apiservice", "v1.ark.heptio.com", "-o", "jsonpath={.spec.caBundle}/{.spec.service.name}/{.metadata.resourceVersion}"); after != before {
		t.Errorf("a server dry run changed the APIService: %q -> %q", before, after)
	}
	// The several-replica alternative is valid for a real cluster too.
	example := filepath.Join("..", "..", "artifacts", "examples", "ha-external-etcd.yaml") // tests run in their package folder
	if out, err := kubectl(t, "apply", "--dry-run=server", "-f", example); err != nil || !strings.Contains(out, "deployment.apps/ark-apiserver created (server dry run)") {
		t.Errorf("kubectl apply --dry-run=server -f %s: %v\n%s", example, err, out)
	}
}

// Before it applies anything, ark install reads the bucket's backup
// records and tells this cluster's from another's by the cluster each was
// signed for, as the server will: here the local cluster's own file bucket
// (this machine's directory), then a copy holding a record of another
// cluster, which stops the install unless sharing is meant.
func TestCLIInstallChecksTheBucket(t *testing.T) {
	dir := t.TempDir()
	mustKubectl(t, "create", "namespace", "install-src")
	t.Cleanup(func() { kubectl(t, "delete", "namespace", "install-src", "--wait=false") })
	if b := runBackup(t, home, &arkv1.Backup{ObjectMeta: metav1.ObjectMeta{Name: "install-check"}, Spec: arkv1.BackupSpec{IncludedNamespaces: []string{"install-src"}}}, ""); b.Status.Phase != arkv1.BackupPhaseCompleted {
		t.Fatalf("backup: %q %s", b.Status.Phase, b.Status.FailureReason)
	}
	t.Cleanup(func() { os.RemoveAll(filepath.Join(cluster.BucketDir, "backups", "install-check")) })
	out := mustArk(t, dir, "install", "--dry-run=server", "--image", "registry.example/ark:e2e", "--backup-location", "file://"+cluster.BucketDir)
	if !regexp.MustCompile(`Bucket file://\S+ is reachable and holds [0-9]+ backups of this cluster`).MatchString(out) {
		t.Errorf("install on this cluster's own bucket:\n%s", out)
	}

	// Another cluster's record, as its Ark would have written it.
	other := t.TempDir()
	record, err := os.ReadFile(filepath.Join(cluster.BucketDir, "backups", "install-check", "ark-backup.json"))
	if err != nil {
		t.Fatal(err)
	}
	var b arkv1.Backup
	if err := json.Unmarshal(record, &b); err != nil {
		t.Fatal(err)
	}
	if b.Annotations[provenance.ClusterAnnotation] == "" {
		t.Fatalf("the record names no cluster:\n%s", record)
	}
	b.Annotations[provenance.ClusterAnnotation] = "another-cluster-" + b.Annotations[provenance.ClusterAnnotation]
	forged, err := json.Marshal(&b)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(other, "backups", "theirs"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(other, "backups", "theirs", "ark-backup.json"), forged, 0o644); err != nil {
		t.Fatal(err)
	}
	out, code := arkCmd(t, dir, "install", "--dry-run=server", "--image", "registry.example/ark:e2e", "--backup-location", "file://"+other)
	if code == 0 || !strings.Contains(out, "holds backups of another cluster's Ark (1 of cluster another-cluster-") || strings.Contains(out, "applied") {
		t.Errorf("install on another cluster's bucket: exit %d\n%s", code, out)
	}
	out = mustArk(t, dir, "install", "--dry-run=server", "--image", "registry.example/ark:e2e", "--backup-location", "file://"+other, "--shared-bucket")
	if !strings.Contains(out, "holds 1 backups: 0 of this cluster, 1 of cluster another-cluster-") || !strings.Contains(out, "statefulset/ark-apiserver applied (server dry run)") {
		t.Errorf("install sharing the bucket on purpose:\n%s", out)
	}
}

func tarNames(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	return strings.Join(names(tarEntries(t, f, false)), "\n")
}

// ark uninstall --dry-run=server has the real API server check every
// deletion, the APIService's first, and removes nothing: Ark is still
// served afterwards.
func TestCLIUninstallServerDryRun(t *testing.T) {
	dir := t.TempDir()
	before := mustKubectl(t, "get", "apiservice", "v1.ark.heptio.com", "-o", "jsonpath={.metadata.uid}")
	out := mustArk(t, dir, "uninstall", "--dry-run=server", "--purge")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) == 0 || lines[0] != "apiservice/v1.ark.heptio.com deleted (server dry run)" {
		t.Errorf("first line %q, want the APIService's deletion:\n%s", lines[0], out)
	}
	for _, want := range []string{
		"statefulset/ark-apiserver -n ark-system not found",
		"namespace/heptio-ark deleted (server dry run)",
		"The bucket was not touched",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("uninstall output lacks %q:\n%s", want, out)
		}
	}
	if after := mustKubectl(t, "get", "apiservice", "v1.ark.heptio.com", "-o", "jsonpath={.metadata.uid}"); after != before {
		t.Errorf("a server dry run replaced the APIService: %q -> %q", before, after)
	}
	if _, err := ark.ArkV1().Backups(home).List(context.Background(), metav1.ListOptions{Limit: 1}); err != nil {
		t.Errorf("Ark is not served after a server dry run of uninstall: %v", err)
	}
	if out, err := kubectl(t, "get", "namespace", "heptio-ark", "-o", "jsonpath={.status.phase}"); err != nil || out != "Active" {
		t.Errorf("namespace heptio-ark after a dry run: %v %q", err, out)
	}
}
