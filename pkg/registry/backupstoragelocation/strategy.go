// Package backupstoragelocation serves BackupStorageLocations from etcd.
package backupstoragelocation

import (
	"context"
	"fmt"
	"slices"

	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/registry/generic"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/apiserver/pkg/storage"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"

	"github.com/arkproject/ark/pkg/apis/ark"
	"github.com/arkproject/ark/pkg/apis/ark/validation"
	"github.com/arkproject/ark/pkg/objectstore"
	"github.com/arkproject/ark/pkg/registry"
)

// strategy lets administrators own a location's spec; its status is what
// the storage location controller observed, never what a user claims.
type strategy struct {
	registry.Strategy
	// mayReadSecret: see NewREST; nil checks nothing (standalone mode,
	// where the server reads no Secrets).
	mayReadSecret func(ctx context.Context, name string) bool
}

var (
	_ rest.RESTCreateStrategy  = strategy{}
	_ rest.RESTUpdateStrategy  = strategy{}
	_ rest.ResetFieldsStrategy = strategy{}
)

func (strategy) PrepareForCreate(ctx context.Context, obj runtime.Object) {
	l := obj.(*ark.BackupStorageLocation)
	l.Status = ark.BackupStorageLocationStatus{}
	l.Generation = 1
}

func (strategy) PrepareForUpdate(ctx context.Context, obj, old runtime.Object) {
	l, o := obj.(*ark.BackupStorageLocation), old.(*ark.BackupStorageLocation)
	l.Status = o.Status
	if !apiequality.Semantic.DeepEqual(l.Spec, o.Spec) {
		l.Generation = o.Generation + 1
	}
}

func (s strategy) Validate(ctx context.Context, obj runtime.Object) field.ErrorList {
	l := obj.(*ark.BackupStorageLocation)
	errs := append(validation.ValidateBackupStorageLocation(l, s.Scope), checkConfig(&l.Spec)...)
	return append(errs, s.checkCredential(ctx, &l.Spec)...)
}

func (s strategy) ValidateUpdate(ctx context.Context, obj, old runtime.Object) field.ErrorList {
	l, o := obj.(*ark.BackupStorageLocation), old.(*ark.BackupStorageLocation)
	errs := validation.ValidateBackupStorageLocationUpdate(l, o, s.Scope)
	if l.Spec.Provider != o.Spec.Provider || !apiequality.Semantic.DeepEqual(l.Spec.Config, o.Spec.Config) {
		errs = append(errs, checkConfig(&l.Spec)...)
	}
	if !apiequality.Semantic.DeepEqual(l.Spec.Credential, o.Spec.Credential) || !apiequality.Semantic.DeepEqual(l.Spec.Encryption, o.Spec.Encryption) {
		errs = append(errs, s.checkCredential(ctx, &l.Spec)...)
	}
	return errs
}

// checkCredential refuses a credential Secret the author of the location
// may not read: the server reads it as itself, so without this check a
// user allowed to write locations could have Ark use a Secret they may
// not see (and learn from the location's status whether it works).
//
// The same holds for the key Secret of spec.encryption: naming it must
// not let anyone have Ark encrypt with, or report on, keys they may not read.
func (s strategy) checkCredential(ctx context.Context, spec *ark.BackupStorageLocationSpec) field.ErrorList {
	var errs field.ErrorList
	if c := spec.Credential; c != nil && c.Name != "" && s.mayReadSecret != nil && !s.mayReadSecret(ctx, c.Name) {
		errs = append(errs, field.Forbidden(field.NewPath("spec", "credential", "name"),
			fmt.Sprintf("you may not get Secret %q in namespace %q; a location may only use a credential its author may read", c.Name, s.Scope.HomeNamespace)))
	}
	if e := spec.Encryption; e != nil && e.KeySecret != "" && s.mayReadSecret != nil && !s.mayReadSecret(ctx, e.KeySecret) {
		errs = append(errs, field.Forbidden(field.NewPath("spec", "encryption", "keySecret"),
			fmt.Sprintf("you may not get Secret %q in namespace %q; a location may only use keys its author may read", e.KeySecret, s.Scope.HomeNamespace)))
	}
	return errs
}

// checkConfig refuses config keys and values the provider's store does not
// know (a misspelt key must never send backups elsewhere), as the store
// that opens the location would. Unknown providers are validation's to report.
func checkConfig(spec *ark.BackupStorageLocationSpec) field.ErrorList {
	if len(spec.Config) == 0 || !slices.Contains(validation.Providers(), spec.Provider) {
		return nil
	}
	if err := objectstore.CheckLocationConfig(spec.Provider, spec.Config); err != nil {
		return field.ErrorList{field.Invalid(field.NewPath("spec", "config"), "", err.Error())}
	}
	return nil
}

// statusStrategy lets controllers own status: the spec of the update is discarded.
type statusStrategy struct {
	strategy
}

func (statusStrategy) GetResetFields() map[fieldpath.APIVersion]*fieldpath.Set {
	return registry.StatusResetFields()
}

func (statusStrategy) PrepareForUpdate(ctx context.Context, obj, old runtime.Object) {
	obj.(*ark.BackupStorageLocation).Spec = old.(*ark.BackupStorageLocation).Spec
}

func (statusStrategy) ValidateUpdate(ctx context.Context, obj, old runtime.Object) field.ErrorList {
	return validation.ValidateBackupStorageLocationStatusUpdate(obj.(*ark.BackupStorageLocation), old.(*ark.BackupStorageLocation))
}

// GetAttrs returns the labels and selectable fields of a location.
func GetAttrs(obj runtime.Object) (labels.Set, fields.Set, error) {
	l, ok := obj.(*ark.BackupStorageLocation)
	if !ok {
		return nil, nil, fmt.Errorf("not a BackupStorageLocation: %T", obj)
	}
	return labels.Set(l.Labels), SelectableFields(l), nil
}

// SelectableFields are the fields a field selector may name.
func SelectableFields(l *ark.BackupStorageLocation) fields.Set {
	return generic.AddObjectMetaFieldsSet(fields.Set{
		"status.phase":  string(l.Status.Phase),
		"spec.provider": l.Spec.Provider,
	}, &l.ObjectMeta, true)
}

// Match is the selection predicate of list and watch.
func Match(label labels.Selector, field fields.Selector) storage.SelectionPredicate {
	return storage.SelectionPredicate{Label: label, Field: field, GetAttrs: GetAttrs}
}
