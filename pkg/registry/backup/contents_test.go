package backup

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/arkproject/ark/pkg/apis/ark"
	"github.com/arkproject/ark/pkg/backupstore"
	"github.com/arkproject/ark/pkg/backupstore/backupstoretest"
	"github.com/arkproject/ark/pkg/objectstore"
	"github.com/arkproject/ark/pkg/snapshot"
)

// putRecord writes a backup's record into the bucket, as the controller
// (or anyone with write access to the bucket) would.
func putRecord(t *testing.T, store objectstore.Store, ns, name string, phase ark.BackupPhase) {
	t.Helper()
	body := fmt.Sprintf(`{"apiVersion":"ark.heptio.com/v1","kind":"Backup","metadata":{"name":%q,"namespace":%q,"uid":"uid-%s"},"status":{"phase":%q}}`, name, ns, name, phase)
	backupstoretest.Put(t, store, metaKey(ns, name), []byte(body))
}

// putContents writes a finished backup: its record, resource list,
// volume-snapshot records (none when nil) and manifest.
func putContents(t *testing.T, store objectstore.Store, ns, name string, list map[string][]string, records []snapshot.Record) backupstore.Backup {
	t.Helper()
	putRecord(t, store, ns, name, ark.BackupPhaseCompleted)
	ref := backupstore.Layout{HomeNamespace: home}.Backup(ns, name)
	files := map[string][]byte{ref.ResourceListKey(): backupstoretest.GzipJSON(t, list)}
	if records != nil {
		files[ref.VolumeSnapshotsKey()] = backupstoretest.GzipJSON(t, records)
	}
	backupstoretest.PutFiles(t, store, ref, files)
	return ref
}

func getContents(r *REST, ns, name string) (*ark.BackupContents, error) {
	obj, err := NewContentsREST(r).Get(nsContext(ns), name, &metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	return obj.(*ark.BackupContents), nil
}

// A completed backup's contents are its resource list and snapshot
// records, sorted; a backup whose manifest lists no snapshot records took
// no snapshots.
func TestContentsOfACompletedBackup(t *testing.T) {
	r, store := newTestREST(t, nil)
	putContents(t, store, "team-a", "b1", map[string][]string{
		"namespaces":       {"team-a"},
		"deployments.apps": {"team-a/web", "team-a/api"},
		"configmaps":       {"team-a/z", "team-a/a"},
	}, []snapshot.Record{
		{PersistentVolume: "pv-b", Snapshotter: snapshot.HostPathName, VolumeID: "/data/b", SnapshotID: "namespaces/team-a/backups/b1/volumes/pv-b.tar.gz", Size: 42, Phase: snapshot.PhaseCompleted},
		{PersistentVolume: "pv-a", Snapshotter: snapshot.CSIName, VolumeID: "vol-a", Phase: snapshot.PhaseFailed, Error: "no VolumeSnapshotClass for driver x"},
	})
	got, err := getContents(r, "team-a", "b1")
	if err != nil {
		t.Fatal(err)
	}
	want := &ark.BackupContents{
		ObjectMeta: metav1.ObjectMeta{Name: "b1", Namespace: "team-a", UID: "uid-b1"},
		Resources: []ark.BackupResourceItems{
			{Resource: "configmaps", Items: []string{"team-a/a", "team-a/z"}},
			{Resource: "deployments.apps", Items: []string{"team-a/api", "team-a/web"}},
			{Resource: "namespaces", Items: []string{"team-a"}},
		},
		VolumeSnapshots: []ark.BackupVolumeSnapshot{
			{PersistentVolume: "pv-a", Snapshotter: "csi", VolumeID: "vol-a", Phase: "Failed", Error: "no VolumeSnapshotClass for driver x"},
			{PersistentVolume: "pv-b", Snapshotter: "hostpath", VolumeID: "/data/b", SnapshotID: "namespaces/team-a/backups/b1/volumes/pv-b.tar.gz", Size: 42, Phase: "Completed"},
		},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("contents\n got %+v\nwant %+v", got, want)
	}

	putContents(t, store, home, "plain", map[string][]string{"configmaps": {"x/y"}}, nil)
	got, err = getContents(r, home, "plain")
	if err != nil {
		t.Fatal(err)
	}
	if len(got.VolumeSnapshots) != 0 || len(got.Resources) != 1 {
		t.Errorf("a backup without snapshot records: %+v", got)
	}
	// Another namespace's backup of the same name is another backup.
	if _, err := getContents(r, "team-b", "b1"); !apierrors.IsNotFound(err) {
		t.Errorf("team-b reads team-a's backup: %v, want 404", err)
	}
}

// Only a finished backup has contents; any other is refused with 409 and
// the reason, without reading its files.
func TestContentsOnlyOfFinishedBackups(t *testing.T) {
	r, store := newTestREST(t, nil)
	for phase, want := range map[ark.BackupPhase]string{
		ark.BackupPhaseNew:              `backup "b-new" is New: its contents are known once it completes`,
		ark.BackupPhaseInProgress:       `backup "b-inprogress" is InProgress: its contents are known once it completes`,
		ark.BackupPhaseFailed:           `backup "b-failed" is Failed: a failed backup keeps no contents`,
		ark.BackupPhaseFailedValidation: `backup "b-failedvalidation" is FailedValidation: it never ran`,
		ark.BackupPhaseDeleting:         `backup "b-deleting" is Deleting: its files are being removed`,
	} {
		name := "b-" + strings.ToLower(string(phase))
		putRecord(t, store, home, name, phase)
		_, err := getContents(r, home, name)
		if !apierrors.IsConflict(err) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want 409 saying %q", phase, err, want)
		}
	}
	backupstoretest.Put(t, store, metaKey(home, "broken"), []byte("null"))
	if _, err := getContents(r, home, "broken"); !apierrors.IsConflict(err) || !strings.Contains(err.Error(), "is Corrupt") {
		t.Errorf("a corrupt record: %v, want 409", err)
	}
	if _, err := getContents(r, home, "absent"); !apierrors.IsNotFound(err) {
		t.Errorf("no backup: %v, want 404", err)
	}
}

