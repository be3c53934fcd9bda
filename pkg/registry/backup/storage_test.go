package backup

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/apiserver/pkg/authentication/user"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"

	"github.com/arkproject/ark/pkg/apis/ark"
	"github.com/arkproject/ark/pkg/apis/ark/install"
	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
	"github.com/arkproject/ark/pkg/apis/ark/validation"
	"github.com/arkproject/ark/pkg/objectstore"
)

const home = "heptio-ark"

func newTestREST(t *testing.T, visible func(string) bool) (*REST, objectstore.Store) {
	t.Helper()
	scheme := runtime.NewScheme()
	install.Install(scheme)
	codecs := serializer.NewCodecFactory(scheme)
	store, err := objectstore.NewFileStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	r, _ := NewREST(scheme, Options{
		Store:            store,
		LocationName:     "default",
		Codec:            codecs.LegacyCodec(arkv1.SchemeGroupVersion),
		Scope:            validation.Scope{HomeNamespace: home, StorageLocations: []string{"default"}},
		PollInterval:     50 * time.Millisecond,
		NamespaceVisible: visible,
	})
	t.Cleanup(r.Destroy)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.WaitForNextPoll(ctx); err != nil {
		t.Fatal(err)
	}
	return r, store
}

func nsContext(ns string) context.Context {
	ctx := genericapirequest.WithNamespace(context.Background(), ns)
	return genericapirequest.WithUser(ctx, &user.DefaultInfo{Name: "tester"})
}

func create(t *testing.T, r *REST, ns, name string) *ark.Backup {
	t.Helper()
	obj, err := r.Create(nsContext(ns), &ark.Backup{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec:       ark.BackupSpec{IncludedNamespaces: []string{ns}, StorageLocation: "default"},
	}, nil, &metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create %s/%s: %v", ns, name, err)
	}
	return obj.(*ark.Backup)
}

// A watcher that stops reading is cut off with 410 instead of blocking the
// fan-out, and other watchers keep getting events.
func TestSlowWatcherIsDroppedWith410(t *testing.T) {
	r, _ := newTestREST(t, nil)
	slow, err := r.Watch(nsContext(home), &metainternalversion.ListOptions{ResourceVersion: r.currentRV()})
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Stop()
	fast, err := r.Watch(nsContext(home), &metainternalversion.ListOptions{ResourceVersion: r.currentRV()})
	if err != nil {
		t.Fatal(err)
	}
	defer fast.Stop()
	// Changes made directly through the index, in bursts the fast watcher
	// keeps up with; the slow one never reads.
	total := watcherBuffer + 50
	for i := 0; i < total; i += 100 {
		for j := i; j < min(i+100, total); j++ {
			b := &ark.Backup{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprint("b", j), Namespace: home}}
			r.ix.observe(b, int64(j+1))
		}
		for j := i; j < min(i+100, total); j++ {
			select {
			case ev, ok := <-fast.ResultChan():
				if !ok || ev.Type != watch.Added {
					t.Fatalf("fast watcher: event %d is %s (open %v)", j, ev.Type, ok)
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("the fast watcher was held up at event %d", j)
			}
		}
	}
	var last watch.Event
	n := 0
	for ev := range slow.ResultChan() {
		last = ev
		n++
	}
	if last.Type != watch.Error {
		t.Fatalf("slow watcher ended with %s after %d events, want an Error", last.Type, n)
	}
	if status, ok := last.Object.(*metav1.Status); !ok || status.Code != 410 {
		t.Errorf("slow watcher's error: %+v, want 410", last.Object)
	}
}

