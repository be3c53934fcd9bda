package restore

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
	"github.com/arkproject/ark/pkg/restore/archive"
)

// A preview (spec.preview) runs a restore's every step but sends each write
// with dryRun=All: the API server validates, admits and authorizes it as it
// would the real one, and persists nothing. Items then end in one of these
// actions rather than the restore's own.
const (
	ActionWouldCreate   = "wouldCreate"
	ActionWouldUpdate   = "wouldUpdate"
	ActionWouldSkip     = "wouldSkip"
	ActionWouldConflict = "wouldConflict"
	ActionWouldBeDenied = "wouldBeDenied"
	ActionWouldFail     = "wouldFail"
	// actionConflict is an existing object that differs from the backed-up
	// one under the policy "none": only a preview looks, and reports it.
	actionConflict = "conflict"
)

// previewAction is what a restore's action on an item becomes in a preview.
func previewAction(res ItemResult) string {
	switch res.Action {
	case ActionCreated:
		return ActionWouldCreate
	case ActionUpdated:
		return ActionWouldUpdate
	case ActionSkipped:
		return ActionWouldSkip
	case actionConflict:
		return ActionWouldConflict
	case ActionFailed:
		if res.denied {
			return ActionWouldBeDenied
		}
		return ActionWouldFail
	}
	return res.Action
}

// dryRun is the dryRun option of every write a preview sends.
func (r *run) dryRun() []string {
	if r.restore.Spec.Preview {
		return []string{metav1.DryRunAll}
	}
	return nil
}

func (r *run) createOptions() metav1.CreateOptions {
	return metav1.CreateOptions{FieldManager: "ark-restore", DryRun: r.dryRun()}
}

func (r *run) updateOptions() metav1.UpdateOptions {
	return metav1.UpdateOptions{FieldManager: "ark-restore", DryRun: r.dryRun()}
}

func (r *run) patchOptions() metav1.PatchOptions {
	return metav1.PatchOptions{FieldManager: "ark-restore", DryRun: r.dryRun()}
}

// maxDiffs bounds the differences a conflict lists: enough to see what
// differs, not the whole object.
const maxDiffs = 8

// differences lists the fields where the cluster's object differs from what
// the restore would write, as "path: cluster value → backed-up value".
// Only the fields the restore writes are compared: what the API server
// adds (defaults, assigned addresses, status) is not a difference, and nor
// are the labels that name the restore and backup, which every restore
// changes. Nothing different means restoring the item changes nothing. A
// Secret's values are never printed: the results are no way to read them.
func differences(resource string, restored, existing *unstructured.Unstructured) []string {
	var out []string
	add := func(path string, cluster, backup any) {
		if resource == "secrets" && !strings.HasPrefix(path, "metadata.") {
			out = append(out, path+" differs")
			return
		}
		out = append(out, fmt.Sprintf("%s: %s → %s", path, short(cluster), short(backup)))
	}
	for k, v := range restored.Object {
		switch k {
		case "apiVersion", "kind", "status":
			continue
		case "metadata":
			m, _ := v.(map[string]any)
			for _, f := range []string{"labels", "annotations"} {
				want, _ := m[f].(map[string]any)
				have, _, _ := unstructured.NestedMap(existing.Object, "metadata", f)
				if f == "labels" {
					want, have = withoutArkLabels(want), withoutArkLabels(have)
				}
				diffMaps("metadata."+f, want, have, add)
			}
			continue
		}
		diffValue(k, v, existing.Object[k], add)
	}
	sort.Strings(out)
	if len(out) > maxDiffs {
		out = append(out[:maxDiffs], fmt.Sprintf("… and %d more", len(out)-maxDiffs))
	}
	return out
}

// diffMaps compares two string maps (labels, annotations) both ways: an
// extra label on the cluster's object is a difference too.
func diffMaps(path string, want, have map[string]any, add func(string, any, any)) {
	for k, v := range want {
		if hv, ok := have[k]; !ok || !reflect.DeepEqual(hv, v) {
			add(path+"."+k, have[k], v)
		}
	}
	for k, v := range have {
		if _, ok := want[k]; !ok {
			add(path+"."+k, v, nil)
		}
	}
}

