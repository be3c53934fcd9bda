package validation

import (
	"fmt"
	"path"
	"slices"
	"strings"

	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/arkproject/ark/pkg/apis/ark"
)

// providers are the object stores a location may name; they are those
// --backup-location opens (file://, gs://, s3://, azure://).
var providers = []string{"file", "gcp", "aws", "azure"}

// Providers returns the object stores a location may name.
func Providers() []string { return slices.Clone(providers) }

var accessModes = []string{
	string(ark.BackupStorageLocationAccessModeReadWrite),
	string(ark.BackupStorageLocationAccessModeReadOnly),
}

// ValidateBackupStorageLocation validates a new BackupStorageLocation.
func ValidateBackupStorageLocation(l *ark.BackupStorageLocation, scope Scope) field.ErrorList {
	allErrs := apimachineryvalidation.ValidateObjectMeta(&l.ObjectMeta, true, apimachineryvalidation.NameIsDNSSubdomain, field.NewPath("metadata"))
	allErrs = append(allErrs, locationNamespace(l.Namespace, "backup storage locations", scope)...)
	allErrs = append(allErrs, ValidateBackupStorageLocationSpec(&l.Spec, l.Name, scope, field.NewPath("spec"))...)
	return allErrs
}

// ValidateBackupStorageLocationUpdate validates a change to a location.
func ValidateBackupStorageLocationUpdate(l, old *ark.BackupStorageLocation, scope Scope) field.ErrorList {
	allErrs := apimachineryvalidation.ValidateObjectMetaUpdate(&l.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))
	allErrs = append(allErrs, ValidateBackupStorageLocationSpec(&l.Spec, l.Name, scope, field.NewPath("spec"))...)
	return allErrs
}

// ValidateBackupStorageLocationStatusUpdate validates a controller's status write.
func ValidateBackupStorageLocationStatusUpdate(l, old *ark.BackupStorageLocation) field.ErrorList {
	allErrs := apimachineryvalidation.ValidateObjectMetaUpdate(&l.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))
	p := field.NewPath("status")
	allErrs = append(allErrs, counts(p, map[string]int{"backupCount": int(l.Status.BackupCount)})...)
	switch l.Status.Phase {
	case "", ark.BackupStorageLocationPhaseAvailable, ark.BackupStorageLocationPhaseUnavailable:
	default:
		allErrs = append(allErrs, field.NotSupported(p.Child("phase"), l.Status.Phase, []string{
			string(ark.BackupStorageLocationPhaseAvailable), string(ark.BackupStorageLocationPhaseUnavailable),
		}))
	}
	return allErrs
}

// locationNamespace keeps locations (what: "backup storage locations",
// "volume snapshot locations") in the home namespace: a location is
// administrators' configuration (a bucket, a project, their credentials),
// and a namespace's users must not be able to point Ark at their own.
func locationNamespace(ns, what string, scope Scope) field.ErrorList {
	if scope.HomeNamespace == "" || ns == scope.HomeNamespace {
		return nil
	}
	return field.ErrorList{field.Invalid(field.NewPath("metadata", "namespace"), ns,
		fmt.Sprintf("%s live in Ark's home namespace %q only", what, scope.HomeNamespace))}
}

// ValidateBackupStorageLocationSpec checks a location's provider, bucket,
// prefix, credential and access mode.
func ValidateBackupStorageLocationSpec(spec *ark.BackupStorageLocationSpec, name string, scope Scope, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	provider := fldPath.Child("provider")
	switch {
	case spec.Provider == "":
		allErrs = append(allErrs, field.Required(provider, "one of "+strings.Join(providers, ", ")))
	case !slices.Contains(providers, spec.Provider):
		allErrs = append(allErrs, field.NotSupported(provider, spec.Provider, providers))
	}
	allErrs = append(allErrs, validateBucket(spec.Provider, spec.ObjectStorage.Bucket, fldPath.Child("objectStorage", "bucket"))...)
	allErrs = append(allErrs, validatePrefix(spec.ObjectStorage.Prefix, fldPath.Child("objectStorage", "prefix"))...)
	for k := range spec.Config {
		if k == "" {
			allErrs = append(allErrs, field.Invalid(fldPath.Child("config"), k, "keys must not be empty"))
		}
	}
	allErrs = append(allErrs, validateCredential(spec.Credential, fldPath.Child("credential"))...)
	switch {
	case spec.AccessMode == "":
		allErrs = append(allErrs, field.Required(fldPath.Child("accessMode"), "ReadWrite or ReadOnly"))
	case !slices.Contains(accessModes, string(spec.AccessMode)):
		allErrs = append(allErrs, field.NotSupported(fldPath.Child("accessMode"), spec.AccessMode, accessModes))
	}
	allErrs = append(allErrs, validateFormat(spec, name, scope, fldPath)...)
	allErrs = append(allErrs, validateEncryption(spec, fldPath.Child("encryption"))...)
	// The location of --backup-location is opened from the flag, with the
	// server's own credentials: a credential on it would only look acted on.
	if name != "" && name == scope.PrimaryLocation && spec.Credential != nil {
		allErrs = append(allErrs, field.Forbidden(fldPath.Child("credential"),
			"the location given by --backup-location uses the server's own credentials (its environment); define another location to use a Secret"))
	}
	return allErrs
}

