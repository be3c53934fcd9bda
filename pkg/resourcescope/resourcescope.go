// Package resourcescope tells whether a resource, named as a user writes it
// in a backup's or restore's filters (plural, singular, short name, kind,
// or "resource.group"), is cluster-scoped in the cluster, so that a namespace
// user's filters naming one are refused at the API with a 422 instead of
// failing later.
package resourcescope

import (
	"strings"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
)

// refreshAfter is how old discovery may be before a name it does not know
// makes it ask the cluster again (a CRD may just have been added).
const refreshAfter = 30 * time.Second

// Resolver answers from cached discovery.
type Resolver struct {
	disc discovery.CachedDiscoveryInterface

	mu      sync.Mutex
	fetched time.Time
}

// New returns a resolver over the cluster's discovery.
func New(d discovery.DiscoveryInterface) *Resolver {
	return &Resolver{disc: memory.NewMemCacheClient(d)}
}

// ClusterScoped reports whether name stands for a cluster-scoped resource
// the cluster serves. Names it does not know are not: a filter may name
// resources a cluster does not serve, and that is only a warning.
func (r *Resolver) ClusterScoped(name string) bool {
	name = strings.ToLower(name)
	if name == "" || name == "*" {
		return false
	}
	clusterScoped, known := r.lookup(name)
	if !known {
		r.mu.Lock()
		stale := time.Since(r.fetched) > refreshAfter
		if stale {
			r.disc.Invalidate()
			r.fetched = time.Now()
		}
		r.mu.Unlock()
		if stale {
			clusterScoped, _ = r.lookup(name)
		}
	}
	return clusterScoped
}

func (r *Resolver) lookup(name string) (clusterScoped, known bool) {
	lists, _ := r.disc.ServerPreferredResources()
	r.mu.Lock()
	if r.fetched.IsZero() {
		r.fetched = time.Now()
	}
	r.mu.Unlock()
	Each(lists, func(gv schema.GroupVersion, res metav1.APIResource) {
		names := Names(res)
		if gv.Group != "" {
			names = append(names, res.Name+"."+gv.Group, res.SingularName+"."+gv.Group)
		}
		for _, n := range names {
			if n == name {
				known = true
				clusterScoped = clusterScoped || !res.Namespaced
			}
		}
	})
	return clusterScoped, known
}

// Each calls fn for every resource of discovery's lists, leaving out
// subresources and lists whose group version does not parse.
func Each(lists []*metav1.APIResourceList, fn func(schema.GroupVersion, metav1.APIResource)) {
	for _, l := range lists {
		gv, err := schema.ParseGroupVersion(l.GroupVersion)
		if err != nil {
			continue
		}
		for _, res := range l.APIResources {
			if !strings.Contains(res.Name, "/") {
				fn(gv, res)
			}
		}
	}
}

// Names are the names kubectl accepts for a resource: plural, singular,
// kind in lower case, and short names (the empty ones left out).
func Names(res metav1.APIResource) []string {
	var out []string
	for _, n := range append([]string{res.Name, res.SingularName, strings.ToLower(res.Kind)}, res.ShortNames...) {
		if n != "" {
			out = append(out, n)
		}
	}
	return out
}
