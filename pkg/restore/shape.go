package restore

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
)

// shaper turns a backed-up object into one that can be created again.
type shaper struct {
	restore, backup string
	// mapping maps source namespaces to target namespaces.
	mapping map[string]string
	// restoredUIDs maps the UIDs of backed-up objects already restored in
	// this restore to their new UIDs, for owner references.
	restoredUIDs map[string]string
	// preserveNodePorts keeps every Service's node ports, as the restore's
	// spec.preserveNodePorts asks.
	preserveNodePorts bool
}

func (s *shaper) target(ns string) string {
	if t, ok := s.mapping[ns]; ok {
		return t
	}
	return ns
}

// shape strips what the API server assigns, remaps namespaces and
// references, and labels the object with the restore and the backup.
func (s *shaper) shape(groupResource string, obj *unstructured.Unstructured) {
	for _, f := range []string{"uid", "resourceVersion", "selfLink", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation", "managedFields"} {
		unstructured.RemoveNestedField(obj.Object, "metadata", f)
	}
	unstructured.RemoveNestedField(obj.Object, "status")
	if ns := obj.GetNamespace(); ns != "" {
		obj.SetNamespace(s.target(ns))
	}
	s.ownerReferences(obj)
	labels := obj.GetLabels()
	if labels == nil {
		labels = map[string]string{}
	}
	labels[arkv1.LabelRestoreName] = labelValue(s.restore)
	labels[arkv1.LabelBackupName] = labelValue(s.backup)
	obj.SetLabels(labels)

	switch groupResource {
	case "namespaces":
		obj.SetName(s.target(obj.GetName()))
		unstructured.RemoveNestedField(obj.Object, "spec", "finalizers")
	case "persistentvolumes":
		if ns, ok, _ := unstructured.NestedString(obj.Object, "spec", "claimRef", "namespace"); ok {
			_ = unstructured.SetNestedField(obj.Object, s.target(ns), "spec", "claimRef", "namespace")
		}
		unstructured.RemoveNestedField(obj.Object, "spec", "claimRef", "uid")
		unstructured.RemoveNestedField(obj.Object, "spec", "claimRef", "resourceVersion")
	case "persistentvolumeclaims":
		annotations := obj.GetAnnotations()
		delete(annotations, "pv.kubernetes.io/bind-completed")
		delete(annotations, "pv.kubernetes.io/bound-by-controller")
		obj.SetAnnotations(annotations)
	case "services":
		s.service(obj)
	case "rolebindings.rbac.authorization.k8s.io", "clusterrolebindings.rbac.authorization.k8s.io":
		s.subjects(obj)
	case "serviceaccounts":
		// Token secrets are per cluster; the token controller makes new ones.
		unstructured.RemoveNestedField(obj.Object, "secrets")
	}
}

// labelValue fits a name into a label value: at most 63 characters that
// start and end with a letter or digit. A longer name is cut and suffixed
// with a hash of the whole, so it stays unique.
func labelValue(name string) string {
	if len(name) <= 63 {
		return name
	}
	sum := sha256.Sum256([]byte(name))
	return strings.TrimRight(name[:52], "-_.") + "-" + hex.EncodeToString(sum[:])[:10]
}

// ownerReferences keeps references to owners restored earlier in this
// restore (with their new UIDs) and drops the rest: a reference to an owner
// that does not exist would have the garbage collector delete the object.
// Controllers adopt orphans that match their selectors, as kubectl users expect.
func (s *shaper) ownerReferences(obj *unstructured.Unstructured) {
	refs := obj.GetOwnerReferences()
	kept := refs[:0]
	for _, ref := range refs {
		if uid, ok := s.restoredUIDs[string(ref.UID)]; ok {
			ref.UID = types.UID(uid)
			kept = append(kept, ref)
		}
	}
	if len(kept) == 0 {
		unstructured.RemoveNestedField(obj.Object, "metadata", "ownerReferences")
		return
	}
	obj.SetOwnerReferences(kept)
}

// service drops the addresses the cluster assigns: a cluster IP (unless the
// service is headless) and node ports, which would collide or be refused.
// Node ports are kept when the restore or the Service's annotation asks, for
// users whose load balancers or firewalls point at fixed ports.
func (s *shaper) service(obj *unstructured.Unstructured) {
	if ip, _, _ := unstructured.NestedString(obj.Object, "spec", "clusterIP"); ip != "None" {
		unstructured.RemoveNestedField(obj.Object, "spec", "clusterIP")
		unstructured.RemoveNestedField(obj.Object, "spec", "clusterIPs")
	}
	if s.preserveNodePorts || obj.GetAnnotations()[PreserveNodePortsAnnotation] == "true" {
		return
	}
	ports, _, _ := unstructured.NestedSlice(obj.Object, "spec", "ports")
	for _, p := range ports {
		if m, ok := p.(map[string]any); ok {
			delete(m, "nodePort")
		}
	}
	if ports != nil {
		_ = unstructured.SetNestedSlice(obj.Object, ports, "spec", "ports")
	}
	unstructured.RemoveNestedField(obj.Object, "spec", "healthCheckNodePort")
}

// PreserveNodePortsAnnotation on a backed-up Service keeps its node ports.
const PreserveNodePortsAnnotation = "ark.heptio.com/preserve-node-ports"

// subjects remaps the namespaces of service accounts a binding names.
func (s *shaper) subjects(obj *unstructured.Unstructured) {
	subjects, _, _ := unstructured.NestedSlice(obj.Object, "subjects")
	for _, sub := range subjects {
		m, ok := sub.(map[string]any)
		if !ok {
			continue
		}
		if ns, ok := m["namespace"].(string); ok && ns != "" {
			m["namespace"] = s.target(ns)
		}
	}
	if subjects != nil {
		_ = unstructured.SetNestedSlice(obj.Object, subjects, "subjects")
	}
}

// finished reports pods and jobs that have run to completion: restoring
// them would only run them again.
func finished(groupResource string, obj *unstructured.Unstructured) bool {
	switch groupResource {
	case "pods":
		phase, _, _ := unstructured.NestedString(obj.Object, "status", "phase")
		return phase == "Succeeded" || phase == "Failed"
	case "jobs.batch":
		if t, _, _ := unstructured.NestedString(obj.Object, "status", "completionTime"); t != "" {
			return true
		}
		conds, _, _ := unstructured.NestedSlice(obj.Object, "status", "conditions")
		for _, c := range conds {
			m, _ := c.(map[string]any)
			if (m["type"] == "Complete" || m["type"] == "Failed") && m["status"] == "True" {
				return true
			}
		}
	}
	return false
}
