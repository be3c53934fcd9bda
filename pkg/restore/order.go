// Package restore brings a backup back into a cluster: it verifies and
// unpacks the backup safely (pkg/restore/archive), selects items by the
// Restore's filters, remaps namespaces, shapes each object for re-creation,
// and creates the objects in dependency order with the requester's rights.
package restore

import (
	"sort"
	"strings"
)

// priority is the order resources are restored in: definitions and
// containers before what lives in them, storage before what mounts it,
// configuration before the pods that read it.
var priority = []string{
	"customresourcedefinitions.apiextensions.k8s.io",
	"namespaces",
	"storageclasses.storage.k8s.io",
	"persistentvolumes",
	"persistentvolumeclaims",
	"secrets",
	"configmaps",
	"serviceaccounts",
	"limitranges",
	"pods",
	"replicasets.apps",
}

// ordered sorts group-resources by restore priority, then by name.
func ordered(resources []string) []string {
	rank := func(r string) int {
		for i, p := range priority {
			if p == r {
				return i
			}
		}
		return len(priority)
	}
	out := append([]string(nil), resources...)
	sort.SliceStable(out, func(i, j int) bool {
		ri, rj := rank(out[i]), rank(out[j])
		if ri != rj {
			return ri < rj
		}
		return out[i] < out[j]
	})
	return out
}

// neverRestored are resources a restore never creates: nodes belong to the
// cluster, events are history, endpoint slices are rebuilt by their
// controller, and Ark's own objects live in the bucket or the server.
func neverRestored(groupResource string) bool {
	switch groupResource {
	case "nodes", "events", "events.events.k8s.io", "endpointslices.discovery.k8s.io":
		return true
	}
	return strings.HasSuffix(groupResource, ".ark.heptio.com")
}
