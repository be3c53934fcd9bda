package restore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	clienttesting "k8s.io/client-go/testing"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
	"github.com/arkproject/ark/pkg/backupstore"
	"github.com/arkproject/ark/pkg/objectstore"
	"github.com/arkproject/ark/pkg/restore/archive"
)

// ---- 1. order ----

func TestRunCreatesInPriorityOrder(t *testing.T) {
	f := newFixture(t)
	items := []bItem{
		// Deliberately not in restore order.
		widget("abc", "w1"),
		service("abc", "svc", map[string]any{"ports": []any{map[string]any{"port": int64(80)}}}),
		roleBinding("abc", "rb", subject("ServiceAccount", "abc", "sa1")),
		job("abc", "job1", map[string]any{"active": int64(1)}),
		deployment("abc", "web"),
		clusterRoleBinding("crb", subject("ServiceAccount", "abc", "sa1")),
		replicaSet("abc", "rs1"),
		pod("abc", "p1", "Running"),
		serviceAccount("abc", "sa1"),
		configMap("abc", "cm1"),
		configMap("abc", "cm2"),
		secret("abc", "s1"),
		pvc("abc", "data", "pv-1"),
		pv("pv-1", "abc", "data"),
		storageClass("fast"),
		namespaceItem("abc"),
		widgetCRD(),
	}
	f.backup(items...)
	out := f.run(newRestore())

	var kinds []string
	for _, c := range f.createCalls() {
		if c.err != nil {
			t.Errorf("create %s failed: %v", c.key(), c.err)
		}
		k := groupResource(c.gvr)
		if len(kinds) == 0 || kinds[len(kinds)-1] != k {
			kinds = append(kinds, k)
		}
	}
	// Each resource is one contiguous run of creates, in this order.
	equalStrings(t, "resources in create order", kinds, []string{
		"customresourcedefinitions.apiextensions.k8s.io",
		"namespaces",
		"storageclasses.storage.k8s.io",
		"persistentvolumes",
		"persistentvolumeclaims",
		"secrets",
		"configmaps",
		"serviceaccounts",
		"pods",
		"replicasets.apps",
		"clusterrolebindings.rbac.authorization.k8s.io",
		"deployments.apps",
		"jobs.batch",
		"rolebindings.rbac.authorization.k8s.io",
		"services",
		"widgets.example.com",
	})
	if len(f.createCalls()) != len(items) {
		t.Errorf("%d creates, want one per item (%d): %v", len(f.createCalls()), len(items), f.createdKeys())
	}
	if want := (Outcome{Summary: Summary{Created: len(items)}, Items: len(items)}); out != want {
		t.Errorf("outcome = %+v, want %+v", out, want)
	}
	doc := f.results(testRestore)
	checkSummary(t, doc, out)
	// The custom resource was restored because the cluster was asked again
	// what it serves once the definition existed.
	doc.want(t, "widgets.example.com", "abc", "w1", ActionCreated)
	if f.get("widgets.example.com", "abc", "w1") == nil {
		t.Error("widget abc/w1 is not in the cluster")
	}
}

func TestOrdered(t *testing.T) {
	got := ordered([]string{"services", "zebras.example.com", "pods", "limitranges", "namespaces", "apples.example.com",
		"replicasets.apps", "customresourcedefinitions.apiextensions.k8s.io", "secrets", "configmaps",
		"persistentvolumeclaims", "persistentvolumes", "storageclasses.storage.k8s.io", "serviceaccounts"})
	equalStrings(t, "ordered", got, []string{
		"customresourcedefinitions.apiextensions.k8s.io", "namespaces", "storageclasses.storage.k8s.io",
		"persistentvolumes", "persistentvolumeclaims", "secrets", "configmaps", "serviceaccounts", "limitranges",
		"pods", "replicasets.apps", "apples.example.com", "services", "zebras.example.com",
	})
}

// ---- 2. shaping ----

func TestRunShapesObjects(t *testing.T) {
	f := newFixture(t)
	f.backup(
		namespaceItem("abc"),
		withLabels(configMap("abc", "cm"), map[string]string{"app": "web"}),
		deployment("abc", "web"),
		service("abc", "svc-ip", map[string]any{
			"type": "NodePort", "clusterIP": "10.0.0.5", "clusterIPs": []any{"10.0.0.5"},
			"ports":               []any{map[string]any{"name": "http", "port": int64(80), "nodePort": int64(30080)}, map[string]any{"name": "https", "port": int64(443), "nodePort": int64(30443)}},
			"healthCheckNodePort": int64(31000),
		}),
		service("abc", "svc-headless", map[string]any{"clusterIP": "None", "clusterIPs": []any{"None"}, "ports": []any{map[string]any{"port": int64(80)}}}),
		withAnnotations(service("abc", "svc-keep", map[string]any{
			"type": "NodePort", "clusterIP": "10.0.0.6", "clusterIPs": []any{"10.0.0.6"},
			"ports": []any{map[string]any{"port": int64(80), "nodePort": int64(30081)}},
		}), map[string]string{PreserveNodePortsAnnotation: "true"}),
		withField(withField(serviceAccount("abc", "sa"),
			[]any{map[string]any{"name": "sa-token-x"}}, "secrets"),
			[]any{map[string]any{"name": "registry"}}, "imagePullSecrets"),
		withAnnotations(pvc("abc", "data", "pv-1"), map[string]string{
			"pv.kubernetes.io/bind-completed":      "yes",
			"pv.kubernetes.io/bound-by-controller": "yes",
			"keep":                                 "me",
		}),
	)
	out := f.run(newRestore())
	if want := (Outcome{Summary: Summary{Created: 8}, Items: 8}); out != want {
		t.Fatalf("outcome = %+v, want %+v", out, want)
	}
	for _, it := range f.results(testRestore).Items {
		if it.Reason != "" || it.Note != "" {
			t.Errorf("result %+v, want neither reason nor note", it)
		}
	}

	for _, c := range f.createCalls() {
		o := c.obj
		for _, field := range []string{"uid", "resourceVersion", "creationTimestamp", "managedFields", "generation", "selfLink"} {
			if _, ok, _ := unstructured.NestedFieldNoCopy(o.Object, "metadata", field); ok {
				t.Errorf("%s was created with metadata.%s", c.key(), field)
			}
		}
		if _, ok := o.Object["status"]; ok {
			t.Errorf("%s was created with a status: %v", c.key(), o.Object["status"])
		}
		if got := o.GetLabels()[arkv1.LabelRestoreName]; got != testRestore {
			t.Errorf("%s: label %s = %q, want %q", c.key(), arkv1.LabelRestoreName, got, testRestore)
		}
		if got := o.GetLabels()[arkv1.LabelBackupName]; got != testBackup {
			t.Errorf("%s: label %s = %q, want %q", c.key(), arkv1.LabelBackupName, got, testBackup)
		}
		if c.opts.FieldManager != "ark-restore" {
			t.Errorf("%s: field manager = %q, want ark-restore", c.key(), c.opts.FieldManager)
		}
	}

	cm := f.sent("configmaps abc/cm")
	if want := map[string]string{"app": "web", arkv1.LabelRestoreName: testRestore, arkv1.LabelBackupName: testBackup}; !reflect.DeepEqual(cm.GetLabels(), want) {
		t.Errorf("configmap labels = %v, want %v", cm.GetLabels(), want)
	}
	if v, _, _ := unstructured.NestedString(cm.Object, "data", "key"); v != "backed-up cm" {
		t.Errorf("configmap data.key = %q, want the backed-up value", v)
	}
	if r, _, _ := unstructured.NestedFieldNoCopy(f.sent("deployments.apps abc/web").Object, "spec", "replicas"); !jsonEqual(r, 2) {
		t.Errorf("deployment spec.replicas = %v, want 2", r)
	}

	svc := f.sent("services abc/svc-ip")
	for _, field := range []string{"clusterIP", "clusterIPs", "healthCheckNodePort"} {
		if _, ok, _ := unstructured.NestedFieldNoCopy(svc.Object, "spec", field); ok {
			t.Errorf("service svc-ip kept spec.%s", field)
		}
	}
	ports, _, _ := unstructured.NestedSlice(svc.Object, "spec", "ports")
	wantPorts := []any{map[string]any{"name": "http", "port": int64(80)}, map[string]any{"name": "https", "port": int64(443)}}
	if !jsonEqual(ports, wantPorts) {
		t.Errorf("service svc-ip ports = %v, want %v", ports, wantPorts)
	}
	if typ, _, _ := unstructured.NestedString(svc.Object, "spec", "type"); typ != "NodePort" {
		t.Errorf("service svc-ip type = %q, want NodePort", typ)
	}

	headless := f.sent("services abc/svc-headless")
	if ip, _, _ := unstructured.NestedString(headless.Object, "spec", "clusterIP"); ip != "None" {
		t.Errorf("headless service clusterIP = %q, want None", ip)
	}
	if ips, _, _ := unstructured.NestedStringSlice(headless.Object, "spec", "clusterIPs"); !reflect.DeepEqual(ips, []string{"None"}) {
		t.Errorf("headless service clusterIPs = %v, want [None]", ips)
	}

	keep := f.sent("services abc/svc-keep")
	if _, ok, _ := unstructured.NestedFieldNoCopy(keep.Object, "spec", "clusterIP"); ok {
		t.Error("service svc-keep kept its clusterIP")
	}
	ports, _, _ = unstructured.NestedSlice(keep.Object, "spec", "ports")
	if want := []any{map[string]any{"port": int64(80), "nodePort": int64(30081)}}; !jsonEqual(ports, want) {
		t.Errorf("service svc-keep ports = %v, want %v (node ports preserved)", ports, want)
	}

	sa := f.sent("serviceaccounts abc/sa")
	if _, ok := sa.Object["secrets"]; ok {
		t.Errorf("service account kept its secrets: %v", sa.Object["secrets"])
	}
	if ips, _, _ := unstructured.NestedSlice(sa.Object, "imagePullSecrets"); len(ips) != 1 {
		t.Errorf("service account imagePullSecrets = %v, want them kept", ips)
	}

	claim := f.sent("persistentvolumeclaims abc/data")
	if want := map[string]string{"keep": "me"}; !reflect.DeepEqual(claim.GetAnnotations(), want) {
		t.Errorf("claim annotations = %v, want %v", claim.GetAnnotations(), want)
	}
	if v, _, _ := unstructured.NestedString(claim.Object, "spec", "volumeName"); v != "pv-1" {
		t.Errorf("claim volumeName = %q, want pv-1", v)
	}

	ns := f.sent("namespaces abc")
	if _, ok, _ := unstructured.NestedFieldNoCopy(ns.Object, "spec", "finalizers"); ok {
		t.Error("namespace kept spec.finalizers")
	}
}

