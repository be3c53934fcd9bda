package restore

import (
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	clienttesting "k8s.io/client-go/testing"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
)

// TestRestoreStatusOfChosenResources: the status of the resources named is
// written back through the status subresource after the create; others
// are created without status, and a resource without a status subresource
// is a warning on the item, which is restored all the same.
func TestRestoreStatusOfChosenResources(t *testing.T) {
	f := newFixture(t)
	f.seedNamespace("shop")
	var statusWrites []*unstructured.Unstructured
	f.dyn.PrependReactor("update", "*", func(a clienttesting.Action) (bool, runtime.Object, error) {
		u := a.(clienttesting.UpdateActionImpl)
		if u.GetSubresource() != "status" {
			return false, nil, nil
		}
		obj := u.GetObject().(*unstructured.Unstructured)
		if u.GetResource().Resource == "jobs" {
			return true, nil, apierrors.NewNotFound(schema.GroupResource{Group: "batch", Resource: "jobs"}, obj.GetName())
		}
		statusWrites = append(statusWrites, obj)
		return true, obj, nil
	})
	w := widget("shop", "w1")
	w.obj.Object["status"] = map[string]any{"phase": "Provisioned", "endpoint": "10.0.0.7"}
	j := job("shop", "j1", map[string]any{"active": int64(1)})
	f.backup(widgetCRD(), w, configMap("shop", "c"), j)
	out := f.run(newRestore(func(r *arkv1.Restore) {
		r.Spec.RestoreStatus = &arkv1.RestoreStatusSpec{IncludedResources: []string{"widgets.example.com", "jobs.batch", "configmaps"}, ExcludedResources: []string{"configmaps"}}
	}))

	if len(statusWrites) != 1 {
		t.Fatalf("%d status writes, want 1 (the widget's)", len(statusWrites))
	}
	sw := statusWrites[0]
	if sw.GetName() != "w1" || sw.GetResourceVersion() == "" || !jsonEqual(sw.Object["status"], map[string]any{"phase": "Provisioned", "endpoint": "10.0.0.7"}) {
		t.Errorf("status write: %s rv %q status %v", sw.GetName(), sw.GetResourceVersion(), sw.Object["status"])
	}
	if _, has := f.sent("widgets.example.com shop/w1").Object["status"]; has {
		t.Errorf("the create carried the status")
	}
	doc := f.results(testRestore)
	if it := doc.want(t, "widgets.example.com", "shop", "w1", ActionCreated); it != nil && !strings.Contains(it.Note, "status was written back") {
		t.Errorf("widget note %q", it.Note)
	}
	if it := doc.want(t, "jobs.batch", "shop", "j1", ActionCreated); it != nil && it.Warning != "status not restored: jobs.batch serves no status subresource" {
		t.Errorf("job warning %q", it.Warning)
	}
	if out.Warnings != 1 || out.Errors != 0 {
		t.Errorf("outcome %+v", out.Summary)
	}
}
