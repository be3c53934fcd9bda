package restore

import (
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
)

func preview(policy arkv1.ExistingResourcePolicy) func(*arkv1.Restore) {
	return func(r *arkv1.Restore) {
		r.Spec.Preview = true
		r.Spec.ExistingResourcePolicy = policy
	}
}

// previewFixture is a backup of namespace shop whose items meet every case
// of a preview: new, identical, different, refused by the requester's
// rights, refused by the API server, and a custom resource whose definition
// the restore would create.
func previewFixture(t *testing.T) *fixture {
	f := newFixture(t)
	f.seedNamespace("shop")
	same := configMap("shop", "same")
	existingSame := same.obj.DeepCopy()
	existingSame.SetUID("cluster-uid")
	existingSame.SetLabels(map[string]string{arkv1.LabelRestoreName: "an-earlier-restore"})
	f.seed("configmaps", existingSame)
	changed := configMap("shop", "changed")
	existingChanged := changed.obj.DeepCopy()
	existingChanged.Object["data"] = map[string]any{"key": "edited since"}
	f.seed("configmaps", existingChanged)
	s := secret("shop", "creds")
	existingSecret := s.obj.DeepCopy()
	existingSecret.Object["data"] = map[string]any{"password": "bmV3LXBhc3N3b3Jk"}
	f.seed("secrets", existingSecret)
	f.access.deny = map[accessKey]string{{"rolebindings.rbac.authorization.k8s.io", "shop"}: "RBAC: no create on rolebindings"}
	f.refuse = map[string]error{"root-pod": apierrors.NewForbidden(schema.GroupResource{Resource: "pods"}, "root-pod", errorString(`violates PodSecurity "restricted:latest": runAsNonRoot != true`))}
	f.backup(
		namespaceItem("shop"),
		configMap("shop", "new"), same, changed, s,
		roleBinding("shop", "admin"),
		pod("shop", "root-pod", "Running"),
		widgetCRD(), widget("shop", "w1"),
	)
	return f
}

type errorString string

func (e errorString) Error() string { return string(e) }

// TestPreviewReportsAndChangesNothing is the preview's contract: every
// write is a dry run, nothing is stored, and each item says what a restore
// would do and why.
func TestPreviewReportsAndChangesNothing(t *testing.T) {
	f := previewFixture(t)
	out := f.run(newRestore(preview("")))

	if created := f.createdKeys(); len(created) != 0 {
		t.Errorf("a preview created %v", created)
	}
	for _, verb := range []string{"update", "patch", "delete"} {
		for _, a := range f.actions(verb) {
			t.Errorf("a preview sent a %s that was not a dry run: %v", verb, a)
		}
	}
	for _, c := range f.dryRuns {
		if len(c.opts.DryRun) != 1 || c.opts.DryRun[0] != "All" {
			t.Errorf("%s was sent with dryRun %v", c.key(), c.opts.DryRun)
		}
	}
	if got := f.get("configmaps", "shop", "changed"); got.Object["data"].(map[string]any)["key"] != "edited since" {
		t.Errorf("the existing configmap was changed: %v", got.Object["data"])
	}

	doc := f.results(testRestore)
	doc.want(t, "configmaps", "shop", "new", ActionWouldCreate)
	if it := doc.want(t, "configmaps", "shop", "same", ActionWouldSkip); it != nil && !strings.Contains(it.Note, "identical") {
		t.Errorf("an identical object's note = %q, want it to say identical", it.Note)
	}
	if it := doc.want(t, "configmaps", "shop", "changed", ActionWouldConflict); it != nil {
		if len(it.Diff) != 1 || it.Diff[0] != `data.key: "edited since" → "backed-up changed"` {
			t.Errorf("the conflict's diff = %q", it.Diff)
		}
	}
	if it := doc.want(t, "secrets", "shop", "creds", ActionWouldConflict); it != nil {
		diff := strings.Join(it.Diff, "; ")
		if diff != "data.password differs" {
			t.Errorf("a secret's diff = %q, want the field named and no value", diff)
		}
	}
	doc.want(t, "rolebindings.rbac.authorization.k8s.io", "shop", "admin", ActionWouldBeDenied, "RBAC: no create on rolebindings")
	doc.want(t, "pods", "shop", "root-pod", ActionWouldBeDenied, "violates PodSecurity")
	doc.want(t, "customresourcedefinitions.apiextensions.k8s.io", "", "widgets.example.com", ActionWouldCreate)
	if it := doc.want(t, "widgets.example.com", "shop", "w1", ActionWouldCreate); it != nil && !strings.Contains(it.Note, "definition would be created") {
		t.Errorf("a custom resource of a new definition: note = %q", it.Note)
	}
	doc.want(t, "namespaces", "", "shop", ActionWouldSkip)

	want := arkv1.RestorePreview{WouldCreate: 3, WouldSkip: 2, WouldConflict: 2, WouldBeDenied: 2}
	if doc.Summary.Preview == nil || *doc.Summary.Preview != want {
		t.Errorf("preview counts = %+v, want %+v", doc.Summary.Preview, want)
	}
	if out.Preview == nil || *out.Preview != want {
		t.Errorf("the outcome's preview counts = %+v, want %+v", out.Preview, want)
	}
	if out.Created != 0 || out.Failed != 0 || out.Errors != 0 {
		t.Errorf("a preview counted restore actions or errors: %+v", out.Summary)
	}
	logs := f.logs(testRestore)
	for _, line := range []string{"previewing a restore of backup b1", "would conflict with the existing configmaps shop/changed", "preview finished, nothing was changed"} {
		if !strings.Contains(logs, line) {
			t.Errorf("the log does not say %q:\n%s", line, logs)
		}
	}
	if strings.Contains(logs, "bmV3LXBhc3N3b3Jk") || strings.Contains(logs, "aHVudGVyMg==") {
		t.Errorf("the log shows a secret's value:\n%s", logs)
	}
}

