package gc

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	clienttesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/record"
	clocktesting "k8s.io/utils/clock/testing"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
	"github.com/arkproject/ark/pkg/backupstore"
	"github.com/arkproject/ark/pkg/backupstore/backupstoretest"
	"github.com/arkproject/ark/pkg/generated/clientset/versioned/fake"
	"github.com/arkproject/ark/pkg/generated/informers/externalversions"
	arkinformers "github.com/arkproject/ark/pkg/generated/informers/externalversions/ark/v1"
	"github.com/arkproject/ark/pkg/locations"
	"github.com/arkproject/ark/pkg/objectstore"
	"github.com/arkproject/ark/pkg/provenance"
	"github.com/arkproject/ark/pkg/snapshot"
)

const (
	testNS      = "ark"
	thisCluster = "this-cluster-uid"
)

// t0 is whole seconds, so timestamps survive any serialization unchanged.
var t0 = time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC)

var (
	backupsGVR  = arkv1.SchemeGroupVersion.WithResource("backups")
	restoresGVR = arkv1.SchemeGroupVersion.WithResource("restores")
)

var errOutage = errors.New("bucket unreachable")

// flakyStore wraps a store: while down, every read, listing, write and
// delete fails; while only readsDown, reads fail. It records the keys it
// deleted, in order.
type flakyStore struct {
	objectstore.Store

	mu        sync.Mutex
	down      bool
	readsDown bool
	deleted   []string
}

func (s *flakyStore) setReadsDown(down bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.readsDown = down
}

func (s *flakyStore) setDown(down bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down = down
}

func (s *flakyStore) isDown() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.down
}

func (s *flakyStore) deletedKeys() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.deleted...)
}

func (s *flakyStore) Attrs(ctx context.Context, key string) (objectstore.ObjectAttrs, error) {
	if s.isDown() {
		return objectstore.ObjectAttrs{}, errOutage
	}
	return s.Store.Attrs(ctx, key)
}

func (s *flakyStore) NewReader(ctx context.Context, key string) (io.ReadCloser, objectstore.ObjectAttrs, error) {
	s.mu.Lock()
	down := s.down || s.readsDown
	s.mu.Unlock()
	if down {
		return nil, objectstore.ObjectAttrs{}, errOutage
	}
	return s.Store.NewReader(ctx, key)
}

func (s *flakyStore) NewWriter(ctx context.Context, key string, cond objectstore.Conditions) (objectstore.Writer, error) {
	if s.isDown() {
		return nil, errOutage
	}
	return s.Store.NewWriter(ctx, key, cond)
}

func (s *flakyStore) List(ctx context.Context, opts objectstore.ListOptions) (objectstore.ListPage, error) {
	if s.isDown() {
		return objectstore.ListPage{}, errOutage
	}
	return s.Store.List(ctx, opts)
}

func (s *flakyStore) Delete(ctx context.Context, key string, cond objectstore.Conditions) error {
	if s.isDown() {
		return errOutage
	}
	err := s.Store.Delete(ctx, key, cond)
	if err == nil {
		s.mu.Lock()
		s.deleted = append(s.deleted, key)
		s.mu.Unlock()
	}
	return err
}

type harness struct {
	client   *fake.Clientset
	factory  externalversions.SharedInformerFactory
	informer arkinformers.BackupInformer
	store    *flakyStore
	dyn      *dynamicfake.FakeDynamicClient
	recorder *record.FakeRecorder
	clock    *clocktesting.FakeClock
	c        *Controller
}

// newHarness builds a collector over an empty fake clientset, a file store
// and a fake dynamic client. The informer is not started: objects are put in
// its indexer by addBackup. Deleting a backup through the fake clientset
// marks it Deleting, as the API server does, rather than removing it.
func newHarness(t *testing.T) *harness {
	t.Helper()
	files, err := objectstore.NewFileStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{
		client:   fake.NewSimpleClientset(),
		store:    &flakyStore{Store: files},
		recorder: record.NewFakeRecorder(100),
		clock:    clocktesting.NewFakeClock(t0),
		dyn: dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), map[schema.GroupVersionResource]string{
			volumeSnapshotGVR: "VolumeSnapshotList",
		}),
	}
	h.client.PrependReactor("delete", "backups", func(a clienttesting.Action) (bool, runtime.Object, error) {
		d := a.(clienttesting.DeleteAction)
		obj, err := h.client.Tracker().Get(backupsGVR, d.GetNamespace(), d.GetName())
		if err != nil {
			return true, nil, err
		}
		b := obj.(*arkv1.Backup).DeepCopy()
		b.Status.Phase = arkv1.BackupPhaseDeleting
		return true, b, h.client.Tracker().Update(backupsGVR, b, d.GetNamespace())
	})
	h.factory = externalversions.NewSharedInformerFactory(h.client, 0)
	h.informer = h.factory.Ark().V1().Backups()
	h.c = New(h.client, h.informer, locations.NewSet(&locations.Location{Name: "default", Store: h.store, Primary: true}), h.dyn, h.recorder)
	h.c.Layout = backupstore.Layout{HomeNamespace: testNS}
	h.c.clock = h.clock
	return h
}

func newBackup(name string, phase arkv1.BackupPhase, expiration *time.Time) *arkv1.Backup {
	b := &arkv1.Backup{
		ObjectMeta: metav1.ObjectMeta{Namespace: testNS, Name: name},
		Spec:       arkv1.BackupSpec{IncludedNamespaces: []string{"shop"}, TTL: metav1.Duration{Duration: time.Hour}},
		Status:     arkv1.BackupStatus{Phase: phase},
	}
	if expiration != nil {
		e := metav1.NewTime(*expiration)
		b.Status.Expiration = &e
	}
	return b
}

