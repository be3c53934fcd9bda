package resourcescope

import (
	"fmt"
	"strings"
	"time"

	"github.com/agnivade/levenshtein"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/sets"
)

// refreshUnknownAfter is how old discovery may be before a name it does not
// know makes it ask again when the answer refuses a request: a CRD created a
// moment ago must not be refused, and a burst of typos must not turn into a
// burst of discovery requests.
const refreshUnknownAfter = 2 * time.Second

// Unknown says why name, as a user wrote it in a filter, names no resource
// of the cluster, with the nearest name it does serve ("did you mean"), or
// "" when the name is accepted. Plural, singular, kind and short names must
// be served; so must names qualified with a Kubernetes group ("apps",
// "*.k8s.io"). A name qualified with any other group is accepted: it may be
// a custom resource whose definition is installed later, or restored by the
// same restore.
func (r *Resolver) Unknown(name string) string {
	name = strings.ToLower(name)
	if name == "" || name == "*" {
		return ""
	}
	if _, group, qualified := strings.Cut(name, "."); qualified && !kubernetesGroup(group) {
		return ""
	}
	served := r.names()
	if served.Has(name) {
		return ""
	}
	r.mu.Lock()
	stale := time.Since(r.fetched) > refreshUnknownAfter
	if stale {
		r.disc.Invalidate()
		r.fetched = time.Now()
	}
	r.mu.Unlock()
	if stale {
		if served = r.names(); served.Has(name) {
			return ""
		}
	}
	msg := fmt.Sprintf("%q is not a resource this cluster serves", name)
	if s := nearest(name, served); s != "" {
		return msg + fmt.Sprintf("; did you mean %q?", s)
	}
	return msg + " (a custom resource whose definition is not installed yet is named by its plural and group, such as \"widgets.example.com\")"
}

// kubernetesGroup reports whether a group belongs to Kubernetes itself,
// where no custom resource can appear later: the groups without a dot
// ("apps", "batch") and those under k8s.io.
func kubernetesGroup(group string) bool {
	return !strings.Contains(group, ".") || group == "k8s.io" || strings.HasSuffix(group, ".k8s.io")
}

// names returns every name the cluster's resources are known by, alone and
// qualified by their group.
func (r *Resolver) names() sets.Set[string] {
	lists, _ := r.disc.ServerPreferredResources()
	r.mu.Lock()
	if r.fetched.IsZero() {
		r.fetched = time.Now()
	}
	r.mu.Unlock()
	out := sets.New[string]()
	Each(lists, func(gv schema.GroupVersion, res metav1.APIResource) {
		for _, n := range Names(res) {
			out.Insert(n)
			if gv.Group != "" {
				out.Insert(n + "." + gv.Group)
			}
		}
	})
	return out
}

// nearest returns the served name closest to a misspelt one, if one is
// close enough to be what was meant: a few edits, fewer for short names.
func nearest(name string, served sets.Set[string]) string {
	best, bestDist := "", max(1, min(3, len(name)/4))+1
	for _, s := range sets.List(served) {
		if d := levenshtein.ComputeDistance(name, s); d < bestDist {
			best, bestDist = s, d
		}
	}
	return best
}
