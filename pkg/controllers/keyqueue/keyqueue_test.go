package keyqueue

import (
	"context"
	"errors"
	"testing"
	"time"

	"k8s.io/client-go/util/workqueue"
)

func TestProcessNext(t *testing.T) {
	q := workqueue.NewTypedRateLimitingQueue(workqueue.NewTypedItemExponentialFailureRateLimiter[string](time.Millisecond, time.Millisecond))
	defer q.ShutDown()
	ctx := context.Background()
	var synced []string

	q.Add("ns/fails")
	if !ProcessNext(ctx, q, "thing", NoRequeue(func(_ context.Context, key string) error {
		synced = append(synced, key)
		return errors.New("boom")
	})) {
		t.Fatal("reported shutdown")
	}
	if q.NumRequeues("ns/fails") != 1 {
		t.Errorf("a failed key was requeued %d times, want 1 (rate-limited)", q.NumRequeues("ns/fails"))
	}
	// It comes back after the backoff; now it succeeds and asks for a later look.
	if !ProcessNext(ctx, q, "thing", func(_ context.Context, key string) (time.Duration, error) {
		synced = append(synced, key)
		return 10 * time.Millisecond, nil
	}) {
		t.Fatal("reported shutdown")
	}
	if q.NumRequeues("ns/fails") != 0 {
		t.Error("a synced key's backoff was not forgotten")
	}
	start := time.Now()
	ProcessNext(ctx, q, "thing", NoRequeue(func(_ context.Context, key string) error {
		synced = append(synced, key)
		return nil
	}))
	if waited := time.Since(start); waited < 5*time.Millisecond {
		t.Errorf("the key asked back after 10ms came after %s", waited)
	}
	if len(synced) != 3 {
		t.Errorf("synced %v", synced)
	}
	q.ShutDown()
	if ProcessNext(ctx, q, "thing", NoRequeue(func(context.Context, string) error { return nil })) {
		t.Error("did not report shutdown")
	}
}
