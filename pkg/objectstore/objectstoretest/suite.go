// Package objectstoretest is the conformance suite every objectstore backend
// passes: the guarantees Ark's bucket-backed API builds on, checked the same
// way against every backend.
package objectstoretest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"reflect"
	"sort"
	"sync"
	"testing"

	"github.com/arkproject/ark/pkg/objectstore"
)

// Options adapt the suite to what a backend is.
type Options struct {
	// KeyPrefixBytes is how many bytes the store puts in front of every key in
	// its object names (for GCS the prefix and its slash). They count toward
	// objectstore.MaxKeyBytes, so the longest key the store must take is that
	// much shorter.
	KeyPrefixBytes int
	// PlantLink is for backends whose buckets can hold symbolic links. It makes
	// key in s a symbolic link to target, as someone with write access to the
	// bucket could, creating the directories above it. target is either an
	// absolute path outside the bucket or a path relative to the link's
	// directory. When nil, the link cases are skipped.
	PlantLink func(t *testing.T, s objectstore.Store, key, target string)
	// ListWithoutGeneration is for backends whose listing does not carry the
	// generation (S3 keeps it in object metadata, which ListObjectsV2 does
	// not return). Their List leaves ObjectAttrs.Generation 0; Key, Size,
	// Updated and Token are still filled. Every other backend's List must
	// fill the generation too.
	ListWithoutGeneration bool
}

// Run runs the suite; newStore returns an empty store for each subtest.
func Run(t *testing.T, newStore func(t *testing.T) objectstore.Store) {
	RunWith(t, newStore, Options{})
}

// RunWith runs the suite with the backend's options.
func RunWith(t *testing.T, newStore func(t *testing.T) objectstore.Store, opts Options) {
	t.Run("NotFound", func(t *testing.T) { testNotFound(t, newStore(t)) })
	t.Run("PutIfAbsent", func(t *testing.T) { testPutIfAbsent(t, newStore(t)) })
	t.Run("ConcurrentPutIfAbsent", func(t *testing.T) { testConcurrentPutIfAbsent(t, newStore(t)) })
	t.Run("ConditionalWrite", func(t *testing.T) { testConditionalWrite(t, newStore(t)) })
	t.Run("Streaming", func(t *testing.T) { testStreaming(t, newStore(t)) })
	t.Run("Abort", func(t *testing.T) { testAbort(t, newStore(t)) })
	t.Run("List", func(t *testing.T) { testList(t, newStore(t), opts) })
	t.Run("ListPaging", func(t *testing.T) { testListPaging(t, newStore(t)) })
	t.Run("ListByName", func(t *testing.T) { testListByName(t, newStore(t)) })
	t.Run("Delete", func(t *testing.T) { testDelete(t, newStore(t)) })
	t.Run("Token", func(t *testing.T) { testToken(t, newStore(t), opts) })
	t.Run("KeyLimits", func(t *testing.T) { testKeyLimits(t, newStore(t), opts.KeyPrefixBytes) })
	t.Run("Links", func(t *testing.T) {
		if opts.PlantLink == nil {
			t.Skip("the backend's buckets cannot hold symbolic links")
		}
		t.Run("ObjectToOutsideFile", func(t *testing.T) { testLinkToOutsideFile(t, newStore(t), opts.PlantLink) })
		t.Run("DirectoryToOutside", func(t *testing.T) { testLinkedDirectoryOutside(t, newStore(t), opts.PlantLink) })
		t.Run("InsideBucket", func(t *testing.T) { testLinksInsideBucket(t, newStore(t), opts.PlantLink) })
	})
}

func put(t *testing.T, s objectstore.Store, key, data string, cond objectstore.Conditions) objectstore.ObjectAttrs {
	t.Helper()
	a, err := objectstore.PutBytes(context.Background(), s, key, []byte(data), cond)
	if err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
	return a
}

