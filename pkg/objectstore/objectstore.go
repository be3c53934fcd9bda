// Package objectstore is Ark's view of a backup storage location: a flat
// namespace of keys holding byte streams, with the few primitives Ark needs to
// treat a bucket as its database — create-if-absent, writes conditional on the
// generation last read, and paged listing by prefix and delimiter. Every
// backend passes the same conformance suite (objectstoretest).
package objectstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

var (
	// ErrNotFound means the key holds no object.
	ErrNotFound = errors.New("object not found")
	// ErrPreconditionFailed means a conditional write or delete found the
	// object in another state than required: it exists where it must not, or
	// its generation changed since it was read.
	ErrPreconditionFailed = errors.New("precondition failed")
	// ErrInvalidKey means a key the backend cannot store safely.
	ErrInvalidKey = errors.New("invalid object key")
)

// Key limits. Every backend refuses keys beyond them, even a backend that could
// store more, so that a key accepted anywhere is accepted everywhere: a bucket
// can then be copied between backends, and other packages can validate a name
// once, up front (CheckKey), instead of learning about a limit from one backend
// in the middle of a backup.
const (
	// MaxKeyBytes is the longest key in bytes, the limit GCS and S3 put on an
	// object name. A backend that stores keys under a prefix counts the prefix
	// too, so its keys may be shorter.
	MaxKeyBytes = 1024
	// MaxKeySegmentBytes is the longest segment between slashes in bytes, the
	// longest file name on common file systems (NAME_MAX): the file backend
	// stores each segment as one directory entry.
	MaxKeySegmentBytes = 255
)

// CheckKey reports whether key is within the limits every backend accepts. The
// error wraps ErrInvalidKey and names the rule broken. Keys are slash-separated
// segments: no empty, "." or ".." segment, no leading or trailing slash, no NUL
// byte, no segment over MaxKeySegmentBytes and no key over MaxKeyBytes. The
// segment rules are what keeps a key from naming a path outside a file bucket;
// object stores would accept such keys but they would not survive a copy to
// a directory. Backends may refuse more (the file store reserves names).
func CheckKey(key string) error {
	switch {
	case key == "":
		return fmt.Errorf("%w: the key is empty", ErrInvalidKey)
	case len(key) > MaxKeyBytes:
		return fmt.Errorf("%w: %s is %d bytes, more than the %d bytes an object key may have", ErrInvalidKey, quoteKey(key), len(key), MaxKeyBytes)
	case strings.IndexByte(key, 0) >= 0:
		return fmt.Errorf("%w: %s contains a NUL byte", ErrInvalidKey, quoteKey(key))
	case strings.HasPrefix(key, "/"):
		return fmt.Errorf("%w: %s starts with a slash", ErrInvalidKey, quoteKey(key))
	case strings.HasSuffix(key, "/"):
		return fmt.Errorf("%w: %s ends with a slash", ErrInvalidKey, quoteKey(key))
	}
	for seg := range strings.SplitSeq(key, "/") {
		if err := checkKeySegment(seg); err != nil {
			return fmt.Errorf("%w: %s %s", ErrInvalidKey, quoteKey(key), err)
		}
	}
	return nil
}

// checkKeySegment is CheckKey's rule for one segment; the message completes
// a sentence that starts with the key.
func checkKeySegment(seg string) error {
	switch {
	case seg == "":
		return errors.New("has an empty segment")
	case seg == "." || seg == "..":
		return fmt.Errorf("has a %q segment", seg)
	case len(seg) > MaxKeySegmentBytes:
		return fmt.Errorf("has a segment of %d bytes, more than the %d bytes a segment (a file name) may have", len(seg), MaxKeySegmentBytes)
	case strings.IndexByte(seg, 0) >= 0:
		return errors.New("contains a NUL byte")
	}
	return nil
}

