package objectstore

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"k8s.io/klog/v2"
)

// S3Store is a backup location in an S3 bucket (AWS or any S3-compatible
// server: MinIO, Ceph, SeaweedFS, versitygw), under an optional prefix.
//
// S3 has no generation numbers, so Ark keeps its own in each object's user
// metadata (x-amz-meta-ark-generation). Every write sets it to
// max(previous+1, now in microseconds), so it changes on every write and
// does not go back, across a delete and re-create too as long as the
// writers' clocks do not. Compare-and-swap rests on S3's conditional writes,
// which check the ETag atomically: a write that requires a generation reads
// the object's metadata, checks the generation and writes with If-Match on
// the ETag it read; a create writes with If-None-Match: *. Both hold for
// multipart uploads too, whose CompleteMultipartUpload carries the
// condition. Because ETags follow content, an object rewritten with the same
// bytes in between still matches: the swap then replaces identical content,
// which loses nothing.
//
// ListObjectsV2 returns no user metadata, so List leaves Generation 0 and
// gives the ETag as ObjectAttrs.Token; Attrs, NewReader and writers give both.
type S3Store struct {
	client   *s3.Client
	bucket   string
	prefix   string // "" or ends with "/"
	endpoint string // for String: which server, when not AWS's
	partSize int64
	sse      types.ServerSideEncryption // sent with every object written
	kmsKeyID *string
	now      func() time.Time
}

var _ Store = &S3Store{}

// S3Options configure an S3 location. A location's config keys set them
// (see CheckLocationConfig).
type S3Options struct {
	// Region of the bucket; empty takes the AWS configuration's (AWS_REGION,
	// the config file), else us-east-1, which S3-compatible servers accept.
	Region string
	// Endpoint is the base URL of an S3-compatible server (MinIO, Ceph,
	// SeaweedFS, versitygw); empty means AWS.
	Endpoint string
	// ForcePathStyle addresses the bucket in the path (https://host/bucket)
	// rather than as a host name (https://bucket.host), as most S3-compatible
	// servers need.
	ForcePathStyle bool
	// InsecureSkipTLSVerify accepts any server certificate: for test servers
	// with self-signed certificates only.
	InsecureSkipTLSVerify bool
	// CACert is PEM text of certificates to trust, besides the system's,
	// for the server's TLS certificate (an Endpoint with a private CA).
	CACert []byte
	// ServerSideEncryption is sent with every object written: AES256,
	// aws:kms or aws:kms:dsse; empty sends none (the bucket's default applies).
	ServerSideEncryption string
	// KMSKeyID is the KMS key of aws:kms encryption; empty is the account's
	// default key.
	KMSKeyID string
	// Profile is the profile of the AWS shared config and credentials files
	// the standard chain reads when Credentials is nil; empty is AWS_PROFILE's,
	// else "default".
	Profile string
	// Credentials, when nil, come from the standard AWS chain: environment
	// (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY), shared files, web identity,
	// container and instance roles.
	Credentials aws.CredentialsProvider
	// PartSize is the size of one part of a multipart upload, and so the
	// memory one writer buffers (twice: one part uploads while the next
	// fills); 0 means 8 MiB. S3 requires at least 5 MiB. Objects that fit in
	// one part are written with a single PUT.
	PartSize int64
}

const (
	// s3GenerationMeta is the user metadata key of Ark's generation
	// (x-amz-meta-ark-generation on the wire).
	s3GenerationMeta  = "ark-generation"
	s3DefaultPartSize = 8 << 20
	s3MinPartSize     = 5 << 20
	// s3MaxParts is S3's limit on the parts of one upload. Part sizes double
	// every s3PartsPerSize parts, so an upload with 8 MiB parts can reach
	// about 480 GiB, and buffers stay small for the common small objects.
	s3MaxParts     = 10000
	s3PartsPerSize = 2000
	// s3MaxAttempts bounds the tries of one S3 call: 5xx, 429 and connection
	// errors are retried a few times with backoff, then reported, so an
	// unreachable bucket is an error in seconds rather than a hung request.
	s3MaxAttempts = 3
	s3MaxBackoff  = time.Second
	// s3AbortTimeout bounds the clean-up of an abandoned multipart upload,
	// which runs even when the writer's context has ended.
	s3AbortTimeout = 30 * time.Second
)

