package backup

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/google/uuid"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/arkproject/ark/pkg/apis/ark"
	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
	"github.com/arkproject/ark/pkg/backupstore"
	"github.com/arkproject/ark/pkg/provenance"
)

// veleroAPIVersion is the only Velero record Ark reads.
const veleroAPIVersion = "velero.io/v1"

// veleroBackup is what Ark reads of a Velero server's velero-backup.json
// (a velero.io/v1 Backup, as Velero's published output format describes
// it). Fields Ark does not show are not read: hooks in particular, since
// nothing of a Velero record ever runs here.
type veleroBackup struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name              string            `json:"name"`
		UID               string            `json:"uid"`
		Labels            map[string]string `json:"labels"`
		CreationTimestamp metav1.Time       `json:"creationTimestamp"`
	} `json:"metadata"`
	Spec struct {
		IncludedNamespaces      []string              `json:"includedNamespaces"`
		ExcludedNamespaces      []string              `json:"excludedNamespaces"`
		IncludedResources       []string              `json:"includedResources"`
		ExcludedResources       []string              `json:"excludedResources"`
		LabelSelector           *metav1.LabelSelector `json:"labelSelector"`
		SnapshotVolumes         *bool                 `json:"snapshotVolumes"`
		TTL                     metav1.Duration       `json:"ttl"`
		IncludeClusterResources *bool                 `json:"includeClusterResources"`
	} `json:"spec"`
	Status struct {
		Version                  int          `json:"version"`
		FormatVersion            string       `json:"formatVersion"`
		Expiration               *metav1.Time `json:"expiration"`
		Phase                    string       `json:"phase"`
		ValidationErrors         []string     `json:"validationErrors"`
		StartTimestamp           *metav1.Time `json:"startTimestamp"`
		CompletionTimestamp      *metav1.Time `json:"completionTimestamp"`
		VolumeSnapshotsAttempted int          `json:"volumeSnapshotsAttempted"`
		VolumeSnapshotsCompleted int          `json:"volumeSnapshotsCompleted"`
		Warnings                 int          `json:"warnings"`
		Errors                   int          `json:"errors"`
		FailureReason            string       `json:"failureReason"`
		Progress                 *struct {
			TotalItems    int `json:"totalItems"`
			ItemsBackedUp int `json:"itemsBackedUp"`
		} `json:"progress"`
	} `json:"status"`
}

// Bounds on what a Velero record may hold: it is shown as it is, so a
// hostile one must not make every list of backups huge.
const (
	maxVeleroListLen  = 1000
	maxVeleroTextLen  = 4096
	maxVeleroFilterID = 253
)

// veleroPhases maps Velero's backup phases to Ark's. Velero's later
// phases of a backup whose plugins still work on it are in progress here:
// nothing of it may be restored yet.
var veleroPhases = map[string]ark.BackupPhase{
	"":                           ark.BackupPhaseNew,
	"New":                        ark.BackupPhaseNew,
	"FailedValidation":           ark.BackupPhaseFailedValidation,
	"InProgress":                 ark.BackupPhaseInProgress,
	"Completed":                  ark.BackupPhaseCompleted,
	"PartiallyFailed":            ark.BackupPhasePartiallyFailed,
	"Failed":                     ark.BackupPhaseFailed,
	"Deleting":                   ark.BackupPhaseDeleting,
	"WaitingForPluginOperations": ark.BackupPhaseInProgress,
	"WaitingForPluginOperationsPartiallyFailed": ark.BackupPhaseInProgress,
	"Finalizing":                ark.BackupPhaseInProgress,
	"FinalizingPartiallyFailed": ark.BackupPhaseInProgress,
}

