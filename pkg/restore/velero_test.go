package restore

import (
	"archive/tar"
	"context"
	"errors"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
	"github.com/arkproject/ark/pkg/backupstore"
	"github.com/arkproject/ark/pkg/backupstore/velerotest"
	"github.com/arkproject/ark/pkg/restore/archive"
)

// veleroFixture is a fixture whose bucket is a Velero server's.
func veleroFixture(t *testing.T, b velerotest.Backup) *fixture {
	t.Helper()
	f := newFixture(t)
	f.restorer.Format = backupstore.FormatVelero
	b.Name = testBackup
	velerotest.Write(t, f.store, b)
	return f
}

// A namespace backup Velero 1.x wrote, with and without API group
// versions, is restored like one of Ark's: every item once, in the
// preferred version; the warnings say that there was no manifest and that
// the snapshotted volume's data is not restored.
func TestRunVeleroBackup(t *testing.T) {
	for _, versions := range []bool{false, true} {
		name := "format 1"
		if versions {
			name = "format 1.1.0"
		}
		t.Run(name, func(t *testing.T) {
			f := veleroFixture(t, velerotest.Backup{Namespace: "shop", APIGroupVersions: versions})
			out := f.run(newRestore())
			equalStrings(t, "created", sortedCopy(f.createdKeys()), sortedCopy([]string{
				"configmaps shop/flags", "configmaps shop/settings",
				"customresourcedefinitions.apiextensions.k8s.io widgets.example.com",
				"deployments.apps shop/web", "namespaces shop",
				"persistentvolumeclaims shop/data", "persistentvolumes shop-data",
				"secrets shop/db-creds", "widgets.example.com shop/gizmo",
			}))
			w := f.get("widgets.example.com", "shop", "gizmo")
			if w == nil || w.GetAPIVersion() != "example.com/v1" || w.GetAnnotations()["from"] != "" {
				t.Errorf("the custom resource restored is not the preferred version's copy: %v", w)
			}
			if cm := f.get("configmaps", "shop", "settings"); cm == nil || cm.GetLabels()["ark.heptio.com/backup-name"] != testBackup {
				t.Errorf("config map not restored with Ark's labels: %v", cm)
			}
			doc := f.results(testRestore)
			itemsOnly := out
			itemsOnly.Warnings--
			checkSummary(t, docWithoutRunWarnings(doc), itemsOnly)
			pv := doc.want(t, "persistentvolumes", "", "shop-data", ActionCreated)
			if pv != nil && (!strings.Contains(pv.Warning, "volume data not restored") || !strings.Contains(pv.Warning, "snap-0456")) {
				t.Errorf("the snapshotted volume's warning is %q", pv.Warning)
			}
			if cm := doc.find("configmaps", "shop", "settings"); cm == nil || cm.Warning != "" {
				t.Errorf("config map result %+v: want created with no warning", cm)
			}
			// One warning for the volume, one for the missing manifest.
			if out.Warnings != 2 || out.Errors != 0 || out.Created != 9 {
				t.Errorf("outcome %+v, want 9 created and 2 warnings", out)
			}
			if log := f.logs(testRestore); !strings.Contains(log, "has no Ark checksum manifest") {
				t.Errorf("the log does not say the backup has no manifest:\n%s", log)
			}
		})
	}
}

// docWithoutRunWarnings is doc with its summary less the warnings not
// tied to an item (the missing manifest), for checkSummary.
func docWithoutRunWarnings(doc resultsDoc) resultsDoc {
	doc.Summary.Warnings--
	return doc
}

// A hostile Velero tarball (a path escaping the archive, a link out of
// it) fails the restore before anything is created.
func TestRunVeleroHostileTarball(t *testing.T) {
	for name, extra := range map[string]velerotest.Entry{
		"traversal": {Name: "resources/configmaps/namespaces/shop/../../../../../etc/cron.d/x.json", Body: "{}"},
		"symlink":   {Name: "resources/secrets/v1-preferredversion/namespaces/shop/token.json", Type: tar.TypeSymlink, Link: "/var/run/secrets/kubernetes.io/serviceaccount/token"},
	} {
		t.Run(name, func(t *testing.T) {
			f := veleroFixture(t, velerotest.Backup{Namespace: "shop", APIGroupVersions: true, Extra: []velerotest.Entry{extra}})
			_, err := f.restorer.Run(context.Background(), newRestore(), testBackup, nil)
			if !errors.Is(err, archive.ErrCorrupt) {
				t.Fatalf("Run = %v, want a corrupt backup", err)
			}
			if got := f.createdKeys(); len(got) != 0 {
				t.Errorf("created %v from a hostile tarball", got)
			}
			f.checkScratchEmpty()
		})
	}
}