// OpenS3 connects to bucket with the AWS SDK's standard configuration
// (environment, shared config files) and opts on top of it.
func OpenS3(ctx context.Context, bucket, prefix string, opts S3Options) (*S3Store, error) {
	loaders := []func(*config.LoadOptions) error{
		config.WithRetryer(func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.MaxAttempts = s3MaxAttempts
				o.MaxBackoff = s3MaxBackoff
				// The attempts are bounded already; a shared retry budget
				// would only turn one outage into odd errors later.
				o.RateLimiter = ratelimit.None
			})
		}),
	}
	if opts.Region != "" {
		loaders = append(loaders, config.WithRegion(opts.Region))
	}
	if opts.Credentials != nil {
		loaders = append(loaders, config.WithCredentialsProvider(opts.Credentials))
	}
	if opts.Profile != "" && opts.Credentials == nil {
		loaders = append(loaders, config.WithSharedConfigProfile(opts.Profile))
	}
	if err := checkS3Encryption(opts.ServerSideEncryption, opts.KMSKeyID); err != nil {
		return nil, fmt.Errorf("s3://%s: %w", bucket, err)
	}
	if opts.InsecureSkipTLSVerify || len(opts.CACert) > 0 {
		var roots *x509.CertPool
		if len(opts.CACert) > 0 {
			var err error
			if roots, err = certPoolFromPEM(opts.CACert); err != nil {
				return nil, fmt.Errorf("s3://%s: the CA certificate: %w", bucket, err)
			}
		}
		loaders = append(loaders, config.WithHTTPClient(awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) {
			if tr.TLSClientConfig == nil {
				tr.TLSClientConfig = &tls.Config{}
			}
			tr.TLSClientConfig.RootCAs = roots
			tr.TLSClientConfig.InsecureSkipVerify = opts.InsecureSkipTLSVerify //nolint:gosec // asked for by the location, for test servers
		})))
	}
	cfg, err := config.LoadDefaultConfig(ctx, loaders...)
	if err != nil {
		return nil, fmt.Errorf("loading the AWS configuration for s3://%s: %w", bucket, err)
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	client := s3.NewFromConfig(cfg, func(o *s3.Options) {
		if opts.Endpoint != "" {
			o.BaseEndpoint = aws.String(opts.Endpoint)
		}
		o.UsePathStyle = opts.ForcePathStyle
	})
	s := NewS3Store(client, bucket, prefix)
	s.endpoint = opts.Endpoint
	s.sse = types.ServerSideEncryption(opts.ServerSideEncryption)
	if opts.KMSKeyID != "" {
		s.kmsKeyID = aws.String(opts.KMSKeyID)
	}
	if opts.PartSize != 0 {
		if opts.PartSize < s3MinPartSize {
			return nil, fmt.Errorf("s3://%s: part size %d is below S3's minimum of %d bytes", bucket, opts.PartSize, s3MinPartSize)
		}
		s.partSize = opts.PartSize
	}
	return s, nil
}

// NewS3Store uses an existing client.
func NewS3Store(client *s3.Client, bucket, prefix string) *S3Store {
	prefix = strings.Trim(prefix, "/")
	if prefix != "" {
		prefix += "/"
	}
	return &S3Store{client: client, bucket: bucket, prefix: prefix, partSize: s3DefaultPartSize, now: time.Now}
}

// String returns the location's URL, with the endpoint when it is not AWS.
func (s *S3Store) String() string {
	u := "s3://" + s.bucket + "/" + strings.TrimSuffix(s.prefix, "/")
	if s.endpoint != "" {
		u += "?s3Url=" + s.endpoint
	}
	return u
}

// Close releases nothing: the SDK's client holds only idle connections.
func (s *S3Store) Close() error { return nil }

// name returns the object key for key. As with GCS, keys other backends
// cannot store are refused here too, and the prefix counts toward S3's
// limit of MaxKeyBytes on a key.
func (s *S3Store) name(key string) (string, error) {
	if err := CheckKey(key); err != nil {
		return "", err
	}
	if n := len(s.prefix) + len(key); n > MaxKeyBytes {
		return "", fmt.Errorf("%w: %s with the location's prefix %q is an object key of %d bytes, more than the %d bytes an object key may have",
			ErrInvalidKey, quoteKey(key), s.prefix, n, MaxKeyBytes)
	}
	return s.prefix + key, nil
}

