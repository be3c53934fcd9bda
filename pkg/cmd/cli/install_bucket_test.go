package cli

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/arkproject/ark/pkg/objectstore"
	"github.com/arkproject/ark/pkg/objectstore/s3test"
	"github.com/arkproject/ark/pkg/provenance"
	"github.com/arkproject/ark/pkg/version"
)

// fileBucket is a file:// location holding a backup record per entry of
// records (key: the record's folder, value: the cluster it names, "" for
// none).
func fileBucket(t *testing.T, records map[string]string) string {
	t.Helper()
	location := "file://" + t.TempDir()
	store, err := objectstore.Open(context.Background(), location)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	for dir, cluster := range records {
		annotations := ""
		if cluster != "" {
			annotations = fmt.Sprintf(`,"annotations":{%q:%q}`, provenance.ClusterAnnotation, cluster)
		}
		record := fmt.Sprintf(`{"apiVersion":"ark.heptio.com/v1","kind":"Backup","metadata":{"name":"x"%s}}`, annotations)
		if _, err := objectstore.PutBytes(context.Background(), store, dir+"/ark-backup.json", []byte(record), objectstore.Conditions{}); err != nil {
			t.Fatal(err)
		}
	}
	return location
}

// Install's look into the bucket: a free bucket and one of this cluster's
// are fine; another cluster's backups (in any namespace's folder) stop the
// install unless sharing is meant.
func TestInstallChecksWhoseBucketItIs(t *testing.T) {
	ctx := context.Background()
	free := fileBucket(t, nil)
	if msg, err := checkBucket(ctx, free, nil, "ours", false); err != nil || !strings.Contains(msg, "holds no backups") {
		t.Errorf("free bucket: %q, %v", msg, err)
	}
	mine := fileBucket(t, map[string]string{"backups/a": "ours", "namespaces/team/backups/b": "ours"})
	if msg, err := checkBucket(ctx, mine, nil, "ours", false); err != nil || !strings.Contains(msg, "holds 2 backups of this cluster") {
		t.Errorf("this cluster's bucket: %q, %v", msg, err)
	}
	shared := fileBucket(t, map[string]string{"backups/a": "ours", "namespaces/team/backups/b": "theirs", "backups/c": ""})
	_, err := checkBucket(ctx, shared, nil, "ours", false)
	if err == nil || !strings.Contains(err.Error(), "holds backups of another cluster's Ark (1 naming no cluster, 1 of cluster theirs)") || !strings.Contains(err.Error(), "--shared-bucket") {
		t.Errorf("another cluster's bucket: %v", err)
	}
	if msg, err := checkBucket(ctx, shared, nil, "ours", true); err != nil || !strings.Contains(msg, "3 backups: 1 of this cluster, 1 naming no cluster, 1 of cluster theirs") {
		t.Errorf("shared on purpose: %q, %v", msg, err)
	}
	// Files that are not backup records, and records that do not parse,
	// are not counted.
	odd := fileBucket(t, map[string]string{"backups/a/b": "theirs", "elsewhere/x": "theirs"})
	if msg, err := checkBucket(ctx, odd, nil, "ours", false); err != nil || !strings.Contains(msg, "holds no backups") {
		t.Errorf("no records: %q, %v", msg, err)
	}
	// The server's own directory, not on this machine: not checked.
	if msg, err := checkBucket(ctx, "file:///nonexistent/ark-bucket", nil, "ours", false); err != nil || !strings.Contains(msg, "not checked") {
		t.Errorf("a file location elsewhere: %q, %v", msg, err)
	}
}

// The bucket is opened with --secret-file's credential, as the server
// will: a wrong one stops the install, naming the way out.
func TestInstallChecksTheCredential(t *testing.T) {
	srv := s3test.Start(t)
	srv.CreateBucket(t, "install")
	s3test.NoAWSEnvironment(t)
	location := "s3://install/c1?" + url.Values{"region": {"us-east-1"}, "s3Url": {srv.Endpoint}, "s3ForcePathStyle": {"true"}}.Encode()
	good := fmt.Sprintf("[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n", srv.AccessKey, srv.SecretKey)
	if msg, err := checkBucket(context.Background(), location, []byte(good), "ours", false); err != nil || !strings.Contains(msg, "reachable and holds no backups") {
		t.Errorf("with the right credential: %q, %v", msg, err)
	}
	bad := fmt.Sprintf("[default]\naws_access_key_id = %s\naws_secret_access_key = wrong\n", srv.AccessKey)
	_, err := checkBucket(context.Background(), location, []byte(bad), "ours", false)
	if err == nil || !strings.Contains(err.Error(), "cannot be used with --secret-file") || !strings.Contains(err.Error(), "--skip-bucket-check") {
		t.Errorf("with a wrong credential: %v", err)
	}
	if err != nil && strings.Contains(err.Error(), srv.SecretKey) {
		t.Errorf("the error leaks the secret: %v", err)
	}
}

// --secret-file becomes the Secret heptio-ark/cloud-credentials, and the
// server is told to open the bucket with it.
func TestInstallKeepsTheSecretFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "credentials")
	if err := os.WriteFile(file, []byte("[default]\naws_access_key_id = AKID\naws_secret_access_key = s3cr3t\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := mustRun(t, nil, nil, "install", "--dry-run", "--backup-location", "s3://b/c1?region=eu-west-1", "--secret-file", file)
	objs := decodeManifests(t, r.out)
	secret := objs["Secret/cloud-credentials"]
	if secret == nil || secret.GetNamespace() != "heptio-ark" {
		t.Fatalf("no Secret heptio-ark/cloud-credentials; have %v", keys(objs))
	}
	if v, _, _ := unstructured.NestedString(secret.Object, "data", "cloud"); v != base64.StdEncoding.EncodeToString([]byte("[default]\naws_access_key_id = AKID\naws_secret_access_key = s3cr3t\n")) {
		t.Errorf("data.cloud = %q", v)
	}
	containers, _, _ := unstructured.NestedSlice(objs["StatefulSet/ark-apiserver"].Object, "spec", "template", "spec", "containers")
	args := fmt.Sprint(containers[0].(map[string]any)["args"])
	if !strings.Contains(args, "--backup-location=s3://b/c1?region=eu-west-1 --backup-location-credential=cloud-credentials/cloud") {
		t.Errorf("args %s", args)
	}
	wantErr(t, nil, []string{"install", "--dry-run", "--secret-file", file}, "--secret-file is the credential of --backup-location")
	wantErr(t, nil, []string{"install", "--dry-run=server"}, "--backup-location is required to install")
}

// install runs the image of its own version; a development build has none
// and must be told which.
func TestInstallImageIsTheClientsVersion(t *testing.T) {
	old := version.Version
	t.Cleanup(func() { version.Version = old })
	version.Version = "v1.2.3"
	objs := decodeManifests(t, mustRun(t, nil, nil, "install", "--dry-run").out)
	containers, _, _ := unstructured.NestedSlice(objs["StatefulSet/ark-apiserver"].Object, "spec", "template", "spec", "containers")
	if got := containers[0].(map[string]any)["image"]; got != "ghcr.io/arkproject/ark-apiserver:v1.2.3" {
		t.Errorf("image %v, want the client's version", got)
	}
	version.Version = "dev"
	wantErr(t, nil, []string{"install", "--dry-run=server", "--backup-location", "gs://b/c"}, "--image is required: this ark is a development build")
}
