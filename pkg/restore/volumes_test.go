package restore

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
	"github.com/arkproject/ark/pkg/backupstore"
	"github.com/arkproject/ark/pkg/objectstore"
	"github.com/arkproject/ark/pkg/snapshot"
)

func csiRecord(pv, snapshotID string) snapshot.Record {
	return snapshot.Record{PersistentVolume: pv, Snapshotter: snapshot.CSIName, VolumeID: "handle-" + pv, SnapshotID: snapshotID, Phase: snapshot.PhaseCompleted}
}

func TestRunCSISnapshotClaims(t *testing.T) {
	items := func() []bItem {
		return []bItem{
			namespaceItem("abc"),
			pvc("abc", "data", "pv-csi"), pv("pv-csi", "abc", "data"),
			pvc("abc", "logs", "pv-failed"), pv("pv-failed", "abc", "logs"),
		}
	}
	records := []snapshot.Record{
		csiRecord("pv-csi", "abc/snap-1"),
		{PersistentVolume: "pv-failed", Snapshotter: snapshot.CSIName, SnapshotID: "abc/snap-2", Phase: snapshot.PhaseFailed, Error: "quota"},
	}

	t.Run("restored from the snapshot", func(t *testing.T) {
		f := newFixture(t)
		putBackupWithSnapshots(t, f.store, testBackup, records, items()...)
		out := f.run(newRestore())
		doc := f.results(testRestore)
		checkSummary(t, doc, out)

		// The snapshotted volume is not created: its claim provisions a new one.
		if it := doc.want(t, "persistentvolumes", "", "pv-csi", ActionSkipped); it != nil {
			if it.Reason != "" || !strings.Contains(it.Note, "abc/snap-1") {
				t.Errorf("pv-csi result = %+v, want no reason and a note naming the snapshot", *it)
			}
		}
		if f.get("persistentvolumes", "", "pv-csi") != nil {
			t.Error("pv-csi was created")
		}
		claim := f.sent("persistentvolumeclaims abc/data")
		ds, _, _ := unstructured.NestedMap(claim.Object, "spec", "dataSource")
		if want := map[string]any{"apiGroup": "snapshot.storage.k8s.io", "kind": "VolumeSnapshot", "name": "snap-1"}; !jsonEqual(ds, want) {
			t.Errorf("claim dataSource = %v, want %v", ds, want)
		}
		if _, ok, _ := unstructured.NestedFieldNoCopy(claim.Object, "spec", "volumeName"); ok {
			t.Error("the claim still names its old volume")
		}

		// A failed snapshot is no snapshot: volume and claim come back as they were.
		doc.want(t, "persistentvolumes", "", "pv-failed", ActionCreated)
		logs := f.sent("persistentvolumeclaims abc/logs")
		if v, _, _ := unstructured.NestedString(logs.Object, "spec", "volumeName"); v != "pv-failed" {
			t.Errorf("claim logs volumeName = %q, want pv-failed", v)
		}
		if _, ok, _ := unstructured.NestedFieldNoCopy(logs.Object, "spec", "dataSource"); ok {
			t.Error("claim logs got a dataSource from a failed snapshot")
		}
		if out.Warnings != 0 || out.Errors != 0 || out.Skipped != 1 || out.Created != 4 {
			t.Errorf("outcome = %+v, want 4 created, 1 skipped, no warnings or errors", out)
		}
	})

	t.Run("restorePVs false", func(t *testing.T) {
		f := newFixture(t)
		putBackupWithSnapshots(t, f.store, testBackup, records, items()...)
		out := f.run(newRestore(func(r *arkv1.Restore) { r.Spec.RestorePVs = ptr(false) }))
		doc := f.results(testRestore)
		checkSummary(t, doc, out)
		doc.want(t, "persistentvolumes", "", "pv-csi", ActionSkipped, "restorePVs is false")
		claim := f.sent("persistentvolumeclaims abc/data")
		if _, ok, _ := unstructured.NestedFieldNoCopy(claim.Object, "spec", "dataSource"); ok {
			t.Error("with restorePVs false the claim was pointed at the snapshot")
		}
		if v, _, _ := unstructured.NestedString(claim.Object, "spec", "volumeName"); v != "pv-csi" {
			t.Errorf("claim volumeName = %q, want pv-csi", v)
		}
	})

	// A VolumeSnapshot can only be the data source of a claim of its own
	// namespace: a claim mapped elsewhere fails rather than pointing at a
	// snapshot that is not there.
	t.Run("mapped", func(t *testing.T) {
		f := newFixture(t)
		putBackupWithSnapshots(t, f.store, testBackup, records, items()...)
		out := f.run(newRestore(func(r *arkv1.Restore) { r.Spec.NamespaceMapping = map[string]string{"abc": "def"} }))
		doc := f.results(testRestore)
		checkSummary(t, doc, out)
		doc.want(t, "persistentvolumeclaims", "def", "data", ActionFailed, "abc/snap-1")
		if f.get("persistentvolumeclaims", "def", "data") != nil {
			t.Error("the mapped claim was created")
		}
		doc.want(t, "persistentvolumeclaims", "def", "logs", ActionCreated)
	})
}