// mapErr turns an SDK error about key into the store's errors, always naming
// the location for anything but a missing object or a failed precondition.
func (s *S3Store) mapErr(key string, err error) error {
	var code string
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		code = apiErr.ErrorCode()
	}
	status := 0
	var respErr *awshttp.ResponseError
	if errors.As(err, &respErr) {
		status = respErr.HTTPStatusCode()
	}
	switch {
	case code == "NoSuchBucket":
		return fmt.Errorf("backup location %s: bucket does not exist: %w", s, err)
	case code == "NoSuchKey" || code == "NotFound" || status == http.StatusNotFound:
		// A HEAD answers a missing bucket with the same bare 404 as a
		// missing key; the listing, which every poll makes, tells them apart.
		return fmt.Errorf("%s: %w", key, ErrNotFound)
	case code == "PreconditionFailed" || status == http.StatusPreconditionFailed,
		// AWS answers 409 to a conditional write that raced another one.
		code == "ConditionalRequestConflict":
		return fmt.Errorf("%s: %w", key, ErrPreconditionFailed)
	case status == http.StatusForbidden || code == "AccessDenied" || code == "InvalidAccessKeyId" || code == "SignatureDoesNotMatch":
		return fmt.Errorf("backup location %s: access denied, check the credentials (the location's credential, else AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY or the role) and the bucket's policy: %w", s, err)
	}
	var certErr *tls.CertificateVerificationError
	if errors.As(err, &certErr) {
		return fmt.Errorf("backup location %s: the server's TLS certificate is not trusted (give its CA as config caCert, or insecureSkipTLSVerify for a test server): %w", s, err)
	}
	return fmt.Errorf("backup location %s: %w", s, err)
}

// etagToken is the change token of an object with this ETag: the ETag
// without its quotes, which some servers leave off in listings.
func etagToken(etag *string) string {
	return strings.Trim(aws.ToString(etag), `"`)
}

// generationOf reads Ark's generation from an object's metadata. An object
// written by another tool has none; its modification time in microseconds
// stands in, non-zero and changed by the next write (which Ark's If-Match
// on the ETag makes safe even when two writes share a second).
func generationOf(meta map[string]string, modified *time.Time) int64 {
	if v, ok := meta[s3GenerationMeta]; ok {
		if g, err := strconv.ParseInt(v, 10, 64); err == nil && g > 0 {
			return g
		}
	}
	if modified != nil && modified.UnixMicro() > 0 {
		return modified.UnixMicro()
	}
	return 1
}

// Attrs reads the object's metadata with a HEAD.
func (s *S3Store) Attrs(ctx context.Context, key string) (ObjectAttrs, error) {
	name, err := s.name(key)
	if err != nil {
		return ObjectAttrs{}, err
	}
	a, _, err := s.head(ctx, key, name)
	return a, err
}

// head is Attrs with the raw ETag, which conditions send back.
func (s *S3Store) head(ctx context.Context, key, name string) (ObjectAttrs, *string, error) {
	out, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &s.bucket, Key: &name})
	if err != nil {
		return ObjectAttrs{}, nil, s.mapErr(key, err)
	}
	return ObjectAttrs{
		Key:        key,
		Size:       aws.ToInt64(out.ContentLength),
		Generation: generationOf(out.Metadata, out.LastModified),
		Updated:    aws.ToTime(out.LastModified),
		Token:      etagToken(out.ETag),
	}, out.ETag, nil
}

// NewReader streams the object.
func (s *S3Store) NewReader(ctx context.Context, key string) (io.ReadCloser, ObjectAttrs, error) {
	name, err := s.name(key)
	if err != nil {
		return nil, ObjectAttrs{}, err
	}
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: &s.bucket, Key: &name})
	if err != nil {
		return nil, ObjectAttrs{}, s.mapErr(key, err)
	}
	return out.Body, ObjectAttrs{
		Key:        key,
		Size:       aws.ToInt64(out.ContentLength),
		Generation: generationOf(out.Metadata, out.LastModified),
		Updated:    aws.ToTime(out.LastModified),
		Token:      etagToken(out.ETag),
	}, nil
}

