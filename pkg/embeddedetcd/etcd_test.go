package embeddedetcd

import (
	"context"
	"net"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// A port found free but taken before etcd binds it (another process got
// there first) costs a retry, not the server's start.
func TestStartRetriesATakenPort(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	real := freePort
	defer func() { freePort = real }()
	calls := 0
	freePort = func() (int, error) {
		calls++
		if calls == 1 {
			return taken.Addr().(*net.TCPAddr).Port, nil
		}
		return real()
	}

	e, err := Start(Options{Dir: t.TempDir(), UnsafeNoFsync: true})
	if err != nil {
		t.Fatalf("Start with a taken port: %v", err)
	}
	defer e.Close()
	if calls < 4 {
		t.Errorf("freePort called %d times: the taken port was not retried", calls)
	}
	c, err := clientv3.New(clientv3.Config{Endpoints: []string{e.ClientURL}, DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := c.Put(ctx, "k", "v"); err != nil {
		t.Errorf("the etcd that started does not serve: %v", err)
	}
}
