package objectstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"cloud.google.com/go/storage"
	gax "github.com/googleapis/gax-go/v2"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/iterator"
	"google.golang.org/api/option"
)

// GCSStore is a backup location in a Google Cloud Storage bucket, under an
// optional prefix. GCS object generations and its ifGenerationMatch /
// ifGenerationMatch=0 preconditions give Ark compare-and-swap natively.
type GCSStore struct {
	// StallTimeout cancels an upload when one Write or Close makes no
	// progress for this long. The client library retries failed uploads until
	// their context ends, which would turn an unreachable bucket into a hung
	// request instead of an error. Default 30s.
	StallTimeout time.Duration
	// PubsubSubscription, when set, is the Pub/Sub subscription
	// (projects/PROJECT/subscriptions/ID) the bucket's object notifications
	// reach, which Notify receives from. Unset, Notify refuses and the
	// bucket is polled.
	PubsubSubscription string

	// pubsubOpts are the options the store's client was made with (its
	// credential), for the Pub/Sub client, which must act as the same
	// identity.
	pubsubOpts []option.ClientOption

	client     *storage.Client
	ownsClient bool
	bucket     *storage.BucketHandle
	name       string
	prefix     string // "" or ends with "/"
}

var _ Store = &GCSStore{}

// OpenGCS connects with Application Default Credentials (or to the emulator
// named by STORAGE_EMULATOR_HOST, which the client library honours itself).
// opts (a credential) also serve Notify's Pub/Sub client, so that both act
// as the same identity.
func OpenGCS(ctx context.Context, bucket, prefix string, opts ...option.ClientOption) (*GCSStore, error) {
	pubsubOpts := slices.Clone(opts)
	if os.Getenv("STORAGE_EMULATOR_HOST") != "" {
		// Emulators serve the JSON API; the default XML reads would miss them.
		opts = append(opts, storage.WithJSONReads())
	}
	client, err := storage.NewClient(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("creating GCS client for gs://%s: %w", bucket, err)
	}
	s := NewGCSStore(client, bucket, prefix)
	s.ownsClient = true
	s.pubsubOpts = pubsubOpts
	return s, nil
}

// NewGCSStore uses an existing client; the caller keeps ownership of it.
func NewGCSStore(client *storage.Client, bucket, prefix string) *GCSStore {
	prefix = strings.Trim(prefix, "/")
	if prefix != "" {
		prefix += "/"
	}
	// A few quick retries, not the library's default of retrying until the
	// context ends: an unreachable bucket must surface as an error in seconds.
	handle := client.Bucket(bucket).Retryer(
		storage.WithMaxAttempts(gcsMaxAttempts),
		storage.WithBackoff(gax.Backoff{Initial: 100 * time.Millisecond, Max: time.Second, Multiplier: 2}),
	)
	return &GCSStore{StallTimeout: 30 * time.Second, client: client, bucket: handle, name: bucket, prefix: prefix}
}

// gcsMaxAttempts bounds the tries of one GCS call.
const gcsMaxAttempts = 3

// String returns the location's URL.
func (s *GCSStore) String() string {
	return "gs://" + s.name + "/" + strings.TrimSuffix(s.prefix, "/")
}

// Close closes the client if the store created it.
func (s *GCSStore) Close() error {
	if s.ownsClient {
		return s.client.Close()
	}
	return nil
}

// object returns the handle for key. GCS would store many keys that other
// backends cannot (empty segments, long segments), and Ark refuses them here
// too, so a GCS location can be copied to any other backend. The store's prefix
// is part of the object name, so it counts toward GCS's limit of MaxKeyBytes.
// Refusing up front gives ErrInvalidKey instead of an HTTP 400 after the
// upload.
func (s *GCSStore) object(key string) (*storage.ObjectHandle, error) {
	if err := CheckKey(key); err != nil {
		return nil, err
	}
	if n := len(s.prefix) + len(key); n > MaxKeyBytes {
		return nil, fmt.Errorf("%w: %s with the location's prefix %q is an object name of %d bytes, more than the %d bytes an object key may have",
			ErrInvalidKey, quoteKey(key), s.prefix, n, MaxKeyBytes)
	}
	return s.bucket.Object(s.prefix + key), nil
}

func (s *GCSStore) mapErr(key string, err error) error {
	if errors.Is(err, storage.ErrObjectNotExist) {
		return fmt.Errorf("%s: %w", key, ErrNotFound)
	}
	var gerr *googleapi.Error
	if errors.As(err, &gerr) {
		switch gerr.Code {
		case http.StatusNotFound:
			if errors.Is(err, storage.ErrBucketNotExist) || strings.Contains(strings.ToLower(gerr.Message), "bucket") {
				return fmt.Errorf("backup location %s: bucket does not exist: %w", s, err)
			}
			return fmt.Errorf("%s: %w", key, ErrNotFound)
		case http.StatusPreconditionFailed:
			return fmt.Errorf("%s: %w", key, ErrPreconditionFailed)
		}
	}
	if errors.Is(err, storage.ErrBucketNotExist) {
		return fmt.Errorf("backup location %s: bucket does not exist: %w", s, err)
	}
	return fmt.Errorf("backup location %s: %w", s, err)
}

func (s *GCSStore) attrs(a *storage.ObjectAttrs) ObjectAttrs {
	return ObjectAttrs{Key: strings.TrimPrefix(a.Name, s.prefix), Size: a.Size, Generation: a.Generation, Updated: a.Updated, Token: strconv.FormatInt(a.Generation, 10)}
}

