// Package gcstest runs fake-gcs-server in-process on 127.0.0.1 so that the
// real cloud.google.com/go/storage client can be tested over real HTTP.
//
// fake-gcs-server v1.56.1 lacks three things real GCS does and Ark relies
// on: it ignores maxResults/pageToken and matchGlob when listing objects,
// and it ignores ifGenerationMatch on delete. A thin proxy in front of it
// (gapfill.go) adds them, so the conformance suite tests our client code
// against GCS semantics rather than against the emulator's gaps. The proxy
// also counts listing calls, which are what GCS bills a poller for.
package gcstest

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
	"time"

	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"cloud.google.com/go/pubsub/v2/pstest"
	"cloud.google.com/go/storage"
	"github.com/fsouza/fake-gcs-server/fakestorage"
	"google.golang.org/api/option"

	"github.com/arkproject/ark/pkg/objectstore"
)

// Server is a running fake GCS endpoint.
type Server struct {
	fake      *fakestorage.Server
	proxy     *http.Server
	url       string
	listCalls atomic.Int64
}

// ListCalls is how many object listings (pages) clients have asked for.
func (s *Server) ListCalls() int64 { return s.listCalls.Load() }

// Start starts a fake GCS server on a free loopback port with the given buckets.
func Start(buckets ...string) (*Server, error) {
	return StartWithOptions(Options{}, buckets...)
}

// Options change what Start sets up.
type Options struct {
	// NotifyProject and NotifyTopic, when both set, make the server publish
	// a notification to that Pub/Sub topic for each object written, deleted
	// or with new metadata, in any bucket, in GCS's format (attributes
	// bucketId, objectId, eventType, payloadFormat JSON_API_V1). The
	// server publishes with a real Pub/Sub client, which reaches the
	// emulator PUBSUB_EMULATOR_HOST names: set it before Start, to a server
	// holding the topic (see StartPubsub).
	NotifyProject, NotifyTopic string
}

// StartWithOptions is Start with options.
func StartWithOptions(o Options, buckets ...string) (*Server, error) {
	opts := fakestorage.Options{
		Scheme: "http",
		Host:   "127.0.0.1",
		Port:   0,
		Writer: io.Discard,
	}
	if o.NotifyProject != "" && o.NotifyTopic != "" {
		opts.EventOptions = fakestorage.EventManagerOptions{
			ProjectID: o.NotifyProject,
			TopicName: o.NotifyTopic,
			NotifyOn:  fakestorage.EventNotificationOptions{Finalize: true, Delete: true, MetadataUpdate: true},
		}
	}
	fake, err := fakestorage.NewServerWithOptions(opts)
	if err != nil {
		return nil, fmt.Errorf("starting fake GCS server: %w", err)
	}
	for _, b := range buckets {
		fake.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: b})
	}
	s := &Server{fake: fake}
	if err := s.startProxy(); err != nil {
		fake.Stop()
		return nil, err
	}
	return s, nil
}

// URL is the server's base URL.
func (s *Server) URL() string { return s.url }

// Stop shuts the server down; clients then see connection errors, which is how
// tests make a bucket unreachable.
func (s *Server) Stop() {
	s.proxy.Close()
	s.fake.Stop()
}

// CreateBucket adds an empty bucket.
func (s *Server) CreateBucket(name string) {
	s.fake.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: name})
}

// NewClient returns a real GCS client talking to this server.
func (s *Server) NewClient(ctx context.Context) (*storage.Client, error) {
	return storage.NewClient(ctx,
		option.WithEndpoint(s.url+"/storage/v1/"),
		option.WithoutAuthentication(),
		option.WithHTTPClient(&http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}),
		storage.WithJSONReads(),
	)
}

// NewStore returns an objectstore over bucket/prefix on this server; closing
// the store closes its client.
func (s *Server) NewStore(ctx context.Context, bucket, prefix string) (objectstore.Store, error) {
	client, err := s.NewClient(ctx)
	if err != nil {
		return nil, err
	}
	store := objectstore.NewGCSStore(client, bucket, prefix)
	// Tests stop the server to make the bucket unreachable; fail fast then.
	store.StallTimeout = 3 * time.Second
	return &ownedStore{GCSStore: store, client: client}, nil
}

type ownedStore struct {
	*objectstore.GCSStore
	client *storage.Client
}

func (o *ownedStore) Close() error { return o.client.Close() }

// StartPubsub starts an in-process Pub/Sub emulator (pstest) on a loopback
// port, with the topic projects/PROJECT/topics/TOPIC and a pull
// subscription projects/PROJECT/subscriptions/SUBSCRIPTION on it. Point
// PUBSUB_EMULATOR_HOST at its Addr for clients to reach it.
func StartPubsub(project, topic, subscription string) (*pstest.Server, error) {
	srv := pstest.NewServer()
	ctx := context.Background()
	t, err := srv.GServer.CreateTopic(ctx, &pubsubpb.Topic{Name: "projects/" + project + "/topics/" + topic})
	if err != nil {
		srv.Close()
		return nil, fmt.Errorf("creating Pub/Sub topic: %w", err)
	}
	if _, err := srv.GServer.CreateSubscription(ctx, &pubsubpb.Subscription{
		Name:               "projects/" + project + "/subscriptions/" + subscription,
		Topic:              t.Name,
		AckDeadlineSeconds: 10,
	}); err != nil {
		srv.Close()
		return nil, fmt.Errorf("creating Pub/Sub subscription: %w", err)
	}
	return srv, nil
}
