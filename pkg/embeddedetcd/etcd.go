// Package embeddedetcd runs etcd inside the ark-apiserver process, so that a
// single binary with a data directory is a complete Ark: restores and
// schedules need etcd, and most users should not have to run one.
package embeddedetcd

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
	"k8s.io/klog/v2"
)

// Etcd is a running embedded etcd.
type Etcd struct {
	etcd *embed.Etcd
	// ClientURL is where the API server reaches it (127.0.0.1 only).
	ClientURL string
}

// Options configure the embedded etcd.
type Options struct {
	// Dir holds etcd's data; it survives restarts.
	Dir string
	// UnsafeNoFsync trades durability for speed; for tests only.
	UnsafeNoFsync bool
}

// Start starts etcd on free loopback ports and waits until it serves.
// A free port can be taken by another process between being found and
// being bound; then it tries again on new ports.
func Start(opts Options) (*Etcd, error) {
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating etcd data directory: %w", err)
	}
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		var e *Etcd
		e, err = start(opts)
		if err == nil {
			return e, nil
		}
		if !errors.Is(err, syscall.EADDRINUSE) {
			return nil, err
		}
		klog.InfoS("Embedded etcd's port was taken; trying others", "err", err)
	}
	return nil, err
}

func start(opts Options) (*Etcd, error) {
	clientPort, err := freePort()
	if err != nil {
		return nil, err
	}
	peerPort, err := freePort()
	if err != nil {
		return nil, err
	}
	cfg := embed.NewConfig()
	cfg.Name = "ark"
	cfg.Dir = filepath.Join(opts.Dir, "member-data")
	cfg.LogLevel = "warn"
	// etcd logs in its own format; keep it beside its data, out of the server's log.
	cfg.LogOutputs = []string{filepath.Join(opts.Dir, "etcd.log")}
	cfg.UnsafeNoFsync = opts.UnsafeNoFsync
	clientURL := url.URL{Scheme: "http", Host: fmt.Sprintf("127.0.0.1:%d", clientPort)}
	peerURL := url.URL{Scheme: "http", Host: fmt.Sprintf("127.0.0.1:%d", peerPort)}
	cfg.ListenClientUrls = []url.URL{clientURL}
	cfg.AdvertiseClientUrls = []url.URL{clientURL}
	cfg.ListenPeerUrls = []url.URL{peerURL}
	cfg.AdvertisePeerUrls = []url.URL{peerURL}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	// The member's peer URL is stored in its data; a restart on new ports must
	// not be refused as a different cluster.
	cfg.ForceNewCluster = memberDataExists(cfg.Dir)

	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return nil, fmt.Errorf("starting embedded etcd: %w", err)
	}
	select {
	case <-e.Server.ReadyNotify():
	case err := <-e.Err():
		e.Close()
		return nil, fmt.Errorf("embedded etcd failed: %w", err)
	case <-time.After(60 * time.Second):
		e.Close()
		return nil, fmt.Errorf("embedded etcd did not become ready within 60s")
	}
	klog.InfoS("Embedded etcd ready", "dir", opts.Dir, "url", clientURL.String())
	return &Etcd{etcd: e, ClientURL: clientURL.String()}, nil
}

// Close stops etcd.
func (e *Etcd) Close() {
	e.etcd.Close()
}

func memberDataExists(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, "member"))
	return err == nil
}

// freePort finds a free loopback port (a variable so tests can hand out a
// taken one).
var freePort = func() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port for embedded etcd: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