// Attrs reads the object's metadata.
func (s *GCSStore) Attrs(ctx context.Context, key string) (ObjectAttrs, error) {
	o, err := s.object(key)
	if err != nil {
		return ObjectAttrs{}, err
	}
	a, err := o.Attrs(ctx)
	if err != nil {
		return ObjectAttrs{}, s.mapErr(key, err)
	}
	return s.attrs(a), nil
}

// NewReader streams the object.
func (s *GCSStore) NewReader(ctx context.Context, key string) (io.ReadCloser, ObjectAttrs, error) {
	o, err := s.object(key)
	if err != nil {
		return nil, ObjectAttrs{}, err
	}
	r, err := o.NewReader(ctx)
	if err != nil {
		return nil, ObjectAttrs{}, s.mapErr(key, err)
	}
	return r, ObjectAttrs{Key: key, Size: r.Attrs.Size, Generation: r.Attrs.Generation, Updated: r.Attrs.LastModified, Token: strconv.FormatInt(r.Attrs.Generation, 10)}, nil
}

// NewWriter streams an upload; cancelling its context on Abort makes GCS
// discard the partial object.
func (s *GCSStore) NewWriter(ctx context.Context, key string, cond Conditions) (Writer, error) {
	o, err := s.object(key)
	if err != nil {
		return nil, err
	}
	if c, ok := gcsConditions(cond); ok {
		o = o.If(c)
	}
	ctx, cancel := context.WithCancel(ctx)
	w := o.NewWriter(ctx)
	w.ChunkSize = 8 << 20
	return &gcsWriter{store: s, key: key, w: w, cancel: cancel}, nil
}

func gcsConditions(cond Conditions) (storage.Conditions, bool) {
	switch {
	case cond.DoesNotExist:
		return storage.Conditions{DoesNotExist: true}, true
	case cond.GenerationMatch != 0:
		return storage.Conditions{GenerationMatch: cond.GenerationMatch}, true
	}
	return storage.Conditions{}, false
}

type gcsWriter struct {
	store  *GCSStore
	key    string
	w      *storage.Writer
	cancel context.CancelFunc
	done   bool
	attrs  ObjectAttrs
}

// guard runs one blocking writer call, cancelling the upload if it stalls.
func (w *gcsWriter) guard(call func() error) error {
	var stalled atomic.Bool
	timer := time.AfterFunc(w.store.StallTimeout, func() { stalled.Store(true); w.cancel() })
	err := call()
	timer.Stop()
	if stalled.Load() && err != nil {
		return fmt.Errorf("backup location %s: upload of %s made no progress for %s: %w", w.store, w.key, w.store.StallTimeout, err)
	}
	if err != nil {
		return w.store.mapErr(w.key, err)
	}
	return nil
}

func (w *gcsWriter) Write(p []byte) (int, error) {
	var n int
	err := w.guard(func() (err error) {
		n, err = w.w.Write(p)
		return err
	})
	return n, err
}

func (w *gcsWriter) Close() error {
	if w.done {
		return errors.New("writer already closed")
	}
	w.done = true
	defer w.cancel()
	if err := w.guard(w.w.Close); err != nil {
		return err
	}
	w.attrs = w.store.attrs(w.w.Attrs())
	return nil
}

func (w *gcsWriter) Abort() {
	if w.done {
		return
	}
	w.done = true
	w.cancel()
	_ = w.w.Close() // returns the cancellation; nothing was committed
}

func (w *gcsWriter) Attrs() ObjectAttrs { return w.attrs }

// List returns one page using the GCS page token as ours.
func (s *GCSStore) List(ctx context.Context, opts ListOptions) (ListPage, error) {
	limit := opts.Limit
	if limit <= 0 {
		limit = DefaultPageSize
	}
	if err := checkListOptions(opts); err != nil {
		return ListPage{}, fmt.Errorf("backup location %s: %w", s, err)
	}
	q := &storage.Query{Prefix: s.prefix + opts.Prefix, Delimiter: opts.Delimiter}
	if opts.Name != "" && !strings.ContainsAny(opts.Name, `*?[]{}\,!`) {
		// GCS filters by the glob before paging, so a page holds up to
		// limit matches and a poll costs a call per limit backups.
		q.MatchGlob = "**/" + opts.Name
	}
	if err := q.SetAttrSelection([]string{"Name", "Size", "Generation", "Updated"}); err != nil {
		return ListPage{}, err
	}
	it := s.bucket.Objects(ctx, q)
	var attrs []*storage.ObjectAttrs
	next, err := iterator.NewPager(it, limit, opts.PageToken).NextPage(&attrs)
	if err != nil {
		return ListPage{}, s.mapErr(opts.Prefix, err)
	}
	page := ListPage{NextPageToken: next}
	for _, a := range attrs {
		if a.Prefix != "" {
			page.Prefixes = append(page.Prefixes, strings.TrimPrefix(a.Prefix, s.prefix))
			continue
		}
		if o := s.attrs(a); matchesName(o.Key, opts.Name) {
			page.Objects = append(page.Objects, o)
		}
	}
	return page, nil
}

// Delete removes the object under conditions.
func (s *GCSStore) Delete(ctx context.Context, key string, cond Conditions) error {
	o, err := s.object(key)
	if err != nil {
		return err
	}
	if c, ok := gcsConditions(cond); ok {
		if cond.DoesNotExist {
			return fmt.Errorf("%s: delete cannot require absence: %w", key, ErrPreconditionFailed)
		}
		o = o.If(c)
	}
	if err := o.Delete(ctx); err != nil {
		return s.mapErr(key, err)
	}
	return nil
}