func at(d time.Duration) *time.Time {
	t := t0.Add(d)
	return &t
}

// backupFiles are the files a finished backup leaves under backups/<name>/.
func backupFiles(name string) []string {
	return []string{
		backupstore.Home(name).TarballKey(),
		backupstore.Home(name).LogsKey(),
		backupstore.Home(name).ResourceListKey(),
		backupstore.Home(name).ResultsKey(),
		backupstore.Home(name).ManifestKey(),
	}
}

// addBackup writes the backup's metadata file and its other files to the
// bucket, gives the object the metadata's generation as resourceVersion (as
// the API server does) and puts it in the clientset and the informer.
func (h *harness) addBackup(t *testing.T, b *arkv1.Backup) *arkv1.Backup {
	t.Helper()
	b = b.DeepCopy()
	meta, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	attrs, err := objectstore.PutBytes(context.Background(), h.store, backupstore.Home(b.Name).MetadataKey(), meta, objectstore.Conditions{})
	if err != nil {
		t.Fatal(err)
	}
	b.ResourceVersion = strconv.FormatInt(attrs.Generation, 10)
	for _, k := range backupFiles(b.Name) {
		h.put(t, k, []byte("content of "+k))
	}
	if err := h.client.Tracker().Add(b); err != nil {
		t.Fatal(err)
	}
	if err := h.informer.Informer().GetIndexer().Add(b.DeepCopy()); err != nil {
		t.Fatal(err)
	}
	return b
}

func (h *harness) addRestore(t *testing.T, name, specBackup, statusBackup string) {
	t.Helper()
	r := &arkv1.Restore{ObjectMeta: metav1.ObjectMeta{Namespace: testNS, Name: name}}
	r.Spec.BackupName = specBackup
	if specBackup == "" {
		r.Spec.ScheduleName = "nightly"
	}
	r.Status.BackupName = statusBackup
	r.Status.Phase = arkv1.RestorePhaseCompleted
	if err := h.client.Tracker().Add(r); err != nil {
		t.Fatal(err)
	}
	h.put(t, backupstore.HomeRestore(name).ResultsKey(), []byte("results"))
	h.put(t, backupstore.HomeRestore(name).LogsKey(), []byte("logs"))
}

// addVolumeSnapshot adds a VolumeSnapshot labelled, as the CSI snapshotter
// labels them, with the backup that made it.
func (h *harness) addVolumeSnapshot(t *testing.T, ns, name, backup string) {
	t.Helper()
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshot",
		"metadata": map[string]any{"namespace": ns, "name": name, "labels": map[string]any{snapshot.LabelBackupName: backup}},
	}}
	if err := h.dyn.Tracker().Add(u); err != nil {
		t.Fatal(err)
	}
}

func (h *harness) volumeSnapshotExists(t *testing.T, ns, name string) bool {
	t.Helper()
	_, err := h.dyn.Resource(volumeSnapshotGVR).Namespace(ns).Get(context.Background(), name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return false
	}
	if err != nil {
		t.Fatal(err)
	}
	return true
}

func (h *harness) put(t *testing.T, key string, data []byte) objectstore.ObjectAttrs {
	t.Helper()
	attrs, err := objectstore.PutBytes(context.Background(), h.store, key, data, objectstore.Conditions{})
	if err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
	return attrs
}