func read(t *testing.T, s objectstore.Store, key string) string {
	t.Helper()
	data, _, err := objectstore.ReadAll(context.Background(), s, key, 1<<20)
	if err != nil {
		t.Fatalf("read %s: %v", key, err)
	}
	return string(data)
}

func testNotFound(t *testing.T, s objectstore.Store) {
	ctx := context.Background()
	if _, err := s.Attrs(ctx, "missing/object.json"); !errors.Is(err, objectstore.ErrNotFound) {
		t.Errorf("Attrs of a missing key: got %v, want ErrNotFound", err)
	}
	if _, _, err := s.NewReader(ctx, "missing/object.json"); !errors.Is(err, objectstore.ErrNotFound) {
		t.Errorf("NewReader of a missing key: got %v, want ErrNotFound", err)
	}
	page, err := s.List(ctx, objectstore.ListOptions{Prefix: "missing/"})
	if err != nil {
		t.Fatalf("List of an empty prefix: %v", err)
	}
	if len(page.Objects)+len(page.Prefixes) != 0 || page.NextPageToken != "" {
		t.Errorf("List of an empty prefix returned %+v", page)
	}
}

func testPutIfAbsent(t *testing.T, s objectstore.Store) {
	ctx := context.Background()
	first := put(t, s, "backups/a/ark-backup.json", "first", objectstore.Conditions{DoesNotExist: true})
	if first.Generation == 0 || first.Size != 5 || first.Key != "backups/a/ark-backup.json" {
		t.Errorf("attrs after create: %+v", first)
	}
	_, err := objectstore.PutBytes(ctx, s, "backups/a/ark-backup.json", []byte("second"), objectstore.Conditions{DoesNotExist: true})
	if !errors.Is(err, objectstore.ErrPreconditionFailed) {
		t.Fatalf("second create: got %v, want ErrPreconditionFailed", err)
	}
	if got := read(t, s, "backups/a/ark-backup.json"); got != "first" {
		t.Errorf("a refused create changed the object to %q", got)
	}
	a, err := s.Attrs(ctx, "backups/a/ark-backup.json")
	if err != nil || a.Generation != first.Generation {
		t.Errorf("Attrs after refused create: %+v, %v; want generation %d", a, err, first.Generation)
	}
}

func testConcurrentPutIfAbsent(t *testing.T, s objectstore.Store) {
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = objectstore.PutBytes(context.Background(), s, "race/key", []byte(fmt.Sprint(i)), objectstore.Conditions{DoesNotExist: true})
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
		t.Errorf("%d of %d racing creates succeeded, want exactly 1", wins, n)
	}
}

func testConditionalWrite(t *testing.T, s objectstore.Store) {
	ctx := context.Background()
	v1 := put(t, s, "obj", "v1", objectstore.Conditions{})
	v2 := put(t, s, "obj", "v2", objectstore.Conditions{GenerationMatch: v1.Generation})
	if v2.Generation == v1.Generation {
		t.Fatalf("generation did not change on write: %d", v2.Generation)
	}
	// A writer that read v1 must not overwrite v2: no lost update.
	_, err := objectstore.PutBytes(ctx, s, "obj", []byte("stale"), objectstore.Conditions{GenerationMatch: v1.Generation})
	if !errors.Is(err, objectstore.ErrPreconditionFailed) {
		t.Fatalf("stale write: got %v, want ErrPreconditionFailed", err)
	}
	if got := read(t, s, "obj"); got != "v2" {
		t.Errorf("stale write changed the object to %q", got)
	}
	// Rapid successive writes still get distinct generations.
	prev := v2.Generation
	for i := range 20 {
		a := put(t, s, "obj", fmt.Sprint("v", i+3), objectstore.Conditions{GenerationMatch: prev})
		if a.Generation == prev {
			t.Fatalf("write %d kept generation %d", i, prev)
		}
		prev = a.Generation
	}
	_, err = objectstore.PutBytes(ctx, s, "absent", []byte("x"), objectstore.Conditions{GenerationMatch: prev})
	if !errors.Is(err, objectstore.ErrPreconditionFailed) {
		t.Errorf("conditional write of a missing key: got %v, want ErrPreconditionFailed", err)
	}
}

