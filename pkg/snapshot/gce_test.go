package snapshot

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/api/compute/v1"
	"google.golang.org/api/option"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/arkproject/ark/pkg/backupstore"
)

// recordedCompute replays the compute API's responses to a disk snapshot, as
// recorded from the API's documented shapes: createSnapshot answers with a
// RUNNING zone operation, polling it gives RUNNING then DONE (or DONE with an
// error), and the snapshot then reports its storage size. It is a recorded
// fake because no GCE project is reachable from here.
type recordedCompute struct {
	mu       sync.Mutex
	requests []string
	body     map[string]any
	polls    int
	failWith string
	// deleted is set once a snapshot deletion's operation is DONE.
	deleted     bool
	deletePolls int
}

func (r *recordedCompute) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.requests = append(r.requests, req.Method+" "+req.URL.Path)
	w.Header().Set("Content-Type", "application/json")
	switch {
	case req.Method == http.MethodPost && strings.HasSuffix(req.URL.Path, "/projects/proj/zones/us-central1-a/disks/pd-1/createSnapshot"):
		data, _ := io.ReadAll(req.Body)
		json.Unmarshal(data, &r.body)
		io.WriteString(w, `{"kind":"compute#operation","id":"1234","name":"operation-1700000000000-abc","zone":"https://www.googleapis.com/compute/v1/projects/proj/zones/us-central1-a","operationType":"createSnapshot","targetLink":"https://www.googleapis.com/compute/v1/projects/proj/zones/us-central1-a/disks/pd-1","status":"RUNNING","progress":0}`)
	case req.Method == http.MethodGet && strings.HasSuffix(req.URL.Path, "/projects/proj/zones/us-central1-a/operations/operation-1700000000000-abc"):
		r.polls++
		switch {
		case r.polls < 2:
			io.WriteString(w, `{"kind":"compute#operation","name":"operation-1700000000000-abc","status":"RUNNING","progress":50}`)
		case r.failWith != "":
			io.WriteString(w, `{"kind":"compute#operation","name":"operation-1700000000000-abc","status":"DONE","progress":100,"error":{"errors":[{"code":"QUOTA_EXCEEDED","message":"`+r.failWith+`"}]}}`)
		default:
			io.WriteString(w, `{"kind":"compute#operation","name":"operation-1700000000000-abc","status":"DONE","progress":100}`)
		}
	case req.Method == http.MethodGet && strings.HasSuffix(req.URL.Path, "/projects/proj/global/snapshots/ark-nightly-pv-gce"):
		io.WriteString(w, `{"kind":"compute#snapshot","name":"ark-nightly-pv-gce","status":"READY","diskSizeGb":"10","storageBytes":"1073741824","labels":{"ark-backup":"nightly"}}`)
	case req.Method == http.MethodDelete && strings.HasSuffix(req.URL.Path, "/projects/proj/global/snapshots/ark-nightly-pv-gce") && !r.deleted:
		io.WriteString(w, `{"kind":"compute#operation","name":"operation-del-1","operationType":"delete","targetLink":"https://www.googleapis.com/compute/v1/projects/proj/global/snapshots/ark-nightly-pv-gce","status":"PENDING","progress":0}`)
	case req.Method == http.MethodGet && strings.HasSuffix(req.URL.Path, "/projects/proj/global/operations/operation-del-1"):
		r.deletePolls++
		switch {
		case r.deletePolls < 2:
			io.WriteString(w, `{"kind":"compute#operation","name":"operation-del-1","status":"RUNNING","progress":50}`)
		case r.failWith != "":
			io.WriteString(w, `{"kind":"compute#operation","name":"operation-del-1","status":"DONE","progress":100,"error":{"errors":[{"code":"RESOURCE_IN_USE_BY_ANOTHER_RESOURCE","message":"`+r.failWith+`"}]}}`)
		default:
			r.deleted = true
			io.WriteString(w, `{"kind":"compute#operation","name":"operation-del-1","status":"DONE","progress":100}`)
		}
	default:
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, `{"error":{"code":404,"message":"not found"}}`)
	}
}

func newGCE(t *testing.T, fake *recordedCompute) *GCE {
	t.Helper()
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	svc, err := compute.NewService(context.Background(), option.WithEndpoint(srv.URL+"/compute/v1/"), option.WithoutAuthentication(), option.WithHTTPClient(srv.Client()))
	if err != nil {
		t.Fatal(err)
	}
	return &GCE{Service: svc, Project: "proj", PollInterval: 10 * time.Millisecond, Timeout: 5 * time.Second}
}

func gcePV() *corev1.PersistentVolume {
	return &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: "pv-gce"},
		Spec: corev1.PersistentVolumeSpec{PersistentVolumeSource: corev1.PersistentVolumeSource{
			CSI: &corev1.CSIPersistentVolumeSource{Driver: "pd.csi.storage.gke.io", VolumeHandle: "projects/proj/zones/us-central1-a/disks/pd-1"},
		}},
	}
}

func TestGCESnapshot(t *testing.T) {
	fake := &recordedCompute{}
	g := newGCE(t, fake)
	if !g.Handles(gcePV()) {
		t.Fatal("a pd.csi.storage.gke.io volume is not handled")
	}
	rec, err := g.Snapshot(context.Background(), backupstore.Home("nightly"), gcePV())
	if err != nil {
		t.Fatal(err)
	}
	if rec.SnapshotID != "projects/proj/global/snapshots/ark-nightly-pv-gce" || rec.VolumeID != "projects/proj/zones/us-central1-a/disks/pd-1" || rec.Size != 1<<30 {
		t.Errorf("record %+v", rec)
	}
	if fake.body["name"] != "ark-nightly-pv-gce" || fake.body["labels"].(map[string]any)["ark-backup"] != "nightly" {
		t.Errorf("createSnapshot body %+v", fake.body)
	}
	if fake.polls != 2 {
		t.Errorf("operation polled %d times, want until DONE (2)", fake.polls)
	}
}

