package backup

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"io"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	fakediscovery "k8s.io/client-go/discovery/fake"
	"k8s.io/client-go/dynamic"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	clienttesting "k8s.io/client-go/testing"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
	"github.com/arkproject/ark/pkg/backupstore"
	"github.com/arkproject/ark/pkg/objectstore"
)

// ---- discovery ----

// fakeDiscovery serves a fixed discovery document: client-go's FakeDiscovery
// returns nil from ServerPreferredResources.
type fakeDiscovery struct {
	*fakediscovery.FakeDiscovery
	lists []*metav1.APIResourceList
	err   error
}

func (d *fakeDiscovery) ServerPreferredResources() ([]*metav1.APIResourceList, error) {
	return d.lists, d.err
}

func (d *fakeDiscovery) ServerPreferredResourcesWithContext(context.Context) ([]*metav1.APIResourceList, error) {
	return d.lists, d.err
}

var (
	allVerbs = metav1.Verbs{"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"}
	// clusterVerbs are those of a cluster-scoped resource like namespaces.
	clusterVerbs = metav1.Verbs{"create", "delete", "get", "list", "patch", "update", "watch"}
)

// servedResources describes the fake cluster the way a real API server's
// preferred-resources discovery would.
func servedResources() []*metav1.APIResourceList {
	return []*metav1.APIResourceList{
		{
			GroupVersion: "v1",
			APIResources: []metav1.APIResource{
				{Name: "bindings", SingularName: "binding", Namespaced: true, Kind: "Binding", Verbs: metav1.Verbs{"create"}},
				{Name: "configmaps", SingularName: "configmap", Namespaced: true, Kind: "ConfigMap", Verbs: allVerbs, ShortNames: []string{"cm"}},
				{Name: "events", SingularName: "event", Namespaced: true, Kind: "Event", Verbs: allVerbs, ShortNames: []string{"ev"}},
				{Name: "namespaces", SingularName: "namespace", Namespaced: false, Kind: "Namespace", Verbs: clusterVerbs, ShortNames: []string{"ns"}},
				{Name: "namespaces/finalize", SingularName: "", Namespaced: false, Kind: "Namespace", Verbs: metav1.Verbs{"update"}},
				{Name: "namespaces/status", SingularName: "", Namespaced: false, Kind: "Namespace", Verbs: metav1.Verbs{"get", "patch", "update"}},
				{Name: "nodes", SingularName: "node", Namespaced: false, Kind: "Node", Verbs: allVerbs, ShortNames: []string{"no"}},
				{Name: "nodes/proxy", SingularName: "", Namespaced: false, Kind: "NodeProxyOptions", Verbs: metav1.Verbs{"create", "delete", "get", "patch", "update"}},
				{Name: "persistentvolumeclaims", SingularName: "persistentvolumeclaim", Namespaced: true, Kind: "PersistentVolumeClaim", Verbs: allVerbs, ShortNames: []string{"pvc"}},
				{Name: "persistentvolumes", SingularName: "persistentvolume", Namespaced: false, Kind: "PersistentVolume", Verbs: allVerbs, ShortNames: []string{"pv"}},
				{Name: "pods", SingularName: "pod", Namespaced: true, Kind: "Pod", Verbs: allVerbs, ShortNames: []string{"po"}, Categories: []string{"all"}},
				{Name: "pods/log", SingularName: "", Namespaced: true, Kind: "Pod", Verbs: metav1.Verbs{"get"}},
				{Name: "pods/status", SingularName: "", Namespaced: true, Kind: "Pod", Verbs: metav1.Verbs{"get", "patch", "update"}},
				{Name: "secrets", SingularName: "secret", Namespaced: true, Kind: "Secret", Verbs: allVerbs},
			},
		},
		{
			GroupVersion: "apps/v1",
			APIResources: []metav1.APIResource{
				{Name: "deployments", SingularName: "deployment", Namespaced: true, Kind: "Deployment", Verbs: allVerbs, ShortNames: []string{"deploy"}, Categories: []string{"all"}},
				{Name: "deployments/scale", SingularName: "", Namespaced: true, Group: "autoscaling", Version: "v1", Kind: "Scale", Verbs: metav1.Verbs{"get", "patch", "update"}},
				{Name: "deployments/status", SingularName: "", Namespaced: true, Kind: "Deployment", Verbs: metav1.Verbs{"get", "patch", "update"}},
			},
		},
		{
			GroupVersion: "events.k8s.io/v1",
			APIResources: []metav1.APIResource{
				{Name: "events", SingularName: "event", Namespaced: true, Kind: "Event", Verbs: allVerbs, ShortNames: []string{"ev"}},
			},
		},
		{
			GroupVersion: "ark.heptio.com/v1",
			APIResources: []metav1.APIResource{
				{Name: "backups", SingularName: "backup", Namespaced: true, Kind: "Backup", Verbs: allVerbs},
			},
		},
	}
}

