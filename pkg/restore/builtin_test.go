package restore

import (
	"testing"

	"k8s.io/apimachinery/pkg/types"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
)

// The objects Kubernetes makes in every namespace are skipped without a
// warning when they exist, even with the update policy (the target's root
// CA is the right one), unless a user changed the backed-up copy.
func TestRunSkipsWhatKubernetesMadeQuietly(t *testing.T) {
	for _, policy := range []arkv1.ExistingResourcePolicy{arkv1.ExistingResourcePolicyNone, arkv1.ExistingResourcePolicyUpdate} {
		t.Run(string(policy), func(t *testing.T) {
			f := newFixture(t)
			f.seedNamespace("abc")
			for _, it := range []bItem{configMap("abc", "kube-root-ca.crt"), serviceAccount("abc", "default"), serviceAccount("abc", "changed")} {
				live := it.obj.DeepCopy()
				live.SetUID(types.UID("live-" + it.obj.GetName()))
				live.SetResourceVersion("3")
				f.seed(it.resource, live)
			}
			withPulls := withField(serviceAccount("abc", "default"), []any{map[string]any{"name": "registry"}}, "imagePullSecrets")
			withPulls.obj.SetName("changed")
			f.backup(namespaceItem("abc"),
				withAnnotations(configMap("abc", "kube-root-ca.crt"), map[string]string{"kubernetes.io/description": "Contains a CA bundle"}),
				serviceAccount("abc", "default"),
				withPulls)
			out := f.run(newRestore(func(r *arkv1.Restore) { r.Spec.ExistingResourcePolicy = policy }))
			doc := f.results(testRestore)
			checkSummary(t, doc, out)
			for _, quiet := range [][2]string{{"configmaps", "kube-root-ca.crt"}, {"serviceaccounts", "default"}} {
				if it := doc.want(t, quiet[0], "abc", quiet[1], ActionSkipped); it != nil && it.Reason != "" {
					t.Errorf("%s/%s: skipped with the warning %q", quiet[0], quiet[1], it.Reason)
				}
			}
			if policy == arkv1.ExistingResourcePolicyNone {
				doc.want(t, "serviceaccounts", "abc", "changed", ActionSkipped, "already exists")
				if out.Warnings != 1 {
					t.Errorf("warnings %d, want 1 (the service account a user changed)", out.Warnings)
				}
			}
			for _, u := range f.actions("update") {
				if u.GetResource().Resource == "configmaps" {
					t.Errorf("the target's root CA config map was updated: %v", u)
				}
			}
		})
	}
}