func gz(t *testing.T, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func (h *harness) putSnapshots(t *testing.T, backup string, records []snapshot.Record) {
	t.Helper()
	data, err := json.Marshal(records)
	if err != nil {
		t.Fatal(err)
	}
	h.put(t, backupstore.Home(backup).VolumeSnapshotsKey(), gz(t, data))
}

// keys lists every object in the bucket, read past the outage switch.
func (h *harness) keys(t *testing.T) []string {
	t.Helper()
	var out []string
	if err := objectstore.ListAll(context.Background(), h.store.Store, "", func(a objectstore.ObjectAttrs) error {
		out = append(out, a.Key)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

func (h *harness) exists(t *testing.T, key string) bool {
	t.Helper()
	_, err := h.store.Store.Attrs(context.Background(), key)
	if errors.Is(err, objectstore.ErrNotFound) {
		return false
	}
	if err != nil {
		t.Fatal(err)
	}
	return true
}

func (h *harness) getBackup(t *testing.T, name string) *arkv1.Backup {
	t.Helper()
	b, err := h.client.ArkV1().Backups(testNS).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get backup %s: %v", name, err)
	}
	return b
}

func (h *harness) restoreExists(t *testing.T, name string) bool {
	t.Helper()
	_, err := h.client.ArkV1().Restores(testNS).Get(context.Background(), name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return false
	}
	if err != nil {
		t.Fatal(err)
	}
	return true
}

// events drains the recorded events.
func (h *harness) events() []string {
	var out []string
	for {
		select {
		case e := <-h.recorder.Events:
			out = append(out, e)
		default:
			return out
		}
	}
}

// writes returns the clientset's mutating actions (create, update, patch, delete).
func (h *harness) writes() []clienttesting.Action {
	var out []clienttesting.Action
	for _, a := range h.client.Actions() {
		switch a.GetVerb() {
		case "create", "update", "patch", "delete", "delete-collection":
			out = append(out, a)
		}
	}
	return out
}

func (h *harness) dynDeletes() []string {
	var out []string
	for _, a := range h.dyn.Actions() {
		if d, ok := a.(clienttesting.DeleteAction); ok {
			out = append(out, d.GetNamespace()+"/"+d.GetName())
		}
	}
	return out
}

func key(name string) string { return testNS + "/" + name }

// fixture is a Deleting backup b1 with a hostPath snapshot archived in its
// folder, one archived elsewhere in the bucket, a CSI VolumeSnapshot and two
// restores made from it; and, which must all survive, a backup b10 (whose
// folder b1's is a prefix of), a backup b2 with its own VolumeSnapshot and a
// restore r10 of b2 (whose folder r1's is a prefix of).
type fixture struct {
	// gone must all be deleted with b1; kept must all survive.
	gone, kept []string
}

func (h *harness) deletingFixture(t *testing.T) fixture {
	t.Helper()
	var f fixture
	h.addBackup(t, newBackup("b1", arkv1.BackupPhaseDeleting, at(time.Hour)))
	f.gone = append(f.gone, backupstore.Home("b1").MetadataKey(), backupstore.Home("b1").VolumeSnapshotsKey())
	f.gone = append(f.gone, backupFiles("b1")...)
	h.put(t, snapshot.ArchiveKey(backupstore.Home("b1"), "pv-data"), []byte("archive"))
	// A file outside the folder that merely looks like b1's stays.
	h.put(t, "snapshots/b1/pv-legacy.tar.gz", []byte("archive"))
	f.gone = append(f.gone, snapshot.ArchiveKey(backupstore.Home("b1"), "pv-data"))
	f.kept = append(f.kept, "snapshots/b1/pv-legacy.tar.gz")
	h.putSnapshots(t, "b1", []snapshot.Record{
		{PersistentVolume: "pv-data", Snapshotter: snapshot.HostPathName, SnapshotID: snapshot.ArchiveKey(backupstore.Home("b1"), "pv-data"), Phase: snapshot.PhaseCompleted},
		{PersistentVolume: "pv-db", Snapshotter: snapshot.CSIName, SnapshotID: "shop/ark-b1-db", Phase: snapshot.PhaseCompleted},
		{PersistentVolume: "pv-failed", Snapshotter: snapshot.HostPathName, Phase: snapshot.PhaseFailed, Error: "no such directory"},
	})
	h.addVolumeSnapshot(t, "shop", "ark-b1-db", "b1")
	h.addVolumeSnapshot(t, "shop", "ark-b2-db", "b2")

	h.addRestore(t, "r1", "b1", "b1")
	h.addRestore(t, "r2", "", "b1") // from schedule nightly, resolved to b1
	h.addRestore(t, "r10", "b2", "b2")
	f.gone = append(f.gone, backupstore.HomeRestore("r1").ResultsKey(), backupstore.HomeRestore("r1").LogsKey(),
		backupstore.HomeRestore("r2").ResultsKey(), backupstore.HomeRestore("r2").LogsKey())
	f.kept = append(f.kept, backupstore.HomeRestore("r10").ResultsKey(), backupstore.HomeRestore("r10").LogsKey())

	h.addBackup(t, newBackup("b10", arkv1.BackupPhaseCompleted, at(time.Hour)))
	h.addBackup(t, newBackup("b2", arkv1.BackupPhaseCompleted, at(time.Hour)))
	for _, b := range []string{"b10", "b2"} {
		f.kept = append(f.kept, backupstore.Home(b).MetadataKey())
		f.kept = append(f.kept, backupFiles(b)...)
	}
	return f
}

func TestExpiredBackupIsDeletedThroughTheAPI(t *testing.T) {
	for _, phase := range []arkv1.BackupPhase{arkv1.BackupPhaseCompleted, arkv1.BackupPhasePartiallyFailed, arkv1.BackupPhaseFailed, arkv1.BackupPhaseFailedValidation} {
		t.Run(string(phase), func(t *testing.T) {
			h := newHarness(t)
			h.addBackup(t, newBackup("old", phase, at(-time.Minute)))
			before := h.keys(t)

			if err := h.c.sync(context.Background(), key("old")); err != nil {
				t.Fatalf("sync: %v", err)
			}

			writes := h.writes()
			if len(writes) != 1 || writes[0].GetVerb() != "delete" || writes[0].GetResource() != backupsGVR ||
				writes[0].(clienttesting.DeleteAction).GetName() != "old" {
				t.Fatalf("writes = %v, want one delete of backup old", writes)
			}
			if got := h.getBackup(t, "old").Status.Phase; got != arkv1.BackupPhaseDeleting {
				t.Errorf("phase after delete = %q, want Deleting", got)
			}
			events := h.events()
			if len(events) != 1 || !strings.HasPrefix(events[0], "Normal Expired ") || !strings.Contains(events[0], t0.Add(-time.Minute).Format(time.RFC3339)) {
				t.Errorf("events = %q, want one Normal Expired naming the expiration", events)
			}
			// Files go in the Deleting pass, not here.
			if after := h.keys(t); !slices.Equal(after, before) {
				t.Errorf("bucket changed on expiry: %v -> %v", before, after)
			}
		})
	}
}

func TestUnexpiredOrRunningBackupIsUntouched(t *testing.T) {
	cases := []struct {
		name       string
		phase      arkv1.BackupPhase
		expiration *time.Time
	}{
		{"completed, expires later", arkv1.BackupPhaseCompleted, at(time.Second)},
		{"completed, no expiration", arkv1.BackupPhaseCompleted, nil},
		{"in progress past expiration", arkv1.BackupPhaseInProgress, at(-time.Hour)},
		{"new past expiration", arkv1.BackupPhaseNew, at(-time.Hour)},
		{"no phase past expiration", "", at(-time.Hour)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			h.addBackup(t, newBackup("b", tc.phase, tc.expiration))
			before := h.keys(t)

			if err := h.c.sync(context.Background(), key("b")); err != nil {
				t.Fatalf("sync: %v", err)
			}

			if w := h.writes(); len(w) != 0 {
				t.Errorf("writes = %v, want none", w)
			}
			if e := h.events(); len(e) != 0 {
				t.Errorf("events = %q, want none", e)
			}
			if got := h.getBackup(t, "b").Status.Phase; got != tc.phase {
				t.Errorf("phase = %q, want %q", got, tc.phase)
			}
			if after := h.keys(t); !slices.Equal(after, before) {
				t.Errorf("bucket changed: %v -> %v", before, after)
			}
		})
	}
}

func TestDeletingBackupIsRemovedCompletely(t *testing.T) {
	h := newHarness(t)
	f := h.deletingFixture(t)

	if err := h.c.sync(context.Background(), key("b1")); err != nil {
		t.Fatalf("sync: %v", err)
	}

	for _, k := range f.gone {
		if h.exists(t, k) {
			t.Errorf("%s still in the bucket", k)
		}
	}
	for _, k := range f.kept {
		if !h.exists(t, k) {
			t.Errorf("%s was deleted", k)
		}
	}
	if h.volumeSnapshotExists(t, "shop", "ark-b1-db") {
		t.Error("VolumeSnapshot shop/ark-b1-db of b1 still exists")
	}
	if !h.volumeSnapshotExists(t, "shop", "ark-b2-db") {
		t.Error("VolumeSnapshot shop/ark-b2-db of b2 was deleted")
	}
	if got := h.dynDeletes(); !slices.Equal(got, []string{"shop/ark-b1-db"}) {
		t.Errorf("VolumeSnapshot deletes = %v, want [shop/ark-b1-db]", got)
	}
	for _, r := range []string{"r1", "r2"} {
		if h.restoreExists(t, r) {
			t.Errorf("restore %s of b1 still exists", r)
		}
	}
	if !h.restoreExists(t, "r10") {
		t.Error("restore r10 of b2 was deleted")
	}
	deleted := h.store.deletedKeys()
	if len(deleted) == 0 || deleted[len(deleted)-1] != backupstore.Home("b1").MetadataKey() {
		t.Errorf("bucket deletes = %v, want %s last", deleted, backupstore.Home("b1").MetadataKey())
	}
	if slices.Contains(deleted[:max(len(deleted)-1, 0)], backupstore.Home("b1").MetadataKey()) {
		t.Errorf("metadata deleted more than once: %v", deleted)
	}
	// The other backups were not touched through the API either.
	for _, a := range h.writes() {
		if a.GetResource() == backupsGVR {
			t.Errorf("backup write %v, want none", a)
		}
		if a.GetResource() == restoresGVR && a.GetVerb() != "delete" {
			t.Errorf("restore write %v, want only deletes", a)
		}
	}
	if e := h.events(); len(e) != 0 {
		t.Errorf("events = %q, want none", e)
	}
	if reason := h.getBackup(t, "b1").Status.FailureReason; reason != "" {
		t.Errorf("failureReason = %q, want none", reason)
	}
}

// A backup without a volume-snapshots file (it failed early) is deleted all the same.
func TestDeletingBackupWithoutSnapshotRecords(t *testing.T) {
	h := newHarness(t)
	h.addBackup(t, newBackup("b1", arkv1.BackupPhaseDeleting, nil))

	if err := h.c.sync(context.Background(), key("b1")); err != nil {
		t.Fatalf("sync: %v", err)
	}
	if left := h.keys(t); len(left) != 0 {
		t.Errorf("bucket holds %v, want nothing", left)
	}
}

// The metadata file goes only while it is still the version that was read
// as Deleting; a newer one is not deleted.
func TestMetadataOfAnotherGenerationIsKept(t *testing.T) {
	h := newHarness(t)
	b := h.addBackup(t, newBackup("b1", arkv1.BackupPhaseDeleting, nil))
	rewritten, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	attrs := h.put(t, backupstore.Home("b1").MetadataKey(), rewritten)
	if strconv.FormatInt(attrs.Generation, 10) == b.ResourceVersion {
		t.Fatalf("rewriting kept generation %d", attrs.Generation)
	}

	if err := h.c.sync(context.Background(), key("b1")); err == nil {
		t.Fatal("sync succeeded, want an error")
	}
	if !h.exists(t, backupstore.Home("b1").MetadataKey()) {
		t.Error("the newer metadata file was deleted")
	}
	if reason := h.getBackup(t, "b1").Status.FailureReason; !strings.HasPrefix(reason, "deletion blocked:") {
		t.Errorf("failureReason = %q, want deletion blocked", reason)
	}
}

// checkNothingDeleted asserts that b1's deletion left everything in place
// and was recorded as blocked.
func (h *harness) checkNothingDeleted(t *testing.T, before []string, reasonHas string) {
	t.Helper()
	if after := h.keys(t); !slices.Equal(after, before) {
		t.Errorf("bucket changed: %v -> %v", before, after)
	}
	if d := h.store.deletedKeys(); len(d) != 0 {
		t.Errorf("bucket deletes = %v, want none", d)
	}
	if d := h.dynDeletes(); len(d) != 0 {
		t.Errorf("VolumeSnapshot deletes = %v, want none", d)
	}
	if !h.volumeSnapshotExists(t, "shop", "ark-b1-db") {
		t.Error("VolumeSnapshot shop/ark-b1-db was deleted")
	}
	for _, r := range []string{"r1", "r2", "r10"} {
		if !h.restoreExists(t, r) {
			t.Errorf("restore %s was deleted", r)
		}
	}
	b := h.getBackup(t, "b1")
	if b.Status.Phase != arkv1.BackupPhaseDeleting {
		t.Errorf("phase = %q, want Deleting", b.Status.Phase)
	}
	if !strings.HasPrefix(b.Status.FailureReason, "deletion blocked:") || !strings.Contains(b.Status.FailureReason, reasonHas) {
		t.Errorf("failureReason = %q, want \"deletion blocked: ...%s...\"", b.Status.FailureReason, reasonHas)
	}
	events := h.events()
	if len(events) != 1 || !strings.HasPrefix(events[0], "Warning DeletionBlocked deletion blocked:") {
		t.Errorf("events = %q, want one Warning DeletionBlocked", events)
	}
}

func TestBucketOutageDeletesNothing(t *testing.T) {
	h := newHarness(t)
	h.deletingFixture(t)
	before := h.keys(t)

	h.store.setDown(true)
	err := h.c.sync(context.Background(), key("b1"))
	h.store.setDown(false)

	if !errors.Is(err, errOutage) {
		t.Errorf("sync = %v, want the outage (so the backup is retried)", err)
	}
	h.checkNothingDeleted(t, before, errOutage.Error())
}

// Snapshot records that cannot be read block deletion even when listing and
// deleting work: deleting the files would lose the only record of the
// snapshots, which would then never be deleted.
func TestUnreadableSnapshotRecordsBlockDeletion(t *testing.T) {
	h := newHarness(t)
	h.deletingFixture(t)
	before := h.keys(t)

	h.store.setReadsDown(true)
	err := h.c.sync(context.Background(), key("b1"))
	h.store.setReadsDown(false)

	if !errors.Is(err, errOutage) {
		t.Errorf("sync = %v, want the read error", err)
	}
	h.checkNothingDeleted(t, before, errOutage.Error())
}

func TestCorruptSnapshotRecordsBlockDeletion(t *testing.T) {
	cases := map[string]func(t *testing.T) []byte{
		"not gzip":       func(*testing.T) []byte { return []byte(`[{"snapshotter":"hostpath"}]`) },
		"truncated gzip": func(t *testing.T) []byte { d := gz(t, []byte(`[{"snapshotter":"hostpath"}]`)); return d[:len(d)-6] },
		"not JSON":       func(t *testing.T) []byte { return gz(t, []byte(`[{"snapshotter":`)) },
	}
	for name, data := range cases {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t)
			h.deletingFixture(t)
			h.put(t, backupstore.Home("b1").VolumeSnapshotsKey(), data(t))
			before := h.keys(t)

			if err := h.c.sync(context.Background(), key("b1")); err == nil {
				t.Error("sync succeeded, want an error")
			}
			h.checkNothingDeleted(t, before, "volume snapshots")
		})
	}
}

