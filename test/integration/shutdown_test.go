package integration

import (
	"context"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
)

// Told to stop (SIGTERM cancels the server's context), the server ends
// every open watch (backups from the bucket, restores and schedules from
// etcd) and stops within seconds, so clients re-list against another
// replica and a pod stops within its grace period. A watch that held the
// shutdown made it take the HTTP server's 60 s shutdown timeout.
func TestShutdownEndsWatches(t *testing.T) {
	ts := startServer(t, serverOptions{})
	ctx := context.Background()
	opts := metav1.ListOptions{}
	watches := map[string]watch.Interface{}
	var err error
	if watches["backups"], err = ts.Client.ArkV1().Backups(home).Watch(ctx, opts); err != nil {
		t.Fatal(err)
	}
	if watches["restores"], err = ts.Client.ArkV1().Restores(home).Watch(ctx, opts); err != nil {
		t.Fatal(err)
	}
	if watches["schedules"], err = ts.Client.ArkV1().Schedules(home).Watch(ctx, opts); err != nil {
		t.Fatal(err)
	}
	// The same across all namespaces, as informers watch.
	if watches["backups, all namespaces"], err = ts.Client.ArkV1().Backups("").Watch(ctx, opts); err != nil {
		t.Fatal(err)
	}

	took := ts.Stop(t, 90*time.Second)
	t.Logf("stopped %s after it was told to, with %d watches open", took.Round(10*time.Millisecond), len(watches))
	if took > 5*time.Second {
		t.Errorf("stopping took %s with watches open, want under 5s", took)
	}
	for name, w := range watches {
		select {
		case _, open := <-drain(w.ResultChan()):
			if open {
				t.Errorf("the watch of %s is still open", name)
			}
		case <-time.After(5 * time.Second):
			t.Errorf("the watch of %s did not end", name)
		}
	}
}

// drain discards events until ch closes, then reports the close.
func drain(ch <-chan watch.Event) <-chan watch.Event {
	out := make(chan watch.Event)
	go func() {
		for range ch {
		}
		close(out)
	}()
	return out
}
