package restore

import (
	"context"
	"errors"
	"fmt"
	"io"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/arkproject/ark/pkg/apis/ark"
	"github.com/arkproject/ark/pkg/backupstore"
	"github.com/arkproject/ark/pkg/backupstore/encryption"
	"github.com/arkproject/ark/pkg/locations"
	"github.com/arkproject/ark/pkg/objectstore"
	"github.com/arkproject/ark/pkg/registry"
)

// ContentREST serves a finished restore's files from the bucket:
// restores/logs (the log, text) and restores/results (one JSON document of
// per-item results). Each is its own RBAC target.
type ContentREST struct {
	store     *genericregistry.Store
	locations *locations.Set
	layout    backupstore.Layout
	key       func(backupstore.Restore) string
	mimeType  string
	what      string
}

var (
	_ rest.Getter          = &ContentREST{}
	_ rest.StorageMetadata = &ContentREST{}
)

// NewLogsREST serves restores/logs.
func NewLogsREST(r *REST, locs *locations.Set, layout backupstore.Layout) *ContentREST {
	return &ContentREST{store: r.Store, locations: locs, layout: layout, key: backupstore.Restore.LogsKey, mimeType: "text/plain", what: "logs"}
}

// NewResultsREST serves restores/results.
func NewResultsREST(r *REST, locs *locations.Set, layout backupstore.Layout) *ContentREST {
	return &ContentREST{store: r.Store, locations: locs, layout: layout, key: backupstore.Restore.ResultsKey, mimeType: "application/json", what: "results"}
}

// New returns the kind the subresource belongs to.
func (c *ContentREST) New() runtime.Object { return &ark.Restore{} }

// Destroy does nothing: the main storage owns the store.
func (c *ContentREST) Destroy() {}

// ProducesMIMETypes tells discovery what the stream is.
func (c *ContentREST) ProducesMIMETypes(verb string) []string { return []string{c.mimeType} }

// ProducesObject says the response is not an API object.
func (c *ContentREST) ProducesObject(verb string) interface{} { return "" }

// Get streams the file once the restore has finished.
func (c *ContentREST) Get(ctx context.Context, name string, _ *metav1.GetOptions) (runtime.Object, error) {
	obj, err := c.store.Get(ctx, name, &metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	r := obj.(*ark.Restore)
	switch r.Status.Phase {
	case ark.RestorePhaseCompleted, ark.RestorePhasePartiallyFailed, ark.RestorePhaseFailed, ark.RestorePhasePreviewed:
	default:
		phase := r.Status.Phase
		if phase == "" {
			phase = ark.RestorePhaseNew
		}
		return nil, apierrors.NewBadRequest(fmt.Sprintf("restore %q is %s: its %s can be read once it has finished", name, phase, c.what))
	}
	// The files are kept with the backup, or in the default location
	// when the backup's is ReadOnly (see locations.Set.ForRestoreFiles);
	// defaults change, so every location that may be written is looked in.
	var down error
	for _, loc := range c.locations.All() {
		if loc.ReadOnly {
			continue
		}
		files := loc.Layout(c.layout.HomeNamespace).Restore(r.Namespace, r.Name)
		store, err := loc.Readable()
		if err == nil {
			var rc io.ReadCloser
			rc, err = files.OpenFile(ctx, store, c.key(files))
			if err == nil {
				return &registry.FileStream{RC: rc, MimeType: c.mimeType, Gunzip: true}, nil
			}
			if errors.Is(err, encryption.ErrKeyNotHeld) {
				return nil, apierrors.NewConflict(ark.Resource("restores"), name, err)
			}
		}
		if !errors.Is(err, objectstore.ErrNotFound) && down == nil {
			down = fmt.Errorf("backup storage location %q is unavailable: %w", loc.Name, err)
		}
	}
	if down != nil {
		return nil, apierrors.NewServiceUnavailable(down.Error())
	}
	return nil, apierrors.NewNotFound(schema.GroupResource{Group: ark.GroupName, Resource: "restores/" + c.what}, name)
}