// TestRunPreserveNodePorts: spec.preserveNodePorts keeps the node ports of
// every Service, annotated or not, while cluster IPs are still dropped.
func TestRunPreserveNodePorts(t *testing.T) {
	for _, tc := range []struct {
		name     string
		preserve *bool
		wantKept bool
	}{
		{"unset", nil, false},
		{"false", ptr(false), false},
		{"true", ptr(true), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			f.backup(
				namespaceItem("abc"),
				service("abc", "svc", map[string]any{
					"type": "LoadBalancer", "clusterIP": "10.0.0.5", "clusterIPs": []any{"10.0.0.5"},
					"externalTrafficPolicy": "Local",
					"ports":                 []any{map[string]any{"port": int64(80), "nodePort": int64(30080)}},
					"healthCheckNodePort":   int64(31000),
				}),
			)
			f.run(newRestore(func(r *arkv1.Restore) { r.Spec.PreserveNodePorts = tc.preserve }))

			svc := f.sent("services abc/svc")
			if _, ok, _ := unstructured.NestedFieldNoCopy(svc.Object, "spec", "clusterIP"); ok {
				t.Error("service kept its clusterIP")
			}
			ports, _, _ := unstructured.NestedSlice(svc.Object, "spec", "ports")
			hc, hcKept, _ := unstructured.NestedFieldNoCopy(svc.Object, "spec", "healthCheckNodePort")
			wantPorts := []any{map[string]any{"port": int64(80)}}
			if tc.wantKept {
				wantPorts = []any{map[string]any{"port": int64(80), "nodePort": int64(30080)}}
				if !jsonEqual(hc, 31000) {
					t.Errorf("healthCheckNodePort = %v, want 31000", hc)
				}
			} else if hcKept {
				t.Errorf("healthCheckNodePort = %v, want it dropped", hc)
			}
			if !jsonEqual(ports, wantPorts) {
				t.Errorf("ports = %v, want %v", ports, wantPorts)
			}
		})
	}
}

// ---- 3. namespace mapping ----

func TestRunNamespaceMapping(t *testing.T) {
	f := newFixture(t)
	f.backup(
		namespaceItem("abc"), // no namespace object for 123
		configMap("abc", "cm"),
		configMap("123", "cm"),
		configMap("other", "cm3"),
		secret("123", "s"),
		pvc("abc", "data", "pv-1"),
		pv("pv-1", "abc", "data"),
		roleBinding("abc", "rb",
			subject("ServiceAccount", "abc", "sa"),
			subject("User", "", "alice"),
			subject("ServiceAccount", "123", "robot")),
		clusterRoleBinding("crb",
			subject("ServiceAccount", "abc", "sa"),
			subject("ServiceAccount", "123", "x"),
			subject("ServiceAccount", "other", "y"),
			subject("Group", "", "devs")),
	)
	out := f.run(newRestore(func(r *arkv1.Restore) {
		r.Spec.NamespaceMapping = map[string]string{"abc": "def", "123": "456"}
	}))

	equalStrings(t, "created", sortedCopy(f.createdKeys()), sortedCopy([]string{
		"namespaces def", "namespaces 456", "namespaces other",
		"configmaps def/cm", "configmaps 456/cm", "configmaps other/cm3",
		"secrets 456/s",
		"persistentvolumeclaims def/data",
		"persistentvolumes pv-1",
		"rolebindings.rbac.authorization.k8s.io def/rb",
		"clusterrolebindings.rbac.authorization.k8s.io crb",
	}))
	for _, c := range f.createCalls() {
		if c.ns == "abc" || c.ns == "123" || c.obj.GetNamespace() == "abc" || c.obj.GetNamespace() == "123" {
			t.Errorf("%s was created in a source namespace", c.key())
		}
		if c.gvr.Resource == "namespaces" && (c.obj.GetName() == "abc" || c.obj.GetName() == "123") {
			t.Errorf("source namespace %s was created", c.obj.GetName())
		}
	}
	if f.get("namespaces", "", "abc") != nil || f.get("namespaces", "", "123") != nil {
		t.Error("a source namespace exists in the cluster")
	}
	for _, k := range []struct{ ns, name string }{{"def", "cm"}, {"456", "cm"}} {
		cm := f.get("configmaps", k.ns, k.name)
		if cm == nil {
			t.Errorf("configmap %s/%s is not in the cluster", k.ns, k.name)
			continue
		}
		if cm.GetNamespace() != k.ns {
			t.Errorf("configmap %s/%s has metadata.namespace %q", k.ns, k.name, cm.GetNamespace())
		}
	}

	// The backed-up namespace object lands under its target name, with its
	// labels; the namespace with no object in the backup is made.
	if ns := f.sent("namespaces def"); ns.GetLabels()[arkv1.LabelRestoreName] != testRestore {
		t.Errorf("namespace def labels = %v", ns.GetLabels())
	}
	made := f.get("namespaces", "", "456")
	if made == nil {
		t.Fatal("target namespace 456 was not created")
	}
	if made.GetLabels()[arkv1.LabelRestoreName] != testRestore || made.GetLabels()[arkv1.LabelBackupName] != testBackup {
		t.Errorf("namespace 456 labels = %v, want the restore and backup labels", made.GetLabels())
	}

	vol := f.sent("persistentvolumes pv-1")
	claimRef, _, _ := unstructured.NestedMap(vol.Object, "spec", "claimRef")
	if want := map[string]any{"kind": "PersistentVolumeClaim", "namespace": "def", "name": "data"}; !reflect.DeepEqual(claimRef, want) {
		t.Errorf("pv claimRef = %v, want %v", claimRef, want)
	}

	rb := f.sent("rolebindings.rbac.authorization.k8s.io def/rb")
	subs, _, _ := unstructured.NestedSlice(rb.Object, "subjects")
	wantSubs := []any{subject("ServiceAccount", "def", "sa"), subject("User", "", "alice"), subject("ServiceAccount", "456", "robot")}
	if !reflect.DeepEqual(subs, wantSubs) {
		t.Errorf("rolebinding subjects = %v, want %v", subs, wantSubs)
	}
	crb := f.sent("clusterrolebindings.rbac.authorization.k8s.io crb")
	subs, _, _ = unstructured.NestedSlice(crb.Object, "subjects")
	wantSubs = []any{subject("ServiceAccount", "def", "sa"), subject("ServiceAccount", "456", "x"), subject("ServiceAccount", "other", "y"), subject("Group", "", "devs")}
	if !reflect.DeepEqual(subs, wantSubs) {
		t.Errorf("clusterrolebinding subjects = %v, want %v", subs, wantSubs)
	}

	doc := f.results(testRestore)
	checkSummary(t, doc, out)
	if it := doc.want(t, "configmaps", "def", "cm", ActionCreated); it != nil && it.SourceNamespace != "abc" {
		t.Errorf("configmaps def/cm sourceNamespace = %q, want abc", it.SourceNamespace)
	}
	if it := doc.want(t, "configmaps", "456", "cm", ActionCreated); it != nil && it.SourceNamespace != "123" {
		t.Errorf("configmaps 456/cm sourceNamespace = %q, want 123", it.SourceNamespace)
	}
	if it := doc.want(t, "configmaps", "other", "cm3", ActionCreated); it != nil && it.SourceNamespace != "" {
		t.Errorf("unmapped configmaps other/cm3 sourceNamespace = %q, want none", it.SourceNamespace)
	}
	doc.want(t, "namespaces", "", "def", ActionCreated)
	doc.want(t, "persistentvolumes", "", "pv-1", ActionCreated)
	if len(doc.Items) != 9 || out.Items != 9 {
		t.Errorf("%d results, Outcome.Items = %d, want 9 (one per backed-up item): %v", len(doc.Items), out.Items, doc.keys())
	}
}

