package restore

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	fakediscovery "k8s.io/client-go/discovery/fake"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	clienttesting "k8s.io/client-go/testing"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
	"github.com/arkproject/ark/pkg/backupstore"
	"github.com/arkproject/ark/pkg/objectstore"
	"github.com/arkproject/ark/pkg/snapshot"
)

const (
	testBackup  = "b1"
	testRestore = "r1"
	homeNS      = "ark"
	requester   = "alice"
)

// ---- backed-up objects ----

// bItem is one object of a test backup, stored at
// resources/<resource>/namespaces/<ns>/<name>.json or
// resources/<resource>/cluster/<name>.json (pathNS overrides the namespace
// of the path, for crafted backups).
type bItem struct {
	resource string
	obj      *unstructured.Unstructured
	pathNS   *string
}

func (b bItem) path() string {
	ns := b.obj.GetNamespace()
	if b.pathNS != nil {
		ns = *b.pathNS
	}
	if ns == "" {
		return fmt.Sprintf("resources/%s/cluster/%s.json", b.resource, b.obj.GetName())
	}
	return fmt.Sprintf("resources/%s/namespaces/%s/%s.json", b.resource, ns, b.obj.GetName())
}

// oldUID is the UID a backed-up object had in its source cluster.
func oldUID(kind, ns, name string) string {
	return "old-" + strings.ToLower(kind) + "-" + ns + "-" + name
}

// newObj builds an object as a backup holds it: with everything the API
// server assigns (uid, resourceVersion, creationTimestamp, managedFields,
// generation, selfLink) and a status.
func newObj(apiVersion, kind, ns, name string) *unstructured.Unstructured {
	md := map[string]any{
		"name":              name,
		"uid":               oldUID(kind, ns, name),
		"resourceVersion":   "4242",
		"selfLink":          "/some/link/" + name,
		"generation":        int64(3),
		"creationTimestamp": "2024-05-01T10:00:00Z",
		"managedFields": []any{map[string]any{
			"manager": "kubectl", "operation": "Apply", "apiVersion": apiVersion,
			"fieldsType": "FieldsV1", "fieldsV1": map[string]any{"f:metadata": map[string]any{}},
		}},
	}
	if ns != "" {
		md["namespace"] = ns
	}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": apiVersion, "kind": kind, "metadata": md,
		"status": map[string]any{"observedGeneration": int64(3)},
	}}
}

func withLabels(b bItem, l map[string]string) bItem {
	b.obj.SetLabels(l)
	return b
}

func withAnnotations(b bItem, a map[string]string) bItem {
	b.obj.SetAnnotations(a)
	return b
}

func withField(b bItem, value any, fields ...string) bItem {
	if err := unstructured.SetNestedField(b.obj.Object, value, fields...); err != nil {
		panic(err)
	}
	return b
}

func withOwners(b bItem, refs ...metav1.OwnerReference) bItem {
	b.obj.SetOwnerReferences(refs)
	return b
}

func namespaceItem(name string) bItem {
	o := newObj("v1", "Namespace", "", name)
	_ = unstructured.SetNestedStringSlice(o.Object, []string{"kubernetes"}, "spec", "finalizers")
	_ = unstructured.SetNestedField(o.Object, "Active", "status", "phase")
	return bItem{resource: "namespaces", obj: o}
}

func configMap(ns, name string) bItem {
	o := newObj("v1", "ConfigMap", ns, name)
	o.Object["data"] = map[string]any{"key": "backed-up " + name}
	delete(o.Object, "status")
	return bItem{resource: "configmaps", obj: o}
}

func secret(ns, name string) bItem {
	o := newObj("v1", "Secret", ns, name)
	o.Object["type"] = "Opaque"
	o.Object["data"] = map[string]any{"password": "aHVudGVyMg=="}
	delete(o.Object, "status")
	return bItem{resource: "secrets", obj: o}
}

func serviceAccount(ns, name string) bItem {
	o := newObj("v1", "ServiceAccount", ns, name)
	delete(o.Object, "status")
	return bItem{resource: "serviceaccounts", obj: o}
}