func TestGCESnapshotOperationError(t *testing.T) {
	fake := &recordedCompute{failWith: "Quota SNAPSHOTS exceeded"}
	_, err := newGCE(t, fake).Snapshot(context.Background(), backupstore.Home("nightly"), gcePV())
	if err == nil || !strings.Contains(err.Error(), "QUOTA_EXCEEDED: Quota SNAPSHOTS exceeded") {
		t.Fatalf("got %v", err)
	}
}

func TestGCEHandlesOnlyGCEDisks(t *testing.T) {
	g := &GCE{Project: "proj"}
	inTree := &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"topology.kubernetes.io/zone": "europe-west1-b"}},
		Spec:       corev1.PersistentVolumeSpec{PersistentVolumeSource: corev1.PersistentVolumeSource{GCEPersistentDisk: &corev1.GCEPersistentDiskVolumeSource{PDName: "disk-9"}}},
	}
	if p, z, d, err := g.disk(inTree); err != nil || p != "proj" || z != "europe-west1-b" || d != "disk-9" {
		t.Errorf("in-tree disk: %s %s %s %v", p, z, d, err)
	}
	noZone := inTree.DeepCopy()
	noZone.Labels = nil
	other := gcePV()
	other.Spec.CSI.Driver = "ebs.csi.aws.com"
	regional := gcePV()
	regional.Spec.CSI.VolumeHandle = "projects/proj/regions/us-central1/disks/pd-1"
	for name, pv := range map[string]*corev1.PersistentVolume{"no zone": noZone, "other driver": other, "regional": regional} {
		if g.Handles(pv) {
			t.Errorf("%s: handled", name)
		}
	}
	if n := gceSnapshotName(strings.Repeat("Backup_", 20), "PV.x"); len(n) > 63 || strings.ContainsAny(n, "_.B") {
		t.Errorf("snapshot name %q", n)
	}
}

func TestGCEDelete(t *testing.T) {
	fake := &recordedCompute{}
	g := newGCE(t, fake)
	rec := Record{Snapshotter: GCEName, SnapshotID: "projects/proj/global/snapshots/ark-nightly-pv-gce"}
	if err := g.Delete(context.Background(), rec); err != nil {
		t.Fatal(err)
	}
	if !fake.deleted || fake.deletePolls != 2 {
		t.Errorf("deleted=%v after %d polls; want the operation followed to DONE", fake.deleted, fake.deletePolls)
	}
	// Already gone (a retried deletion): done, without error.
	n := len(fake.requests)
	if err := g.Delete(context.Background(), rec); err != nil {
		t.Errorf("deleting a deleted snapshot: %v", err)
	}
	if got := fake.requests[n:]; len(got) != 1 || got[0] != "DELETE /compute/v1/projects/proj/global/snapshots/ark-nightly-pv-gce" {
		t.Errorf("requests %v", got)
	}
}

func TestGCEDeleteErrors(t *testing.T) {
	fake := &recordedCompute{failWith: "The snapshot is being used by image img-1"}
	g := newGCE(t, fake)
	err := g.Delete(context.Background(), Record{SnapshotID: "projects/proj/global/snapshots/ark-nightly-pv-gce"})
	if err == nil || !strings.Contains(err.Error(), "RESOURCE_IN_USE_BY_ANOTHER_RESOURCE: The snapshot is being used by image img-1") {
		t.Errorf("err = %v", err)
	}
	for _, id := range []string{"", "ark-nightly-pv-gce", "projects/proj/zones/z/snapshots/x", "projects//global/snapshots/x", "projects/proj/global/snapshots/"} {
		n := len(fake.requests)
		if err := g.Delete(context.Background(), Record{SnapshotID: id}); err == nil || !strings.Contains(err.Error(), "is not projects/PROJECT/global/snapshots/NAME") {
			t.Errorf("%q: err = %v", id, err)
		}
		if len(fake.requests) != n {
			t.Errorf("%q: a malformed ID reached the API", id)
		}
	}
}

// A record from the bucket may name any snapshot of the project: only one
// labelled for the backup is its to delete; one already gone passes.
func TestGCEMade(t *testing.T) {
	g := newGCE(t, &recordedCompute{})
	rec := Record{Snapshotter: GCEName, SnapshotID: "projects/proj/global/snapshots/ark-nightly-pv-gce"}
	if err := g.Made(context.Background(), "nightly", rec); err != nil {
		t.Errorf("the backup's own snapshot: %v", err)
	}
	if err := g.Made(context.Background(), "weekly", rec); err == nil || !strings.Contains(err.Error(), `labelled ark-backup="nightly", not "weekly"`) {
		t.Errorf("another backup's snapshot: %v", err)
	}
	gone := Record{Snapshotter: GCEName, SnapshotID: "projects/proj/global/snapshots/gone"}
	if err := g.Made(context.Background(), "nightly", gone); err != nil {
		t.Errorf("a snapshot already gone: %v", err)
	}
	if err := g.Made(context.Background(), "nightly", Record{SnapshotID: "projects/proj/snapshots/x"}); err == nil {
		t.Error("a malformed ID passed")
	}
}