// ---- 4. filters ----

func filterBackup() []bItem {
	return []bItem{
		namespaceItem("abc"), namespaceItem("xyz"),
		configMap("abc", "cm"), configMap("xyz", "cm"),
		deployment("abc", "web"), deployment("xyz", "web"),
		secret("abc", "s"),
	}
}

func TestRunNamespaceFilters(t *testing.T) {
	cases := []struct {
		name string
		mod  func(*arkv1.Restore)
		want []string
	}{
		{"included", func(r *arkv1.Restore) { r.Spec.IncludedNamespaces = []string{"abc"} },
			[]string{"configmaps abc/cm", "deployments.apps abc/web", "namespaces abc", "secrets abc/s"}},
		{"excluded", func(r *arkv1.Restore) { r.Spec.ExcludedNamespaces = []string{"abc"} },
			[]string{"configmaps xyz/cm", "deployments.apps xyz/web", "namespaces xyz"}},
		{"excluded wins over included", func(r *arkv1.Restore) {
			r.Spec.IncludedNamespaces = []string{"abc", "xyz"}
			r.Spec.ExcludedNamespaces = []string{"xyz"}
		}, []string{"configmaps abc/cm", "deployments.apps abc/web", "namespaces abc", "secrets abc/s"}},
		{"star", func(r *arkv1.Restore) { r.Spec.IncludedNamespaces = []string{"*"} },
			[]string{"configmaps abc/cm", "configmaps xyz/cm", "deployments.apps abc/web", "deployments.apps xyz/web", "namespaces abc", "namespaces xyz", "secrets abc/s"}},
		{"source namespace, mapped", func(r *arkv1.Restore) {
			r.Spec.IncludedNamespaces = []string{"abc"}
			r.Spec.NamespaceMapping = map[string]string{"abc": "def"}
		}, []string{"configmaps def/cm", "deployments.apps def/web", "namespaces def", "secrets def/s"}},
		{"target namespace does not select", func(r *arkv1.Restore) {
			r.Spec.IncludedNamespaces = []string{"def"}
			r.Spec.NamespaceMapping = map[string]string{"abc": "def"}
		}, nil},
		{"excluded source, mapped", func(r *arkv1.Restore) {
			r.Spec.ExcludedNamespaces = []string{"abc"}
			r.Spec.NamespaceMapping = map[string]string{"abc": "def", "xyz": "uvw"}
		}, []string{"configmaps uvw/cm", "deployments.apps uvw/web", "namespaces uvw"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			f.backup(filterBackup()...)
			out := f.run(newRestore(tc.mod))
			equalStrings(t, "created", sortedCopy(f.createdKeys()), tc.want)
			doc := f.results(testRestore)
			checkSummary(t, doc, out)
			var wantResults []string
			for _, k := range tc.want {
				wantResults = append(wantResults, k+" created")
			}
			equalStrings(t, "results", doc.keys(), wantResults)
		})
	}
}

func TestRunResourceFilters(t *testing.T) {
	cases := []struct {
		name     string
		inc, exc []string
		// created lists what the restore created, results what it reports
		// (a namespace it had to make is not an item of the backup).
		created, results []string
	}{
		{name: "included configmaps", inc: []string{"configmaps"},
			created: []string{"configmaps abc/cm", "namespaces abc"},
			results: []string{"configmaps abc/cm created"}},
		{name: "excluded configmaps", exc: []string{"configmaps"},
			created: []string{"deployments.apps abc/web", "namespaces abc", "secrets abc/s"},
			results: []string{"deployments.apps abc/web created", "namespaces abc created", "secrets abc/s created"}},
		{name: "included deployments.apps", inc: []string{"deployments.apps"},
			created: []string{"deployments.apps abc/web", "namespaces abc"},
			results: []string{"deployments.apps abc/web created"}},
		{name: "included deployments", inc: []string{"deployments"},
			created: []string{"deployments.apps abc/web", "namespaces abc"},
			results: []string{"deployments.apps abc/web created"}},
		{name: "excluded deployments", exc: []string{"deployments"},
			created: []string{"configmaps abc/cm", "namespaces abc", "secrets abc/s"},
			results: []string{"configmaps abc/cm created", "namespaces abc created", "secrets abc/s created"}},
		{name: "excluded deployments.apps", exc: []string{"deployments.apps"},
			created: []string{"configmaps abc/cm", "namespaces abc", "secrets abc/s"},
			results: []string{"configmaps abc/cm created", "namespaces abc created", "secrets abc/s created"}},
		{name: "excluded wins over included", inc: []string{"configmaps", "deployments.apps"}, exc: []string{"configmaps"},
			created: []string{"deployments.apps abc/web", "namespaces abc"},
			results: []string{"deployments.apps abc/web created"}},
		// The other names kubectl accepts: short names, singular, kind.
		{name: "included cm", inc: []string{"cm"},
			created: []string{"configmaps abc/cm", "namespaces abc"},
			results: []string{"configmaps abc/cm created"}},
		{name: "included configmap", inc: []string{"configmap"},
			created: []string{"configmaps abc/cm", "namespaces abc"},
			results: []string{"configmaps abc/cm created"}},
		{name: "included kind Deployment", inc: []string{"Deployment"},
			created: []string{"deployments.apps abc/web", "namespaces abc"},
			results: []string{"deployments.apps abc/web created"}},
		{name: "included deploy and ns", inc: []string{"deploy", "ns"},
			created: []string{"deployments.apps abc/web", "namespaces abc"},
			results: []string{"deployments.apps abc/web created", "namespaces abc created"}},
		{name: "excluded cm", exc: []string{"cm"},
			created: []string{"deployments.apps abc/web", "namespaces abc", "secrets abc/s"},
			results: []string{"deployments.apps abc/web created", "namespaces abc created", "secrets abc/s created"}},
		{name: "excluded kind Secret and deploy", exc: []string{"Secret", "deploy"},
			created: []string{"configmaps abc/cm", "namespaces abc"},
			results: []string{"configmaps abc/cm created", "namespaces abc created"}},
		{name: "unknown name selects nothing", inc: []string{"gizmos"},
			results: nil},
		{name: "star", inc: []string{"*"},
			created: []string{"configmaps abc/cm", "deployments.apps abc/web", "namespaces abc", "secrets abc/s"},
			results: []string{"configmaps abc/cm created", "deployments.apps abc/web created", "namespaces abc created", "secrets abc/s created"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			f.backup(namespaceItem("abc"), configMap("abc", "cm"), deployment("abc", "web"), secret("abc", "s"))
			out := f.run(newRestore(func(r *arkv1.Restore) {
				r.Spec.IncludedResources = tc.inc
				r.Spec.ExcludedResources = tc.exc
			}))
			equalStrings(t, "created", sortedCopy(f.createdKeys()), tc.created)
			doc := f.results(testRestore)
			equalStrings(t, "results", doc.keys(), tc.results)
			checkSummary(t, doc, out)
			if out.Items != len(tc.results) {
				t.Errorf("Outcome.Items = %d, want %d (filtered resources are not items of the restore)", out.Items, len(tc.results))
			}
		})
	}
}