func pod(ns, name, phase string) bItem {
	o := newObj("v1", "Pod", ns, name)
	o.Object["spec"] = map[string]any{"containers": []any{map[string]any{"name": "c", "image": "nginx"}}}
	o.Object["status"] = map[string]any{"phase": phase}
	return bItem{resource: "pods", obj: o}
}

func service(ns, name string, spec map[string]any) bItem {
	o := newObj("v1", "Service", ns, name)
	o.Object["spec"] = spec
	o.Object["status"] = map[string]any{"loadBalancer": map[string]any{}}
	return bItem{resource: "services", obj: o}
}

func pvc(ns, name, volume string) bItem {
	o := newObj("v1", "PersistentVolumeClaim", ns, name)
	o.Object["spec"] = map[string]any{"volumeName": volume, "accessModes": []any{"ReadWriteOnce"}}
	o.Object["status"] = map[string]any{"phase": "Bound"}
	return bItem{resource: "persistentvolumeclaims", obj: o}
}

// pv is a volume bound to claimNS/claimName, or unbound when claimName is "".
func pv(name, claimNS, claimName string) bItem {
	o := newObj("v1", "PersistentVolume", "", name)
	spec := map[string]any{"capacity": map[string]any{"storage": "1Gi"}}
	if claimName != "" {
		spec["claimRef"] = map[string]any{
			"kind": "PersistentVolumeClaim", "namespace": claimNS, "name": claimName,
			"uid": oldUID("PersistentVolumeClaim", claimNS, claimName), "resourceVersion": "777",
		}
	}
	o.Object["spec"] = spec
	o.Object["status"] = map[string]any{"phase": "Bound"}
	return bItem{resource: "persistentvolumes", obj: o}
}

func deployment(ns, name string) bItem {
	o := newObj("apps/v1", "Deployment", ns, name)
	o.Object["spec"] = map[string]any{"replicas": int64(2)}
	o.Object["status"] = map[string]any{"readyReplicas": int64(2)}
	return bItem{resource: "deployments.apps", obj: o}
}

func replicaSet(ns, name string) bItem {
	o := newObj("apps/v1", "ReplicaSet", ns, name)
	o.Object["spec"] = map[string]any{"replicas": int64(2)}
	return bItem{resource: "replicasets.apps", obj: o}
}

func job(ns, name string, status map[string]any) bItem {
	o := newObj("batch/v1", "Job", ns, name)
	o.Object["spec"] = map[string]any{"backoffLimit": int64(1)}
	o.Object["status"] = status
	return bItem{resource: "jobs.batch", obj: o}
}

func subject(kind, ns, name string) map[string]any {
	s := map[string]any{"kind": kind, "name": name}
	if ns != "" {
		s["namespace"] = ns
	}
	if kind == "User" {
		s["apiGroup"] = "rbac.authorization.k8s.io"
	}
	return s
}