// signers are this cluster's and another's, sharing the bucket.
func signers() (mine, theirs *provenance.Signer) {
	mine, _ = provenance.NewSigner(bytes.Repeat([]byte{1}, provenance.KeySize), thisCluster)
	theirs, _ = provenance.NewSigner(bytes.Repeat([]byte{2}, provenance.KeySize), "other-cluster-uid")
	return mine, theirs
}

// signed stores b signed by s, as that cluster's API would have.
func (h *harness) signed(t *testing.T, b *arkv1.Backup, s *provenance.Signer) *arkv1.Backup {
	t.Helper()
	if s != nil {
		if err := s.Sign(b); err != nil {
			t.Fatal(err)
		}
	}
	return h.addBackup(t, b)
}

// Each backup belongs to the cluster whose API accepted it: another
// cluster's Deleting backup, or a record nobody here accepted, is left
// whole, and says why; this cluster's own is deleted.
func TestOnlyThisClustersBackupsAreDeleted(t *testing.T) {
	mine, theirs := signers()
	for name, tc := range map[string]struct {
		signer  *provenance.Signer
		deleted bool
	}{
		"this cluster's":    {mine, true},
		"another cluster's": {theirs, false},
		"unsigned":          {nil, false},
	} {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t)
			h.c.Provenance = mine
			h.deletingFixture(t)
			b := h.getBackup(t, "b1")
			if err := h.client.Tracker().Delete(backupsGVR, testNS, "b1"); err != nil {
				t.Fatal(err)
			}
			b.ResourceVersion = ""
			h.signed(t, b, tc.signer)
			before := h.keys(t)

			if err := h.c.sync(context.Background(), key("b1")); err != nil {
				t.Fatalf("sync: %v", err)
			}
			if tc.deleted {
				if h.exists(t, backupstore.Home("b1").MetadataKey()) {
					t.Error("this cluster's backup was not deleted")
				}
				return
			}
			if got := h.keys(t); !slices.Equal(got, before) {
				t.Errorf("bucket went from %v to %v", before, got)
			}
			if d := h.dynDeletes(); len(d) != 0 {
				t.Errorf("VolumeSnapshots deleted: %v", d)
			}
			if w := h.writes(); len(w) != 0 {
				t.Errorf("wrote to a backup that is not this cluster's: %v", w)
			}
			if e := h.events(); len(e) != 1 || !strings.Contains(e[0], "adopt it") {
				t.Errorf("events = %q, want one saying how to take it over", e)
			}
		})
	}
}

