package backup

import (
	"bytes"
	"context"
	"fmt"
	"strings"
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
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/arkproject/ark/pkg/apis/ark"
	"github.com/arkproject/ark/pkg/apis/ark/install"
	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
	"github.com/arkproject/ark/pkg/apis/ark/validation"
	"github.com/arkproject/ark/pkg/backupstore"
	"github.com/arkproject/ark/pkg/locations"
	"github.com/arkproject/ark/pkg/objectstore"
	"github.com/arkproject/ark/pkg/provenance"
)

const home = "heptio-ark"

func newTestREST(t *testing.T, visible func(string) bool) (*REST, objectstore.Store) {
	t.Helper()
	return newSignedREST(t, visible, nil)
}

func newSignedREST(t *testing.T, visible func(string) bool, signer *provenance.Signer) (*REST, objectstore.Store) {
	t.Helper()
	return newRESTPolling(t, visible, signer, 50*time.Millisecond)
}

func newRESTPolling(t *testing.T, visible func(string) bool, signer *provenance.Signer, interval time.Duration) (*REST, objectstore.Store) {
	t.Helper()
	store, err := objectstore.NewFileStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return newRESTOnStore(t, store, visible, signer, interval), store
}

// newRESTOnStore serves the backups of store, its default location, once
// it has been polled.
func newRESTOnStore(t *testing.T, store objectstore.Store, visible func(string) bool, signer *provenance.Signer, interval time.Duration) *REST {
	t.Helper()
	r := serveStore(t, store, visible, signer, interval)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.WaitForNextPoll(ctx); err != nil {
		t.Fatal(err)
	}
	return r
}

// serveStore serves store as the location "default", polling it every
// interval, and returns at once.
func serveStore(t testing.TB, store objectstore.Store, visible func(string) bool, signer *provenance.Signer, interval time.Duration) *REST {
	return serveLocations(t, locations.NewSet(&locations.Location{Name: "default", Store: store, Primary: true}), visible, signer, interval)
}

// serveLocations serves the locations of locs, polling each every interval,
// and returns at once.
func serveLocations(t testing.TB, locs *locations.Set, visible func(string) bool, signer *provenance.Signer, interval time.Duration) *REST {
	scheme := runtime.NewScheme()
	install.Install(scheme)
	codecs := serializer.NewCodecFactory(scheme)
	r, _ := NewREST(scheme, Options{
		Locations:        locs,
		Codec:            codecs.LegacyCodec(arkv1.SchemeGroupVersion),
		Scope:            validation.Scope{HomeNamespace: home, Locations: locs},
		PollInterval:     interval,
		NamespaceVisible: visible,
		Signer:           signer,
	})
	t.Cleanup(r.Destroy)
	return r
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
			r.ix.observe("default", b, objectstore.ObjectAttrs{Generation: int64(j + 1), Token: fmt.Sprint(j + 1)})
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
		r.ix.observe("default", b, objectstore.ObjectAttrs{Generation: int64(100 + i), Token: fmt.Sprint(100 + i)})
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
	_, before, err := objectstore.ReadAll(context.Background(), store, metaKey("team-a", "keep-me"), 1<<20)
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
	_, after, err := objectstore.ReadAll(context.Background(), store, metaKey("team-a", "keep-me"), 1<<20)
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
	if _, err := store.Attrs(context.Background(), metaKey(home, "raced")); err != nil {
		t.Fatal(err)
	}
	list, err := r.List(nsContext(home), &metainternalversion.ListOptions{})
	if err != nil || len(list.(*ark.BackupList).Items) != 1 {
		t.Errorf("list after a stale poll: %v %+v", err, list)
	}
}

func (r *REST) currentRV() string { return fmt.Sprint(r.ix.currentRev()) }