// quoteKey quotes a key for an error message, cut short: a refused key may be
// a kilobyte of attacker-chosen bytes, and the message ends up in logs and API
// responses.
func quoteKey(key string) string {
	const show = 64
	if len(key) <= show {
		return fmt.Sprintf("%q", key)
	}
	return fmt.Sprintf("%q...", key[:show])
}

// Janitor is implemented by backends that keep uploads in progress as local
// temporary files, which a crash (kill -9) leaves behind. The file store does;
// GCS does not need to, because the service discards an unfinished resumable
// upload by itself. Callers find it with a type assertion on a Store.
type Janitor interface {
	// RemoveAbandonedUploads removes temporary uploads that were last written
	// more than olderThan ago and that no live writer, in this process or
	// another sharing the location, still holds. It returns how many it removed.
	RemoveAbandonedUploads(ctx context.Context, olderThan time.Duration) (removed int, err error)
}

// ObjectAttrs describes a stored object.
type ObjectAttrs struct {
	// Key is the object's key relative to the store's prefix.
	Key string
	// Size in bytes.
	Size int64
	// Generation changes on every write of the key and never goes back; it is
	// the token for conditional writes. List may leave it 0 on backends whose
	// listing does not carry it (S3): read Attrs for it.
	Generation int64
	// Updated is when the object was last written.
	Updated time.Time
	// Token is an opaque change marker that every backend fills, in List too:
	// it differs whenever the object was rewritten with different content
	// (it may stay the same when the same bytes are written again), and is
	// only compared for equality, between List and Attrs or NewReader alike.
	// It exists so that a poller can tell what changed from one cheap listing
	// where the listing has no generation. GCS uses the generation in
	// decimal, S3 and Azure the ETag, and the file store the modification
	// time with the size, inode and change time (see fileToken).
	Token string
}

// Conditions make a write or delete conditional. The zero value is unconditional.
type Conditions struct {
	// DoesNotExist requires that the key holds no object.
	DoesNotExist bool
	// GenerationMatch, when non-zero, requires the object's current generation.
	GenerationMatch int64
}

// ListOptions select what List returns.
type ListOptions struct {
	// Prefix restricts the listing to keys starting with it.
	Prefix string
	// Delimiter, when set (only "/" is supported), rolls keys up to the first
	// delimiter after the prefix and returns them once as Prefixes.
	Delimiter string
	// PageToken continues a listing from ListPage.NextPageToken.
	PageToken string
	// Limit caps the entries (objects plus prefixes) of one page; 0 means 1000.
	Limit int
	// Name, when set, lists only the objects whose last key segment is
	// Name (a backup's ark-backup.json, say), so that finding one file per
	// folder does not cost a listing of every file. It cannot be combined
	// with Delimiter. Backends filter where the objects are when they can
	// (GCS with a match glob, the file store by looking only at that name
	// in each directory); the others (S3, Azure) list everything and
	// filter, so a page may then hold fewer entries than Limit, even none,
	// and still have a next page.
	Name string
}

// matchesName says whether key is listed under ListOptions.Name (every
// key is when name is empty). Backends that filter on the server check
// again: the bucket's answer is input, not trusted.
func matchesName(key, name string) bool {
	return name == "" || key == name || strings.HasSuffix(key, "/"+name)
}

// checkListOptions refuses what no backend lists.
func checkListOptions(opts ListOptions) error {
	if opts.Delimiter != "" && opts.Delimiter != "/" {
		return fmt.Errorf("only the delimiter \"/\" is supported, not %q", opts.Delimiter)
	}
	if opts.Name != "" && (opts.Delimiter != "" || strings.Contains(opts.Name, "/")) {
		return fmt.Errorf("listing by name %q needs a name without a slash and no delimiter", opts.Name)
	}
	return nil
}

// ListPage is one page of a listing, in lexicographic key order.
type ListPage struct {
	Objects  []ObjectAttrs
	Prefixes []string
	// NextPageToken is empty on the last page.
	NextPageToken string
}