func TestRunLabelSelector(t *testing.T) {
	f := newFixture(t)
	f.backup(
		namespaceItem("abc"),
		withLabels(pod("abc", "p-web", "Running"), map[string]string{"app": "web"}),
		withLabels(pod("abc", "p-db", "Running"), map[string]string{"app": "db"}),
		withLabels(configMap("abc", "cm-web"), map[string]string{"app": "web", "tier": "front"}),
		configMap("abc", "cm-none"),
	)
	out := f.run(newRestore(func(r *arkv1.Restore) {
		r.Spec.LabelSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}
	}))
	// Namespaces are not selected by labels: the selected items need theirs.
	equalStrings(t, "created", sortedCopy(f.createdKeys()), []string{"configmaps abc/cm-web", "namespaces abc", "pods abc/p-web"})
	doc := f.results(testRestore)
	equalStrings(t, "results", doc.keys(), []string{"configmaps abc/cm-web created", "namespaces abc created", "pods abc/p-web created"})
	checkSummary(t, doc, out)
	if out.Items != 5 {
		t.Errorf("Outcome.Items = %d, want 5", out.Items)
	}
}

func TestRunLabelSelectorExpressions(t *testing.T) {
	f := newFixture(t)
	f.backup(
		namespaceItem("abc"),
		withLabels(configMap("abc", "a"), map[string]string{"app": "web"}),
		withLabels(configMap("abc", "b"), map[string]string{"app": "db"}),
		withLabels(configMap("abc", "c"), map[string]string{"app": "cache"}),
		configMap("abc", "d"),
	)
	f.run(newRestore(func(r *arkv1.Restore) {
		r.Spec.LabelSelector = &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
			{Key: "app", Operator: metav1.LabelSelectorOpIn, Values: []string{"web", "db"}},
		}}
	}))
	equalStrings(t, "created", sortedCopy(f.createdKeys()), []string{"configmaps abc/a", "configmaps abc/b", "namespaces abc"})
}

func TestRunInvalidLabelSelector(t *testing.T) {
	f := newFixture(t)
	f.backup(namespaceItem("abc"), configMap("abc", "cm"))
	_, err := f.restorer.Run(context.Background(), newRestore(func(r *arkv1.Restore) {
		r.Spec.LabelSelector = &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "app", Operator: "Sometimes"}}}
	}), testBackup, nil)
	if err == nil || !strings.Contains(err.Error(), "label selector") {
		t.Errorf("Run error = %v, want one about the label selector", err)
	}
	if n := len(f.createCalls()); n != 0 {
		t.Errorf("%d creates, want none: %v", n, f.createdKeys())
	}
}

func clusterBackup() []bItem {
	return []bItem{
		namespaceItem("abc"), namespaceItem("xyz"),
		pvc("abc", "data", "pv-a"), pvc("xyz", "data", "pv-x"),
		pv("pv-a", "abc", "data"), pv("pv-x", "xyz", "data"),
		clusterRoleBinding("crb", subject("ServiceAccount", "abc", "sa")),
		storageClass("fast"),
		configMap("abc", "cm"), configMap("xyz", "cm"),
	}
}

func TestRunClusterResources(t *testing.T) {
	all := []string{
		"clusterrolebindings.rbac.authorization.k8s.io crb",
		"configmaps abc/cm", "configmaps xyz/cm",
		"namespaces abc", "namespaces xyz",
		"persistentvolumeclaims abc/data", "persistentvolumeclaims xyz/data",
		"persistentvolumes pv-a", "persistentvolumes pv-x",
		"storageclasses.storage.k8s.io fast",
	}
	cases := []struct {
		name    string
		include *bool
		mod     func(*arkv1.Restore)
		want    []string
	}{
		{name: "nil, all namespaces", want: all},
		{name: "nil, star", mod: func(r *arkv1.Restore) { r.Spec.IncludedNamespaces = []string{"*"} }, want: all},
		{name: "nil, included namespace", mod: func(r *arkv1.Restore) { r.Spec.IncludedNamespaces = []string{"abc"} },
			want: []string{"configmaps abc/cm", "namespaces abc", "persistentvolumeclaims abc/data", "persistentvolumes pv-a"}},
		{name: "nil, included namespace, mapped", mod: func(r *arkv1.Restore) {
			r.Spec.IncludedNamespaces = []string{"abc"}
			r.Spec.NamespaceMapping = map[string]string{"abc": "def"}
		}, want: []string{"configmaps def/cm", "namespaces def", "persistentvolumeclaims def/data", "persistentvolumes pv-a"}},
		{name: "nil, included namespace, claims not restored", mod: func(r *arkv1.Restore) {
			r.Spec.IncludedNamespaces = []string{"abc"}
			r.Spec.ExcludedResources = []string{"persistentvolumeclaims"}
		}, want: []string{"configmaps abc/cm", "namespaces abc"}},
		{name: "true, included namespace", include: ptr(true), mod: func(r *arkv1.Restore) { r.Spec.IncludedNamespaces = []string{"abc"} },
			want: []string{
				"clusterrolebindings.rbac.authorization.k8s.io crb", "configmaps abc/cm", "namespaces abc",
				"persistentvolumeclaims abc/data", "persistentvolumes pv-a", "persistentvolumes pv-x", "storageclasses.storage.k8s.io fast",
			}},
		{name: "true, all namespaces", include: ptr(true), want: all},
		{name: "false, all namespaces", include: ptr(false),
			want: []string{"configmaps abc/cm", "configmaps xyz/cm", "namespaces abc", "namespaces xyz", "persistentvolumeclaims abc/data", "persistentvolumeclaims xyz/data"}},
		{name: "false, included namespace", include: ptr(false), mod: func(r *arkv1.Restore) { r.Spec.IncludedNamespaces = []string{"abc"} },
			want: []string{"configmaps abc/cm", "namespaces abc", "persistentvolumeclaims abc/data"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			f.backup(clusterBackup()...)
			out := f.run(newRestore(func(r *arkv1.Restore) {
				r.Spec.IncludeClusterResources = tc.include
				if tc.mod != nil {
					tc.mod(r)
				}
			}))
			equalStrings(t, "created", sortedCopy(f.createdKeys()), tc.want)
			doc := f.results(testRestore)
			checkSummary(t, doc, out)
			if out.Failed != 0 || out.Skipped != 0 {
				t.Errorf("outcome = %+v, want nothing failed or skipped", out)
			}
			// What the filters leave out has no result.
			if len(doc.Items) != len(tc.want) {
				t.Errorf("results %v, want one per created object", doc.keys())
			}
		})
	}
}