// List returns one page of ListObjectsV2, whose continuation token is ours.
// S3 counts common prefixes toward MaxKeys as we count them toward Limit.
// Keys come URL-encoded, since XML cannot carry every byte a key may hold.
func (s *S3Store) List(ctx context.Context, opts ListOptions) (ListPage, error) {
	limit := opts.Limit
	if limit <= 0 {
		limit = DefaultPageSize
	}
	if err := checkListOptions(opts); err != nil {
		return ListPage{}, fmt.Errorf("backup location %s: %w", s, err)
	}
	in := &s3.ListObjectsV2Input{
		Bucket:       &s.bucket,
		Prefix:       aws.String(s.prefix + opts.Prefix),
		MaxKeys:      aws.Int32(int32(min(limit, DefaultPageSize))),
		EncodingType: types.EncodingTypeUrl,
	}
	if opts.Delimiter != "" {
		in.Delimiter = aws.String(opts.Delimiter)
	}
	if opts.PageToken != "" {
		in.ContinuationToken = aws.String(opts.PageToken)
	}
	out, err := s.client.ListObjectsV2(ctx, in)
	if err != nil {
		return ListPage{}, s.mapErr(opts.Prefix, err)
	}
	decode := func(k *string) (string, error) {
		if out.EncodingType != types.EncodingTypeUrl {
			return aws.ToString(k), nil
		}
		return url.QueryUnescape(aws.ToString(k))
	}
	var page ListPage
	for _, o := range out.Contents {
		k, err := decode(o.Key)
		if err != nil {
			return ListPage{}, fmt.Errorf("backup location %s: listing returned an undecodable key %q: %w", s, aws.ToString(o.Key), err)
		}
		if !matchesName(k, opts.Name) {
			continue // S3 lists no filter but a prefix
		}
		page.Objects = append(page.Objects, ObjectAttrs{
			Key:     strings.TrimPrefix(k, s.prefix),
			Size:    aws.ToInt64(o.Size),
			Updated: aws.ToTime(o.LastModified),
			Token:   etagToken(o.ETag),
		})
	}
	for _, p := range out.CommonPrefixes {
		k, err := decode(p.Prefix)
		if err != nil {
			return ListPage{}, fmt.Errorf("backup location %s: listing returned an undecodable prefix %q: %w", s, aws.ToString(p.Prefix), err)
		}
		page.Prefixes = append(page.Prefixes, strings.TrimPrefix(k, s.prefix))
	}
	if aws.ToBool(out.IsTruncated) {
		page.NextPageToken = aws.ToString(out.NextContinuationToken)
	}
	return page, nil
}

// Delete removes the object under conditions. S3 deletes are idempotent, so
// a HEAD first tells a missing key (ErrNotFound) and checks the generation;
// the delete then carries If-Match on the ETag read, which AWS and servers
// that support conditional deletes (versitygw does) check atomically. A
// server that ignores If-Match on DELETE leaves a window between the HEAD
// and the DELETE in which a write by someone else would be deleted.
func (s *S3Store) Delete(ctx context.Context, key string, cond Conditions) error {
	name, err := s.name(key)
	if err != nil {
		return err
	}
	if cond.DoesNotExist {
		return fmt.Errorf("%s: delete cannot require absence: %w", key, ErrPreconditionFailed)
	}
	cur, etag, err := s.head(ctx, key, name)
	if err != nil {
		return err
	}
	in := &s3.DeleteObjectInput{Bucket: &s.bucket, Key: &name}
	if cond.GenerationMatch != 0 {
		if cur.Generation != cond.GenerationMatch {
			return fmt.Errorf("%s is at generation %d, not %d: %w", key, cur.Generation, cond.GenerationMatch, ErrPreconditionFailed)
		}
		in.IfMatch = etag
	}
	if _, err := s.client.DeleteObject(ctx, in); err != nil {
		return s.mapErr(key, err)
	}
	return nil
}

// NewWriter starts a write. Nothing is sent until the data outgrows one part
// or the writer closes; see s3Writer.
func (s *S3Store) NewWriter(ctx context.Context, key string, cond Conditions) (Writer, error) {
	name, err := s.name(key)
	if err != nil {
		return nil, err
	}
	return &s3Writer{s: s, ctx: ctx, key: key, name: name, cond: cond}, nil
}

// s3Writer buffers up to one part. An object that fits is written with one
// PutObject at Close; a larger one becomes a multipart upload whose parts
// upload one at a time in the background while the next part fills, so a
// writer holds at most two parts in memory. The upload is aborted on Abort
// and on any failure, so its parts do not linger (and cost) in the bucket.
//
// The SDK's transfer managers are not used: feature/s3/manager is deprecated
// and does not pass If-Match / If-None-Match to CompleteMultipartUpload, its
// successor is not yet at 1.0, and both read from an io.Reader, which would
// need a pipe and a goroutine in front of them anyway.
type s3Writer struct {
	s         *S3Store
	ctx       context.Context
	key, name string
	cond      Conditions

	prepared bool
	gen      int64
	ifMatch  *string // the ETag a GenerationMatch write requires

	buf   []byte
	spare []byte
	size  int64

	uploadID *string
	parts    []types.CompletedPart
	inflight chan s3PartResult // the part uploading, if any

	err   error
	done  bool
	attrs ObjectAttrs
}

