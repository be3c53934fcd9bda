package backup

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/arkproject/ark/pkg/apis/ark"
	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
	"github.com/arkproject/ark/pkg/backupstore"
	"github.com/arkproject/ark/pkg/locations"
	"github.com/arkproject/ark/pkg/objectstore"
	"github.com/arkproject/ark/pkg/provenance"
)

// veleroRecord is a velero-backup.json as Velero's output file format
// documentation shows one, with the fields of a finished 1.x backup.
const veleroRecord = `{
  "kind": "Backup",
  "apiVersion": "velero.io/v1",
  "metadata": {
    "name": "nightly-20260101000000",
    "namespace": "velero",
    "uid": "a12345cb-75f5-11e7-b4c2-abcdef123456",
    "resourceVersion": "337075",
    "creationTimestamp": "2026-01-01T00:00:00Z",
    "labels": {"velero.io/schedule-name": "nightly", "velero.io/storage-location": "default", "ark.heptio.com/schedule-name": "forged"},
    "annotations": {"ark.heptio.com/provenance": "v1:forged", "ark.heptio.com/cluster": "this-one"}
  },
  "spec": {
    "includedNamespaces": ["shop"],
    "excludedNamespaces": null,
    "includedResources": ["*"],
    "excludedResources": ["events"],
    "labelSelector": {"matchLabels": {"app": "shop"}},
    "snapshotVolumes": true,
    "includeClusterResources": false,
    "storageLocation": "default",
    "ttl": "24h0m0s",
    "hooks": {"resources": [{"name": "h", "pre": [{"exec": {"command": ["rm", "-rf", "/"]}}]}]}
  },
  "status": {
    "version": 1,
    "formatVersion": "1.1.0",
    "expiration": "2026-01-02T00:00:00Z",
    "phase": "PartiallyFailed",
    "startTimestamp": "2026-01-01T00:00:01Z",
    "completionTimestamp": "2026-01-01T00:00:09Z",
    "volumeSnapshotsAttempted": 2,
    "volumeSnapshotsCompleted": 1,
    "warnings": 3,
    "errors": 1,
    "progress": {"totalItems": 12, "itemsBackedUp": 11}
  }
}`

func TestDecodeVelero(t *testing.T) {
	ref := backupstore.Layout{HomeNamespace: home, Format: backupstore.FormatVelero}.Backup(home, "nightly-20260101000000")
	b, err := decodeVelero([]byte(veleroRecord), ref, "file:///bucket")
	if err != nil {
		t.Fatal(err)
	}
	if b.Name != "nightly-20260101000000" || b.Namespace != home {
		t.Errorf("name %s/%s, want the folder's, in the home namespace", b.Namespace, b.Name)
	}
	if b.Labels["velero.io/schedule-name"] != "nightly" || b.Labels[arkv1.LabelScheduleName] != "" {
		t.Errorf("labels %v: want Velero's kept and Ark's own dropped", b.Labels)
	}
	if b.Annotations[provenance.ClusterAnnotation] != arkv1.VeleroCluster || b.Annotations[provenance.SignatureAnnotation] != "" {
		t.Errorf("annotations %v: want the Velero owner and nothing of the record's", b.Annotations)
	}
	if got := b.Annotations[arkv1.AnnotationRecordFormat]; got != "velero.io/v1; format 1.1.0" {
		t.Errorf("record format %q", got)
	}
	if len(b.Spec.Hooks.Resources) != 0 || b.Spec.Requester != nil {
		t.Errorf("hooks or a requester were taken from a Velero record: %+v", b.Spec)
	}
	if b.Spec.TTL.Duration != 24*time.Hour || len(b.Spec.IncludedNamespaces) != 1 || b.Spec.ExcludedResources[0] != "events" ||
		b.Spec.LabelSelector.MatchLabels["app"] != "shop" || *b.Spec.IncludeClusterResources || !*b.Spec.SnapshotVolumes {
		t.Errorf("spec not translated: %+v", b.Spec)
	}
	s := b.Status
	if s.Phase != ark.BackupPhasePartiallyFailed || s.Warnings != 3 || s.Errors != 1 ||
		s.VolumeSnapshotsAttempted != 2 || s.VolumeSnapshotsCompleted != 1 ||
		s.Progress == nil || s.Progress.TotalItems != 12 || s.Progress.ItemsDone != 11 {
		t.Errorf("status not translated: %+v", s)
	}
	if s.StartTimestamp == nil || s.CompletionTimestamp == nil || s.Expiration == nil ||
		!s.Expiration.Time.Equal(time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("times not translated: %+v", s)
	}
	if b.UID == "" || b.UID == "a12345cb-75f5-11e7-b4c2-abcdef123456" {
		t.Errorf("UID %q: want one of Ark's, derived from the bucket and the record", b.UID)
	}
}

