// Package modifiers reads the resource modifier rules a restore names
// (spec.resourceModifier, a ConfigMap in the restore's namespace) and applies
// them to the objects a restore is about to create: change a claim's storage
// class, point images at another registry, drop an annotation, scale a
// Deployment to zero. The format is the one Velero users know:
//
//	version: v1
//	resourceModifierRules:
//	- conditions:
//	    groupResource: persistentvolumeclaims
//	    resourceNameRegex: "^data-"
//	    namespaces: [shop]
//	    labelSelector: {matchLabels: {tier: db}}
//	    matches: [{path: /spec/storageClassName, value: standard}]
//	  patches:          # JSON Patch (RFC 6902)
//	  - {operation: replace, path: /spec/storageClassName, value: premium}
//	  mergePatches:     # JSON Merge Patch (RFC 7386)
//	  - patchData: '{"metadata":{"annotations":{"legacy":null}}}'
//	  strategicPatches: # Kubernetes strategic merge patch (built-in kinds)
//	  - patchData: '{"spec":{"template":{"spec":{"containers":[{"name":"app","image":"mirror/app:1"}]}}}}'
//
// The rules are parsed and checked whole before a restore starts, so a
// malformed rule is a 422 on create, not a half-done restore. Nothing here
// reads the cluster: callers fetch the ConfigMap as the requester.
package modifiers

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"

	jsonpatch "github.com/evanphx/json-patch/v5"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/yaml"
)

// Document is a ConfigMap's rules as written.
type Document struct {
	// Version is "v1".
	Version string `json:"version"`
	Rules   []Rule `json:"resourceModifierRules"`
}

// Rule patches the objects its conditions select.
type Rule struct {
	// Name names the rule in the restore's results; the default is
	// "rule N" (N from 1), in the order written.
	Name             string      `json:"name,omitempty"`
	Conditions       Conditions  `json:"conditions"`
	Patches          []JSONPatch `json:"patches,omitempty"`
	MergePatches     []PatchData `json:"mergePatches,omitempty"`
	StrategicPatches []PatchData `json:"strategicPatches,omitempty"`
}

// Conditions select objects; every condition given must hold.
type Conditions struct {
	// GroupResource is "configmaps", "deployments.apps", ... or "*".
	GroupResource string `json:"groupResource"`
	// ResourceNameRegex matches the object's name (RE2 syntax).
	ResourceNameRegex string `json:"resourceNameRegex,omitempty"`
	// Namespaces are the namespaces the objects are restored into (after
	// namespace mapping); empty means any, cluster-scoped objects included.
	Namespaces    []string              `json:"namespaces,omitempty"`
	LabelSelector *metav1.LabelSelector `json:"labelSelector,omitempty"`
	// Matches compare a field of the object (a JSON Pointer) with a value.
	Matches []Match `json:"matches,omitempty"`
}

// Match holds when the field at Path equals Value.
type Match struct {
	Path  string          `json:"path"`
	Value json.RawMessage `json:"value"`
}

// JSONPatch is one JSON Patch operation.
type JSONPatch struct {
	Operation string          `json:"operation"`
	From      string          `json:"from,omitempty"`
	Path      string          `json:"path"`
	Value     json.RawMessage `json:"value,omitempty"`
}

// PatchData is a merge or strategic merge patch, as JSON or YAML.
type PatchData struct {
	PatchData string `json:"patchData"`
}

type compiledRule struct {
	name          string
	groupResource string
	namespaces    []string
	nameRE        *regexp.Regexp
	selector      labels.Selector
	test          jsonpatch.Patch // the matches, as JSON Patch "test" operations
	jsonPatch     jsonpatch.Patch
	merges        [][]byte
	strategic     [][]byte
}

// Set is a parsed, checked set of rules.
type Set struct {
	rules []*compiledRule
}

