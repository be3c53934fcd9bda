package restore

import (
	"context"
	"strings"
	"testing"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
	"github.com/arkproject/ark/pkg/backupstore/backupstoretest"
	"github.com/arkproject/ark/pkg/objectstore"
)

// A Heptio Ark backup's status.volumeBackups: the volume whose data is in a
// disk snapshot Ark cannot restore is skipped, its result naming the
// snapshot, and nothing points a new PersistentVolume at the old disk; the
// claim and everything else are restored.
func TestRunSkipsVolumesOfHeptioArkSnapshots(t *testing.T) {
	f := newFixture(t)
	f.backup(namespaceItem("abc"), pvc("abc", "data", "pv-1"), pv("pv-1", "abc", "data"), configMap("abc", "cm"))
	f.restorer.LegacySnapshots = map[string]*arkv1.VolumeBackupInfo{
		"pv-1": {SnapshotID: "snap-0a8e2f5d9c3b1e7f4", Type: "gp2", AvailabilityZone: "us-east-1c"},
	}
	f.run(newRestore(func(*arkv1.Restore) {}))
	for _, k := range f.createdKeys() {
		if strings.HasPrefix(k, "persistentvolumes ") {
			t.Errorf("created %s from a backup whose data is in a snapshot Ark cannot restore", k)
		}
	}
	doc := f.results(testRestore)
	it := doc.want(t, "persistentvolumes", "", "pv-1", ActionSkipped)
	if it == nil || !strings.Contains(it.Reason, "snap-0a8e2f5d9c3b1e7f4") || !strings.Contains(it.Reason, "us-east-1c") {
		t.Errorf("the volume's result does not name its snapshot: %+v", it)
	}
	doc.want(t, "persistentvolumeclaims", "abc", "data", ActionCreated)
	doc.want(t, "configmaps", "abc", "cm", ActionCreated)
}

// A backup no cluster signed (Heptio Ark's) without a manifest restores,
// warning that nothing checked its files; a signed one without its
// manifest still fails before anything is created.
func TestRunUnsignedBackupWithoutManifest(t *testing.T) {
	for _, unsigned := range []bool{true, false} {
		f := newFixture(t)
		f.backup(namespaceItem("abc"), configMap("abc", "cm"))
		ref := f.layout().Backup(f.namespace(), testBackup)
		if err := f.store.Delete(context.Background(), ref.ManifestKey(), objectstore.Conditions{}); err != nil {
			t.Fatal(err)
		}
		f.restorer.Unsigned = unsigned
		out, err := f.restorer.Run(context.Background(), newRestore(func(*arkv1.Restore) {}), testBackup, nil)
		if !unsigned {
			if err == nil || len(f.createdKeys()) != 0 {
				t.Errorf("signed backup without a manifest: err %v, created %v", err, f.createdKeys())
			}
			continue
		}
		if err != nil {
			t.Fatalf("unsigned backup without a manifest: %v", err)
		}
		f.results(testRestore).want(t, "configmaps", "abc", "cm", ActionCreated)
		if log := f.logs(testRestore); !strings.Contains(log, "written by Heptio Ark") || out.Warnings == 0 {
			t.Errorf("no warning about the missing manifest (%d warnings):\n%s", out.Warnings, log)
		}
	}
}

// A plaintext backup found in an encrypted location (written before
// encryption was turned on, or planted by someone who can write the bucket
// but has no key) restores, with a warning that no key authenticates it; in
// a location without keys it restores without one.
func TestRunPlaintextBackupInEncryptedLocationWarns(t *testing.T) {
	for _, encrypted := range []bool{true, false} {
		f := newFixture(t)
		f.backup(namespaceItem("abc"), configMap("abc", "cm"))
		if encrypted {
			keys, _ := backupstoretest.Keys(t, "k1", "k1")
			f.restorer.Keys = keys
		}
		out := f.run(newRestore(func(*arkv1.Restore) {}))
		f.results(testRestore).want(t, "configmaps", "abc", "cm", ActionCreated)
		warned := strings.Contains(f.logs(testRestore), "is not encrypted although its location is")
		if warned != encrypted || (encrypted && out.Warnings == 0) {
			t.Errorf("location encrypted %v: warned %v, %d warnings\n%s", encrypted, warned, out.Warnings, f.logs(testRestore))
		}
	}
}
