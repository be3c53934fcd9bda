package faults

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/arkproject/ark/test/e2e/framework"
)

// A link planted in the bucket is never followed, on any path: the
// server's TLS key behind a backup's tarball or log is not served, and a
// linked record or folder is no backup.
func TestLinksInTheBucketAreNeverFollowed(t *testing.T) {
	namespaceWith(t, "lk-app", "cm")
	backupOf(t, "slink", "lk-app")
	secret := filepath.Join(filepath.Dir(framework.Cluster.LogDir()), "pki", "ark-apiserver.key")
	if data, err := os.ReadFile(secret); err != nil || !strings.Contains(string(data), "PRIVATE KEY") {
		t.Fatalf("the server's key is not where the test expects it: %v", err)
	}
	link := func(name, file, target string) {
		t.Helper()
		path := bucketFile(name, file)
		if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, path); err != nil {
			t.Fatal(err)
		}
	}
	link("slink", "slink.tar.gz", secret)
	link("slink", "slink-logs.gz", secret)
	for _, sub := range []string{"download", "logs"} {
		out, err := rawGet(t, "slink", sub)
		if err == nil || strings.Contains(out, "PRIVATE KEY") {
			t.Errorf("backups/slink/%s through a link to the server's key: err=%v\n%.300s", sub, err, out)
		}
	}

	// A record that is a link (to a real record) is not a backup, nor is a
	// folder that is a link, even one pointing inside the bucket.
	link("linked", "ark-backup.json", bucketFile("slink", "ark-backup.json"))
	t.Cleanup(func() { framework.RemoveBackupFiles(home, "linked") })
	if err := os.Symlink(framework.BucketBackupDir(home, "slink"), framework.BucketBackupDir(home, "dirlink")); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(framework.BucketBackupDir(home, "dirlink")) })
	for _, name := range []string{"linked", "dirlink"} {
		if _, err := framework.Ark.ArkV1().Backups(home).Get(t.Context(), name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("get %s: %v, want NotFound", name, err)
		}
	}
	eventually(t, 10*1e9, "two polls later, neither link is listed", func() error {
		list := mustKubectl(t, "get", "backups", "-n", home, "-o", "name")
		for _, name := range []string{"linked", "dirlink"} {
			if strings.Contains(list, "/"+name+"\n") {
				return fmt.Errorf("%s is listed", name)
			}
		}
		return nil
	})
	if data, err := os.ReadFile(secret); err != nil || !strings.Contains(string(data), "PRIVATE KEY") {
		t.Errorf("the server's key was changed: %v", err)
	}
}
