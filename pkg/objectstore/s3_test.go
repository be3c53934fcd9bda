package objectstore_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/arkproject/ark/pkg/objectstore"
	"github.com/arkproject/ark/pkg/objectstore/objectstoretest"
	"github.com/arkproject/ark/pkg/objectstore/s3test"
)

// The S3 backend runs the conformance suite with the AWS SDK over HTTP
// against a real S3 server (versitygw), with and without a prefix.
func TestS3StoreConformance(t *testing.T) {
	srv := s3test.Start(t)
	var n atomic.Int32
	for _, prefix := range []string{"", "ark/cluster-a"} {
		opts := objectstoretest.Options{ListWithoutGeneration: true}
		if prefix != "" {
			opts.KeyPrefixBytes = len(prefix) + 1
		}
		t.Run("prefix="+prefix, func(t *testing.T) {
			objectstoretest.RunWith(t, func(t *testing.T) objectstore.Store {
				bucket := fmt.Sprintf("bucket-%d", n.Add(1))
				srv.CreateBucket(t, bucket)
				return srv.NewStore(t, bucket, prefix)
			}, opts)
		})
	}
}

// s3Store returns a store on a fresh bucket of srv with 5 MiB parts, the
// smallest S3 takes, so multipart uploads stay quick to test.
func s3Store(t *testing.T, srv *s3test.Server, bucket string) *objectstore.S3Store {
	t.Helper()
	srv.CreateBucket(t, bucket)
	opts := srv.Options()
	opts.PartSize = 5 << 20
	s, err := objectstore.OpenS3(context.Background(), bucket, "ark", opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// openUploads counts the multipart uploads in progress in a bucket: an
// aborted or failed write must leave none behind.
func openUploads(t *testing.T, srv *s3test.Server, bucket string) int {
	t.Helper()
	out, err := srv.Client().ListMultipartUploads(context.Background(), &s3.ListMultipartUploadsInput{Bucket: aws.String(bucket)})
	if err != nil {
		t.Fatal(err)
	}
	return len(out.Uploads)
}

// Wrong credentials are an error naming the location, never an empty
// listing or a missing object.
func TestS3WrongCredentials(t *testing.T) {
	srv := s3test.Start(t)
	srv.CreateBucket(t, "guarded")
	opts := srv.Options()
	opts.Credentials = credentials.NewStaticCredentialsProvider(srv.AccessKey, "not-the-secret", "")
	s, err := objectstore.OpenS3(context.Background(), "guarded", "ark", opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	check := func(op string, err error) {
		t.Helper()
		if err == nil || errors.Is(err, objectstore.ErrNotFound) || errors.Is(err, objectstore.ErrPreconditionFailed) {
			t.Errorf("%s with wrong credentials: got %v, want an access error", op, err)
			return
		}
		for _, want := range []string{s.String(), "access denied", "credentials"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%s with wrong credentials: %q does not say %q", op, err, want)
			}
		}
	}
	page, err := s.List(ctx, objectstore.ListOptions{})
	if len(page.Objects) != 0 {
		t.Errorf("listed %+v", page)
	}
	check("List", err)
	_, err = s.Attrs(ctx, "backups/a/ark-backup.json")
	check("Attrs", err)
	_, _, err = s.NewReader(ctx, "backups/a/ark-backup.json")
	check("NewReader", err)
	_, err = objectstore.PutBytes(ctx, s, "backups/a/ark-backup.json", []byte("{}"), objectstore.Conditions{DoesNotExist: true})
	check("create", err)

	_, err = srv.NewStore(t, "no-such-bucket", "").List(ctx, objectstore.ListOptions{})
	if err == nil || !strings.Contains(err.Error(), "bucket does not exist") {
		t.Errorf("listing a missing bucket: got %v", err)
	}
}

// A 40 MiB object streams through a multipart upload holding no more than
// two parts in memory, reads back intact, and conditional multipart writes
// are checked at CompleteMultipartUpload.
func TestS3MultipartUpload(t *testing.T) {
	srv := s3test.Start(t)
	s := s3Store(t, srv, "multipart")
	ctx := context.Background()
	const size = 40 << 20
	write := func(cond objectstore.Conditions, seed int64) (objectstore.ObjectAttrs, []byte, uint64, error) {
		w, err := s.NewWriter(ctx, "backups/big/big.tar.gz", cond)
		if err != nil {
			t.Fatal(err)
		}
		rng := rand.New(rand.NewSource(seed))
		sum := sha256.New()
		buf := make([]byte, 64<<10)
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		for written := 0; written < size; written += len(buf) {
			rng.Read(buf)
			sum.Write(buf)
			if _, err := w.Write(buf); err != nil {
				w.Abort()
				return objectstore.ObjectAttrs{}, nil, 0, err
			}
		}
		err = w.Close()
		runtime.ReadMemStats(&after)
		return w.Attrs(), sum.Sum(nil), after.TotalAlloc - before.TotalAlloc, err
	}

	first, want, allocated, err := write(objectstore.Conditions{DoesNotExist: true}, 1)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("streaming %d MiB allocated %d MiB", size>>20, allocated>>20)
	if allocated > 24<<20 {
		t.Errorf("streaming %d MiB allocated %d MiB: the writer buffers more than two 5 MiB parts", size>>20, allocated>>20)
	}
	if first.Size != size || first.Generation == 0 || !strings.HasSuffix(first.Token, "-8") {
		t.Errorf("attrs after a multipart upload: %+v (want 8 parts in the ETag)", first)
	}
	r, attrs, err := s.NewReader(ctx, "backups/big/big.tar.gz")
	if err != nil {
		t.Fatal(err)
	}
	got := sha256.New()
	if _, err := io.Copy(got, r); err != nil {
		t.Fatal(err)
	}
	r.Close()
	if !bytes.Equal(got.Sum(nil), want) || attrs.Generation != first.Generation || attrs.Token != first.Token {
		t.Errorf("read back: checksum match %v, attrs %+v, written %+v", bytes.Equal(got.Sum(nil), want), attrs, first)
	}

	if _, _, _, err := write(objectstore.Conditions{DoesNotExist: true}, 2); !errors.Is(err, objectstore.ErrPreconditionFailed) {
		t.Errorf("multipart create over an existing object: got %v, want ErrPreconditionFailed", err)
	}
	second, _, _, err := write(objectstore.Conditions{GenerationMatch: first.Generation}, 3)
	if err != nil {
		t.Fatalf("multipart write at the current generation: %v", err)
	}
	if second.Generation <= first.Generation || second.Token == first.Token {
		t.Errorf("multipart rewrite: %+v after %+v", second, first)
	}
	if _, _, _, err := write(objectstore.Conditions{GenerationMatch: first.Generation}, 4); !errors.Is(err, objectstore.ErrPreconditionFailed) {
		t.Errorf("multipart write at a stale generation: got %v, want ErrPreconditionFailed", err)
	}

	// Abandoned in the middle: nothing visible, no upload left.
	w, err := s.NewWriter(ctx, "backups/big/abandoned.tar.gz", objectstore.Conditions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(make([]byte, 12<<20)); err != nil {
		t.Fatal(err)
	}
	w.Abort()
	if _, err := s.Attrs(ctx, "backups/big/abandoned.tar.gz"); !errors.Is(err, objectstore.ErrNotFound) {
		t.Errorf("aborted multipart upload is visible: %v", err)
	}
	if n := openUploads(t, srv, "multipart"); n != 0 {
		t.Errorf("%d multipart uploads left after failed and aborted writes", n)
	}
}

// Creates racing as multipart uploads: every one passes the early check,
// and If-None-Match on CompleteMultipartUpload lets exactly one win.
func TestS3ConcurrentMultipartCreate(t *testing.T) {
	srv := s3test.Start(t)
	s := s3Store(t, srv, "race")
	const n = 4
	part := make([]byte, 6<<20) // more than one part
	var ready, wg sync.WaitGroup
	ready.Add(n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w, err := s.NewWriter(context.Background(), "backups/race/race.tar.gz", objectstore.Conditions{DoesNotExist: true})
			if err != nil {
				errs[i] = err
				ready.Done()
				return
			}
			_, errs[i] = w.Write(part)
			ready.Done()
			ready.Wait() // all have started their uploads before any completes
			if errs[i] != nil {
				w.Abort()
				return
			}
			errs[i] = w.Close()
		}()
	}
	wg.Wait()
	wins := 0
	for _, err := range errs {
		switch {
		case err == nil:
			wins++
		case !errors.Is(err, objectstore.ErrPreconditionFailed):
			t.Errorf("racing create: unexpected error %v", err)
		}
	}
	if wins != 1 {
		t.Errorf("%d of %d racing multipart creates succeeded, want exactly 1", wins, n)
	}
	if n := openUploads(t, srv, "race"); n != 0 {
		t.Errorf("%d multipart uploads left after the race", n)
	}
}

// An object written by another tool carries no Ark generation: one is
// derived from its modification time, and a conditional write on it works.
func TestS3ObjectWithoutGeneration(t *testing.T) {
	srv := s3test.Start(t)
	s := s3Store(t, srv, "foreign")
	ctx := context.Background()
	if _, err := srv.Client().PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("foreign"), Key: aws.String("ark/backups/old/ark-backup.json"), Body: strings.NewReader("{}")}); err != nil {
		t.Fatal(err)
	}
	a, err := s.Attrs(ctx, "backups/old/ark-backup.json")
	if err != nil || a.Generation == 0 {
		t.Fatalf("attrs of a foreign object: %+v, %v", a, err)
	}
	b, err := objectstore.PutBytes(ctx, s, "backups/old/ark-backup.json", []byte(`{"v":2}`), objectstore.Conditions{GenerationMatch: a.Generation})
	if err != nil {
		t.Fatalf("conditional write over a foreign object: %v", err)
	}
	if b.Generation <= a.Generation {
		t.Errorf("generation went back: %d after %d", b.Generation, a.Generation)
	}
}

