package backup

import (
	"context"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/registry/rest"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"

	"github.com/arkproject/ark/pkg/apis/ark"
)

// StatusREST serves backups/status: controllers write status, the spec of
// the request is ignored.
type StatusREST struct {
	r *REST
}

// New returns an empty Backup.
func (s *StatusREST) New() runtime.Object { return &ark.Backup{} }

// Destroy does nothing: the main storage owns the poller.
func (s *StatusREST) Destroy() {}

// Get reads a backup, as patching needs.
func (s *StatusREST) Get(ctx context.Context, name string, options *metav1.GetOptions) (runtime.Object, error) {
	return s.r.Get(ctx, name, options)
}

// Update writes a backup's status.
func (s *StatusREST) Update(ctx context.Context, name string, objInfo rest.UpdatedObjectInfo, createValidation rest.ValidateObjectFunc, updateValidation rest.ValidateObjectUpdateFunc, forceAllowCreate bool, options *metav1.UpdateOptions) (runtime.Object, bool, error) {
	return s.r.update(ctx, name, objInfo, updateValidation, statusStrategy{s.r.strategy}, options)
}

// GetResetFields says which fields a status update leaves alone.
func (s *StatusREST) GetResetFields() map[fieldpath.APIVersion]*fieldpath.Set {
	return statusStrategy{s.r.strategy}.GetResetFields()
}
