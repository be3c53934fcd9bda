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
	for _, l := range lists {
		gv, err := schema.ParseGroupVersion(l.GroupVersion)
		if err != nil {
			continue
		}
		for _, res := range l.APIResources {
			if strings.Contains(res.Name, "/") {
				continue
			}
			names := append([]string{res.Name, res.SingularName, strings.ToLower(res.Kind)}, res.ShortNames...)
			if gv.Group != "" {
				names = append(names, res.Name+"."+gv.Group, res.SingularName+"."+gv.Group)
			}
			for _, n := range names {
				if n != "" && n == name {
					known = true
					if !res.Namespaced {
						return true, true
					}
				}
			}
		}
	}
	return false, known
}
