// Package keyqueue is the work loop every Ark controller shares: take a
// namespace/name key from a rate-limited queue, sync it, and requeue it on
// error (with backoff) or when the sync asks to look again later.
package keyqueue

import (
	"context"
	"fmt"
	"time"

	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/util/workqueue"
)

// Queue is the queue the controllers use.
type Queue = workqueue.TypedRateLimitingInterface[string]

// SyncFunc syncs one key and says when to sync it again (0: only when it
// is queued again).
type SyncFunc func(ctx context.Context, key string) (after time.Duration, err error)

// NoRequeue adapts a sync that never asks to be called again.
func NoRequeue(sync func(ctx context.Context, key string) error) SyncFunc {
	return func(ctx context.Context, key string) (time.Duration, error) { return 0, sync(ctx, key) }
}

// ProcessNext syncs the next key of q; errors are reported as "what key:
// err" and retried with backoff. It returns false once q is shut down.
func ProcessNext(ctx context.Context, q Queue, what string, sync SyncFunc) bool {
	key, quit := q.Get()
	if quit {
		return false
	}
	defer q.Done(key)
	after, err := sync(ctx, key)
	switch {
	case err != nil:
		utilruntime.HandleError(fmt.Errorf("%s %s: %w", what, key, err))
		q.AddRateLimited(key)
	case after > 0:
		q.Forget(key)
		q.AddAfter(key, after)
	default:
		q.Forget(key)
	}
	return true
}

// StartWorkers starts n goroutines running next until it reports shutdown,
// restarted every second until ctx ends.
func StartWorkers(ctx context.Context, n int, next func(context.Context) bool) {
	for range n {
		go wait.UntilWithContext(ctx, func(ctx context.Context) {
			for next(ctx) {
			}
		}, time.Second)
	}
}
