package integration

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/credentials"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
	"github.com/arkproject/ark/pkg/objectstore"
	"github.com/arkproject/ark/pkg/objectstore/s3test"
)

// writeBehindBack puts an ark-backup.json into the bucket the way another
// cluster's Ark (or a restored bucket) would, without the API server.
func writeBehindBack(t *testing.T, s objectstore.Store, name, body string) {
	t.Helper()
	if _, err := objectstore.PutBytes(context.Background(), s, "backups/"+name+"/ark-backup.json", []byte(body), objectstore.Conditions{}); err != nil {
		t.Fatal(err)
	}
}

const foreignBackup = `{"apiVersion":"ark.heptio.com/v1","kind":"Backup",
 "metadata":{"name":"from-elsewhere","namespace":"heptio-ark","uid":"1b4d1e7e-0000-4000-8000-000000000001","creationTimestamp":"2025-01-01T00:00:00Z"},
 "spec":{"includedNamespaces":["*"],"ttl":"720h0m0s"},
 "status":{"phase":"Completed","version":1}}`

// The bucket is authoritative: files written or removed by others show in get
// at once and in list/watch after one poll.
func TestBucketIsAuthoritative(t *testing.T) {
	bucketKinds(t, func(t *testing.T, ts *testServer) {
		ctx := context.Background()
		backups := ts.Client.ArkV1().Backups(home)
		if _, err := backups.Create(ctx, newBackup("own"), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		w, err := backups.Watch(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer w.Stop()
		expectEvent(t, w, "ADDED", "own") // initial state

		writeBehindBack(t, ts.Store, "from-elsewhere", foreignBackup)
		got, err := backups.Get(ctx, "from-elsewhere", metav1.GetOptions{})
		if err != nil {
			t.Fatalf("get of a backup written into the bucket: %v", err)
		}
		if got.Status.Phase != arkv1.BackupPhaseCompleted || got.Spec.SnapshotVolumes == nil {
			t.Errorf("foreign backup read as %+v (defaults applied: %v)", got.Status, got.Spec.SnapshotVolumes != nil)
		}
		// Watchers hear about it through the get's refresh of the index.
		expectEvent(t, w, "ADDED", "from-elsewhere")

		// A second one, found only by polling.
		writeBehindBack(t, ts.Store, "polled", strings.ReplaceAll(foreignBackup, "from-elsewhere", "polled"))
		ts.waitForPoll(t)
		assertListed(t, ts, "from-elsewhere", "own", "polled")
		expectEvent(t, w, "ADDED", "polled")

		// Removed in the bucket: get says 404 at once, list and watch after a poll.
		if err := ts.Store.Delete(ctx, "backups/polled/ark-backup.json", objectstore.Conditions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := backups.Get(ctx, "polled", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("get of a removed backup: %v", err)
		}
		expectEvent(t, w, "DELETED", "polled")
		if err := ts.Store.Delete(ctx, "backups/from-elsewhere/ark-backup.json", objectstore.Conditions{}); err != nil {
			t.Fatal(err)
		}
		ts.waitForPoll(t)
		assertListed(t, ts, "own")
		expectEvent(t, w, "DELETED", "from-elsewhere")

		// A corrupt file hides nothing else and reads as what it is: a
		// Corrupt backup that says why.
		writeBehindBack(t, ts.Store, "corrupt", `{"apiVersion":"ark.heptio.com/v1","kind":"Backup","metadata":`)
		ts.waitForPoll(t)
		assertListed(t, ts, "corrupt", "own")
		got, err = backups.Get(ctx, "corrupt", metav1.GetOptions{})
		if err != nil || got.Status.Phase != arkv1.BackupPhaseCorrupt || !strings.Contains(got.Status.FailureReason, "corrupt backup record") {
			t.Errorf("get of a corrupt backup: %v %+v", err, got)
		}
	})
}

func assertListed(t *testing.T, ts *testServer, names ...string) {
	t.Helper()
	list, err := ts.Client.ArkV1().Backups(home).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, b := range list.Items {
		got = append(got, b.Name)
	}
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	if len(got) != len(names) {
		t.Fatalf("listed %v, want %v", got, names)
	}
	for _, n := range got {
		if !want[n] {
			t.Fatalf("listed %v, want %v", got, names)
		}
	}
}

// With the bucket gone, backups fail with 503 naming the location (never an
// empty list), while readiness, discovery and etcd-backed resources stay up.
// When the bucket comes back, so do the backups.
func TestBucketUnreachable(t *testing.T) {
	check := func(t *testing.T, ts *testServer, location string) {
		ctx := context.Background()
		backups := ts.Client.ArkV1().Backups(home)
		_, err := backups.List(ctx, metav1.ListOptions{})
		if !apierrors.IsServiceUnavailable(err) {
			t.Fatalf("list with the bucket unreachable: got %v, want 503", err)
		}
		if !strings.Contains(err.Error(), `backup storage location "default"`) || !strings.Contains(err.Error(), location) {
			t.Errorf("503 does not name the location: %v", err)
		}
		if _, err := backups.Get(ctx, "kept", metav1.GetOptions{}); !apierrors.IsServiceUnavailable(err) {
			t.Errorf("get with the bucket unreachable: got %v, want 503", err)
		}
		if _, err := backups.Create(ctx, newBackup("new-one"), metav1.CreateOptions{}); !apierrors.IsServiceUnavailable(err) {
			t.Errorf("create with the bucket unreachable: got %v, want 503", err)
		}
		if _, err := backups.Watch(ctx, metav1.ListOptions{}); !apierrors.IsServiceUnavailable(err) {
			t.Errorf("watch with the bucket unreachable: got %v, want 503", err)
		}
		if code, body := ts.rawGet(ctx, "/readyz"); code != http.StatusOK {
			t.Errorf("/readyz with the bucket unreachable: %d %s", code, body)
		}
		if code, body := ts.rawGet(ctx, "/apis/ark.heptio.com/v1"); code != http.StatusOK || !strings.Contains(string(body), `"backups"`) {
			t.Errorf("discovery with the bucket unreachable: %d %s", code, body)
		}
		if _, err := ts.Client.ArkV1().Restores(home).List(ctx, metav1.ListOptions{}); err != nil {
			t.Errorf("restores with the bucket unreachable: %v", err)
		}
	}

	t.Run("file", func(t *testing.T) {
		ts := startServer(t, serverOptions{})
		ctx := context.Background()
		if _, err := ts.Client.ArkV1().Backups(home).Create(ctx, newBackup("kept"), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		bucket := filepath.Join(ts.DataDir, "bucket")
		if err := os.Rename(bucket, bucket+".away"); err != nil {
			t.Fatal(err)
		}
		ts.waitForPoll(t)
		check(t, ts, "file://"+bucket)
		// Nothing was deleted because something could not be read.
		if err := os.Rename(bucket+".away", bucket); err != nil {
			t.Fatal(err)
		}
		ts.waitForPoll(t)
		assertListed(t, ts, "kept")
	})
	t.Run("gcs", func(t *testing.T) {
		store, srv := gcsStore(t)
		ts := startServer(t, serverOptions{store: store})
		if _, err := ts.Client.ArkV1().Backups(home).Create(context.Background(), newBackup("kept"), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		srv.Stop()
		ts.waitForPoll(t)
		check(t, ts, "gs://ark-test/cluster-a")
	})
	t.Run("s3", func(t *testing.T) {
		store, srv := s3Store(t)
		ts := startServer(t, serverOptions{store: store})
		if _, err := ts.Client.ArkV1().Backups(home).Create(context.Background(), newBackup("kept"), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		srv.Stop()
		ts.waitForPoll(t)
		check(t, ts, "s3://ark-test/cluster-a")
	})
	// Wrong credentials are an outage of the location that says so, not an
	// empty bucket.
	t.Run("s3-wrong-credentials", func(t *testing.T) {
		srv := s3test.Start(t)
		srv.CreateBucket(t, "ark-test")
		opts := srv.Options()
		opts.Credentials = credentials.NewStaticCredentialsProvider(srv.AccessKey, "wrong", "")
		store, err := objectstore.OpenS3(context.Background(), "ark-test", "cluster-a", opts)
		if err != nil {
			t.Fatal(err)
		}
		ts := startServer(t, serverOptions{store: store, bucketDown: true})
		ts.waitForPoll(t)
		check(t, ts, "s3://ark-test/cluster-a")
		_, err = ts.Client.ArkV1().Backups(home).List(context.Background(), metav1.ListOptions{})
		if err == nil || !strings.Contains(err.Error(), "access denied") {
			t.Errorf("list with wrong credentials: %v, want it to say access denied", err)
		}
	})
}

var _ = errors.Is
