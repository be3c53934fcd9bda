// Package s3test runs a real S3-compatible server (versitygw, serving a
// temporary directory) on 127.0.0.1 so that the S3 backend is tested with the
// real AWS SDK over real HTTP against a server that implements conditional
// writes. The binary is built from a pinned module by `make s3server`
// (hack/s3server/build.sh) into _output/bin.
package s3test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/arkproject/ark/pkg/objectstore"
)

// Server is a running S3 server.
type Server struct {
	// Endpoint is the server's base URL.
	Endpoint string
	// AccessKey and SecretKey are the root credentials, fresh for each server.
	AccessKey, SecretKey string

	cmd    *exec.Cmd
	exited chan struct{}
	log    *bytes.Buffer
	client *s3.Client
}

// Binary returns the path of the server binary in the repository's
// _output/bin, found from the working directory (a package directory while
// tests run).
func Binary() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if data, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && strings.HasPrefix(string(data), "module github.com/arkproject/ark\n") {
			bin := filepath.Join(dir, "_output", "bin", "versitygw")
			if _, err := os.Stat(bin); err != nil {
				return "", fmt.Errorf("the S3 test server is not built (run `make s3server`): %w", err)
			}
			return bin, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("the Ark repository root (its go.mod) is not above the working directory")
		}
		dir = parent
	}
}

// Start starts a server on a free loopback port over a temporary directory
// and stops it when the test ends. Without the binary the test is skipped,
// naming `make s3server`, except in CI (CI set), where it fails: make test
// builds the binary, so a skip there would hide a broken build.
func Start(t testing.TB) *Server {
	t.Helper()
	bin, err := Binary()
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%v", err)
		}
		t.Skipf("skipping the S3 tests: %v", err)
	}
	var lastErr error
	for range 3 { // the free port may be taken between probe and bind
		s, err := start(bin, t.TempDir())
		if err == nil {
			t.Cleanup(s.Stop)
			return s
		}
		lastErr = err
	}
	t.Fatalf("starting the S3 test server: %v", lastErr)
	return nil
}

func start(bin, dir string) (*Server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	s := &Server{
		Endpoint:  fmt.Sprintf("http://127.0.0.1:%d", port),
		AccessKey: "ark" + randomHex(8),
		SecretKey: randomHex(20),
		exited:    make(chan struct{}),
		log:       &bytes.Buffer{},
	}
	s.cmd = exec.Command(bin, "--access", s.AccessKey, "--secret", s.SecretKey,
		"--port", fmt.Sprintf("127.0.0.1:%d", port), "--quiet", "--keep-alive", "posix", dir)
	s.cmd.Env = []string{"PATH=" + os.Getenv("PATH")} // none of the caller's AWS_* or VGW_* settings
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	go func() { _ = s.cmd.Wait(); close(s.exited) }()
	s.client = s3.New(s3.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(s.Endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(s.AccessKey, s.SecretKey, ""),
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := s.client.ListBuckets(ctx, &s3.ListBucketsInput{})
		cancel()
		if err == nil {
			return s, nil
		}
		select {
		case <-s.exited:
			return nil, fmt.Errorf("the S3 server exited: %s", s.log)
		default:
		}
		if time.Now().After(deadline) {
			s.Stop()
			return nil, fmt.Errorf("the S3 server did not answer within 30s: %v; its output: %s", err, s.log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Stop kills the server; clients then see connection errors, which is how
// tests make a bucket unreachable. It is safe to call twice.
func (s *Server) Stop() {
	select {
	case <-s.exited:
		return
	default:
	}
	_ = s.cmd.Process.Kill()
	<-s.exited
}

// CreateBucket adds an empty bucket (S3 names: 3-63 lower-case letters,
// digits and hyphens).
func (s *Server) CreateBucket(t testing.TB, name string) {
	t.Helper()
	if _, err := s.client.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		t.Fatalf("creating bucket %s: %v", name, err)
	}
}

// Client is a plain SDK client of the server with its root credentials, for
// what tests do behind the store's back.
func (s *Server) Client() *s3.Client { return s.client }

// Options are the store options for this server, with its credentials.
func (s *Server) Options() objectstore.S3Options {
	return objectstore.S3Options{
		Endpoint:       s.Endpoint,
		ForcePathStyle: true,
		Credentials:    credentials.NewStaticCredentialsProvider(s.AccessKey, s.SecretKey, ""),
	}
}

// NewStore returns a store over bucket/prefix on this server, closed when the
// test ends.
func (s *Server) NewStore(t testing.TB, bucket, prefix string) *objectstore.S3Store {
	t.Helper()
	st, err := objectstore.OpenS3(context.Background(), bucket, prefix, s.Options())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}