type s3PartResult struct {
	part types.CompletedPart
	buf  []byte
	err  error
}

// prepare checks the write's condition where that can be done before the
// upload and decides the generation the object will have. A create needs
// no look (If-None-Match: * decides) unless a multipart upload is about to
// begin: then a HEAD fails it before gigabytes move.
func (w *s3Writer) prepare(early bool) error {
	if w.prepared {
		return nil
	}
	now := w.s.now().UnixMicro()
	if w.cond.DoesNotExist && !early {
		w.gen, w.prepared = now, true
		return nil
	}
	gen, ifMatch, err := planWrite(w.key, w.cond, now, func() (ObjectAttrs, *string, error) { return w.s.head(w.ctx, w.key, w.name) })
	if err != nil {
		return err
	}
	w.gen = gen
	if ifMatch != nil {
		w.ifMatch = *ifMatch
	}
	w.prepared = true
	return nil
}

func (w *s3Writer) ifNoneMatch() *string {
	if w.cond.DoesNotExist {
		return aws.String("*")
	}
	return nil
}

func (w *s3Writer) metadata() map[string]string {
	return map[string]string{s3GenerationMeta: strconv.FormatInt(w.gen, 10)}
}

// partSize is the size of part n (from 1): it doubles every s3PartsPerSize
// parts so that S3's limit of s3MaxParts parts is not what limits a backup.
func (w *s3Writer) partSize(n int) int64 {
	return w.s.partSize << min((n-1)/s3PartsPerSize, 4)
}

func (w *s3Writer) Write(p []byte) (int, error) {
	if w.done {
		return 0, errors.New("write to a closed writer")
	}
	if w.err != nil {
		return 0, w.err
	}
	written := 0
	for len(p) > 0 {
		if w.buf == nil {
			w.buf = w.newBuffer(len(w.parts) + w.pending() + 1)
		}
		if len(w.buf) == cap(w.buf) {
			// Full, and more is coming: this is not the last part.
			if err := w.sendPart(); err != nil {
				w.err = err
				return written, err
			}
			continue
		}
		n := copy(w.buf[len(w.buf):cap(w.buf)], p)
		w.buf = w.buf[:len(w.buf)+n]
		p = p[n:]
		written += n
		w.size += int64(n)
	}
	return written, nil
}

func (w *s3Writer) pending() int {
	if w.inflight != nil {
		return 1
	}
	return 0
}

// newBuffer returns an empty buffer for part n, reusing the spare one.
func (w *s3Writer) newBuffer(n int) []byte {
	size := w.partSize(n)
	if w.spare != nil && int64(cap(w.spare)) >= size {
		b := w.spare[:0]
		w.spare = nil
		return b[:0:size]
	}
	return make([]byte, 0, size)
}

// sendPart starts the multipart upload if needed, waits for the previous
// part, and uploads the buffer in the background.
func (w *s3Writer) sendPart() error {
	if w.uploadID == nil {
		if err := w.prepare(true); err != nil {
			return err
		}
		out, err := w.s.client.CreateMultipartUpload(w.ctx, &s3.CreateMultipartUploadInput{
			Bucket:               &w.s.bucket,
			Key:                  &w.name,
			Metadata:             w.metadata(),
			ChecksumAlgorithm:    types.ChecksumAlgorithmCrc32,
			ServerSideEncryption: w.s.sse,
			SSEKMSKeyId:          w.s.kmsKeyID,
		})
		if err != nil {
			return w.s.mapErr(w.key, err)
		}
		w.uploadID = out.UploadId
		klog.V(4).InfoS("Started multipart upload", "location", w.s, "key", w.key, "generation", w.gen)
	}
	if err := w.wait(); err != nil {
		return err
	}
	n := len(w.parts) + 1
	if n > s3MaxParts {
		return fmt.Errorf("backup location %s: %s is larger than %d parts can hold", w.s, w.key, s3MaxParts)
	}
	buf := w.buf
	w.buf = nil
	done := make(chan s3PartResult, 1)
	w.inflight = done
	go func() {
		out, err := w.s.client.UploadPart(w.ctx, &s3.UploadPartInput{
			Bucket:            &w.s.bucket,
			Key:               &w.name,
			UploadId:          w.uploadID,
			PartNumber:        aws.Int32(int32(n)),
			Body:              bytes.NewReader(buf),
			ContentLength:     aws.Int64(int64(len(buf))),
			ChecksumAlgorithm: types.ChecksumAlgorithmCrc32,
		})
		if err != nil {
			done <- s3PartResult{buf: buf, err: w.s.mapErr(w.key, err)}
			return
		}
		done <- s3PartResult{buf: buf, part: types.CompletedPart{
			PartNumber:    aws.Int32(int32(n)),
			ETag:          out.ETag,
			ChecksumCRC32: out.ChecksumCRC32,
		}}
	}()
	return nil
}