// Expired backups of another cluster (or nobody's) are not even marked
// Deleting: the cluster whose API accepted them decides when they go.
func TestOnlyThisClustersBackupsExpire(t *testing.T) {
	mine, theirs := signers()
	h := newHarness(t)
	h.c.Provenance = mine
	h.signed(t, newBackup("theirs", arkv1.BackupPhaseCompleted, at(-time.Minute)), theirs)
	h.signed(t, newBackup("nobodys", arkv1.BackupPhaseCompleted, at(-time.Minute)), nil)
	h.signed(t, newBackup("mine", arkv1.BackupPhaseCompleted, at(-time.Minute)), mine)
	for _, name := range []string{"theirs", "nobodys", "mine"} {
		if err := h.c.sync(context.Background(), key(name)); err != nil {
			t.Fatalf("sync %s: %v", name, err)
		}
	}
	for name, want := range map[string]arkv1.BackupPhase{"theirs": arkv1.BackupPhaseCompleted, "nobodys": arkv1.BackupPhaseCompleted, "mine": arkv1.BackupPhaseDeleting} {
		if got := h.getBackup(t, name).Status.Phase; got != want {
			t.Errorf("%s: phase %q, want %q", name, got, want)
		}
	}
}

func TestScanQueuesExpiredAndDeletingBackups(t *testing.T) {
	h := newHarness(t)
	for _, b := range []*arkv1.Backup{
		newBackup("expired-completed", arkv1.BackupPhaseCompleted, at(-time.Second)),
		newBackup("expired-failed", arkv1.BackupPhaseFailed, at(-time.Hour)),
		newBackup("expired-partially-failed", arkv1.BackupPhasePartiallyFailed, at(-time.Hour)),
		newBackup("deleting", arkv1.BackupPhaseDeleting, nil),
		newBackup("deleting-unexpired", arkv1.BackupPhaseDeleting, at(time.Hour)),
		newBackup("fresh", arkv1.BackupPhaseCompleted, at(time.Second)),
		newBackup("no-expiration", arkv1.BackupPhaseCompleted, nil),
		newBackup("running", arkv1.BackupPhaseInProgress, at(-time.Hour)),
		newBackup("new", arkv1.BackupPhaseNew, at(-time.Hour)),
	} {
		if err := h.informer.Informer().GetIndexer().Add(b); err != nil {
			t.Fatal(err)
		}
	}

	h.c.scan(context.Background())

	var got []string
	for h.c.queue.Len() > 0 {
		k, _ := h.c.queue.Get()
		h.c.queue.Done(k)
		got = append(got, k)
	}
	sort.Strings(got)
	want := []string{key("deleting"), key("deleting-unexpired"), key("expired-completed"), key("expired-failed"), key("expired-partially-failed")}
	if !slices.Equal(got, want) {
		t.Errorf("queued %v, want %v", got, want)
	}
}

