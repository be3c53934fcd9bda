package integration

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/util/retry"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
)

func newLocation(name string) *arkv1.BackupStorageLocation {
	return &arkv1.BackupStorageLocation{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: home},
		Spec: arkv1.BackupStorageLocationSpec{
			Provider:      "aws",
			ObjectStorage: arkv1.ObjectStorageLocation{Bucket: "ark-backups", Prefix: "cluster-b"},
			Config:        map[string]string{"region": "eu-west-1"},
			Credential:    &arkv1.SecretKeyReference{Name: "aws-creds", Key: "cloud"},
		},
	}
}

// waitForLocation waits until the named location satisfies ok.
func waitForLocation(t *testing.T, ts *testServer, name string, ok func(*arkv1.BackupStorageLocation) bool) *arkv1.BackupStorageLocation {
	t.Helper()
	var last *arkv1.BackupStorageLocation
	err := wait.PollUntilContextTimeout(context.Background(), 50*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		l, err := ts.Client.ArkV1().BackupStorageLocations(home).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		last = l
		return ok(l), nil
	})
	if err != nil {
		t.Fatalf("location %s: %v; last seen %+v", name, err, last)
	}
	return last
}

// The --backup-location appears as the default location, whose status says
// whether the bucket answers and how many backups it holds.
func TestServedLocation(t *testing.T) {
	ts := startServer(t, serverOptions{})
	ctx := context.Background()
	if _, err := ts.Client.ArkV1().Backups(home).Create(ctx, newBackup("one"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	bucket := filepath.Join(ts.DataDir, "bucket")
	l := waitForLocation(t, ts, arkv1.DefaultStorageLocation, func(l *arkv1.BackupStorageLocation) bool {
		return l.Status.Phase == arkv1.BackupStorageLocationPhaseAvailable && l.Status.BackupCount == 1
	})
	want := arkv1.BackupStorageLocationSpec{
		Provider: "file", ObjectStorage: arkv1.ObjectStorageLocation{Bucket: bucket},
		AccessMode: arkv1.BackupStorageLocationAccessModeReadWrite, Default: true,
	}
	if l.Spec.Provider != want.Provider || l.Spec.ObjectStorage != want.ObjectStorage || l.Spec.AccessMode != want.AccessMode || !l.Spec.Default {
		t.Errorf("served location spec = %+v, want %+v", l.Spec, want)
	}
	if l.Status.LastSyncedTime == nil || l.Status.Message != "" {
		t.Errorf("served location status = %+v", l.Status)
	}

	// An outage shows, with the error, and so does the recovery.
	if err := os.Rename(bucket, bucket+".away"); err != nil {
		t.Fatal(err)
	}
	l = waitForLocation(t, ts, arkv1.DefaultStorageLocation, func(l *arkv1.BackupStorageLocation) bool {
		return l.Status.Phase == arkv1.BackupStorageLocationPhaseUnavailable
	})
	if !strings.Contains(l.Status.Message, "unavailable") || l.Status.LastSyncedTime == nil {
		t.Errorf("status during the outage = %+v", l.Status)
	}
	if err := os.Rename(bucket+".away", bucket); err != nil {
		t.Fatal(err)
	}
	waitForLocation(t, ts, arkv1.DefaultStorageLocation, func(l *arkv1.BackupStorageLocation) bool {
		return l.Status.Phase == arkv1.BackupStorageLocationPhaseAvailable && l.Status.Message == ""
	})

	// Administrators' edits are kept; a deleted served location comes back.
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		l, err := ts.Client.ArkV1().BackupStorageLocations(home).Get(ctx, arkv1.DefaultStorageLocation, metav1.GetOptions{})
		if err != nil {
			return err
		}
		l.Labels = map[string]string{"note": "kept"}
		_, err = ts.Client.ArkV1().BackupStorageLocations(home).Update(ctx, l, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	ts.waitForPoll(t)
	ts.waitForPoll(t)
	if got := waitForLocation(t, ts, l.Name, func(*arkv1.BackupStorageLocation) bool { return true }); got.Labels["note"] != "kept" {
		t.Errorf("edited labels overwritten: %+v", got.ObjectMeta)
	}
	if err := ts.Client.ArkV1().BackupStorageLocations(home).Delete(ctx, l.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitForLocation(t, ts, l.Name, func(l *arkv1.BackupStorageLocation) bool {
		return l.Spec.AccessMode == arkv1.BackupStorageLocationAccessModeReadWrite && l.Status.Phase == arkv1.BackupStorageLocationPhaseAvailable
	})
}

func TestLocationCRUD(t *testing.T) {
	ts := startServer(t, serverOptions{})
	ctx := context.Background()
	locations := ts.Client.ArkV1().BackupStorageLocations(home)

	in := newLocation("secondary")
	in.Status.Phase = arkv1.BackupStorageLocationPhaseAvailable
	created, err := locations.Create(ctx, in, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if created.Spec.AccessMode != arkv1.BackupStorageLocationAccessModeReadWrite {
		t.Errorf("access mode = %q, want ReadWrite by default", created.Spec.AccessMode)
	}
	if created.Status.Phase == arkv1.BackupStorageLocationPhaseAvailable {
		t.Errorf("create kept the client's status: %+v", created.Status)
	}
	if created.Spec.Credential == nil || *created.Spec.Credential != (arkv1.SecretKeyReference{Name: "aws-creds", Key: "cloud"}) || created.Spec.Config["region"] != "eu-west-1" {
		t.Errorf("created spec = %+v", created.Spec)
	}
	l := waitForLocation(t, ts, "secondary", func(l *arkv1.BackupStorageLocation) bool {
		return l.Status.Phase == arkv1.BackupStorageLocationPhaseUnavailable
	})
	// This server reads no Secrets, so a location that names a
	// credential is served as unavailable, saying why.
	if !strings.Contains(l.Status.Message, "spec.credential") {
		t.Errorf("message of a location whose credential cannot be read = %q", l.Status.Message)
	}

	list, err := locations.List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, l := range list.Items {
		names = append(names, l.Name)
	}
	if strings.Join(names, ",") != "default,secondary" {
		t.Errorf("listed %v, want default and secondary", names)
	}
	byField, err := locations.List(ctx, metav1.ListOptions{FieldSelector: "spec.provider=aws"})
	if err != nil || len(byField.Items) != 1 || byField.Items[0].Name != "secondary" {
		t.Errorf("list by spec.provider: %v %+v", err, byField)
	}

	table := getTable(t, ts, apiPrefix+home+"/backupstoragelocations")
	idx := columnIndex(t, table, "NAME", "PROVIDER", "BUCKET/PREFIX", "PHASE", "LAST SYNCED", "BACKUPS", "ACCESS MODE", "DEFAULT")
	cells := row(t, table, "secondary")
	cell(t, cells, idx, "PROVIDER", "aws")
	cell(t, cells, idx, "BUCKET/PREFIX", "ark-backups/cluster-b")
	cell(t, cells, idx, "PHASE", "Unavailable")
	cell(t, cells, idx, "LAST SYNCED", "<none>")
	cell(t, cells, idx, "BACKUPS", 0)
	cell(t, cells, idx, "ACCESS MODE", "ReadWrite")
	cell(t, cells, idx, "DEFAULT", false)
	cell(t, cells, idx, "MESSAGE", l.Status.Message)
	cells = row(t, table, "default")
	cell(t, cells, idx, "PROVIDER", "file")
	cell(t, cells, idx, "DEFAULT", true)

	// A status write by a user through the main resource is ignored.
	l.Status.Phase = arkv1.BackupStorageLocationPhaseAvailable
	l.Spec.AccessMode = arkv1.BackupStorageLocationAccessModeReadOnly
	updated, err := locations.Update(ctx, l, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if updated.Status.Phase != arkv1.BackupStorageLocationPhaseUnavailable || updated.Spec.AccessMode != arkv1.BackupStorageLocationAccessModeReadOnly || updated.Generation != 2 {
		t.Errorf("update: status %+v, access mode %q, generation %d", updated.Status, updated.Spec.AccessMode, updated.Generation)
	}
}

func TestLocationValidation(t *testing.T) {
	ts := startServer(t, serverOptions{})
	ctx := context.Background()
	tests := []struct {
		name   string
		ns     string
		mutate func(*arkv1.BackupStorageLocation)
		want   string
	}{
		{"outside the home namespace", "team-a", nil, `home namespace "heptio-ark"`},
		{"no provider", home, func(l *arkv1.BackupStorageLocation) { l.Spec.Provider = "" }, "spec.provider: Required value"},
		{"unknown provider", home, func(l *arkv1.BackupStorageLocation) { l.Spec.Provider = "ftp" }, "spec.provider: Unsupported value"},
		{"unknown config key", home, func(l *arkv1.BackupStorageLocation) { l.Spec.Config["s3URL"] = "http://minio:9000" }, `unknown config key "s3URL"`},
		{"bad config value", home, func(l *arkv1.BackupStorageLocation) { l.Spec.Config["s3ForcePathStyle"] = "maybe" }, "s3ForcePathStyle"},
		{"no bucket", home, func(l *arkv1.BackupStorageLocation) { l.Spec.ObjectStorage.Bucket = "" }, "spec.objectStorage.bucket: Required value"},
		{"absolute prefix", home, func(l *arkv1.BackupStorageLocation) { l.Spec.ObjectStorage.Prefix = "/x" }, "spec.objectStorage.prefix"},
		{"escaping prefix", home, func(l *arkv1.BackupStorageLocation) { l.Spec.ObjectStorage.Prefix = "x/../y" }, "spec.objectStorage.prefix"},
		{"bad access mode", home, func(l *arkv1.BackupStorageLocation) { l.Spec.AccessMode = "WriteOnly" }, "spec.accessMode: Unsupported value"},
		{"a credential on the flag's location", home, func(l *arkv1.BackupStorageLocation) { l.Name = arkv1.DefaultStorageLocation }, "spec.credential: Forbidden"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newLocation("bad")
			l.Namespace = tt.ns
			if tt.name == "a credential on the flag's location" {
				// The server created it: this is the update that adds one.
				// Its status is written on every poll, so a conflict only
				// means the read was stale: read again.
				err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
					cur, err := ts.Client.ArkV1().BackupStorageLocations(home).Get(ctx, arkv1.DefaultStorageLocation, metav1.GetOptions{})
					if err != nil {
						return err
					}
					cur.Spec.Credential = l.Spec.Credential
					_, err = ts.Client.ArkV1().BackupStorageLocations(home).Update(ctx, cur, metav1.UpdateOptions{})
					return err
				})
				if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), tt.want) {
					t.Errorf("got %v, want a 422 containing %q", err, tt.want)
				}
				return
			}
			if tt.mutate != nil {
				tt.mutate(l)
			}
			_, err := ts.Client.ArkV1().BackupStorageLocations(tt.ns).Create(ctx, l, metav1.CreateOptions{})
			if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want a 422 containing %q", err, tt.want)
			}
		})
	}
}
