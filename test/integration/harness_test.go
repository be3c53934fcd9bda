// Package integration starts ark-apiserver in-process (standalone mode,
// embedded etcd, a real bucket: a directory, fake-gcs-server through the
// real GCS client, or a real S3 server through the AWS SDK) and drives it
// over HTTPS with the generated clientset.
package integration

import (
	"context"

	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/klog/v2"

	"github.com/arkproject/ark/pkg/apiserver"
	"github.com/arkproject/ark/pkg/cmd/server"
	"github.com/arkproject/ark/pkg/generated/clientset/versioned"
	"github.com/arkproject/ark/pkg/objectstore"
	"github.com/arkproject/ark/pkg/objectstore/azuretest"
	"github.com/arkproject/ark/pkg/objectstore/gcstest"
	"github.com/arkproject/ark/pkg/objectstore/s3test"
)

const home = "heptio-ark"

// testServer is one running ark-apiserver.
type testServer struct {
	Server  *apiserver.ArkServer
	Config  *rest.Config
	Client  versioned.Interface
	Store   objectstore.Store
	DataDir string

	// stop cancels the server's context (as SIGTERM does) and returns once
	// it has stopped serving; stopped says it has.
	stop    func()
	stopped chan struct{}
}

// Stop stops the server as a signal would and says how long it took,
// giving up after limit. (The test's cleanup then finds it stopped.)
func (ts *testServer) Stop(t testing.TB, limit time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	ts.stop()
	select {
	case <-ts.stopped:
		return time.Since(start)
	case <-time.After(limit):
		t.Fatalf("the server has not stopped %s after it was told to", limit)
		return limit
	}
}

type serverOptions struct {
	// store is the bucket; nil means a directory bucket in the data dir.
	store        objectstore.Store
	pollInterval time.Duration
	// bucketDown says the bucket cannot be reached from the start: the
	// server is ready without having listed it.
	bucketDown bool
}

func TestMain(m *testing.M) {
	klog.SetOutput(os.Stderr)
	os.Exit(m.Run())
}

// startServer starts a server and stops it when the test ends.
func startServer(t testing.TB, so serverOptions) *testServer {
	t.Helper()
	dataDir := t.TempDir()
	if so.store == nil {
		s, err := objectstore.NewFileStore(filepath.Join(dataDir, "bucket"))
		if err != nil {
			t.Fatal(err)
		}
		so.store = s
	}
	if so.pollInterval == 0 {
		so.pollInterval = 200 * time.Millisecond
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	o := server.NewOptions(os.Stdout, os.Stderr)
	o.Standalone = true
	o.DataDir = dataDir
	o.BackupStore = so.store
	o.BucketPollInterval = so.pollInterval
	o.EtcdUnsafeNoFsync = true
	o.RecommendedOptions.SecureServing.Listener = ln
	o.RecommendedOptions.SecureServing.BindPort = ln.Addr().(*net.TCPAddr).Port
	if err := o.Complete(); err != nil {
		t.Fatal(err)
	}
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	srv, cleanup, err := o.NewServer(ctx)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		if err := srv.GenericAPIServer.PrepareRun().RunWithContext(ctx); err != nil {
			t.Errorf("server stopped: %v", err)
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-stopped
		cleanup()
	})

	cfg, err := clientcmd.BuildConfigFromFlags("", o.KubeconfigPath())
	if err != nil {
		t.Fatal(err)
	}
	cfg.QPS, cfg.Burst = 1000, 1000
	client, err := versioned.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{Server: srv, Config: cfg, Client: client, Store: so.store, DataDir: dataDir, stop: cancel, stopped: stopped}
	ts.waitReady(t, !so.bucketDown)
	return ts
}

// waitReady waits for /readyz and, with bucket, for backups to be listed.
func (ts *testServer) waitReady(t testing.TB, bucket bool) {
	t.Helper()
	err := wait.PollUntilContextTimeout(context.Background(), 50*time.Millisecond, 60*time.Second, true, func(ctx context.Context) (bool, error) {
		code, _ := ts.rawGet(ctx, "/readyz")
		if code != http.StatusOK || !bucket {
			return code == http.StatusOK, nil
		}
		_, err := ts.Client.ArkV1().Backups(home).List(ctx, listAll)
		return err == nil, nil
	})
	if err != nil {
		t.Fatalf("server not ready: %v", err)
	}
}

// rawGet fetches a path with the admin credentials and returns the status and body.
func (ts *testServer) rawGet(ctx context.Context, path string) (int, []byte) {
	return ts.request(ctx, http.MethodGet, path, "application/json")
}

// request sends a request with the admin credentials and an Accept header.
func (ts *testServer) request(ctx context.Context, method, path, accept string) (int, []byte) {
	hc, err := rest.HTTPClientFor(ts.Config)
	if err != nil {
		return 0, []byte(err.Error())
	}
	req, err := http.NewRequestWithContext(ctx, method, ts.Config.Host+path, nil)
	if err != nil {
		return 0, []byte(err.Error())
	}
	req.Header.Set("Accept", accept)
	resp, err := hc.Do(req)
	if err != nil {
		return 0, []byte(err.Error())
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, body
}

// waitForPoll waits until the bucket poller has run after now.
func (ts *testServer) waitForPoll(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := ts.Server.Backups.WaitForNextPoll(ctx); err != nil {
		t.Fatalf("waiting for bucket poll: %v", err)
	}
}

// gcsStore returns a store on a fresh bucket of a fake GCS server, which the
// test may stop to make the bucket unreachable.
func gcsStore(t testing.TB) (objectstore.Store, *gcstest.Server) {
	t.Helper()
	srv, err := gcstest.Start("ark-test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	s, err := srv.NewStore(context.Background(), "ark-test", "cluster-a")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, srv
}

// s3Store returns a store on a fresh bucket of a real S3 server (versitygw),
// which the test may stop to make the bucket unreachable.
func s3Store(t testing.TB) (objectstore.Store, *s3test.Server) {
	t.Helper()
	srv := s3test.Start(t)
	srv.CreateBucket(t, "ark-test")
	return srv.NewStore(t, "ark-test", "cluster-a"), srv
}

// azureStore returns a store on a fresh container of a real Azure Blob
// emulator (Azurite), which the test may stop to make the bucket unreachable.
func azureStore(t testing.TB) (objectstore.Store, *azuretest.Server) {
	t.Helper()
	srv := azuretest.Start(t)
	srv.CreateContainer(t, "ark-test")
	return srv.NewStore(t, "ark-test", "cluster-a"), srv
}

// bucketKinds runs a test against a directory bucket, a GCS bucket, an S3
// bucket and an Azure container.
func bucketKinds(t *testing.T, fn func(t *testing.T, ts *testServer)) {
	t.Run("file", func(t *testing.T) { fn(t, startServer(t, serverOptions{})) })
	t.Run("gcs", func(t *testing.T) {
		store, _ := gcsStore(t)
		fn(t, startServer(t, serverOptions{store: store}))
	})
	t.Run("s3", func(t *testing.T) {
		store, _ := s3Store(t)
		fn(t, startServer(t, serverOptions{store: store}))
	})
	t.Run("azure", func(t *testing.T) {
		store, _ := azureStore(t)
		fn(t, startServer(t, serverOptions{store: store}))
	})
}