// decodeVelero translates a Velero record into the Backup the API serves
// for it, refusing (errCorrupt) what is not plainly a velero.io/v1 Backup
// of the backup its folder names. The folder decides the name and the
// namespace (Ark's home namespace: a Velero bucket serves no other). What
// is kept is what Ark can show faithfully: labels (Velero's own, such as
// velero.io/schedule-name), filters, TTL, phase, times, progress and
// counts. Annotations and hooks are not: nothing in the record may pass
// for Ark's own bookkeeping or run anything. The record is marked as a
// Velero server's (ark.heptio.com/cluster: velero), so no Ark controller
// runs, expires, adopts or deletes it, and as translated from velero.io/v1.
func decodeVelero(data []byte, ref backupstore.Backup, storeID string) (*ark.Backup, error) {
	var v veleroBackup
	if err := json.Unmarshal(data, &v); err != nil {
		return nil, fmt.Errorf("%w: it is not a Velero backup record: %v", errCorrupt, err)
	}
	if v.APIVersion != veleroAPIVersion || v.Kind != "Backup" {
		return nil, fmt.Errorf("%w: it holds apiVersion %q kind %q, not a %s Backup", errCorrupt, v.APIVersion, v.Kind, veleroAPIVersion)
	}
	if v.Metadata.Name != ref.Name {
		return nil, fmt.Errorf("%w: it names backup %q, not %q (records are not moved or copied between folders)", errCorrupt, v.Metadata.Name, ref.Name)
	}
	if err := checkVeleroRecord(&v); err != nil {
		return nil, fmt.Errorf("%w: %v", errCorrupt, err)
	}

	b := &ark.Backup{}
	b.Name, b.Namespace = ref.Name, ref.Namespace
	// Stable while the record is rewritten (as Velero does while it
	// works), and different for a backup deleted and taken again.
	b.UID = types.UID(uuid.NewSHA1(uuid.NameSpaceURL, []byte(storeID+"/"+ref.MetadataKey()+"#"+v.Metadata.UID)).String())
	b.CreationTimestamp = v.Metadata.CreationTimestamp
	for k, val := range v.Metadata.Labels {
		if strings.HasPrefix(k, ark.GroupName+"/") {
			continue // Ark's own labels (a schedule's) are Ark's to set
		}
		if b.Labels == nil {
			b.Labels = map[string]string{}
		}
		b.Labels[k] = val
	}
	format := veleroAPIVersion
	if v.Status.FormatVersion != "" {
		format += "; format " + v.Status.FormatVersion
	}
	b.Annotations = map[string]string{
		provenance.ClusterAnnotation: arkv1.VeleroCluster,
		arkv1.AnnotationRecordFormat: format,
	}

	s := &v.Spec
	b.Spec = ark.BackupSpec{
		IncludedNamespaces: s.IncludedNamespaces, ExcludedNamespaces: s.ExcludedNamespaces,
		IncludedResources: s.IncludedResources, ExcludedResources: s.ExcludedResources,
		LabelSelector: s.LabelSelector, SnapshotVolumes: s.SnapshotVolumes, TTL: s.TTL,
		IncludeClusterResources: s.IncludeClusterResources,
	}

	st := &v.Status
	b.Status = ark.BackupStatus{
		Version: st.Version, ValidationErrors: st.ValidationErrors,
		StartTimestamp: st.StartTimestamp, CompletionTimestamp: st.CompletionTimestamp, Expiration: st.Expiration,
		Warnings: st.Warnings, Errors: st.Errors,
		VolumeSnapshotsAttempted: st.VolumeSnapshotsAttempted, VolumeSnapshotsCompleted: st.VolumeSnapshotsCompleted,
		FailureReason: st.FailureReason,
	}
	if st.Progress != nil {
		b.Status.Progress = &ark.Progress{TotalItems: st.Progress.TotalItems, ItemsDone: st.Progress.ItemsBackedUp}
	}
	phase, known := veleroPhases[st.Phase]
	if !known {
		// A Velero newer than Ark knows: listed, never restored.
		phase = ark.BackupPhaseFailed
		b.Status.FailureReason = fmt.Sprintf("the Velero backup is in phase %q, which Ark does not know, so it is not restored", st.Phase)
	}
	b.Status.Phase = phase
	return b, nil
}

// checkVeleroRecord refuses what no Velero server writes: labels and a
// label selector that are not valid, negative counts, and lists or texts
// so large that showing them would be the attack.
func checkVeleroRecord(v *veleroBackup) error {
	var errs []error
	if list := metav1validation.ValidateLabels(v.Metadata.Labels, field.NewPath("metadata", "labels")); len(list) > 0 {
		errs = append(errs, list.ToAggregate())
	}
	if v.Spec.LabelSelector != nil {
		opts := metav1validation.LabelSelectorValidationOptions{}
		if list := metav1validation.ValidateLabelSelector(v.Spec.LabelSelector, opts, field.NewPath("spec", "labelSelector")); len(list) > 0 {
			errs = append(errs, list.ToAggregate())
		}
	}
	for name, list := range map[string][]string{
		"spec.includedNamespaces": v.Spec.IncludedNamespaces, "spec.excludedNamespaces": v.Spec.ExcludedNamespaces,
		"spec.includedResources": v.Spec.IncludedResources, "spec.excludedResources": v.Spec.ExcludedResources,
	} {
		if len(list) > maxVeleroListLen {
			errs = append(errs, fmt.Errorf("%s has %d entries, more than %d", name, len(list), maxVeleroListLen))
		}
		for _, s := range list {
			if len(s) > maxVeleroFilterID {
				errs = append(errs, fmt.Errorf("%s has an entry of %d characters, more than %d", name, len(s), maxVeleroFilterID))
				break
			}
		}
	}
	st := &v.Status
	if len(st.ValidationErrors) > maxVeleroListLen {
		errs = append(errs, fmt.Errorf("status.validationErrors has %d entries, more than %d", len(st.ValidationErrors), maxVeleroListLen))
	}
	for _, s := range append([]string{st.FailureReason, st.FormatVersion, st.Phase}, st.ValidationErrors...) {
		if len(s) > maxVeleroTextLen {
			errs = append(errs, fmt.Errorf("status holds a text of %d characters, more than %d", len(s), maxVeleroTextLen))
			break
		}
	}
	counts := []int{st.Version, st.Warnings, st.Errors, st.VolumeSnapshotsAttempted, st.VolumeSnapshotsCompleted}
	if st.Progress != nil {
		counts = append(counts, st.Progress.TotalItems, st.Progress.ItemsBackedUp)
	}
	for _, n := range counts {
		if n < 0 {
			errs = append(errs, errors.New("status holds a negative count"))
			break
		}
	}
	if v.Spec.TTL.Duration < 0 {
		errs = append(errs, errors.New("spec.ttl is negative"))
	}
	return errors.Join(errs...)
}
