package e2e

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
	"github.com/arkproject/ark/pkg/objectstore/azuretest"
	"github.com/arkproject/ark/pkg/objectstore/s3test"
)

// s3Keys lists the keys of a bucket under a prefix.
func s3Keys(t *testing.T, srv *s3test.Server, bucket, prefix string) []string {
	t.Helper()
	var keys []string
	p := s3.NewListObjectsV2Paginator(srv.Client(), &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range page.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
	}
	slices.Sort(keys)
	return keys
}

// credentialFile is an AWS shared credentials file.
func credentialFile(access, secret string) string {
	return fmt.Sprintf("[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n", access, secret)
}

// locationPhase waits until a location's status satisfies ok.
func locationPhase(t *testing.T, name, what string, ok func(arkv1.BackupStorageLocationStatus) bool) arkv1.BackupStorageLocationStatus {
	t.Helper()
	var st arkv1.BackupStorageLocationStatus
	eventually(t, time.Minute, what, func() error {
		l, err := ark.ArkV1().BackupStorageLocations(home).Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		st = l.Status
		if !ok(st) {
			return fmt.Errorf("status %+v", st)
		}
		return nil
	})
	return st
}

// Two locations at once through make run's cluster: the file bucket of
// --backup-location and an S3 bucket (a real S3 server) whose credential
// is a Secret. A wrong credential makes the location Unavailable with the
// reason until the Secret is fixed; backups go to either location and are
// listed together with where each lives; a restore reads from S3. Then
// the S3 bucket, mounted ReadOnly under another name as another cluster
// would, is listed and restored from, and nothing is written to it.
func TestSeveralLocations(t *testing.T) {
	ctx := context.Background()
	srv := s3test.Start(t)
	srv.CreateBucket(t, "ark-e2e")

	mustKubectl(t, "create", "secret", "generic", "s3-creds", "-n", home,
		"--from-literal=cloud="+credentialFile(srv.AccessKey, "not-the-secret"))
	t.Cleanup(func() { _, _ = kubectl(t, "delete", "secret", "s3-creds", "-n", home, "--ignore-not-found") })
	location := func(name, mode string) string {
		return fmt.Sprintf(`apiVersion: ark.heptio.com/v1
kind: BackupStorageLocation
metadata: {name: %s, namespace: %s}
spec:
  provider: aws
  objectStorage: {bucket: ark-e2e, prefix: cluster-a}
  config: {region: us-east-1, s3Url: %q, s3ForcePathStyle: "true"}
  credential: {name: s3-creds, key: cloud}
  accessMode: %s
`, name, home, srv.Endpoint, mode)
	}
	if out, err := kubectlIn(t, location("s3", "ReadWrite"), "apply", "-f", "-"); err != nil {
		t.Fatalf("creating the S3 location: %v\n%s", err, out)
	}
	t.Cleanup(func() { _, _ = kubectl(t, "delete", "bsl", "s3", "mirror", "-n", home, "--ignore-not-found") })

	st := locationPhase(t, "s3", "the S3 location with a wrong secret is Unavailable", func(s arkv1.BackupStorageLocationStatus) bool {
		return s.Phase == arkv1.BackupStorageLocationPhaseUnavailable && strings.Contains(s.Message, "access denied")
	})
	if !strings.Contains(st.Message, `"s3"`) {
		t.Errorf("the message does not name the location: %q", st.Message)
	}
	// The list still answers, with the default location's backups and a
	// Warning naming the one that does not.
	out, err := kubectl(t, "get", "backups", "-n", home)
	if err != nil || !strings.Contains(out, `backup storage location "s3"`) {
		t.Errorf("kubectl get backups with s3 down: %v\n%s", err, out)
	}

	if out, err := kubectlIn(t, mustKubectl(t, "create", "secret", "generic", "s3-creds", "-n", home, "--dry-run=client", "-o", "yaml",
		"--from-literal=cloud="+credentialFile(srv.AccessKey, srv.SecretKey)), "apply", "-f", "-"); err != nil {
		t.Fatalf("fixing the Secret: %v\n%s", err, out)
	}
	locationPhase(t, "s3", "the S3 location is Available once its Secret is fixed", func(s arkv1.BackupStorageLocationStatus) bool {
		return s.Phase == arkv1.BackupStorageLocationPhaseAvailable && s.LastSyncedTime != nil
	})

	mustKubectl(t, "create", "namespace", "harbour")
	t.Cleanup(func() {
		_, _ = kubectl(t, "delete", "namespace", "harbour", "harbour-2", "--ignore-not-found", "--wait=false")
	})
	mustKubectl(t, "create", "configmap", "tides", "-n", "harbour", "--from-literal=high=06:12")

	toS3 := runBackup(t, home, &arkv1.Backup{ObjectMeta: metav1.ObjectMeta{Name: "harbour-s3"}, Spec: arkv1.BackupSpec{
		IncludedNamespaces: []string{"harbour"}, StorageLocation: "s3"}}, "")
	toFile := runBackup(t, home, &arkv1.Backup{ObjectMeta: metav1.ObjectMeta{Name: "harbour-file"}, Spec: arkv1.BackupSpec{
		IncludedNamespaces: []string{"harbour"}}}, "")
	if toS3.Status.Phase != arkv1.BackupPhaseCompleted || toFile.Status.Phase != arkv1.BackupPhaseCompleted {
		t.Fatalf("backups: s3 %+v, file %+v", toS3.Status, toFile.Status)
	}
	if toFile.Spec.StorageLocation != arkv1.DefaultStorageLocation {
		t.Errorf("a backup naming no location went to %q", toFile.Spec.StorageLocation)
	}
	keys := s3Keys(t, srv, "ark-e2e", "cluster-a/")
	if !slices.Contains(keys, "cluster-a/backups/harbour-s3/harbour-s3.tar.gz") || slices.Contains(keys, "cluster-a/backups/harbour-file/ark-backup.json") {
		t.Errorf("S3 bucket holds %v", keys)
	}

	out = mustKubectl(t, "get", "backups", "-n", home, "-o", "custom-columns=NAME:.metadata.name,LOCATION:.spec.storageLocation", "--no-headers")
	for _, want := range []string{"harbour-s3 s3", "harbour-file default"} {
		if !slices.Contains(fieldsOf(out), want) {
			t.Errorf("kubectl get backups lacks %q:\n%s", want, out)
		}
	}
	out = mustKubectl(t, "get", "backups", "-n", home, "--field-selector", "spec.storageLocation=s3", "-o", "name")
	if strings.TrimSpace(out) != "backup.ark.heptio.com/harbour-s3" {
		t.Errorf("backups of location s3: %q", out)
	}

	mustKubectl(t, "delete", "namespace", "harbour", "--timeout=90s")
	r := runRestore(t, home, &arkv1.Restore{ObjectMeta: metav1.ObjectMeta{Name: "harbour-from-s3"}, Spec: arkv1.RestoreSpec{BackupName: "harbour-s3"}}, "")
	if r.Status.Phase != arkv1.RestorePhaseCompleted {
		t.Fatalf("restore from S3: %+v", r.Status)
	}
	if got := mustKubectl(t, "get", "configmap", "tides", "-n", "harbour", "-o", "jsonpath={.data.high}"); got != "06:12" {
		t.Errorf("restored configmap: %q", got)
	}
	if logs, err := kubectl(t, "get", "--raw", "/apis/ark.heptio.com/v1/namespaces/"+home+"/restores/harbour-from-s3/logs"); err != nil || !restoreLogFinished.MatchString(logs) {
		t.Errorf("restore logs: %v\n%s", err, logs)
	}

	// The same bucket mounted ReadOnly, as a second cluster mounts the
	// first one's: once s3 is gone (its bucket untouched), mirror serves
	// its backups, restores from them, and writes nothing there.
	mustKubectl(t, "delete", "bsl", "s3", "-n", home)
	eventually(t, 30*time.Second, "s3's backups leave the API with their location", func() error {
		if _, err := ark.ArkV1().Backups(home).Get(ctx, "harbour-s3", metav1.GetOptions{}); err == nil {
			return fmt.Errorf("harbour-s3 still served")
		}
		return nil
	})
	if keys := s3Keys(t, srv, "ark-e2e", "cluster-a/backups/"); !slices.Contains(keys, "cluster-a/backups/harbour-s3/ark-backup.json") {
		t.Fatalf("deleting the location deleted its backups: %v", keys)
	}
	if out, err := kubectlIn(t, location("mirror", "ReadOnly"), "apply", "-f", "-"); err != nil {
		t.Fatalf("mounting the bucket ReadOnly: %v\n%s", err, out)
	}
	before := s3Keys(t, srv, "ark-e2e", "")
	var mirrored *arkv1.Backup
	eventually(t, time.Minute, "harbour-s3 is served from mirror", func() error {
		b, err := ark.ArkV1().Backups(home).Get(ctx, "harbour-s3", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if b.Spec.StorageLocation != "mirror" {
			return fmt.Errorf("served from %q", b.Spec.StorageLocation)
		}
		mirrored = b
		return nil
	})
	if mirrored.Status.Phase != arkv1.BackupPhaseCompleted {
		t.Errorf("mirrored backup: %+v", mirrored.Status)
	}
	out, err = kubectlIn(t, `apiVersion: ark.heptio.com/v1
kind: Backup
metadata: {name: into-mirror, namespace: `+home+`}
spec: {storageLocation: mirror}
`, "create", "-f", "-")
	if err == nil || !strings.Contains(out, "ReadOnly") {
		t.Errorf("creating a backup in a ReadOnly location: %v\n%s", err, out)
	}
	if out, err := kubectl(t, "delete", "backup", "harbour-s3", "-n", home, "--wait=false"); err == nil || !strings.Contains(out, "ReadOnly") {
		t.Errorf("deleting a backup of a ReadOnly location: %v\n%s", err, out)
	}
	r = runRestore(t, home, &arkv1.Restore{ObjectMeta: metav1.ObjectMeta{Name: "harbour-from-mirror"}, Spec: arkv1.RestoreSpec{
		BackupName: "harbour-s3", NamespaceMapping: map[string]string{"harbour": "harbour-2"}}}, "")
	if r.Status.Phase != arkv1.RestorePhaseCompleted {
		t.Fatalf("restore from the ReadOnly mirror: %+v", r.Status)
	}
	if got := mustKubectl(t, "get", "configmap", "tides", "-n", "harbour-2", "-o", "jsonpath={.data.high}"); got != "06:12" {
		t.Errorf("configmap restored from the mirror: %q", got)
	}
	if logs, err := kubectl(t, "get", "--raw", "/apis/ark.heptio.com/v1/namespaces/"+home+"/restores/harbour-from-mirror/logs"); err != nil || !restoreLogFinished.MatchString(logs) {
		t.Errorf("logs of the restore from the mirror (kept in the default location): %v\n%s", err, logs)
	}
	// Wait for the garbage collector's pass, then check nothing was written.
	time.Sleep(2 * gcInterval)
	if after := s3Keys(t, srv, "ark-e2e", ""); !slices.Equal(before, after) {
		t.Errorf("the ReadOnly location was written to:\nbefore %v\nafter  %v", before, after)
	}
}

// fieldsOf returns each line of out with its fields joined by one space.
func fieldsOf(out string) []string {
	var rows []string
	for _, l := range lines(out) {
		rows = append(rows, strings.Join(strings.Fields(l), " "))
	}
	return rows
}

// azureBlobs lists the blob names of a container under a prefix.
func azureBlobs(t *testing.T, srv *azuretest.Server, container, prefix string) []string {
	t.Helper()
	var names []string
	p := srv.Client().NewListBlobsFlatPager(container, &azblob.ListBlobsFlatOptions{Prefix: &prefix})
	for p.More() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range page.Segment.BlobItems {
			names = append(names, *b.Name)
		}
	}
	slices.Sort(names)
	return names
}

