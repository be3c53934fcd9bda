package backup

import (
	"archive/tar"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"path"
	"reflect"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	clienttesting "k8s.io/client-go/testing"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
	"github.com/arkproject/ark/pkg/backupstore"
	"github.com/arkproject/ark/pkg/objectstore"
)

// Tarball paths of the fixture's objects.
const (
	pCM1     = "resources/configmaps/namespaces/app/cm1.json"
	pCM2     = "resources/configmaps/namespaces/other/cm2.json"
	pWeb     = "resources/deployments.apps/namespaces/app/web.json"
	pNSApp   = "resources/namespaces/cluster/app.json"
	pNSOther = "resources/namespaces/cluster/other.json"
	pN1      = "resources/nodes/cluster/n1.json"
	pPVC     = "resources/persistentvolumeclaims/namespaces/app/data.json"
	pPV1     = "resources/persistentvolumes/cluster/pv-1.json"
	pPV2     = "resources/persistentvolumes/cluster/pv-2.json"
	pS1      = "resources/secrets/namespaces/app/s1.json"

	versionEntry = "metadata/version"
)

// namespaceAppItems is what a backup of namespace app contains.
var namespaceAppItems = []string{pCM1, pWeb, pNSApp, pPVC, pPV1, pS1}

// wholeClusterItems is what a backup of everything contains.
var wholeClusterItems = []string{pCM1, pCM2, pWeb, pNSApp, pNSOther, pN1, pPVC, pPV1, pPV2, pS1}

func appOnly(sp *arkv1.BackupSpec) { sp.IncludedNamespaces = []string{"app"} }

func boolPtr(b bool) *bool { return &b }

// checkEntries asserts the tarball holds metadata/version followed by
// exactly items, in that order, each the JSON of its cluster object.
func checkEntries(t *testing.T, s *stored, items []string) {
	t.Helper()
	want := append([]string{versionEntry}, items...)
	if !reflect.DeepEqual(s.entries, want) {
		t.Fatalf("tarball entries:\n got %q\nwant %q", s.entries, want)
	}
	if got := string(s.contents[versionEntry]); got != "1" {
		t.Errorf("metadata/version = %q, want \"1\"", got)
	}
	objects := clusterObjects()
	for _, p := range items {
		checkItem(t, p, s.contents[p], objects[p])
	}
	for _, name := range s.entries {
		checkHeader(t, s.headers[name], int64(len(s.contents[name])))
	}
}

// checkItem asserts that an entry is the JSON of orig, without managed
// fields (and, for a node, without status).
func checkItem(t *testing.T, p string, got []byte, orig *unstructured.Unstructured) {
	t.Helper()
	if orig == nil {
		t.Fatalf("test bug: no fixture object for %s", p)
	}
	if _, ok, _ := unstructured.NestedFieldNoCopy(orig.Object, "metadata", "managedFields"); !ok {
		t.Fatalf("test bug: fixture %s has no managed fields to remove", p)
	}
	var gotObj map[string]any
	if err := json.Unmarshal(got, &gotObj); err != nil {
		t.Fatalf("%s is not JSON: %v\n%s", p, err, got)
	}
	if _, ok, _ := unstructured.NestedFieldNoCopy(gotObj, "metadata", "managedFields"); ok {
		t.Errorf("%s still has metadata.managedFields", p)
	}
	want := orig.DeepCopy()
	unstructured.RemoveNestedField(want.Object, "metadata", "managedFields")
	if orig.GetKind() == "Node" {
		unstructured.RemoveNestedField(want.Object, "status")
		if _, ok := gotObj["status"]; ok {
			t.Errorf("%s: a node's status must not be backed up", p)
		}
	}
	wantJSON, err := json.Marshal(want.Object)
	if err != nil {
		t.Fatal(err)
	}
	var wantObj map[string]any
	if err := json.Unmarshal(wantJSON, &wantObj); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(gotObj, wantObj) {
		t.Errorf("%s:\n got %s\nwant %s", p, got, wantJSON)
	}
}

func checkHeader(t *testing.T, hdr *tar.Header, size int64) {
	t.Helper()
	if hdr.Typeflag != tar.TypeReg {
		t.Errorf("%s: type %q, want a regular file", hdr.Name, hdr.Typeflag)
	}
	if hdr.Mode != 0o644 {
		t.Errorf("%s: mode %o, want 644", hdr.Name, hdr.Mode)
	}
	if hdr.Size != size {
		t.Errorf("%s: header size %d, body %d", hdr.Name, hdr.Size, size)
	}
	if want := startTime.Truncate(time.Second); !hdr.ModTime.Equal(want) {
		t.Errorf("%s: mod time %v, want the backup's start %v", hdr.Name, hdr.ModTime, want)
	}
	checkSafePath(t, hdr.Name)
}

func checkSafePath(t *testing.T, name string) {
	t.Helper()
	if name == "" || path.IsAbs(name) || path.Clean(name) != name || strings.ContainsAny(name, "\\\x00") {
		t.Errorf("unsafe tar path %q", name)
	}
	for _, seg := range strings.Split(name, "/") {
		if seg == ".." || seg == "." || seg == "" {
			t.Errorf("unsafe tar path %q", name)
		}
	}
}

// resourceListOf derives the resource list a tarball's entries imply.
func resourceListOf(t *testing.T, items []string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, p := range items {
		parts := strings.Split(strings.TrimSuffix(p, ".json"), "/")
		switch {
		case len(parts) == 4 && parts[2] == "cluster":
			out[parts[1]] = append(out[parts[1]], parts[3])
		case len(parts) == 5 && parts[2] == "namespaces":
			out[parts[1]] = append(out[parts[1]], parts[3]+"/"+parts[4])
		default:
			t.Fatalf("test bug: unexpected path %s", p)
		}
	}
	return out
}

