package backup

import (
	"context"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/sets"
)

// resolveOrdered maps spec.orderedResources onto the served resources: the
// items to write first, by group-resource, as "namespace/name" or "name".
// A resource the cluster does not serve, and an entry that does not fit its
// resource's scope, are warnings: the backup is still taken, in list order.
func (r *run) resolveOrdered(served []resource) map[string][]string {
	ordered := r.backup.Spec.OrderedResources
	out := map[string][]string{}
	for _, key := range sets.List(sets.KeySet(ordered)) {
		var res *resource
		for i := range served {
			if nameMatches(strings.ToLower(key), served[i]) {
				res = &served[i]
				break
			}
		}
		if res == nil {
			r.log.warnf("", "", "orderedResources names %q, which this cluster does not serve", key)
			continue
		}
		gr := res.GroupResource()
		for _, entry := range strings.Split(ordered[key], ",") {
			if strings.Contains(entry, "/") != res.namespaced {
				want := `"name": it is cluster-scoped`
				if res.namespaced {
					want = `"namespace/name": it is namespaced`
				}
				r.log.warnf("", "", "orderedResources names %s %q, which should be %s; it is backed up in list order", gr, entry, want)
				continue
			}
			out[gr] = append(out[gr], entry)
		}
	}
	return out
}

// writeOrdered writes the items of res that spec.orderedResources names
// first, in its order, each read with a GET: waiting for them in the LIST's
// pages would mean holding every item before them. An item the listing
// would not write (another namespace, filtered out, not selected, excluded
// by label) is left to the pages, which handle it as usual. It returns the
// items written, which the pages then skip.
func (r *run) writeOrdered(ctx context.Context, res resource, ns, selector string, keep func(*unstructured.Unstructured) bool,
	write func(context.Context, resource, *unstructured.Unstructured, *encodedItem) error) (sets.Set[string], error) {
	entries := r.ordered[res.GroupResource()]
	if len(entries) == 0 {
		return nil, nil
	}
	sel, err := labels.Parse(selector)
	if err != nil { // Run refuses an invalid selector before any listing
		return nil, err
	}
	gr := res.GroupResource()
	written := sets.New[string]()
	for _, entry := range entries {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		itemNS, name, namespaced := strings.Cut(entry, "/")
		if !namespaced {
			itemNS, name = "", entry
		}
		if namespaced && ((ns != "" && itemNS != ns) || !r.ns.includes(itemNS)) {
			continue
		}
		client := r.Dynamic.Resource(res.gvr)
		var get func(context.Context, string, metav1.GetOptions, ...string) (*unstructured.Unstructured, error) = client.Get
		if namespaced {
			get = client.Namespace(itemNS).Get
		}
		item, err := get(ctx, name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			r.log.warnf(itemNS, "", "orderedResources names %s %s, which does not exist", gr, entry)
			continue
		case err != nil:
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			r.log.warnf(itemNS, "", "reading %s %s, which orderedResources puts first: %v; it is backed up in list order", gr, entry, err)
			continue
		}
		if (keep != nil && !keep(item)) || !sel.Matches(labels.Set(item.GetLabels())) || excludedByLabel(item) {
			continue
		}
		r.total++
		if err := write(ctx, res, item, nil); err != nil {
			return nil, err
		}
		written.Insert(entry)
	}
	return written, nil
}
