package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
	"github.com/arkproject/ark/test/e2e/framework"
)

// Heptio Ark v0.10.0's client, request by request: the bodies in
// testdata/heptio-ark-v0.10 are what it sends (see the README there for
// the source of each), sent as it sends them: JSON, no fieldValidation
// parameter, through kube-apiserver.

// heptioBody reads a recorded body and fills in its upper-case words.
func heptioBody(t *testing.T, file string, words ...string) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "heptio-ark-v0.10", file))
	if err != nil {
		t.Fatal(err)
	}
	return strings.NewReplacer(words...).Replace(string(raw))
}

// heptioRequest sends a request as the old client does (as user "as", or
// the administrator) and returns the status code and body.
func heptioRequest(t *testing.T, as, method, path, body string) (int, []byte) {
	t.Helper()
	cfg := framework.AdminConfig()
	if as != "" {
		cfg.Impersonate = rest.ImpersonationConfig{UserName: as}
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	path, query, _ := strings.Cut(path, "?")
	req := client.CoreV1().RESTClient().Verb(method).AbsPath(path).SetHeader("Content-Type", "application/json")
	params, err := url.ParseQuery(query)
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range params {
		for _, v := range vs {
			req = req.Param(k, v)
		}
	}
	if body != "" {
		req = req.Body([]byte(body))
	}
	var code int
	raw, _ := req.Do(context.Background()).StatusCode(&code).Raw()
	return code, raw
}

func arkPath(ns, resource string, rest ...string) string {
	return "/apis/ark.heptio.com/v1/namespaces/" + ns + "/" + strings.Join(append([]string{resource}, rest...), "/")
}

const snapshotLocations = `apiVersion: ark.heptio.com/v1
kind: VolumeSnapshotLocation
metadata: {name: heptio-files, namespace: heptio-ark}
spec: {provider: hostpath}
---
apiVersion: ark.heptio.com/v1
kind: VolumeSnapshotLocation
metadata: {name: heptio-csi, namespace: heptio-ark}
spec: {provider: csi}
`

// `ark backup create --storage-location default --volume-snapshot-locations`
// first reads both locations, then creates the backup; the backup's
// volumes are snapshotted by the locations it names, and only by them.
func TestHeptioArkClientBackupWithLocations(t *testing.T) {
	createShop(t)
	if out, err := kubectlIn(t, snapshotLocations, "apply", "-f", "-"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	t.Cleanup(func() { kubectl(t, "delete", "vsl", "heptio-files", "heptio-csi", "-n", home) })
	// The create's own checks, and `ark backup-location get` and `ark
	// snapshot-location get`.
	for _, p := range []string{arkPath(home, "backupstoragelocations", "default"), arkPath(home, "volumesnapshotlocations", "heptio-files"),
		arkPath(home, "backupstoragelocations"), arkPath(home, "volumesnapshotlocations")} {
		if code, body := heptioRequest(t, "", "GET", p, ""); code != http.StatusOK {
			t.Fatalf("GET %s: %d %s", p, code, body)
		}
	}
	for _, tc := range []struct {
		name, vsl string
		snapshots int
	}{
		{"heptio-files", "heptio-files", 1},  // the shop's hostPath volume
		{"heptio-csi-only", "heptio-csi", 0}, // csi handles no hostPath volume
	} {
		body := heptioBody(t, "backup-create.json", "NAME", tc.name, "VSL", tc.vsl)
		if code, raw := heptioRequest(t, "", "POST", arkPath(home, "backups"), body); code != http.StatusCreated {
			t.Fatalf("creating backup %s: %d %s", tc.name, code, raw)
		}
		t.Cleanup(func() { framework.RemoveBackupFiles(home, tc.name) })
		b := framework.WaitBackup(t, home, tc.name)
		if b.Status.Phase != arkv1.BackupPhaseCompleted || b.Status.VolumeSnapshotsAttempted != tc.snapshots || b.Status.VolumeSnapshotsCompleted != tc.snapshots {
			t.Errorf("backup %s: %+v, want %d snapshots", tc.name, b.Status, tc.snapshots)
		}
		if got := b.Spec.VolumeSnapshotLocations; len(got) != 1 || got[0] != tc.vsl {
			t.Errorf("backup %s: spec.volumeSnapshotLocations %v, want [%s]", tc.name, got, tc.vsl)
		}
	}
	logs := mustKubectl(t, "get", "--raw", arkPath(home, "backups", "heptio-csi-only", "logs"))
	if !strings.Contains(logs, "no volume snapshotter handles persistent volume shop-data") {
		t.Errorf("the csi-only backup's log does not say why the volume was not snapshotted:\n%s", logs)
	}

	// A location that does not exist fails the backup's validation.
	body := heptioBody(t, "backup-create.json", "NAME", "heptio-no-vsl", "VSL", "nowhere")
	if code, raw := heptioRequest(t, "", "POST", arkPath(home, "backups"), body); code != http.StatusCreated {
		t.Fatalf("creating backup: %d %s", code, raw)
	}
	t.Cleanup(func() { framework.RemoveBackupFiles(home, "heptio-no-vsl") })
	b := framework.WaitBackup(t, home, "heptio-no-vsl")
	if b.Status.Phase != arkv1.BackupPhaseFailedValidation || !strings.Contains(strings.Join(b.Status.ValidationErrors, ";"), `volume snapshot location "nowhere" does not exist`) {
		t.Errorf("backup naming a missing location: %+v", b.Status)
	}
}

// Manifests: the deprecated hooks alias runs its hooks as pre hooks, and
// what `ark backup create -o yaml` prints is accepted by today's strict
// kubectl.
func TestHeptioArkManifests(t *testing.T) {
	createShop(t)
	annotate := fmt.Sprintf("%s --kubeconfig=%s annotate pod worker -n shop hook.example/alias=ran --overwrite", cluster.KubectlPath(), cluster.Kubeconfig)
	command, _ := json.Marshal([]string{"sh", "-c", annotate})
	mustKubectl(t, "annotate", "pod", "worker", "-n", "shop", "hook.example/alias-")
	mustKubectl(t, "label", "pod", "worker", "-n", "shop", "hook-target=alias", "--overwrite")
	t.Cleanup(func() {
		kubectl(t, "annotate", "pod", "worker", "-n", "shop", "hook.example/alias-")
		kubectl(t, "label", "pod", "worker", "-n", "shop", "hook-target-")
	})

	manifest := heptioBody(t, "backup-with-hooks-alias.yaml", "NAME", "heptio-hooks", "COMMAND", string(command))
	if out, err := kubectlIn(t, manifest, "apply", "--validate=strict", "-f", "-"); err != nil {
		t.Fatalf("strict kubectl refused a manifest with the hooks alias: %v\n%s", err, out)
	}
	t.Cleanup(func() { framework.RemoveBackupFiles(home, "heptio-hooks") })
	b := framework.WaitBackup(t, home, "heptio-hooks")
	if b.Status.Phase != arkv1.BackupPhaseCompleted {
		logs, _ := kubectl(t, "get", "--raw", arkPath(home, "backups", "heptio-hooks", "logs"))
		t.Fatalf("backup: %+v\nspec %+v\n%s", b.Status, b.Spec, logs)
	}
	logs := mustKubectl(t, "get", "--raw", arkPath(home, "backups", "heptio-hooks", "logs"))
	if h := b.Spec.Hooks.Resources; len(h) != 1 || len(h[0].PreHooks) != 1 || len(h[0].Hooks) != 0 {
		t.Errorf("stored hooks %+v: want the alias stored as pre", h)
	}
	var pod struct {
		Metadata struct {
			Annotations map[string]string `json:"annotations"`
		} `json:"metadata"`
	}
	entries := download(t, home, "heptio-hooks")
	if err := json.Unmarshal(entries["resources/pods/namespaces/shop/worker.json"], &pod); err != nil {
		t.Fatalf("pod entry: %v (entries %v)", err, names(entries))
	}
	if pod.Metadata.Annotations["hook.example/alias"] != "ran" {
		t.Errorf("the alias's hook did not run before the pod was read: annotations %v\n%s", pod.Metadata.Annotations, logs)
	}

	// Applying the same manifest again (as GitOps tools do) changes nothing:
	// its alias lands on the stored pre hooks, equal, and is dropped.
	if out, err := kubectlIn(t, manifest, "apply", "--validate=strict", "-f", "-"); err != nil {
		t.Errorf("applying the hooks-alias manifest again: %v\n%s", err, out)
	}

	printed := heptioBody(t, "backup-create-o-yaml.yaml", "NAME", "heptio-printed")
	if out, err := kubectlIn(t, printed, "create", "--validate=strict", "-f", "-"); err != nil {
		t.Fatalf("strict kubectl refused the old client's -o yaml: %v\n%s", err, out)
	}
	t.Cleanup(func() { framework.RemoveBackupFiles(home, "heptio-printed") })
	if b := framework.WaitBackup(t, home, "heptio-printed"); b.Status.Phase != arkv1.BackupPhaseCompleted {
		t.Errorf("the printed backup: %+v", b.Status)
	}
}

// `ark schedule create`, `ark backup get -l ark-schedule=S` and `ark
// restore create --from-schedule S`: the schedule's backups carry Heptio
// Ark's label, and the restore records the backup it chose in
// spec.backupName, where the old client reads it.
func TestHeptioArkClientScheduleAndRestore(t *testing.T) {
	createShop(t)
	const sched = "heptio-every10s"
	if code, raw := heptioRequest(t, "", "POST", arkPath(home, "schedules"), heptioBody(t, "schedule-create.json", "NAME", sched)); code != http.StatusCreated {
		t.Fatalf("creating the schedule: %d %s", code, raw)
	}
	t.Cleanup(func() { kubectl(t, "delete", "schedule", sched, "-n", home) })
	var backup arkv1.Backup
	eventually(t, 90*time.Second, "a completed backup labelled ark-schedule="+sched, func() error {
		code, raw := heptioRequest(t, "", "GET", arkPath(home, "backups")+"?labelSelector="+url.QueryEscape("ark-schedule="+sched), "")
		if code != http.StatusOK {
			return fmt.Errorf("%d %s", code, raw)
		}
		var list arkv1.BackupList
		if err := json.Unmarshal(raw, &list); err != nil {
			return err
		}
		for _, b := range list.Items {
			if b.Status.Phase == arkv1.BackupPhaseCompleted {
				backup = b
				return nil
			}
		}
		return fmt.Errorf("%d backups, none completed", len(list.Items))
	})
	mustKubectl(t, "patch", "schedule", sched, "-n", home, "--type=merge", "-p", `{"spec":{"paused":true}}`)
	t.Cleanup(func() {
		for _, b := range lines(mustKubectl(t, "get", "backups", "-n", home, "-l", "ark-schedule="+sched, "-o", "name")) {
			framework.RemoveBackupFiles(home, strings.TrimPrefix(b, "backup.ark.heptio.com/"))
		}
	})
	if backup.Labels[arkv1.LabelScheduleName] != sched {
		t.Errorf("backup %s labels %v: want both schedule labels", backup.Name, backup.Labels)
	}

	if code, raw := heptioRequest(t, "", "GET", arkPath(home, "schedules", sched), ""); code != http.StatusOK {
		t.Fatalf("GET schedule (the restore command's check): %d %s", code, raw)
	}
	body := heptioBody(t, "restore-create-from-schedule.json", "NAME", "heptio-from-schedule", "SCHEDULE", sched, "TARGET", "shop-heptio")
	if code, raw := heptioRequest(t, "", "POST", arkPath(home, "restores"), body); code != http.StatusCreated {
		t.Fatalf("creating the restore: %d %s", code, raw)
	}
	t.Cleanup(func() { kubectl(t, "delete", "namespace", "shop-heptio", "--wait=false") })
	r := framework.WaitRestore(t, home, "heptio-from-schedule")
	if r.Status.Phase != arkv1.RestorePhaseCompleted {
		t.Fatalf("restore: %+v", r.Status)
	}
	newest := mustKubectl(t, "get", "backups", "-n", home, "-l", "ark-schedule="+sched, "--sort-by=.metadata.creationTimestamp", "-o", "jsonpath={.items[*].metadata.name}")
	if r.Spec.BackupName == "" || r.Spec.BackupName != r.Status.BackupName || !strings.Contains(newest, r.Spec.BackupName) {
		t.Errorf("restore spec.backupName %q, status.backupName %q: want the schedule's backup (of %s)", r.Spec.BackupName, r.Status.BackupName, newest)
	}
	if got := jsonpath(t, "{.data.color}", "get", "configmap", "settings", "-n", "shop-heptio"); got != "blue" {
		t.Errorf("restored config map: color %q", got)
	}
	// The restore, with both names now, stays updatable (a label, say).
	mustKubectl(t, "label", "restore", "heptio-from-schedule", "-n", home, "checked=yes")
}

// `ark backup delete` (a DeleteBackupRequest) deletes only for who may
// delete the backup, and `ark backup logs` (a DownloadRequest) is refused
// with the way to read the log.
func TestHeptioArkClientDeleteAndDownloadRequests(t *testing.T) {
	createShop(t)
	b := runBackup(t, home, &arkv1.Backup{
		ObjectMeta: metav1.ObjectMeta{Name: "heptio-delete-me"},
		Spec:       arkv1.BackupSpec{IncludedNamespaces: []string{"shop"}, IncludedResources: []string{"configmaps"}},
	}, "")
	if b.Status.Phase != arkv1.BackupPhaseCompleted {
		t.Fatalf("backup: %+v", b.Status)
	}
	// dora may ask for deletions and read backups, not delete them.
	mustKubectl(t, "create", "role", "heptio-requests", "-n", home, "--verb=create,list", "--resource=deletebackuprequests.ark.heptio.com,downloadrequests.ark.heptio.com")
	mustKubectl(t, "create", "role", "heptio-reader", "-n", home, "--verb=get,list", "--resource=backups.ark.heptio.com")
	mustKubectl(t, "create", "rolebinding", "dora-requests", "-n", home, "--role=heptio-requests", "--user=dora")
	mustKubectl(t, "create", "rolebinding", "dora-reader", "-n", home, "--role=heptio-reader", "--user=dora")
	t.Cleanup(func() {
		kubectl(t, "delete", "rolebinding", "dora-requests", "dora-reader", "-n", home)
		kubectl(t, "delete", "role", "heptio-requests", "heptio-reader", "-n", home)
	})
	body := func(uid string) string {
		return heptioBody(t, "deletebackuprequest.json", "NAME", b.Name, "UID", uid)
	}
	path := arkPath(home, "deletebackuprequests")
	eventually(t, 30*time.Second, "dora's rights apply", func() error {
		if code, raw := heptioRequest(t, "dora", "POST", path, body(string(b.UID))); code != http.StatusForbidden || !strings.Contains(string(raw), "may not delete backups") {
			return fmt.Errorf("dora's request: %d %s", code, raw)
		}
		return nil
	})
	if got := jsonpath(t, "{.status.phase}", "get", "backup", b.Name, "-n", home); got != string(arkv1.BackupPhaseCompleted) {
		t.Fatalf("after dora's refused request the backup is %q", got)
	}
	if code, raw := heptioRequest(t, "", "POST", path, body("not-its-uid")); code != http.StatusConflict {
		t.Errorf("a request with another backup's UID: %d %s", code, raw)
	}
	code, raw := heptioRequest(t, "dora", "GET", path+"?labelSelector="+url.QueryEscape("ark.heptio.com/backup-name="+b.Name), "")
	var list arkv1.DeleteBackupRequestList
	if code != http.StatusOK || json.Unmarshal(raw, &list) != nil || len(list.Items) != 0 {
		t.Errorf("listing requests (as `ark backup describe` does): %d %s", code, raw)
	}

	// `ark backup logs`: refused, naming what serves the log.
	code, raw = heptioRequest(t, "dora", "POST", arkPath(home, "downloadrequests"), heptioBody(t, "downloadrequest-backuplog.json", "NAME", b.Name))
	if code != http.StatusMethodNotAllowed || !strings.Contains(string(raw), "ark backup logs "+b.Name) || !strings.Contains(string(raw), "/backups/"+b.Name+"/logs") {
		t.Errorf("a DownloadRequest: %d %s", code, raw)
	}

	code, raw = heptioRequest(t, "", "POST", path, body(string(b.UID)))
	if code != http.StatusCreated || !strings.Contains(string(raw), `"phase":"Processed"`) {
		t.Fatalf("the administrator's request: %d %s", code, raw)
	}
	eventually(t, time.Minute, "the backup is deleted", func() error {
		got, err := kubectl(t, "get", "backup", b.Name, "-n", home, "-o", "jsonpath={.status.phase}", "--ignore-not-found")
		if err != nil || got != "" {
			return fmt.Errorf("phase %q, %v", got, err)
		}
		return nil
	})
}

// The attack on snapshot locations: a gcp location snapshots with Ark's own
// cloud identity, so a namespace user's backup naming one fails validation
// and takes no snapshot.
func TestNamespaceUserMayNotSpendArksCloudIdentity(t *testing.T) {
	mustKubectl(t, "create", "namespace", "vsl-tenant")
	mustKubectl(t, "create", "rolebinding", "erin-ark", "-n", "vsl-tenant", "--clusterrole=ark-namespace-user", "--user=erin")
	t.Cleanup(func() { kubectl(t, "delete", "namespace", "vsl-tenant", "--wait=false") })
	if out, err := kubectlIn(t, `apiVersion: ark.heptio.com/v1
kind: VolumeSnapshotLocation
metadata: {name: heptio-gcp, namespace: heptio-ark}
spec: {provider: gcp, config: {project: admins-project}}
`, "apply", "-f", "-"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	t.Cleanup(func() { kubectl(t, "delete", "vsl", "heptio-gcp", "-n", home) })
	eventually(t, 30*time.Second, "erin's rights apply", func() error {
		_, err := kubectl(t, "--as=erin", "get", "backups", "-n", "vsl-tenant")
		return err
	})
	b := runBackup(t, "vsl-tenant", &arkv1.Backup{
		ObjectMeta: metav1.ObjectMeta{Name: "erin-gcp"},
		Spec:       arkv1.BackupSpec{IncludedNamespaces: []string{"vsl-tenant"}, VolumeSnapshotLocations: []string{"heptio-gcp"}},
	}, "erin")
	if b.Status.Phase != arkv1.BackupPhaseFailedValidation || !strings.Contains(strings.Join(b.Status.ValidationErrors, ";"), "only backups in Ark's home namespace may use it") {
		t.Errorf("erin's backup naming a gcp location: %+v", b.Status)
	}
	if b.Status.VolumeSnapshotsAttempted != 0 {
		t.Errorf("erin's backup attempted %d snapshots", b.Status.VolumeSnapshotsAttempted)
	}
}
