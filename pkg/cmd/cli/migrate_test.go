package cli

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"math/big"
	"path/filepath"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apimachinery/pkg/util/yaml"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	clienttesting "k8s.io/client-go/testing"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
	"github.com/arkproject/ark/pkg/generated/clientset/versioned/fake"
)

// Heptio Ark v0.10's objects as its server stored them: fields without
// omitempty serialized as null, a location's config and no access mode in
// its spec, hooks under the old "hooks" name.
const heptioArkObjects = `
apiVersion: ark.heptio.com/v1
kind: BackupStorageLocation
metadata: {name: default, namespace: heptio-ark}
spec:
  provider: aws
  objectStorage: {bucket: ark-bucket, prefix: ""}
  config: {region: us-east-1, resticRepoPrefix: "s3:s3-us-east-1.amazonaws.com/ark-bucket/restic"}
status: {phase: Available}
---
apiVersion: ark.heptio.com/v1
kind: BackupStorageLocation
metadata: {name: minio, namespace: heptio-ark, labels: {team: infra}}
spec:
  provider: aws
  objectStorage: {bucket: backups, prefix: cluster-1}
  config: {region: minio, s3ForcePathStyle: "true", s3Url: "http://minio.minio:9000"}
---
apiVersion: ark.heptio.com/v1
kind: BackupStorageLocation
metadata: {name: azure, namespace: heptio-ark}
spec:
  provider: azure
  objectStorage: {bucket: container, prefix: ""}
  config: {resourceGroup: rg, storageAccount: acct}
---
apiVersion: ark.heptio.com/v1
kind: VolumeSnapshotLocation
metadata: {name: aws-default, namespace: heptio-ark}
spec:
  provider: aws
  config: {region: us-east-1}
---
apiVersion: ark.heptio.com/v1
kind: VolumeSnapshotLocation
metadata: {name: gcp-default, namespace: heptio-ark}
spec:
  provider: gcp
  config: {project: my-project-123}
---
apiVersion: ark.heptio.com/v1
kind: Schedule
metadata: {name: daily, namespace: heptio-ark}
spec:
  schedule: "0 1 * * *"
  template:
    includedNamespaces: ["*"]
    excludedNamespaces: null
    includedResources: null
    excludedResources: null
    labelSelector: null
    includeClusterResources: null
    ttl: 168h0m0s
    storageLocation: minio
    volumeSnapshotLocations: [aws-default, gcp-default]
    hooks:
      resources:
      - name: freeze
        includedNamespaces: [db]
        excludedNamespaces: null
        includedResources: null
        excludedResources: null
        labelSelector: {matchLabels: {app: db}}
        hooks:
        - exec: {container: db, command: [fsfreeze, --freeze, /data], onError: Fail, timeout: 30s}
status: {phase: Enabled, lastBackup: "2019-01-01T01:00:00Z", validationErrors: null}
`

// testCACert is a CA certificate in PEM, for a location's caCert.
var testCACert = func() string {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "minio-ca"}, NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		panic(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}()

// Velero 1.x's objects, with the fields Ark lacks.
var veleroObjects = `
apiVersion: velero.io/v1
kind: BackupStorageLocation
metadata: {name: default, namespace: velero}
spec:
  provider: velero.io/aws
  default: true
  objectStorage: {bucket: velero-bucket}
  config: {region: eu-west-1}
---
apiVersion: velero.io/v1
kind: BackupStorageLocation
metadata: {name: secondary, namespace: velero}
spec:
  provider: aws
  accessMode: ReadWrite
  credential: {name: cloud-credentials, key: cloud}
  objectStorage: {bucket: other, prefix: velero, caCert: ` + base64.StdEncoding.EncodeToString([]byte(testCACert)) + `}
  config: {region: eu-west-1, profile: backup, checksumAlgorithm: ""}
  backupSyncPeriod: 2m0s
---
apiVersion: velero.io/v1
kind: BackupStorageLocation
metadata: {name: restic-only, namespace: velero}
spec:
  provider: velero.io/restic-store
  objectStorage: {bucket: x}
---
apiVersion: velero.io/v1
kind: VolumeSnapshotLocation
metadata: {name: ebs, namespace: velero}
spec:
  provider: velero.io/aws
  config: {region: eu-west-1}
---
apiVersion: velero.io/v1
kind: VolumeSnapshotLocation
metadata: {name: csi, namespace: velero}
spec:
  provider: csi
  config: {volumeSnapshotClass: fast, bogus: "1"}
---
apiVersion: velero.io/v1
kind: Schedule
metadata: {name: nightly, namespace: velero}
spec:
  schedule: "@every 24h"
  paused: true
  useOwnerReferencesInBackup: true
  template:
    includedNamespaces: [shop]
    snapshotVolumes: false
    ttl: 72h0m0s
    storageLocation: secondary
    defaultVolumesToRestic: true
    orderedResources: {pods: "shop/a,shop/b"}
    hooks:
      resources:
      - name: flush
        pre:
        - exec: {command: [sync]}
---
apiVersion: velero.io/v1
kind: Schedule
metadata: {name: plain, namespace: velero}
spec:
  schedule: "0 3 * * *"
  useOwnerReferencesInBackup: false
  template: {includedNamespaces: [shop], defaultVolumesToRestic: false}
---
apiVersion: velero.io/v1
kind: Schedule
metadata: {name: broken, namespace: velero}
spec:
  schedule: "every now and then"
  template: {}
`