func roleBinding(ns, name string, subjects ...map[string]any) bItem {
	o := newObj("rbac.authorization.k8s.io/v1", "RoleBinding", ns, name)
	delete(o.Object, "status")
	o.Object["roleRef"] = map[string]any{"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "edit"}
	subs := make([]any, len(subjects))
	for i, s := range subjects {
		subs[i] = s
	}
	o.Object["subjects"] = subs
	return bItem{resource: "rolebindings.rbac.authorization.k8s.io", obj: o}
}

func clusterRoleBinding(name string, subjects ...map[string]any) bItem {
	b := roleBinding("", name, subjects...)
	b.obj.SetKind("ClusterRoleBinding")
	b.obj.SetUID(types.UID(oldUID("ClusterRoleBinding", "", name)))
	b.resource = "clusterrolebindings.rbac.authorization.k8s.io"
	return b
}

func storageClass(name string) bItem {
	o := newObj("storage.k8s.io/v1", "StorageClass", "", name)
	delete(o.Object, "status")
	o.Object["provisioner"] = "kubernetes.io/gce-pd"
	return bItem{resource: "storageclasses.storage.k8s.io", obj: o}
}

func widgetCRD() bItem {
	o := newObj("apiextensions.k8s.io/v1", "CustomResourceDefinition", "", "widgets.example.com")
	o.Object["spec"] = map[string]any{
		"group": "example.com", "scope": "Namespaced",
		"names":    map[string]any{"plural": "widgets", "singular": "widget", "kind": "Widget"},
		"versions": []any{map[string]any{"name": "v1", "served": true, "storage": true}},
	}
	o.Object["status"] = map[string]any{"conditions": []any{map[string]any{"type": "Established", "status": "True"}}}
	return bItem{resource: "customresourcedefinitions.apiextensions.k8s.io", obj: o}
}

func widget(ns, name string) bItem {
	o := newObj("example.com/v1", "Widget", ns, name)
	o.Object["spec"] = map[string]any{"size": int64(3)}
	return bItem{resource: "widgets.example.com", obj: o}
}

func generic(resource, apiVersion, kind, ns, name string) bItem {
	return bItem{resource: resource, obj: newObj(apiVersion, kind, ns, name)}
}

// ---- the bucket ----

func tarball(t testing.TB, items []bItem) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	mod := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	write := func(name string, body []byte) {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, ModTime: mod, Typeflag: tar.TypeReg, Size: int64(len(body)), Format: tar.FormatPAX}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(body); err != nil {
			t.Fatal(err)
		}
	}
	write("metadata/version", []byte("1"))
	for _, it := range items {
		data, err := json.Marshal(it.obj.Object)
		if err != nil {
			t.Fatal(err)
		}
		write(it.path(), data)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func gzipBytes(t testing.TB, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func put(t testing.TB, s objectstore.Store, key string, data []byte) {
	t.Helper()
	if _, err := objectstore.PutBytes(context.Background(), s, key, data, objectstore.Conditions{}); err != nil {
		t.Fatal(err)
	}
}

// putBackupWithSnapshots stores a home-namespace backup: the tarball of
// items, a manifest that matches it and, when records is not nil, the
// volume-snapshots file, listed in the manifest.
func putBackupWithSnapshots(t testing.TB, s objectstore.Store, name string, records []snapshot.Record, items ...bItem) []byte {
	t.Helper()
	return putBackupAt(t, s, backupstore.Home(name), records, items...)
}

// putBackupAt stores a backup at ref, in any namespace's folder.
func putBackupAt(t testing.TB, s objectstore.Store, ref backupstore.Backup, records []snapshot.Record, items ...bItem) []byte {
	t.Helper()
	name := ref.Name
	tgz := tarball(t, items)
	sum := sha256.Sum256(tgz)
	m := backupstore.Manifest{Version: 1, Files: map[string]backupstore.ManifestEntry{
		name + ".tar.gz": {SHA256: hex.EncodeToString(sum[:]), Size: int64(len(tgz))},
	}}
	if records != nil {
		plain, err := json.Marshal(records)
		if err != nil {
			t.Fatal(err)
		}
		gzd := gzipBytes(t, plain)
		vsum := sha256.Sum256(gzd)
		key := ref.VolumeSnapshotsKey()
		m.Files[key[strings.LastIndex(key, "/")+1:]] = backupstore.ManifestEntry{SHA256: hex.EncodeToString(vsum[:]), Size: int64(len(gzd))}
		put(t, s, key, gzd)
	}
	data, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	put(t, s, ref.TarballKey(), tgz)
	put(t, s, ref.ManifestKey(), data)
	return tgz
}

// ---- discovery ----

type fakeDiscovery struct {
	*fakediscovery.FakeDiscovery
	lists []*metav1.APIResourceList
	// extra adds resources served at the time of the call (custom resources
	// whose definitions exist).
	extra func() []*metav1.APIResourceList

	mu    sync.Mutex
	calls int
}

func (d *fakeDiscovery) ServerPreferredResources() ([]*metav1.APIResourceList, error) {
	d.mu.Lock()
	d.calls++
	d.mu.Unlock()
	out := append([]*metav1.APIResourceList(nil), d.lists...)
	if d.extra != nil {
		out = append(out, d.extra()...)
	}
	return out, nil
}

func (d *fakeDiscovery) ServerPreferredResourcesWithContext(context.Context) ([]*metav1.APIResourceList, error) {
	return d.ServerPreferredResources()
}

func namespaced(name, kind string, shortNames ...string) metav1.APIResource {
	r := clusterScoped(name, kind, shortNames...)
	r.Namespaced = true
	return r
}

func clusterScoped(name, kind string, shortNames ...string) metav1.APIResource {
	singular := strings.ToLower(kind)
	if strings.Contains(name, "/") {
		singular = ""
	}
	return metav1.APIResource{Name: name, SingularName: singular, Namespaced: false, Kind: kind, ShortNames: shortNames,
		Verbs: metav1.Verbs{"create", "get", "list", "update", "delete"}}
}

// servedLists is the fake cluster's discovery. gadgets.example.com, which
// some backups hold, is not served.
func servedLists() []*metav1.APIResourceList {
	return []*metav1.APIResourceList{
		{GroupVersion: "v1", APIResources: []metav1.APIResource{
			clusterScoped("namespaces", "Namespace", "ns"),
			clusterScoped("namespaces/status", "Namespace"),
			namespaced("configmaps", "ConfigMap", "cm"),
			namespaced("secrets", "Secret"),
			namespaced("serviceaccounts", "ServiceAccount", "sa"),
			namespaced("pods", "Pod", "po"),
			namespaced("pods/log", "Pod"),
			namespaced("services", "Service", "svc"),
			clusterScoped("persistentvolumes", "PersistentVolume", "pv"),
			namespaced("persistentvolumeclaims", "PersistentVolumeClaim", "pvc"),
			clusterScoped("nodes", "Node", "no"),
			namespaced("events", "Event", "ev"),
		}},
		{GroupVersion: "apps/v1", APIResources: []metav1.APIResource{
			namespaced("deployments", "Deployment", "deploy"),
			namespaced("deployments/scale", "Scale"),
			namespaced("replicasets", "ReplicaSet", "rs"),
		}},
		{GroupVersion: "rbac.authorization.k8s.io/v1", APIResources: []metav1.APIResource{
			namespaced("rolebindings", "RoleBinding"),
			clusterScoped("clusterrolebindings", "ClusterRoleBinding"),
		}},
		{GroupVersion: "batch/v1", APIResources: []metav1.APIResource{namespaced("jobs", "Job")}},
		{GroupVersion: "apiextensions.k8s.io/v1", APIResources: []metav1.APIResource{
			clusterScoped("customresourcedefinitions", "CustomResourceDefinition", "crd", "crds"),
		}},
		{GroupVersion: "storage.k8s.io/v1", APIResources: []metav1.APIResource{clusterScoped("storageclasses", "StorageClass", "sc")}},
		{GroupVersion: "snapshot.storage.k8s.io/v1", APIResources: []metav1.APIResource{
			namespaced("volumesnapshots", "VolumeSnapshot", "vs"),
			clusterScoped("volumesnapshotcontents", "VolumeSnapshotContent", "vsc"),
		}},
		{GroupVersion: "discovery.k8s.io/v1", APIResources: []metav1.APIResource{namespaced("endpointslices", "EndpointSlice")}},
		{GroupVersion: "events.k8s.io/v1", APIResources: []metav1.APIResource{namespaced("events", "Event")}},
		{GroupVersion: "ark.heptio.com/v1", APIResources: []metav1.APIResource{
			namespaced("backups", "Backup"),
			namespaced("restores", "Restore"),
		}},
	}
}

// gvrs of the fake cluster, by the group-resource names of the tarball.
var gvrs = map[string]schema.GroupVersionResource{
	"namespaces":                             {Version: "v1", Resource: "namespaces"},
	"configmaps":                             {Version: "v1", Resource: "configmaps"},
	"secrets":                                {Version: "v1", Resource: "secrets"},
	"serviceaccounts":                        {Version: "v1", Resource: "serviceaccounts"},
	"pods":                                   {Version: "v1", Resource: "pods"},
	"services":                               {Version: "v1", Resource: "services"},
	"persistentvolumes":                      {Version: "v1", Resource: "persistentvolumes"},
	"persistentvolumeclaims":                 {Version: "v1", Resource: "persistentvolumeclaims"},
	"deployments.apps":                       {Group: "apps", Version: "v1", Resource: "deployments"},
	"replicasets.apps":                       {Group: "apps", Version: "v1", Resource: "replicasets"},
	"jobs.batch":                             {Group: "batch", Version: "v1", Resource: "jobs"},
	"rolebindings.rbac.authorization.k8s.io": {Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "rolebindings"},
	"clusterrolebindings.rbac.authorization.k8s.io":  {Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "clusterrolebindings"},
	"customresourcedefinitions.apiextensions.k8s.io": {Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"},
	"storageclasses.storage.k8s.io":                  {Group: "storage.k8s.io", Version: "v1", Resource: "storageclasses"},
	"widgets.example.com":                            {Group: "example.com", Version: "v1", Resource: "widgets"},
	"volumesnapshots.snapshot.storage.k8s.io":        {Group: "snapshot.storage.k8s.io", Version: "v1", Resource: "volumesnapshots"},
	"volumesnapshotcontents.snapshot.storage.k8s.io": {Group: "snapshot.storage.k8s.io", Version: "v1", Resource: "volumesnapshotcontents"},
}

func groupResource(gvr schema.GroupVersionResource) string {
	if gvr.Group == "" {
		return gvr.Resource
	}
	return gvr.Resource + "." + gvr.Group
}

// ---- access ----

type accessKey struct{ gr, ns string }

type accessCall struct {
	user, gr, ns string
}

// fakeAccess allows every create but the denied (group-resource, namespace)
// pairs, and fails the check for the pairs in fail.
type fakeAccess struct {
	deny map[accessKey]string
	fail map[accessKey]error

	mu    sync.Mutex
	calls []accessCall
}

func (a *fakeAccess) CanCreate(_ context.Context, user *arkv1.UserInfo, gr schema.GroupResource, namespace string) (bool, string, error) {
	k := accessKey{gr.String(), namespace}
	a.mu.Lock()
	a.calls = append(a.calls, accessCall{user: user.Username, gr: k.gr, ns: namespace})
	a.mu.Unlock()
	if err := a.fail[k]; err != nil {
		return false, "", err
	}
	if reason, ok := a.deny[k]; ok {
		return false, reason, nil
	}
	return true, "", nil
}

func (a *fakeAccess) callsFor(gr string) []accessCall {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []accessCall
	for _, c := range a.calls {
		if c.gr == gr {
			out = append(out, c)
		}
	}
	return out
}

// ---- the cluster ----

// createCall is one create the fake cluster received, with the object as the
// restore sent it.
type createCall struct {
	gvr  schema.GroupVersionResource
	ns   string
	obj  *unstructured.Unstructured
	opts metav1.CreateOptions
	err  error
}

func (c createCall) key() string {
	if c.ns == "" {
		return groupResource(c.gvr) + " " + c.obj.GetName()
	}
	return groupResource(c.gvr) + " " + c.ns + "/" + c.obj.GetName()
}

type fixture struct {
	t *testing.T
	// ns is the namespace of the backup and of the restores' files.
	ns       string
	store    objectstore.Store
	dyn      *dynamicfake.FakeDynamicClient
	disc     *fakeDiscovery
	access   *fakeAccess
	restorer *Restorer
	scratch  string
	// neverEstablish leaves created definitions without the Established
	// condition, as an API server that cannot serve them would.
	neverEstablish bool

	// refuse makes the API server refuse a dry-run create of these names,
	// as admission (Pod Security, a quota, a webhook) would.
	refuse map[string]error

	mu         sync.Mutex
	creates    []createCall
	dryRuns    []createCall
	dryUpdates int
	nextUID    int
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	store, err := objectstore.NewFileStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{
		t:      t,
		store:  store,
		dyn:    dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), nil),
		access: &fakeAccess{},
	}
	f.disc = &fakeDiscovery{FakeDiscovery: &fakediscovery.FakeDiscovery{Fake: &clienttesting.Fake{}}, lists: servedLists()}
	// Like an API server, the cluster serves a custom resource once its
	// definition exists.
	f.disc.extra = func() []*metav1.APIResourceList {
		if _, err := f.dyn.Tracker().Get(gvrs["customresourcedefinitions.apiextensions.k8s.io"], "", "widgets.example.com"); err != nil {
			return nil
		}
		return []*metav1.APIResourceList{{GroupVersion: "example.com/v1", APIResources: []metav1.APIResource{namespaced("widgets", "Widget")}}}
	}
	// Like an API server, creates assign a UID, a resourceVersion and a
	// creationTimestamp, refuse an existing name (AlreadyExists) and a
	// namespace that differs from the request's; definitions become
	// established at once.
	f.dyn.PrependReactor("create", "*", func(a clienttesting.Action) (bool, runtime.Object, error) {
		ca := a.(clienttesting.CreateActionImpl)
		sent := ca.GetObject().(*unstructured.Unstructured).DeepCopy()
		gvr, ns := a.GetResource(), a.GetNamespace()
		f.mu.Lock()
		f.nextUID++
		uid := fmt.Sprintf("new-uid-%d", f.nextUID)
		f.mu.Unlock()
		stored := sent.DeepCopy()
		stored.SetUID(types.UID(uid))
		stored.SetResourceVersion("1")
		stored.SetCreationTimestamp(metav1.Now())
		if gvr.Resource == "customresourcedefinitions" && !f.neverEstablish {
			_ = unstructured.SetNestedSlice(stored.Object, []any{map[string]any{"type": "Established", "status": "True"}}, "status", "conditions")
		}
		if len(ca.CreateOptions.DryRun) > 0 {
			// A dry run answers as the create would, and stores nothing.
			var err error
			if _, getErr := f.dyn.Tracker().Get(gvr, ns, stored.GetName()); getErr == nil {
				err = apierrors.NewAlreadyExists(gvr.GroupResource(), stored.GetName())
			} else if refuse := f.refuse[sent.GetName()]; refuse != nil {
				err = refuse
			}
			f.mu.Lock()
			f.dryRuns = append(f.dryRuns, createCall{gvr: gvr, ns: ns, obj: sent, opts: ca.CreateOptions, err: err})
			f.mu.Unlock()
			if err != nil {
				return true, nil, err
			}
			return true, stored, nil
		}
		err := f.dyn.Tracker().Create(gvr, stored, ns)
		f.mu.Lock()
		f.creates = append(f.creates, createCall{gvr: gvr, ns: ns, obj: sent, opts: ca.CreateOptions, err: err})
		f.mu.Unlock()
		if err != nil {
			return true, nil, err
		}
		got, err := f.dyn.Tracker().Get(gvr, ns, stored.GetName())
		return true, got, err
	})
	// A dry-run update or patch answers with the object and stores nothing.
	for _, verb := range []string{"update", "patch"} {
		f.dyn.PrependReactor(verb, "*", func(a clienttesting.Action) (bool, runtime.Object, error) {
			var dry []string
			switch a := a.(type) {
			case clienttesting.UpdateActionImpl:
				dry = a.UpdateOptions.DryRun
			case clienttesting.PatchActionImpl:
				dry = a.PatchOptions.DryRun
			}
			if len(dry) == 0 {
				return false, nil, nil
			}
			f.mu.Lock()
			f.dryUpdates++
			f.mu.Unlock()
			if u, ok := a.(clienttesting.UpdateActionImpl); ok {
				return true, u.GetObject(), nil
			}
			p := a.(clienttesting.PatchActionImpl)
			got, err := f.dyn.Tracker().Get(p.GetResource(), p.GetNamespace(), p.GetName())
			return true, got, err
		})
	}
	f.scratch = t.TempDir()
	f.restorer = &Restorer{
		Discovery:     f.disc,
		Dynamic:       f.dyn,
		Access:        f.access,
		Store:         f.store,
		HomeNamespace: homeNS,
		ScratchDir:    f.scratch,
	}
	return f
}

// seed puts an existing object into the cluster.
func (f *fixture) seed(resource string, obj *unstructured.Unstructured) {
	f.t.Helper()
	gvr, ok := gvrs[resource]
	if !ok {
		f.t.Fatalf("no gvr for %s", resource)
	}
	if err := f.dyn.Tracker().Create(gvr, obj, obj.GetNamespace()); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) seedNamespace(name string) {
	f.seed("namespaces", &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": name, "uid": "existing-" + name, "resourceVersion": "5"},
	}})
}

