package validation

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/arkproject/ark/pkg/apis/ark"
)

// snapshotProviders are the providers a volume snapshot location may name,
// with the config keys each one takes. They are the snapshotters Ark has
// (pkg/snapshot): Heptio Ark's aws and azure are refused rather than
// accepted, since nothing here could ever take their snapshots and a
// location that is never acted on must not look as if it were.
var snapshotProviders = map[string][]string{
	// CSI volumes, snapshotted through snapshot.storage.k8s.io.
	"csi": {"volumeSnapshotClass"},
	// GCE persistent disks, snapshotted through the compute API.
	"gcp": {"project", "snapshotLocation"},
	// hostPath and local volumes, archived into the backup's bucket.
	"hostpath": nil,
}

// snapshotCredentialProviders are the providers that talk to a cloud API
// with credentials of their own. CSI snapshots are made through Kubernetes
// as the backup's requester, and hostpath archives go to the backup's
// bucket with that location's credentials: a credential on them would only
// look used.
var snapshotCredentialProviders = []string{"gcp"}

// SnapshotProviders returns the providers a volume snapshot location may name, sorted.
func SnapshotProviders() []string { return slices.Sorted(maps.Keys(snapshotProviders)) }

// ValidateVolumeSnapshotLocation validates a new VolumeSnapshotLocation.
func ValidateVolumeSnapshotLocation(l *ark.VolumeSnapshotLocation, scope Scope) field.ErrorList {
	allErrs := apimachineryvalidation.ValidateObjectMeta(&l.ObjectMeta, true, apimachineryvalidation.NameIsDNSSubdomain, field.NewPath("metadata"))
	allErrs = append(allErrs, locationNamespace(l.Namespace, "volume snapshot locations", scope)...)
	allErrs = append(allErrs, ValidateVolumeSnapshotLocationSpec(&l.Spec, field.NewPath("spec"))...)
	return allErrs
}

// ValidateVolumeSnapshotLocationUpdate validates a change to a location:
// the new spec must be as valid as a new one's.
func ValidateVolumeSnapshotLocationUpdate(l, old *ark.VolumeSnapshotLocation) field.ErrorList {
	allErrs := apimachineryvalidation.ValidateObjectMetaUpdate(&l.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))
	allErrs = append(allErrs, ValidateVolumeSnapshotLocationSpec(&l.Spec, field.NewPath("spec"))...)
	return allErrs
}

// ValidateVolumeSnapshotLocationStatusUpdate validates a status write.
func ValidateVolumeSnapshotLocationStatusUpdate(l, old *ark.VolumeSnapshotLocation) field.ErrorList {
	allErrs := apimachineryvalidation.ValidateObjectMetaUpdate(&l.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))
	switch l.Status.Phase {
	case "", ark.VolumeSnapshotLocationPhaseAvailable, ark.VolumeSnapshotLocationPhaseUnavailable:
	default:
		allErrs = append(allErrs, field.NotSupported(field.NewPath("status", "phase"), l.Status.Phase, []string{
			string(ark.VolumeSnapshotLocationPhaseAvailable), string(ark.VolumeSnapshotLocationPhaseUnavailable),
		}))
	}
	return allErrs
}

// ValidateVolumeSnapshotLocationSpec checks a location's provider, the
// config keys of that provider and the credential.
func ValidateVolumeSnapshotLocationSpec(spec *ark.VolumeSnapshotLocationSpec, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	supported := SnapshotProviders()
	keys, known := snapshotProviders[spec.Provider]
	switch {
	case spec.Provider == "":
		allErrs = append(allErrs, field.Required(fldPath.Child("provider"), "one of "+strings.Join(supported, ", ")))
	case !known:
		allErrs = append(allErrs, field.NotSupported(fldPath.Child("provider"), spec.Provider, supported))
	}
	config := fldPath.Child("config")
	for _, k := range slices.Sorted(maps.Keys(spec.Config)) {
		v := spec.Config[k]
		switch {
		case k == "":
			allErrs = append(allErrs, field.Invalid(config, k, "keys must not be empty"))
		case !known:
			// The provider's error says it all; its keys are unknown.
		case len(keys) == 0:
			allErrs = append(allErrs, field.Invalid(config.Key(k), v, fmt.Sprintf("the %s provider takes no config", spec.Provider)))
		case !slices.Contains(keys, k):
			allErrs = append(allErrs, field.NotSupported(config.Key(k), k, keys))
		case strings.TrimSpace(v) == "":
			allErrs = append(allErrs, field.Invalid(config.Key(k), v, "must not be empty: leave the key out instead"))
		case k == "volumeSnapshotClass":
			for _, msg := range apimachineryvalidation.NameIsDNSSubdomain(v, false) {
				allErrs = append(allErrs, field.Invalid(config.Key(k), v, msg))
			}
		}
	}
	if spec.Credential != nil && known && !slices.Contains(snapshotCredentialProviders, spec.Provider) {
		allErrs = append(allErrs, field.Forbidden(fldPath.Child("credential"), fmt.Sprintf(
			"the %s provider uses no credential of its own: %s", spec.Provider, map[string]string{
				"csi":      "CSI snapshots are made through Kubernetes, as the backup's requester",
				"hostpath": "hostPath archives are written to the backup's bucket, with that location's credentials",
			}[spec.Provider])))
	} else {
		allErrs = append(allErrs, validateCredential(spec.Credential, fldPath.Child("credential"))...)
	}
	return allErrs
}