func mustSucceed(t *testing.T, s *stored) {
	t.Helper()
	if s.err != nil {
		t.Fatalf("Run: %v", s.err)
	}
}

// 1. A namespace backup holds exactly the namespace's backed-up objects, its
// namespace object and the volumes of its claims.
func TestNamespaceBackup(t *testing.T) {
	e := newEnv(t)
	s := e.run(t, newBackup("b1", appOnly))
	mustSucceed(t, s)
	checkEntries(t, s, namespaceAppItems)

	if want := (Outcome{Items: 6}); s.out != want {
		t.Errorf("outcome %+v, want %+v", s.out, want)
	}
	// The deployment keeps its status: only nodes lose theirs.
	var web map[string]any
	if err := json.Unmarshal(s.contents[pWeb], &web); err != nil {
		t.Fatal(err)
	}
	if _, ok := web["status"]; !ok {
		t.Errorf("the deployment lost its status")
	}

	// Events, Ark's own objects and the other namespace are never even read.
	for _, l := range e.lists() {
		switch l.gr {
		case "events", "events.events.k8s.io", "backups.ark.heptio.com", "bindings":
			t.Errorf("listed %s", l.gr)
		}
		if l.ns == "other" {
			t.Errorf("listed %s in namespace other", l.gr)
		}
	}

	wantKeys := []string{
		"backups/b1/b1-logs.gz",
		"backups/b1/b1-manifest.json",
		"backups/b1/b1-resource-list.json.gz",
		"backups/b1/b1-results.json.gz",
		"backups/b1/b1-volumesnapshots.json.gz",
		"backups/b1/b1.tar.gz",
	}
	if got := sortedKeys(s.files); !reflect.DeepEqual(got, wantKeys) {
		t.Errorf("bucket keys:\n got %q\nwant %q", got, wantKeys)
	}
	if s.results.Errors.Count != 0 || s.results.Warnings.Count != 0 {
		t.Errorf("results %+v, want none", s.results)
	}
	if len(s.snapshots) != 0 {
		t.Errorf("volume snapshots %v, want []", s.snapshots)
	}
	for _, want := range []string{
		"info starting backup ark/b1 of [app], requested by alice",
		"info backed up 6 items: 0 warnings, 0 errors",
	} {
		if !strings.Contains(s.log, want) {
			t.Errorf("log lacks %q:\n%s", want, s.log)
		}
	}
}

// 2. The manifest lists every file but itself, with the checksum and size of
// the bytes in the bucket.
func TestManifest(t *testing.T) {
	e := newEnv(t)
	s := e.run(t, newBackup("b1", appOnly))
	mustSucceed(t, s)
	if s.manifest.Version != 1 {
		t.Errorf("manifest version %d, want 1", s.manifest.Version)
	}
	want := []string{"b1-logs.gz", "b1-resource-list.json.gz", "b1-results.json.gz", "b1-volumesnapshots.json.gz", "b1.tar.gz"}
	if got := sortedKeys(s.manifest.Files); !reflect.DeepEqual(got, want) {
		t.Fatalf("manifest files %q, want %q", got, want)
	}
	for name, entry := range s.manifest.Files {
		data := s.files[backupstore.Home("b1").Dir()+name]
		sum := sha256.Sum256(data)
		if entry.SHA256 != hex.EncodeToString(sum[:]) {
			t.Errorf("%s: manifest sha256 %s, stored bytes have %x", name, entry.SHA256, sum)
		}
		if entry.Size != int64(len(data)) || entry.Size == 0 {
			t.Errorf("%s: manifest size %d, stored %d", name, entry.Size, len(data))
		}
	}
	// The manifest is plain JSON with the documented field names.
	var raw map[string]any
	if err := json.Unmarshal(s.files[backupstore.Home("b1").ManifestKey()], &raw); err != nil {
		t.Fatal(err)
	}
	tarEntry, _ := raw["files"].(map[string]any)["b1.tar.gz"].(map[string]any)
	if _, ok := tarEntry["sha256"].(string); !ok {
		t.Errorf("manifest entry lacks a sha256 string: %v", tarEntry)
	}
	if _, ok := tarEntry["size"].(float64); !ok {
		t.Errorf("manifest entry lacks a numeric size: %v", tarEntry)
	}
}

// 3. The resource list names every item by resource.
func TestResourceList(t *testing.T) {
	e := newEnv(t)
	s := e.run(t, newBackup("b1", appOnly))
	mustSucceed(t, s)
	want := map[string][]string{
		"configmaps":             {"app/cm1"},
		"deployments.apps":       {"app/web"},
		"namespaces":             {"app"},
		"persistentvolumeclaims": {"app/data"},
		"persistentvolumes":      {"pv-1"},
		"secrets":                {"app/s1"},
	}
	if !reflect.DeepEqual(s.resourceList, want) {
		t.Errorf("resource list:\n got %v\nwant %v", s.resourceList, want)
	}

	// Several items of one resource, and a backup with no items at all.
	s = e.run(t, newBackup("b2", nil))
	mustSucceed(t, s)
	if got := s.resourceList["configmaps"]; !reflect.DeepEqual(got, []string{"app/cm1", "other/cm2"}) {
		t.Errorf("configmaps %v", got)
	}
	if got := s.resourceList["persistentvolumes"]; !reflect.DeepEqual(got, []string{"pv-1", "pv-2"}) {
		t.Errorf("persistentvolumes %v", got)
	}
	s = e.run(t, newBackup("b3", func(sp *arkv1.BackupSpec) { sp.IncludedNamespaces = []string{"ghost"} }))
	mustSucceed(t, s)
	if len(s.resourceList) != 0 || s.resourceList == nil {
		t.Errorf("empty backup's resource list %#v, want {}", s.resourceList)
	}
}