func testStreaming(t *testing.T, s objectstore.Store) {
	ctx := context.Background()
	const size = 24 << 20
	w, err := s.NewWriter(ctx, "big/blob.tar.gz", objectstore.Conditions{DoesNotExist: true})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewSource(1))
	want := sha256.New()
	buf := make([]byte, 64<<10)
	for written := 0; written < size; written += len(buf) {
		rng.Read(buf)
		want.Write(buf)
		if _, err := w.Write(buf); err != nil {
			t.Fatalf("write: %v", err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if w.Attrs().Size != size {
		t.Errorf("size after close: %d, want %d", w.Attrs().Size, size)
	}
	r, attrs, err := s.NewReader(ctx, "big/blob.tar.gz")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	got := sha256.New()
	n, err := io.CopyBuffer(got, r, make([]byte, 32<<10))
	if err != nil {
		t.Fatal(err)
	}
	if n != size || attrs.Size != size || !bytes.Equal(got.Sum(nil), want.Sum(nil)) {
		t.Errorf("read back %d bytes (attrs %d), checksum match %v", n, attrs.Size, bytes.Equal(got.Sum(nil), want.Sum(nil)))
	}
}

func testAbort(t *testing.T, s objectstore.Store) {
	ctx := context.Background()
	w, err := s.NewWriter(ctx, "partial/blob", objectstore.Conditions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("half of it")); err != nil {
		t.Fatal(err)
	}
	w.Abort()
	if _, err := s.Attrs(ctx, "partial/blob"); !errors.Is(err, objectstore.ErrNotFound) {
		t.Errorf("aborted upload is visible: %v", err)
	}
	page, err := s.List(ctx, objectstore.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Objects) != 0 {
		t.Errorf("aborted upload left objects: %+v", page.Objects)
	}
}

var listKeys = []string{
	"backups/a.b/ark-backup.json",
	"backups/a/a.tar.gz",
	"backups/a/ark-backup.json",
	"backups/b/ark-backup.json",
	"backups/c",
	"restores/r1/log.gz",
	"top",
}

func seed(t *testing.T, s objectstore.Store) {
	for _, k := range listKeys {
		put(t, s, k, k, objectstore.Conditions{})
	}
}

func keysOf(objs []objectstore.ObjectAttrs) []string {
	out := []string{}
	for _, o := range objs {
		out = append(out, o.Key)
	}
	return out
}

func testList(t *testing.T, s objectstore.Store, opts Options) {
	ctx := context.Background()
	seed(t, s)
	all, err := s.List(ctx, objectstore.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := append([]string(nil), listKeys...)
	sort.Strings(want)
	if got := keysOf(all.Objects); !reflect.DeepEqual(got, want) {
		t.Errorf("full list:\n got %q\nwant %q", got, want)
	}
	for _, o := range all.Objects {
		if o.Size != int64(len(o.Key)) || (o.Generation == 0 && !opts.ListWithoutGeneration) || o.Token == "" || o.Updated.IsZero() {
			t.Errorf("attrs of %s: %+v", o.Key, o)
		}
	}

	pre, err := s.List(ctx, objectstore.ListOptions{Prefix: "backups/a"})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := keysOf(pre.Objects), []string{"backups/a.b/ark-backup.json", "backups/a/a.tar.gz", "backups/a/ark-backup.json"}; !reflect.DeepEqual(got, want) {
		t.Errorf("prefix list:\n got %q\nwant %q", got, want)
	}

	del, err := s.List(ctx, objectstore.ListOptions{Prefix: "backups/", Delimiter: "/"})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := del.Prefixes, []string{"backups/a.b/", "backups/a/", "backups/b/"}; !reflect.DeepEqual(got, want) {
		t.Errorf("delimited prefixes:\n got %q\nwant %q", got, want)
	}
	if got, want := keysOf(del.Objects), []string{"backups/c"}; !reflect.DeepEqual(got, want) {
		t.Errorf("delimited objects:\n got %q\nwant %q", got, want)
	}

	root, err := s.List(ctx, objectstore.ListOptions{Delimiter: "/"})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := root.Prefixes, []string{"backups/", "restores/"}; !reflect.DeepEqual(got, want) {
		t.Errorf("root prefixes: got %q want %q", got, want)
	}
	if got, want := keysOf(root.Objects), []string{"top"}; !reflect.DeepEqual(got, want) {
		t.Errorf("root objects: got %q want %q", got, want)
	}
}

func testListPaging(t *testing.T, s objectstore.Store) {
	ctx := context.Background()
	seed(t, s)
	for _, delim := range []string{"", "/"} {
		for _, limit := range []int{1, 2, 3} {
			var objs, prefixes []string
			opts := objectstore.ListOptions{Prefix: "backups/", Delimiter: delim, Limit: limit}
			for pages := 0; ; pages++ {
				if pages > 20 {
					t.Fatalf("paging does not end (delimiter %q, limit %d)", delim, limit)
				}
				page, err := s.List(ctx, opts)
				if err != nil {
					t.Fatal(err)
				}
				if n := len(page.Objects) + len(page.Prefixes); n > limit {
					t.Errorf("page of %d entries exceeds limit %d", n, limit)
				}
				objs = append(objs, keysOf(page.Objects)...)
				prefixes = append(prefixes, page.Prefixes...)
				if page.NextPageToken == "" {
					break
				}
				opts.PageToken = page.NextPageToken
			}
			full, err := s.List(ctx, objectstore.ListOptions{Prefix: "backups/", Delimiter: delim})
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(objs, keysOf(full.Objects)) || !reflect.DeepEqual(prefixes, full.Prefixes) {
				t.Errorf("delimiter %q limit %d: paged %q %q, full %q %q", delim, limit, objs, prefixes, keysOf(full.Objects), full.Prefixes)
			}
		}
	}
}

// testListByName lists only the files of one name, in key order, across
// pages of every size, and refuses a name combined with a delimiter.
func testListByName(t *testing.T, s objectstore.Store) {
	ctx := context.Background()
	seed(t, s)
	for _, k := range []string{"backups/a/x-ark-backup.json", "backups/d/e/ark-backup.json", "backups/ark-backup.json.gz"} {
		put(t, s, k, k, objectstore.Conditions{})
	}
	want := []string{"backups/a.b/ark-backup.json", "backups/a/ark-backup.json", "backups/b/ark-backup.json", "backups/d/e/ark-backup.json"}
	for _, limit := range []int{0, 1, 2, 3} {
		var got []string
		err := objectstore.ListEach(ctx, s, objectstore.ListOptions{Prefix: "backups/", Name: "ark-backup.json", Limit: limit}, func(o objectstore.ObjectAttrs) error {
			if o.Token == "" || o.Size != int64(len(o.Key)) {
				t.Errorf("attrs of %s: %+v", o.Key, o)
			}
			got = append(got, o.Key)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("limit %d:\n got %q\nwant %q", limit, got, want)
		}
	}
	if _, err := s.List(ctx, objectstore.ListOptions{Prefix: "backups/", Name: "ark-backup.json", Delimiter: "/"}); err == nil {
		t.Error("a listing by name with a delimiter was not refused")
	}
}

func testDelete(t *testing.T, s objectstore.Store) {
	ctx := context.Background()
	a := put(t, s, "backups/x/ark-backup.json", "x", objectstore.Conditions{})
	b := put(t, s, "backups/x/ark-backup.json", "y", objectstore.Conditions{GenerationMatch: a.Generation})
	if err := s.Delete(ctx, "backups/x/ark-backup.json", objectstore.Conditions{GenerationMatch: a.Generation}); !errors.Is(err, objectstore.ErrPreconditionFailed) {
		t.Fatalf("delete at a stale generation: got %v, want ErrPreconditionFailed", err)
	}
	if got := read(t, s, "backups/x/ark-backup.json"); got != "y" {
		t.Fatalf("refused delete changed the object: %q", got)
	}
	if err := s.Delete(ctx, "backups/x/ark-backup.json", objectstore.Conditions{GenerationMatch: b.Generation}); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if _, err := s.Attrs(ctx, "backups/x/ark-backup.json"); !errors.Is(err, objectstore.ErrNotFound) {
		t.Errorf("deleted object still there: %v", err)
	}
	if err := s.Delete(ctx, "backups/x/ark-backup.json", objectstore.Conditions{}); !errors.Is(err, objectstore.ErrNotFound) {
		t.Errorf("delete of a missing key: got %v, want ErrNotFound", err)
	}
	page, err := s.List(ctx, objectstore.ListOptions{Prefix: "backups/", Delimiter: "/"})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Prefixes)+len(page.Objects) != 0 {
		t.Errorf("deleted object still listed: %+v", page)
	}
}

// testToken checks the change token a poller compares listings by: every
// way of reading an object's attributes gives the same token, and rewriting
// the object with other content (or deleting and re-creating it) changes it.
func testToken(t *testing.T, s objectstore.Store, opts Options) {
	ctx := context.Background()
	const key = "backups/t/ark-backup.json"
	check := func(what string, want objectstore.ObjectAttrs) {
		t.Helper()
		if want.Token == "" {
			t.Fatalf("%s: the writer's attrs have no token: %+v", what, want)
		}
		a, err := s.Attrs(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		if a.Token != want.Token || a.Generation != want.Generation {
			t.Errorf("%s: Attrs give token %q generation %d, the writer %q %d", what, a.Token, a.Generation, want.Token, want.Generation)
		}
		r, ra, err := s.NewReader(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		r.Close()
		if ra.Token != want.Token || ra.Generation != want.Generation {
			t.Errorf("%s: NewReader gives token %q generation %d, the writer %q %d", what, ra.Token, ra.Generation, want.Token, want.Generation)
		}
		page, err := s.List(ctx, objectstore.ListOptions{Prefix: "backups/t/"})
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Objects) != 1 {
			t.Fatalf("%s: listed %+v", what, page.Objects)
		}
		l := page.Objects[0]
		if l.Token != want.Token {
			t.Errorf("%s: List gives token %q, Attrs %q", what, l.Token, want.Token)
		}
		if l.Generation != want.Generation && !(l.Generation == 0 && opts.ListWithoutGeneration) {
			t.Errorf("%s: List gives generation %d, Attrs %d", what, l.Generation, want.Generation)
		}
	}
	v1 := put(t, s, key, `{"v":1}`, objectstore.Conditions{DoesNotExist: true})
	check("created", v1)
	v2 := put(t, s, key, `{"v":2}`, objectstore.Conditions{GenerationMatch: v1.Generation})
	if v2.Token == v1.Token {
		t.Errorf("rewriting with other content kept token %q", v1.Token)
	}
	check("rewritten", v2)
	if err := s.Delete(ctx, key, objectstore.Conditions{GenerationMatch: v2.Generation}); err != nil {
		t.Fatal(err)
	}
	v3 := put(t, s, key, `{"v":3}`, objectstore.Conditions{DoesNotExist: true})
	if v3.Token == v2.Token || v3.Token == v1.Token {
		t.Errorf("re-creating with other content reused token %q", v3.Token)
	}
	if v3.Generation <= v2.Generation {
		t.Errorf("generation went back across delete and re-create: %d after %d", v3.Generation, v2.Generation)
	}
	check("re-created", v3)
}