// Writer streams one object into the store. Nothing is visible under the key
// until Close succeeds; Abort discards what was written.
type Writer interface {
	io.Writer
	// Close commits the object, checking the writer's conditions atomically.
	Close() error
	// Abort discards the upload. It is safe to call after Close.
	Abort()
	// Attrs describes the committed object; valid after a successful Close.
	Attrs() ObjectAttrs
}

// Store is one backup storage location.
type Store interface {
	// String names the location (its URL, without credentials) for messages.
	String() string
	// Attrs returns the attributes of the object at key.
	Attrs(ctx context.Context, key string) (ObjectAttrs, error)
	// NewReader opens the object at key for streaming.
	NewReader(ctx context.Context, key string) (io.ReadCloser, ObjectAttrs, error)
	// NewWriter starts a streaming write of key under conditions.
	NewWriter(ctx context.Context, key string, cond Conditions) (Writer, error)
	// List returns one page of the keys under opts.Prefix.
	List(ctx context.Context, opts ListOptions) (ListPage, error)
	// Delete removes the object at key under conditions.
	Delete(ctx context.Context, key string, cond Conditions) error
	// Close releases the store's resources.
	Close() error
}

// DefaultPageSize is the page size of List when none is given.
const DefaultPageSize = 1000

// Open returns the store for a location URL: file:///path, gs://bucket/prefix,
// s3://bucket/prefix?query or azure://container/prefix?query, read by
// ParseLocationURL and opened by OpenLocation with the server's own
// credentials: S3's from the AWS environment, Azure's from exactly one of
// AZURE_STORAGE_KEY (with storageAccount=NAME), AZURE_STORAGE_SAS_TOKEN or
// AZURE_STORAGE_CONNECTION_STRING.
func Open(ctx context.Context, location string) (Store, error) {
	c, err := ParseLocationURL(location)
	if err != nil {
		return nil, err
	}
	return OpenLocation(ctx, c)
}

// PutBytes writes data to key under cond and returns the new object's attributes.
func PutBytes(ctx context.Context, s Store, key string, data []byte, cond Conditions) (ObjectAttrs, error) {
	w, err := s.NewWriter(ctx, key, cond)
	if err != nil {
		return ObjectAttrs{}, err
	}
	if _, err := io.Copy(w, bytes.NewReader(data)); err != nil {
		w.Abort()
		return ObjectAttrs{}, err
	}
	if err := w.Close(); err != nil {
		return ObjectAttrs{}, err
	}
	return w.Attrs(), nil
}

// ReadAll reads the object at key, refusing objects larger than limit bytes so
// that a hostile or corrupt object cannot exhaust memory.
func ReadAll(ctx context.Context, s Store, key string, limit int64) ([]byte, ObjectAttrs, error) {
	r, attrs, err := s.NewReader(ctx, key)
	if err != nil {
		return nil, ObjectAttrs{}, err
	}
	defer r.Close()
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, ObjectAttrs{}, fmt.Errorf("reading %s: %w", key, err)
	}
	if int64(len(data)) > limit {
		return nil, ObjectAttrs{}, fmt.Errorf("object %s is larger than %d bytes", key, limit)
	}
	return data, attrs, nil
}

// ListAll calls fn for every object under prefix (no delimiter), page by page,
// so callers never hold a whole listing they do not need.
func ListAll(ctx context.Context, s Store, prefix string, fn func(ObjectAttrs) error) error {
	return ListEach(ctx, s, ListOptions{Prefix: prefix}, fn)
}

// ListEach calls fn for every object the listing opts selects, following
// its pages from opts.PageToken to the end.
func ListEach(ctx context.Context, s Store, opts ListOptions, fn func(ObjectAttrs) error) error {
	for {
		page, err := s.List(ctx, opts)
		if err != nil {
			return err
		}
		for _, o := range page.Objects {
			if err := fn(o); err != nil {
				return err
			}
		}
		if page.NextPageToken == "" {
			return nil
		}
		opts.PageToken = page.NextPageToken
	}
}
