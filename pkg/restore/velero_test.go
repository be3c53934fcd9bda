package restore

import (
	"archive/tar"
	"context"
	"errors"
	"strings"
	"testing"

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
