package restore

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/util/retry"
)

// statusToRestore returns the backed-up status of an object whose resource
// spec.restoreStatus selects, before shaping drops it.
func (r *run) statusToRestore(kind string, obj *unstructured.Unstructured) (any, bool) {
	rs := r.restore.Spec.RestoreStatus
	if rs == nil || len(rs.IncludedResources) == 0 {
		return nil, false
	}
	if !newNameFilter(r.resolve(rs.IncludedResources), r.resolve(rs.ExcludedResources)).includes(kind) {
		return nil, false
	}
	status, ok := obj.Object["status"]
	if !ok {
		return nil, false
	}
	return runtimeDeepCopy(status), true
}

func runtimeDeepCopy(v any) any {
	return (&unstructured.Unstructured{Object: map[string]any{"v": v}}).DeepCopy().Object["v"]
}

// restoreStatus writes the backed-up status through the status subresource,
// as the requester. The object is restored either way: a status the API
// does not let one write (no status subresource, no right to update it) is
// a warning on the item, not a failure.
func (r *run) restoreStatus(ctx context.Context, ri dynamic.ResourceInterface, obj *unstructured.Unstructured, resourceVersion string, status any, res *ItemResult) {
	if r.restore.Spec.Preview {
		res.Note = joinNote(res.Note, "its backed-up status would be written back")
		return
	}
	withStatus := obj.DeepCopy()
	withStatus.Object["status"] = status
	withStatus.SetResourceVersion(resourceVersion)
	first := true
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if !first {
			// A controller wrote the status meanwhile: write over its
			// latest version, as the user asked for the backed-up one.
			current, err := ri.Get(ctx, obj.GetName(), metav1.GetOptions{})
			if err != nil {
				return err
			}
			withStatus.SetResourceVersion(current.GetResourceVersion())
		}
		first = false
		_, err := ri.UpdateStatus(ctx, withStatus, metav1.UpdateOptions{FieldManager: "ark-restore"})
		return err
	})
	switch {
	case err == nil:
		res.Note = joinNote(res.Note, "its backed-up status was written back")
	case apierrors.IsNotFound(err) || apierrors.IsMethodNotSupported(err):
		res.Warning = fmt.Sprintf("status not restored: %s serves no status subresource", res.Resource)
	default:
		res.Warning = fmt.Sprintf("status not restored: %v", err)
	}
}

func joinNote(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}