// An Azure Blob location (Azurite) defined as an object, with its account
// key in a Secret: a backup goes there, is restored from there, and is
// deleted from there by the garbage collector when the backup is deleted.
func TestAzureLocation(t *testing.T) {
	srv := azuretest.Start(t)
	srv.CreateContainer(t, "ark-e2e")
	mustKubectl(t, "create", "secret", "generic", "azure-creds", "-n", home,
		"--from-literal=cloud=AZURE_STORAGE_KEY="+azuretest.AccountKey)
	t.Cleanup(func() {
		_, _ = kubectl(t, "delete", "bsl", "azure", "-n", home, "--ignore-not-found")
		_, _ = kubectl(t, "delete", "secret", "azure-creds", "-n", home, "--ignore-not-found")
	})
	if out, err := kubectlIn(t, fmt.Sprintf(`apiVersion: ark.heptio.com/v1
kind: BackupStorageLocation
metadata: {name: azure, namespace: %s}
spec:
  provider: azure
  objectStorage: {bucket: ark-e2e, prefix: cluster-a}
  config: {storageAccount: %s, storageAccountURI: %q}
  credential: {name: azure-creds, key: cloud}
`, home, azuretest.AccountName, srv.Endpoint), "apply", "-f", "-"); err != nil {
		t.Fatalf("creating the Azure location: %v\n%s", err, out)
	}
	locationPhase(t, "azure", "the Azure location is Available", func(s arkv1.BackupStorageLocationStatus) bool {
		return s.Phase == arkv1.BackupStorageLocationPhaseAvailable
	})

	mustKubectl(t, "create", "namespace", "lagoon")
	t.Cleanup(func() { _, _ = kubectl(t, "delete", "namespace", "lagoon", "--ignore-not-found", "--wait=false") })
	mustKubectl(t, "create", "configmap", "depth", "-n", "lagoon", "--from-literal=metres=4")
	b := runBackup(t, home, &arkv1.Backup{ObjectMeta: metav1.ObjectMeta{Name: "lagoon-azure"}, Spec: arkv1.BackupSpec{
		IncludedNamespaces: []string{"lagoon"}, StorageLocation: "azure"}}, "")
	if b.Status.Phase != arkv1.BackupPhaseCompleted {
		t.Fatalf("backup to Azure: %+v", b.Status)
	}
	if blobs := azureBlobs(t, srv, "ark-e2e", "cluster-a/backups/lagoon-azure/"); !slices.Contains(blobs, "cluster-a/backups/lagoon-azure/lagoon-azure.tar.gz") {
		t.Fatalf("the container holds %v", blobs)
	}

	mustKubectl(t, "delete", "namespace", "lagoon", "--timeout=90s")
	r := runRestore(t, home, &arkv1.Restore{ObjectMeta: metav1.ObjectMeta{Name: "lagoon-from-azure"}, Spec: arkv1.RestoreSpec{BackupName: "lagoon-azure"}}, "")
	if r.Status.Phase != arkv1.RestorePhaseCompleted {
		t.Fatalf("restore from Azure: %+v", r.Status)
	}
	if got := mustKubectl(t, "get", "configmap", "depth", "-n", "lagoon", "-o", "jsonpath={.data.metres}"); got != "4" {
		t.Errorf("restored configmap: %q", got)
	}

	mustKubectl(t, "delete", "backup", "lagoon-azure", "-n", home, "--wait=false")
	eventually(t, 2*time.Minute, "the garbage collector deletes the backup's blobs", func() error {
		if blobs := azureBlobs(t, srv, "ark-e2e", "cluster-a/backups/lagoon-azure/"); len(blobs) != 0 {
			return fmt.Errorf("left: %v", blobs)
		}
		return nil
	})
}

