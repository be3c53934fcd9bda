package validation

import (
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/arkproject/ark/pkg/apis/ark"
)

// ValidateServerStatusRequest validates a ServerStatusRequest as created,
// its generateName already turned into a name. Nothing is stored under the
// name, so none is required (as for a TokenReview); the metadata a request
// does carry must still be well formed, since it is echoed back and seen by
// admission and audit.
func ValidateServerStatusRequest(r *ark.ServerStatusRequest) field.ErrorList {
	meta := r.ObjectMeta
	if meta.Name == "" && meta.GenerateName == "" {
		meta.Name = "unnamed" // stands in for the name that is not required
	}
	return apimachineryvalidation.ValidateObjectMeta(&meta, true, apimachineryvalidation.NameIsDNSSubdomain, field.NewPath("metadata"))
}

// ValidateDeleteBackupRequest validates a DeleteBackupRequest as created,
// its generateName already turned into a name: it must name a backup, and
// Heptio Ark's backup-name label, when set, must name the same one.
func ValidateDeleteBackupRequest(r *ark.DeleteBackupRequest) field.ErrorList {
	meta := r.ObjectMeta
	if meta.Name == "" && meta.GenerateName == "" {
		meta.Name = "unnamed" // nothing is stored under the name either
	}
	allErrs := apimachineryvalidation.ValidateObjectMeta(&meta, true, apimachineryvalidation.NameIsDNSSubdomain, field.NewPath("metadata"))
	spec := field.NewPath("spec", "backupName")
	if r.Spec.BackupName == "" {
		return append(allErrs, field.Required(spec, "the backup to delete"))
	}
	for _, msg := range apimachineryvalidation.NameIsDNSSubdomain(r.Spec.BackupName, false) {
		allErrs = append(allErrs, field.Invalid(spec, r.Spec.BackupName, msg))
	}
	if l, ok := r.Labels[LabelDeleteBackupName]; ok && l != r.Spec.BackupName {
		allErrs = append(allErrs, field.Invalid(field.NewPath("metadata", "labels").Key(LabelDeleteBackupName), l, "must be spec.backupName, "+r.Spec.BackupName))
	}
	return allErrs
}

// LabelDeleteBackupName and LabelDeleteBackupUID are the labels Heptio
// Ark's client puts on a DeleteBackupRequest: the backup's name and UID.
const (
	LabelDeleteBackupName = "ark.heptio.com/backup-name"
	LabelDeleteBackupUID  = "ark.heptio.com/backup-uid"
)