// Parse reads the rules of a ConfigMap's data, which must hold exactly one
// key (its name is free). Every error names the rule and the field.
func Parse(data map[string]string) (*Set, error) {
	if len(data) != 1 {
		keys := make([]string, 0, len(data))
		for k := range data {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		return nil, fmt.Errorf("the ConfigMap must hold exactly one data key with the rules, not %d %q", len(data), keys)
	}
	var text string
	for _, v := range data {
		text = v
	}
	var doc Document
	if err := yaml.UnmarshalStrict([]byte(text), &doc); err != nil {
		return nil, fmt.Errorf("the rules are not valid YAML or JSON of the expected shape: %w", err)
	}
	if doc.Version != "v1" {
		return nil, fmt.Errorf("version is %q; the only version is v1", doc.Version)
	}
	if len(doc.Rules) == 0 {
		return nil, errors.New("resourceModifierRules is empty")
	}
	set := &Set{}
	for i := range doc.Rules {
		c, err := compile(i, &doc.Rules[i])
		if err != nil {
			return nil, err
		}
		set.rules = append(set.rules, c)
	}
	return set, nil
}

func compile(i int, r *Rule) (*compiledRule, error) {
	c := &compiledRule{name: r.Name, groupResource: r.Conditions.GroupResource, namespaces: r.Conditions.Namespaces}
	if c.name == "" {
		c.name = fmt.Sprintf("rule %d", i+1)
	}
	fail := func(format string, args ...any) (*compiledRule, error) {
		return nil, fmt.Errorf("resourceModifierRules[%d] (%s): %s", i, c.name, fmt.Sprintf(format, args...))
	}
	gr := r.Conditions.GroupResource
	if gr == "" {
		return fail("conditions.groupResource is required (e.g. persistentvolumeclaims, deployments.apps, or *)")
	}
	if gr != "*" && (strings.ToLower(gr) != gr || strings.ContainsAny(gr, " /")) {
		return fail("conditions.groupResource %q is not a lower-case resource[.group]", gr)
	}
	if re := r.Conditions.ResourceNameRegex; re != "" {
		compiled, err := regexp.Compile(re)
		if err != nil {
			return fail("conditions.resourceNameRegex: %v", err)
		}
		c.nameRE = compiled
	}
	c.selector = labels.Everything()
	if ls := r.Conditions.LabelSelector; ls != nil {
		sel, err := metav1.LabelSelectorAsSelector(ls)
		if err != nil {
			return fail("conditions.labelSelector: %v", err)
		}
		c.selector = sel
	}
	var tests []map[string]any
	for j, m := range r.Conditions.Matches {
		if !strings.HasPrefix(m.Path, "/") {
			return fail("conditions.matches[%d].path %q is not a JSON Pointer (it starts with /)", j, m.Path)
		}
		tests = append(tests, map[string]any{"op": "test", "path": m.Path, "value": value(m.Value)})
	}
	var err error
	if c.test, err = decodePatch(tests); err != nil {
		return fail("conditions.matches: %v", err)
	}
	if len(r.Patches)+len(r.MergePatches)+len(r.StrategicPatches) == 0 {
		return fail("the rule has no patches, mergePatches or strategicPatches")
	}
	var ops []map[string]any
	for j, p := range r.Patches {
		op := map[string]any{"op": p.Operation, "path": p.Path}
		switch p.Operation {
		case "add", "replace", "test":
			if p.Value == nil {
				return fail("patches[%d]: %s needs a value", j, p.Operation)
			}
			op["value"] = value(p.Value)
		case "remove":
		case "move", "copy":
			if !strings.HasPrefix(p.From, "/") {
				return fail("patches[%d]: %s needs from, a JSON Pointer", j, p.Operation)
			}
			op["from"] = p.From
		default:
			return fail("patches[%d].operation %q is not one of add, remove, replace, move, copy, test", j, p.Operation)
		}
		if !strings.HasPrefix(p.Path, "/") {
			return fail("patches[%d].path %q is not a JSON Pointer (it starts with /)", j, p.Path)
		}
		ops = append(ops, op)
	}
	if c.jsonPatch, err = decodePatch(ops); err != nil {
		return fail("patches: %v", err)
	}
	for j, p := range r.MergePatches {
		data, err := patchJSON(p.PatchData)
		if err != nil {
			return fail("mergePatches[%d].patchData: %v", j, err)
		}
		c.merges = append(c.merges, data)
	}
	for j, p := range r.StrategicPatches {
		data, err := patchJSON(p.PatchData)
		if err != nil {
			return fail("strategicPatches[%d].patchData: %v", j, err)
		}
		c.strategic = append(c.strategic, data)
	}
	return c, nil
}

// value reads a patch value. Velero writes values as strings, and a string
// that is itself JSON (a number, true, false, null, an object, an array or a
// quoted string) stands for that JSON value, so `value: "0"` sets the
// number 0 and `value: '"0"'` the string "0"; any other value is taken as
// written.
func value(raw json.RawMessage) any {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil
	}
	s, ok := v.(string)
	if !ok {
		return v
	}
	var inner any
	if err := json.Unmarshal([]byte(s), &inner); err == nil {
		return inner
	}
	return s
}

