package restore

import (
	"strings"
	"testing"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
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
