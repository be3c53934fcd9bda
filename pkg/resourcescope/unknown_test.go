package resourcescope

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	fakediscovery "k8s.io/client-go/discovery/fake"
	clienttesting "k8s.io/client-go/testing"
)

func TestUnknown(t *testing.T) {
	d := &fakediscovery.FakeDiscovery{Fake: &clienttesting.Fake{}}
	d.Resources = []*metav1.APIResourceList{
		{GroupVersion: "v1", APIResources: []metav1.APIResource{
			{Name: "configmaps", SingularName: "configmap", Namespaced: true, Kind: "ConfigMap", ShortNames: []string{"cm"}},
			{Name: "secrets", SingularName: "secret", Namespaced: true, Kind: "Secret"},
		}},
		{GroupVersion: "apps/v1", APIResources: []metav1.APIResource{
			{Name: "deployments", SingularName: "deployment", Namespaced: true, Kind: "Deployment", ShortNames: []string{"deploy"}},
		}},
		{GroupVersion: "example.com/v1", APIResources: []metav1.APIResource{
			{Name: "widgets", SingularName: "widget", Namespaced: true, Kind: "Widget"},
		}},
	}
	r := New(d)
	for name, want := range map[string]string{
		// Accepted: every name kubectl accepts, any case, qualified or not.
		"deployments": "", "Deployment": "", "deploy": "", "deployments.apps": "", "cm": "", "*": "",
		"widgets": "", "widgets.example.com": "",
		// A custom group may gain resources later (or from the restore).
		"gadgets.example.com": "", "things.other.io": "",
		// Typos get the nearest name.
		"deploymnts":      `"deploymnts" is not a resource this cluster serves; did you mean "deployments"?`,
		"deploymnts.apps": `did you mean "deployments.apps"?`,
		"Secretz":         `did you mean "secret"?`,
		// Nothing near: say how to name a resource not installed yet.
		"frobnicators":     `"frobnicators" is not a resource this cluster serves (a custom resource`,
		"pods.batch":       `"pods.batch" is not a resource this cluster serves`,
		"jobs.apps.k8s.io": `is not a resource this cluster serves`,
	} {
		got := r.Unknown(name)
		if (want == "") != (got == "") || !strings.Contains(got, want) {
			t.Errorf("Unknown(%q) = %q, want %q", name, got, want)
		}
	}
}

// A definition created after discovery was cached is found: an unknown name
// makes the resolver look again (at most every refreshUnknownAfter).
func TestUnknownLooksAgain(t *testing.T) {
	d := &fakediscovery.FakeDiscovery{Fake: &clienttesting.Fake{}}
	d.Resources = []*metav1.APIResourceList{{GroupVersion: "v1", APIResources: []metav1.APIResource{{Name: "configmaps", Namespaced: true, Kind: "ConfigMap"}}}}
	r := New(d)
	if got := r.Unknown("gizmos"); got == "" {
		t.Fatal("gizmos accepted before it is served")
	}
	d.Resources = append(d.Resources, &metav1.APIResourceList{GroupVersion: "example.com/v1", APIResources: []metav1.APIResource{{Name: "gizmos", Namespaced: true, Kind: "Gizmo"}}})
	r.mu.Lock()
	r.fetched = r.fetched.Add(-refreshUnknownAfter * 2)
	r.mu.Unlock()
	if got := r.Unknown("gizmos"); got != "" {
		t.Fatalf("gizmos refused once served: %s", got)
	}
}