// decodeObjects reads a YAML stream of objects.
func decodeObjects(t *testing.T, docs string) []runtime.Object {
	t.Helper()
	var objs []runtime.Object
	dec := yaml.NewYAMLOrJSONDecoder(strings.NewReader(docs), 4096)
	for {
		u := &unstructured.Unstructured{}
		if err := dec.Decode(&u.Object); err != nil {
			if err.Error() == "EOF" {
				return objs
			}
			t.Fatal(err)
		}
		if len(u.Object) > 0 {
			objs = append(objs, u)
		}
	}
}

// arkAPIServiceObject is Ark's APIService: with a service, Available.
func arkAPIServiceObject() *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{"apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService", "metadata": map[string]any{"name": arkAPIService},
		"spec":   map[string]any{"service": map[string]any{"name": "ark-apiserver", "namespace": "ark-system"}},
		"status": map[string]any{"conditions": []any{map[string]any{"type": "Available", "status": "True"}}}}}
}

// fakeOld is a cluster serving the old installations' CRDs, holding objs.
func fakeOld(objs ...runtime.Object) *dynamicfake.FakeDynamicClient {
	kinds := map[schema.GroupVersionResource]string{
		apiServiceGVR: "APIServiceList",
	}
	for _, src := range migrateSources {
		for _, k := range []string{"Schedule", "BackupStorageLocation", "VolumeSnapshotLocation"} {
			kinds[src.gvr(strings.ToLower(k)+"s")] = k + "List"
		}
	}
	return dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), kinds, objs...)
}

// runMigrate runs ark with the old cluster dyn and Ark's client.
func runMigrate(t *testing.T, dyn *dynamicfake.FakeDynamicClient, client *fake.Clientset, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	root, env := NewRootCommand("ark", strings.NewReader(""), &out, &errOut)
	env.ark, env.dyn = client, dyn
	root.SetArgs(args)
	err := root.ExecuteContext(context.Background())
	return result{out: out.String(), err: errOut.String(), runErr: err}
}

// creates lists the objects the fake Ark client was asked to create.
func creates(client *fake.Clientset) []string {
	var got []string
	for _, a := range client.Actions() {
		if a.GetVerb() == "create" {
			got = append(got, a.GetResource().Resource+"/"+a.(interface{ GetObject() runtime.Object }).GetObject().(metav1.Object).GetName())
		}
	}
	return got
}

func TestMigrateVeleroDryRunCreatesNothing(t *testing.T) {
	// Ark serves, and has a location "default" of its own.
	client := fake.NewSimpleClientset(&arkv1.BackupStorageLocation{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: "heptio-ark"}})
	dyn := fakeOld(append(decodeObjects(t, veleroObjects), arkAPIServiceObject())...)
	r := runMigrate(t, dyn, client, "migrate", "--from", "velero", "--dry-run")
	if r.runErr != nil {
		t.Fatalf("%v\n%s", r.runErr, r.out)
	}
	golden(t, "migrate-velero-dry-run.txt", []byte(r.out))
	if got := creates(client); len(got) != 0 {
		t.Errorf("a dry run created %v", got)
	}
	for _, a := range dyn.Actions() {
		if a.GetVerb() != "list" && a.GetVerb() != "get" {
			t.Errorf("a dry run sent %s %s to the old installation", a.GetVerb(), a.GetResource())
		}
	}
}