func decodePatch(ops []map[string]any) (jsonpatch.Patch, error) {
	if len(ops) == 0 {
		return nil, nil
	}
	data, err := json.Marshal(ops)
	if err != nil {
		return nil, err
	}
	return jsonpatch.DecodePatch(data)
}

// patchData reads a merge patch written as JSON or YAML; it must be an object.
func patchJSON(text string) ([]byte, error) {
	data, err := yaml.YAMLToJSON([]byte(text))
	if err != nil {
		return nil, err
	}
	var obj map[string]any
	if err := json.Unmarshal(data, &obj); err != nil || obj == nil {
		return nil, errors.New("a patch must be a JSON or YAML object")
	}
	return data, nil
}

// Len is the number of rules.
func (s *Set) Len() int { return len(s.rules) }

// Apply runs every rule that selects obj, in order, each on the result of
// the ones before, and returns the names of those applied. groupResource
// is the object's resource as Ark names it ("deployments.apps"). On error,
// obj is unchanged, and the error names the rule.
func (s *Set) Apply(groupResource string, obj *unstructured.Unstructured) ([]string, error) {
	if s == nil || len(s.rules) == 0 {
		return nil, nil
	}
	doc, err := obj.MarshalJSON()
	if err != nil {
		return nil, err
	}
	var applied []string
	for _, r := range s.rules {
		if !r.selects(groupResource, obj.GetNamespace(), obj.GetName(), obj.GetLabels(), doc) {
			continue
		}
		if doc, err = r.apply(doc, obj.GroupVersionKind()); err != nil {
			return nil, fmt.Errorf("resource modifier %s: %w", r.name, err)
		}
		applied = append(applied, r.name)
	}
	if len(applied) == 0 {
		return nil, nil
	}
	patched := &unstructured.Unstructured{}
	if err := patched.UnmarshalJSON(doc); err != nil {
		return nil, fmt.Errorf("resource modifiers %s left an object that is not one: %w", strings.Join(applied, ", "), err)
	}
	obj.Object = patched.Object
	return applied, nil
}

func (r *compiledRule) selects(gr, ns, name string, objLabels map[string]string, doc []byte) bool {
	if r.groupResource != "*" && r.groupResource != gr {
		return false
	}
	if r.nameRE != nil && !r.nameRE.MatchString(name) {
		return false
	}
	if len(r.namespaces) > 0 && !slices.Contains(r.namespaces, ns) {
		return false
	}
	if !r.selector.Matches(labels.Set(objLabels)) {
		return false
	}
	if r.test != nil {
		if _, err := r.test.Apply(doc); err != nil {
			// A failed test is a condition that does not hold; a
			// missing field is one too.
			return false
		}
	}
	return true
}

func (r *compiledRule) apply(doc []byte, gvk schema.GroupVersionKind) ([]byte, error) {
	var err error
	if r.jsonPatch != nil {
		if doc, err = r.jsonPatch.Apply(doc); err != nil {
			return nil, fmt.Errorf("JSON patch: %w", err)
		}
	}
	for _, m := range r.merges {
		if doc, err = jsonpatch.MergePatch(doc, m); err != nil {
			return nil, fmt.Errorf("merge patch: %w", err)
		}
	}
	if len(r.strategic) > 0 {
		typed, err := scheme.Scheme.New(gvk)
		if err != nil {
			return nil, fmt.Errorf("a strategic merge patch needs a built-in kind, and %s is not one: use mergePatches", gvk.Kind)
		}
		for _, p := range r.strategic {
			if doc, err = strategicpatch.StrategicMergePatch(doc, p, typed); err != nil {
				return nil, fmt.Errorf("strategic merge patch: %w", err)
			}
		}
	}
	return doc, nil
}
