package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
)

// leaseDuration is the controllers' Lease duration (pkg/controllers): a
// replica takes over at most this long (and a retry period) after the
// leader stops renewing.
const leaseDuration = 15 * time.Second

// Two replicas on one etcd, as the several-replica Deployment runs them:
// only the leader runs backups; when it is killed (no chance to release
// its Lease), the other takes the controllers over within the lease time,
// serves what the first one did, and runs new work once, while what was
// finished is not run again.
func TestControllersFailOverToAnotherReplica(t *testing.T) {
	ctx := context.Background()
	const standby = "ark-standby"
	if err := cluster.StartReplica(ctx, standby); err != nil {
		t.Fatalf("starting a second replica: %v", err)
	}
	t.Cleanup(func() {
		cluster.StopReplica(standby) // releases the Lease it holds
		if err := cluster.RouteAPIService(context.Background(), "ark-apiserver"); err != nil {
			t.Error(err)
		}
		if _, err := cluster.ArkPID(); err != nil {
			if err := cluster.StartArk(context.Background()); err != nil {
				t.Errorf("restarting ark-apiserver: %v", err)
			}
		}
	})
	holder := func() string {
		out, _ := kubectl(t, "get", "lease", "ark-controllers", "-n", "ark-system", "-o", "jsonpath={.spec.holderIdentity}")
		return out
	}
	leader := holder()
	if leader == "" {
		t.Fatal("no replica holds the controllers' Lease")
	}
	attempts := func() float64 {
		got, status := scrapeAt(t, cluster.ReplicaPort(standby), "")
		if status != http.StatusOK {
			t.Fatalf("GET /metrics of the standby: %d", status)
		}
		return got[`ark_backup_attempts_total{namespace="heptio-ark",schedule=""}`]
	}

	mustKubectl(t, "create", "namespace", "failover-src")
	t.Cleanup(func() { kubectl(t, "delete", "namespace", "failover-src", "failover-dst", "--wait=false") })
	mustKubectl(t, "create", "configmap", "one", "-n", "failover-src", "--from-literal=k=v")
	t.Cleanup(func() {
		for _, b := range []string{"failover-before", "failover-after"} {
			os.RemoveAll(filepath.Join(cluster.BucketDir, "backups", b))
		}
	})
	before := runBackup(t, home, &arkv1.Backup{ObjectMeta: metav1.ObjectMeta{Name: "failover-before"}, Spec: arkv1.BackupSpec{IncludedNamespaces: []string{"failover-src"}}}, "")
	if before.Status.Phase != arkv1.BackupPhaseCompleted {
		t.Fatalf("backup before the failover: %q %s", before.Status.Phase, before.Status.FailureReason)
	}
	if n := attempts(); n != 0 {
		t.Errorf("the standby started %v backups while the leader ran", n)
	}

	killed := time.Now()
	cluster.KillArk()
	// The Service's endpoints would now be the live replica's alone.
	if err := cluster.RouteAPIService(ctx, standby); err != nil {
		t.Fatal(err)
	}
	var tookOver time.Duration
	eventually(t, 3*leaseDuration, "the standby holds the controllers' Lease", func() error {
		if h := holder(); h == leader || h == "" {
			return fmt.Errorf("held by %q", h)
		}
		tookOver = time.Since(killed)
		return nil
	})
	t.Logf("the standby took the controllers over %s after the leader was killed (Lease: %s, retry: 2s)", tookOver.Round(100*time.Millisecond), leaseDuration)
	if limit := leaseDuration + 2*time.Second + 5*time.Second; tookOver > limit {
		t.Errorf("takeover took %s, want within the lease time (%s with slack)", tookOver, limit)
	}

	// Nothing lost: the backup is served as it was, through the aggregator,
	// by the replica left; and it is not run again.
	var got *arkv1.Backup
	eventually(t, 30*time.Second, "the backups are served by the standby", func() error {
		var err error
		got, err = ark.ArkV1().Backups(home).Get(ctx, "failover-before", metav1.GetOptions{})
		return err
	})
	if got.Status.Phase != arkv1.BackupPhaseCompleted || !got.Status.CompletionTimestamp.Equal(before.Status.CompletionTimestamp) || got.UID != before.UID {
		t.Errorf("after the failover the backup is %q, completed %v (was %v)", got.Status.Phase, got.Status.CompletionTimestamp, before.Status.CompletionTimestamp)
	}
	time.Sleep(2 * time.Second) // time to re-run it, were it wrongly to
	if n := attempts(); n != 0 {
		t.Errorf("the new leader started %v backups it was not asked for", n)
	}

	// New work runs on the new leader, once.
	after := runBackup(t, home, &arkv1.Backup{ObjectMeta: metav1.ObjectMeta{Name: "failover-after"}, Spec: arkv1.BackupSpec{IncludedNamespaces: []string{"failover-src"}}}, "")
	if after.Status.Phase != arkv1.BackupPhaseCompleted {
		t.Fatalf("backup after the failover: %q %s", after.Status.Phase, after.Status.FailureReason)
	}
	if n := attempts(); n != 1 {
		t.Errorf("the new leader started %v backups, want 1", n)
	}
	r := runRestore(t, home, &arkv1.Restore{ObjectMeta: metav1.ObjectMeta{Name: "failover"}, Spec: arkv1.RestoreSpec{BackupName: "failover-before", NamespaceMapping: map[string]string{"failover-src": "failover-dst"}}}, "")
	t.Cleanup(func() { ark.ArkV1().Restores(home).Delete(context.Background(), "failover", metav1.DeleteOptions{}) })
	if r.Status.Phase != arkv1.RestorePhaseCompleted {
		t.Fatalf("restore after the failover: %q %s", r.Status.Phase, r.Status.FailureReason)
	}
	if v := jsonpath(t, "{.data.k}", "get", "configmap", "one", "-n", "failover-dst"); v != "v" {
		t.Errorf("restored config map: %q", v)
	}
}
