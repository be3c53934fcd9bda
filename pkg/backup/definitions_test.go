package backup

import (
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	clienttesting "k8s.io/client-go/testing"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
)

const (
	pWidget     = "resources/widgets.example.com/namespaces/app/w1.json"
	pWidgetsCRD = "resources/customresourcedefinitions.apiextensions.k8s.io/cluster/widgets.example.com.json"
	pGadgetsCRD = "resources/customresourcedefinitions.apiextensions.k8s.io/cluster/gadgets.example.com.json"
)

// newCustomEnv is the fixture cluster plus two custom resources: widgets
// (one in namespace app) and gadgets (none), with their definitions.
func newCustomEnv(t *testing.T) *env {
	e := newEnv(t)
	e.disc.lists = append(e.disc.lists,
		&metav1.APIResourceList{GroupVersion: "apiextensions.k8s.io/v1", APIResources: []metav1.APIResource{
			{Name: "customresourcedefinitions", SingularName: "customresourcedefinition", Kind: "CustomResourceDefinition", Verbs: clusterVerbs, ShortNames: []string{"crd"}},
		}},
		&metav1.APIResourceList{GroupVersion: "example.com/v1", APIResources: []metav1.APIResource{
			{Name: "widgets", SingularName: "widget", Namespaced: true, Kind: "Widget", Verbs: allVerbs},
			{Name: "gadgets", SingularName: "gadget", Namespaced: true, Kind: "Gadget", Verbs: allVerbs},
		}},
	)
	var objs []runtime.Object
	for _, o := range clusterObjects() {
		objs = append(objs, o)
	}
	crd := func(name string) runtime.Object {
		return object("apiextensions.k8s.io/v1", "CustomResourceDefinition", "", name, nil,
			map[string]any{"spec": map[string]any{"group": "example.com", "scope": "Namespaced"}})
	}
	objs = append(objs, crd("widgets.example.com"), crd("gadgets.example.com"),
		object("example.com/v1", "Widget", "app", "w1", nil, map[string]any{"spec": map[string]any{"size": int64(3)}}))
	kinds := map[schema.GroupVersionResource]string{
		{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}: "CustomResourceDefinitionList",
		{Group: "example.com", Version: "v1", Resource: "widgets"}:                            "WidgetList",
		{Group: "example.com", Version: "v1", Resource: "gadgets"}:                            "GadgetList",
	}
	for k, v := range listKinds {
		kinds[k] = v
	}
	e.dyn = dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), kinds, objs...)
	e.rec.Interface = e.dyn
	return e
}

// A namespace backup holding custom resources holds their definitions too,
// and only theirs; so does a whole-cluster backup, once.
func TestDefinitionsTravelWithTheirResources(t *testing.T) {
	e := newCustomEnv(t)
	s := e.run(t, newBackup("b1", appOnly))
	mustSucceed(t, s)
	if s.contents[pWidget] == nil || s.contents[pWidgetsCRD] == nil {
		t.Fatalf("the widget and its definition are not both backed up: %q", s.entries)
	}
	if s.contents[pGadgetsCRD] != nil {
		t.Errorf("the definition of gadgets, of which the backup holds none, is backed up")
	}
	if got := s.resourceList[crdResource]; len(got) != 1 || got[0] != "widgets.example.com" {
		t.Errorf("resource list of definitions: %v", got)
	}
	if s.entries[len(s.entries)-1] != pWidgetsCRD {
		t.Errorf("the definition is not last in the tarball: %q", s.entries)
	}

	whole := newCustomEnv(t).run(t, newBackup("b2", nil))
	mustSucceed(t, whole)
	if got := whole.resourceList[crdResource]; len(got) != 2 {
		t.Errorf("whole-cluster backup's definitions: %v, want both once", got)
	}
}

// Leaving cluster resources out, or excluding definitions, leaves them out.
func TestDefinitionsCanBeLeftOut(t *testing.T) {
	for name, mutate := range map[string]func(*arkv1.BackupSpec){
		"includeClusterResources false": func(sp *arkv1.BackupSpec) { appOnly(sp); f := false; sp.IncludeClusterResources = &f },
		"excluded":                      func(sp *arkv1.BackupSpec) { appOnly(sp); sp.ExcludedResources = []string{"crd"} },
	} {
		t.Run(name, func(t *testing.T) {
			s := newCustomEnv(t).run(t, newBackup("b1", mutate))
			mustSucceed(t, s)
			if s.contents[pWidget] == nil || s.contents[pWidgetsCRD] != nil {
				t.Errorf("entries %q", s.entries)
			}
		})
	}
}

// A requester who may not read a definition gets a warning naming it, and
// the rest of the backup.
func TestDefinitionTheRequesterMayNotRead(t *testing.T) {
	e := newCustomEnv(t)
	e.dyn.PrependReactor("get", "customresourcedefinitions", func(clienttesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Group: "apiextensions.k8s.io", Resource: "customresourcedefinitions"}, "widgets.example.com", nil)
	})
	s := e.run(t, newBackup("b1", appOnly))
	mustSucceed(t, s)
	if s.contents[pWidget] == nil || s.contents[pWidgetsCRD] != nil {
		t.Errorf("entries %q", s.entries)
	}
	if s.results.Warnings.Count != 1 || !strings.Contains(s.log, "alice may not read the definition of widgets.example.com") {
		t.Errorf("warnings %+v, log:\n%s", s.results.Warnings, s.log)
	}
}