// A scan queues only this cluster's expired backups: the others would each
// be read from the bucket and left alone, every scan.
func TestScanSkipsOtherClustersExpiredBackups(t *testing.T) {
	mine, theirs := signers()
	h := newHarness(t)
	h.c.Provenance = mine
	for _, sb := range []struct {
		b      *arkv1.Backup
		signer *provenance.Signer
	}{
		{newBackup("theirs", arkv1.BackupPhaseCompleted, at(-time.Minute)), theirs},
		{newBackup("nobodys", arkv1.BackupPhaseCompleted, at(-time.Minute)), nil},
		{newBackup("mine", arkv1.BackupPhaseCompleted, at(-time.Minute)), mine},
		{newBackup("theirs-deleting", arkv1.BackupPhaseDeleting, nil), theirs},
	} {
		b := sb.b
		if sb.signer != nil {
			if err := sb.signer.Sign(b); err != nil {
				t.Fatal(err)
			}
		}
		if err := h.informer.Informer().GetIndexer().Add(b); err != nil {
			t.Fatal(err)
		}
	}
	h.c.scan(context.Background())
	var got []string
	for h.c.queue.Len() > 0 {
		k, _ := h.c.queue.Get()
		h.c.queue.Done(k)
		got = append(got, k)
	}
	sort.Strings(got)
	if want := []string{key("mine"), key("theirs-deleting")}; !slices.Equal(got, want) {
		t.Errorf("queued %v, want %v", got, want)
	}
}