var formats = []string{
	string(ark.BackupStorageLocationFormatArk),
	string(ark.BackupStorageLocationFormatVelero),
}

// validateFormat checks a location's format: a Velero bucket is read, never
// written (Ark's records and Velero's must never mix in one bucket, and a
// Velero server may still be writing there), and the flag's location is
// where this server writes, so it is Ark's.
func validateFormat(spec *ark.BackupStorageLocationSpec, name string, scope Scope, fldPath *field.Path) field.ErrorList {
	p := fldPath.Child("format")
	switch spec.Format {
	case "", ark.BackupStorageLocationFormatArk:
		return nil
	case ark.BackupStorageLocationFormatVelero:
	default:
		return field.ErrorList{field.NotSupported(p, spec.Format, formats)}
	}
	var allErrs field.ErrorList
	if spec.AccessMode != ark.BackupStorageLocationAccessModeReadOnly {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("accessMode"), spec.AccessMode,
			"a location of format velero must be ReadOnly: Ark reads and restores Velero's backups, it never writes or deletes them"))
	}
	if spec.Default {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("default"), spec.Default,
			"a location of format velero cannot be the default: backups cannot be written there"))
	}
	if name != "" && name == scope.PrimaryLocation {
		allErrs = append(allErrs, field.Forbidden(p,
			"the location given by --backup-location is where this server writes its backups, so it is of format ark"))
	}
	return allErrs
}

// validateCredential checks a reference to a key of a Secret in the home
// namespace; nil (the server's own credentials) is valid.
func validateCredential(c *ark.SecretKeyReference, p *field.Path) field.ErrorList {
	if c == nil {
		return nil
	}
	var allErrs field.ErrorList
	if c.Name == "" {
		allErrs = append(allErrs, field.Required(p.Child("name"), "the name of a Secret in Ark's home namespace"))
	} else {
		for _, msg := range apimachineryvalidation.NameIsDNSSubdomain(c.Name, false) {
			allErrs = append(allErrs, field.Invalid(p.Child("name"), c.Name, msg))
		}
	}
	if c.Key == "" {
		allErrs = append(allErrs, field.Required(p.Child("key"), "the key within the Secret"))
	} else {
		for _, msg := range utilvalidation.IsConfigMapKey(c.Key) {
			allErrs = append(allErrs, field.Invalid(p.Child("key"), c.Key, msg))
		}
	}
	return allErrs
}

// validateBucket checks a bucket name: an absolute, clean path for the file
// provider, a name without slashes for the others (the prefix holds paths).
func validateBucket(provider, bucket string, p *field.Path) field.ErrorList {
	switch {
	case bucket == "":
		return field.ErrorList{field.Required(p, "")}
	case provider == "file":
		if !path.IsAbs(bucket) || path.Clean(bucket) != bucket {
			return field.ErrorList{field.Invalid(p, bucket, "for the file provider, the absolute, clean path of a directory")}
		}
	case strings.Contains(bucket, "/"):
		return field.ErrorList{field.Invalid(p, bucket, "must not contain '/': put paths within the bucket in objectStorage.prefix")}
	}
	return nil
}

// validatePrefix refuses prefixes that would escape or alias the bucket's
// root: a leading '/', empty segments, '.' or '..'.
func validatePrefix(prefix string, p *field.Path) field.ErrorList {
	if prefix == "" {
		return nil
	}
	if strings.HasPrefix(prefix, "/") {
		return field.ErrorList{field.Invalid(p, prefix, "must not start with '/'")}
	}
	for _, seg := range strings.Split(strings.TrimSuffix(prefix, "/"), "/") {
		if seg == "" || seg == "." || seg == ".." {
			return field.ErrorList{field.Invalid(p, prefix, "must not contain empty, '.' or '..' segments")}
		}
	}
	return nil
}

// validateEncryption checks a location's key Secret's name. A Velero
// bucket is not Ark's to encrypt: its backups are Velero's, in plaintext.
func validateEncryption(spec *ark.BackupStorageLocationSpec, fldPath *field.Path) field.ErrorList {
	e := spec.Encryption
	if e == nil {
		return nil
	}
	p := fldPath.Child("keySecret")
	var allErrs field.ErrorList
	if e.KeySecret == "" {
		allErrs = append(allErrs, field.Required(p, "the name of a Secret in Ark's namespace holding the location's keys"))
	}
	for _, msg := range utilvalidation.IsDNS1123Subdomain(e.KeySecret) {
		if e.KeySecret != "" {
			allErrs = append(allErrs, field.Invalid(p, e.KeySecret, msg))
		}
	}
	if spec.Format == ark.BackupStorageLocationFormatVelero {
		allErrs = append(allErrs, field.Forbidden(fldPath, "a location of format velero holds a Velero server's backups, which are not encrypted"))
	}
	return allErrs
}