func (f *fixture) backup(items ...bItem) []byte {
	f.t.Helper()
	return putBackupAt(f.t, f.store, f.layout().Backup(f.namespace(), testBackup), nil, items...)
}

func (f *fixture) layout() backupstore.Layout { return backupstore.Layout{HomeNamespace: homeNS} }

func (f *fixture) namespace() string {
	if f.ns == "" {
		return homeNS
	}
	return f.ns
}

func newRestore(mods ...func(*arkv1.Restore)) *arkv1.Restore {
	r := &arkv1.Restore{
		ObjectMeta: metav1.ObjectMeta{Name: testRestore, Namespace: homeNS},
		Spec: arkv1.RestoreSpec{
			BackupName: testBackup,
			Requester:  &arkv1.UserInfo{Username: requester, Groups: []string{"devs"}},
		},
	}
	for _, m := range mods {
		m(r)
	}
	return r
}

func (f *fixture) run(r *arkv1.Restore) Outcome {
	f.t.Helper()
	out, err := f.restorer.Run(context.Background(), r, testBackup, nil)
	if err != nil {
		f.t.Fatalf("Run: %v", err)
	}
	f.checkScratchEmpty()
	return out
}

func (f *fixture) checkScratchEmpty() {
	f.t.Helper()
	names, err := os.ReadDir(f.scratch)
	if err != nil {
		f.t.Fatal(err)
	}
	if len(names) != 0 {
		f.t.Errorf("the scratch directory still holds %v after Run", names)
	}
}