// Open takes s3:// locations with options in the query and credentials
// from the AWS environment.
func TestOpenS3Location(t *testing.T) {
	srv := s3test.Start(t)
	srv.CreateBucket(t, "located")
	t.Setenv("AWS_ACCESS_KEY_ID", srv.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", srv.SecretKey)
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_CONFIG_FILE", "/nonexistent")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
	ctx := context.Background()
	s, err := objectstore.Open(ctx, "s3://located/ark/cluster-a?region=us-east-1&forcePathStyle=true&endpoint="+srv.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if !strings.HasPrefix(s.String(), "s3://located/ark/cluster-a") || !strings.Contains(s.String(), "127.0.0.1") {
		t.Errorf("String() = %q", s.String())
	}
	if _, err := objectstore.PutBytes(ctx, s, "backups/a/ark-backup.json", []byte("{}"), objectstore.Conditions{DoesNotExist: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Client().HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("located"), Key: aws.String("ark/cluster-a/backups/a/ark-backup.json")}); err != nil {
		t.Errorf("the object is not under the location's prefix: %v", err)
	}
}

// Keys with characters that URL encoding and XML treat specially list back
// as written, whether or not the server URL-encodes the listing (AWS does,
// versitygw does not).
func TestS3ListSpecialCharacters(t *testing.T) {
	srv := s3test.Start(t)
	s := s3Store(t, srv, "special")
	ctx := context.Background()
	keys := []string{"a/amp&lt<>\"'", "a/pct%41x", "a/plus+sign", "a/space here", "a/ünïcode"}
	for _, k := range keys {
		if _, err := objectstore.PutBytes(ctx, s, k, []byte("x"), objectstore.Conditions{}); err != nil {
			t.Fatalf("put %q: %v", k, err)
		}
	}
	page, err := s.List(ctx, objectstore.ListOptions{Prefix: "a/"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, o := range page.Objects {
		got = append(got, o.Key)
	}
	if strings.Join(got, "|") != strings.Join(keys, "|") {
		t.Errorf("listed %q, want %q", got, keys)
	}
}