func TestRunRestorePVs(t *testing.T) {
	for _, tc := range []struct {
		restorePVs *bool
		pvAction   string
	}{{nil, ActionCreated}, {ptr(true), ActionCreated}, {ptr(false), ActionSkipped}} {
		t.Run(fmt.Sprint(tc.restorePVs != nil && !*tc.restorePVs), func(t *testing.T) {
			f := newFixture(t)
			f.backup(namespaceItem("abc"), pvc("abc", "data", "pv-a"), pv("pv-a", "abc", "data"))
			out := f.run(newRestore(func(r *arkv1.Restore) { r.Spec.RestorePVs = tc.restorePVs }))
			doc := f.results(testRestore)
			checkSummary(t, doc, out)
			doc.want(t, "persistentvolumeclaims", "abc", "data", ActionCreated)
			if tc.pvAction == ActionSkipped {
				doc.want(t, "persistentvolumes", "", "pv-a", ActionSkipped, "restorePVs is false")
				if f.get("persistentvolumes", "", "pv-a") != nil {
					t.Error("pv-a was created with restorePVs false")
				}
				for _, c := range f.createCalls() {
					if c.gvr.Resource == "persistentvolumes" {
						t.Errorf("create of %s with restorePVs false", c.key())
					}
				}
				if out.Warnings != 1 {
					t.Errorf("warnings = %d, want 1", out.Warnings)
				}
			} else {
				doc.want(t, "persistentvolumes", "", "pv-a", ActionCreated)
				if f.get("persistentvolumes", "", "pv-a") == nil {
					t.Error("pv-a is not in the cluster")
				}
			}
		})
	}
}

// ---- 5. never restored, finished ----

func TestRunNeverRestores(t *testing.T) {
	for _, inc := range [][]string{nil, {"nodes", "events", "events.events.k8s.io", "endpointslices.discovery.k8s.io", "backups.ark.heptio.com", "restores", "configmaps", "namespaces"}} {
		t.Run(fmt.Sprintf("included=%v", inc), func(t *testing.T) {
			f := newFixture(t)
			f.backup(
				namespaceItem("abc"),
				configMap("abc", "cm"),
				generic("nodes", "v1", "Node", "", "n1"),
				generic("events", "v1", "Event", "abc", "e1"),
				generic("events.events.k8s.io", "events.k8s.io/v1", "Event", "abc", "e2"),
				generic("endpointslices.discovery.k8s.io", "discovery.k8s.io/v1", "EndpointSlice", "abc", "es1"),
				generic("backups.ark.heptio.com", "ark.heptio.com/v1", "Backup", "abc", "bk"),
				generic("restores.ark.heptio.com", "ark.heptio.com/v1", "Restore", "abc", "rs"),
			)
			out := f.run(newRestore(func(r *arkv1.Restore) { r.Spec.IncludedResources = inc }))
			equalStrings(t, "created", sortedCopy(f.createdKeys()), []string{"configmaps abc/cm", "namespaces abc"})
			doc := f.results(testRestore)
			equalStrings(t, "results", doc.keys(), []string{"configmaps abc/cm created", "namespaces abc created"})
			checkSummary(t, doc, out)
			if out.Items != 2 {
				t.Errorf("Outcome.Items = %d, want 2", out.Items)
			}
		})
	}
}

func TestRunSkipsFinishedPodsAndJobs(t *testing.T) {
	f := newFixture(t)
	f.backup(
		namespaceItem("abc"),
		pod("abc", "p-running", "Running"),
		pod("abc", "p-pending", "Pending"),
		pod("abc", "p-succeeded", "Succeeded"),
		pod("abc", "p-failed", "Failed"),
		job("abc", "j-running", map[string]any{"active": int64(1)}),
		job("abc", "j-done", map[string]any{"completionTime": "2024-05-01T11:00:00Z", "succeeded": int64(1)}),
		job("abc", "j-complete", map[string]any{"conditions": []any{map[string]any{"type": "Complete", "status": "True"}}}),
		job("abc", "j-failed", map[string]any{"conditions": []any{map[string]any{"type": "Failed", "status": "True"}}}),
		job("abc", "j-not-yet", map[string]any{"conditions": []any{map[string]any{"type": "Complete", "status": "False"}}}),
	)
	out := f.run(newRestore())
	equalStrings(t, "created", sortedCopy(f.createdKeys()), []string{
		"jobs.batch abc/j-not-yet", "jobs.batch abc/j-running", "namespaces abc", "pods abc/p-pending", "pods abc/p-running",
	})
	doc := f.results(testRestore)
	checkSummary(t, doc, out)
	for _, k := range [][2]string{{"pods", "p-succeeded"}, {"pods", "p-failed"}, {"jobs.batch", "j-done"}, {"jobs.batch", "j-complete"}, {"jobs.batch", "j-failed"}} {
		doc.want(t, k[0], "abc", k[1], ActionSkipped)
	}
	if out.Skipped != 5 || out.Created != 5 || out.Items != 10 {
		t.Errorf("outcome = %+v, want 5 created, 5 skipped, 10 items", out)
	}
}

// ---- 6. owner references ----

func TestRunOwnerReferences(t *testing.T) {
	f := newFixture(t)

	depUID := oldUID("Deployment", "abc", "web")
	rsUID := oldUID("ReplicaSet", "abc", "web-rs")
	secUID := oldUID("Secret", "abc", "s")
	f.backup(
		namespaceItem("abc"),
		deployment("abc", "web"),
		withOwners(replicaSet("abc", "web-rs"), metav1.OwnerReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "web", UID: types.UID(depUID), Controller: ptr(true)}),
		withOwners(pod("abc", "web-pod", "Running"), metav1.OwnerReference{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "web-rs", UID: types.UID(rsUID), Controller: ptr(true)}),
		withOwners(service("abc", "web-svc", map[string]any{"ports": []any{map[string]any{"port": int64(80)}}}),
			metav1.OwnerReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "web", UID: types.UID(depUID), Controller: ptr(true), BlockOwnerDeletion: ptr(true)},
			metav1.OwnerReference{APIVersion: "v1", Kind: "ConfigMap", Name: "gone", UID: "old-not-in-backup"}),
		secret("abc", "s"),
		withOwners(configMap("abc", "cm-owned"), metav1.OwnerReference{APIVersion: "v1", Kind: "Secret", Name: "s", UID: types.UID(secUID)}),
		withOwners(roleBinding("abc", "rb"), metav1.OwnerReference{APIVersion: "v1", Kind: "ConfigMap", Name: "gone", UID: "old-not-in-backup"}),
	)
	out := f.run(newRestore())
	if out.Created != 8 {
		t.Fatalf("outcome = %+v, want 8 created", out)
	}
	newDep := f.get("deployments.apps", "abc", "web")
	newSecret := f.get("secrets", "abc", "s")
	if newDep == nil || newSecret == nil {
		t.Fatal("owners were not restored")
	}
	if !strings.HasPrefix(string(newDep.GetUID()), "new-uid-") {
		t.Fatalf("the cluster gave the deployment uid %q", newDep.GetUID())
	}

	// Deployments are restored before services: the reference is kept, with
	// the owner's new UID; the one to an owner not in the backup is dropped.
	svc := f.sent("services abc/web-svc")
	want := []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: "web", UID: newDep.GetUID(), Controller: ptr(true), BlockOwnerDeletion: ptr(true)}}
	if got := svc.GetOwnerReferences(); !reflect.DeepEqual(got, want) {
		t.Errorf("service owner references = %+v, want %+v", got, want)
	}
	cm := f.sent("configmaps abc/cm-owned")
	if refs := cm.GetOwnerReferences(); len(refs) != 1 || refs[0].UID != newSecret.GetUID() || refs[0].Name != "s" {
		t.Errorf("configmap owner references = %+v, want the secret with uid %s", refs, newSecret.GetUID())
	}
	// Owners restored later (replica sets after pods, deployments after
	// replica sets) or never are dropped, and the field with them.
	for _, key := range []string{"pods abc/web-pod", "replicasets.apps abc/web-rs", "rolebindings.rbac.authorization.k8s.io abc/rb"} {
		o := f.sent(key)
		if _, ok, _ := unstructured.NestedFieldNoCopy(o.Object, "metadata", "ownerReferences"); ok {
			t.Errorf("%s was created with owner references %+v", key, o.GetOwnerReferences())
		}
	}
}

// ---- 7. existing objects ----

func seedExisting(f *fixture) {
	f.seedNamespace("abc")
	existing := configMap("abc", "cm").obj
	existing.SetUID("existing-cm")
	existing.SetResourceVersion("7")
	existing.Object["data"] = map[string]any{"key": "live value"}
	f.seed("configmaps", existing)
	s := secret("abc", "s").obj
	s.SetUID("existing-s")
	s.SetResourceVersion("9")
	f.seed("secrets", s)
}