// 4. Filters.
func TestFilters(t *testing.T) {
	appWeb := &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}
	cases := []struct {
		name     string
		spec     func(*arkv1.BackupSpec)
		want     []string
		warnings []string // messages in results.warnings.ark
	}{
		{
			name: "included resources by short name and group-qualified name",
			spec: func(sp *arkv1.BackupSpec) { appOnly(sp); sp.IncludedResources = []string{"cm", "deployments.apps"} },
			want: []string{pCM1, pWeb},
		},
		{
			name: "included resource by short name",
			spec: func(sp *arkv1.BackupSpec) { appOnly(sp); sp.IncludedResources = []string{"deploy"} },
			want: []string{pWeb},
		},
		{
			name: "included resources by kind and singular, any case",
			spec: func(sp *arkv1.BackupSpec) { appOnly(sp); sp.IncludedResources = []string{"ConfigMap", "SECRET"} },
			want: []string{pCM1, pS1},
		},
		{
			name: "included resource by singular with group",
			spec: func(sp *arkv1.BackupSpec) { appOnly(sp); sp.IncludedResources = []string{"deployment.apps"} },
			want: []string{pWeb},
		},
		{
			name: "excluded secrets and claims: no claim, so no volume",
			spec: func(sp *arkv1.BackupSpec) { appOnly(sp); sp.ExcludedResources = []string{"secrets", "pvc"} },
			want: []string{pCM1, pWeb, pNSApp},
		},
		{
			name: "excluded namespaces resource",
			spec: func(sp *arkv1.BackupSpec) { appOnly(sp); sp.ExcludedResources = []string{"ns"} },
			want: []string{pCM1, pWeb, pPVC, pPV1, pS1},
		},
		{
			name: "star included with an exclusion",
			spec: func(sp *arkv1.BackupSpec) {
				appOnly(sp)
				sp.IncludedResources = []string{"*"}
				sp.ExcludedResources = []string{"configmap"}
			},
			want: []string{pWeb, pNSApp, pPVC, pPV1, pS1},
		},
		{
			name:     "unknown included resource is a warning",
			spec:     func(sp *arkv1.BackupSpec) { appOnly(sp); sp.IncludedResources = []string{"widgets", "cm"} },
			want:     []string{pCM1},
			warnings: []string{`resource "widgets" is not served by this cluster`},
		},
		{
			name:     "unknown excluded resource is a warning",
			spec:     func(sp *arkv1.BackupSpec) { appOnly(sp); sp.ExcludedResources = []string{"gadgets"} },
			want:     namespaceAppItems,
			warnings: []string{`resource "gadgets" is not served by this cluster`},
		},
		{
			// Events are never backed up, so naming them is reported like a typo.
			name:     "events named explicitly",
			spec:     func(sp *arkv1.BackupSpec) { appOnly(sp); sp.IncludedResources = []string{"events"} },
			want:     nil,
			warnings: []string{`resource "events" is not served by this cluster`},
		},
		{
			// The namespace object is tied to the namespace, not selected by
			// labels; the claim has no label, so neither it nor its volume is in.
			name: "label selector in a namespace",
			spec: func(sp *arkv1.BackupSpec) { appOnly(sp); sp.LabelSelector = appWeb },
			want: []string{pCM1, pWeb, pNSApp},
		},
		{
			name: "label selector on the whole cluster applies to cluster resources too",
			spec: func(sp *arkv1.BackupSpec) { sp.LabelSelector = appWeb },
			want: []string{pCM1, pWeb, pNSApp, pNSOther, pPV2},
		},
		{
			name: "label selector with expressions",
			spec: func(sp *arkv1.BackupSpec) {
				sp.IncludedResources = []string{"cm"}
				sp.LabelSelector = &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
					{Key: "app", Operator: metav1.LabelSelectorOpNotIn, Values: []string{"web"}},
				}}
			},
			want: []string{pCM2},
		},
		{
			name: "all namespaces but other: cluster scope limited to namespaces and bound volumes",
			spec: func(sp *arkv1.BackupSpec) { sp.ExcludedNamespaces = []string{"other"} },
			want: []string{pCM1, pWeb, pNSApp, pPVC, pPV1, pS1},
		},
		{
			name: "whole cluster",
			spec: nil,
			want: wholeClusterItems,
		},
		{
			name: "star namespaces is the whole cluster",
			spec: func(sp *arkv1.BackupSpec) { sp.IncludedNamespaces = []string{"*"} },
			want: wholeClusterItems,
		},
		{
			name: "both namespaces listed is not the whole cluster",
			spec: func(sp *arkv1.BackupSpec) { sp.IncludedNamespaces = []string{"other", "app"} },
			want: []string{pCM1, pCM2, pWeb, pNSApp, pNSOther, pPVC, pPV1, pS1},
		},
		{
			name: "cluster resources excluded: only the namespace object",
			spec: func(sp *arkv1.BackupSpec) { appOnly(sp); sp.IncludeClusterResources = boolPtr(false) },
			want: []string{pCM1, pWeb, pNSApp, pPVC, pS1},
		},
		{
			name: "cluster resources excluded on the whole cluster",
			spec: func(sp *arkv1.BackupSpec) { sp.IncludeClusterResources = boolPtr(false) },
			want: []string{pCM1, pCM2, pWeb, pNSApp, pNSOther, pPVC, pS1},
		},
		{
			name: "cluster resources excluded beats naming them",
			spec: func(sp *arkv1.BackupSpec) {
				appOnly(sp)
				sp.IncludeClusterResources = boolPtr(false)
				sp.IncludedResources = []string{"nodes", "cm"}
			},
			want: []string{pCM1},
		},
		{
			name: "cluster resources included in a namespace backup: all of them, other namespace object not",
			spec: func(sp *arkv1.BackupSpec) { appOnly(sp); sp.IncludeClusterResources = boolPtr(true) },
			want: []string{pCM1, pWeb, pNSApp, pN1, pPVC, pPV1, pPV2, pS1},
		},
		{
			name: "a cluster resource named explicitly in a namespace backup",
			spec: func(sp *arkv1.BackupSpec) { appOnly(sp); sp.IncludedResources = []string{"no"} },
			want: []string{pN1},
		},
		{
			name: "volumes named explicitly are all included",
			spec: func(sp *arkv1.BackupSpec) { appOnly(sp); sp.IncludedResources = []string{"pvc", "pv"} },
			want: []string{pPVC, pPV1, pPV2},
		},
		{
			name: "a namespace that does not exist",
			spec: func(sp *arkv1.BackupSpec) { sp.IncludedNamespaces = []string{"ghost"} },
			want: nil,
		},
		{
			name: "a namespace both included and excluded",
			spec: func(sp *arkv1.BackupSpec) { appOnly(sp); sp.ExcludedNamespaces = []string{"app"} },
			want: nil,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			s := e.run(t, newBackup("f", tc.spec))
			mustSucceed(t, s)
			checkEntries(t, s, tc.want)
			want := Outcome{Items: len(tc.want), Warnings: len(tc.warnings)}
			if s.out != want {
				t.Errorf("outcome %+v, want %+v", s.out, want)
			}
			if !reflect.DeepEqual(s.results.Warnings.Ark, tc.warnings) || s.results.Warnings.Count != len(tc.warnings) {
				t.Errorf("warnings %+v, want %q", s.results.Warnings, tc.warnings)
			}
			if s.results.Errors.Count != 0 {
				t.Errorf("errors %+v", s.results.Errors)
			}
			if got, want := s.resourceList, resourceListOf(t, tc.want); !reflect.DeepEqual(got, want) {
				t.Errorf("resource list:\n got %v\nwant %v", got, want)
			}
		})
	}
}

