package backup

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"reflect"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"

	"github.com/arkproject/ark/pkg/objectstore"
)

// 9. itemPath refuses anything that could leave its folder.
func TestItemPathRefusesUnsafeNames(t *testing.T) {
	bad := []string{"/", "a/b", "/abs", "../x", "x/..", "..", ".", `a\b`, `..\x`, "a\x00b", "\x00"}
	for _, b := range bad {
		for i, parts := range [][3]string{
			{b, "app", "cm1"},
			{"configmaps", b, "cm1"},
			{"configmaps", "app", b},
			{"namespaces", "", b},
		} {
			p, err := itemPath(parts[0], parts[1], parts[2])
			if err == nil {
				t.Errorf("itemPath(%q) position %d = %q, want an error", parts, i, p)
				continue
			}
			if p != "" {
				t.Errorf("itemPath(%q) returned %q with its error", parts, p)
			}
			if !strings.Contains(err.Error(), "unsafe name") {
				t.Errorf("error %q", err)
			}
		}
	}
}

func TestItemPath(t *testing.T) {
	for _, tc := range []struct {
		gr, ns, name, want string
	}{
		{"configmaps", "app", "cm1", "resources/configmaps/namespaces/app/cm1.json"},
		{"deployments.apps", "app", "web", "resources/deployments.apps/namespaces/app/web.json"},
		{"namespaces", "", "app", "resources/namespaces/cluster/app.json"},
		{"persistentvolumes", "", "pv-1", "resources/persistentvolumes/cluster/pv-1.json"},
		// Dots inside a name are one harmless path segment.
		{"configmaps", "app", "a..b", "resources/configmaps/namespaces/app/a..b.json"},
		{"configmaps", "app", "...", "resources/configmaps/namespaces/app/....json"},
		{"configmaps", "app", "..x", "resources/configmaps/namespaces/app/..x.json"},
		{"configmaps", "app", "kube-root-ca.crt", "resources/configmaps/namespaces/app/kube-root-ca.crt.json"},
	} {
		got, err := itemPath(tc.gr, tc.ns, tc.name)
		if err != nil || got != tc.want {
			t.Errorf("itemPath(%q, %q, %q) = %q, %v; want %q", tc.gr, tc.ns, tc.name, got, err, tc.want)
		}
		if path.Clean(got) != got || strings.HasPrefix(got, "/") {
			t.Errorf("%q is not a clean relative path", got)
		}
	}
}

func TestDiscoverResources(t *testing.T) {
	d := &fakeDiscovery{lists: servedResources()}
	got, err := discoverResources(d)
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		gr, version string
		namespaced  bool
	}
	var rows []row
	for _, r := range got {
		rows = append(rows, row{r.GroupResource(), r.gvr.Version, r.namespaced})
	}
	// Pods first (their hooks run before volumes are snapshotted), then by name.
	want := []row{
		{"pods", "v1", true},
		{"configmaps", "v1", true},
		{"deployments.apps", "v1", true},
		{"namespaces", "v1", false},
		{"nodes", "v1", false},
		{"persistentvolumeclaims", "v1", true},
		{"persistentvolumes", "v1", false},
		{"secrets", "v1", true},
	}
	if !reflect.DeepEqual(rows, want) {
		t.Fatalf("discovered\n %v\nwant\n %v", rows, want)
	}
	for _, r := range got {
		if r.GroupResource() == "pods" {
			if !reflect.DeepEqual(r.names, []string{"pods", "pod", "pod", "po"}) || r.kind != "Pod" {
				t.Errorf("pods: names %q kind %q", r.names, r.kind)
			}
		}
	}
}

// A subresource is skipped even when it claims list, and so is a resource
// that can be listed but not read, and a malformed group version.
func TestDiscoverSkipsUnusableResources(t *testing.T) {
	d := &fakeDiscovery{lists: []*metav1.APIResourceList{
		{GroupVersion: "v1", APIResources: []metav1.APIResource{
			{Name: "pods", Namespaced: true, Kind: "Pod", Verbs: allVerbs},
			{Name: "pods/metrics", Namespaced: true, Kind: "PodMetrics", Verbs: metav1.Verbs{"get", "list"}},
			{Name: "listonly", Namespaced: true, Kind: "ListOnly", Verbs: metav1.Verbs{"list", "watch"}},
			{Name: "getonly", Namespaced: true, Kind: "GetOnly", Verbs: metav1.Verbs{"get"}},
		}},
		{GroupVersion: "a/b/c", APIResources: []metav1.APIResource{
			{Name: "broken", Kind: "Broken", Verbs: allVerbs},
		}},
		{GroupVersion: "ark.heptio.com/v1", APIResources: []metav1.APIResource{
			{Name: "restores", Namespaced: true, Kind: "Restore", Verbs: allVerbs},
		}},
	}}
	got, err := discoverResources(d)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].GroupResource() != "pods" {
		t.Errorf("discovered %v, want only pods", got)
	}
}

