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
	// Ark's OpenAPI reaches kubectl through the aggregator, which fetches
	// it again after an ark-apiserver restart (an earlier test's): wait.
	out = explain(t, "backupstoragelocation.spec")
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

// VolumeSnapshotLocations are served through kube-apiserver's aggregation:
// kubectl explains them, prints them by their short name with Ark's table,
// and a provider Ark has no snapshotter for is a 422 listing those it has.
func TestSnapshotLocationThroughKubectl(t *testing.T) {
	// Ark's OpenAPI reaches kubectl through the aggregator, which fetches
	// it again after an ark-apiserver restart (an earlier test's): wait.
	var out string
	out = explain(t, "volumesnapshotlocation.spec")
	for _, want := range []string{"provider", "config", "credential"} {
		if !strings.Contains(out, want) {
			t.Errorf("kubectl explain volumesnapshotlocation.spec lacks %s:\n%s", want, out)
		}
	}

	t.Cleanup(func() { _, _ = kubectl(t, "delete", "vsl", "gcp-eu", "-n", home, "--ignore-not-found") })
	if out, err := kubectlIn(t, `apiVersion: ark.heptio.com/v1
kind: VolumeSnapshotLocation
metadata: {name: gcp-eu, namespace: `+home+`}
spec: {provider: gcp, config: {project: my-project, snapshotLocation: europe-west1}}
`, "create", "-f", "-"); err != nil {
		t.Fatalf("creating a gcp snapshot location: %v\n%s", err, out)
	}
	out = mustKubectl(t, "get", "vsl", "-n", home)
	if got := strings.Join(strings.Fields(lines(out)[0]), " "); got != "NAME PROVIDER PHASE AGE" {
		t.Errorf("snapshot location table header: %q", got)
	}
	if f := strings.Fields(lines(out)[1]); len(f) < 3 || f[0] != "gcp-eu" || f[1] != "gcp" || f[2] != "Unknown" {
		t.Errorf("snapshot location table:\n%s", out)
	}
	out = mustKubectl(t, "get", "volumesnapshotlocations", "-n", home, "--field-selector", "metadata.name=gcp-eu", "-o", "name")
	if strings.TrimSpace(out) != "volumesnapshotlocation.ark.heptio.com/gcp-eu" {
		t.Errorf("by field selector: %q", out)
	}

	out, err := kubectlIn(t, `apiVersion: ark.heptio.com/v1
kind: VolumeSnapshotLocation
metadata: {name: aws-default, namespace: `+home+`}
spec: {provider: aws, config: {region: us-east-1}}
`, "create", "-f", "-")
	if err == nil || !strings.Contains(out, "is invalid") || !strings.Contains(out, `"csi", "gcp", "hostpath"`) {
		t.Errorf("creating an aws snapshot location: err=%v\n%s", err, out)
	}
}

// explain runs kubectl explain until the aggregator serves the resource's
// OpenAPI. kube-aggregator fetches it when the APIService is created and
// every minute after; the APIService the migrate test takes over is never
// fetched, which that test's clean-up (ensureArkOpenAPI) mends.
func explain(t *testing.T, what string) string {
	t.Helper()
	var out string
	eventually(t, time.Minute, "kubectl explain "+what, func() error {
		var err error
		if out, err = kubectl(t, "explain", what); err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		return nil
	})
	return out
}