// Files that do not match the manifest, or are too large, are a 500 that
// names the file; an unreachable bucket is a 503.
func TestContentsOfABadBackup(t *testing.T) {
	ref := backupstore.Home("b1")
	list := backupstoretest.GzipJSON(t, map[string][]string{"configmaps": {"a/b"}})
	records := backupstoretest.GzipJSON(t, []snapshot.Record{{PersistentVolume: "pv", Snapshotter: "hostpath", Phase: "Completed"}})
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, s objectstore.Store)
		want  string
		code  int32
	}{
		{name: "tampered resource list", setup: func(t *testing.T, s objectstore.Store) {
			backupstoretest.PutFiles(t, s, ref, map[string][]byte{ref.ResourceListKey(): list, ref.VolumeSnapshotsKey(): records})
			bad := append([]byte{}, list...)
			bad[len(bad)/2] ^= 1
			backupstoretest.Put(t, s, ref.ResourceListKey(), bad)
		}, code: 500, want: `backup "b1" is corrupt: checksum of b1-resource-list.json.gz does not match its manifest`},
		{name: "tampered snapshot records", setup: func(t *testing.T, s objectstore.Store) {
			backupstoretest.PutFiles(t, s, ref, map[string][]byte{ref.ResourceListKey(): list, ref.VolumeSnapshotsKey(): records})
			backupstoretest.Put(t, s, ref.VolumeSnapshotsKey(), backupstoretest.GzipJSON(t, []snapshot.Record{}))
		}, code: 500, want: `backup "b1" is corrupt: size of b1-volumesnapshots.json.gz does not match its manifest`},
		{name: "planted snapshot records", setup: func(t *testing.T, s objectstore.Store) {
			backupstoretest.PutFiles(t, s, ref, map[string][]byte{ref.ResourceListKey(): list})
			backupstoretest.Put(t, s, ref.VolumeSnapshotsKey(), records)
		}, code: 500, want: "its manifest does not list b1-volumesnapshots.json.gz"},
		{name: "no manifest", setup: func(t *testing.T, s objectstore.Store) {
			backupstoretest.Put(t, s, ref.ResourceListKey(), list)
		}, code: 500, want: `backup "b1" is corrupt: its manifest is missing`},
		{name: "no resource list", setup: func(t *testing.T, s objectstore.Store) {
			backupstoretest.PutFiles(t, s, ref, map[string][]byte{ref.VolumeSnapshotsKey(): records})
		}, code: 500, want: `backup "b1" has no b1-resource-list.json.gz`},
		{name: "resource list larger than the cap", setup: func(t *testing.T, s objectstore.Store) {
			m := backupstoretest.PutFiles(t, s, ref, map[string][]byte{ref.ResourceListKey(): list})
			e := m.Files["b1-resource-list.json.gz"]
			e.Size = backupstore.MaxResourceListSize + 1
			m.Files["b1-resource-list.json.gz"] = e
			backupstoretest.PutManifest(t, s, ref, m)
		}, code: 500, want: "b1-resource-list.json.gz is 33554433 bytes, more than the limit of 33554432"},
		{name: "resource list inflating beyond the cap", setup: func(t *testing.T, s objectstore.Store) {
			bomb := backupstoretest.Gzip(t, []byte(`{"configmaps":["`+strings.Repeat("a", backupstore.MaxResourceListSize)+`"]}`))
			backupstoretest.PutFiles(t, s, ref, map[string][]byte{ref.ResourceListKey(): bomb})
		}, code: 500, want: "b1-resource-list.json.gz holds more than 33554432 bytes uncompressed"},
		{name: "unreachable bucket", setup: func(t *testing.T, s objectstore.Store) {
			backupstoretest.PutFiles(t, s, ref, map[string][]byte{ref.ResourceListKey(): list})
		}, code: 503, want: "input/output error"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, store := newTestREST(t, nil)
			putRecord(t, store, home, "b1", ark.BackupPhaseCompleted)
			tc.setup(t, store)
			if tc.code == 503 {
				useStore(r, failingReads{Store: store, keys: map[string]bool{ref.ManifestKey(): true}})
			}
			got, err := getContents(r, home, "b1")
			status, ok := err.(apierrors.APIStatus)
			if !ok {
				t.Fatalf("got %+v, %v; want an API error", got, err)
			}
			if status.Status().Code != tc.code || !strings.Contains(status.Status().Message, tc.want) {
				t.Errorf("error %d %q, want %d saying %q", status.Status().Code, status.Status().Message, tc.code, tc.want)
			}
		})
	}
}
