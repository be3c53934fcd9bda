// Package backup takes a backup: it finds every served resource, lists what
// the Backup's filters select (with the requester's rights only), and streams
// the objects as a tar.gz straight into the backup storage location, with the
// log, resource list, results and a checksum manifest beside it.
package backup

import (
	"fmt"
	"sort"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/client-go/discovery"

	"github.com/arkproject/ark/pkg/resourcescope"
)

// resource is one served resource at its preferred version.
type resource struct {
	gvr        schema.GroupVersionResource
	kind       string
	namespaced bool
	// names are what a user may call it: plural, singular, short names, kind.
	names []string
}

// GroupResource is how the tarball and filters name a resource:
// "pods" for the core group, "deployments.apps" otherwise.
func (r resource) GroupResource() string {
	if r.gvr.Group == "" {
		return r.gvr.Resource
	}
	return r.gvr.Resource + "." + r.gvr.Group
}

// Resources never backed up: churn with no value on restore, and Ark's own
// objects, which live in the bucket or belong to the server.
var neverBackedUp = sets.New("events", "events.events.k8s.io")

const arkGroup = "ark.heptio.com"

// discoverResources returns every listable resource at its preferred
// version, sorted by name so a backup's layout is stable. Groups that fail
// discovery are returned as errors; the rest are still usable.
func discoverResources(d discovery.DiscoveryInterface) ([]resource, error) {
	lists, discErr := d.ServerPreferredResources()
	var out []resource
	resourcescope.Each(lists, func(gv schema.GroupVersion, r metav1.APIResource) {
		if !hasVerb(r, "list") || !hasVerb(r, "get") {
			return
		}
		res := resource{
			gvr:        gv.WithResource(r.Name),
			kind:       r.Kind,
			namespaced: r.Namespaced,
			names:      resourcescope.Names(r),
		}
		if gv.Group != arkGroup && !neverBackedUp.Has(res.GroupResource()) {
			out = append(out, res)
		}
	})
	// Pods first: their pre hooks (which quiesce applications) must run
	// before their volumes are snapshotted, which happens as each pod is
	// backed up. Definitions last: the custom resources backed up by then
	// say which definitions the backup needs. Everything else in name
	// order, so layouts are stable.
	rank := func(r resource) int {
		switch r.GroupResource() {
		case "pods":
			return 0
		case crdResource:
			return 2
		}
		return 1
	}
	sort.Slice(out, func(i, j int) bool {
		if ri, rj := rank(out[i]), rank(out[j]); ri != rj {
			return ri < rj
		}
		return out[i].GroupResource() < out[j].GroupResource()
	})
	return out, discErr
}

func hasVerb(r metav1.APIResource, verb string) bool {
	for _, v := range r.Verbs {
		if v == verb {
			return true
		}
	}
	return false
}

// resourceFilter decides which resources a backup includes, accepting the
// names kubectl accepts: "pods", "pod", "po", "deployments.apps", "deploy".
type resourceFilter struct {
	all      bool
	included sets.Set[string] // group-resources
	excluded sets.Set[string]
}

// newResourceFilter resolves the spec's names against the served resources.
// A name that matches nothing is reported, so a typo is not a silent no-op.
func newResourceFilter(includes, excludes []string, served []resource) (resourceFilter, []string) {
	f := resourceFilter{included: sets.New[string](), excluded: sets.New[string]()}
	var unknown []string
	resolve := func(names []string, into sets.Set[string]) {
		for _, n := range names {
			matched := false
			for _, r := range served {
				if nameMatches(strings.ToLower(n), r) {
					into.Insert(r.GroupResource())
					matched = true
				}
			}
			if !matched {
				unknown = append(unknown, n)
			}
		}
	}
	if len(includes) == 0 || (len(includes) == 1 && includes[0] == "*") {
		f.all = true
	} else {
		resolve(includes, f.included)
	}
	resolve(excludes, f.excluded)
	return f, unknown
}

func nameMatches(n string, r resource) bool {
	for _, name := range r.names {
		if name == "" {
			continue
		}
		if n == name || n == name+"."+r.gvr.Group {
			return true
		}
	}
	return false
}

func (f resourceFilter) includes(r resource) bool {
	if f.excluded.Has(r.GroupResource()) {
		return false
	}
	return f.all || f.included.Has(r.GroupResource())
}

// explicitlyIncluded reports whether the user named the resource (not "*").
func (f resourceFilter) explicitlyIncluded(r resource) bool {
	return !f.all && f.included.Has(r.GroupResource())
}

// namespaceFilter decides which namespaces a backup includes.
type namespaceFilter struct {
	all      bool
	included sets.Set[string]
	excluded sets.Set[string]
}

func newNamespaceFilter(includes, excludes []string) namespaceFilter {
	f := namespaceFilter{included: sets.New[string](), excluded: sets.New(excludes...)}
	if len(includes) == 0 || (len(includes) == 1 && includes[0] == "*") {
		f.all = true
	} else {
		f.included.Insert(includes...)
	}
	return f
}

func (f namespaceFilter) includes(ns string) bool {
	return !f.excluded.Has(ns) && (f.all || f.included.Has(ns))
}

// wholeCluster is true when no namespace is left out.
func (f namespaceFilter) wholeCluster() bool { return f.all && f.excluded.Len() == 0 }

// listed returns the namespaces to list one by one, or nil to list across
// all namespaces (and filter).
func (f namespaceFilter) listed() []string {
	if f.all {
		return nil
	}
	return sets.List(f.included.Difference(f.excluded))
}

func (f namespaceFilter) String() string {
	if f.all {
		return fmt.Sprintf("all namespaces except %v", sets.List(f.excluded))
	}
	return fmt.Sprint(f.listed())
}
