package resourcescope

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	fakediscovery "k8s.io/client-go/discovery/fake"
	clienttesting "k8s.io/client-go/testing"
)

func TestClusterScoped(t *testing.T) {
	d := &fakediscovery.FakeDiscovery{Fake: &clienttesting.Fake{}}
	d.Resources = []*metav1.APIResourceList{
		{GroupVersion: "v1", APIResources: []metav1.APIResource{
			{Name: "configmaps", SingularName: "configmap", Namespaced: true, Kind: "ConfigMap", ShortNames: []string{"cm"}, Verbs: []string{"list"}},
			{Name: "persistentvolumes", SingularName: "persistentvolume", Kind: "PersistentVolume", ShortNames: []string{"pv"}, Verbs: []string{"list"}},
			{Name: "namespaces", SingularName: "namespace", Kind: "Namespace", ShortNames: []string{"ns"}, Verbs: []string{"list"}},
		}},
		{GroupVersion: "rbac.authorization.k8s.io/v1", APIResources: []metav1.APIResource{
			{Name: "clusterroles", SingularName: "clusterrole", Kind: "ClusterRole", Verbs: []string{"list"}},
			{Name: "roles", SingularName: "role", Namespaced: true, Kind: "Role", Verbs: []string{"list"}},
		}},
	}
	r := New(d)
	for name, want := range map[string]bool{
		"persistentvolumes": true, "pv": true, "PersistentVolume": true, "ns": true,
		"clusterroles.rbac.authorization.k8s.io": true, "clusterrole": true,
		"configmaps": false, "cm": false, "roles.rbac.authorization.k8s.io": false,
		"*": false, "": false, "widgets.example.com": false,
	} {
		if got := r.ClusterScoped(name); got != want {
			t.Errorf("ClusterScoped(%q) = %v, want %v", name, got, want)
		}
	}
}
