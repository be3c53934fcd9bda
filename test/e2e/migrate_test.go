package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
)

// oldKinds are the kinds ark migrate reads from Heptio Ark and Velero.
var oldKinds = []string{"Schedule", "BackupStorageLocation", "VolumeSnapshotLocation"}

// oldCRDs are minimal CRDs of group for oldKinds, keeping every field, as
// a Heptio Ark or Velero installation's would for what migrate reads.
func oldCRDs(group string) (manifest string, names []string) {
	var docs []string
	for _, kind := range oldKinds {
		plural := strings.ToLower(kind) + "s"
		names = append(names, plural+"."+group)
		docs = append(docs, fmt.Sprintf(`apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: %[1]s.%[2]s}
spec:
  group: %[2]s
  scope: Namespaced
  names: {plural: %[1]s, singular: %[3]s, kind: %[4]s, listKind: %[4]sList}
  versions:
  - name: v1
    served: true
    storage: true
    schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
`, plural, group, strings.ToLower(kind), kind))
	}
	return strings.Join(docs, "---\n"), names
}

// createOldCRDs creates them and waits until they are established; t's
// cleanup deletes them, with their objects.
func createOldCRDs(t *testing.T, group string) []string {
	t.Helper()
	manifest, names := oldCRDs(group)
	t.Cleanup(func() {
		_, _ = kubectl(t, append([]string{"delete", "crd", "--ignore-not-found", "--timeout=1m"}, names...)...)
	})
	if out, err := kubectlIn(t, manifest, "apply", "-f", "-"); err != nil {
		t.Fatalf("creating the CRDs of %s: %v\n%s", group, err, out)
	}
	mustKubectl(t, append([]string{"wait", "--for=condition=Established", "--timeout=1m"}, prefixed("crd/", names)...)...)
	return names
}

func prefixed(prefix string, names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = prefix + n
	}
	return out
}

// deleteArkObjects deletes what a migration created, whatever happened.
func deleteArkObjects(t *testing.T, schedules, bsls, vsls []string) {
	ctx := context.Background()
	for _, n := range schedules {
		_ = ark.ArkV1().Schedules(home).Delete(ctx, n, metav1.DeleteOptions{})
	}
	for _, n := range vsls {
		_ = ark.ArkV1().VolumeSnapshotLocations(home).Delete(ctx, n, metav1.DeleteOptions{})
	}
	for _, n := range bsls {
		_ = ark.ArkV1().BackupStorageLocations(home).Delete(ctx, n, metav1.DeleteOptions{})
	}
}

