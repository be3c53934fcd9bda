package restore

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
	"github.com/arkproject/ark/pkg/restore/modifiers"
)

// resourceModifiers reads and parses the rules the restore names, as the
// requester (through Dynamic): a restore never reads a ConfigMap its
// requester could not.
func (r *Restorer) resourceModifiers(ctx context.Context, restore *arkv1.Restore) (*modifiers.Set, error) {
	ref := restore.Spec.ResourceModifier
	if ref == nil {
		return nil, nil
	}
	cm, err := r.Dynamic.Resource(corev1.SchemeGroupVersion.WithResource("configmaps")).Namespace(restore.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("reading the resource modifiers, ConfigMap %s/%s, as %s: %w", restore.Namespace, ref.Name, restore.Spec.Requester.Username, err)
	}
	data, _, err := unstructured.NestedStringMap(cm.Object, "data")
	if err != nil {
		return nil, fmt.Errorf("reading the resource modifiers, ConfigMap %s/%s: %w", restore.Namespace, ref.Name, err)
	}
	set, err := modifiers.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("the resource modifiers in ConfigMap %s/%s: %w", restore.Namespace, ref.Name, err)
	}
	return set, nil
}

// modify applies the resource modifier rules to a shaped object, and says
// which applied. A rule may change what is restored, never where or what it
// is: the rights checks, the namespace confinement and the results are all
// about the object's resource, namespace and name, which must stay as the
// restore chose them.
func (r *run) modify(kind string, obj *unstructured.Unstructured) ([]string, error) {
	if r.modifiers == nil {
		return nil, nil
	}
	before := []string{obj.GetAPIVersion(), obj.GetKind(), obj.GetNamespace(), obj.GetName()}
	applied, err := r.modifiers.Apply(kind, obj)
	if err != nil {
		return nil, err
	}
	after := []string{obj.GetAPIVersion(), obj.GetKind(), obj.GetNamespace(), obj.GetName()}
	for i, f := range []string{"apiVersion", "kind", "metadata.namespace", "metadata.name"} {
		if before[i] != after[i] {
			return nil, fmt.Errorf("resource modifiers %v changed %s from %q to %q, which a modifier may not change", applied, f, before[i], after[i])
		}
	}
	return applied, nil
}
