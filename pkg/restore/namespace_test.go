package restore

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	clienttesting "k8s.io/client-go/testing"
)

// slowNamespaceLookups makes every namespace GET of Ark's own client take a
// while, as it does against a busy API server: long enough for all workers
// to reach ensureNamespace before the first lookup answers. (Not in a
// reactor: the fake client runs those one at a time.)
func slowNamespaceLookups(f *fixture) {
	f.restorer.Cluster = slowLookups{f.dyn}
}

type slowLookups struct{ dynamic.Interface }

func (c slowLookups) Resource(gvr schema.GroupVersionResource) dynamic.NamespaceableResourceInterface {
	ri := c.Interface.Resource(gvr)
	if gvr.Resource != "namespaces" {
		return ri
	}
	return slowGet{ri}
}

type slowGet struct {
	dynamic.NamespaceableResourceInterface
}

func (s slowGet) Get(ctx context.Context, name string, opts metav1.GetOptions, sub ...string) (*unstructured.Unstructured, error) {
	time.Sleep(50 * time.Millisecond)
	return s.NamespaceableResourceInterface.Get(ctx, name, opts, sub...)
}

// namespaceCalls counts the dynamic client's namespace requests by verb.
func (f *fixture) namespaceCalls(verb string) int {
	n := 0
	for _, a := range f.actions(verb) {
		if a.GetResource().Resource == "namespaces" {
			n++
		}
	}
	return n
}

// Sixteen workers restoring many items into one namespace that does not
// exist yet look it up, check the right to create it and create it once.
func TestRunCreatesTargetNamespaceOnce(t *testing.T) {
	f := newFixture(t)
	f.restorer.Workers = 16
	slowNamespaceLookups(f)
	var items []bItem
	for i := range 200 {
		items = append(items, configMap("fresh", fmt.Sprintf("cm-%03d", i)))
	}
	f.backup(items...)
	out := f.run(newRestore())
	if out.Created != 200 || out.Errors != 0 {
		t.Fatalf("outcome = %+v, want 200 created, no errors", out)
	}
	if n := f.namespaceCalls("get"); n != 1 {
		t.Errorf("%d namespace lookups, want 1", n)
	}
	if n := f.namespaceCalls("create"); n != 1 {
		t.Errorf("%d namespace creates, want 1", n)
	}
	if n := len(f.access.callsFor("namespaces")); n != 1 {
		t.Errorf("%d checks of the right to create namespaces, want 1", n)
	}
	if f.get("namespaces", "", "fresh") == nil {
		t.Error("namespace fresh was not created")
	}
}

// A namespace creation that failed fails the items that waited for it, and
// is then tried again by the next item, once for all the workers again: it
// is cached neither as a success nor forever as a failure.
func TestRunRetriesFailedNamespaceCreation(t *testing.T) {
	f := newFixture(t)
	f.restorer.Workers = 16
	slowNamespaceLookups(f)
	var attempts atomic.Int32
	f.dyn.PrependReactor("create", "namespaces", func(clienttesting.Action) (bool, runtime.Object, error) {
		if attempts.Add(1) == 1 {
			return true, nil, apierrors.NewServiceUnavailable("etcd is catching up")
		}
		return false, nil, nil // on to the fixture's create
	})
	var items []bItem
	for i := range 200 {
		items = append(items, configMap("fresh", fmt.Sprintf("cm-%03d", i)))
	}
	f.backup(items...)
	out := f.run(newRestore())
	doc := f.results(testRestore)
	checkSummary(t, doc, out)
	if out.Failed < 1 || out.Failed > 16 || out.Created != 200-out.Failed {
		t.Errorf("outcome = %+v, want the items of the failed attempt (1 to 16) failed, the others created", out)
	}
	for _, it := range doc.Items {
		if it.Action == ActionFailed {
			doc.want(t, "configmaps", "fresh", it.Name, ActionFailed, "namespace fresh", "etcd is catching up")
		}
	}
	if n := attempts.Load(); n != 2 {
		t.Errorf("%d namespace creates, want 2 (the failed one, then one retry)", n)
	}
	if n := f.namespaceCalls("get"); n != 2 {
		t.Errorf("%d namespace lookups, want 2", n)
	}
	if f.get("namespaces", "", "fresh") == nil {
		t.Error("namespace fresh was not created")
	}
}
