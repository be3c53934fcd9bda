package restore

import (
	"context"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
)

func (f *fixture) seedRules(name, rules string) {
	f.seed("configmaps", &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": name, "namespace": homeNS},
		"data":     map[string]any{"rules.yaml": rules},
	}})
}

func withModifiers(name string) func(*arkv1.Restore) {
	return func(r *arkv1.Restore) {
		r.Spec.ResourceModifier = &arkv1.ResourceModifierReference{Kind: "ConfigMap", Name: name}
	}
}

// TestResourceModifiersShapeWhatIsCreated: the rules change what is sent to
// the API server, and each item's result names the rules applied to it.
func TestResourceModifiersShapeWhatIsCreated(t *testing.T) {
	f := newFixture(t)
	f.seedNamespace("shop")
	f.seedRules("mods", `
version: v1
resourceModifierRules:
- name: premium storage
  conditions: {groupResource: persistentvolumeclaims, namespaces: [shop]}
  patches: [{operation: add, path: /spec/storageClassName, value: premium}]
- name: quiet
  conditions: {groupResource: configmaps, resourceNameRegex: "^a$"}
  mergePatches: [{patchData: '{"metadata":{"annotations":{"noisy":null}},"data":{"extra":"yes"}}'}]
`)
	f.backup(pvc("shop", "data", ""), withAnnotations(configMap("shop", "a"), map[string]string{"noisy": "1", "kept": "2"}), configMap("shop", "b"))
	f.run(newRestore(withModifiers("mods"), func(r *arkv1.Restore) { r.Spec.RestorePVs = ptr(false) }))

	if class, _, _ := unstructured.NestedString(f.sent("persistentvolumeclaims shop/data").Object, "spec", "storageClassName"); class != "premium" {
		t.Errorf("the claim was created with class %q", class)
	}
	a := f.sent("configmaps shop/a")
	if ann := a.GetAnnotations(); ann["noisy"] != "" || ann["kept"] != "2" {
		t.Errorf("annotations of a: %v", ann)
	}
	if v, _, _ := unstructured.NestedString(a.Object, "data", "extra"); v != "yes" {
		t.Errorf("data of a: %v", a.Object["data"])
	}
	if a.GetLabels()[arkv1.LabelRestoreName] != testRestore {
		t.Errorf("the restore's label is gone: %v", a.GetLabels())
	}
	doc := f.results(testRestore)
	for key, want := range map[string]string{"persistentvolumeclaims data": "premium storage", "configmaps a": "quiet", "configmaps b": ""} {
		kind, name, _ := strings.Cut(key, " ")
		it := doc.want(t, kind, "shop", name, ActionCreated)
		if it != nil && strings.Join(it.Modifiers, ",") != want {
			t.Errorf("%s: modifiers %q, want %q", key, it.Modifiers, want)
		}
	}
	if logs := f.logs(testRestore); !strings.Contains(logs, "configmaps shop/a: modified by quiet") {
		t.Errorf("the log does not name the rule applied:\n%s", logs)
	}
}

// A rule may not move an object to another namespace or name: the rights
// were checked, and the namespace confined, for the one the restore chose.
func TestResourceModifierMayNotMoveAnObject(t *testing.T) {
	f := newFixture(t)
	f.seedNamespace("shop")
	f.seedRules("mods", `
version: v1
resourceModifierRules:
- name: escape
  conditions: {groupResource: configmaps}
  patches: [{operation: replace, path: /metadata/namespace, value: kube-system}]
- name: rename
  conditions: {groupResource: secrets}
  patches: [{operation: replace, path: /metadata/name, value: other}]
`)
	f.backup(configMap("shop", "a"), secret("shop", "s"))
	f.run(newRestore(withModifiers("mods")))
	doc := f.results(testRestore)
	doc.want(t, "configmaps", "shop", "a", ActionFailed, `changed metadata.namespace from "shop" to "kube-system", which a modifier may not change`)
	doc.want(t, "secrets", "shop", "s", ActionFailed, `changed metadata.name from "s" to "other"`)
	if created := f.createdKeys(); len(created) != 0 {
		t.Errorf("created %v", created)
	}
}

// Rules that are gone or broken when the restore runs fail it before
// anything is created.
func TestResourceModifiersMissingOrBrokenFailTheRestore(t *testing.T) {
	for _, tc := range []struct {
		name, rules, want string
	}{
		{"missing", "", `reading the resource modifiers, ConfigMap ark/mods, as alice`},
		{"broken", "version: v1\nresourceModifierRules: [{conditions: {groupResource: pods}}]", "has no patches"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			if tc.rules != "" {
				f.seedRules("mods", tc.rules)
			}
			f.backup(configMap("shop", "a"))
			_, err := f.restorer.Run(context.Background(), newRestore(withModifiers("mods")), testBackup, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want it to contain %q", err, tc.want)
			}
			if created := f.createdKeys(); len(created) != 0 {
				t.Errorf("created %v", created)
			}
		})
	}
}