// A Velero installation's schedules and locations, in velero.io CRDs of
// namespace velero, become Ark's in the home namespace: what Ark lacks is
// reported item by item, Velero's locations become ReadOnly, an existing
// Ark object is kept, and only --delete-old removes old objects, only
// those translated whole.
func TestMigrateFromVelero(t *testing.T) {
	dir := t.TempDir()
	t.Cleanup(func() { _, _ = kubectl(t, "delete", "namespace", "velero", "--ignore-not-found", "--wait=false") })
	t.Cleanup(func() {
		deleteArkObjects(t, []string{"velero-nightly", "velero-plain"}, []string{"velero-secondary", "velero-default"}, []string{"velero-csi"})
	})
	createOldCRDs(t, "velero.io")
	if out, err := kubectlIn(t, `apiVersion: v1
kind: Namespace
metadata: {name: velero}
---
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
metadata: {name: velero-secondary, namespace: velero}
spec:
  provider: aws
  accessMode: ReadWrite
  credential: {name: cloud-credentials, key: cloud}
  objectStorage: {bucket: other, prefix: velero}
  config: {region: eu-west-1, s3Url: "http://127.0.0.1:1", s3ForcePathStyle: "true"}
---
apiVersion: velero.io/v1
kind: VolumeSnapshotLocation
metadata: {name: velero-ebs, namespace: velero}
spec: {provider: velero.io/aws, config: {region: eu-west-1}}
---
apiVersion: velero.io/v1
kind: VolumeSnapshotLocation
metadata: {name: velero-csi, namespace: velero}
spec: {provider: csi, config: {volumeSnapshotClass: fast}}
---
apiVersion: velero.io/v1
kind: Schedule
metadata: {name: velero-nightly, namespace: velero}
spec:
  schedule: "0 3 * * *"
  useOwnerReferencesInBackup: true
  template:
    includedNamespaces: [shop]
    ttl: 72h0m0s
    storageLocation: velero-secondary
    volumeSnapshotLocations: [velero-ebs, velero-csi]
    defaultVolumesToRestic: true
    hooks:
      resources:
      - name: flush
        pre:
        - exec: {command: [sync]}
---
apiVersion: velero.io/v1
kind: Schedule
metadata: {name: velero-plain, namespace: velero}
spec:
  schedule: "0 4 * * *"
  paused: true
  template: {includedNamespaces: [shop], snapshotVolumes: false}
`, "apply", "-f", "-"); err != nil {
		t.Fatalf("Velero's objects: %v\n%s", err, out)
	}

	// The dry run shows the plan and creates nothing.
	out := mustArk(t, dir, "migrate", "--from", "velero", "--dry-run")
	for _, want := range []string{
		"backupstoragelocation/velero-secondary: aws other/velero, ReadOnly",
		"schedule/velero-nightly:",
		"volumesnapshotlocation/velero-ebs: not migrated",
		"backupstoragelocation/velero-secondary: spec.credential: dropped",
		"schedule/velero-nightly: spec.template.defaultVolumesToRestic: dropped",
		"schedule/velero-nightly: spec.useOwnerReferencesInBackup: dropped",
		"backupstoragelocation/velero-default: metadata.name: renamed from default",
		"Dry run: nothing was created.",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("dry run lacks %q:\n%s", want, out)
		}
	}
	ctx := context.Background()
	if _, err := ark.ArkV1().Schedules(home).Get(ctx, "velero-nightly", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("after the dry run, schedule velero-nightly: %v", err)
	}

	out = mustArk(t, dir, "migrate", "--from", "velero", "--delete-old")
	for _, want := range []string{
		"backupstoragelocation/velero-default created",
		"backupstoragelocation/velero-secondary created",
		"volumesnapshotlocation/velero-csi created",
		"schedule/velero-nightly created",
		"schedule/velero-plain created",
		"schedule.velero.io/velero-plain -n velero deleted",
		"volumesnapshotlocation.velero.io/velero-csi -n velero deleted",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("migrate lacks %q:\n%s", want, out)
		}
	}
	l, err := ark.ArkV1().BackupStorageLocations(home).Get(ctx, "velero-secondary", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if l.Spec.AccessMode != arkv1.BackupStorageLocationAccessModeReadOnly || l.Spec.Format != arkv1.BackupStorageLocationFormatVelero || l.Spec.Credential != nil || l.Spec.Provider != "aws" ||
		l.Spec.Config["s3Url"] != "http://127.0.0.1:1" || l.Annotations["ark.heptio.com/migrated-from"] != "velero.io/v1 BackupStorageLocation velero/velero-secondary" {
		t.Errorf("location velero-secondary: %+v %v", l.Spec, l.Annotations)
	}
	if d, err := ark.ArkV1().BackupStorageLocations(home).Get(ctx, "default", metav1.GetOptions{}); err != nil || d.Spec.Provider != "file" {
		t.Errorf("Ark's default location changed: %v %+v", err, d.Spec)
	}
	s, err := ark.ArkV1().Schedules(home).Get(ctx, "velero-nightly", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tmpl := s.Spec.Template
	if s.Spec.Schedule != "0 3 * * *" || tmpl.StorageLocation != arkv1.DefaultStorageLocation || tmpl.TTL.Duration != 72*time.Hour ||
		strings.Join(tmpl.IncludedNamespaces, ",") != "shop" || strings.Join(tmpl.VolumeSnapshotLocations, ",") != "velero-ebs,velero-csi" ||
		len(tmpl.Hooks.Resources) != 1 || len(tmpl.Hooks.Resources[0].PreHooks) != 1 {
		t.Errorf("schedule velero-nightly: %+v", s.Spec)
	}
	if p, err := ark.ArkV1().Schedules(home).Get(ctx, "velero-plain", metav1.GetOptions{}); err != nil || !p.Spec.Paused || *p.Spec.Template.SnapshotVolumes {
		t.Errorf("schedule velero-plain: %v %+v", err, p.Spec)
	}

	// Only velero-plain and velero-csi translated whole: every other
	// object stays.
	left := mustKubectl(t, "get", "schedules.velero.io,backupstoragelocations.velero.io,volumesnapshotlocations.velero.io", "-n", "velero", "-o", "name")
	for _, want := range []string{"schedule.velero.io/velero-nightly", "backupstoragelocation.velero.io/velero-secondary", "backupstoragelocation.velero.io/default", "volumesnapshotlocation.velero.io/velero-ebs"} {
		if !strings.Contains(left, want) {
			t.Errorf("%s was deleted, though not translated whole; left:\n%s", want, left)
		}
	}
	if strings.Contains(left, "velero-plain") || strings.Contains(left, "velero-csi") {
		t.Errorf("velero-plain or velero-csi, migrated whole, was not deleted with --delete-old:\n%s", left)
	}

	// Again: everything exists, nothing is overwritten or deleted.
	out = mustArk(t, dir, "migrate", "--from", "velero")
	if !strings.Contains(out, "schedule/velero-nightly exists in "+home+": kept as it is") || strings.Contains(out, " created") {
		t.Errorf("second migration:\n%s", out)
	}
}

// A Heptio Ark installation's objects are CRDs of ark.heptio.com, which
// Ark's APIService hides once registered. The suite's cluster has it, so
// this goes back to before: the APIService is deleted (as if Ark were not
// installed yet), Heptio Ark's CRDs and objects are created, ark migrate
// --save-plan reads them; then the APIService comes back as ark install
// brings it (taking it over from kube-apiserver, which made one for the
// CRDs), and ark migrate --plan creates Ark's objects. The CRDs are
// removed last, and Ark must still be served. Cleanup restores Ark's
// APIService whatever happened.
func TestMigrateFromHeptioArkBeforeInstall(t *testing.T) {
	dir := t.TempDir()
	plan := filepath.Join(dir, "plan.json")
	ctx := context.Background()

	// Cleanups run last first: the APIService is Ark's again before the
	// Ark objects are deleted and after the CRDs are.
	t.Cleanup(func() {
		deleteArkObjects(t, []string{"hark-daily"}, []string{"hark-minio"}, []string{"hark-gcp", "hark-aws"})
	})
	t.Cleanup(func() {
		restoreArkAPIService(t)
		ensureArkOpenAPI(t)
	})
	if out, err := kubectl(t, "delete", "apiservice", "v1.ark.heptio.com"); err != nil {
		t.Fatalf("deleting Ark's APIService: %v\n%s", err, out)
	}
	crds := createOldCRDs(t, "ark.heptio.com")
	var out string
	eventually(t, time.Minute, "Heptio Ark's CRDs are served", func() error {
		var err error
		out, err = kubectlIn(t, `apiVersion: ark.heptio.com/v1
kind: BackupStorageLocation
metadata: {name: hark-minio, namespace: `+home+`}
spec:
  provider: aws
  objectStorage: {bucket: backups, prefix: cluster-1}
  config: {region: minio, s3ForcePathStyle: "true", s3Url: "http://127.0.0.1:1", resticRepoPrefix: "s3:http://127.0.0.1:1/backups/restic"}
---
apiVersion: ark.heptio.com/v1
kind: VolumeSnapshotLocation
metadata: {name: hark-aws, namespace: `+home+`}
spec: {provider: aws, config: {region: us-east-1}}
---
apiVersion: ark.heptio.com/v1
kind: VolumeSnapshotLocation
metadata: {name: hark-gcp, namespace: `+home+`}
spec: {provider: gcp, config: {project: my-project-123}}
---
apiVersion: ark.heptio.com/v1
kind: Schedule
metadata: {name: hark-daily, namespace: `+home+`}
spec:
  schedule: "0 1 * * *"
  template:
    includedNamespaces: ["*"]
    excludedNamespaces: null
    labelSelector: null
    ttl: 168h0m0s
    storageLocation: hark-minio
    volumeSnapshotLocations: [hark-aws, hark-gcp]
    hooks:
      resources:
      - name: freeze
        includedNamespaces: [db]
        labelSelector: null
        hooks:
        - exec: {container: db, command: [fsfreeze, --freeze, /data], onError: Fail, timeout: 30s}
`, "apply", "-f", "-")
		if err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		return nil
	})

	out = mustArk(t, dir, "migrate", "--from", "heptio-ark", "--save-plan", plan)
	for _, want := range []string{
		"backupstoragelocation/hark-minio: aws backups/cluster-1, ReadWrite",
		"volumesnapshotlocation/hark-gcp: gcp",
		`schedule/hark-daily: "0 1 * * *"`,
		"backupstoragelocation/hark-minio: spec.config.resticRepoPrefix: dropped",
		`volumesnapshotlocation/hark-aws: not migrated: provider "aws"`,
		`schedule/hark-daily: spec.template.volumeSnapshotLocations: names "hark-aws", which is not migrated`,
		"Plan saved to " + plan,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("--save-plan lacks %q:\n%s", want, out)
		}
	}
	if _, err := os.Stat(plan); err != nil {
		t.Fatal(err)
	}

	// Not installed yet: what --plan would create would go into the CRDs.
	if out, code := arkCmd(t, dir, "migrate", "--plan", plan); code == 0 || !strings.Contains(out, "routes to CRDs") {
		t.Errorf("--plan while kube-apiserver serves Heptio Ark's CRDs: exit %d\n%s", code, out)
	}

	restoreArkAPIService(t)
	// Ark serves the group again: Heptio Ark's objects are hidden, and
	// reading them is refused rather than reading Ark's own.
	if _, err := ark.ArkV1().Schedules(home).Get(ctx, "hark-daily", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("with Ark's APIService back, schedule hark-daily: %v (want Ark's 404)", err)
	}
	if out, code := arkCmd(t, dir, "migrate", "--from", "heptio-ark", "--dry-run"); code == 0 || !strings.Contains(out, "APIService v1.ark.heptio.com routes to a server") {
		t.Errorf("reading Heptio Ark behind Ark's APIService: exit %d\n%s", code, out)
	}

	out = mustArk(t, dir, "migrate", "--plan", plan)
	for _, want := range []string{
		"backupstoragelocation/hark-minio created",
		"volumesnapshotlocation/hark-gcp created",
		"schedule/hark-daily created",
		"kubectl delete crd schedules.ark.heptio.com",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("--plan lacks %q:\n%s", want, out)
		}
	}
	s, err := ark.ArkV1().Schedules(home).Get(ctx, "hark-daily", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	hooks := s.Spec.Template.Hooks.Resources
	if s.Spec.Template.StorageLocation != "hark-minio" || s.Spec.Template.TTL.Duration != 168*time.Hour ||
		len(hooks) != 1 || len(hooks[0].PreHooks) != 1 || hooks[0].PreHooks[0].Exec.Container != "db" {
		t.Errorf("schedule hark-daily: %+v", s.Spec.Template)
	}
	l, err := ark.ArkV1().BackupStorageLocations(home).Get(ctx, "hark-minio", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if l.Spec.AccessMode != arkv1.BackupStorageLocationAccessModeReadWrite || l.Spec.Config["s3Url"] != "http://127.0.0.1:1" || l.Spec.Config["resticRepoPrefix"] != "" {
		t.Errorf("location hark-minio: %+v", l.Spec)
	}
	if _, err := ark.ArkV1().VolumeSnapshotLocations(home).Get(ctx, "hark-aws", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("volume snapshot location hark-aws, which Ark has no snapshotter for: %v", err)
	}

	// The clean-up migrate prints: Ark stays served.
	mustKubectl(t, append([]string{"delete", "crd", "--timeout=1m"}, crds...)...)
	time.Sleep(2 * time.Second) // kube-apiserver's controllers act on the deletion
	if got := mustKubectl(t, "get", "apiservice", "v1.ark.heptio.com", "-o", "jsonpath={.spec.service.name}/{.status.conditions[?(@.type==\"Available\")].status}"); got != "ark-apiserver/True" {
		t.Errorf("after Heptio Ark's CRDs were deleted, APIService v1.ark.heptio.com: %s", got)
	}
	if _, err := ark.ArkV1().Schedules(home).Get(ctx, "hark-daily", metav1.GetOptions{}); err != nil {
		t.Errorf("after Heptio Ark's CRDs were deleted, Ark's schedule hark-daily: %v", err)
	}
}

// restoreArkAPIService brings Ark's APIService back as ark install applies
// it: kube-apiserver's own (made for CRDs of the group) is taken over by
// removing its automanaged label, then Ark's is applied; until Ark serves
// again, both are retried (kube-apiserver may delete its own meanwhile,
// when the CRDs go).
func restoreArkAPIService(t *testing.T) {
	t.Helper()
	eventually(t, 2*time.Minute, "Ark's APIService is Available and serves Ark", func() error {
		got, err := kubectl(t, "get", "apiservice", "v1.ark.heptio.com", "-o", "jsonpath={.spec.service.name}/{.status.conditions[?(@.type==\"Available\")].status}/{.metadata.labels}")
		if err != nil || !strings.HasPrefix(got, "ark-apiserver/") || strings.Contains(got, "automanaged") {
			_, _ = kubectl(t, "label", "apiservice", "v1.ark.heptio.com", "kube-aggregator.kubernetes.io/automanaged-")
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if err := cluster.RouteAPIService(ctx, "ark-apiserver"); err != nil {
				return err
			}
			return fmt.Errorf("APIService was %q (%v): applied Ark's", got, err)
		}
		if !strings.HasPrefix(got, "ark-apiserver/True") {
			return fmt.Errorf("APIService: %s", got)
		}
		_, err = ark.ArkV1().BackupStorageLocations(home).Get(context.Background(), arkv1.DefaultStorageLocation, metav1.GetOptions{})
		return err
	})
}

// ensureArkOpenAPI makes kube-apiserver's aggregated OpenAPI (what kubectl
// explain reads) serve Ark's group again, for the tests after this one.
// kube-aggregator fetches an APIService's OpenAPI when the APIService is
// created and, later, only on its own period or after a failed fetch; an
// APIService it made for CRDs and that was then taken over (updated to
// route to Ark) is never fetched once that period's queued fetch has
// found it gone. Created afresh, it is fetched within a second.
func ensureArkOpenAPI(t *testing.T) {
	t.Helper()
	served := func() bool {
		root, err := kubectl(t, "get", "--raw", "/openapi/v3")
		return err == nil && strings.Contains(root, `"apis/ark.heptio.com/v1"`)
	}
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Second) {
		if served() {
			return
		}
	}
	// What ark migrate tells users to run once the CRDs are gone.
	t.Log("the aggregated OpenAPI lacks ark.heptio.com/v1: creating Ark's APIService afresh")
	svc := mustKubectl(t, "get", "apiservice", "v1.ark.heptio.com", "-o", "json")
	if out, err := kubectlIn(t, svc, "replace", "--force", "-f", "-"); err != nil {
		t.Errorf("kubectl replace --force of Ark's APIService: %v\n%s", err, out)
	}
	restoreArkAPIService(t)
	eventually(t, time.Minute, "the aggregated OpenAPI serves ark.heptio.com/v1", func() error {
		if !served() {
			return errors.New("not in /openapi/v3")
		}
		return nil
	})
}