// listKinds registers every listable resource of the fixture with the fake
// dynamic client. Events and backups are registered too, so that listing
// them would not panic but show up in the tarball and the recorded actions.
var listKinds = map[schema.GroupVersionResource]string{
	{Version: "v1", Resource: "configmaps"}:                       "ConfigMapList",
	{Version: "v1", Resource: "events"}:                           "EventList",
	{Version: "v1", Resource: "namespaces"}:                       "NamespaceList",
	{Version: "v1", Resource: "nodes"}:                            "NodeList",
	{Version: "v1", Resource: "persistentvolumeclaims"}:           "PersistentVolumeClaimList",
	{Version: "v1", Resource: "persistentvolumes"}:                "PersistentVolumeList",
	{Version: "v1", Resource: "pods"}:                             "PodList",
	{Version: "v1", Resource: "secrets"}:                          "SecretList",
	{Group: "apps", Version: "v1", Resource: "deployments"}:       "DeploymentList",
	{Group: "events.k8s.io", Version: "v1", Resource: "events"}:   "EventList",
	{Group: "ark.heptio.com", Version: "v1", Resource: "backups"}: "BackupList",
}

// ---- cluster objects ----

func object(apiVersion, kind, ns, name string, lbls map[string]any, fields map[string]any) *unstructured.Unstructured {
	md := map[string]any{
		"name":              name,
		"uid":               "uid-" + name,
		"resourceVersion":   "42",
		"creationTimestamp": "2024-05-01T10:00:00Z",
		"managedFields": []any{map[string]any{
			"manager": "kubectl", "operation": "Apply", "apiVersion": apiVersion,
			"fieldsType": "FieldsV1", "fieldsV1": map[string]any{"f:metadata": map[string]any{}},
		}},
	}
	if ns != "" {
		md["namespace"] = ns
	}
	if lbls != nil {
		md["labels"] = lbls
	}
	obj := map[string]any{"apiVersion": apiVersion, "kind": kind, "metadata": md}
	for k, v := range fields {
		obj[k] = v
	}
	return &unstructured.Unstructured{Object: obj}
}

// clusterObjects is the fake cluster, keyed by the path each object would
// have in a tarball (or a descriptive key for objects never backed up).
func clusterObjects() map[string]*unstructured.Unstructured {
	web := map[string]any{"app": "web"}
	return map[string]*unstructured.Unstructured{
		"resources/configmaps/namespaces/app/cm1.json": object("v1", "ConfigMap", "app", "cm1", web,
			map[string]any{"data": map[string]any{"greeting": "hello"}}),
		"resources/secrets/namespaces/app/s1.json": object("v1", "Secret", "app", "s1", nil,
			map[string]any{"type": "Opaque", "data": map[string]any{"password": "aHVudGVyMg=="}}),
		"resources/deployments.apps/namespaces/app/web.json": object("apps/v1", "Deployment", "app", "web", web,
			map[string]any{"spec": map[string]any{"replicas": int64(2)}, "status": map[string]any{"readyReplicas": int64(2)}}),
		"resources/persistentvolumeclaims/namespaces/app/data.json": object("v1", "PersistentVolumeClaim", "app", "data", nil,
			map[string]any{"spec": map[string]any{"volumeName": "pv-1", "accessModes": []any{"ReadWriteOnce"}}}),
		"event e1 (core)": object("v1", "Event", "app", "e1", nil,
			map[string]any{"reason": "Scheduled", "involvedObject": map[string]any{"kind": "Pod", "name": "x"}}),
		"event e2 (events.k8s.io)": object("events.k8s.io/v1", "Event", "app", "e2", nil,
			map[string]any{"reason": "Scheduled"}),
		"ark backup nightly": object("ark.heptio.com/v1", "Backup", "app", "nightly", nil,
			map[string]any{"spec": map[string]any{"includedNamespaces": []any{"app"}}}),
		"resources/configmaps/namespaces/other/cm2.json": object("v1", "ConfigMap", "other", "cm2", map[string]any{"app": "db"},
			map[string]any{"data": map[string]any{"k": "v"}}),
		"resources/persistentvolumes/cluster/pv-1.json": object("v1", "PersistentVolume", "", "pv-1", nil,
			map[string]any{"spec": map[string]any{"claimRef": map[string]any{"namespace": "app", "name": "data"}}}),
		"resources/persistentvolumes/cluster/pv-2.json": object("v1", "PersistentVolume", "", "pv-2", map[string]any{"app": "web"},
			map[string]any{"spec": map[string]any{"capacity": map[string]any{"storage": "1Gi"}}}),
		"resources/nodes/cluster/n1.json": object("v1", "Node", "", "n1", nil,
			map[string]any{"spec": map[string]any{"podCIDR": "10.0.0.0/24"}, "status": map[string]any{"capacity": map[string]any{"cpu": "4"}}}),
		"resources/namespaces/cluster/app.json": object("v1", "Namespace", "", "app", nil,
			map[string]any{"spec": map[string]any{"finalizers": []any{"kubernetes"}}}),
		"resources/namespaces/cluster/other.json": object("v1", "Namespace", "", "other", nil,
			map[string]any{"spec": map[string]any{"finalizers": []any{"kubernetes"}}}),
	}
}