func TestDecodeVeleroPhases(t *testing.T) {
	ref := backupstore.Layout{HomeNamespace: home, Format: backupstore.FormatVelero}.Backup(home, "b")
	for phase, want := range map[string]ark.BackupPhase{
		"": ark.BackupPhaseNew, "New": ark.BackupPhaseNew, "FailedValidation": ark.BackupPhaseFailedValidation,
		"InProgress": ark.BackupPhaseInProgress, "Completed": ark.BackupPhaseCompleted,
		"PartiallyFailed": ark.BackupPhasePartiallyFailed, "Failed": ark.BackupPhaseFailed,
		"Deleting": ark.BackupPhaseDeleting, "Finalizing": ark.BackupPhaseInProgress,
		"Exploded": ark.BackupPhaseFailed,
	} {
		rec := `{"apiVersion":"velero.io/v1","kind":"Backup","metadata":{"name":"b"},"status":{"phase":"` + phase + `"}}`
		b, err := decodeVelero([]byte(rec), ref, "s")
		if err != nil {
			t.Fatalf("phase %q: %v", phase, err)
		}
		if b.Status.Phase != want {
			t.Errorf("phase %q became %q, want %q", phase, b.Status.Phase, want)
		}
		if phase == "Exploded" && !strings.Contains(b.Status.FailureReason, `phase "Exploded"`) {
			t.Errorf("an unknown phase's reason is %q", b.Status.FailureReason)
		}
	}
}

func TestDecodeVeleroRefusesBadRecords(t *testing.T) {
	ref := backupstore.Layout{HomeNamespace: home, Format: backupstore.FormatVelero}.Backup(home, "b")
	for name, rec := range map[string]string{
		"not JSON":        `{`,
		"an Ark record":   `{"apiVersion":"ark.heptio.com/v1","kind":"Backup","metadata":{"name":"b"}}`,
		"another kind":    `{"apiVersion":"velero.io/v1","kind":"Restore","metadata":{"name":"b"}}`,
		"another name":    `{"apiVersion":"velero.io/v1","kind":"Backup","metadata":{"name":"c"}}`,
		"bad label":       `{"apiVersion":"velero.io/v1","kind":"Backup","metadata":{"name":"b","labels":{"a b":"c"}}}`,
		"bad selector":    `{"apiVersion":"velero.io/v1","kind":"Backup","metadata":{"name":"b"},"spec":{"labelSelector":{"matchExpressions":[{"key":"a","operator":"Nope"}]}}}`,
		"negative count":  `{"apiVersion":"velero.io/v1","kind":"Backup","metadata":{"name":"b"},"status":{"warnings":-1}}`,
		"huge validation": `{"apiVersion":"velero.io/v1","kind":"Backup","metadata":{"name":"b"},"status":{"failureReason":"` + strings.Repeat("x", 5000) + `"}}`,
	} {
		if _, err := decodeVelero([]byte(rec), ref, "s"); !errors.Is(err, errCorrupt) {
			t.Errorf("%s: %v, want a corrupt record", name, err)
		}
	}
}

// A Velero location lists the Velero records of its backups/ folder, in the
// home namespace, and nothing else planted in the bucket; its backups can
// be read but never changed or deleted.
func TestVeleroLocation(t *testing.T) {
	ctx := context.Background()
	vel := fileLocation(t, "velero", true)
	vel.Format = backupstore.FormatVelero
	put := func(key, data string) {
		if _, err := objectstore.PutBytes(ctx, vel.Store, key, []byte(data), objectstore.Conditions{}); err != nil {
			t.Fatal(err)
		}
	}
	put("backups/nightly-20260101000000/velero-backup.json", veleroRecord)
	put("backups/broken/velero-backup.json", `{"apiVersion":"velero.io/v1","kind":"Backup","metadata":{"name":"other"}}`)
	put("backups/ark-one/ark-backup.json", `{"apiVersion":"ark.heptio.com/v1","kind":"Backup","metadata":{"name":"ark-one"}}`)
	put("namespaces/team-a/backups/planted/velero-backup.json", `{"apiVersion":"velero.io/v1","kind":"Backup","metadata":{"name":"planted"}}`)
	r := newLocationsREST(t, locations.NewSet(fileLocation(t, "default", false), vel))

	got, _, err := listIn(t, r, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got["nightly-20260101000000"] != "velero" || got["broken"] != "velero" {
		t.Errorf("listed %v, want the two Velero records, from location velero", got)
	}
	obj, err := r.Get(nsContext(home), "broken", &metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if b := obj.(*ark.Backup); b.Status.Phase != ark.BackupPhaseCorrupt || !strings.Contains(b.Status.FailureReason, `names backup "other"`) {
		t.Errorf("a bad Velero record is %s (%s), want Corrupt saying why", b.Status.Phase, b.Status.FailureReason)
	}
	if _, err := r.Get(nsContext("team-a"), "planted", &metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("a record planted under namespaces/ of a Velero bucket: %v, want 404", err)
	}
	if _, err := r.Get(nsContext(home), "ark-one", &metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("an Ark record in a Velero bucket: %v, want 404", err)
	}
	if _, _, err := r.Delete(nsContext(home), "nightly-20260101000000", nil, &metav1.DeleteOptions{}); err == nil || !(apierrors.IsInvalid(err) || apierrors.IsForbidden(err)) {
		t.Errorf("deleting a Velero backup: %v, want 422 or 403", err)
	}
	if _, err := vel.Store.Attrs(ctx, "backups/nightly-20260101000000/velero-backup.json"); err != nil {
		t.Errorf("the Velero record is gone: %v", err)
	}
}
