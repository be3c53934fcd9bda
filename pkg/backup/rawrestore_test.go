package backup_test

import (
	"context"
	"encoding/json"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	fakediscovery "k8s.io/client-go/discovery/fake"
	"k8s.io/client-go/dynamic"
	clienttesting "k8s.io/client-go/testing"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
	"github.com/arkproject/ark/pkg/backup"
	"github.com/arkproject/ark/pkg/backupstore"
	"github.com/arkproject/ark/pkg/objectstore"
	"github.com/arkproject/ark/pkg/restore/archive"
)

// rawCluster serves config maps as an API server's JSON may come: keys in
// any order, managed fields first, whitespace, and (as a LIST's items do)
// without apiVersion and kind; every other list is empty.
type rawCluster struct{ dynamic.Interface }

func (rawCluster) ListRaw(_ context.Context, gvr schema.GroupVersionResource, ns string, _ metav1.ListOptions) ([]byte, error) {
	if gvr.Resource != "configmaps" || (ns != "" && ns != "app") {
		return []byte(`{"kind":"List","metadata":{},"items":[]}`), nil
	}
	return []byte(`{"kind":"ConfigMapList","apiVersion":"v1","metadata":{"resourceVersion":"9"},"items":[
	 {"data":{"k":"v"},"metadata":{"managedFields":[{"manager":"m"}],"namespace":"app","name":"cm-1","uid":"u1"},"kind":"ConfigMap","apiVersion":"v1"},
	 { "metadata" : { "name" : "cm-2" , "namespace" : "app" , "managedFields" : [ ] } }
	]}`), nil
}

type allowAll struct{}

func (allowAll) CanList(context.Context, *arkv1.UserInfo, schema.GroupResource, string) (bool, string, error) {
	return true, "", nil
}

type discovery struct{ *fakediscovery.FakeDiscovery }

func (discovery) ServerPreferredResources() ([]*metav1.APIResourceList, error) {
	verbs := metav1.Verbs{"get", "list"}
	return []*metav1.APIResourceList{{GroupVersion: "v1", APIResources: []metav1.APIResource{
		{Name: "configmaps", Kind: "ConfigMap", Namespaced: true, Verbs: verbs},
		{Name: "namespaces", Kind: "Namespace", Verbs: verbs},
	}}}, nil
}

// A backup written from raw LIST pages, in the API server's key order and
// spacing, is one the restore side extracts: paths and contents agree, and
// managed fields are gone.
func TestRawBackupExtracts(t *testing.T) {
	store, err := objectstore.NewFileStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	layout := backupstore.Layout{HomeNamespace: "ark"}
	b := &backup.Backupper{
		Discovery: discovery{&fakediscovery.FakeDiscovery{Fake: &clienttesting.Fake{}}},
		Dynamic:   rawCluster{}, Access: allowAll{}, Store: store, Layout: layout,
	}
	bk := &arkv1.Backup{ObjectMeta: metav1.ObjectMeta{Namespace: "ark", Name: "raw"}, Spec: arkv1.BackupSpec{
		IncludedNamespaces: []string{"app"}, Requester: &arkv1.UserInfo{Username: "alice"},
	}}
	out, err := b.Run(context.Background(), bk, nil)
	if err != nil || out.Items != 2 || out.Errors != 0 {
		t.Fatalf("Run: %+v, %v", out, err)
	}
	idx, err := archive.Extract(context.Background(), store, layout.Backup("ark", "raw"), t.TempDir(), archive.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if len(idx.Items) != 2 {
		t.Fatalf("extracted %+v", idx.Items)
	}
	for i, want := range []string{"cm-1", "cm-2"} {
		it := idx.Items[i]
		if it.Resource != "configmaps" || it.Namespace != "app" || it.Name != want {
			t.Errorf("item %d: %+v", i, it)
		}
		data, err := it.Content()
		if err != nil {
			t.Fatal(err)
		}
		var obj struct {
			Metadata map[string]json.RawMessage `json:"metadata"`
		}
		if err := json.Unmarshal(data, &obj); err != nil {
			t.Fatalf("%s: %v", data, err)
		}
		if _, ok := obj.Metadata["managedFields"]; ok || obj.Metadata["name"] == nil {
			t.Errorf("%s: metadata %s", want, data)
		}
	}
}