func TestMigrateVeleroCreatesAndReports(t *testing.T) {
	// Ark's own default location exists (its --backup-location).
	existing := &arkv1.BackupStorageLocation{
		ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: "heptio-ark"},
		Spec:       arkv1.BackupStorageLocationSpec{Provider: "file", ObjectStorage: arkv1.ObjectStorageLocation{Bucket: "/var/lib/ark/bucket"}, AccessMode: "ReadWrite", Default: true},
	}
	client := fake.NewSimpleClientset(existing)
	dyn := fakeOld(append(decodeObjects(t, veleroObjects), arkAPIServiceObject())...)
	r := runMigrate(t, dyn, client, "migrate", "--from", "velero")
	if r.runErr != nil {
		t.Fatalf("%v\n%s", r.runErr, r.out)
	}
	for _, want := range []string{
		"backupstoragelocation/velero-default: metadata.name: renamed from default",
		"backupstoragelocation/velero-default created",
		"backupstoragelocation/secondary created",
		"volumesnapshotlocation/csi created",
		"schedule/nightly created",
		"schedule/plain created",
		"backupstoragelocation/restic-only: not migrated: provider \"velero.io/restic-store\"",
		"volumesnapshotlocation/ebs: not migrated: provider \"velero.io/aws\": Ark has no EBS snapshotter",
		"volumesnapshotlocation/csi: spec.config.bogus: dropped",
		"schedule/broken: not migrated: Ark would refuse it: spec.schedule",
		"schedule/nightly: spec.useOwnerReferencesInBackup: dropped (was true)",
		"schedule/nightly: spec.template.defaultVolumesToRestic: dropped (was true)",
		"schedule/nightly: spec.template.orderedResources: dropped",
		`schedule/nightly: spec.template.storageLocation: cleared (was "secondary")`,
		"backupstoragelocation/secondary: spec.credential: dropped (was Secret velero/cloud-credentials key cloud)",
		"backupstoragelocation/secondary: spec.backupSyncPeriod: dropped",
		"backupstoragelocation/secondary: spec.accessMode: made ReadOnly",
		"backupstoragelocation/velero-default: spec.default: dropped",
		"Nothing of Velero was removed",
	} {
		if !strings.Contains(r.out, want) {
			t.Errorf("output lacks %q:\n%s", want, r.out)
		}
	}
	// false is what Ark does, and an empty config value says nothing.
	for _, unwanted := range []string{"schedule/plain: spec", "checksumAlgorithm"} {
		if strings.Contains(r.out, unwanted) {
			t.Errorf("output notes %q, which loses nothing:\n%s", unwanted, r.out)
		}
	}
	ctx := context.Background()
	l, err := client.ArkV1().BackupStorageLocations("heptio-ark").Get(ctx, "secondary", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if l.Spec.AccessMode != arkv1.BackupStorageLocationAccessModeReadOnly || l.Spec.Credential != nil || l.Spec.Default ||
		l.Spec.ObjectStorage != (arkv1.ObjectStorageLocation{Bucket: "other", Prefix: "velero"}) ||
		l.Spec.Config["profile"] != "backup" || l.Spec.Config["caCert"] != testCACert ||
		l.Annotations[AnnotationMigratedFrom] != "velero.io/v1 BackupStorageLocation velero/secondary" {
		t.Errorf("location secondary: %+v %v", l.Spec, l.Annotations)
	}
	if d, _ := client.ArkV1().BackupStorageLocations("heptio-ark").Get(ctx, "default", metav1.GetOptions{}); d.Spec.Provider != "file" {
		t.Errorf("the existing default location was overwritten: %+v", d.Spec)
	}
	s, err := client.ArkV1().Schedules("heptio-ark").Get(ctx, "nightly", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !s.Spec.Paused || s.Spec.Schedule != "@every 24h" || s.Spec.Template.StorageLocation != "" ||
		*s.Spec.Template.SnapshotVolumes || s.Spec.Template.TTL.Duration.String() != "72h0m0s" ||
		len(s.Spec.Template.Hooks.Resources) != 1 || s.Spec.Template.Hooks.Resources[0].PreHooks[0].Exec.Command[0] != "sync" {
		t.Errorf("schedule nightly: %+v", s.Spec)
	}
	if _, err := client.ArkV1().Schedules("heptio-ark").Get(ctx, "broken", metav1.GetOptions{}); err == nil {
		t.Error("schedule broken, which Ark refuses, was created")
	}
	// Nothing of Velero was removed.
	for _, a := range dyn.Actions() {
		if a.GetVerb() == "delete" {
			t.Errorf("deleted %s without --delete-old", a.GetResource())
		}
	}
}

func TestMigrateVeleroDeleteOldDeletesOnlyWhatMigratedWhole(t *testing.T) {
	client := fake.NewSimpleClientset()
	dyn := fakeOld(append(decodeObjects(t, veleroObjects), arkAPIServiceObject())...)
	r := runMigrate(t, dyn, client, "migrate", "--from", "velero", "--delete-old")
	if r.runErr != nil {
		t.Fatalf("%v\n%s", r.runErr, r.out)
	}
	var deleted []string
	for _, a := range dyn.Actions() {
		if a.GetVerb() == "delete" {
			deleted = append(deleted, a.GetResource().Resource+"/"+a.(interface{ GetName() string }).GetName())
		}
	}
	// plain is the only object translated without a note: every location
	// of Velero is made ReadOnly, nightly lost fields, broken was refused.
	if strings.Join(deleted, ",") != "schedules/plain" {
		t.Errorf("deleted %v, want only schedules/plain\n%s", deleted, r.out)
	}
	if !strings.Contains(r.out, "Kept in velero.io") || !strings.Contains(r.out, "schedule/nightly") {
		t.Errorf("kept objects not listed:\n%s", r.out)
	}
}

func TestMigrateHeptioArkThroughPlanFile(t *testing.T) {
	dir := t.TempDir()
	plan := filepath.Join(dir, "plan.json")
	dyn := fakeOld(decodeObjects(t, heptioArkObjects)...)

	// Without a plan file there is no run that could create them.
	if r := runMigrate(t, dyn, fake.NewSimpleClientset(), "migrate", "--from", "heptio-ark"); r.runErr == nil || !strings.Contains(r.runErr.Error(), "--save-plan") {
		t.Errorf("--from heptio-ark without --save-plan: %v", r.runErr)
	}

	// Before Ark is installed, kube-apiserver serves the CRDs through an
	// APIService of the same name without a service.
	local := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService",
		"metadata": map[string]any{"name": arkAPIService, "labels": map[string]any{automanagedLabel: "true"}},
		"spec":     map[string]any{"group": "ark.heptio.com", "version": "v1"}}}
	dyn = fakeOld(append(decodeObjects(t, heptioArkObjects), local)...)
	client := fake.NewSimpleClientset()
	r := runMigrate(t, dyn, client, "migrate", "--from", "heptio-ark", "--save-plan", plan)
	if r.runErr != nil {
		t.Fatalf("%v\n%s", r.runErr, r.out)
	}
	golden(t, "migrate-heptio-ark-plan.txt", []byte(strings.ReplaceAll(r.out, dir, "$DIR")))
	if got := creates(client); len(got) != 0 {
		t.Errorf("--save-plan created %v", got)
	}

	// Not yet installed: creating would write into Heptio Ark's CRDs.
	if r := runMigrate(t, dyn, client, "migrate", "--plan", plan); r.runErr == nil || !strings.Contains(r.runErr.Error(), "routes to CRDs") || len(creates(client)) != 0 {
		t.Errorf("--plan before Ark is installed: %v, created %v", r.runErr, creates(client))
	}

	// Ark installed: its APIService now hides Heptio Ark's objects.
	apiService := arkAPIServiceObject()
	if r := runMigrate(t, fakeOld(apiService), client, "migrate", "--from", "heptio-ark", "--dry-run"); r.runErr == nil || !strings.Contains(r.runErr.Error(), "APIService v1.ark.heptio.com routes to a server") {
		t.Errorf("reading Heptio Ark behind Ark's APIService: %v", r.runErr)
	}

	r = runMigrate(t, fakeOld(apiService), client, "migrate", "--plan", plan)
	if r.runErr != nil {
		t.Fatalf("%v\n%s", r.runErr, r.out)
	}
	if got, want := strings.Join(creates(client), ","), "backupstoragelocations/azure,backupstoragelocations/default,backupstoragelocations/minio,volumesnapshotlocations/gcp-default,schedules/daily"; got != want {
		t.Errorf("created %s, want %s", got, want)
	}
	// -n with --plan creates in that namespace, whatever the plan said.
	other := fake.NewSimpleClientset()
	if r := runMigrate(t, fakeOld(apiService), other, "migrate", "--plan", plan, "-n", "ark-home"); r.runErr != nil {
		t.Errorf("--plan -n ark-home: %v\n%s", r.runErr, r.out)
	} else if _, err := other.ArkV1().Schedules("ark-home").Get(context.Background(), "daily", metav1.GetOptions{}); err != nil {
		t.Errorf("--plan -n ark-home: schedule daily: %v", err)
	}
	if !strings.Contains(r.out, "kubectl delete crd schedules.ark.heptio.com") || !strings.Contains(r.out, "kubectl replace --force") {
		t.Errorf("no clean-up commands:\n%s", r.out)
	}
	ctx := context.Background()
	s, err := client.ArkV1().Schedules("heptio-ark").Get(ctx, "daily", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	hooks := s.Spec.Template.Hooks.Resources
	if s.Spec.Template.StorageLocation != "minio" || s.Spec.Template.TTL.Duration.Hours() != 168 ||
		len(hooks) != 1 || len(hooks[0].PreHooks) != 1 || hooks[0].PreHooks[0].Exec.Container != "db" || hooks[0].LabelSelector.MatchLabels["app"] != "db" {
		t.Errorf("schedule daily: %+v", s.Spec.Template)
	}
	l, err := client.ArkV1().BackupStorageLocations("heptio-ark").Get(ctx, "minio", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if l.Spec.AccessMode != arkv1.BackupStorageLocationAccessModeReadWrite || l.Spec.Config["s3Url"] != "http://minio.minio:9000" || l.Labels["team"] != "infra" {
		t.Errorf("location minio: %+v %v", l.Spec, l.Labels)
	}
	if a, _ := client.ArkV1().BackupStorageLocations("heptio-ark").Get(ctx, "azure", metav1.GetOptions{}); a.Spec.Config["resourceGroup"] != "" || a.Spec.Config["storageAccount"] != "acct" {
		t.Errorf("location azure config: %v", a.Spec.Config)
	}
}

func TestMigrateFlagsRefused(t *testing.T) {
	dyn := fakeOld()
	for _, args := range [][]string{
		{"migrate"},
		{"migrate", "--from", "kasten"},
		{"migrate", "--from", "heptio-ark", "--delete-old", "--save-plan", "x"},
		{"migrate", "--from", "velero", "--delete-old", "--dry-run"},
		{"migrate", "--plan", "x", "--from", "velero"},
		{"migrate", "--from", "velero", "--dry-run=maybe"},
	} {
		if r := runMigrate(t, dyn, fake.NewSimpleClientset(), args...); r.runErr == nil {
			t.Errorf("%v: no error\n%s", args, r.out)
		}
	}
	// No CRDs at all says so rather than migrating nothing quietly.
	noCRDs := fakeOld()
	noCRDs.PrependReactor("list", "*", func(a clienttesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewNotFound(a.GetResource().GroupResource(), "")
	})
	r := runMigrate(t, noCRDs, fake.NewSimpleClientset(), "migrate", "--from", "velero", "--dry-run")
	if r.runErr == nil || !strings.Contains(r.runErr.Error(), "is Velero installed?") {
		t.Errorf("no Velero CRDs: %v\n%s", r.runErr, r.out)
	}
}

func TestMigrateVeleroSchedulesIntoNamespaceFlag(t *testing.T) {
	client := fake.NewSimpleClientset()
	dyn := fakeOld(append(decodeObjects(t, veleroObjects), arkAPIServiceObject())...)
	r := runMigrate(t, dyn, client, "migrate", "--from", "velero", "-n", "ark-home")
	if r.runErr != nil {
		t.Fatalf("%v\n%s", r.runErr, r.out)
	}
	if _, err := client.ArkV1().Schedules("ark-home").Get(context.Background(), "plain", metav1.GetOptions{}); err != nil {
		t.Errorf("schedule plain not in -n ark-home: %v", err)
	}
}

func TestPruneNotesOnlyWhatIsLost(t *testing.T) {
	var list []migrateNote
	n := notes{object: "schedule/s", list: &list}
	got := prune(map[string]any{
		"schedule": "@daily",
		"extra":    "x",
		"nothing":  nil,
		"off":      false,
		"template": map[string]any{"ttl": "1h", "metadata": map[string]any{"labels": map[string]any{"a": "b"}}, "empty": map[string]any{}},
	}, scheduleSpecFields, "spec", n)
	if _, ok := got["extra"]; ok || got["schedule"] != "@daily" || got["template"].(map[string]any)["ttl"] != "1h" {
		t.Errorf("pruned: %v", got)
	}
	var fields []string
	for _, note := range list {
		fields = append(fields, note.Field)
	}
	if strings.Join(fields, ",") != "spec.extra,spec.template.metadata" {
		t.Errorf("noted %v, want spec.extra and spec.template.metadata", fields)
	}
}

func TestInstallTakesOverTheAPIServiceMadeForHeptioArksCRDs(t *testing.T) {
	made := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService",
		"metadata": map[string]any{"name": arkAPIService, "labels": map[string]any{automanagedLabel: "true", "other": "kept"}},
		"spec":     map[string]any{"group": "ark.heptio.com", "version": "v1", "groupPriorityMinimum": int64(1000)},
	}}
	dyn := fakeOld(made)
	var out bytes.Buffer
	ri := dyn.Resource(apiServiceGVR)
	if err := releaseAutomanaged(context.Background(), &out, ri, arkAPIService); err != nil {
		t.Fatal(err)
	}
	got, err := ri.Get(context.Background(), arkAPIService, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := got.GetLabels()[automanagedLabel]; ok || got.GetLabels()["other"] != "kept" {
		t.Errorf("labels after take-over: %v", got.GetLabels())
	}
	if !strings.Contains(out.String(), "taken over") {
		t.Errorf("take-over not reported: %q", out.String())
	}

	// Ark's own, or none: nothing to do, nothing said.
	out.Reset()
	dyn.ClearActions()
	if err := releaseAutomanaged(context.Background(), &out, ri, arkAPIService); err != nil {
		t.Fatal(err)
	}
	if err := releaseAutomanaged(context.Background(), &out, ri, "v1.other.example.com"); err != nil {
		t.Fatal(err)
	}
	for _, a := range dyn.Actions() {
		if a.GetVerb() != "get" {
			t.Errorf("sent %s to an APIService that is not kube-apiserver's", a.GetVerb())
		}
	}
	if out.Len() != 0 {
		t.Errorf("said %q with nothing taken over", out.String())
	}
}

