package objectstore_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blockblob"

	"github.com/arkproject/ark/pkg/objectstore"
	"github.com/arkproject/ark/pkg/objectstore/azuretest"
	"github.com/arkproject/ark/pkg/objectstore/objectstoretest"
)

// The Azure backend runs the conformance suite with the Azure SDK over HTTP
// against a real Azure Blob emulator (Azurite), with and without a prefix.
func TestAzureStoreConformance(t *testing.T) {
	srv := azuretest.Start(t)
	var n atomic.Int32
	for _, prefix := range []string{"", "ark/cluster-a"} {
		var opts objectstoretest.Options
		if prefix != "" {
			opts.KeyPrefixBytes = len(prefix) + 1
		}
		t.Run("prefix="+prefix, func(t *testing.T) {
			objectstoretest.RunWith(t, func(t *testing.T) objectstore.Store {
				name := fmt.Sprintf("container-%d", n.Add(1))
				srv.CreateContainer(t, name)
				return srv.NewStore(t, name, prefix)
			}, opts)
		})
	}
}

// azureStore returns a store on a fresh container of srv with 4 MiB blocks,
// so that staged uploads stay quick to test.
func azureStore(t *testing.T, srv *azuretest.Server, name string) *objectstore.AzureStore {
	t.Helper()
	srv.CreateContainer(t, name)
	opts := srv.Options()
	opts.BlockSize = 4 << 20
	s, err := objectstore.OpenAzure(context.Background(), name, "ark", opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// A wrong account key is an error naming the location, never an empty
// listing or a missing object; so is a missing container.
func TestAzureWrongCredentials(t *testing.T) {
	srv := azuretest.Start(t)
	srv.CreateContainer(t, "guarded")
	ctx := context.Background()
	if _, err := objectstore.PutBytes(ctx, srv.NewStore(t, "guarded", "ark"), "backups/a/ark-backup.json", []byte("{}"), objectstore.Conditions{}); err != nil {
		t.Fatal(err)
	}
	opts := srv.Options()
	opts.AccountKey = "bm90LXRoZS1rZXk=" // base64, but not the account's key
	s, err := objectstore.OpenAzure(ctx, "guarded", "ark", opts)
	if err != nil {
		t.Fatal(err)
	}
	check := func(op string, err error) {
		t.Helper()
		if err == nil || errors.Is(err, objectstore.ErrNotFound) || errors.Is(err, objectstore.ErrPreconditionFailed) {
			t.Errorf("%s with a wrong key: got %v, want an access error", op, err)
			return
		}
		for _, want := range []string{s.String(), "access denied", "credentials", "AZURE_STORAGE_KEY"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%s with a wrong key: %q does not say %q", op, err, want)
			}
		}
		if strings.Contains(err.Error(), opts.AccountKey) {
			t.Errorf("%s with a wrong key: the error shows the key: %v", op, err)
		}
	}
	page, err := s.List(ctx, objectstore.ListOptions{})
	if len(page.Objects)+len(page.Prefixes) != 0 {
		t.Errorf("listed %+v", page)
	}
	check("List", err)
	_, err = s.Attrs(ctx, "backups/a/ark-backup.json")
	check("Attrs", err)
	_, err = s.Attrs(ctx, "backups/missing/ark-backup.json")
	check("Attrs of a missing key", err)
	_, _, err = s.NewReader(ctx, "backups/a/ark-backup.json")
	check("NewReader", err)
	_, err = objectstore.PutBytes(ctx, s, "backups/b/ark-backup.json", []byte("{}"), objectstore.Conditions{DoesNotExist: true})
	check("create", err)
	check("Delete", s.Delete(ctx, "backups/a/ark-backup.json", objectstore.Conditions{}))

	_, err = srv.NewStore(t, "no-such-container", "").List(ctx, objectstore.ListOptions{})
	if err == nil || !strings.Contains(err.Error(), "container does not exist") || !strings.Contains(err.Error(), "azure://no-such-container") {
		t.Errorf("listing a missing container: got %v", err)
	}
}

// A SAS token authorizes a store; a tampered one is an access error, and
// no message, not even a connection error's, shows the signature.
func TestAzureSASToken(t *testing.T) {
	srv := azuretest.Start(t)
	srv.CreateContainer(t, "shared")
	ctx := context.Background()
	token := srv.SASToken(t, "shared")
	q, err := url.ParseQuery(token)
	if err != nil || q.Get("sig") == "" {
		t.Fatalf("SAS token %q: %v", token, err)
	}
	sig := q.Get("sig")
	var n atomic.Int32
	open := func(token string) *objectstore.AzureStore {
		t.Helper()
		prefix := fmt.Sprintf("ark-%d", n.Add(1)) // a fresh, empty store each time
		s, err := objectstore.OpenAzure(ctx, "shared", prefix, objectstore.AzureOptions{Endpoint: srv.Endpoint, SASToken: token})
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(s.String(), sig) || strings.Contains(s.String(), "sig=") {
			t.Errorf("String() shows the SAS: %s", s)
		}
		return s
	}
	objectstoretest.RunWith(t, func(t *testing.T) objectstore.Store { return open("?" + token) }, objectstoretest.Options{KeyPrefixBytes: len("ark-00/")})
	s := open(token)

	noSecret := func(what string, err error) {
		t.Helper()
		if err == nil {
			t.Errorf("%s succeeded", what)
		} else if strings.Contains(err.Error(), sig) || strings.Contains(err.Error(), url.QueryEscape(sig)) {
			t.Errorf("%s: the error shows the signature: %v", what, err)
		}
	}
	q.Set("sig", "dGFtcGVyZWQ=")
	tampered := open(q.Encode())
	_, err = tampered.List(ctx, objectstore.ListOptions{})
	noSecret("listing with a tampered SAS", err)
	if err != nil && !strings.Contains(err.Error(), "access denied") {
		t.Errorf("listing with a tampered SAS: %v, want an access error", err)
	}
	srv.Stop()
	_, err = s.List(ctx, objectstore.ListOptions{})
	noSecret("listing an unreachable account", err)
	t.Logf("unreachable with a SAS: %v", err)
}

// An unreachable account is an error within seconds: retries are bounded.
func TestAzureUnreachable(t *testing.T) {
	srv := azuretest.Start(t)
	s := azureStore(t, srv, "gone")
	srv.Stop()
	start := time.Now()
	_, err := s.List(context.Background(), objectstore.ListOptions{})
	took := time.Since(start)
	if err == nil || !strings.Contains(err.Error(), s.String()) {
		t.Errorf("listing an unreachable account: got %v, want an error naming %s", err, s)
	}
	t.Logf("unreachable: failed after %v: %v", took.Round(time.Millisecond), err)
	if took > 10*time.Second {
		t.Errorf("listing an unreachable account took %v", took)
	}
}

// A 40 MiB object streams through staged blocks holding no more than two
// blocks in memory, reads back intact, and conditional writes of staged
// uploads are checked when the block list is committed.
func TestAzureStagedUpload(t *testing.T) {
	srv := azuretest.Start(t)
	s := azureStore(t, srv, "staged")
	ctx := context.Background()
	const size = 40 << 20
	const key = "backups/big/big.tar.gz"
	write := func(cond objectstore.Conditions, seed int64) (objectstore.ObjectAttrs, []byte, uint64, error) {
		w, err := s.NewWriter(ctx, key, cond)
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
	if allocated > 20<<20 {
		t.Errorf("streaming %d MiB allocated %d MiB: the writer buffers more than two 4 MiB blocks", size>>20, allocated>>20)
	}
	if first.Size != size || first.Generation == 0 || first.Token == "" {
		t.Errorf("attrs after a staged upload: %+v", first)
	}
	blocks, err := srv.Client().ServiceClient().NewContainerClient("staged").NewBlockBlobClient("ark/"+key).GetBlockList(ctx, blockblob.BlockListTypeAll, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(blocks.CommittedBlocks) != 10 || len(blocks.UncommittedBlocks) != 0 {
		t.Errorf("the blob has %d committed and %d uncommitted blocks, want 10 and 0", len(blocks.CommittedBlocks), len(blocks.UncommittedBlocks))
	}
	r, attrs, err := s.NewReader(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	got := sha256.New()
	if _, err := io.Copy(got, r); err != nil {
		t.Fatal(err)
	}
	r.Close()
	if !bytes.Equal(got.Sum(nil), want) || attrs.Generation != first.Generation || attrs.Token != first.Token || attrs.Size != size {
		t.Errorf("read back: checksum match %v, attrs %+v, written %+v", bytes.Equal(got.Sum(nil), want), attrs, first)
	}

	if _, _, _, err := write(objectstore.Conditions{DoesNotExist: true}, 2); !errors.Is(err, objectstore.ErrPreconditionFailed) {
		t.Errorf("staged create over an existing object: got %v, want ErrPreconditionFailed", err)
	}
	second, _, _, err := write(objectstore.Conditions{GenerationMatch: first.Generation}, 3)
	if err != nil {
		t.Fatalf("staged write at the current generation: %v", err)
	}
	if second.Generation <= first.Generation || second.Token == first.Token {
		t.Errorf("staged rewrite: %+v after %+v", second, first)
	}
	if _, _, _, err := write(objectstore.Conditions{GenerationMatch: first.Generation}, 4); !errors.Is(err, objectstore.ErrPreconditionFailed) {
		t.Errorf("staged write at a stale generation: got %v, want ErrPreconditionFailed", err)
	}
}

// Abandoned after blocks were staged: nothing is visible under the key or
// in listings, and the key can be written afresh.
func TestAzureAbort(t *testing.T) {
	srv := azuretest.Start(t)
	s := azureStore(t, srv, "abort")
	ctx := context.Background()
	w, err := s.NewWriter(ctx, "backups/big/abandoned.tar.gz", objectstore.Conditions{DoesNotExist: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(make([]byte, 10<<20)); err != nil { // two blocks staged, one buffered
		t.Fatal(err)
	}
	w.Abort()
	w.Abort()
	if _, err := s.Attrs(ctx, "backups/big/abandoned.tar.gz"); !errors.Is(err, objectstore.ErrNotFound) {
		t.Errorf("aborted upload is visible: %v", err)
	}
	if _, _, err := s.NewReader(ctx, "backups/big/abandoned.tar.gz"); !errors.Is(err, objectstore.ErrNotFound) {
		t.Errorf("aborted upload is readable: %v", err)
	}
	page, err := s.List(ctx, objectstore.ListOptions{})
	if err != nil || len(page.Objects)+len(page.Prefixes) != 0 {
		t.Errorf("aborted upload listed: %+v, %v", page, err)
	}
	if err := w.Close(); err == nil {
		t.Error("Close after Abort succeeded")
	}
	// Azurite refuses Put Blob with If-None-Match: * over staged blocks;
	// the store then commits a block list instead.
	for _, data := range []string{"small", ""} {
		key := "backups/big/abandoned-" + fmt.Sprint(len(data))
		w, err := s.NewWriter(ctx, key, objectstore.Conditions{DoesNotExist: true})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(make([]byte, 5<<20)); err != nil {
			t.Fatal(err)
		}
		w.Abort()
		a, err := objectstore.PutBytes(ctx, s, key, []byte(data), objectstore.Conditions{DoesNotExist: true})
		if err != nil {
			t.Fatalf("creating %s after an aborted upload: %v", key, err)
		}
		got, b, err := objectstore.ReadAll(ctx, s, key, 1<<10)
		if err != nil || string(got) != data || b.Token != a.Token || b.Generation != a.Generation || a.Size != int64(len(data)) {
			t.Errorf("%s reads back %q, %+v, %v; written %+v", key, got, b, err, a)
		}
		if _, err := objectstore.PutBytes(ctx, s, key, []byte("again"), objectstore.Conditions{DoesNotExist: true}); !errors.Is(err, objectstore.ErrPreconditionFailed) {
			t.Errorf("second create of %s: got %v, want ErrPreconditionFailed", key, err)
		}
	}
}

// Creates racing as staged uploads: every one passes the early check and
// stages its blocks; the first commit discards the others' blocks, and
// their commits are refused as lost races: exactly one wins.
func TestAzureConcurrentStagedCreate(t *testing.T) {
	srv := azuretest.Start(t)
	s := azureStore(t, srv, "race")
	const n = 4
	data := make([]byte, 6<<20) // more than one block
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
			_, errs[i] = w.Write(data)
			ready.Done()
			ready.Wait() // all have staged blocks before any commits
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
		t.Errorf("%d of %d racing staged creates succeeded, want exactly 1", wins, n)
	}
	a, err := s.Attrs(context.Background(), "backups/race/race.tar.gz")
	if err != nil || a.Size != int64(len(data)) {
		t.Errorf("after the race: %+v, %v", a, err)
	}
}

// A writer holds the ETag it read; if the blob changes before the commit,
// If-Match fails the commit, whether the change left its staged blocks
// alone (new metadata) or discarded them (another upload committed).
func TestAzureStaleIfMatch(t *testing.T) {
	srv := azuretest.Start(t)
	s := azureStore(t, srv, "stale")
	ctx := context.Background()
	blobClient := srv.Client().ServiceClient().NewContainerClient("stale").NewBlockBlobClient("ark/obj")
	for _, tc := range []struct {
		what   string
		change func(t *testing.T)
	}{
		{"metadata changed behind the writer's back", func(t *testing.T) {
			v := "someone-else"
			if _, err := blobClient.SetMetadata(ctx, map[string]*string{"other": &v}, nil); err != nil {
				t.Fatal(err)
			}
		}},
		{"another upload committed", func(t *testing.T) {
			if _, err := objectstore.PutBytes(ctx, s, "obj", []byte("theirs"), objectstore.Conditions{}); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.what, func(t *testing.T) {
			v1, err := objectstore.PutBytes(ctx, s, "obj", []byte("v1"), objectstore.Conditions{})
			if err != nil {
				t.Fatal(err)
			}
			w, err := s.NewWriter(ctx, "obj", objectstore.Conditions{GenerationMatch: v1.Generation})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := w.Write(make([]byte, 5<<20)); err != nil { // a block is staged: the ETag is read
				t.Fatal(err)
			}
			tc.change(t)
			before, err := s.Attrs(ctx, "obj")
			if err != nil {
				t.Fatal(err)
			}
			if err := w.Close(); !errors.Is(err, objectstore.ErrPreconditionFailed) {
				t.Errorf("commit after the blob changed: got %v, want ErrPreconditionFailed", err)
			}
			after, err := s.Attrs(ctx, "obj")
			if err != nil || after.Token != before.Token || after.Size != before.Size {
				t.Errorf("a refused commit changed the blob: %+v, was %+v, %v", after, before, err)
			}
		})
	}
}

// An object written by another tool carries no Ark generation: one is
// derived from its modification time, and a conditional write on it works.
func TestAzureObjectWithoutGeneration(t *testing.T) {
	srv := azuretest.Start(t)
	s := azureStore(t, srv, "foreign")
	ctx := context.Background()
	if _, err := srv.Client().UploadBuffer(ctx, "foreign", "ark/backups/old/ark-backup.json", []byte("{}"), nil); err != nil {
		t.Fatal(err)
	}
	a, err := s.Attrs(ctx, "backups/old/ark-backup.json")
	if err != nil || a.Generation == 0 {
		t.Fatalf("attrs of a foreign object: %+v, %v", a, err)
	}
	page, err := s.List(ctx, objectstore.ListOptions{Prefix: "backups/old/"})
	if err != nil || len(page.Objects) != 1 || page.Objects[0].Generation != a.Generation || page.Objects[0].Token != a.Token {
		t.Errorf("listed %+v, %v; Attrs %+v", page.Objects, err, a)
	}
	b, err := objectstore.PutBytes(ctx, s, "backups/old/ark-backup.json", []byte(`{"v":2}`), objectstore.Conditions{GenerationMatch: a.Generation})
	if err != nil {
		t.Fatalf("conditional write over a foreign object: %v", err)
	}
	if b.Generation <= a.Generation {
		t.Errorf("generation went back: %d after %d", b.Generation, a.Generation)
	}
}

// Keys with characters that URLs, XML and HTTP treat specially are stored,
// read and listed back as written. (Control characters other than tab are
// left out: Azure lists them XML-encoded, which the SDK decodes, but
// Azurite answers such a listing with a 500.)
func TestAzureSpecialCharacters(t *testing.T) {
	srv := azuretest.Start(t)
	s := azureStore(t, srv, "special")
	ctx := context.Background()
	keys := []string{"a/amp&lt<>\"'", "a/hash#frag", "a/pct%41x", "a/plus+sign", "a/query?x=1", "a/space here", "a/tab\there", "a/ünïcode"}
	for _, k := range keys {
		if _, err := objectstore.PutBytes(ctx, s, k, []byte(k), objectstore.Conditions{DoesNotExist: true}); err != nil {
			t.Fatalf("put %q: %v", k, err)
		}
		data, a, err := objectstore.ReadAll(ctx, s, k, 1<<10)
		if err != nil || string(data) != k || a.Key != k {
			t.Errorf("read %q: %q, %+v, %v", k, data, a, err)
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
	for _, k := range keys {
		if err := s.Delete(ctx, k, objectstore.Conditions{}); err != nil {
			t.Errorf("delete %q: %v", k, err)
		}
	}
}

// Keys Azure would store under another name are refused up front, on every
// call, rather than aliasing another key: a backslash (read as a slash) and
// a segment ending in a dot.
func TestAzureRefusesAliasingKeys(t *testing.T) {
	srv := azuretest.Start(t)
	s := azureStore(t, srv, "alias")
	ctx := context.Background()
	for _, key := range []string{`a/b\c`, "a/b./c", "a/b."} {
		check := func(op string, err error) {
			t.Helper()
			if !errors.Is(err, objectstore.ErrInvalidKey) {
				t.Errorf("%s %q: got %v, want ErrInvalidKey", op, key, err)
			}
		}
		_, err := objectstore.PutBytes(ctx, s, key, []byte("x"), objectstore.Conditions{})
		check("put", err)
		_, err = s.Attrs(ctx, key)
		check("Attrs", err)
		_, _, err = s.NewReader(ctx, key)
		check("NewReader", err)
		check("Delete", s.Delete(ctx, key, objectstore.Conditions{}))
	}
	page, err := s.List(ctx, objectstore.ListOptions{})
	if err != nil || len(page.Objects) != 0 {
		t.Errorf("refused keys were written: %+v, %v", page.Objects, err)
	}
	for _, prefix := range []string{`ark\a`, "ark./a"} {
		if _, err := objectstore.OpenAzure(ctx, "alias", prefix, srv.Options()); err == nil {
			t.Errorf("OpenAzure with prefix %q succeeded", prefix)
		}
	}
}

// Open takes azure:// locations with the account and endpoint in the query
// and exactly one credential from the environment, which no message repeats.
func TestOpenAzureLocation(t *testing.T) {
	srv := azuretest.Start(t)
	srv.CreateContainer(t, "located")
	ctx := context.Background()
	location := "azure://located/ark/cluster-a?account=" + azuretest.AccountName + "&endpoint=" + srv.Endpoint
	setEnv := func(key, sas, conn string) {
		t.Setenv("AZURE_STORAGE_KEY", key)
		t.Setenv("AZURE_STORAGE_SAS_TOKEN", sas)
		t.Setenv("AZURE_STORAGE_CONNECTION_STRING", conn)
	}

	setEnv(azuretest.AccountKey, "", "")
	s, err := objectstore.Open(ctx, location)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.String() != "azure://located/ark/cluster-a?account="+azuretest.AccountName+"&endpoint="+srv.Endpoint {
		t.Errorf("String() = %q", s.String())
	}
	if _, err := objectstore.PutBytes(ctx, s, "backups/a/ark-backup.json", []byte("{}"), objectstore.Conditions{DoesNotExist: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Client().ServiceClient().NewContainerClient("located").NewBlobClient("ark/cluster-a/backups/a/ark-backup.json").GetProperties(ctx, nil); err != nil {
		t.Errorf("the object is not under the location's prefix: %v", err)
	}

	// A connection string names the account and endpoint itself.
	setEnv("", "", srv.ConnectionString())
	cs, err := objectstore.Open(ctx, "azure://located/ark/cluster-a")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cs.Attrs(ctx, "backups/a/ark-backup.json"); err != nil {
		t.Errorf("reading through a connection string: %v", err)
	}
	if strings.Contains(cs.String(), azuretest.AccountKey) || !strings.Contains(cs.String(), srv.Endpoint) {
		t.Errorf("String() with a connection string = %q", cs.String())
	}
	if _, err := objectstore.Open(ctx, location); err == nil || !strings.Contains(err.Error(), "connection string names the account and endpoint") {
		t.Errorf("a connection string and a location naming an endpoint: got %v", err)
	}

	for _, tc := range []struct {
		what          string
		key, sas, cs  string
		location, say string
	}{
		{"none", "", "", "", location, "AZURE_STORAGE_KEY, AZURE_STORAGE_SAS_TOKEN or AZURE_STORAGE_CONNECTION_STRING"},
		{"two", azuretest.AccountKey, "sv=2024&sig=c2VjcmV0", "", location, "more than one"},
		{"a key without an account", azuretest.AccountKey, "", "", "azure://located?endpoint=" + srv.Endpoint, "account name"},
		{"a malformed key", "not base64!", "", "", location, "not valid base64"},
	} {
		setEnv(tc.key, tc.sas, tc.cs)
		_, err := objectstore.Open(ctx, tc.location)
		if err == nil || !strings.Contains(err.Error(), tc.say) {
			t.Errorf("%s: got %v, want an error saying %q", tc.what, err, tc.say)
		}
		for _, secret := range []string{azuretest.AccountKey, "c2VjcmV0", "not base64!"} {
			if err != nil && strings.Contains(err.Error(), secret) {
				t.Errorf("%s: the error shows a credential: %v", tc.what, err)
			}
		}
	}
}