func TestDiscoverPassesPartialFailures(t *testing.T) {
	failed := &discovery.ErrGroupDiscoveryFailed{Groups: map[schema.GroupVersion]error{
		{Group: "metrics.k8s.io", Version: "v1beta1"}: errors.New("503"),
	}}
	d := &fakeDiscovery{lists: servedResources(), err: failed}
	got, err := discoverResources(d)
	if !errors.Is(err, failed) {
		t.Errorf("error %v, want the discovery failure", err)
	}
	if len(got) != 8 {
		t.Errorf("%d resources despite a partial failure, want 8", len(got))
	}
}

func TestResourceFilter(t *testing.T) {
	served, err := discoverResources(&fakeDiscovery{lists: servedResources()})
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]resource{}
	for _, r := range served {
		byName[r.GroupResource()] = r
	}
	included := func(f resourceFilter) []string {
		var out []string
		for _, r := range served {
			if f.includes(r) {
				out = append(out, r.GroupResource())
			}
		}
		return out
	}
	for _, tc := range []struct {
		includes, excludes []string
		want               []string
		unknown            []string
	}{
		{nil, nil, []string{"pods", "configmaps", "deployments.apps", "namespaces", "nodes", "persistentvolumeclaims", "persistentvolumes", "secrets"}, nil},
		{[]string{"*"}, []string{"po", "Secret", "PersistentVolumeClaim", "deploy"}, []string{"configmaps", "namespaces", "nodes", "persistentvolumes"}, nil},
		{[]string{"pods", "pod", "po", "Pod"}, nil, []string{"pods"}, nil},
		{[]string{"deployments.apps", "deploy.apps", "deployment.apps"}, nil, []string{"deployments.apps"}, nil},
		{[]string{"deployments.extensions", "cm"}, nil, []string{"configmaps"}, []string{"deployments.extensions"}},
		{[]string{"cm", "ConfigMaps"}, []string{"configmaps"}, nil, nil},
		{nil, []string{"widgets"}, []string{"pods", "configmaps", "deployments.apps", "namespaces", "nodes", "persistentvolumeclaims", "persistentvolumes", "secrets"}, []string{"widgets"}},
		{[]string{"backups"}, nil, nil, []string{"backups"}},
	} {
		f, unknown := newResourceFilter(tc.includes, tc.excludes, served)
		if got := included(f); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("include %q exclude %q: got %q, want %q", tc.includes, tc.excludes, got, tc.want)
		}
		if !reflect.DeepEqual(unknown, tc.unknown) {
			t.Errorf("include %q exclude %q: unknown %q, want %q", tc.includes, tc.excludes, unknown, tc.unknown)
		}
	}
	f, _ := newResourceFilter([]string{"no"}, nil, served)
	if !f.explicitlyIncluded(byName["nodes"]) || f.explicitlyIncluded(byName["pods"]) {
		t.Errorf("explicit inclusion wrong")
	}
	f, _ = newResourceFilter([]string{"*"}, nil, served)
	if f.explicitlyIncluded(byName["nodes"]) {
		t.Errorf("\"*\" names no resource explicitly")
	}
}

func TestNamespaceFilter(t *testing.T) {
	for _, tc := range []struct {
		includes, excludes []string
		whole              bool
		listed             []string
		in, out            []string
	}{
		{nil, nil, true, nil, []string{"app", "other", ""}, nil},
		{[]string{"*"}, nil, true, nil, []string{"app", "other"}, nil},
		{nil, []string{"other"}, false, nil, []string{"app"}, []string{"other"}},
		{[]string{"b", "a"}, []string{"b"}, false, []string{"a"}, []string{"a"}, []string{"b", "c"}},
		{[]string{"a"}, []string{"a"}, false, []string{}, nil, []string{"a"}},
	} {
		f := newNamespaceFilter(tc.includes, tc.excludes)
		if f.wholeCluster() != tc.whole {
			t.Errorf("%q/%q: wholeCluster %v", tc.includes, tc.excludes, f.wholeCluster())
		}
		if got := f.listed(); !reflect.DeepEqual(got, tc.listed) {
			t.Errorf("%q/%q: listed %#v, want %#v", tc.includes, tc.excludes, got, tc.listed)
		}
		for _, ns := range tc.in {
			if !f.includes(ns) {
				t.Errorf("%q/%q: %q not included", tc.includes, tc.excludes, ns)
			}
		}
		for _, ns := range tc.out {
			if f.includes(ns) {
				t.Errorf("%q/%q: %q included", tc.includes, tc.excludes, ns)
			}
		}
	}
}