func TestRunVolumeSnapshotsVerified(t *testing.T) {
	cases := map[string]func(t *testing.T, f *fixture){
		"tampered": func(t *testing.T, f *fixture) {
			put(t, f.store, backupstore.Home(testBackup).VolumeSnapshotsKey(), gzipBytes(t, []byte(`[{"persistentVolumeName":"pv-a","snapshotter":"csi","snapshotID":"kube-system/x","phase":"Completed"}]`)))
		},
		"missing": func(t *testing.T, f *fixture) {
			if err := f.store.Delete(context.Background(), backupstore.Home(testBackup).VolumeSnapshotsKey(), objectstore.Conditions{}); err != nil {
				t.Fatal(err)
			}
		},
	}
	for name, breakIt := range cases {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t)
			putBackupWithSnapshots(t, f.store, testBackup, []snapshot.Record{csiRecord("pv-a", "abc/snap")},
				namespaceItem("abc"), pvc("abc", "data", "pv-a"), pv("pv-a", "abc", "data"))
			breakIt(t, f)
			_, err := f.restorer.Run(context.Background(), newRestore(), testBackup, nil)
			if err == nil || !strings.Contains(err.Error(), "volume") {
				t.Fatalf("Run error = %v, want one about the volume snapshots", err)
			}
			noWrites(t, f)
			f.checkScratchEmpty()
		})
	}
}

// hostPathArchive is a volume snapshot as snapshot.HostPath stores it.
func hostPathArchive(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for name, body := range files {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return gzipBytes(t, buf.Bytes())
}

func TestRunHostPathVolumeData(t *testing.T) {
	setup := func(t *testing.T, withHostPath bool) (*fixture, string) {
		f := newFixture(t)
		root := t.TempDir()
		if withHostPath {
			f.restorer.HostPath = &snapshot.HostPath{Store: f.store, Root: root}
		}
		vol := withField(pv("pv-host", "abc", "data"), map[string]any{"path": "/srv/vol"}, "spec", "hostPath")
		key := snapshot.ArchiveKey(backupstore.Home(testBackup), "pv-host")
		putBackupWithSnapshots(t, f.store, testBackup,
			[]snapshot.Record{{PersistentVolume: "pv-host", Snapshotter: snapshot.HostPathName, VolumeID: "/srv/vol", SnapshotID: key, Phase: snapshot.PhaseCompleted}},
			namespaceItem("abc"), pvc("abc", "data", "pv-host"), vol)
		put(t, f.store, key, hostPathArchive(t, map[string]string{"hello.txt": "hi there"}))
		return f, root
	}

	t.Run("restored", func(t *testing.T) {
		f, root := setup(t, true)
		out := f.run(newRestore())
		doc := f.results(testRestore)
		checkSummary(t, doc, out)
		if it := doc.want(t, "persistentvolumes", "", "pv-host", ActionCreated); it != nil {
			if it.Reason != "" || !strings.Contains(it.Note, "restored 8 bytes of volume data") {
				t.Errorf("pv-host result = %+v, want a note of 8 bytes restored", *it)
			}
		}
		data, err := os.ReadFile(filepath.Join(root, "srv", "vol", "hello.txt"))
		if err != nil || string(data) != "hi there" {
			t.Errorf("restored file = %q, %v; want %q", data, err, "hi there")
		}
		if out.Errors != 0 {
			t.Errorf("outcome = %+v, want no errors", out)
		}
	})

	t.Run("directory not empty", func(t *testing.T) {
		f, root := setup(t, true)
		dir := filepath.Join(root, "srv", "vol")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "live.txt"), []byte("live"), 0o644); err != nil {
			t.Fatal(err)
		}
		out := f.run(newRestore())
		doc := f.results(testRestore)
		checkSummary(t, doc, out)
		doc.want(t, "persistentvolumes", "", "pv-host", ActionCreated, "volume data not restored", "not empty")
		if out.Errors != 1 || out.Failed != 0 || out.Created != 3 {
			t.Errorf("outcome = %+v, want 3 created, 1 error, nothing failed", out)
		}
		if _, err := os.Stat(filepath.Join(dir, "hello.txt")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("the snapshot was written into a non-empty directory (stat: %v)", err)
		}
		if !strings.Contains(f.logs(testRestore), "error created persistentvolumes pv-host, but volume data not restored") {
			t.Error("logs do not report the data error")
		}
	})

	t.Run("no hostPath restorer", func(t *testing.T) {
		f, root := setup(t, false)
		out := f.run(newRestore())
		doc := f.results(testRestore)
		checkSummary(t, doc, out)
		if it := doc.want(t, "persistentvolumes", "", "pv-host", ActionCreated); it != nil && (it.Note != "" || it.Reason != "") {
			t.Errorf("pv-host result = %+v, want neither note nor reason", *it)
		}
		if entries, _ := os.ReadDir(root); len(entries) != 0 {
			t.Errorf("files written without a hostPath restorer: %v", entries)
		}
	})
}
