package faults

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/arkproject/ark/pkg/snapshot"
	"github.com/arkproject/ark/test/e2e/framework"
)

// A volume-snapshot record crafted to name another backup's files blocks
// the deletion of its backup, with the reason; nothing of either is deleted.
func TestCraftedSnapshotRecordDeletesNothing(t *testing.T) {
	namespaceWith(t, "gc-app", "cm")
	backupOf(t, "gc-v1", "gc-app")
	backupOf(t, "gc-v2", "gc-app")
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	if err := json.NewEncoder(gz).Encode([]snapshot.Record{{
		PersistentVolume: "pv-x", Snapshotter: snapshot.HostPathName, VolumeID: "/x",
		SnapshotID: "backups/gc-v2/gc-v2.tar.gz", Phase: snapshot.PhaseCompleted,
	}}); err != nil {
		t.Fatal(err)
	}
	gz.Close()
	if err := os.WriteFile(bucketFile("gc-v1", "gc-v1-volumesnapshots.json.gz"), buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	mustKubectl(t, "delete", "backup", "gc-v1", "-n", home, "--wait=false")
	eventually(t, time.Minute, "the deletion is blocked with the reason", func() error {
		_, reason := phase(t, "gc-v1")
		return contains(reason, "deletion blocked", "not this backup's", "outside the backup's folder")
	})
	time.Sleep(5 * time.Second) // two more collector passes
	for _, f := range []string{bucketFile("gc-v2", "gc-v2.tar.gz"), bucketFile("gc-v1", "gc-v1.tar.gz"), bucketFile("gc-v2", "ark-backup.json")} {
		if _, err := os.Stat(f); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	entries := framework.Download(t, home, "gc-v2")
	if _, ok := entries["resources/configmaps/namespaces/gc-app/cm.json"]; !ok {
		t.Errorf("gc-v2 no longer downloads whole: %d entries", len(entries))
	}
	events := mustKubectl(t, "get", "events", "-n", home, "--field-selector", "involvedObject.name=gc-v1")
	if !strings.Contains(events, "DeletionBlocked") {
		t.Errorf("no DeletionBlocked event:\n%s", events)
	}
	fmt.Fprintln(os.Stderr, "gc-v1 left Deleting, blocked, as it must")
}
