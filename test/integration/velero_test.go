package integration

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
	"github.com/arkproject/ark/pkg/backupstore/velerotest"
	"github.com/arkproject/ark/pkg/objectstore"
)

// veleroLocation is a ReadOnly location of format velero on a directory.
func veleroLocation(name, dir string) *arkv1.BackupStorageLocation {
	return &arkv1.BackupStorageLocation{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: home},
		Spec: arkv1.BackupStorageLocationSpec{
			Provider:      "file",
			ObjectStorage: arkv1.ObjectStorageLocation{Bucket: dir},
			AccessMode:    arkv1.BackupStorageLocationAccessModeReadOnly,
			Format:        arkv1.BackupStorageLocationFormatVelero,
		},
	}
}

// A location of format velero over a bucket a Velero server wrote (both
// of Velero 1.x's layouts) lists its backups as Ark Backups, translated,
// in the home namespace; serves their logs and contents; and is never
// written through Ark.
func TestVeleroLocation(t *testing.T) {
	ts := startServer(t, serverOptions{pollInterval: 100 * time.Millisecond})
	ctx := context.Background()
	dir := t.TempDir()
	store, err := objectstore.NewFileStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	velerotest.Write(t, store, velerotest.Backup{Name: "shop-classic", Namespace: "shop"})
	velerotest.Write(t, store, velerotest.Backup{Name: "shop-versions", Namespace: "shop", APIGroupVersions: true})
	velerotest.Write(t, store, velerotest.Backup{Name: "shop-running", Namespace: "shop", Phase: "InProgress"})

	locs := ts.Client.ArkV1().BackupStorageLocations(home)
	// Ark never writes a Velero bucket: a ReadWrite one is refused.
	rw := veleroLocation("velero-rw", dir)
	rw.Spec.AccessMode = arkv1.BackupStorageLocationAccessModeReadWrite
	if _, err := locs.Create(ctx, rw, metav1.CreateOptions{}); !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "must be ReadOnly") {
		t.Errorf("creating a ReadWrite velero location: %v, want 422", err)
	}
	created, err := locs.Create(ctx, veleroLocation("velero", dir), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if created.Spec.Format != arkv1.BackupStorageLocationFormatVelero {
		t.Errorf("format %q", created.Spec.Format)
	}
	if def, err := locs.Get(ctx, "default", metav1.GetOptions{}); err != nil || def.Spec.Format != arkv1.BackupStorageLocationFormatArk {
		t.Errorf("the default location's format: %v %+v", err, def)
	}
	waitForLocation(t, ts, "velero", func(l *arkv1.BackupStorageLocation) bool {
		return l.Status.Phase == arkv1.BackupStorageLocationPhaseAvailable && l.Status.BackupCount == 3
	})

	backups := ts.Client.ArkV1().Backups(home)
	list, err := backups.List(ctx, metav1.ListOptions{FieldSelector: "spec.storageLocation=velero"})
	if err != nil {
		t.Fatal(err)
	}
	phases := map[string]arkv1.BackupPhase{}
	for _, b := range list.Items {
		phases[b.Name] = b.Status.Phase
	}
	if len(phases) != 3 || phases["shop-classic"] != arkv1.BackupPhaseCompleted || phases["shop-versions"] != arkv1.BackupPhaseCompleted || phases["shop-running"] != arkv1.BackupPhaseInProgress {
		t.Errorf("listed %v", phases)
	}
	b, err := backups.Get(ctx, "shop-versions", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if b.Labels["velero.io/schedule-name"] != "nightly" || b.Annotations["ark.heptio.com/record-format"] != "velero.io/v1; format 1.1.0" ||
		b.Annotations["ark.heptio.com/cluster"] != arkv1.VeleroCluster || b.Spec.StorageLocation != "velero" ||
		len(b.Spec.IncludedNamespaces) != 1 || b.Spec.IncludedNamespaces[0] != "shop" || b.Spec.TTL.Duration != 720*time.Hour ||
		b.Status.Progress == nil || b.Status.Progress.TotalItems != 9 || b.Status.Progress.ItemsDone != 9 ||
		b.Status.Warnings != 1 || b.Status.VolumeSnapshotsCompleted != 1 || b.Status.CompletionTimestamp == nil || b.Status.Expiration == nil {
		t.Errorf("translated backup: %+v", b)
	}
	if _, err := ts.Client.ArkV1().Backups("shop").Get(ctx, "shop-versions", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("a Velero backup in another namespace: %v, want 404", err)
	}

	table := getTable(t, ts, apiPrefix+home+"/backups?includeObject=None")
	wide := map[string]int{}
	for i, c := range table.ColumnDefinitions {
		wide[strings.ToUpper(c.Name)] = i
	}
	if cells := row(t, table, "shop-classic"); cells[wide["OWNER"]] != arkv1.VeleroCluster {
		t.Errorf("OWNER of a Velero backup is %v", cells[wide["OWNER"]])
	}

	// Contents: Velero's resource list (by group/version/kind) and its snapshots.
	contents, err := backups.Contents(ctx, "shop-classic", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	resources := map[string][]string{}
	for _, r := range contents.Resources {
		resources[r.Resource] = r.Items
	}
	if got := resources["v1/ConfigMap"]; len(got) != 2 || got[0] != "shop/flags" || len(resources["apps/v1/Deployment"]) != 1 {
		t.Errorf("contents resources: %v", resources)
	}
	if len(contents.VolumeSnapshots) != 1 || contents.VolumeSnapshots[0].PersistentVolume != "shop-data" ||
		contents.VolumeSnapshots[0].SnapshotID != "snap-0456" || contents.VolumeSnapshots[0].Snapshotter != "velero/default" {
		t.Errorf("contents snapshots: %+v", contents.VolumeSnapshots)
	}
	// Logs: Velero's gzipped log, as text.
	code, body := ts.rawGet(ctx, "/apis/ark.heptio.com/v1/namespaces/"+home+"/backups/shop-classic/logs")
	if code != http.StatusOK || !strings.Contains(string(body), "Backing up namespace shop") {
		t.Errorf("logs: %d %s", code, body)
	}
	// An unfinished Velero backup has no contents yet: 409 saying so.
	if _, err := backups.Contents(ctx, "shop-running", metav1.GetOptions{}); !apierrors.IsConflict(err) {
		t.Errorf("contents of an InProgress Velero backup: %v, want 409", err)
	}

	// Never written: not deleted, not changed, no backup created there.
	if err := backups.Delete(ctx, "shop-classic", metav1.DeleteOptions{}); err == nil || !(apierrors.IsInvalid(err) || apierrors.IsForbidden(err)) {
		t.Errorf("deleting a Velero backup: %v, want 422 or 403", err)
	}
	b.Labels["x"] = "y"
	if _, err := backups.Update(ctx, b, metav1.UpdateOptions{}); err == nil {
		t.Errorf("updating a Velero backup succeeded")
	}
	nb := newBackup("into-velero")
	nb.Spec.StorageLocation = "velero"
	if _, err := backups.Create(ctx, nb, metav1.CreateOptions{}); !apierrors.IsInvalid(err) {
		t.Errorf("creating a backup in a velero location: %v, want 422", err)
	}
	if _, err := store.Attrs(ctx, "backups/shop-classic/velero-backup.json"); err != nil {
		t.Errorf("the Velero record is gone: %v", err)
	}
	err = objectstore.ListAll(ctx, store, "", func(a objectstore.ObjectAttrs) error {
		if strings.Contains(a.Key, "ark-backup.json") || strings.HasPrefix(a.Key, "restores/") {
			t.Errorf("Ark wrote %s into the Velero bucket", a.Key)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// A Velero backup deleted by Velero goes from the list within a poll.
	if err := store.Delete(ctx, "backups/shop-running/velero-backup.json", objectstore.Conditions{}); err != nil {
		t.Fatal(err)
	}
	err = wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
		_, err := backups.Get(ctx, "shop-running", metav1.GetOptions{})
		return apierrors.IsNotFound(err), nil
	})
	if err != nil {
		t.Errorf("a removed Velero backup is still served: %v", err)
	}
}
