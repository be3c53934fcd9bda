package restore

import (
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// madeByKubernetes reports whether obj, found to exist already, is one of
// the objects Kubernetes makes by itself in every namespace (the root CA
// config map, the default service account) and the backup's copy holds
// nothing a user could have set on it. Such an object is skipped without a
// warning, whatever the existing-resource policy: every restore into an
// existing namespace meets them, and the target's own copy is the right
// one (the root CA in particular is the target cluster's). A copy a user
// did change (labels, annotations, image pull secrets, ...) is handled like
// any other existing object, with its warning.
func madeByKubernetes(resource string, obj *unstructured.Unstructured) bool {
	switch {
	case resource == "configmaps" && obj.GetName() == "kube-root-ca.crt":
		return onlyFields(obj, "data")
	case resource == "serviceaccounts" && obj.GetName() == "default":
		// Older clusters listed the token secret they made in .secrets.
		return onlyFields(obj, "secrets")
	}
	return false
}

// onlyFields reports whether obj carries, beyond its identity and what
// Kubernetes or Ark write in metadata, no top-level field but those named.
func onlyFields(obj *unstructured.Unstructured, allowed ...string) bool {
	for k := range obj.Object {
		switch k {
		case "apiVersion", "kind", "metadata":
			continue
		}
		found := false
		for _, a := range allowed {
			found = found || k == a
		}
		if !found {
			return false
		}
	}
	for k := range obj.GetLabels() {
		if !systemKey(k) {
			return false
		}
	}
	for k := range obj.GetAnnotations() {
		if !systemKey(k) {
			return false
		}
	}
	return true
}

// systemKey is a label or annotation Kubernetes, kubectl or Ark set.
func systemKey(k string) bool {
	for _, p := range []string{"kubernetes.io/", "kubectl.kubernetes.io/", "ark.heptio.com/"} {
		if strings.HasPrefix(k, p) {
			return true
		}
	}
	return false
}