// Run, end to end over a running informer: an expired backup is marked
// Deleting, which queues it again, and then everything of it is removed.
func TestRunCollectsExpiredBackup(t *testing.T) {
	h := newHarness(t)
	h.deletingFixture(t)
	h.addBackup(t, newBackup("old", arkv1.BackupPhaseCompleted, at(-time.Minute)))
	h.c.Interval = 20 * time.Millisecond

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	h.factory.Start(ctx.Done())
	go func() {
		defer close(done)
		h.c.Run(ctx)
	}()
	defer func() {
		cancel()
		<-done
		h.factory.Shutdown()
	}()

	deadline := time.Now().Add(10 * time.Second)
	for h.exists(t, backupstore.Home("old").MetadataKey()) || h.exists(t, backupstore.Home("b1").MetadataKey()) {
		if time.Now().After(deadline) {
			t.Fatalf("backups not collected; bucket holds %v", h.keys(t))
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, k := range backupFiles("old") {
		if h.exists(t, k) {
			t.Errorf("%s still in the bucket", k)
		}
	}
	if !h.exists(t, backupstore.Home("b2").MetadataKey()) || !h.exists(t, backupstore.Home("b10").MetadataKey()) {
		t.Error("an unexpired backup was collected")
	}
}

// fakeGCE stands in for the compute API's snapshot deletion, whose HTTP
// exchange pkg/snapshot tests against a recorded fake.
type fakeGCE struct {
	deleted []string
	err     error
	// notMade are snapshot IDs labelled for another backup.
	notMade map[string]bool
}

func (f *fakeGCE) Made(_ context.Context, backup string, rec snapshot.Record) error {
	if f.notMade[rec.SnapshotID] {
		return fmt.Errorf("GCE snapshot %s is not labelled for backup %s", rec.SnapshotID, backup)
	}
	return nil
}

func (f *fakeGCE) Delete(_ context.Context, rec snapshot.Record) error {
	if f.err != nil {
		return f.err
	}
	f.deleted = append(f.deleted, rec.SnapshotID)
	return nil
}

// withGCERecord puts a GCE disk snapshot first among b1's records, so that a
// failure to delete it must leave everything else in place.
func (h *harness) withGCERecord(t *testing.T) {
	t.Helper()
	h.putSnapshots(t, "b1", []snapshot.Record{
		{PersistentVolume: "pv-disk", Snapshotter: snapshot.GCEName, SnapshotID: "projects/p/global/snapshots/ark-b1-pv-disk", Phase: snapshot.PhaseCompleted},
		{PersistentVolume: "pv-data", Snapshotter: snapshot.HostPathName, SnapshotID: snapshot.ArchiveKey(backupstore.Home("b1"), "pv-data"), Phase: snapshot.PhaseCompleted},
		{PersistentVolume: "pv-db", Snapshotter: snapshot.CSIName, SnapshotID: "shop/ark-b1-db", Phase: snapshot.PhaseCompleted},
	})
}

func TestGCESnapshotsAreDeleted(t *testing.T) {
	h := newHarness(t)
	f := h.deletingFixture(t)
	h.withGCERecord(t)
	gce := &fakeGCE{}
	h.c.GCE = gce

	if err := h.c.sync(context.Background(), key("b1")); err != nil {
		t.Fatalf("sync: %v", err)
	}
	if !slices.Equal(gce.deleted, []string{"projects/p/global/snapshots/ark-b1-pv-disk"}) {
		t.Errorf("GCE deletes = %v", gce.deleted)
	}
	if h.exists(t, backupstore.Home("b1").MetadataKey()) || h.volumeSnapshotExists(t, "shop", "ark-b1-db") {
		t.Error("b1 was not deleted completely")
	}
	for _, k := range f.kept {
		if !h.exists(t, k) {
			t.Errorf("%s was deleted", k)
		}
	}
}

// A GCE snapshot that cannot be deleted (no --gce-project, or the API
// refuses) blocks the backup's deletion before anything is gone: deleting
// the records would leak the disk snapshot for good.
func TestUndeletableGCESnapshotBlocksDeletion(t *testing.T) {
	for name, tc := range map[string]struct {
		gce    SnapshotDeleter
		reason string
	}{
		"no --gce-project": {nil, "cannot be checked or deleted by a server without --gce-project"},
		"another backup's": {&fakeGCE{notMade: map[string]bool{"projects/p/global/snapshots/ark-b1-pv-disk": true}}, "not labelled for backup b1"},
		"API refuses":      {&fakeGCE{err: errors.New("RESOURCE_IN_USE_BY_ANOTHER_RESOURCE: used by image img-1")}, "used by image img-1"},
	} {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t)
			h.deletingFixture(t)
			h.withGCERecord(t)
			h.c.GCE = tc.gce
			before := h.keys(t)

			if err := h.c.sync(context.Background(), key("b1")); err == nil {
				t.Error("sync succeeded, want an error")
			}
			h.checkNothingDeleted(t, before, tc.reason)
		})
	}
}

func TestUnknownSnapshotterBlocksDeletion(t *testing.T) {
	h := newHarness(t)
	h.deletingFixture(t)
	h.putSnapshots(t, "b1", []snapshot.Record{{PersistentVolume: "pv-x", Snapshotter: "aws", SnapshotID: "snap-123", Phase: snapshot.PhaseCompleted}})
	before := h.keys(t)
	if err := h.c.sync(context.Background(), key("b1")); err == nil {
		t.Error("sync succeeded, want an error")
	}
	h.checkNothingDeleted(t, before, `taken by "aws", which this server does not know`)
}

// The volume-snapshot records are read from the bucket: a record naming
// another backup's archive, or a VolumeSnapshot this backup did not make,
// blocks the deletion, with the reason, and nothing at all is deleted.
func TestSnapshotRecordsAreNotFollowedOutOfTheBackup(t *testing.T) {
	victim := snapshot.ArchiveKey(backupstore.Home("b2"), "pv-data")
	for name, tc := range map[string]struct {
		rec    snapshot.Record
		reason string
	}{
		"another backup's archive":        {snapshot.Record{PersistentVolume: "pv-data", Snapshotter: snapshot.HostPathName, SnapshotID: victim}, "outside the backup's folder"},
		"a path climbing out":             {snapshot.Record{PersistentVolume: "pv-up", Snapshotter: snapshot.HostPathName, SnapshotID: "backups/b1/../b2/b2.tar.gz"}, "outside the backup's folder"},
		"another backup's VolumeSnapshot": {snapshot.Record{PersistentVolume: "pv-db", Snapshotter: snapshot.CSIName, SnapshotID: "shop/ark-b2-db"}, "this backup did not take it"},
	} {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t)
			h.addBackup(t, newBackup("b1", arkv1.BackupPhaseDeleting, at(time.Hour)))
			h.addBackup(t, newBackup("b2", arkv1.BackupPhaseCompleted, at(time.Hour)))
			h.put(t, victim, []byte("b2's archive"))
			h.put(t, backupstore.Home("b2").TarballKey(), []byte("b2's tarball"))
			h.put(t, backupstore.Home("b1").TarballKey(), []byte("b1's tarball"))
			h.addVolumeSnapshot(t, "shop", "ark-b2-db", "b2")
			h.addVolumeSnapshot(t, "shop", "ark-b1-db", "b1")
			tc.rec.Phase = snapshot.PhaseCompleted
			h.putSnapshots(t, "b1", []snapshot.Record{
				{PersistentVolume: "pv-own", Snapshotter: snapshot.CSIName, SnapshotID: "shop/ark-b1-db", Phase: snapshot.PhaseCompleted},
				tc.rec,
			})
			before := h.keys(t)
			if err := h.c.sync(context.Background(), key("b1")); err == nil {
				t.Error("sync succeeded, want the deletion blocked")
			}
			if after := h.keys(t); !slices.Equal(after, before) {
				t.Errorf("bucket changed: %v -> %v", before, after)
			}
			if d := h.dynDeletes(); len(d) != 0 {
				t.Errorf("VolumeSnapshot deletes = %v, want none", d)
			}
			if b := h.getBackup(t, "b1"); !strings.Contains(b.Status.FailureReason, tc.reason) {
				t.Errorf("failureReason = %q, want it to say %q", b.Status.FailureReason, tc.reason)
			}
			if !h.volumeSnapshotExists(t, "shop", "ark-b1-db") || !h.volumeSnapshotExists(t, "shop", "ark-b2-db") {
				t.Error("a VolumeSnapshot was deleted")
			}
		})
	}
}