// The label selector is sent to the server on namespaced lists (and cluster
// lists when the whole cluster is backed up), so unmatched items never travel.
func TestLabelSelectorIsSentToTheServer(t *testing.T) {
	e := newEnv(t)
	s := e.run(t, newBackup("b", func(sp *arkv1.BackupSpec) {
		sp.LabelSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}
	}))
	mustSucceed(t, s)
	seen := map[string]string{}
	for _, l := range e.lists() {
		seen[l.gr] = l.opts.LabelSelector
	}
	want := map[string]string{
		"configmaps": "app=web", "deployments.apps": "app=web", "persistentvolumeclaims": "app=web",
		"pods": "app=web", "secrets": "app=web", "nodes": "app=web", "persistentvolumes": "app=web",
		"namespaces": "",
	}
	if !reflect.DeepEqual(seen, want) {
		t.Errorf("selectors sent:\n got %v\nwant %v", seen, want)
	}
}

// A selector the API server would have refused must not widen the backup to
// everything: the backup fails instead.
func TestInvalidLabelSelectorFailsTheBackup(t *testing.T) {
	e := newEnv(t)
	s := e.run(t, newBackup("b", func(sp *arkv1.BackupSpec) {
		appOnly(sp)
		sp.LabelSelector = &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
			{Key: "app", Operator: "Bogus", Values: []string{"web"}},
		}}
	}))
	if s.err == nil {
		t.Fatalf("Run succeeded with an invalid label selector; outcome %+v", s.out)
	}
	if !strings.Contains(s.err.Error(), "label selector") {
		t.Errorf("error %q does not mention the label selector", s.err)
	}
	if len(s.files) != 0 {
		t.Errorf("bucket holds %v after a failed backup", sortedKeys(s.files))
	}
	if n := len(e.lists()); n != 0 {
		t.Errorf("%d lists sent for an invalid backup", n)
	}
}

// 5. The requester's rights. A resource the requester may not list and did
// not name is skipped with one warning for all of them, so an honest
// tenant's backup of "everything" in their namespace completes.
func TestRequesterDeniedSecrets(t *testing.T) {
	e := newEnv(t)
	e.access.deny = map[accessKey]string{{"secrets", "app"}: "RBAC: no rule allows it", {"deployments.apps", "app"}: "RBAC: no rule allows it"}
	s := e.run(t, newBackup("b1", appOnly))
	mustSucceed(t, s)
	checkEntries(t, s, []string{pCM1, pNSApp, pPVC, pPV1})
	if want := (Outcome{Items: 4, Warnings: 1}); s.out != want {
		t.Errorf("outcome %+v, want %+v", s.out, want)
	}
	msgs := s.results.Warnings.Namespaces["app"]
	if len(msgs) != 1 || s.results.Errors.Count != 0 {
		t.Fatalf("warnings %+v errors %+v, want one warning under namespace app", s.results.Warnings, s.results.Errors)
	}
	if want := "alice may not list these resources in namespace app, so they are not backed up: deployments.apps, secrets"; msgs[0] != want {
		t.Errorf("warning %q, want %q", msgs[0], want)
	}
	if !strings.Contains(s.log, msgs[0]) {
		t.Errorf("log lacks the warning:\n%s", s.log)
	}
	if _, ok := s.resourceList["secrets"]; ok {
		t.Errorf("resource list names secrets: %v", s.resourceList)
	}
	for _, l := range e.lists() {
		if l.gr == "secrets" {
			t.Errorf("secrets were listed although the requester may not")
		}
	}
}

