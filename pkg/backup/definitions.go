package backup

import (
	"context"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/sets"
)

// crdResource is how CustomResourceDefinitions are named in the tarball.
const crdResource = "customresourcedefinitions.apiextensions.k8s.io"

// mayBeCustom reports whether a resource's group could be a custom
// resource's: Kubernetes' own groups ("apps", "*.k8s.io") cannot.
func mayBeCustom(r resource) bool {
	g := r.gvr.Group
	return strings.Contains(g, ".") && g != "k8s.io" && !strings.HasSuffix(g, ".k8s.io") && g != arkGroup
}

// addDefinitions backs up the CustomResourceDefinition of every custom
// resource the backup holds items of, unless it is already in the tarball:
// a custom resource restored into a cluster without its definition cannot
// be created, so a namespace backup must carry the definitions with it, as
// Velero's do. Each is read as the requester; one they may not read is a
// warning, since the backup of the resources themselves is still whole.
// Definitions go last in the tarball because only then are all custom
// resources known; a restore creates them first whatever their place.
func (r *run) addDefinitions(ctx context.Context, crds resource) error {
	if include := r.backup.Spec.IncludeClusterResources; include != nil && !*include {
		return nil
	}
	if r.filter.excluded.Has(crdResource) {
		return nil
	}
	client := r.Dynamic.Resource(crds.gvr)
	for _, name := range sets.List(r.customHeld.Difference(r.definitionsHeld)) {
		if err := ctx.Err(); err != nil {
			return err
		}
		item, err := client.Get(ctx, name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			// Served by an aggregated API server, not a definition:
			// nothing to restore it from.
			continue
		case apierrors.IsForbidden(err):
			r.log.warnf("", "cluster", "%s may not read the definition of %s, so it is not backed up: a restore into a cluster without it will fail for these resources", r.backup.Spec.Requester.Username, name)
			continue
		case err != nil:
			r.log.errorf("", "cluster", "reading the definition of %s: %v", name, err)
			continue
		}
		if err := r.write(ctx, crds, item, nil); err != nil {
			return err
		}
	}
	return nil
}