// wait waits for the part in flight and keeps its buffer for the next one.
func (w *s3Writer) wait() error {
	if w.inflight == nil {
		return nil
	}
	r := <-w.inflight
	w.inflight = nil
	w.spare = r.buf
	if r.err != nil {
		return r.err
	}
	w.parts = append(w.parts, r.part)
	return nil
}

// Close commits the object: one conditional PutObject, or the last part
// and a conditional CompleteMultipartUpload.
func (w *s3Writer) Close() error {
	if w.done {
		return errors.New("writer already closed")
	}
	if w.err != nil {
		w.Abort()
		return w.err
	}
	var etag *string
	if w.uploadID == nil {
		if err := w.prepare(false); err != nil {
			w.done = true
			return err
		}
		out, err := w.s.client.PutObject(w.ctx, &s3.PutObjectInput{
			Bucket:               &w.s.bucket,
			Key:                  &w.name,
			Body:                 bytes.NewReader(w.buf),
			ContentLength:        aws.Int64(int64(len(w.buf))),
			Metadata:             w.metadata(),
			IfMatch:              w.ifMatch,
			IfNoneMatch:          w.ifNoneMatch(),
			ServerSideEncryption: w.s.sse,
			SSEKMSKeyId:          w.s.kmsKeyID,
		})
		w.done = true
		if err != nil {
			return w.conditionalErr(err)
		}
		etag = out.ETag
	} else {
		if len(w.buf) > 0 {
			if err := w.sendPart(); err != nil {
				w.Abort()
				return err
			}
		}
		if err := w.wait(); err != nil {
			w.Abort()
			return err
		}
		out, err := w.s.client.CompleteMultipartUpload(w.ctx, &s3.CompleteMultipartUploadInput{
			Bucket:          &w.s.bucket,
			Key:             &w.name,
			UploadId:        w.uploadID,
			MultipartUpload: &types.CompletedMultipartUpload{Parts: w.parts},
			IfMatch:         w.ifMatch,
			IfNoneMatch:     w.ifNoneMatch(),
		})
		if err != nil {
			w.Abort()
			return w.conditionalErr(err)
		}
		w.done = true
		etag = out.ETag
	}
	w.buf, w.spare = nil, nil
	// Neither PutObject nor CompleteMultipartUpload returns the server's
	// modification time, and a HEAD could see a later write: the local
	// clock stands in for Updated.
	w.attrs = ObjectAttrs{Key: w.key, Size: w.size, Generation: w.gen, Updated: w.s.now(), Token: etagToken(etag)}
	return nil
}

// conditionalErr maps a failed commit. S3 answers If-Match on a key that is
// gone with 404: for a conditional write that is a failed precondition.
func (w *s3Writer) conditionalErr(err error) error {
	err = w.s.mapErr(w.key, err)
	if w.ifMatch != nil && errors.Is(err, ErrNotFound) {
		return fmt.Errorf("%s was deleted: %w", w.key, ErrPreconditionFailed)
	}
	return err
}

// Abort discards the write and its multipart upload, if one was started.
func (w *s3Writer) Abort() {
	if w.done {
		return
	}
	w.done = true
	_ = w.wait()
	w.buf, w.spare = nil, nil
	if w.uploadID == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(w.ctx), s3AbortTimeout)
	defer cancel()
	if _, err := w.s.client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: &w.s.bucket, Key: &w.name, UploadId: w.uploadID}); err != nil {
		// The parts stay until a lifecycle rule removes them; the object
		// itself was never committed.
		klog.ErrorS(w.s.mapErr(w.key, err), "Aborting a multipart upload failed", "location", w.s, "key", w.key)
	}
}

func (w *s3Writer) Attrs() ObjectAttrs { return w.attrs }
