package backup

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
	"github.com/arkproject/ark/pkg/backupstore"
)

// listHookDynamic calls before ahead of every List, which may delay it,
// fail it, or cancel the backup.
type listHookDynamic struct {
	dynamic.Interface
	before func(ctx context.Context, gr, ns string, opts metav1.ListOptions) error
}

func (d *listHookDynamic) Resource(gvr schema.GroupVersionResource) dynamic.NamespaceableResourceInterface {
	return &listHookResource{NamespaceableResourceInterface: d.Interface.Resource(gvr), d: d, gr: gvr.GroupResource().String()}
}

// ListRaw delays, fails or cancels a raw LIST as List does its own.
func (d *listHookDynamic) ListRaw(ctx context.Context, gvr schema.GroupVersionResource, ns string, opts metav1.ListOptions) ([]byte, error) {
	if err := d.before(ctx, gvr.GroupResource().String(), ns, opts); err != nil {
		return nil, err
	}
	return d.Interface.(RawLister).ListRaw(ctx, gvr, ns, opts)
}

type listHookResource struct {
	dynamic.NamespaceableResourceInterface
	d  *listHookDynamic
	gr string
}

func (r *listHookResource) Namespace(ns string) dynamic.ResourceInterface {
	return &listHookNamespaced{ResourceInterface: r.NamespaceableResourceInterface.Namespace(ns), d: r.d, gr: r.gr, ns: ns}
}

func (r *listHookResource) List(ctx context.Context, opts metav1.ListOptions) (*unstructured.UnstructuredList, error) {
	if err := r.d.before(ctx, r.gr, "", opts); err != nil {
		return nil, err
	}
	return r.NamespaceableResourceInterface.List(ctx, opts)
}

type listHookNamespaced struct {
	dynamic.ResourceInterface
	d      *listHookDynamic
	gr, ns string
}

func (r *listHookNamespaced) List(ctx context.Context, opts metav1.ListOptions) (*unstructured.UnstructuredList, error) {
	if err := r.d.before(ctx, r.gr, r.ns, opts); err != nil {
		return nil, err
	}
	return r.ResourceInterface.List(ctx, opts)
}

// addConfigMaps adds n config maps to namespace app, each with size
// pseudo-random bytes (hex encoded, so they do not compress away), the same
// in every call.
func addConfigMaps(t *testing.T, e *env, n, size int) {
	t.Helper()
	for i := range n {
		buf := make([]byte, size)
		_, _ = rand.NewChaCha8([32]byte{byte(i), byte(i >> 8)}).Read(buf)
		cm := object("v1", "ConfigMap", "app", fmt.Sprintf("bulk-%03d", i), nil, map[string]any{"data": map[string]any{"i": fmt.Sprint(i), "blob": hex.EncodeToString(buf)}})
		if err := e.dyn.Tracker().Add(cm); err != nil {
			t.Fatal(err)
		}
	}
}

// checkNoLeaks fails the test if goroutines started after it was called
// are still running when the test ends: a backup, failed or not, must
// leave none of its listers, encoders or compressors behind.
func checkNoLeaks(t *testing.T) {
	t.Helper()
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) })
}

// The listing, encoding and compression run concurrently, but the tarball
// must not depend on their timing: the same cluster gives the same bytes
// whatever order the LISTs answer in.
func TestTarballDoesNotDependOnTiming(t *testing.T) {
	checkNoLeaks(t)
	var first []byte
	for i := range 4 {
		e := newEnv(t)
		addConfigMaps(t, e, 40, 16)
		e.pageLists(true)
		e.b.PageSize = 3
		rng := rand.New(rand.NewPCG(uint64(i), 7))
		var mu sync.Mutex
		e.b.Dynamic = &listHookDynamic{Interface: e.rec, before: func(context.Context, string, string, metav1.ListOptions) error {
			mu.Lock()
			d := time.Duration(rng.IntN(2000)) * time.Microsecond
			mu.Unlock()
			time.Sleep(d)
			return nil
		}}
		s := e.run(t, newBackup("b1", nil))
		mustSucceed(t, s)
		tarball := s.mustFile(t, backupstore.Home("b1").TarballKey())
		if i == 0 {
			first = tarball
			if len(s.entries) != len(wholeClusterItems)+40+1 {
				t.Fatalf("%d entries: %v", len(s.entries), s.entries)
			}
			continue
		}
		if !bytes.Equal(tarball, first) {
			t.Fatalf("run %d wrote a different tarball", i)
		}
	}
}

// While one resource is written, the next are listed ahead, but only a
// fixed number of pages: the backup's memory does not grow with the
// cluster.
func TestListingAheadIsBounded(t *testing.T) {
	checkNoLeaks(t)
	e := newEnv(t)
	addConfigMaps(t, e, 60, 16)
	e.pageLists(true)
	e.b.PageSize = 1
	var listed, written, worst atomic.Int64
	e.b.Dynamic = &listHookDynamic{Interface: e.rec, before: func(_ context.Context, gr, _ string, _ metav1.ListOptions) error {
		if gr == "configmaps" {
			ahead := listed.Add(1) - written.Load()
			for {
				w := worst.Load()
				if ahead <= w || worst.CompareAndSwap(w, ahead) {
					break
				}
			}
		}
		return nil
	}}
	_, err := e.b.Run(context.Background(), newBackup("b1", appOnly), func(_, done int) {
		written.Store(int64(done))
		// Slow writes give the listers every chance to run ahead.
		time.Sleep(100 * time.Microsecond)
	})
	if err != nil {
		t.Fatal(err)
	}
	// Pages of one item: one being written, one waiting, one being
	// encoded, one being listed; items written before the config maps
	// (none in namespace app) do not count against them.
	if w := worst.Load(); w > pagesAhead+3 {
		t.Errorf("config maps were listed up to %d pages ahead of the tarball, want at most %d", w, pagesAhead+3)
	}
}

