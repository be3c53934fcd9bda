// Package s3test runs a real S3-compatible server (versitygw, serving a
// temporary directory) on 127.0.0.1 so that the S3 backend is tested with the
// real AWS SDK over real HTTP against a server that implements conditional
// writes. The binary is built from a pinned module by `make s3server`
// (hack/s3server/build.sh) into _output/bin.
package s3test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/arkproject/ark/pkg/objectstore"
	"github.com/arkproject/ark/pkg/objectstore/testserver"
)

// Server is a running S3 server.
type Server struct {
	// Endpoint is the server's base URL.
	Endpoint string
	// AccessKey and SecretKey are the root credentials, fresh for each server.
	AccessKey, SecretKey string

	*testserver.Process
	client *s3.Client
}

// Start starts a server on a free loopback port over a temporary directory
// and stops it when the test ends (see testserver.Start).
func Start(t testing.TB) *Server {
	t.Helper()
	s := &Server{AccessKey: "ark" + randomHex(8), SecretKey: randomHex(20)}
	bin, err := testserver.Installed("_output/bin/versitygw", "s3server")
	client := func(port int) *s3.Client {
		return s3.New(s3.Options{
			Region:       "us-east-1",
			BaseEndpoint: aws.String(fmt.Sprintf("http://127.0.0.1:%d", port)),
			UsePathStyle: true,
			Credentials:  credentials.NewStaticCredentialsProvider(s.AccessKey, s.SecretKey, ""),
		})
	}
	s.Process = testserver.Start(t, testserver.Launch{
		Name: "the S3 test server (versitygw)", Binary: bin, BinaryErr: err,
		Command: func(port int, dir string) ([]string, []string) {
			args := []string{"--access", s.AccessKey, "--secret", s.SecretKey,
				"--port", fmt.Sprintf("127.0.0.1:%d", port), "--quiet", "--keep-alive", "posix", dir}
			return args, []string{"PATH=" + os.Getenv("PATH")} // none of the caller's AWS_* or VGW_* settings
		},
		Ready: func(ctx context.Context, port int) error {
			_, err := client(port).ListBuckets(ctx, &s3.ListBucketsInput{})
			return err
		},
	})
	s.Endpoint = fmt.Sprintf("http://127.0.0.1:%d", s.Port)
	s.client = client(s.Port)
	return s
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
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

// NoAWSEnvironment keeps the test's AWS credentials out of the SDK's
// standard chain (environment, shared files, instance metadata), so that a
// store that works got them from where the test gave them.
func NoAWSEnvironment(t testing.TB) {
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"} {
		t.Setenv(k, "")
	}
	t.Setenv("AWS_CONFIG_FILE", "/nonexistent")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
}