// The data of pod volumes Velero backed up file by file is reported on
// each restored pod, in its namespace in the backup.
func TestVeleroPodVolumeWarning(t *testing.T) {
	v := &veleroVolumes{byPod: map[string][]backupstore.VeleroVolume{
		"shop/web-0": {{Kind: "pod volume backup", Namespace: "shop", Pod: "web-0", Volume: "data", Location: "kopia", SnapshotID: "k1", Phase: "Completed"}},
	}}
	got := v.warning(ItemResult{Resource: "pods", Namespace: "shop-copy", SourceNamespace: "shop", Name: "web-0"})
	if !strings.Contains(got, "volume data not restored") || !strings.Contains(got, "volume data of pod shop/web-0") || !strings.Contains(got, "kopia") {
		t.Errorf("warning %q", got)
	}
	if got := v.warning(ItemResult{Resource: "pods", Namespace: "shop", Name: "web-1"}); got != "" {
		t.Errorf("a pod without pod volume backups has the warning %q", got)
	}
}

// A claim Velero's CSI support snapshotted is restored from its snapshot,
// imported the way the CSI snapshot API imports one: the content from its
// handle (Retain), the VolumeSnapshot from the content, the claim with the
// VolumeSnapshot as its data source; its old volume is not restored and no
// warning says its data is lost. Namespace mapping carries through.
func TestRunVeleroCSISnapshot(t *testing.T) {
	f := veleroFixture(t, velerotest.Backup{Namespace: "shop", APIGroupVersions: true, CSI: true})
	b := velerotest.Backup{Name: testBackup, Namespace: "shop"}
	out := f.run(newRestore(func(r *arkv1.Restore) { r.Spec.NamespaceMapping = map[string]string{"shop": "shop-copy"} }))
	if out.Errors != 0 || out.Warnings != 1 {
		t.Errorf("outcome %+v: want no error and only the manifest's warning", out)
	}
	doc := f.results(testRestore)
	if pv := doc.want(t, "persistentvolumes", "", "shop-data", ActionSkipped); pv != nil && (!strings.Contains(pv.Note, "CSI snapshot shop-copy/"+b.SnapshotName()) || pv.Warning != "") {
		t.Errorf("the snapshotted volume's result: %+v", pv)
	}
	claim := f.sent("persistentvolumeclaims shop-copy/data")
	if claim == nil {
		t.Fatalf("claim not restored; created %v", f.createdKeys())
	}
	if ds, _, _ := unstructured.NestedStringMap(claim.Object, "spec", "dataSource"); ds["kind"] != "VolumeSnapshot" || ds["name"] != b.SnapshotName() {
		t.Errorf("claim's data source %v", ds)
	}
	if v, _, _ := unstructured.NestedString(claim.Object, "spec", "volumeName"); v != "" {
		t.Errorf("claim still names its old volume %q", v)
	}
	vs := f.sent("volumesnapshots.snapshot.storage.k8s.io shop-copy/" + b.SnapshotName())
	if vs == nil {
		t.Fatalf("VolumeSnapshot not restored; created %v", f.createdKeys())
	}
	if src, _, _ := unstructured.NestedStringMap(vs.Object, "spec", "source"); len(src) != 1 || src["volumeSnapshotContentName"] != b.ContentName() {
		t.Errorf("VolumeSnapshot's source %v: want only its content", src)
	}
	vsc := f.sent("volumesnapshotcontents.snapshot.storage.k8s.io " + b.ContentName())
	if vsc == nil {
		t.Fatalf("VolumeSnapshotContent not restored; created %v", f.createdKeys())
	}
	src, _, _ := unstructured.NestedStringMap(vsc.Object, "spec", "source")
	ref, _, _ := unstructured.NestedStringMap(vsc.Object, "spec", "volumeSnapshotRef")
	policy, _, _ := unstructured.NestedString(vsc.Object, "spec", "deletionPolicy")
	if len(src) != 1 || src["snapshotHandle"] != "snap-handle-"+testBackup || ref["namespace"] != "shop-copy" || ref["name"] != b.SnapshotName() || ref["uid"] != "" || policy != "Retain" {
		t.Errorf("VolumeSnapshotContent spec: source %v, ref %v, policy %q", src, ref, policy)
	}
}