// A resource the requester named but may not list is an error.
func TestRequesterDeniedNamedResource(t *testing.T) {
	e := newEnv(t)
	e.access.deny = map[accessKey]string{{"secrets", "app"}: "RBAC: no rule allows it"}
	s := e.run(t, newBackup("b1", func(s *arkv1.BackupSpec) {
		appOnly(s)
		s.IncludedResources = []string{"configmaps", "secrets"}
	}))
	mustSucceed(t, s)
	if s.out.Errors != 1 {
		t.Errorf("outcome %+v, want one error", s.out)
	}
	msgs := s.results.Errors.Namespaces["app"]
	if len(msgs) != 1 {
		t.Fatalf("errors %+v, want one under namespace app", s.results.Errors)
	}
	for _, want := range []string{"alice", "secrets", "namespace app", "RBAC: no rule allows it"} {
		if !strings.Contains(msgs[0], want) {
			t.Errorf("error %q does not mention %q", msgs[0], want)
		}
	}
}

func TestRequesterDeniedClusterWide(t *testing.T) {
	e := newEnv(t)
	e.access.deny = map[accessKey]string{{"secrets", ""}: "forbidden", {"nodes", ""}: "forbidden"}
	s := e.run(t, newBackup("b1", nil))
	mustSucceed(t, s)
	checkEntries(t, s, []string{pCM1, pCM2, pWeb, pNSApp, pNSOther, pPVC, pPV1, pPV2})
	if want := (Outcome{Items: 8, Warnings: 1}); s.out != want {
		t.Errorf("outcome %+v, want %+v", s.out, want)
	}
	if len(s.results.Warnings.Cluster) != 1 || s.results.Errors.Count != 0 {
		t.Fatalf("warnings %+v errors %+v, want one cluster warning", s.results.Warnings, s.results.Errors)
	}
	if !strings.Contains(s.results.Warnings.Cluster[0], "alice may not list these resources cluster-wide, so they are not backed up: nodes, secrets") {
		t.Errorf("cluster warning %q", s.results.Warnings.Cluster)
	}
}

// The namespace object and the claims' volumes come with a namespace backup
// without being asked for; a requester who may list only inside its
// namespace gets a warning for each, not an error: the backup is whole.
func TestNamespaceOnlyRequester(t *testing.T) {
	e := newEnv(t)
	e.access.deny = map[accessKey]string{
		{"namespaces", ""}: "forbidden", {"persistentvolumes", ""}: "forbidden", {"nodes", ""}: "forbidden",
	}
	s := e.run(t, newBackup("b1", appOnly))
	mustSucceed(t, s)
	checkEntries(t, s, []string{pCM1, pWeb, pPVC, pS1})
	if want := (Outcome{Items: 4, Warnings: 2}); s.out != want {
		t.Errorf("outcome %+v, want %+v", s.out, want)
	}
	want := []string{
		"alice may not list namespaces cluster-wide, so they are not backed up: forbidden",
		"alice may not list persistentvolumes cluster-wide, so they are not backed up: forbidden",
	}
	if !reflect.DeepEqual(s.results.Warnings.Cluster, want) {
		t.Errorf("cluster warnings %q, want %q", s.results.Warnings.Cluster, want)
	}
}

func TestAccessCheckFailureIsAnItemError(t *testing.T) {
	e := newEnv(t)
	e.access.fail = map[accessKey]error{{"configmaps", "app"}: errors.New("authorizer unavailable")}
	s := e.run(t, newBackup("b1", appOnly))
	mustSucceed(t, s)
	checkEntries(t, s, []string{pWeb, pNSApp, pPVC, pPV1, pS1})
	if want := (Outcome{Items: 5, Errors: 1}); s.out != want {
		t.Errorf("outcome %+v, want %+v", s.out, want)
	}
	if msgs := s.results.Errors.Namespaces["app"]; len(msgs) != 1 || !strings.Contains(msgs[0], "authorizer unavailable") {
		t.Errorf("errors %+v", s.results.Errors)
	}
}

// Every list is preceded by an allowed check of exactly that resource and
// namespace, as the requester.
func TestEveryListIsChecked(t *testing.T) {
	for _, spec := range []func(*arkv1.BackupSpec){appOnly, nil, func(sp *arkv1.BackupSpec) {
		sp.ExcludedNamespaces = []string{"other"}
	}} {
		e := newEnv(t)
		s := e.run(t, newBackup("b1", spec))
		mustSucceed(t, s)
		allowed := e.access.allowedCalls()
		lists := e.lists()
		if len(lists) == 0 {
			t.Fatal("nothing listed")
		}
		for _, l := range lists {
			if !allowed[accessKey{l.gr, l.ns}] {
				t.Errorf("listed %s in %q without an allowed check; checks: %v", l.gr, l.ns, e.access.calls)
			}
		}
		for _, c := range e.access.calls {
			if c.user != "alice" {
				t.Errorf("checked as %q, want alice", c.user)
			}
		}
	}
}

func TestNoRequesterNoBackup(t *testing.T) {
	e := newEnv(t)
	b := newBackup("b1", appOnly)
	b.Spec.Requester = nil
	called := false
	out, err := e.b.Run(context.Background(), b, func(int, int) { called = true })
	if err == nil || !strings.Contains(err.Error(), "requester") {
		t.Fatalf("Run error %v, want one about the missing requester", err)
	}
	if out != (Outcome{}) || called {
		t.Errorf("outcome %+v, progress called %v", out, called)
	}
	page, lerr := e.store.List(context.Background(), objectstore.ListOptions{})
	if lerr != nil {
		t.Fatal(lerr)
	}
	if len(page.Objects) != 0 || len(page.Prefixes) != 0 {
		t.Errorf("bucket holds %+v", page)
	}
	if len(e.lists()) != 0 || len(e.access.calls) != 0 {
		t.Errorf("the cluster was read: %v %v", e.lists(), e.access.calls)
	}
}

