package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// This file's name sorts last, so its test runs after every other one of
// the suite: it deletes the home namespace.

// Deleting Ark's home namespace finishes and leaves the bucket untouched;
// when the namespace is back, so are its backups. Runs last: it deletes the
// namespace.
func TestZZDeleteHomeNamespaceKeepsBackups(t *testing.T) {
	mustKubectl(t, "create", "-n", home, "-f", filepath.Join("..", "..", "artifacts", "examples", "backup.yaml"))
	// Wait for the backup to finish, so the controller no longer writes its status.
	eventually(t, time.Minute, "the backup finishes", func() error {
		out, err := kubectl(t, "get", "backup", "default-daily", "-n", home, "-o", "jsonpath={.status.phase}")
		if err != nil || (out != "Completed" && out != "PartiallyFailed") {
			return fmt.Errorf("%v: phase %q", err, out)
		}
		return nil
	})
	file := filepath.Join(cluster.BucketDir, "backups", "default-daily", "ark-backup.json")
	before, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if out, err := kubectl(t, "delete", "namespace", home, "--timeout=90s"); err != nil {
		ns, _ := kubectl(t, "get", "namespace", home, "-o", "yaml")
		t.Fatalf("deleting %s did not finish: %v\n%s\n%s", home, err, out, ns)
	}
	t.Logf("namespace %s deleted in %s", home, time.Since(start).Round(100*time.Millisecond))
	after, err := os.ReadFile(file)
	if err != nil || string(after) != string(before) {
		t.Fatalf("the bucket changed when the namespace was deleted: %v", err)
	}
	mustKubectl(t, "create", "namespace", home)
	// The namespace took Ark's Roles in it along (the Secrets of location
	// credentials): an administrator applies them again, as here.
	mustKubectl(t, "apply", "-f", filepath.Join("..", "..", "artifacts", "10-rbac.yaml"), "-f", filepath.Join("..", "..", "artifacts", "20-user-roles.yaml"))
	eventually(t, 30*time.Second, "backups listed again", func() error {
		out, err := kubectl(t, "get", "backups", "-n", home, "--no-headers")
		if err != nil || !strings.Contains(out, "default-daily") {
			return fmt.Errorf("%v: %s", err, out)
		}
		return nil
	})
}