// ---- access ----

type accessKey struct{ gr, ns string }

type accessCall struct {
	user string
	gr   string
	ns   string
}

// fakeAccess allows everything except the configured (group-resource, namespace) pairs.
type fakeAccess struct {
	deny map[accessKey]string
	fail map[accessKey]error

	mu    sync.Mutex
	calls []accessCall
}

func (a *fakeAccess) CanList(_ context.Context, user *arkv1.UserInfo, gr schema.GroupResource, namespace string) (bool, string, error) {
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

func (a *fakeAccess) allowedCalls() map[accessKey]bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := map[accessKey]bool{}
	for _, c := range a.calls {
		k := accessKey{c.gr, c.ns}
		if _, denied := a.deny[k]; !denied && a.fail[k] == nil {
			out[k] = true
		}
	}
	return out
}

// ---- environment ----

type env struct {
	disc   *fakeDiscovery
	dyn    *dynamicfake.FakeDynamicClient
	rec    *recordingDynamic
	access *fakeAccess
	store  objectstore.Store
	b      *Backupper
}

func newEnv(t testing.TB) *env {
	t.Helper()
	var objs []runtime.Object
	for _, o := range clusterObjects() {
		objs = append(objs, o)
	}
	kinds := map[schema.GroupVersionResource]string{}
	for k, v := range listKinds {
		kinds[k] = v
	}
	dyn := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), kinds, objs...)
	store, err := objectstore.NewFileStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	e := &env{
		disc:   &fakeDiscovery{FakeDiscovery: &fakediscovery.FakeDiscovery{Fake: &clienttesting.Fake{}}, lists: servedResources()},
		dyn:    dyn,
		rec:    &recordingDynamic{Interface: dyn},
		access: &fakeAccess{},
		store:  store,
	}
	e.b = &Backupper{Discovery: e.disc, Dynamic: e.rec, Access: e.access, Store: e.store, Layout: backupstore.Layout{HomeNamespace: "ark"}}
	return e
}

var startTime = time.Date(2024, 6, 1, 12, 30, 45, 123456789, time.UTC)

func newBackup(name string, mutate func(*arkv1.BackupSpec)) *arkv1.Backup {
	start := metav1.NewTime(startTime)
	b := &arkv1.Backup{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ark", Name: name},
		Spec: arkv1.BackupSpec{
			Requester: &arkv1.UserInfo{Username: "alice", UID: "u-1", Groups: []string{"devs", "system:authenticated"}},
		},
		Status: arkv1.BackupStatus{StartTimestamp: &start},
	}
	if mutate != nil {
		mutate(&b.Spec)
	}
	return b
}

type progressCall struct{ total, done int }

// stored is a backup read back from the bucket.
type stored struct {
	out      Outcome
	err      error
	progress []progressCall

	files        map[string][]byte // every object in the bucket, by key
	entries      []string          // tar entry names, in order
	contents     map[string][]byte // tar entry contents
	headers      map[string]*tar.Header
	manifest     backupstore.Manifest
	resourceList map[string][]string
	results      Results
	snapshots    []any
	log          string
}