// 6. Progress.
func TestProgress(t *testing.T) {
	for _, tc := range []struct {
		name string
		spec func(*arkv1.BackupSpec)
	}{{"namespace", appOnly}, {"whole cluster", nil}, {"excluded namespace", func(sp *arkv1.BackupSpec) {
		sp.ExcludedNamespaces = []string{"app"}
	}}} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			s := e.run(t, newBackup("b1", tc.spec))
			mustSucceed(t, s)
			checkProgress(t, s, true)
		})
	}
}

func checkProgress(t *testing.T, s *stored, exactTotal bool) {
	t.Helper()
	if s.out.Items == 0 {
		t.Fatal("test needs items")
	}
	if len(s.progress) != s.out.Items {
		t.Fatalf("progress called %d times for %d items", len(s.progress), s.out.Items)
	}
	for i, p := range s.progress {
		if p.done != i+1 {
			t.Errorf("call %d: done %d, want %d", i, p.done, i+1)
		}
		if p.total < p.done {
			t.Errorf("call %d: total %d < done %d", i, p.total, p.done)
		}
	}
	last := s.progress[len(s.progress)-1]
	if last.done != s.out.Items {
		t.Errorf("last progress %+v, want done = %d", last, s.out.Items)
	}
	// Items the filters drop are taken off the estimate, so it ends exact
	// when the last item written comes after the last one dropped. (Drops
	// after the last write are never reported: the total then stays high,
	// and the caller publishes the outcome's count at the end.)
	if exactTotal && last.total != s.out.Items {
		t.Errorf("last progress %+v, want total = done = %d", last, s.out.Items)
	}
}

// 7. Paging. The fake dynamic client ignores Limit and Continue, so
// pageLists makes the recording wrapper page like an API server; these tests
// exercise the backup's continue loop against it.
func TestPaging(t *testing.T) {
	e := newEnv(t)
	e.pageLists(false)
	e.b.PageSize = 1
	s := e.run(t, newBackup("b1", nil))
	mustSucceed(t, s)
	checkEntries(t, s, wholeClusterItems)
	checkProgress(t, s, true)

	var cmConts []string
	for _, l := range e.lists() {
		if l.opts.Limit != 1 {
			t.Errorf("%s listed with limit %d, want 1", l.gr, l.opts.Limit)
		}
		if l.gr == "configmaps" {
			cmConts = append(cmConts, l.opts.Continue)
		}
	}
	if !reflect.DeepEqual(cmConts, []string{"", "page-1"}) {
		t.Errorf("configmap pages requested with continue tokens %q, want [\"\" \"page-1\"]", cmConts)
	}
}

func TestPagingWithFilters(t *testing.T) {
	for _, tc := range []struct {
		name       string
		selector   *metav1.LabelSelector
		want       []string
		exactTotal bool
	}{
		// Items of the excluded namespace arrive in pages and are dropped.
		{"excluded namespace", nil, []string{pCM1, pWeb, pNSApp, pPVC, pPV1, pS1}, true},
		// The namespace other is dropped after the last item is written.
		{"excluded namespace and selector", &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			[]string{pCM1, pWeb, pNSApp}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.pageLists(true)
			e.b.PageSize = 1
			s := e.run(t, newBackup("b1", func(sp *arkv1.BackupSpec) {
				sp.ExcludedNamespaces = []string{"other"}
				sp.LabelSelector = tc.selector
			}))
			mustSucceed(t, s)
			checkEntries(t, s, tc.want)
			checkProgress(t, s, tc.exactTotal)
		})
	}
}

// With the server's remaining-item count the total is known from the first
// page; without it the total grows page by page.
func TestPagingProgressEstimate(t *testing.T) {
	for _, tc := range []struct {
		remaining bool
		want      []progressCall
	}{
		{true, []progressCall{{2, 1}, {2, 2}}},
		{false, []progressCall{{1, 1}, {2, 2}}},
	} {
		e := newEnv(t)
		e.pageLists(tc.remaining)
		e.b.PageSize = 1
		s := e.run(t, newBackup("b1", func(sp *arkv1.BackupSpec) { sp.IncludedResources = []string{"cm"} }))
		mustSucceed(t, s)
		checkEntries(t, s, []string{pCM1, pCM2})
		if !reflect.DeepEqual(s.progress, tc.want) {
			t.Errorf("remaining=%v: progress %v, want %v", tc.remaining, s.progress, tc.want)
		}
	}
}

func TestPageSizeIsSent(t *testing.T) {
	for _, tc := range []struct {
		pageSize, want int64
	}{{0, DefaultPageSize}, {7, 7}} {
		e := newEnv(t)
		e.b.PageSize = tc.pageSize
		s := e.run(t, newBackup("b1", appOnly))
		mustSucceed(t, s)
		lists := e.lists()
		if len(lists) == 0 {
			t.Fatal("nothing listed")
		}
		for _, l := range lists {
			if l.opts.Limit != tc.want || l.opts.Continue != "" {
				t.Errorf("PageSize %d: %s listed with limit %d continue %q, want limit %d", tc.pageSize, l.gr, l.opts.Limit, l.opts.Continue, tc.want)
			}
		}
	}
}