func TestMigrateWaitsForANewLocationToBeServed(t *testing.T) {
	defer func(d time.Duration) { locationServedTimeout = d }(locationServedTimeout)
	locationServedTimeout = 5 * time.Second
	client := fake.NewSimpleClientset()
	refusals := 0
	// The server refuses the schedule until the location it names is served.
	client.PrependReactor("create", "schedules", func(a clienttesting.Action) (bool, runtime.Object, error) {
		if refusals < 2 {
			refusals++
			return true, nil, apierrors.NewInvalid(arkv1.Kind("Schedule"), "daily", field.ErrorList{
				field.NotSupported(field.NewPath("spec", "template", "storageLocation"), "minio", []string{"default"})})
		}
		return false, nil, nil
	})
	dyn := fakeOld(decodeObjects(t, heptioArkObjects)...)
	dir := t.TempDir()
	plan := filepath.Join(dir, "plan.json")
	if r := runMigrate(t, dyn, client, "migrate", "--from", "heptio-ark", "--save-plan", plan); r.runErr != nil {
		t.Fatal(r.runErr)
	}
	r := runMigrate(t, fakeOld(arkAPIServiceObject()), client, "migrate", "--plan", plan)
	if r.runErr != nil || refusals != 2 || !strings.Contains(r.out, "schedule/daily created") {
		t.Errorf("after %d refusals: %v\n%s", refusals, r.runErr, r.out)
	}
}
