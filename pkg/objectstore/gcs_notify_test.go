package objectstore_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"cloud.google.com/go/pubsub/v2/pstest"

	"github.com/arkproject/ark/pkg/objectstore"
	"github.com/arkproject/ark/pkg/objectstore/gcstest"
)

const (
	notifyProject = "ark-test"
	notifyTopic   = "bucket-events"
	notifySub     = "ark-location"
)

// startNotifyingGCS starts a Pub/Sub emulator and a fake GCS publishing
// its object notifications there, as a bucket with a notification
// configuration does. Both are real servers on loopback ports.
func startNotifyingGCS(t *testing.T, buckets ...string) (*gcstest.Server, *pstest.Server) {
	t.Helper()
	ps, err := gcstest.StartPubsub(notifyProject, notifyTopic, notifySub)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ps.Close() })
	t.Setenv("PUBSUB_EMULATOR_HOST", ps.Addr)
	srv, err := gcstest.StartWithOptions(gcstest.Options{NotifyProject: notifyProject, NotifyTopic: notifyTopic}, buckets...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	return srv, ps
}

func gcsStore(t *testing.T, srv *gcstest.Server, bucket, prefix, subscription string) *objectstore.GCSStore {
	t.Helper()
	client, err := srv.NewClient(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	s := objectstore.NewGCSStore(client, bucket, prefix)
	s.PubsubSubscription = subscription
	return s
}

// Another client's writes and deletes of a watched name under a watched
// prefix call changed; other names, other prefixes, the location's
// outside and other buckets do not.
func TestGCSNotifyReportsOthersChanges(t *testing.T) {
	srv, _ := startNotifyingGCS(t, "watched", "other")
	const sub = "projects/" + notifyProject + "/subscriptions/" + notifySub
	store := gcsStore(t, srv, "watched", "cluster-1", sub)
	writer := gcsStore(t, srv, "watched", "cluster-1", "")
	outside := gcsStore(t, srv, "watched", "cluster-2", "")
	otherBucket := gcsStore(t, srv, "other", "cluster-1", "")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	changes := make(chan []string, 100)
	if _, err := store.Notify(ctx, []string{"backups/", "namespaces/"}, "ark-backup.json", func(keys []string) { changes <- keys }); err != nil {
		t.Fatal(err)
	}
	// expect wants the change of key reported, by its key in the store
	// (without the location's prefix).
	expect := func(what, key string) {
		t.Helper()
		select {
		case keys := <-changes:
			if !slices.Equal(keys, []string{key}) {
				t.Errorf("after %s the keys %q were reported, want %q", what, keys, key)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("no change reported within 5s after %s", what)
		}
	}
	quiet := func(what string) {
		t.Helper()
		select {
		case <-changes:
			t.Fatalf("a change was reported after %s", what)
		case <-time.After(500 * time.Millisecond):
		}
	}
	put := func(s *objectstore.GCSStore, key string) {
		t.Helper()
		w, err := s.NewWriter(ctx, key, objectstore.Conditions{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte("{}")); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}

	start := time.Now()
	put(writer, "backups/x/ark-backup.json")
	expect("a record was written", "backups/x/ark-backup.json")
	t.Logf("a write was reported after %s", time.Since(start))

	if err := writer.Delete(ctx, "backups/x/ark-backup.json", objectstore.Conditions{}); err != nil {
		t.Fatal(err)
	}
	expect("a record was deleted", "backups/x/ark-backup.json")

	put(writer, "namespaces/team-a/backups/y/ark-backup.json")
	expect("a record was written under namespaces/", "namespaces/team-a/backups/y/ark-backup.json")

	put(writer, "backups/x/x.tar.gz")
	quiet("another file of a backup was written")
	put(outside, "backups/x/ark-backup.json")
	quiet("a record outside the location's prefix was written")
	put(otherBucket, "backups/x/ark-backup.json")
	quiet("a record in another bucket was written")
	put(writer, "restores/x/ark-backup.json")
	quiet("a file of the watched name outside the watched prefixes was written")

	// Still watching after all that.
	put(writer, "backups/z/ark-backup.json")
	expect("a record was written", "backups/z/ark-backup.json")
}

// Notify refuses, calling nothing, when it cannot receive.
func TestGCSNotifyRefusesWithoutSubscription(t *testing.T) {
	srv, _ := startNotifyingGCS(t, "watched")
	for _, tc := range []struct{ name, subscription, says string }{
		{"none configured", "", "has no pubsubSubscription"},
		{"missing", "projects/" + notifyProject + "/subscriptions/nonexistent", "does not exist"},
		{"malformed", "ark-location", "want projects/PROJECT/subscriptions/ID"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store := gcsStore(t, srv, "watched", "", tc.subscription)
			called := make(chan struct{}, 1)
			_, err := store.Notify(context.Background(), []string{"backups/"}, "ark-backup.json", func([]string) { called <- struct{}{} })
			if err == nil || !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("Notify = %v; want an error saying %q", err, tc.says)
			}
			select {
			case <-called:
				t.Error("changed was called")
			case <-time.After(100 * time.Millisecond):
			}
		})
	}
}

// When receiving fails after it started (here, the subscription is
// deleted), notifications may be lost: Notify reports a change so that
// the poller lists.
func TestGCSNotifyReportsLostTrack(t *testing.T) {
	srv, ps := startNotifyingGCS(t, "watched")
	// Pub/Sub ends streaming pulls now and then and the client reopens
	// them; the emulator keeps a stream open through the subscription's
	// deletion unless it too ends them.
	ps.SetStreamTimeout(500 * time.Millisecond)
	const sub = "projects/" + notifyProject + "/subscriptions/" + notifySub
	store := gcsStore(t, srv, "watched", "", sub)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	changes := make(chan []string, 100)
	if _, err := store.Notify(ctx, []string{"backups/"}, "ark-backup.json", func(keys []string) { changes <- keys }); err != nil {
		t.Fatal(err)
	}
	select {
	case <-changes:
		t.Fatal("a change was reported before anything happened")
	case <-time.After(300 * time.Millisecond):
	}
	if _, err := ps.GServer.DeleteSubscription(ctx, &pubsubpb.DeleteSubscriptionRequest{Subscription: sub}); err != nil {
		t.Fatal(err)
	}
	select {
	case keys := <-changes:
		if keys != nil {
			t.Errorf("lost track, but reported only the keys %q, not that anything may have changed", keys)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no change was reported within 10s after the subscription was deleted")
	}
}

// OpenLocation passes a gcp location's pubsubSubscription to its store,
// whose Pub/Sub client uses the location's credential as its storage
// client does (the emulators take any).
func TestGCSLocationNotifiesFromItsSubscription(t *testing.T) {
	srv, _ := startNotifyingGCS(t, "located")
	t.Setenv("STORAGE_EMULATOR_HOST", srv.URL())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, err := objectstore.OpenLocation(ctx, objectstore.LocationConfig{
		Provider: "gcp", Bucket: "located", Prefix: "ark", Credential: serviceAccountKey(t),
		Config: map[string]string{"pubsubSubscription": "projects/" + notifyProject + "/subscriptions/" + notifySub},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	n, ok := s.(objectstore.Notifier)
	if !ok {
		t.Fatalf("%T is no Notifier", s)
	}
	changes := make(chan []string, 10)
	if _, err := n.Notify(ctx, []string{"backups/"}, "ark-backup.json", func(keys []string) { changes <- keys }); err != nil {
		t.Fatal(err)
	}
	writer := gcsStore(t, srv, "located", "ark", "")
	w, err := writer.NewWriter(ctx, "backups/x/ark-backup.json", objectstore.Conditions{})
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("{}"))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case keys := <-changes:
		// The key in the store, without the location's prefix "ark/".
		if !slices.Equal(keys, []string{"backups/x/ark-backup.json"}) {
			t.Errorf("reported the keys %q, want [backups/x/ark-backup.json]", keys)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no change reported within 5s after a record was written")
	}
}