// Resuming from before the event window is 410; from within it replays.
func TestWatchResumeWindow(t *testing.T) {
	r, _ := newTestREST(t, nil)
	r.ix.mu.Lock()
	r.ix.window = 3
	r.ix.mu.Unlock()
	var rvs []string
	for i := range 5 {
		b := &ark.Backup{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprint("w", i), Namespace: home}}
		r.ix.observe(b, int64(100+i))
		rvs = append(rvs, r.currentRV())
	}
	if _, err := r.Watch(nsContext(home), &metainternalversion.ListOptions{ResourceVersion: rvs[0]}); !apierrors.IsResourceExpired(err) {
		t.Errorf("resume from before the window: got %v, want 410", err)
	}
	w, err := r.Watch(nsContext(home), &metainternalversion.ListOptions{ResourceVersion: rvs[2]})
	if err != nil {
		t.Fatalf("resume within the window: %v", err)
	}
	defer w.Stop()
	for _, want := range []string{"w3", "w4"} {
		select {
		case ev := <-w.ResultChan():
			if b := ev.Object.(*ark.Backup); ev.Type != watch.Added || b.Name != want {
				t.Errorf("replayed %s %s, want ADDED %s", ev.Type, b.Name, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("no replay of %s", want)
		}
	}
}

// While a namespace is terminating its backups are hidden and the namespace
// controller's deletes touch nothing; once it exists again they are back.
func TestTerminatingNamespaceKeepsBackups(t *testing.T) {
	var terminating atomic.Bool
	r, store := newTestREST(t, func(ns string) bool { return !(ns == "team-a" && terminating.Load()) })
	create(t, r, "team-a", "keep-me")
	create(t, r, home, "admin")
	_, before, err := objectstore.ReadAll(context.Background(), store, MetadataKey("keep-me"), 1<<20)
	if err != nil {
		t.Fatal(err)
	}

	terminating.Store(true)
	ctx := nsContext("team-a")
	list, err := r.List(ctx, &metainternalversion.ListOptions{})
	if err != nil || len(list.(*ark.BackupList).Items) != 0 {
		t.Fatalf("list in a terminating namespace: %v %+v", err, list)
	}
	deleted, err := r.DeleteCollection(ctx, nil, &metav1.DeleteOptions{}, &metainternalversion.ListOptions{})
	if err != nil || len(deleted.(*ark.BackupList).Items) != 0 {
		t.Fatalf("deletecollection in a terminating namespace: %v %+v", err, deleted)
	}
	if _, _, err := r.Delete(ctx, "keep-me", nil, &metav1.DeleteOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("delete in a terminating namespace: %v, want NotFound", err)
	}
	_, after, err := objectstore.ReadAll(context.Background(), store, MetadataKey("keep-me"), 1<<20)
	if err != nil || after.Generation != before.Generation {
		t.Fatalf("the bucket file changed while the namespace terminated: %v (generation %d -> %d)", err, before.Generation, after.Generation)
	}
	// Other namespaces are unaffected.
	all, err := r.List(nsContext(""), &metainternalversion.ListOptions{})
	if err != nil || len(all.(*ark.BackupList).Items) != 1 {
		t.Fatalf("all-namespace list while team-a terminates: %v %+v", err, all)
	}

	terminating.Store(false)
	obj, err := r.Get(ctx, "keep-me", &metav1.GetOptions{})
	if err != nil || obj.(*ark.Backup).Status.Phase != ark.BackupPhaseNew {
		t.Errorf("after the namespace is back: %v %+v", err, obj)
	}
}

// A poll that listed the bucket before a local write must not undo it.
func TestPollDoesNotUndoNewerLocalWrite(t *testing.T) {
	r, store := newTestREST(t, nil)
	b := create(t, r, home, "raced")
	// Simulate a poll that started before the create and did not see it.
	r.ix.mu.Lock()
	start := r.ix.rev - 1
	for name, e := range r.ix.items {
		if e.seen <= start {
			r.ix.removeLocked(name)
		}
	}
	r.ix.mu.Unlock()
	got, err := r.Get(nsContext(home), "raced", &metav1.GetOptions{})
	if err != nil || got.(*ark.Backup).UID != b.UID {
		t.Fatalf("local write lost: %v", err)
	}
	if _, err := store.Attrs(context.Background(), MetadataKey("raced")); err != nil {
		t.Fatal(err)
	}
	list, err := r.List(nsContext(home), &metainternalversion.ListOptions{})
	if err != nil || len(list.(*ark.BackupList).Items) != 1 {
		t.Errorf("list after a stale poll: %v %+v", err, list)
	}
}

func TestBucketKeysAreNotNames(t *testing.T) {
	for key, want := range map[string]string{
		"backups/a/ark-backup.json":   "a",
		"backups/a/a.tar.gz":          "",
		"backups/ark-backup.json":     "",
		"backups//ark-backup.json":    "",
		"restores/a/ark-backup.json":  "",
		"backups/a/b/ark-backup.json": "",
	} {
		got, ok := nameFromKey(key)
		if got != want || ok != (want != "") {
			t.Errorf("nameFromKey(%q) = %q, %v; want %q", key, got, ok, want)
		}
	}
}

func (r *REST) currentRV() string { return fmt.Sprint(r.ix.currentRev()) }

// Even before the namespace cache has seen a namespace terminate, the
// namespace controller's deletes (and any delete the cluster says is part of a
// namespace deletion) leave the bucket alone.
func TestNamespaceControllerNeverDeletesBackups(t *testing.T) {
	r, store := newTestREST(t, nil)
	create(t, r, "team-a", "precious")
	_, before, err := objectstore.ReadAll(context.Background(), store, MetadataKey("precious"), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	ctx := genericapirequest.WithUser(genericapirequest.WithNamespace(context.Background(), "team-a"),
		&user.DefaultInfo{Name: "system:serviceaccount:kube-system:namespace-controller"})
	out, err := r.DeleteCollection(ctx, nil, &metav1.DeleteOptions{}, &metainternalversion.ListOptions{})
	if err != nil || len(out.(*ark.BackupList).Items) != 0 {
		t.Fatalf("namespace controller's deletecollection: %v %+v", err, out)
	}
	if _, _, err := r.Delete(ctx, "precious", nil, &metav1.DeleteOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("namespace controller's delete: %v, want NotFound", err)
	}

	r.terminating = func(context.Context, string) (bool, error) { return true, nil }
	if _, _, err := r.Delete(nsContext("team-a"), "precious", nil, &metav1.DeleteOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("delete while the cluster says the namespace terminates: %v, want NotFound", err)
	}
	_, after, err := objectstore.ReadAll(context.Background(), store, MetadataKey("precious"), 1<<20)
	if err != nil || after.Generation != before.Generation {
		t.Fatalf("bucket file changed: %v (generation %d -> %d)", err, before.Generation, after.Generation)
	}

	// An ordinary delete of a live namespace's backup marks it Deleting.
	r.terminating = func(context.Context, string) (bool, error) { return false, nil }
	obj, _, err := r.Delete(nsContext("team-a"), "precious", nil, &metav1.DeleteOptions{})
	if err != nil || obj.(*ark.Backup).Status.Phase != ark.BackupPhaseDeleting {
		t.Fatalf("user delete: %v %+v", err, obj)
	}
}

// Heptio Ark wrote ark-backup.json files without a namespace: they belong to
// the home namespace, and the directory names the backup whatever the file says.
func TestBucketFileWithoutNamespaceIsHome(t *testing.T) {
	r, store := newTestREST(t, nil)
	body := `{"apiVersion":"ark.heptio.com/v1","kind":"Backup","metadata":{"name":"other-name"},"status":{"phase":"Completed"}}`
	if _, err := objectstore.PutBytes(context.Background(), store, MetadataKey("legacy"), []byte(body), objectstore.Conditions{}); err != nil {
		t.Fatal(err)
	}
	obj, err := r.Get(nsContext(home), "legacy", &metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	b := obj.(*ark.Backup)
	if b.Namespace != home || b.Name != "legacy" || b.Status.Phase != ark.BackupPhaseCompleted {
		t.Errorf("read as %s/%s %s", b.Namespace, b.Name, b.Status.Phase)
	}
	if _, err := r.Get(nsContext("team-a"), "legacy", &metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("visible from team-a: %v", err)
	}
}