// run takes a backup and reads everything it stored back.
func (e *env) run(t *testing.T, b *arkv1.Backup) *stored {
	t.Helper()
	s := &stored{}
	s.out, s.err = e.b.Run(context.Background(), b, func(total, done int) {
		s.progress = append(s.progress, progressCall{total, done})
	})
	s.files = bucketFiles(t, e.store)
	if s.err != nil {
		return s
	}
	name := b.Name
	tarGz := s.mustFile(t, backupstore.Home(name).TarballKey())
	s.entries, s.contents, s.headers = readTarball(t, tarGz)
	if err := json.Unmarshal(s.mustFile(t, backupstore.Home(name).ManifestKey()), &s.manifest); err != nil {
		t.Fatalf("manifest: %v", err)
	}
	if err := json.Unmarshal(gunzip(t, s.mustFile(t, backupstore.Home(name).ResourceListKey())), &s.resourceList); err != nil {
		t.Fatalf("resource list: %v", err)
	}
	if err := json.Unmarshal(gunzip(t, s.mustFile(t, backupstore.Home(name).ResultsKey())), &s.results); err != nil {
		t.Fatalf("results: %v", err)
	}
	if err := json.Unmarshal(gunzip(t, s.mustFile(t, backupstore.Home(name).VolumeSnapshotsKey())), &s.snapshots); err != nil {
		t.Fatalf("volume snapshots: %v", err)
	}
	s.log = string(gunzip(t, s.mustFile(t, backupstore.Home(name).LogsKey())))
	return s
}

func (s *stored) mustFile(t *testing.T, key string) []byte {
	t.Helper()
	data, ok := s.files[key]
	if !ok {
		t.Fatalf("bucket has no %s; it has %v", key, sortedKeys(s.files))
	}
	return data
}

func bucketFiles(t *testing.T, store objectstore.Store) map[string][]byte {
	t.Helper()
	ctx := context.Background()
	files := map[string][]byte{}
	err := objectstore.ListAll(ctx, store, "", func(o objectstore.ObjectAttrs) error {
		data, _, err := objectstore.ReadAll(ctx, store, o.Key, 1<<30)
		if err != nil {
			return err
		}
		files[o.Key] = data
		return nil
	})
	if err != nil {
		t.Fatalf("listing the bucket: %v", err)
	}
	return files
}

func gunzip(t *testing.T, data []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("gunzip: %v", err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("gunzip: %v", err)
	}
	return out
}

func readTarball(t *testing.T, data []byte) ([]string, map[string][]byte, map[string]*tar.Header) {
	t.Helper()
	tr := tar.NewReader(bytes.NewReader(gunzip(t, data)))
	var names []string
	contents := map[string][]byte{}
	headers := map[string]*tar.Header{}
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("reading the tarball: %v", err)
		}
		body, err := io.ReadAll(tr)
		if err != nil {
			t.Fatalf("reading tar entry %s: %v", hdr.Name, err)
		}
		if _, dup := contents[hdr.Name]; dup {
			t.Errorf("tar entry %s appears twice", hdr.Name)
		}
		names = append(names, hdr.Name)
		contents[hdr.Name] = body
		headers[hdr.Name] = hdr
	}
	return names, contents, headers
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// listCall is one LIST the backup sent to the cluster.
type listCall struct {
	gr   string
	ns   string
	opts metav1.ListOptions
}

// recordingDynamic wraps the fake dynamic client to record every List with
// the options the backup sent, and, when paging is on, to honour Limit and
// Continue the way an API server does. The fake ignores Limit and Continue,
// and the actions it records for cluster-wide lists even drop them, so
// neither its results nor its action log can show paging.
type recordingDynamic struct {
	dynamic.Interface
	paging    bool
	remaining bool // set remainingItemCount on every page but the last

	mu    sync.Mutex
	calls []listCall
}

func (d *recordingDynamic) Resource(gvr schema.GroupVersionResource) dynamic.NamespaceableResourceInterface {
	root := d.Interface.Resource(gvr)
	return &recordingResource{ResourceInterface: root, root: root, d: d, gvr: gvr}
}

type recordingResource struct {
	dynamic.ResourceInterface
	root dynamic.NamespaceableResourceInterface
	d    *recordingDynamic
	gvr  schema.GroupVersionResource
	ns   string
}

func (r *recordingResource) Namespace(ns string) dynamic.ResourceInterface {
	return &recordingResource{ResourceInterface: r.root.Namespace(ns), root: r.root, d: r.d, gvr: r.gvr, ns: ns}
}

