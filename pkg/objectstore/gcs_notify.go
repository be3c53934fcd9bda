package objectstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/klog/v2"
)

var _ Notifier = &GCSStore{}

// gcsSubscriptionCheckTimeout bounds the check Notify makes before it
// returns: the poller waits for it before its first listing.
const gcsSubscriptionCheckTimeout = 10 * time.Second

// gcsReceiveBackoff spaces the retries of a subscription whose receiving
// failed (deleted, permission revoked, Pub/Sub unreachable): soon at first,
// then at most once a minute, so that a lasting failure is logged rarely.
var gcsReceiveBackoff = wait.Backoff{Duration: time.Second, Factor: 2, Jitter: 0.1, Steps: 1 << 30, Cap: time.Minute}

// Notify receives the bucket's object notifications from the location's
// Pub/Sub subscription (PubsubSubscription), which GCS publishes within
// about a second of a change. Without a subscription, or when it cannot be
// read, it returns an error and the bucket is only polled. The
// subscription should be the location's own: messages are acknowledged
// as they come, so two readers would each miss some.
func (s *GCSStore) Notify(ctx context.Context, prefixes []string, name string, changed func(keys []string)) (Coverage, error) {
	if s.PubsubSubscription == "" {
		return 0, fmt.Errorf("%w: the location has no %s config, and GCS has no other way to report changes", errNotWatchable, gcpPubsubSubscription)
	}
	project, err := pubsubProject(s.PubsubSubscription)
	if err != nil {
		return 0, fmt.Errorf("%w: %w", errNotWatchable, err)
	}
	client, err := pubsub.NewClient(ctx, project, s.pubsubOpts...)
	if err != nil {
		return 0, fmt.Errorf("%w: creating Pub/Sub client: %w", errNotWatchable, err)
	}
	// Up front, so that a wrong name or a missing role is one clear error
	// rather than Receive failing over and over in the background.
	cctx, cancel := context.WithTimeout(ctx, gcsSubscriptionCheckTimeout)
	_, err = client.SubscriptionAdminClient.GetSubscription(cctx, &pubsubpb.GetSubscriptionRequest{Subscription: s.PubsubSubscription})
	cancel()
	if err != nil {
		client.Close()
		switch status.Code(err) {
		case codes.NotFound:
			return 0, fmt.Errorf("%w: Pub/Sub subscription %s does not exist: %w", errNotWatchable, s.PubsubSubscription, err)
		case codes.PermissionDenied:
			return 0, fmt.Errorf("%w: not permitted to read Pub/Sub subscription %s (the credential needs roles/pubsub.viewer and roles/pubsub.subscriber on it): %w", errNotWatchable, s.PubsubSubscription, err)
		}
		return 0, fmt.Errorf("%w: reading Pub/Sub subscription %s: %w", errNotWatchable, s.PubsubSubscription, err)
	}
	n := &gcsNotifier{
		s:        s,
		client:   client,
		bucket:   s.name,
		prefixes: make([]string, len(prefixes)),
		name:     name,
		kick:     make(chan struct{}, 1),
		pending:  map[string]struct{}{},
	}
	for i, p := range prefixes {
		n.prefixes[i] = s.prefix + p
	}
	go n.dispatch(ctx, changed)
	go n.receive(ctx)
	return CoversAll, nil
}

// gcsNotifier receives one location's notifications.
type gcsNotifier struct {
	s        *GCSStore
	client   *pubsub.Client
	bucket   string
	prefixes []string // object names' prefixes: the store's prefix + a watched prefix
	name     string
	// kick says that changes are pending. Pub/Sub calls back from several
	// goroutines, and a burst of messages (a thousand backups deleted)
	// should be one call of changed, not a thousand.
	kick chan struct{}

	mu      sync.Mutex
	pending map[string]struct{} // keys changed since the last call
	lost    bool                // track was lost: anything may have changed
}

// dispatch calls changed, from this one goroutine, with what is pending
// whenever something is.
func (n *gcsNotifier) dispatch(ctx context.Context, changed func(keys []string)) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-n.kick:
			n.mu.Lock()
			var keys []string
			if !n.lost {
				keys = make([]string, 0, len(n.pending))
				for k := range n.pending {
					keys = append(keys, k)
				}
			}
			clear(n.pending)
			n.lost = false
			n.mu.Unlock()
			changed(keys)
		}
	}
}

// notify records a changed key, or with "" that track was lost.
func (n *gcsNotifier) notify(key string) {
	n.mu.Lock()
	if key == "" {
		n.lost = true
	} else {
		n.pending[key] = struct{}{}
	}
	n.mu.Unlock()
	select {
	case n.kick <- struct{}{}:
	default:
	}
}

// receive receives until ctx ends. When receiving fails, messages may have
// been lost (they expire, or were redelivered to nobody), so it reports a
// change for the poller to list, then tries again after a backoff.
func (n *gcsNotifier) receive(ctx context.Context) {
	defer n.client.Close()
	sub := n.client.Subscriber(n.s.PubsubSubscription)
	backoff := gcsReceiveBackoff
	for {
		start := time.Now()
		err := sub.Receive(ctx, func(_ context.Context, m *pubsub.Message) {
			m.Ack() // a hint, used or not: redelivery would only repeat it
			if key, ok := n.relevant(m.Attributes); ok {
				n.notify(key)
			}
		})
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			err = errors.New("receiving stopped")
		}
		n.notify("")
		if time.Since(start) > backoff.Cap {
			backoff = gcsReceiveBackoff // it worked for a while: a new failure
		}
		d := backoff.Step()
		klog.ErrorS(err, "Receiving change notifications of the backup storage location failed; it is polled until they resume",
			"location", n.s.String(), "subscription", n.s.PubsubSubscription, "retryIn", d)
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// relevant says whether a GCS notification's attributes tell of a change
// to a watched object, and returns its key: one in this bucket, under a
// watched prefix, whose last segment is the watched name, written, deleted
// or with new metadata. OBJECT_ARCHIVE (an older generation kept) changes
// nothing live.
func (n *gcsNotifier) relevant(attrs map[string]string) (string, bool) {
	if attrs["bucketId"] != n.bucket {
		return "", false
	}
	switch attrs["eventType"] {
	case "OBJECT_FINALIZE", "OBJECT_DELETE", "OBJECT_METADATA_UPDATE":
	default:
		return "", false
	}
	object := attrs["objectId"]
	for _, p := range n.prefixes {
		if rest, ok := strings.CutPrefix(object, p); ok && (rest == n.name || strings.HasSuffix(rest, "/"+n.name)) {
			return strings.TrimPrefix(object, n.s.prefix), true
		}
	}
	return "", false
}