func TestRunExistingPolicyNone(t *testing.T) {
	for _, policy := range []arkv1.ExistingResourcePolicy{"", arkv1.ExistingResourcePolicyNone} {
		t.Run(fmt.Sprintf("%q", policy), func(t *testing.T) {
			f := newFixture(t)
			seedExisting(f)
			f.backup(namespaceItem("abc"), configMap("abc", "cm"), configMap("abc", "cm2"), secret("abc", "s"))
			out := f.run(newRestore(func(r *arkv1.Restore) { r.Spec.ExistingResourcePolicy = policy }))

			doc := f.results(testRestore)
			checkSummary(t, doc, out)
			doc.want(t, "configmaps", "abc", "cm", ActionSkipped, "configmaps abc/cm already exists", `"none"`)
			doc.want(t, "secrets", "abc", "s", ActionSkipped, "secrets abc/s already exists")
			doc.want(t, "configmaps", "abc", "cm2", ActionCreated)
			if it := doc.want(t, "namespaces", "", "abc", ActionSkipped); it != nil && it.Reason != "" {
				t.Errorf("an existing namespace is skipped without a warning, got reason %q", it.Reason)
			}
			if out.Created != 1 || out.Skipped != 3 || out.Warnings != 2 || out.Updated != 0 || out.Failed != 0 {
				t.Errorf("outcome = %+v, want 1 created, 3 skipped, 2 warnings", out)
			}
			if n := len(f.actions("update")); n != 0 {
				t.Errorf("%d update calls with policy %q, want none", n, policy)
			}
			if v, _, _ := unstructured.NestedString(f.get("configmaps", "abc", "cm").Object, "data", "key"); v != "live value" {
				t.Errorf("existing configmap data.key = %q, want it untouched", v)
			}
			logs := f.logs(testRestore)
			if !strings.Contains(logs, "warning skipped configmaps abc/cm: configmaps abc/cm already exists") {
				t.Errorf("logs do not warn about configmaps abc/cm:\n%s", logs)
			}
		})
	}
}

func TestRunExistingPolicyUpdate(t *testing.T) {
	f := newFixture(t)
	seedExisting(f)
	f.backup(namespaceItem("abc"), configMap("abc", "cm"), configMap("abc", "cm2"), secret("abc", "s"))
	out := f.run(newRestore(func(r *arkv1.Restore) { r.Spec.ExistingResourcePolicy = arkv1.ExistingResourcePolicyUpdate }))

	doc := f.results(testRestore)
	checkSummary(t, doc, out)
	doc.want(t, "configmaps", "abc", "cm", ActionUpdated)
	doc.want(t, "secrets", "abc", "s", ActionUpdated)
	doc.want(t, "configmaps", "abc", "cm2", ActionCreated)
	doc.want(t, "namespaces", "", "abc", ActionSkipped)
	if out.Updated != 2 || out.Created != 1 || out.Skipped != 1 || out.Warnings != 0 {
		t.Errorf("outcome = %+v, want 2 updated, 1 created, 1 skipped, no warnings", out)
	}

	updates := map[string]*unstructured.Unstructured{}
	for _, a := range f.actions("update") {
		ua := a.(clienttesting.UpdateActionImpl)
		o := ua.GetObject().(*unstructured.Unstructured)
		updates[groupResource(a.GetResource())+" "+a.GetNamespace()+"/"+o.GetName()] = o
		if ua.UpdateOptions.FieldManager != "ark-restore" {
			t.Errorf("update field manager = %q, want ark-restore", ua.UpdateOptions.FieldManager)
		}
	}
	if len(updates) != 2 {
		t.Fatalf("updates = %v, want configmaps abc/cm and secrets abc/s", updates)
	}
	cm := updates["configmaps abc/cm"]
	if cm == nil || cm.GetResourceVersion() != "7" {
		t.Fatalf("configmap update = %v, want resourceVersion 7 (the existing object's)", cm)
	}
	if v, _, _ := unstructured.NestedString(cm.Object, "data", "key"); v != "backed-up cm" {
		t.Errorf("updated configmap data.key = %q, want the backed-up value", v)
	}
	if cm.GetLabels()[arkv1.LabelRestoreName] != testRestore {
		t.Errorf("updated configmap labels = %v, want the restore label", cm.GetLabels())
	}
	if s := updates["secrets abc/s"]; s == nil || s.GetResourceVersion() != "9" {
		t.Errorf("secret update = %v, want resourceVersion 9", s)
	}
	if v, _, _ := unstructured.NestedString(f.get("configmaps", "abc", "cm").Object, "data", "key"); v != "backed-up cm" {
		t.Errorf("cluster configmap data.key = %q after the update, want the backed-up value", v)
	}
	if !strings.Contains(f.logs(testRestore), "info updated configmaps abc/cm") {
		t.Error("logs do not record the update")
	}
}

// ---- 8. requester rights ----

func TestRunDeniedCreate(t *testing.T) {
	f := newFixture(t)
	f.access.deny = map[accessKey]string{{"configmaps", "abc"}: "RBAC: no binding"}
	f.backup(namespaceItem("abc"), namespaceItem("xyz"), configMap("abc", "cm"), configMap("abc", "cm-2"), configMap("xyz", "cm"), secret("abc", "s"))
	out := f.run(newRestore())

	equalStrings(t, "created", sortedCopy(f.createdKeys()), []string{"configmaps xyz/cm", "namespaces abc", "namespaces xyz", "secrets abc/s"})
	for _, c := range f.createCalls() {
		if c.key() == "configmaps abc/cm" || c.key() == "configmaps abc/cm-2" {
			t.Errorf("denied %s reached the cluster", c.key())
		}
	}
	doc := f.results(testRestore)
	checkSummary(t, doc, out)
	for _, name := range []string{"cm", "cm-2"} {
		doc.want(t, "configmaps", "abc", name, ActionFailed, requester, "configmaps", "namespace abc", "RBAC: no binding")
	}
	if out.Failed != 2 || out.Errors != 2 || out.Created != 4 {
		t.Errorf("outcome = %+v, want 2 failed, 2 errors, 4 created", out)
	}
	logs := f.logs(testRestore)
	if !strings.Contains(logs, "error failed configmaps abc/cm: ") || !strings.Contains(logs, "requested by "+requester) {
		t.Errorf("logs lack the failure or the requester:\n%s", logs)
	}
	// Every check is the requester's, for the namespace the item lands in.
	for _, c := range f.access.callsFor("configmaps") {
		if c.user != requester {
			t.Errorf("access checked for %q, want %q", c.user, requester)
		}
	}
	if calls := f.access.callsFor("namespaces"); len(calls) != 2 || calls[0].ns != "" {
		t.Errorf("namespace access checks = %+v, want two at cluster scope", calls)
	}
}

func TestRunAccessCheckError(t *testing.T) {
	f := newFixture(t)
	f.access.fail = map[accessKey]error{{"secrets", "abc"}: errors.New("authorizer unavailable")}
	f.backup(namespaceItem("abc"), secret("abc", "s"), configMap("abc", "cm"))
	out := f.run(newRestore())
	doc := f.results(testRestore)
	checkSummary(t, doc, out)
	doc.want(t, "secrets", "abc", "s", ActionFailed, requester, "authorizer unavailable")
	doc.want(t, "configmaps", "abc", "cm", ActionCreated)
	if f.get("secrets", "abc", "s") != nil {
		t.Error("secret created although its access check failed")
	}
}