// A failed list is an error for that resource, not for the backup.
func TestListFailureIsAnItemError(t *testing.T) {
	e := newEnv(t)
	e.dyn.PrependReactor("list", "deployments", func(action clienttesting.Action) (bool, runtime.Object, error) {
		return true, nil, errors.New("etcd timeout")
	})
	s := e.run(t, newBackup("b1", appOnly))
	mustSucceed(t, s)
	checkEntries(t, s, []string{pCM1, pNSApp, pPVC, pPV1, pS1})
	if want := (Outcome{Items: 5, Errors: 1}); s.out != want {
		t.Errorf("outcome %+v, want %+v", s.out, want)
	}
	if msgs := s.results.Errors.Namespaces["app"]; len(msgs) != 1 || !strings.Contains(msgs[0], "listing deployments.apps") || !strings.Contains(msgs[0], "etcd timeout") {
		t.Errorf("errors %+v", s.results.Errors)
	}
}

// 8. Bucket failures fail the backup and leave no partial upload behind.
func TestBucketFailures(t *testing.T) {
	const name = "b1"
	cases := []struct {
		name      string
		failOpen  string           // key whose NewWriter fails
		failAfter map[string]int64 // key -> bytes accepted before writes fail
		bigItem   bool             // add an incompressible item so the tarball streams mid-backup
		wantMsg   string           // the error names the step that failed
		// committed lists the files of this backup that remain, because they
		// were committed before the failure.
		committed []string
		// maybe lists files that may or may not have been committed.
		maybe []string
	}{
		{name: "tarball cannot be opened", failOpen: backupstore.Home(name).TarballKey(), wantMsg: "opening backups/b1/b1.tar.gz"},
		{name: "log cannot be opened", failOpen: backupstore.Home(name).LogsKey(), wantMsg: "opening backups/b1/b1-logs.gz"},
		{name: "resource list cannot be opened", failOpen: backupstore.Home(name).ResourceListKey(), wantMsg: "opening backups/b1/b1-resource-list.json.gz"},
		{name: "tarball rejects the first write", failAfter: map[string]int64{backupstore.Home(name).TarballKey(): 0}, wantMsg: "writing tar header metadata/version"},
		{name: "tarball fails when flushed at the end", failAfter: map[string]int64{backupstore.Home(name).TarballKey(): 10}, wantMsg: "finishing backups/b1/b1.tar.gz"},
		// Blocks are compressed and uploaded by goroutines while the next
		// entries are written, so the failure surfaces at a later write or
		// when the tarball is finished: which one depends on timing.
		{name: "tarball fails mid-backup", failAfter: map[string]int64{backupstore.Home(name).TarballKey(): 4096}, bigItem: true},
		// This error comes back bare: it does not name the resource list.
		{name: "resource list fails at its first write", failAfter: map[string]int64{backupstore.Home(name).ResourceListKey(): 5}},
		// The remaining cases fail after some files were committed. Those
		// files stay (there is no manifest, so no restore trusts them); this
		// documents the current behaviour.
		{
			name: "resource list fails at the end", failAfter: map[string]int64{backupstore.Home(name).ResourceListKey(): 10}, wantMsg: "finishing backups/b1/b1-resource-list.json.gz",
			committed: []string{backupstore.Home(name).TarballKey()},
		},
		{
			name: "log fails at the end", failAfter: map[string]int64{backupstore.Home(name).LogsKey(): 20}, wantMsg: "finishing backups/b1/b1-logs.gz",
			committed: []string{backupstore.Home(name).TarballKey(), backupstore.Home(name).ResourceListKey()},
		},
		{
			name: "results cannot be opened", failOpen: backupstore.Home(name).ResultsKey(), wantMsg: "opening backups/b1/b1-results.json.gz",
			committed: []string{backupstore.Home(name).TarballKey(), backupstore.Home(name).ResourceListKey(), backupstore.Home(name).LogsKey()},
			// Run uploads the results and the volume snapshots in map order.
			maybe: []string{backupstore.Home(name).VolumeSnapshotsKey()},
		},
		{
			name: "volume snapshots cannot be opened", failOpen: backupstore.Home(name).VolumeSnapshotsKey(), wantMsg: "opening backups/b1/b1-volumesnapshots.json.gz",
			committed: []string{backupstore.Home(name).TarballKey(), backupstore.Home(name).ResourceListKey(), backupstore.Home(name).LogsKey()},
			maybe:     []string{backupstore.Home(name).ResultsKey()},
		},
		{
			name: "manifest cannot be opened", failOpen: backupstore.Home(name).ManifestKey(), wantMsg: "uploading the manifest",
			committed: []string{backupstore.Home(name).TarballKey(), backupstore.Home(name).ResourceListKey(), backupstore.Home(name).LogsKey(),
				backupstore.Home(name).ResultsKey(), backupstore.Home(name).VolumeSnapshotsKey()},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			if tc.bigItem {
				addBigConfigMap(t, e)
			}
			ctx := context.Background()
			// Another backup already in the bucket must survive untouched.
			existing := map[string][]byte{"backups/old/old.tar.gz": []byte("old tarball"), "backups/old/ark-backup.json": []byte("{}")}
			for k, v := range existing {
				if _, err := objectstore.PutBytes(ctx, e.store, k, v, objectstore.Conditions{}); err != nil {
					t.Fatal(err)
				}
			}
			fs := &faultyStore{Store: e.store, failAfter: tc.failAfter}
			if tc.failOpen != "" {
				fs.failOpen = func(key string) bool { return key == tc.failOpen }
			}
			e.b.Store = fs
			_, err := e.b.Run(ctx, newBackup(name, appOnly), nil)
			if !errors.Is(err, errInjected) {
				t.Fatalf("Run error %v, want the injected failure", err)
			}
			if !strings.Contains(err.Error(), tc.wantMsg) {
				t.Errorf("Run error %q does not contain %q", err, tc.wantMsg)
			}
			files := bucketFiles(t, e.store)
			want := map[string]bool{}
			for k := range existing {
				want[k] = true
				if string(files[k]) != string(existing[k]) {
					t.Errorf("%s changed", k)
				}
			}
			for _, k := range tc.committed {
				want[k] = true
			}
			for _, k := range tc.maybe {
				if _, ok := files[k]; ok {
					want[k] = true
				}
			}
			if got := sortedKeys(files); !reflect.DeepEqual(got, sortedKeys(want)) {
				t.Errorf("bucket after the failure:\n got %q\nwant %q", got, sortedKeys(want))
			}
			if _, ok := files[backupstore.Home(name).ManifestKey()]; ok {
				t.Errorf("a failed backup has a manifest")
			}
			// Every upload was either committed or aborted: none is left open.
			for _, w := range fs.writers {
				if w.committed == w.aborted {
					t.Errorf("%s: committed %v, aborted %v", w.key, w.committed, w.aborted)
				}
			}
		})
	}
}