// Even before the namespace cache has seen a namespace terminate, the
// namespace controller's deletes (and any delete the cluster says is part of a
// namespace deletion) leave the bucket alone.
func TestNamespaceControllerNeverDeletesBackups(t *testing.T) {
	r, store := newTestREST(t, nil)
	create(t, r, "team-a", "precious")
	_, before, err := objectstore.ReadAll(context.Background(), store, metaKey("team-a", "precious"), 1<<20)
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
	_, after, err := objectstore.ReadAll(context.Background(), store, metaKey("team-a", "precious"), 1<<20)
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
// the home namespace.
func TestBucketFileWithoutNamespaceIsHome(t *testing.T) {
	r, store := newTestREST(t, nil)
	body := `{"apiVersion":"ark.heptio.com/v1","kind":"Backup","metadata":{"name":"legacy"},"status":{"phase":"Completed"}}`
	if _, err := objectstore.PutBytes(context.Background(), store, metaKey(home, "legacy"), []byte(body), objectstore.Conditions{}); err != nil {
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

// metaKey is where the test server keeps a backup's metadata file.
func metaKey(ns, name string) string {
	return backupstore.Layout{HomeNamespace: home}.Backup(ns, name).MetadataKey()
}

// Names are per namespace: two namespaces each have a backup "nightly",
// in their own folders, and neither sees, changes or deletes the other's.
func TestBackupNamesArePerNamespace(t *testing.T) {
	r, store := newTestREST(t, nil)
	a := create(t, r, "team-a", "nightly")
	b := create(t, r, "team-b", "nightly")
	h := create(t, r, home, "nightly")
	if a.UID == b.UID || a.UID == h.UID {
		t.Fatal("the same object twice")
	}
	for ns, want := range map[string]string{"team-a": "namespaces/team-a/backups/nightly/ark-backup.json", "team-b": "namespaces/team-b/backups/nightly/ark-backup.json", home: "backups/nightly/ark-backup.json"} {
		if got := metaKey(ns, "nightly"); got != want {
			t.Errorf("%s: key %s, want %s", ns, got, want)
		}
		if _, err := store.Attrs(context.Background(), want); err != nil {
			t.Errorf("%s: %v", ns, err)
		}
		obj, err := r.Get(nsContext(ns), "nightly", &metav1.GetOptions{})
		if err != nil || obj.(*ark.Backup).Namespace != ns {
			t.Errorf("get in %s: %v %+v", ns, err, obj)
		}
		list, err := r.List(nsContext(ns), &metainternalversion.ListOptions{})
		if err != nil || len(list.(*ark.BackupList).Items) != 1 {
			t.Errorf("list in %s: %v %+v", ns, err, list)
		}
	}
	if _, _, err := r.Delete(nsContext("team-b"), "nightly", nil, &metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	obj, err := r.Get(nsContext("team-a"), "nightly", &metav1.GetOptions{})
	if err != nil || obj.(*ark.Backup).Status.Phase != ark.BackupPhaseNew {
		t.Errorf("team-b's delete reached team-a's backup: %v %+v", err, obj)
	}
}

// Earlier versions of Ark kept every namespace's backups in backups/: such a
// file is the home namespace's whatever namespace it names, so a record can
// never place itself in a namespace its folder is not.
func TestBucketFileNamingAnotherNamespaceStaysHome(t *testing.T) {
	r, store := newTestREST(t, nil)
	body := `{"apiVersion":"ark.heptio.com/v1","kind":"Backup","metadata":{"name":"old","namespace":"team-a"},"status":{"phase":"Completed"}}`
	if _, err := objectstore.PutBytes(context.Background(), store, metaKey(home, "old"), []byte(body), objectstore.Conditions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Get(nsContext("team-a"), "old", &metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("visible in team-a: %v", err)
	}
	obj, err := r.Get(nsContext(home), "old", &metav1.GetOptions{})
	if err != nil || obj.(*ark.Backup).Namespace != home {
		t.Fatalf("get in %s: %v %+v", home, err, obj)
	}
	if err := r.WaitForNextPoll(context.Background()); err != nil {
		t.Fatal(err)
	}
	list, err := r.List(nsContext("team-a"), &metainternalversion.ListOptions{})
	if err != nil || len(list.(*ark.BackupList).Items) != 0 {
		t.Errorf("listed in team-a: %v %+v", err, list)
	}
}

// Whoever last changes a backup's spec is its requester: an edit of someone
// else's queued backup runs with the editor's rights, never the creator's.
// A change of labels alone keeps the requester.
func TestSpecChangeRecordsTheEditorAsRequester(t *testing.T) {
	r, _ := newTestREST(t, nil)
	create(t, r, "team-a", "queued") // as "tester"
	as := func(name string) context.Context {
		return genericapirequest.WithUser(genericapirequest.WithNamespace(context.Background(), "team-a"), &user.DefaultInfo{Name: name, Groups: []string{"g-" + name}})
	}
	update := func(ctx context.Context, mutate func(*ark.Backup)) *ark.Backup {
		t.Helper()
		obj, _, err := r.Update(ctx, "queued", rest.DefaultUpdatedObjectInfo(nil, func(_ context.Context, _, oldObj runtime.Object) (runtime.Object, error) {
			b := oldObj.(*ark.Backup).DeepCopy()
			mutate(b)
			return b, nil
		}), nil, nil, false, &metav1.UpdateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return obj.(*ark.Backup)
	}
	b := update(as("mallory"), func(b *ark.Backup) {
		b.Labels = map[string]string{"seen": "yes"}
		b.Spec.Requester = &ark.UserInfo{Username: "admin", Groups: []string{"system:masters"}}
	})
	if b.Spec.Requester.Username != "tester" {
		t.Errorf("a label change (with a forged requester) recorded %+v", b.Spec.Requester)
	}
	b = update(as("mallory"), func(b *ark.Backup) {
		b.Spec.IncludedResources = []string{"secrets"}
		b.Spec.Requester = &ark.UserInfo{Username: "tester"}
	})
	if b.Spec.Requester.Username != "mallory" || b.Spec.Requester.Groups[0] != "g-mallory" {
		t.Errorf("after mallory's spec change the requester is %+v", b.Spec.Requester)
	}
}

// The API signs what it accepts and discards origin annotations a client
// sends; a record it did not sign becomes the updater's on any change; a
// backup of another cluster cannot be changed or deleted here.
func TestBackupsAreSignedAndForeignOnesProtected(t *testing.T) {
	mine, _ := provenance.NewSigner(bytes.Repeat([]byte{1}, provenance.KeySize), "here")
	theirs, _ := provenance.NewSigner(bytes.Repeat([]byte{2}, provenance.KeySize), "there")
	r, store := newSignedREST(t, nil, mine)
	ctx := nsContext("team-a")
	obj, err := r.Create(ctx, &ark.Backup{
		ObjectMeta: metav1.ObjectMeta{Name: "b1", Namespace: "team-a", Annotations: map[string]string{
			provenance.SignatureAnnotation: "v1:forged", provenance.ClusterAnnotation: "there", arkv1.AnnotationNamespaceUID: "made-up", "note": "kept"}},
		Spec: ark.BackupSpec{IncludedNamespaces: []string{"team-a"}, StorageLocation: "default"},
	}, nil, &metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	verify := func(b *ark.Backup, s *provenance.Signer) error {
		var v1b arkv1.Backup
		if err := arkv1.Convert_ark_Backup_To_v1_Backup(b, &v1b, nil); err != nil {
			t.Fatal(err)
		}
		return s.Verify(&v1b)
	}
	b := obj.(*ark.Backup)
	if err := verify(b, mine); err != nil || b.Annotations[provenance.ClusterAnnotation] != "here" || b.Annotations["note"] != "kept" || b.Annotations[arkv1.AnnotationNamespaceUID] == "made-up" {
		t.Fatalf("created: %v %v", err, b.Annotations)
	}

	// A record written into the bucket, naming a powerful requester.
	forged := `{"apiVersion":"ark.heptio.com/v1","kind":"Backup","metadata":{"name":"forged"},"spec":{"includedNamespaces":["team-a"],"requester":{"username":"admin","groups":["system:masters"]}},"status":{"phase":"New"}}`
	if _, err := objectstore.PutBytes(context.Background(), store, metaKey("team-a", "forged"), []byte(forged), objectstore.Conditions{}); err != nil {
		t.Fatal(err)
	}
	got, err := r.Get(ctx, "forged", &metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if verify(got.(*ark.Backup), mine) == nil {
		t.Fatal("a bucket record verifies")
	}
	labelled, _, err := r.Update(ctx, "forged", rest.DefaultUpdatedObjectInfo(nil, func(_ context.Context, _, old runtime.Object) (runtime.Object, error) {
		b := old.(*ark.Backup).DeepCopy()
		b.Labels = map[string]string{"touched": "yes"}
		return b, nil
	}), nil, nil, false, &metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if lb := labelled.(*ark.Backup); lb.Spec.Requester == nil || lb.Spec.Requester.Username != "tester" || verify(lb, mine) != nil {
		t.Errorf("after a label change through the API the record acts as %+v", lb.Spec.Requester)
	}

	// Another cluster's backup in the shared bucket.
	var v1b arkv1.Backup
	if err := arkv1.Convert_ark_Backup_To_v1_Backup(b, &v1b, nil); err != nil {
		t.Fatal(err)
	}
	v1b.Name = "theirs"
	if err := theirs.Sign(&v1b); err != nil {
		t.Fatal(err)
	}
	v1b.ResourceVersion = ""
	data, err := runtime.Encode(r.codec, &v1b)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := objectstore.PutBytes(context.Background(), store, metaKey("team-a", "theirs"), data, objectstore.Conditions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Get(ctx, "theirs", &metav1.GetOptions{}); err != nil {
		t.Fatalf("another cluster's backup cannot be read: %v", err)
	}
	if _, _, err := r.Delete(ctx, "theirs", nil, &metav1.DeleteOptions{}); !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "another cluster's Ark") {
		t.Errorf("delete of another cluster's backup: %v", err)
	}
	_, _, err = r.Update(ctx, "theirs", rest.DefaultUpdatedObjectInfo(nil, func(_ context.Context, _, old runtime.Object) (runtime.Object, error) {
		b := old.(*ark.Backup).DeepCopy()
		b.Labels = map[string]string{"mine": "now"}
		return b, nil
	}), nil, nil, false, &metav1.UpdateOptions{})
	if !apierrors.IsForbidden(err) {
		t.Errorf("update of another cluster's backup: %v", err)
	}
}

// A backup belongs to its namespace's lifetime: once the namespace is
// recreated (a new UID), its new users neither see, read nor delete the
// former namespace's backups, while an administrator still does.
func TestBackupsBelongToTheNamespaceLifetime(t *testing.T) {
	var current atomic.Value
	current.Store("uid-1")
	scheme := runtime.NewScheme()
	install.Install(scheme)
	store, err := objectstore.NewFileStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	r, _ := NewREST(scheme, Options{
		Locations: locations.NewSet(&locations.Location{Name: "default", Store: store, Primary: true}), PollInterval: 50 * time.Millisecond,
		Codec: serializer.NewCodecFactory(scheme).LegacyCodec(arkv1.SchemeGroupVersion),
		Scope: validation.Scope{HomeNamespace: home},
		Lifetimes: &Lifetimes{
			NamespaceUID:  func(context.Context, string) (string, error) { return current.Load().(string), nil },
			CurrentUID:    func(string) string { return current.Load().(string) },
			Administrator: func(ctx context.Context) bool { u, _ := genericapirequest.UserFrom(ctx); return u.GetName() == "admin" },
		},
	})
	t.Cleanup(r.Destroy)
	if err := r.WaitForNextPoll(context.Background()); err != nil {
		t.Fatal(err)
	}
	b := create(t, r, "team-x", "old")
	if got := b.Annotations[arkv1.AnnotationNamespaceUID]; got != "uid-1" {
		t.Fatalf("recorded namespace uid %q", got)
	}
	as := func(name string) context.Context {
		return genericapirequest.WithUser(genericapirequest.WithNamespace(context.Background(), "team-x"), &user.DefaultInfo{Name: name})
	}
	current.Store("uid-2") // the namespace was deleted and made again
	if _, err := r.Get(as("new-owner"), "old", &metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the new owner reads the former namespace's backup: %v", err)
	}
	list, err := r.List(as("new-owner"), &metainternalversion.ListOptions{})
	if err != nil || len(list.(*ark.BackupList).Items) != 0 {
		t.Errorf("the new owner lists: %v %+v", err, list)
	}
	if _, _, err := r.Delete(as("new-owner"), "old", nil, &metav1.DeleteOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the new owner deletes: %v", err)
	}
	if _, err := (&ContentREST{r: r, key: backupstore.Backup.TarballKey}).Get(as("new-owner"), "old", &metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the new owner downloads: %v", err)
	}
	if _, err := NewContentsREST(r).Get(as("new-owner"), "old", &metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the new owner reads its contents: %v", err)
	}
	if obj, err := r.Get(as("admin"), "old", &metav1.GetOptions{}); err != nil || obj.(*ark.Backup).UID != b.UID {
		t.Errorf("the administrator cannot find it: %v", err)
	}
	list, err = r.List(as("admin"), &metainternalversion.ListOptions{})
	if err != nil || len(list.(*ark.BackupList).Items) != 1 {
		t.Errorf("the administrator lists: %v %+v", err, list)
	}
	// The new lifetime's own backups are the new owner's.
	if obj, err := r.Create(as("new-owner"), &ark.Backup{ObjectMeta: metav1.ObjectMeta{Name: "new", Namespace: "team-x"}, Spec: ark.BackupSpec{IncludedNamespaces: []string{"team-x"}, StorageLocation: "default"}}, nil, &metav1.CreateOptions{}); err != nil || obj.(*ark.Backup).Annotations[arkv1.AnnotationNamespaceUID] != "uid-2" {
		t.Fatalf("the new owner's backup: %v", err)
	}
	if _, err := r.Get(as("new-owner"), "new", &metav1.GetOptions{}); err != nil {
		t.Errorf("the new owner's own backup: %v", err)
	}
}

// useStore has the default location read and write through s from now on,
// as a test's stand-in for a misbehaving bucket.
func useStore(r *REST, s objectstore.Store) {
	l, err := r.locations.Get("default")
	if err != nil {
		panic(err)
	}
	next := *l
	next.Store = s
	r.locations.Put(&next)
}