// createCalls returns every create the cluster received, in order.
func (f *fixture) createCalls() []createCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]createCall(nil), f.creates...)
}

// createdKeys lists the successful creates, in order, as "resource ns/name".
func (f *fixture) createdKeys() []string {
	var out []string
	for _, c := range f.createCalls() {
		if c.err == nil {
			out = append(out, c.key())
		}
	}
	return out
}

func sortedCopy(s []string) []string {
	out := append([]string{}, s...)
	sort.Strings(out)
	return out
}

// sent returns the object the restore created as "resource ns/name", as sent.
func (f *fixture) sent(key string) *unstructured.Unstructured {
	f.t.Helper()
	for _, c := range f.createCalls() {
		if c.err == nil && c.key() == key {
			return c.obj
		}
	}
	f.t.Fatalf("%s was not created; created: %v", key, f.createdKeys())
	return nil
}

// get reads an object from the fake cluster, or nil.
func (f *fixture) get(resource, ns, name string) *unstructured.Unstructured {
	f.t.Helper()
	obj, err := f.dyn.Tracker().Get(gvrs[resource], ns, name)
	if err != nil {
		return nil
	}
	return obj.(*unstructured.Unstructured)
}

// actions returns the verbs the dynamic client saw, e.g. "update".
func (f *fixture) actions(verb string) []clienttesting.Action {
	var out []clienttesting.Action
	for _, a := range f.dyn.Actions() {
		if a.GetVerb() == verb {
			out = append(out, a)
		}
	}
	return out
}