// A failure mid-pipeline (here the bucket, while later pages are being
// listed) fails the backup, aborts every upload and stops every goroutine.
func TestPipelineFailureStopsEverything(t *testing.T) {
	checkNoLeaks(t)
	e := newEnv(t)
	// Several MiB that do not compress: the upload fails while the
	// tarball is still being written and later pages listed.
	addConfigMaps(t, e, 12, 256<<10)
	e.pageLists(true)
	e.b.PageSize = 2
	fs := &faultyStore{Store: e.store, failAfter: map[string]int64{backupstore.Home("b1").TarballKey(): 4096}}
	e.b.Store = fs
	_, err := e.b.Run(context.Background(), newBackup("b1", nil), nil)
	if !errors.Is(err, errInjected) {
		t.Fatalf("Run error %v, want the injected failure", err)
	}
	// Every upload was either committed (the live log, deleted since) or
	// aborted: none is left open.
	for _, w := range fs.writers {
		if w.committed == w.aborted {
			t.Errorf("%s: committed %v, aborted %v", w.key, w.committed, w.aborted)
		}
	}
	if files := bucketFiles(t, e.store); len(files) != 0 {
		t.Errorf("the failed backup left %v", sortedKeys(files))
	}
}

// A backup cancelled while its pages are being listed (the server stops)
// ends with the context's error, stores nothing and leaks nothing.
func TestCancelledMidListing(t *testing.T) {
	checkNoLeaks(t)
	e := newEnv(t)
	addConfigMaps(t, e, 30, 16)
	e.pageLists(true)
	e.b.PageSize = 2
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var lists atomic.Int64
	e.b.Dynamic = &listHookDynamic{Interface: e.rec, before: func(ctx context.Context, gr, _ string, opts metav1.ListOptions) error {
		if gr == "configmaps" && lists.Add(1) == 5 {
			cancel()
			return ctx.Err()
		}
		return nil
	}}
	_, err := e.b.Run(ctx, newBackup("b1", nil), nil)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Run error %v, want context.Canceled", err)
	}
	if files := bucketFiles(t, e.store); len(files) != 0 {
		t.Errorf("the cancelled backup left %v", sortedKeys(files))
	}
}

// A Fail-mode hook fails the backup while other resources may already be
// listed ahead: they are stopped too. And nothing after the pods is listed
// before the pods' pre hooks have run: the hooks quiesce the application
// whose other objects follow.
func TestHookFailureWithListingsAhead(t *testing.T) {
	checkNoLeaks(t)
	e := newEnv(t)
	addPod(t, e, "db-0", "Running", nil)
	var mu sync.Mutex
	var listedBeforeHook []string
	hookRan := false
	e.b.Dynamic = &listHookDynamic{Interface: e.rec, before: func(_ context.Context, gr, _ string, _ metav1.ListOptions) error {
		mu.Lock()
		defer mu.Unlock()
		if !hookRan && gr != "pods" {
			listedBeforeHook = append(listedBeforeHook, gr)
		}
		return nil
	}}
	e.b.Hooks = &hookExec{e: e, failOn: "broken"}
	hooked := &hookRecorder{exec: e.b.Hooks.(*hookExec), ran: func() { mu.Lock(); hookRan = true; mu.Unlock() }}
	e.b.Hooks = hooked
	_, err := e.b.Run(context.Background(), newBackup("b1", func(s *arkv1.BackupSpec) {
		s.IncludedNamespaces = []string{"app"}
		s.Hooks.Resources = []arkv1.BackupResourceHookSpec{{
			Name:     "quiesce",
			PreHooks: []arkv1.BackupResourceHook{{Exec: &arkv1.ExecHook{Container: "db", Command: []string{"broken"}, OnError: arkv1.HookErrorModeFail}}},
		}}
	}), nil)
	if err == nil {
		t.Fatal("a failed Fail-mode hook did not fail the backup")
	}
	mu.Lock()
	defer mu.Unlock()
	if !hookRan {
		t.Fatal("the hook did not run")
	}
	if len(listedBeforeHook) != 0 {
		t.Errorf("listed %v before the pods' pre hooks ran", listedBeforeHook)
	}
}

// hookRecorder notes when a hook runs.
type hookRecorder struct {
	exec *hookExec
	ran  func()
}

func (h *hookRecorder) Exec(ctx context.Context, ns, pod, container string, command []string) (string, string, error) {
	h.ran()
	return h.exec.Exec(ctx, ns, pod, container, command)
}

// Items read as raw JSON are stored as the unstructured path stores them:
// the same cluster gives the same tarball whichever way its pages are read,
// with managed fields cut and a node's status dropped either way.
func TestRawListingStoresWhatDecodingDoes(t *testing.T) {
	var tarballs [2][]byte
	for i, raw := range []bool{true, false} {
		e := newEnv(t)
		addConfigMaps(t, e, 20, 16)
		e.pageLists(true)
		e.b.PageSize = 7
		if !raw {
			e.b.Dynamic = plainDynamic{e.rec}
		}
		s := e.run(t, newBackup("b1", nil))
		mustSucceed(t, s)
		for name, data := range s.contents {
			if bytes.Contains(data, []byte("managedFields")) {
				t.Errorf("raw=%v: %s keeps its managed fields", raw, name)
			}
		}
		tarballs[i] = s.mustFile(t, backupstore.Home("b1").TarballKey())
	}
	if !bytes.Equal(tarballs[0], tarballs[1]) {
		t.Fatal("the raw listing wrote a different tarball")
	}
}
