package e2e

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
)

// scrape reads ark-apiserver's /metrics as Prometheus would (an identity
// the delegated authorizer lets get /metrics: here the administrator) and
// returns each sample by its series, name{labels} as printed.
func scrape(t *testing.T) map[string]float64 {
	t.Helper()
	out, status := scrapeAs(t, "")
	if status != http.StatusOK {
		t.Fatalf("GET /metrics: %d", status)
	}
	return out
}

// scrapeAs is scrape as user ("" is the administrator), returning the
// status instead of failing on one other than 200.
func scrapeAs(t *testing.T, user string) (map[string]float64, int) {
	return scrapeAt(t, cluster.ArkPort, user)
}

// scrapeAt is scrapeAs of the ark-apiserver replica on port.
func scrapeAt(t *testing.T, port int, user string) (map[string]float64, int) {
	t.Helper()
	cfg := rest.CopyConfig(cluster.Config)
	cfg.Impersonate.UserName = user
	cfg.Host = fmt.Sprintf("https://127.0.0.1:%d", port)
	// ark-apiserver's serving certificate is not the cluster's; loopback.
	cfg.CAData, cfg.CAFile, cfg.Insecure = nil, "", true
	client, err := rest.HTTPClientFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, cfg.Host+"/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, resp.StatusCode
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if v, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
			out[line[:i]] = v
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out, resp.StatusCode
}

// A backup and a restore that run show on the server's /metrics, beside
// the state of the bucket's polls and the watches of backups: what the
// shipped alerts are written against.
func TestMetricsCountBackupsRestoresAndPolls(t *testing.T) {
	const (
		backupDone  = `ark_backup_finished_total{namespace="heptio-ark",phase="Completed",schedule=""}`
		backupRan   = `ark_backup_attempts_total{namespace="heptio-ark",schedule=""}`
		backupTook  = `ark_backup_duration_seconds_count{namespace="heptio-ark",schedule=""}`
		restoreDone = `ark_restore_finished_total{namespace="heptio-ark",phase="Completed"}`
		created     = `ark_restore_items_total{action="created",namespace="heptio-ark"}`
		available   = `ark_backup_storage_location_available{location="default"}`
		polls       = `ark_bucket_polls_total{location="default",result="ok"}`
		watchers    = `ark_backup_watchers`
	)
	before := scrape(t)
	mustKubectl(t, "create", "namespace", "metrics-src")
	t.Cleanup(func() { kubectl(t, "delete", "namespace", "metrics-src", "metrics-dst", "--wait=false") })
	mustKubectl(t, "create", "configmap", "one", "-n", "metrics-src", "--from-literal=k=v")
	if b := runBackup(t, home, &arkv1.Backup{ObjectMeta: metav1.ObjectMeta{Name: "metrics"}, Spec: arkv1.BackupSpec{IncludedNamespaces: []string{"metrics-src"}}}, ""); b.Status.Phase != arkv1.BackupPhaseCompleted {
		t.Fatalf("backup: %q %s", b.Status.Phase, b.Status.FailureReason)
	}
	r := runRestore(t, home, &arkv1.Restore{ObjectMeta: metav1.ObjectMeta{Name: "metrics"}, Spec: arkv1.RestoreSpec{BackupName: "metrics", NamespaceMapping: map[string]string{"metrics-src": "metrics-dst"}}}, "")
	t.Cleanup(func() { ark.ArkV1().Restores(home).Delete(context.Background(), "metrics", metav1.DeleteOptions{}) })
	if r.Status.Phase != arkv1.RestorePhaseCompleted {
		t.Fatalf("restore: %q %s", r.Status.Phase, r.Status.FailureReason)
	}
	after := scrape(t)
	// At least: a backup left running by an earlier test may end meanwhile.
	for _, series := range []string{backupDone, backupRan, backupTook, restoreDone} {
		if got := after[series] - before[series]; got < 1 {
			t.Errorf("%s went up by %v, want at least 1", series, got)
		}
	}
	// The namespace and the config map at least (the namespace may exist).
	if got := after[created] - before[created]; got < 1 {
		t.Errorf("%s went up by %v, want at least 1", created, got)
	}
	if after[available] != 1 {
		t.Errorf("%s = %v, want 1", available, after[available])
	}
	if after[polls] < 1 {
		t.Errorf("%s = %v, want polls counted", polls, after[polls])
	}
	if after[watchers] < 1 {
		t.Errorf("%s = %v, want at least the controllers' watch", watchers, after[watchers])
	}
	// The series name every tenant's namespaces and schedules: a user
	// without get on /metrics reads none of them.
	if got, status := scrapeAs(t, "metrics-nobody"); status != http.StatusForbidden || got != nil {
		t.Errorf("GET /metrics as a user without the right: %d, %d series; want 403 and none", status, len(got))
	}
}