// ---- results ----

type resultsDoc struct {
	Items   []ItemResult `json:"items"`
	Hooks   []HookResult `json:"hooks"`
	Summary Summary      `json:"summary"`
	raw     []map[string]any
}

func gunzip(t testing.TB, data []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func (f *fixture) results(restore string) resultsDoc {
	f.t.Helper()
	data, _, err := objectstore.ReadAll(context.Background(), f.store, f.layout().Restore(f.namespace(), restore).ResultsKey(), 64<<20)
	if err != nil {
		f.t.Fatalf("reading the results: %v", err)
	}
	plain := gunzip(f.t, data)
	var doc resultsDoc
	if err := json.Unmarshal(plain, &doc); err != nil {
		f.t.Fatalf("results are not JSON: %v\n%s", err, plain)
	}
	var raw struct {
		Items []map[string]any `json:"items"`
	}
	if err := json.Unmarshal(plain, &raw); err != nil {
		f.t.Fatal(err)
	}
	doc.raw = raw.Items
	return doc
}

func (f *fixture) logs(restore string) string {
	f.t.Helper()
	data, _, err := objectstore.ReadAll(context.Background(), f.store, f.layout().Restore(f.namespace(), restore).LogsKey(), 64<<20)
	if err != nil {
		f.t.Fatalf("reading the logs: %v", err)
	}
	return string(gunzip(f.t, data))
}

func (d resultsDoc) find(resource, ns, name string) *ItemResult {
	for i := range d.Items {
		it := &d.Items[i]
		if it.Resource == resource && it.Namespace == ns && it.Name == name {
			return it
		}
	}
	return nil
}

// keys lists the items as "resource ns/name action", sorted.
func (d resultsDoc) keys() []string {
	var out []string
	for _, it := range d.Items {
		k := it.Resource + " "
		if it.Namespace != "" {
			k += it.Namespace + "/"
		}
		out = append(out, k+it.Name+" "+it.Action)
	}
	sort.Strings(out)
	return out
}

// want asserts one item's action and that its reason contains every part.
func (d resultsDoc) want(t *testing.T, resource, ns, name, action string, reasonParts ...string) *ItemResult {
	t.Helper()
	it := d.find(resource, ns, name)
	if it == nil {
		t.Errorf("no result for %s %s/%s; results: %v", resource, ns, name, d.keys())
		return nil
	}
	if it.Action != action {
		t.Errorf("%s %s/%s: action = %q (reason %q), want %q", resource, ns, name, it.Action, it.Reason, action)
	}
	for _, p := range reasonParts {
		if !strings.Contains(it.Reason, p) {
			t.Errorf("%s %s/%s: reason = %q, want it to contain %q", resource, ns, name, it.Reason, p)
		}
	}
	return it
}

// checkSummary asserts that the summary counts the items, and that the
// outcome agrees with the document.
func checkSummary(t *testing.T, doc resultsDoc, out Outcome) {
	t.Helper()
	var want Summary
	for _, it := range doc.Items {
		switch it.Action {
		case ActionCreated:
			want.Created++
			if it.Reason != "" { // e.g. its volume's data could not be restored
				want.Errors++
			}
		case ActionUpdated:
			want.Updated++
		case ActionSkipped:
			want.Skipped++
			if it.Reason != "" {
				want.Warnings++
			}
		case ActionFailed:
			want.Failed++
			want.Errors++
		default:
			t.Errorf("item %+v has an unknown action", it)
		}
		if it.Warning != "" {
			want.Warnings++
		}
	}
	if doc.Summary != want {
		t.Errorf("results summary = %+v, the items count %+v", doc.Summary, want)
	}
	if out.Summary != doc.Summary {
		t.Errorf("Outcome.Summary = %+v, the results document says %+v", out.Summary, doc.Summary)
	}
}

func equalStrings(t *testing.T, what string, got, want []string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("%s:\n got: %q\nwant: %q", what, got, want)
	}
}

func ptr[T any](v T) *T { return &v }

// jsonEqual compares values as JSON documents: the restore decodes numbers
// as float64, the tests write them as int64.
func jsonEqual(a, b any) bool {
	ja, errA := json.Marshal(a)
	jb, errB := json.Marshal(b)
	return errA == nil && errB == nil && bytes.Equal(ja, jb)
}