func TestRunConfined(t *testing.T) {
	backupItems := func() []bItem {
		return []bItem{
			namespaceItem("abc"), namespaceItem("team"),
			configMap("team", "cm"), configMap("abc", "cm-a"),
			pvc("team", "data", "pv-1"), pv("pv-1", "team", "data"),
			clusterRoleBinding("crb", subject("ServiceAccount", "team", "sa")),
		}
	}
	t.Run("unmapped", func(t *testing.T) {
		f := newFixture(t)
		f.ns = "team"
		f.seedNamespace("team")
		f.backup(backupItems()...)
		out := f.run(newRestore(func(r *arkv1.Restore) { r.Namespace = "team" }))
		equalStrings(t, "created", sortedCopy(f.createdKeys()), []string{"configmaps team/cm", "persistentvolumeclaims team/data"})
		for _, c := range f.createCalls() {
			if c.ns != "team" {
				t.Errorf("confined restore sent a create of %s", c.key())
			}
		}
		doc := f.results(testRestore)
		checkSummary(t, doc, out)
		for _, k := range [][2]string{{"namespaces", "abc"}, {"persistentvolumes", "pv-1"}, {"clusterrolebindings.rbac.authorization.k8s.io", "crb"}} {
			doc.want(t, k[0], "", k[1], ActionSkipped, "team", "cluster-scoped")
		}
		// Its own namespace exists: skipped without a warning.
		if it := doc.want(t, "namespaces", "", "team", ActionSkipped); it != nil && it.Reason != "" {
			t.Errorf("namespace team: %+v", *it)
		}
		doc.want(t, "configmaps", "abc", "cm-a", ActionFailed, "team", "abc")
		if f.get("configmaps", "abc", "cm-a") != nil || f.get("namespaces", "", "abc") != nil {
			t.Error("a confined restore created something outside its namespace")
		}
		if out.Failed != 1 || out.Skipped != 4 || out.Created != 2 {
			t.Errorf("outcome = %+v, want 2 created, 4 skipped, 1 failed", out)
		}
	})
	t.Run("mapped into its namespace", func(t *testing.T) {
		f := newFixture(t)
		f.ns = "team"
		f.seedNamespace("team")
		f.backup(backupItems()...)
		out := f.run(newRestore(func(r *arkv1.Restore) {
			r.Namespace = "team"
			r.Spec.NamespaceMapping = map[string]string{"abc": "team"}
		}))
		equalStrings(t, "created", sortedCopy(f.createdKeys()), []string{"configmaps team/cm", "configmaps team/cm-a", "persistentvolumeclaims team/data"})
		doc := f.results(testRestore)
		checkSummary(t, doc, out)
		if it := doc.want(t, "configmaps", "team", "cm-a", ActionCreated); it != nil && it.SourceNamespace != "abc" {
			t.Errorf("sourceNamespace = %q, want abc", it.SourceNamespace)
		}
		if out.Failed != 0 {
			t.Errorf("outcome = %+v, want nothing failed", out)
		}
	})
}

// A backed-up object whose metadata.namespace disagrees with its place in
// the tarball is not created in the namespace it names: the access check
// was made for the tarball's.
func TestRunObjectNamespaceDisagreesWithPath(t *testing.T) {
	f := newFixture(t)
	f.seedNamespace("kube-system")
	cm := configMap("abc", "cm")
	cm.obj.SetNamespace("kube-system")
	cm.pathNS = ptr("abc")
	f.backup(namespaceItem("abc"), cm)
	_, err := f.restorer.Run(context.Background(), newRestore(), testBackup, nil)
	if !errors.Is(err, archive.ErrCorrupt) {
		t.Fatalf("Run error = %v, want one matching archive.ErrCorrupt", err)
	}
	noWrites(t, f)
	f.checkScratchEmpty()
}

// ---- 9. unserved resources ----

func TestRunUnservedResource(t *testing.T) {
	f := newFixture(t)
	f.backup(namespaceItem("abc"), configMap("abc", "cm"),
		generic("gadgets.example.com", "example.com/v1", "Gadget", "abc", "g1"),
		generic("gadgets.example.com", "example.com/v1", "Gadget", "", "g2"),
	)
	out := f.run(newRestore())
	equalStrings(t, "created", sortedCopy(f.createdKeys()), []string{"configmaps abc/cm", "namespaces abc"})
	doc := f.results(testRestore)
	checkSummary(t, doc, out)
	// An object not brought back is an error (the restore is
	// PartiallyFailed), saying what to do.
	doc.want(t, "gadgets.example.com", "abc", "g1", ActionFailed, "not served by this cluster and the backup holds no definition of it")
	doc.want(t, "gadgets.example.com", "", "g2", ActionFailed, "not served")
	if out.Failed != 2 || out.Errors != 2 || out.Warnings != 0 || out.Items != 4 {
		t.Errorf("outcome = %+v, want 2 failed with errors, 4 items", out)
	}
	if !strings.Contains(f.logs(testRestore), "gadgets.example.com abc/g1") {
		t.Error("logs do not name the unserved resource")
	}
}

// ---- 10. refusals before anything is created ----

func noWrites(t *testing.T, f *fixture) {
	t.Helper()
	for _, verb := range []string{"create", "update", "patch", "delete"} {
		if n := len(f.actions(verb)); n != 0 {
			t.Errorf("the cluster saw %d %s actions, want none", n, verb)
		}
	}
}

func TestRunCorruptBackup(t *testing.T) {
	f := newFixture(t)
	tgz := f.backup(namespaceItem("abc"), configMap("abc", "cm"), secret("abc", "s"))
	tampered := bytes.Clone(tgz)
	tampered[len(tampered)/2] ^= 0x01
	put(t, f.store, backupstore.Home(testBackup).TarballKey(), tampered)

	_, err := f.restorer.Run(context.Background(), newRestore(), testBackup, nil)
	if !errors.Is(err, archive.ErrCorrupt) {
		t.Fatalf("Run error = %v, want one matching archive.ErrCorrupt", err)
	}
	noWrites(t, f)
	f.checkScratchEmpty()
}

func TestRunMissingBackup(t *testing.T) {
	f := newFixture(t)
	_, err := f.restorer.Run(context.Background(), newRestore(), testBackup, nil)
	if !errors.Is(err, archive.ErrCorrupt) || !errors.Is(err, objectstore.ErrNotFound) {
		t.Fatalf("Run error = %v, want ErrCorrupt and ErrNotFound", err)
	}
	noWrites(t, f)
}

func TestRunNilRequester(t *testing.T) {
	f := newFixture(t)
	f.backup(namespaceItem("abc"), configMap("abc", "cm"))
	_, err := f.restorer.Run(context.Background(), newRestore(func(r *arkv1.Restore) { r.Spec.Requester = nil }), testBackup, nil)
	if err == nil || !strings.Contains(err.Error(), "requester") {
		t.Fatalf("Run error = %v, want one about the missing requester", err)
	}
	noWrites(t, f)
}

// ---- 11. progress ----