// diffValue compares what the restore writes at path with the cluster's
// value: maps field by field (fields only the cluster has are its own
// defaults), lists item by item when they are as long, anything else as is.
func diffValue(path string, want, have any, add func(string, any, any)) {
	switch w := want.(type) {
	case map[string]any:
		h, ok := have.(map[string]any)
		if !ok {
			add(path, have, want)
			return
		}
		for k, v := range w {
			diffValue(path+"."+k, v, h[k], add)
		}
	case []any:
		h, ok := have.([]any)
		if !ok || len(h) != len(w) {
			add(path, have, want)
			return
		}
		for i := range w {
			diffValue(fmt.Sprintf("%s[%d]", path, i), w[i], h[i], add)
		}
	default:
		if want == nil && have == nil {
			return
		}
		if !reflect.DeepEqual(normalNumber(want), normalNumber(have)) {
			add(path, have, want)
		}
	}
}

// normalNumber makes 3 and 3.0 equal: JSON decoders disagree on which they give.
func normalNumber(v any) any {
	switch n := v.(type) {
	case int64:
		return float64(n)
	case int:
		return float64(n)
	case int32:
		return float64(n)
	}
	return v
}

func withoutArkLabels(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		if k != arkv1.LabelRestoreName && k != arkv1.LabelBackupName {
			out[k] = v
		}
	}
	return out
}

// short prints a value for a diff, cut to a line: a conflict says what
// differs, not what a whole ConfigMap holds.
func short(v any) string {
	if v == nil {
		return "(none)"
	}
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	s := string(data)
	if len(s) > 60 {
		s = s[:57] + "..."
	}
	return strings.ReplaceAll(s, "\n", " ")
}

// wouldDefine reports a resource whose definition a preview found it would
// create: the cluster does not serve it, and this restore would make it.
func (r *run) wouldDefine(kind string) bool {
	if !r.restore.Spec.Preview {
		return false
	}
	r.uidMu.Lock()
	defer r.uidMu.Unlock()
	return r.previewDefined.Has(kind)
}

// wouldCreateNamespace reports a target namespace a preview found missing:
// a restore would create it first.
func (r *run) wouldCreateNamespace(ns string) bool {
	if !r.restore.Spec.Preview {
		return false
	}
	r.nsMu.Lock()
	defer r.nsMu.Unlock()
	return r.previewNamespaces.Has(ns)
}

// previewUndefined previews a custom resource whose definition the restore
// would create first. The API server cannot dry-run an object of a
// resource it does not serve: the filters and the requester's rights are
// all that can be checked, and the result says so.
func (r *run) previewUndefined(ctx context.Context, kind string, it archive.Item) ItemResult {
	res := ItemResult{Resource: kind, Namespace: r.shaper.target(it.Namespace), Name: it.Name}
	if it.Namespace != "" && res.Namespace != it.Namespace {
		res.SourceNamespace = it.Namespace
	}
	data, err := it.Content()
	if err != nil {
		res.Action, res.Reason = ActionFailed, fmt.Sprintf("reading the backed-up object: %v", err)
		return res
	}
	obj := &unstructured.Unstructured{}
	if err := obj.UnmarshalJSON(data); err != nil {
		res.Action, res.Reason = ActionFailed, fmt.Sprintf("decoding the backed-up object: %v", err)
		return res
	}
	if !r.selector.Matches(labels.Set(obj.GetLabels())) {
		return ItemResult{}
	}
	if r.confined && res.Namespace != r.restore.Namespace {
		res.Action, res.Reason = ActionFailed, fmt.Sprintf("a restore in namespace %s may only restore into %s, not %s", r.restore.Namespace, r.restore.Namespace, scopeName(res.Namespace))
		return res
	}
	resource, group, _ := strings.Cut(kind, ".")
	user := r.restore.Spec.Requester.Username
	allowed, reason, err := r.Access.CanCreate(ctx, r.restore.Spec.Requester, schema.GroupResource{Group: group, Resource: resource}, res.Namespace)
	switch {
	case err != nil:
		res.Action, res.Reason = ActionFailed, fmt.Sprintf("checking whether %s may create %s: %v", user, kind, err)
	case !allowed:
		res.Action, res.Reason, res.denied = ActionFailed, fmt.Sprintf("%s may not create %s in %s: %s", user, kind, scopeName(res.Namespace), reason), true
	default:
		res.Action, res.Note = ActionCreated, fmt.Sprintf("its definition would be created by this restore first, so only %s's rights were checked, not the API server's dry run", user)
	}
	return res
}
