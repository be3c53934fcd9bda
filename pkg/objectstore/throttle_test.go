package objectstore_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"cloud.google.com/go/storage"
	"google.golang.org/api/option"

	"github.com/arkproject/ark/pkg/objectstore"
	"github.com/arkproject/ark/pkg/objectstore/azuretest"
	"github.com/arkproject/ark/pkg/objectstore/gcstest"
	"github.com/arkproject/ark/pkg/objectstore/s3test"
)

// throttle is a reverse proxy in front of a real server that answers the
// next `fail` requests itself with `status` (429 or a 5xx, as a busy or
// failing cloud does), then passes requests through.
type throttle struct {
	*httptest.Server
	fail   atomic.Int32
	status int
	seen   atomic.Int32
}

func newThrottle(t *testing.T, target string, status int) *throttle {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	th := &throttle{status: status}
	rp := httputil.NewSingleHostReverseProxy(u)
	th.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		th.seen.Add(1)
		if th.fail.Add(-1) >= 0 {
			w.Header().Set("Retry-After", "0")
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(th.status)
			_, _ = w.Write([]byte(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>`))
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(th.Close)
	return th
}

// checkThrottled checks a store behind th: a couple of refusals are retried
// with backoff and the call succeeds; refusals that do not stop are an
// error, soon, and never an empty listing.
func checkThrottled(t *testing.T, th *throttle, store objectstore.Store) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := objectstore.PutBytes(ctx, store, "kept", []byte("x"), objectstore.Conditions{}); err != nil {
		t.Fatal(err)
	}

	th.fail.Store(2)
	th.seen.Store(0)
	page, err := store.List(ctx, objectstore.ListOptions{})
	if err != nil || len(page.Objects) != 1 {
		t.Fatalf("List after two %d answers: %+v, %v; want the object, after retries", th.status, page, err)
	}
	if n := th.seen.Load(); n != 3 {
		t.Errorf("%d requests for one List with two refusals, want 3", n)
	}

	th.fail.Store(1000)
	th.seen.Store(0)
	start := time.Now()
	page, err = store.List(ctx, objectstore.ListOptions{})
	if err == nil || len(page.Objects) != 0 {
		t.Fatalf("List while every answer is %d: %+v, %v; want an error", th.status, page, err)
	}
	if errors.Is(err, objectstore.ErrNotFound) {
		t.Errorf("a refusal reads as not found: %v", err)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("gave up after %v; want seconds", d)
	}
	t.Logf("%d: List gave up after %d requests in %v: %v", th.status, th.seen.Load(), time.Since(start).Round(time.Millisecond), err)
	if _, err := store.Attrs(ctx, "kept"); err == nil || errors.Is(err, objectstore.ErrNotFound) {
		t.Errorf("Attrs while every answer is %d: %v; want an error other than not found", th.status, err)
	}
}

// S3, Azure and GCS retry 429 and 5xx a bounded number of times with backoff,
// then report the failure: a throttled bucket is an error (the API's 503),
// never an empty list.
func TestThrottledServers(t *testing.T) {
	for _, status := range []int{http.StatusTooManyRequests, http.StatusServiceUnavailable, http.StatusInternalServerError} {
		t.Run("s3/"+http.StatusText(status), func(t *testing.T) {
			srv := s3test.Start(t)
			srv.CreateBucket(t, "busy")
			th := newThrottle(t, srv.Endpoint, status)
			opts := srv.Options()
			opts.Endpoint = th.URL
			store, err := objectstore.OpenS3(context.Background(), "busy", "ark", opts)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { store.Close() })
			checkThrottled(t, th, store)
		})
		t.Run("azure/"+http.StatusText(status), func(t *testing.T) {
			srv := azuretest.Start(t)
			srv.CreateContainer(t, "busy")
			// The proxy forwards paths as they are: its target is the
			// server, the account stays in the store's endpoint.
			th := newThrottle(t, strings.TrimSuffix(srv.Endpoint, "/"+azuretest.AccountName), status)
			opts := srv.Options()
			opts.Endpoint = th.URL + "/" + azuretest.AccountName
			store, err := objectstore.OpenAzure(context.Background(), "busy", "ark", opts)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { store.Close() })
			checkThrottled(t, th, store)
		})
		t.Run("gcs/"+http.StatusText(status), func(t *testing.T) {
			srv, err := gcstest.Start("busy")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(srv.Stop)
			th := newThrottle(t, srv.URL(), status)
			client, err := storage.NewClient(context.Background(),
				option.WithEndpoint(th.URL+"/storage/v1/"),
				option.WithoutAuthentication(),
				storage.WithJSONReads(),
			)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { client.Close() })
			store := objectstore.NewGCSStore(client, "busy", "ark")
			checkThrottled(t, th, store)
		})
	}
}