// The attack: a user who may write backup storage locations but not read a
// Secret names that Secret as a location's credential, to have Ark (which
// reads it as itself) use it for them. The API refuses, and no location is
// created; the same location without a credential is accepted. So is
// naming the Secret as an encrypted location's keys, on create or update.
func TestLocationCredentialNeedsTheAuthorsRights(t *testing.T) {
	mustKubectl(t, "create", "secret", "generic", "guarded-creds", "-n", home, "--from-literal=cloud=[default]")
	mustKubectl(t, "create", "rolebinding", "mallory-ark-admin", "-n", home, "--clusterrole=ark-admin", "--user=mallory")
	t.Cleanup(func() {
		_, _ = kubectl(t, "delete", "rolebinding", "mallory-ark-admin", "-n", home, "--ignore-not-found")
		_, _ = kubectl(t, "delete", "secret", "guarded-creds", "-n", home, "--ignore-not-found")
		_, _ = kubectl(t, "delete", "bsl", "mallorys", "-n", home, "--ignore-not-found")
	})
	if out, _ := kubectl(t, "auth", "can-i", "get", "secrets/guarded-creds", "-n", home, "--as=mallory"); strings.TrimSpace(out) != "no" {
		t.Fatalf("the fixture lets mallory read the Secret: %q", out)
	}
	location := func(credential string) string {
		return fmt.Sprintf(`apiVersion: ark.heptio.com/v1
kind: BackupStorageLocation
metadata: {name: mallorys, namespace: %s}
spec:
  provider: aws
  objectStorage: {bucket: someone-elses}
  config: {region: us-east-1}
%s`, home, credential)
	}
	out, err := kubectlIn(t, location("  credential: {name: guarded-creds, key: cloud}\n"), "--as=mallory", "create", "-f", "-")
	if err == nil || !strings.Contains(out, `may not get Secret "guarded-creds"`) {
		t.Fatalf("a location naming a Secret its author may not read: err=%v\n%s", err, out)
	}
	if _, err := ark.ArkV1().BackupStorageLocations(home).Get(context.Background(), "mallorys", metav1.GetOptions{}); err == nil {
		t.Error("the refused location exists")
	}
	// The same for the key Secret of an encrypted location: naming it would
	// have Ark encrypt with keys mallory may not read, and report on them.
	out, err = kubectlIn(t, location("  encryption: {keySecret: guarded-creds}\n"), "--as=mallory", "create", "-f", "-")
	if err == nil || !strings.Contains(out, `may not get Secret "guarded-creds"`) || !strings.Contains(out, "keys its author may read") {
		t.Fatalf("an encrypted location naming a key Secret its author may not read: err=%v\n%s", err, out)
	}
	if _, err := ark.ArkV1().BackupStorageLocations(home).Get(context.Background(), "mallorys", metav1.GetOptions{}); err == nil {
		t.Error("the refused encrypted location exists")
	}
	if out, err := kubectlIn(t, location(""), "--as=mallory", "create", "-f", "-"); err != nil {
		t.Errorf("the same location without a credential: %v\n%s", err, out)
	}
	// Nor can the key Secret be added to an existing location.
	out, err = kubectl(t, "--as=mallory", "patch", "bsl", "mallorys", "-n", home, "--type=merge", "-p", `{"spec":{"encryption":{"keySecret":"guarded-creds"}}}`)
	if err == nil || !strings.Contains(out, `may not get Secret "guarded-creds"`) {
		t.Errorf("naming the key Secret in an update: err=%v\n%s", err, out)
	}
	if got := mustKubectl(t, "get", "bsl", "mallorys", "-n", home, "-o", "jsonpath={.spec.encryption}"); got != "" {
		t.Errorf("the refused update left spec.encryption %s", got)
	}
}

// restoreLogFinished matches the last line of a restore log that created the
// namespace and the config map and failed nothing. Whether the namespace's
// default service account and root CA config map count as created or
// skipped (already there) depends on whether kube-controller-manager made
// them first, so the count is 2 to 4.
var restoreLogFinished = regexp.MustCompile(`restore finished: [2-4] created, 0 updated, [0-9]+ skipped, 0 failed`)
