package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// The --backup-location shows as the default BackupStorageLocation, its
// bucket Available, through kube-apiserver's aggregation and kubectl.
func TestStorageLocationThroughKubectl(t *testing.T) {
	var out string
	eventually(t, 30*time.Second, "the default location is Available", func() error {
		var err error
		out, err = kubectl(t, "get", "bsl", "-n", home)
		if err != nil || !strings.Contains(out, "Available") {
			return fmt.Errorf("%v:\n%s", err, out)
		}
		return nil
	})
	if got := strings.Join(strings.Fields(lines(out)[0]), " "); got != "NAME PROVIDER BUCKET/PREFIX PHASE LAST SYNCED BACKUPS ACCESS MODE DEFAULT" {
		t.Errorf("location table header: %q", got)
	}
	if f := strings.Fields(lines(out)[1]); len(f) < 2 || f[0] != "default" || f[1] != "file" || !strings.HasSuffix(out, "true\n") {
		t.Errorf("location table:\n%s", out)
	}
	out = mustKubectl(t, "explain", "backupstoragelocation.spec")
	for _, want := range []string{"objectStorage", "provider", "accessMode", "credential"} {
		if !strings.Contains(out, want) {
			t.Errorf("kubectl explain backupstoragelocation.spec lacks %s:\n%s", want, out)
		}
	}
	out, err := kubectlIn(t, `apiVersion: ark.heptio.com/v1
kind: BackupStorageLocation
metadata: {name: elsewhere, namespace: default}
spec: {provider: aws, objectStorage: {bucket: b}}
`, "create", "-f", "-")
	if err == nil || !strings.Contains(out, "is invalid") || !strings.Contains(out, "home namespace") {
		t.Errorf("creating a location outside the home namespace: err=%v\n%s", err, out)
	}
}