// TestPreviewUnderUpdatePolicy: what differs would be updated (a dry-run
// update that stores nothing), what is identical would be left alone.
func TestPreviewUnderUpdatePolicy(t *testing.T) {
	f := previewFixture(t)
	f.run(newRestore(preview(arkv1.ExistingResourcePolicyUpdate)))
	doc := f.results(testRestore)
	if it := doc.want(t, "configmaps", "shop", "changed", ActionWouldUpdate); it != nil && len(it.Diff) != 1 {
		t.Errorf("the update's diff = %q", it.Diff)
	}
	doc.want(t, "configmaps", "shop", "same", ActionWouldSkip)
	if f.dryUpdates != 2 { // the changed configmap and the secret
		t.Errorf("%d dry-run updates were sent, want 2", f.dryUpdates)
	}
	if got := f.get("configmaps", "shop", "changed"); got.Object["data"].(map[string]any)["key"] != "edited since" {
		t.Errorf("the existing configmap was changed: %v", got.Object["data"])
	}
}

// TestPreviewIntoMissingNamespace: the API server refuses even a dry run
// into a namespace that does not exist, so a preview checks the requester's
// right to create it and says that the items in it were not dry-run.
func TestPreviewIntoMissingNamespace(t *testing.T) {
	f := newFixture(t)
	f.backup(configMap("shop", "a"))
	f.run(newRestore(preview(""), func(r *arkv1.Restore) { r.Spec.NamespaceMapping = map[string]string{"shop": "fresh"} }))
	if f.get("namespaces", "", "fresh") != nil {
		t.Fatal("a preview created the target namespace")
	}
	doc := f.results(testRestore)
	if it := doc.want(t, "configmaps", "fresh", "a", ActionWouldCreate); it != nil && !strings.Contains(it.Note, "namespace fresh would be created first") {
		t.Errorf("note = %q", it.Note)
	}
	if calls := f.access.callsFor("namespaces"); len(calls) != 1 {
		t.Errorf("the right to create the namespace was checked %d times, want once", len(calls))
	}
	if !strings.Contains(f.logs(testRestore), "would create namespace fresh") {
		t.Errorf("the log does not say the namespace would be created:\n%s", f.logs(testRestore))
	}

	// A requester who may not create the namespace would be denied.
	f = newFixture(t)
	f.access.deny = map[accessKey]string{{"namespaces", ""}: "RBAC: no create on namespaces"}
	f.backup(configMap("shop", "a"))
	f.run(newRestore(preview(""), func(r *arkv1.Restore) { r.Spec.NamespaceMapping = map[string]string{"shop": "fresh"} }))
	f.results(testRestore).want(t, "configmaps", "fresh", "a", ActionWouldBeDenied, "may not create namespaces: RBAC: no create on namespaces")
}

func TestDifferences(t *testing.T) {
	obj := func(m map[string]any) *unstructured.Unstructured { return &unstructured.Unstructured{Object: m} }
	restored := obj(map[string]any{
		"apiVersion": "apps/v1", "kind": "Deployment",
		"metadata": map[string]any{"name": "d", "labels": map[string]any{"app": "d", arkv1.LabelRestoreName: "r2"}},
		"spec": map[string]any{"replicas": int64(3), "template": map[string]any{"spec": map[string]any{
			"containers": []any{map[string]any{"name": "c", "image": "nginx:1"}},
		}}},
	})
	existing := obj(map[string]any{
		"apiVersion": "apps/v1", "kind": "Deployment",
		"metadata": map[string]any{"name": "d", "uid": "u", "labels": map[string]any{"app": "d", "extra": "x", arkv1.LabelRestoreName: "r1"}},
		"spec": map[string]any{"replicas": float64(3), "strategy": map[string]any{"type": "RollingUpdate"}, "template": map[string]any{"spec": map[string]any{
			"containers": []any{map[string]any{"name": "c", "image": "nginx:2", "imagePullPolicy": "IfNotPresent"}},
		}}},
		"status": map[string]any{"replicas": int64(3)},
	})
	got := differences("deployments.apps", restored, existing)
	want := []string{`metadata.labels.extra: "x" → (none)`, `spec.template.spec.containers[0].image: "nginx:2" → "nginx:1"`}
	equalStrings(t, "differences", got, want)
	if d := differences("deployments.apps", restored, restored); len(d) != 0 {
		t.Errorf("an object differs from itself: %q", d)
	}
}
