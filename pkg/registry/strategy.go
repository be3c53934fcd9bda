package registry

import (
	"context"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/storage/names"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
	"github.com/arkproject/ark/pkg/apis/ark/validation"
)

// Strategy holds what the strategies of Ark's namespaced resources share;
// each resource embeds it and adds its own preparation and validation.
type Strategy struct {
	runtime.ObjectTyper
	names.NameGenerator
	Scope validation.Scope
}

// NewStrategy returns the shared part of a resource's strategy.
func NewStrategy(typer runtime.ObjectTyper, scope validation.Scope) Strategy {
	return Strategy{typer, names.SimpleNameGenerator, scope}
}

// NamespaceScoped is true for every Ark resource.
func (Strategy) NamespaceScoped() bool { return true }

// GetResetFields says that users do not write status.
func (Strategy) GetResetFields() map[fieldpath.APIVersion]*fieldpath.Set {
	return ResetFields(arkv1.SchemeGroupVersion.String(), "status")
}

// WarningsOnCreate returns no warnings.
func (Strategy) WarningsOnCreate(ctx context.Context, obj runtime.Object) []string { return nil }

// WarningsOnUpdate returns no warnings.
func (Strategy) WarningsOnUpdate(ctx context.Context, obj, old runtime.Object) []string { return nil }

// AllowCreateOnUpdate is false: PUT never creates.
func (Strategy) AllowCreateOnUpdate(context.Context) bool { return false }

// AllowUnconditionalUpdate is true: an update without resourceVersion applies
// to the latest version, as for built-in resources.
func (Strategy) AllowUnconditionalUpdate(context.Context) bool { return true }

// Canonicalize does nothing.
func (Strategy) Canonicalize(obj runtime.Object) {}

// StatusResetFields says that controllers do not write spec.
func StatusResetFields() map[fieldpath.APIVersion]*fieldpath.Set {
	return ResetFields(arkv1.SchemeGroupVersion.String(), "spec")
}