// Every terminal phase expires, a backup refused before it ran (no
// expiration of its own) included, by its TTL from its creation.
func TestFailedValidationExpiresByItsTTL(t *testing.T) {
	b := newBackup("refused", arkv1.BackupPhaseFailedValidation, nil)
	b.CreationTimestamp = metav1.NewTime(t0.Add(-2 * time.Hour))
	if !expired(b, t0) {
		t.Error("a FailedValidation backup older than its TTL does not expire")
	}
	b.CreationTimestamp = metav1.NewTime(t0.Add(-time.Minute))
	if expired(b, t0) {
		t.Error("a FailedValidation backup younger than its TTL expired")
	}
	if expired(newBackup("corrupt", arkv1.BackupPhase("Corrupt"), at(-time.Hour)), t0) {
		t.Error("a Corrupt record expired: nothing of it is trusted, expiration included")
	}
}

// A ReadOnly location's backups never expire and are never deleted here:
// not when expired, not when marked Deleting.
func TestReadOnlyLocationIsLeftAlone(t *testing.T) {
	for _, phase := range []arkv1.BackupPhase{arkv1.BackupPhaseCompleted, arkv1.BackupPhaseDeleting} {
		t.Run(string(phase), func(t *testing.T) {
			h := newHarness(t)
			h.c.locations.Put(&locations.Location{Name: "mounted", Store: h.store, ReadOnly: true})
			b := newBackup("old", phase, at(-time.Minute))
			b.Spec.StorageLocation = "mounted"
			h.addBackup(t, b)
			before := h.keys(t)
			if err := h.c.sync(context.Background(), key("old")); err != nil {
				t.Fatalf("sync: %v", err)
			}
			if writes := h.writes(); len(writes) != 0 {
				t.Errorf("writes = %v, want none", writes)
			}
			if after := h.keys(t); !slices.Equal(after, before) {
				t.Errorf("bucket changed: %v -> %v", before, after)
			}
		})
	}
}

// An encrypted backup whose key is not held: one that took no volume
// snapshots is deleted all the same (its unreadable records would list
// none), so a backup whose key is gone for good can go; one that took
// some stays Deleting, blocked with the reason, and nothing is deleted,
// for its snapshots could not be found without the key.
func TestDeletingEncryptedBackupWithoutItsKey(t *testing.T) {
	for _, attempted := range []int{0, 2} {
		t.Run(fmt.Sprintf("%d snapshots", attempted), func(t *testing.T) {
			h := newHarness(t)
			b := newBackup("b1", arkv1.BackupPhaseDeleting, nil)
			b.Status.EncryptionKeyID = "gone"
			b.Status.VolumeSnapshotsAttempted = attempted
			h.addBackup(t, b)
			keys, _ := backupstoretest.Keys(t, "gone", "gone")
			if _, err := (backupstore.Layout{Keys: keys}).Backup("", "b1").StartEncryption(context.Background(), h.store); err != nil {
				t.Fatal(err)
			}
			h.put(t, backupstore.Home("b1").VolumeSnapshotsKey(), []byte("sealed records"))
			before := h.keys(t)

			err := h.c.sync(context.Background(), key("b1"))
			if attempted == 0 {
				if err != nil {
					t.Fatalf("sync: %v", err)
				}
				if left := h.keys(t); len(left) != 0 {
					t.Errorf("bucket holds %v, want nothing", left)
				}
				if ev := h.events(); len(ev) != 1 || !strings.HasPrefix(ev[0], "Normal DeletingWithoutKey") || !strings.Contains(ev[0], `"gone"`) {
					t.Errorf("events = %q, want one DeletingWithoutKey naming the key", ev)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), "put the key back") {
				t.Errorf("sync = %v, want the missing key", err)
			}
			if after := h.keys(t); !slices.Equal(after, before) {
				t.Errorf("bucket changed: %v -> %v", before, after)
			}
			if d := h.store.deletedKeys(); len(d) != 0 {
				t.Errorf("bucket deletes = %v, want none", d)
			}
			if r := h.getBackup(t, "b1").Status.FailureReason; !strings.HasPrefix(r, "deletion blocked:") || !strings.Contains(r, `key "gone"`) || !strings.Contains(r, "2 volume snapshots") {
				t.Errorf("failureReason = %q", r)
			}
		})
	}
}