func TestResultSetCapsMessagesButCountsAll(t *testing.T) {
	var s ResultSet
	for i := 0; i < maxResultEntries+5; i++ {
		s.add("app", "", fmt.Sprint("ns ", i))
		s.add("", "cluster", fmt.Sprint("cluster ", i))
		s.add("", "", fmt.Sprint("ark ", i))
	}
	s.add("other", "cluster", "namespace wins over scope")
	if s.Count != 3*(maxResultEntries+5)+1 {
		t.Errorf("count %d", s.Count)
	}
	if len(s.Namespaces["app"]) != maxResultEntries || len(s.Cluster) != maxResultEntries || len(s.Ark) != maxResultEntries {
		t.Errorf("kept %d/%d/%d messages, want %d each", len(s.Namespaces["app"]), len(s.Cluster), len(s.Ark), maxResultEntries)
	}
	if s.Namespaces["app"][0] != "ns 0" || s.Namespaces["app"][maxResultEntries-1] != fmt.Sprint("ns ", maxResultEntries-1) {
		t.Errorf("kept the wrong messages")
	}
	if !reflect.DeepEqual(s.Namespaces["other"], []string{"namespace wins over scope"}) {
		t.Errorf("other: %q", s.Namespaces["other"])
	}
}

func TestResourceListStream(t *testing.T) {
	var buf bytes.Buffer
	l := newResourceList(&buf)
	for _, it := range [][3]string{
		{"configmaps", "app", "cm1"}, {"configmaps", "other", "cm\"2"},
		{"namespaces", "", "app"}, {"secrets", "app", "s1"}, {"secrets", "app", "s2"},
	} {
		if err := l.add(it[0], it[1], it[2]); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.close(); err != nil {
		t.Fatal(err)
	}
	var got map[string][]string
	if err := json.Unmarshal(gunzip(t, buf.Bytes()), &got); err != nil {
		t.Fatalf("%v:\n%s", err, gunzip(t, buf.Bytes()))
	}
	want := map[string][]string{
		"configmaps": {"app/cm1", "other/cm\"2"},
		"namespaces": {"app"},
		"secrets":    {"app/s1", "app/s2"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

type failingWriter struct{ room int }

func (w *failingWriter) Write(p []byte) (int, error) {
	if len(p) > w.room {
		n := w.room
		w.room = 0
		return n, errInjected
	}
	w.room -= len(p)
	return len(p), nil
}

func TestResourceListReportsWriteErrors(t *testing.T) {
	l := newResourceList(&failingWriter{room: 0})
	if err := l.add("configmaps", "app", "cm1"); !errors.Is(err, errInjected) {
		t.Errorf("add: %v, want the write error", err)
	}
	if err := l.close(); !errors.Is(err, errInjected) {
		t.Errorf("close: %v, want the write error", err)
	}
}

// The checksum and size cover exactly the bytes the bucket accepted.
func TestUploadCountsAcceptedBytes(t *testing.T) {
	store, err := objectstore.NewFileStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	fs := &faultyStore{Store: store, failAfter: map[string]int64{"k": 3}}
	u, err := newUpload(context.Background(), fs, "k", nil)
	if err != nil {
		t.Fatal(err)
	}
	n, err := u.Write([]byte("abcdef"))
	if n != 3 || !errors.Is(err, errInjected) {
		t.Fatalf("Write = %d, %v", n, err)
	}
	if u.Size() != 3 {
		t.Errorf("size %d, want 3", u.Size())
	}
	if want := sha256.Sum256([]byte("abc")); hex.EncodeToString(u.sum.Sum(nil)) != hex.EncodeToString(want[:]) {
		t.Errorf("checksum does not cover exactly the accepted bytes")
	}
	u.abort()
	if !fs.writers[0].aborted {
		t.Errorf("abort did not reach the bucket")
	}
}
