package modifiers

import (
	"encoding/json"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func parse(t *testing.T, rules string) *Set {
	t.Helper()
	s, err := Parse(map[string]string{"rules.yaml": rules})
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return s
}

func object(t *testing.T, json string) *unstructured.Unstructured {
	t.Helper()
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON([]byte(json)); err != nil {
		t.Fatal(err)
	}
	return u
}

func field(t *testing.T, u *unstructured.Unstructured, path ...string) any {
	t.Helper()
	v, _, err := unstructured.NestedFieldNoCopy(u.Object, path...)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

const claim = `{"apiVersion":"v1","kind":"PersistentVolumeClaim","metadata":{"name":"data-db-0","namespace":"shop","labels":{"tier":"db"}},
 "spec":{"storageClassName":"standard","accessModes":["ReadWriteOnce"],"resources":{"requests":{"storage":"1Gi"}}}}`

const deployment = `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","namespace":"shop","annotations":{"legacy":"yes","keep":"me"}},
 "spec":{"replicas":3,"selector":{"matchLabels":{"app":"web"}},"template":{"metadata":{"labels":{"app":"web"}},
  "spec":{"containers":[{"name":"web","image":"registry.old.example/web:1.2"},{"name":"sidecar","image":"registry.old.example/proxy:3"}]}}}}`

// The uses the issue names: a claim's storage class, an image registry, an
// annotation dropped, a Deployment scaled to zero.
func TestTypicalUses(t *testing.T) {
	s := parse(t, `
version: v1
resourceModifierRules:
- name: premium storage
  conditions:
    groupResource: persistentvolumeclaims
    resourceNameRegex: "^data-"
    namespaces: [shop]
    labelSelector: {matchLabels: {tier: db}}
    matches: [{path: /spec/storageClassName, value: standard}]
  patches:
  - {operation: replace, path: /spec/storageClassName, value: premium}
- name: new registry
  conditions: {groupResource: deployments.apps}
  strategicPatches:
  - patchData: |
      spec:
        template:
          spec:
            containers:
            - {name: web, image: registry.new.example/web:1.2}
- name: no legacy annotation, no replicas
  conditions: {groupResource: deployments.apps, namespaces: [shop]}
  mergePatches:
  - patchData: '{"metadata":{"annotations":{"legacy":null}}}'
  patches:
  - {operation: replace, path: /spec/replicas, value: "0"}
`)
	pvc := object(t, claim)
	applied, err := s.Apply("persistentvolumeclaims", pvc)
	if err != nil {
		t.Fatal(err)
	}
	if got := field(t, pvc, "spec", "storageClassName"); got != "premium" || strings.Join(applied, ",") != "premium storage" {
		t.Errorf("claim: storage class %v, rules %q", got, applied)
	}
	// Applied again, the claim no longer matches (its class is premium).
	if applied, _ := s.Apply("persistentvolumeclaims", pvc); len(applied) != 0 {
		t.Errorf("a rule whose match no longer holds applied: %q", applied)
	}

	d := object(t, deployment)
	applied, err = s.Apply("deployments.apps", d)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(applied, ",") != "new registry,no legacy annotation, no replicas" {
		t.Errorf("deployment rules %q", applied)
	}
	containers := field(t, d, "spec", "template", "spec", "containers").([]any)
	if img := containers[0].(map[string]any)["image"]; img != "registry.new.example/web:1.2" {
		t.Errorf("web image %v", img)
	}
	if img := containers[1].(map[string]any)["image"]; img != "registry.old.example/proxy:3" || len(containers) != 2 {
		t.Errorf("the strategic patch did not merge the containers by name: %v", containers)
	}
	if got := d.GetAnnotations(); got["legacy"] != "" || got["keep"] != "me" {
		t.Errorf("annotations %v", got)
	}
	if got := field(t, d, "spec", "replicas"); got != int64(0) {
		t.Errorf("replicas %v (%T), want the number 0", got, got)
	}
}

func TestConditionsThatDoNotHold(t *testing.T) {
	s := parse(t, `
version: v1
resourceModifierRules:
- conditions: {groupResource: persistentvolumeclaims, namespaces: [other]}
  patches: [{operation: replace, path: /spec/storageClassName, value: x}]
- conditions: {groupResource: persistentvolumeclaims, resourceNameRegex: "^logs-"}
  patches: [{operation: replace, path: /spec/storageClassName, value: x}]
- conditions: {groupResource: persistentvolumeclaims, labelSelector: {matchLabels: {tier: web}}}
  patches: [{operation: replace, path: /spec/storageClassName, value: x}]
- conditions: {groupResource: persistentvolumeclaims, matches: [{path: /spec/volumeMode, value: Block}]}
  patches: [{operation: replace, path: /spec/storageClassName, value: x}]
- conditions: {groupResource: configmaps}
  patches: [{operation: replace, path: /spec/storageClassName, value: x}]
`)
	pvc := object(t, claim)
	applied, err := s.Apply("persistentvolumeclaims", pvc)
	if err != nil || len(applied) != 0 || field(t, pvc, "spec", "storageClassName") != "standard" {
		t.Errorf("rules applied %q (err %v), class %v", applied, err, field(t, pvc, "spec", "storageClassName"))
	}
}

// A patch that cannot apply fails the item with the rule's name, and leaves
// the object as it was.
func TestPatchErrorsNameTheRule(t *testing.T) {
	s := parse(t, `
version: v1
resourceModifierRules:
- name: first
  conditions: {groupResource: "*"}
  mergePatches: [{patchData: '{"metadata":{"labels":{"moved":"yes"}}}'}]
- name: bad path
  conditions: {groupResource: "*"}
  patches: [{operation: remove, path: /spec/notThere}]
`)
	pvc := object(t, claim)
	if _, err := s.Apply("persistentvolumeclaims", pvc); err == nil || !strings.Contains(err.Error(), "resource modifier bad path") {
		t.Errorf("err = %v", err)
	}
	if pvc.GetLabels()["moved"] != "" {
		t.Errorf("a failed set of rules changed the object: %v", pvc.GetLabels())
	}
	w := object(t, `{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w"},"spec":{"size":1}}`)
	s = parse(t, `{"version":"v1","resourceModifierRules":[{"conditions":{"groupResource":"widgets.example.com"},"strategicPatches":[{"patchData":"{\"spec\":{\"size\":2}}"}]}]}`)
	if _, err := s.Apply("widgets.example.com", w); err == nil || !strings.Contains(err.Error(), "use mergePatches") {
		t.Errorf("a strategic patch of a custom resource: err = %v", err)
	}
}

func TestParseRefusesMalformedRules(t *testing.T) {
	for _, tc := range []struct {
		name string
		data map[string]string
		want string
	}{
		{"two keys", map[string]string{"a": "", "b": ""}, "exactly one data key"},
		{"not yaml", map[string]string{"r": "version: [v1"}, "not valid YAML"},
		{"unknown field", map[string]string{"r": "version: v1\nresourceModifierRules: [{conditions: {groupResource: pods}, patchs: []}]"}, "unknown field"},
		{"version", map[string]string{"r": "version: v2\nresourceModifierRules: []"}, `version is "v2"`},
		{"no rules", map[string]string{"r": "version: v1"}, "resourceModifierRules is empty"},
		{"no group resource", map[string]string{"r": "version: v1\nresourceModifierRules: [{conditions: {}, mergePatches: [{patchData: '{}'}]}]"}, "conditions.groupResource is required"},
		{"bad regex", map[string]string{"r": "version: v1\nresourceModifierRules: [{conditions: {groupResource: pods, resourceNameRegex: '('}, mergePatches: [{patchData: '{}'}]}]"}, "resourceNameRegex"},
		{"bad selector", map[string]string{"r": "version: v1\nresourceModifierRules: [{conditions: {groupResource: pods, labelSelector: {matchExpressions: [{key: a, operator: Near}]}}, mergePatches: [{patchData: '{}'}]}]"}, "labelSelector"},
		{"no patches", map[string]string{"r": "version: v1\nresourceModifierRules: [{conditions: {groupResource: pods}}]"}, "has no patches"},
		{"bad operation", map[string]string{"r": "version: v1\nresourceModifierRules: [{conditions: {groupResource: pods}, patches: [{operation: upsert, path: /a}]}]"}, `operation "upsert"`},
		{"relative path", map[string]string{"r": "version: v1\nresourceModifierRules: [{conditions: {groupResource: pods}, patches: [{operation: remove, path: spec/a}]}]"}, "not a JSON Pointer"},
		{"replace without value", map[string]string{"r": "version: v1\nresourceModifierRules: [{conditions: {groupResource: pods}, patches: [{operation: replace, path: /a}]}]"}, "needs a value"},
		{"patch not an object", map[string]string{"r": "version: v1\nresourceModifierRules: [{conditions: {groupResource: pods}, mergePatches: [{patchData: '[1]'}]}]"}, "must be a JSON or YAML object"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(tc.data)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestValueReadsVeleroStrings(t *testing.T) {
	for raw, want := range map[string]any{`"0"`: float64(0), `0`: float64(0), `"premium"`: "premium", `"\"3\""`: "3", `"true"`: true, `"{\"a\":1}"`: map[string]any{"a": float64(1)}, `null`: nil} {
		got := value([]byte(raw))
		if !jsonEqual(got, want) {
			t.Errorf("value(%s) = %#v, want %#v", raw, got, want)
		}
	}
}

func jsonEqual(a, b any) bool {
	ja, errA := json.Marshal(a)
	jb, errB := json.Marshal(b)
	return errA == nil && errB == nil && string(ja) == string(jb)
}
