package backup

import (
	"context"
	"fmt"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/arkproject/ark/pkg/apis/ark"
	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
	"github.com/arkproject/ark/pkg/provenance"
	"github.com/arkproject/ark/pkg/registry"
)

// originAnnotations are what Ark alone writes about where a Backup comes
// from; what a client sends for them is discarded.
var originAnnotations = []string{provenance.ClusterAnnotation, provenance.SignatureAnnotation, arkv1.AnnotationNamespaceUID, arkv1.AnnotationAdoptedFrom, arkv1.AnnotationRecordFormat}

// sign records that this API accepted b as it now is (see package
// provenance). Without a signer (tests, standalone) it does nothing.
func (r *REST) sign(b *ark.Backup) error {
	if r.signer == nil {
		return nil
	}
	v1b, err := served(b)
	if err != nil {
		return apierrors.NewInternalError(fmt.Errorf("signing backup %s: %w", b.Name, err))
	}
	if err := r.signer.Sign(v1b); err != nil {
		return apierrors.NewInternalError(err)
	}
	b.Annotations = v1b.Annotations
	return nil
}

// verified reports whether this API signed b as it is.
func (r *REST) verified(b *ark.Backup) bool {
	if r.signer == nil {
		return true
	}
	v1b, err := served(b)
	return err == nil && r.signer.Verify(v1b) == nil
}

// served is b as clients and controllers see it (ark.heptio.com/v1), which
// is what signatures cover.
func served(b *ark.Backup) (*arkv1.Backup, error) {
	var out arkv1.Backup
	err := arkv1.Convert_ark_Backup_To_v1_Backup(b, &out, nil)
	return &out, err
}

// foreign reports whether b belongs to another cluster's Ark, which alone
// may change or delete it; this cluster may read and restore it.
func (r *REST) foreign(b *ark.Backup) bool {
	return r.signer != nil && r.signer.Foreign(b.Annotations)
}

// owner names who manages b, for the table: "this" cluster, another
// cluster's ID, "velero" for a backup read from a Velero bucket, or "unverified" for a record that carries no valid
// signature of this cluster (written into the bucket, by an earlier Ark, or
// corrupt).
func (r *REST) owner(b *ark.Backup) string {
	switch {
	case b.Annotations[provenance.ClusterAnnotation] == arkv1.VeleroCluster && b.Annotations[arkv1.AnnotationRecordFormat] != "":
		return arkv1.VeleroCluster // read from a Velero bucket: set by the reader alone
	case r.signer == nil:
		return "this"
	case r.foreign(b):
		return b.Annotations[provenance.ClusterAnnotation]
	case b.Status.Phase != ark.BackupPhaseCorrupt && r.verified(b):
		return "this"
	default:
		return "unverified"
	}
}

func (r *REST) forbidForeign(b *ark.Backup, verb string) error {
	if !r.foreign(b) {
		return nil
	}
	return apierrors.NewForbidden(ark.Resource("backups"), b.Name, fmt.Errorf("it belongs to another cluster's Ark (cluster %s), which alone may %s it; this cluster may read and restore it", b.Annotations[provenance.ClusterAnnotation], verb))
}

// dropOrigin removes what a client sent of the origin annotations.
func dropOrigin(b *ark.Backup) {
	for _, k := range originAnnotations {
		delete(b.Annotations, k)
	}
}

// keepOrigin gives b the origin annotations of old, whatever the client sent.
func keepOrigin(b, old *ark.Backup) {
	dropOrigin(b)
	for _, k := range originAnnotations {
		if v, ok := old.Annotations[k]; ok {
			if b.Annotations == nil {
				b.Annotations = map[string]string{}
			}
			b.Annotations[k] = v
		}
	}
}

// adopt makes the user of the request the requester of a Backup this API
// did not accept (written into the bucket, or by an earlier version): the
// first one to change it through the API is the one it acts as, never the
// requester the record names.
func (r *REST) adopt(ctx context.Context, b, old *ark.Backup) {
	if r.verified(old) {
		return
	}
	b.Spec.Requester = registry.Requester(ctx, r.strategy.Scope, nil)
}

// recordLifetime records the UID of the namespace a backup is created in.
func (r *REST) recordLifetime(ctx context.Context, b *ark.Backup) error {
	if r.lifetimes == nil || r.lifetimes.NamespaceUID == nil {
		return nil
	}
	uid, err := r.lifetimes.NamespaceUID(ctx, b.Namespace)
	if err != nil {
		return apierrors.NewServiceUnavailable(fmt.Sprintf("reading namespace %s: %v", b.Namespace, err))
	}
	if b.Annotations == nil {
		b.Annotations = map[string]string{}
	}
	b.Annotations[arkv1.AnnotationNamespaceUID] = uid
	return nil
}

// lifetimeView returns whether the request's user sees a backup: those of
// the namespace's current lifetime (or that record none) always, those of
// an earlier namespace of the same name only if they administer Ark. The
// authorizer is asked at most once, and only for a backup of an earlier
// lifetime — or at once with eager, for a watch, whose initial events are
// filtered while the index is held.
func (r *REST) lifetimeView(ctx context.Context, eager bool) func(*ark.Backup) bool {
	if r.lifetimes == nil || r.lifetimes.CurrentUID == nil {
		return func(*ark.Backup) bool { return true }
	}
	admin := sync.OnceValue(func() bool {
		return r.lifetimes.Administrator != nil && r.lifetimes.Administrator(ctx)
	})
	if eager {
		admin()
	}
	return func(b *ark.Backup) bool {
		recorded := b.Annotations[arkv1.AnnotationNamespaceUID]
		if recorded == "" {
			return true
		}
		current := r.lifetimes.CurrentUID(b.Namespace)
		return current == "" || current == recorded || admin()
	}
}