func (r *recordingResource) List(ctx context.Context, opts metav1.ListOptions) (*unstructured.UnstructuredList, error) {
	r.d.mu.Lock()
	r.d.calls = append(r.d.calls, listCall{gr: r.gvr.GroupResource().String(), ns: r.ns, opts: opts})
	paging, remaining := r.d.paging, r.d.remaining
	r.d.mu.Unlock()
	if !paging || opts.Limit <= 0 {
		return r.ResourceInterface.List(ctx, opts)
	}
	// The selector applies before the page is cut; the token is opaque.
	full, err := r.ResourceInterface.List(ctx, metav1.ListOptions{LabelSelector: opts.LabelSelector})
	if err != nil {
		return nil, err
	}
	start := 0
	if c := opts.Continue; c != "" {
		n, err := strconv.Atoi(strings.TrimPrefix(c, "page-"))
		if err != nil {
			return nil, err
		}
		start = n
	}
	end := min(start+int(opts.Limit), len(full.Items))
	page := full.DeepCopy()
	page.Items = full.Items[start:end]
	page.SetContinue("")
	page.SetRemainingItemCount(nil)
	if end < len(full.Items) {
		page.SetContinue("page-" + strconv.Itoa(end))
		if remaining {
			rem := int64(len(full.Items) - end)
			page.SetRemainingItemCount(&rem)
		}
	}
	return page, nil
}

func (e *env) lists() []listCall {
	e.rec.mu.Lock()
	defer e.rec.mu.Unlock()
	return append([]listCall(nil), e.rec.calls...)
}

// pageLists makes List honour Limit and Continue.
func (e *env) pageLists(withRemaining bool) {
	e.rec.paging, e.rec.remaining = true, withRemaining
}

// ---- a bucket that fails on demand ----

var errInjected = errors.New("injected bucket failure")

// faultyStore wraps a store: NewWriter fails for keys failOpen accepts, and a
// writer for a key in failAfter fails once that many bytes were written.
type faultyStore struct {
	objectstore.Store
	failOpen  func(key string) bool
	failAfter map[string]int64

	mu      sync.Mutex
	writers []*faultyWriter
}

func (s *faultyStore) NewWriter(ctx context.Context, key string, cond objectstore.Conditions) (objectstore.Writer, error) {
	if s.failOpen != nil && s.failOpen(key) {
		return nil, errInjected
	}
	w, err := s.Store.NewWriter(ctx, key, cond)
	if err != nil {
		return nil, err
	}
	limit, ok := s.failAfter[key]
	if !ok {
		limit = -1
	}
	fw := &faultyWriter{Writer: w, key: key, limit: limit}
	s.mu.Lock()
	s.writers = append(s.writers, fw)
	s.mu.Unlock()
	return fw, nil
}

type faultyWriter struct {
	objectstore.Writer
	key       string
	limit     int64
	written   int64
	committed bool
	aborted   bool
}

func (w *faultyWriter) Write(p []byte) (int, error) {
	if w.limit >= 0 && w.written+int64(len(p)) > w.limit {
		n := 0
		if room := w.limit - w.written; room > 0 {
			n, _ = w.Writer.Write(p[:room])
			w.written += int64(n)
		}
		return n, errInjected
	}
	n, err := w.Writer.Write(p)
	w.written += int64(n)
	return n, err
}

func (w *faultyWriter) Close() error {
	err := w.Writer.Close()
	if err == nil {
		w.committed = true
	}
	return err
}

func (w *faultyWriter) Abort() {
	w.aborted = true
	w.Writer.Abort()
}

// ListRaw makes the fake answer as a RawLister, as the requester's clients
// do: the page, with its paging, as JSON. Hide it with plainDynamic.
func (d *recordingDynamic) ListRaw(ctx context.Context, gvr schema.GroupVersionResource, ns string, opts metav1.ListOptions) ([]byte, error) {
	var lister dynamic.ResourceInterface = d.Resource(gvr)
	if ns != "" {
		lister = d.Resource(gvr).Namespace(ns)
	}
	list, err := lister.List(ctx, opts)
	if err != nil {
		return nil, err
	}
	return list.MarshalJSON()
}

// plainDynamic hides a client's RawLister, so the backup decodes its pages
// into unstructured objects.
type plainDynamic struct{ dynamic.Interface }
