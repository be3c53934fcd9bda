package backup

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/tools/cache"

	"github.com/arkproject/ark/pkg/apis/ark"
	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
	"github.com/arkproject/ark/pkg/objectstore"
)

// conversion-gen decides whether the internal and v1 Backup are the same in
// memory: if they are, it converts a list's items by a cast, sharing them.
// sharedV1 relies on that judgement; should the types diverge, the
// generated conversion copies and this test fails.
func TestInternalAndV1BackupsShareALayout(t *testing.T) {
	in := &ark.BackupList{Items: []ark.Backup{{ObjectMeta: metav1.ObjectMeta{Name: "a"}}}}
	var out arkv1.BackupList
	if err := arkv1.Convert_ark_BackupList_To_v1_BackupList(in, &out, nil); err != nil {
		t.Fatal(err)
	}
	if unsafe.Pointer(&out.Items[0]) != unsafe.Pointer(&in.Items[0]) {
		t.Fatal("conversion-gen copies Backups between the internal and v1 types: they are no longer identical in memory, and sharedV1 must convert instead of casting")
	}
	if unsafe.Sizeof(ark.Backup{}) != unsafe.Sizeof(arkv1.Backup{}) {
		t.Fatalf("internal Backup is %d bytes, v1 %d", unsafe.Sizeof(ark.Backup{}), unsafe.Sizeof(arkv1.Backup{}))
	}
}

// An informer fed by Shared holds the index's own objects, not copies, and
// follows additions, changes and removals made in the bucket; hidden
// namespaces stay hidden, as they do through the API.
func TestSharedInformerHoldsTheIndexObjects(t *testing.T) {
	var hide atomic.Bool
	r, store := newTestREST(t, func(ns string) bool { return ns != "team-gone" || !hide.Load() })
	create(t, r, home, "first")
	create(t, r, "team-gone", "hidden")
	hide.Store(true)

	informer := cache.NewSharedIndexInformer(r.Shared(), &arkv1.Backup{}, 0, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go informer.Run(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), informer.HasSynced) {
		t.Fatal("the informer never synced")
	}
	informed := func(name string) *arkv1.Backup {
		obj, ok, err := informer.GetStore().GetByKey(home + "/" + name)
		if err != nil || !ok {
			return nil
		}
		return obj.(*arkv1.Backup)
	}
	indexed := func(name string) unsafe.Pointer {
		r.ix.mu.RLock()
		defer r.ix.mu.RUnlock()
		if e := r.ix.items[id(home, name)]; e != nil {
			return unsafe.Pointer(e.obj)
		}
		return nil
	}
	if b := informed("first"); b == nil || unsafe.Pointer(b) != indexed("first") {
		t.Fatalf("the listed backup is not the index's own object: %p", b)
	}
	if _, ok, _ := informer.GetStore().GetByKey("team-gone/hidden"); ok {
		t.Fatal("a backup of a hidden namespace reached the controllers")
	}

	// Someone else adds a backup, then changes the first one.
	put := func(name, labels string) {
		body := `{"apiVersion":"ark.heptio.com/v1","kind":"Backup","metadata":{"name":"` + name + `","labels":{` + labels + `}},"status":{"phase":"Completed"}}`
		if _, err := objectstore.PutBytes(context.Background(), store, metaKey(home, name), []byte(body), objectstore.Conditions{}); err != nil {
			t.Fatal(err)
		}
	}
	put("second", "")
	eventually(t, func() bool { b := informed("second"); return b != nil && unsafe.Pointer(b) == indexed("second") })
	put("first", `"changed":"yes"`)
	eventually(t, func() bool {
		b := informed("first")
		return b != nil && b.Labels["changed"] == "yes" && unsafe.Pointer(b) == indexed("first")
	})
	// And removes the second.
	if err := store.Delete(context.Background(), metaKey(home, "second"), objectstore.Conditions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, func() bool { return informed("second") == nil })
}

func eventually(t *testing.T, cond func() bool) {
	t.Helper()
	err := wait.PollUntilContextTimeout(context.Background(), 10*time.Millisecond, 10*time.Second, true, func(context.Context) (bool, error) {
		return cond(), nil
	})
	if err != nil {
		t.Fatal("not within 10s")
	}
}

// BenchmarkIndexHeapPerBackup loads a bucket of 10,000 backup records, as a
// schedule writes them, into the index and an informer fed by Shared, and
// reports the live Go heap per backup they hold together. It leaves out
// what the process's RSS adds (the garbage collector's headroom, the
// poller's and requests' transient garbage): `make bench-list` measures
// that through the real server.
func BenchmarkIndexHeapPerBackup(b *testing.B) {
	const n = 10000
	for range b.N {
		b.StopTimer()
		dir := b.TempDir()
		store, err := objectstore.NewFileStore(dir)
		if err != nil {
			b.Fatal(err)
		}
		for i := range n {
			name := fmt.Sprintf("daily-%06d", i)
			body := fmt.Sprintf(`{"apiVersion":"ark.heptio.com/v1","kind":"Backup","metadata":{"name":%q,"namespace":%q,"uid":"00000000-0000-4000-8000-%012x","creationTimestamp":"2026-12-01T00:00:00Z","labels":{"ark.heptio.com/schedule-name":"daily"},"annotations":{"ark.heptio.com/cluster":"0f6c2a1e-5d3b-4c7a-9e21-7b8d4f0a6c35","ark.heptio.com/provenance":"v1:%s"}},"spec":{"includedNamespaces":["*"],"excludedResources":["events","events.events.k8s.io"],"ttl":"87600h0m0s","storageLocation":"default","requester":{"username":"system:serviceaccount:heptio-ark:ark-scheduler","groups":["system:serviceaccounts","system:serviceaccounts:heptio-ark","system:authenticated"]}},"status":{"phase":"Completed","version":1,"startTimestamp":"2026-12-01T00:00:00Z","completionTimestamp":"2026-12-01T00:05:00Z","expiration":"2036-12-01T00:00:00Z","progress":{"totalItems":812,"itemsDone":812}}}`, name, home, i, signatureOf(name))
			if _, err := objectstore.PutBytes(context.Background(), store, metaKey(home, name), []byte(body), objectstore.Conditions{}); err != nil {
				b.Fatal(err)
			}
		}
		before := liveHeap()
		b.StartTimer()
		r := newBenchREST(b, store)
		informer := cache.NewSharedIndexInformer(r.Shared(), &arkv1.Backup{}, 0, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
		ctx, cancel := context.WithCancel(context.Background())
		go informer.Run(ctx.Done())
		cache.WaitForCacheSync(ctx.Done(), informer.HasSynced)
		b.StopTimer()
		if got := len(informer.GetStore().ListKeys()); got != n {
			b.Fatalf("the informer holds %d backups, want %d", got, n)
		}
		b.ReportMetric(float64(liveHeap()-before)/n, "heap-B/backup")
		cancel()
		r.Destroy()
	}
}

// signatureOf stands for the provenance signature of the record of backup
// name, which differs for every backup.
func signatureOf(name string) string {
	mac := sha256.Sum256([]byte(name))
	return base64.RawStdEncoding.EncodeToString(mac[:])
}

func liveHeap() int64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}

// newBenchREST serves store, polling it once loaded only hourly.
func newBenchREST(b *testing.B, store objectstore.Store) *REST {
	r := serveStore(b, store, nil, nil, time.Hour)
	// Loaded, and no poll under way: a poll's listing is garbage, not
	// what the index holds.
	for r.Health("default").LastSynced.IsZero() {
		time.Sleep(10 * time.Millisecond)
	}
	return r
}