func TestCancelledContext(t *testing.T) {
	e := newEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := e.b.Run(ctx, newBackup("b1", appOnly), nil)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Run error %v, want context.Canceled", err)
	}
	if files := bucketFiles(t, e.store); len(files) != 0 {
		t.Errorf("bucket holds %v", sortedKeys(files))
	}
}

func TestDiscoveryFailures(t *testing.T) {
	partial := &discovery.ErrGroupDiscoveryFailed{Groups: map[schema.GroupVersion]error{
		{Group: "metrics.k8s.io", Version: "v1beta1"}: errors.New("service unavailable"),
	}}

	t.Run("partial", func(t *testing.T) {
		e := newEnv(t)
		e.disc.err = partial
		s := e.run(t, newBackup("b1", appOnly))
		mustSucceed(t, s)
		checkEntries(t, s, namespaceAppItems)
		if want := (Outcome{Items: 6, Warnings: 1}); s.out != want {
			t.Errorf("outcome %+v, want %+v", s.out, want)
		}
		if w := s.results.Warnings.Ark; len(w) != 1 || !strings.Contains(w[0], "metrics.k8s.io/v1beta1") {
			t.Errorf("warnings %+v", s.results.Warnings)
		}
	})
	t.Run("total", func(t *testing.T) {
		e := newEnv(t)
		e.disc.lists, e.disc.err = nil, errors.New("connection refused")
		s := e.run(t, newBackup("b1", appOnly))
		if s.err == nil || !strings.Contains(s.err.Error(), "connection refused") {
			t.Fatalf("Run error %v, want the discovery failure", s.err)
		}
		if len(s.files) != 0 {
			t.Errorf("bucket holds %v", sortedKeys(s.files))
		}
	})
}

// An object whose name cannot be a tar path is an error, not a path escape.
func TestUnsafeItemName(t *testing.T) {
	e := newEnv(t)
	evil := object("v1", "ConfigMap", "app", "..", nil, nil)
	if err := e.dyn.Tracker().Add(evil); err != nil {
		t.Fatal(err)
	}
	s := e.run(t, newBackup("b1", func(sp *arkv1.BackupSpec) { appOnly(sp); sp.IncludedResources = []string{"cm"} }))
	mustSucceed(t, s)
	checkEntries(t, s, []string{pCM1})
	if want := (Outcome{Items: 1, Errors: 1}); s.out != want {
		t.Errorf("outcome %+v, want %+v", s.out, want)
	}
	if msgs := s.results.Errors.Namespaces["app"]; len(msgs) != 1 || !strings.Contains(msgs[0], "unsafe name") {
		t.Errorf("errors %+v", s.results.Errors)
	}
	if !reflect.DeepEqual(s.resourceList, map[string][]string{"configmaps": {"app/cm1"}}) {
		t.Errorf("resource list %v", s.resourceList)
	}
}

// Names too long for a plain tar header survive the round trip.
func TestLongNames(t *testing.T) {
	e := newEnv(t)
	long := strings.Repeat("a", 250)
	if err := e.dyn.Tracker().Add(object("v1", "ConfigMap", "app", long, nil, nil)); err != nil {
		t.Fatal(err)
	}
	s := e.run(t, newBackup("b1", func(sp *arkv1.BackupSpec) { appOnly(sp); sp.IncludedResources = []string{"cm"} }))
	mustSucceed(t, s)
	want := "resources/configmaps/namespaces/app/" + long + ".json"
	if !reflect.DeepEqual(s.entries, []string{versionEntry, want, pCM1}) {
		t.Fatalf("entries %q", s.entries)
	}
	checkHeader(t, s.headers[want], int64(len(s.contents[want])))
	var obj map[string]any
	if err := json.Unmarshal(s.contents[want], &obj); err != nil {
		t.Fatal(err)
	}
	if obj["metadata"].(map[string]any)["name"] != long {
		t.Errorf("wrong object under the long name")
	}
}

// addBigConfigMap adds an incompressible configmap, big enough (more than
// one of pgzip's 1 MiB blocks) that the gzip stream of the tarball reaches
// the bucket before the backup ends.
func addBigConfigMap(t *testing.T, e *env) {
	t.Helper()
	buf := make([]byte, 768<<10)
	if _, err := rand.Read(buf); err != nil {
		t.Fatal(err)
	}
	big := object("v1", "ConfigMap", "app", "big", nil, map[string]any{"data": map[string]any{"blob": hex.EncodeToString(buf)}})
	if err := e.dyn.Tracker().Add(big); err != nil {
		t.Fatal(err)
	}
}