func TestRunProgress(t *testing.T) {
	f := newFixture(t)
	items := []bItem{namespaceItem("abc"), pv("pv-free", "", ""), generic("nodes", "v1", "Node", "", "n1")}
	for i := range 12 {
		items = append(items, configMap("abc", fmt.Sprintf("cm-%d", i)))
	}
	for i := range 5 {
		items = append(items, withLabels(pod("abc", fmt.Sprintf("p-%d", i), "Running"), map[string]string{"app": "web"}))
	}
	items = append(items, generic("gadgets.example.com", "example.com/v1", "Gadget", "abc", "g1"))
	f.backup(items...)

	type call struct{ total, done int }
	var mu sync.Mutex
	var calls []call
	out, err := f.restorer.Run(context.Background(), newRestore(func(r *arkv1.Restore) {
		r.Spec.LabelSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}
	}), testBackup, func(total, done int) {
		mu.Lock()
		calls = append(calls, call{total, done})
		mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	// Every item but the node: the namespace, the unbound volume and the 12
	// unselected configmaps count, as done, without a result.
	const total = 20
	if out.Items != total {
		t.Errorf("Outcome.Items = %d, want %d", out.Items, total)
	}
	// Calls are not one per item: the items finished while a call runs are
	// reported together by the next.
	if len(calls) == 0 || len(calls) > total {
		t.Fatalf("%d progress calls, want 1 to %d: %v", len(calls), total, calls)
	}
	for i, c := range calls {
		if c.total != total || c.done < 1 || (i > 0 && c.done <= calls[i-1].done) {
			t.Errorf("progress call %d = %+v, want total %d and done increasing: %v", i, c, total, calls)
		}
	}
	if last := calls[len(calls)-1]; last.done != last.total || last.total != out.Items {
		t.Errorf("last progress call = %+v, want done == total == %d", last, out.Items)
	}
	if out.Created != 6 || out.Failed != 1 {
		t.Errorf("outcome = %+v, want 6 created (namespace, 5 pods), 1 failed (gadget, not served)", out)
	}
}

func TestRunProgressParallel(t *testing.T) {
	f := newFixture(t)
	items := []bItem{namespaceItem("abc")}
	for i := range 40 {
		items = append(items, configMap("abc", fmt.Sprintf("cm-%d", i)), secret("abc", fmt.Sprintf("s-%d", i)))
	}
	f.backup(items...)
	var mu sync.Mutex
	seen := map[int]int{}
	maxDone := 0
	out, err := f.restorer.Run(context.Background(), newRestore(), testBackup, func(total, done int) {
		mu.Lock()
		defer mu.Unlock()
		if total != 81 {
			t.Errorf("progress total = %d, want 81", total)
		}
		seen[done]++
		maxDone = max(maxDone, done)
	})
	if err != nil {
		t.Fatal(err)
	}
	if out.Items != 81 || out.Created != 81 || maxDone != 81 {
		t.Errorf("outcome %+v, max done %d; want 81 of each", out, maxDone)
	}
	for d, n := range seen {
		if n != 1 || d < 1 || d > 81 {
			t.Errorf("done = %d reported %d times", d, n)
		}
	}
}

// ---- 12. the results document ----

func TestRunResultsDocument(t *testing.T) {
	f := newFixture(t)
	f.seedNamespace("def")
	existing := configMap("def", "taken").obj
	f.seed("configmaps", existing)
	f.access.deny = map[accessKey]string{{"secrets", "def"}: "forbidden"}
	f.backup(
		namespaceItem("abc"),
		configMap("abc", "cm"),
		configMap("abc", "taken"),
		secret("abc", "s"),
		pv("pv-free", "", ""),
		pod("abc", "done", "Succeeded"),
	)
	out := f.run(newRestore(func(r *arkv1.Restore) {
		r.Spec.NamespaceMapping = map[string]string{"abc": "def"}
		r.Spec.IncludeClusterResources = ptr(true)
	}))
	doc := f.results(testRestore)
	checkSummary(t, doc, out)

	want := map[string]map[string]any{
		"namespaces/def": {"resource": "namespaces", "name": "def", "action": "skipped"},
		"configmaps/cm":  {"resource": "configmaps", "namespace": "def", "name": "cm", "sourceNamespace": "abc", "action": "created"},
		"configmaps/taken": {"resource": "configmaps", "namespace": "def", "name": "taken", "sourceNamespace": "abc", "action": "skipped",
			"reason": `configmaps def/taken already exists and the existing-resource policy is "none"`},
		"secrets/s": {"resource": "secrets", "namespace": "def", "name": "s", "sourceNamespace": "abc", "action": "failed",
			"reason": "alice may not create secrets in namespace def: forbidden"},
		"persistentvolumes/pv-free": {"resource": "persistentvolumes", "name": "pv-free", "action": "created"},
		"pods/done":                 {"resource": "pods", "namespace": "def", "name": "done", "sourceNamespace": "abc", "action": "skipped"},
	}
	if len(doc.raw) != len(want) {
		t.Errorf("%d result items, want %d: %v", len(doc.raw), len(want), doc.keys())
	}
	for _, item := range doc.raw {
		k := fmt.Sprint(item["resource"], "/", item["name"])
		w, ok := want[k]
		if !ok {
			t.Errorf("unexpected result item %v", item)
			continue
		}
		if !reflect.DeepEqual(item, w) {
			t.Errorf("result item %s =\n %v\nwant\n %v", k, item, w)
		}
	}
	wantSummary := Summary{Created: 2, Skipped: 3, Failed: 1, Warnings: 1, Errors: 1}
	if doc.Summary != wantSummary {
		t.Errorf("summary = %+v, want %+v", doc.Summary, wantSummary)
	}
	if out.Items != 6 {
		t.Errorf("Outcome.Items = %d, want 6", out.Items)
	}
	logs := f.logs(testRestore)
	for _, line := range []string{
		"info restoring backup b1 into the cluster, requested by alice",
		"warning skipped configmaps def/taken: configmaps def/taken already exists",
		"error failed secrets def/s: alice may not create secrets in namespace def: forbidden",
		"info restore finished: 2 created, 0 updated, 3 skipped, 1 failed",
	} {
		if !strings.Contains(logs, line) {
			t.Errorf("logs lack %q:\n%s", line, logs)
		}
	}
}

func TestRunEmptyBackup(t *testing.T) {
	f := newFixture(t)
	f.backup()
	out := f.run(newRestore())
	doc := f.results(testRestore)
	if len(doc.Items) != 0 || out.Items != 0 || doc.Summary != (Summary{}) {
		t.Errorf("empty backup: items %v, outcome %+v, summary %+v", doc.keys(), out, doc.Summary)
	}
	noWrites(t, f)
}

func TestRunCanceled(t *testing.T) {
	f := newFixture(t)
	f.backup(namespaceItem("abc"), configMap("abc", "cm"))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := f.restorer.Run(ctx, newRestore(), testBackup, nil)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Run error = %v, want context.Canceled", err)
	}
	noWrites(t, f)
}

func TestRunPluralOfRestoredCustomResource(t *testing.T) {
	f := newFixture(t)
	f.backup(widgetCRD(), namespaceItem("abc"), widget("abc", "w1"), configMap("abc", "cm"))
	f.run(newRestore(func(r *arkv1.Restore) { r.Spec.IncludedResources = []string{"crd", "ns", "widgets"} }))
	equalStrings(t, "created", sortedCopy(f.createdKeys()), []string{
		"customresourcedefinitions.apiextensions.k8s.io widgets.example.com", "namespaces abc", "widgets.example.com abc/w1",
	})
}

// A restore of some namespaces brings the definitions of the custom
// resources it restores, and only those.
func TestRunDefinitionsOfRestoredResources(t *testing.T) {
	f := newFixture(t)
	gadgets := widgetCRD()
	gadgets.obj = gadgets.obj.DeepCopy()
	gadgets.obj.SetName("gadgets.example.com")
	f.backup(widgetCRD(), gadgets, namespaceItem("abc"), widget("abc", "w1"))
	out := f.run(newRestore(func(r *arkv1.Restore) { r.Spec.IncludedNamespaces = []string{"abc"} }))
	equalStrings(t, "created", sortedCopy(f.createdKeys()), []string{
		"customresourcedefinitions.apiextensions.k8s.io widgets.example.com", "namespaces abc", "widgets.example.com abc/w1",
	})
	if out.Warnings != 0 || out.Errors != 0 {
		t.Errorf("outcome %+v", out)
	}
}

// A definition the cluster already has is left alone without a warning,
// also by a namespace user's restore, which may not create one.
func TestRunExistingDefinitionIsQuiet(t *testing.T) {
	for _, ns := range []string{homeNS, "abc"} {
		t.Run(ns, func(t *testing.T) {
			f := newFixture(t)
			f.ns = ns
			existing := widgetCRD().obj.DeepCopy()
			existing.SetUID("existing")
			f.seed(crdKind, existing)
			f.seedNamespace("abc")
			f.backup(widgetCRD(), widget("abc", "w1"))
			out := f.run(newRestore(func(r *arkv1.Restore) { r.Namespace = ns; r.Spec.IncludedNamespaces = []string{"abc"} }))
			equalStrings(t, "created", sortedCopy(f.createdKeys()), []string{"widgets.example.com abc/w1"})
			doc := f.results(testRestore)
			if it := doc.want(t, crdKind, "", "widgets.example.com", ActionSkipped); it != nil && (it.Reason != "" || !strings.Contains(it.Note, "already defined")) {
				t.Errorf("result %+v", it)
			}
			if out.Warnings != 0 || out.Errors != 0 {
				t.Errorf("outcome %+v: %+v", out, doc.Items)
			}
		})
	}
}

// A custom resource whose definition the backup holds but the restore could
// not create is an error that says so.
func TestRunDefinitionNotRestored(t *testing.T) {
	f := newFixture(t)
	f.ns = "abc"
	f.seedNamespace("abc")
	f.backup(widgetCRD(), namespaceItem("abc"), widget("abc", "w1"))
	out := f.run(newRestore(func(r *arkv1.Restore) { r.Namespace = "abc" }))
	doc := f.results(testRestore)
	doc.want(t, crdKind, "", "widgets.example.com", ActionSkipped, "may not create cluster-scoped objects")
	doc.want(t, "widgets.example.com", "abc", "w1", ActionFailed, "its definition is in the backup but was not restored")
	if out.Failed != 1 || out.Errors != 1 {
		t.Errorf("outcome %+v", out)
	}
}
