package backup

import (
	"context"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/klog/v2"

	"github.com/arkproject/ark/pkg/apis/ark"
	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
	"github.com/arkproject/ark/pkg/provenance"
)

// AdoptREST serves backups/adopt: the explicit takeover of a backup that
// this cluster's Ark did not accept — another cluster's, lost in a disaster,
// or a record an earlier Ark (or a fresh `make run`) wrote. It is a
// subresource so that RBAC grants it apart from update and delete, and so
// that every takeover is one audited request. Adoption signs the record as
// this cluster's and records where it came from; from then on this cluster
// expires and deletes it, and the cluster it came from leaves it alone.
//
// Nothing adopted ever runs here: a New backup becomes FailedValidation and
// an InProgress one Failed, since what they would have backed up was the
// other cluster, and what this API never accepted never runs.
type AdoptREST struct {
	r *REST
}

var (
	_ rest.Updater = &AdoptREST{}
	_ rest.Storage = &AdoptREST{}
)

// NewAdoptREST returns the storage of backups/adopt.
func NewAdoptREST(r *REST) *AdoptREST { return &AdoptREST{r: r} }

// New returns an empty Backup.
func (a *AdoptREST) New() runtime.Object { return &ark.Backup{} }

// Destroy does nothing: the main storage owns the poller.
func (a *AdoptREST) Destroy() {}

// AdoptedUnsigned is the value of the adopted-from annotation for a record
// that named no cluster.
const AdoptedUnsigned = "unsigned"

// Update adopts the stored backup. The body only carries an optional
// resourceVersion precondition: the record is adopted as the bucket holds
// it, never as the client sends it.
func (a *AdoptREST) Update(ctx context.Context, name string, objInfo rest.UpdatedObjectInfo, _ rest.ValidateObjectFunc, _ rest.ValidateObjectUpdateFunc, _ bool, options *metav1.UpdateOptions) (runtime.Object, bool, error) {
	r := a.r
	for attempt := 1; ; attempt++ {
		old, gen, loc, err := r.loadInNamespace(ctx, name)
		if err != nil {
			return nil, false, err
		}
		sent, err := objInfo.UpdatedObject(ctx, old.DeepCopy())
		if err != nil {
			return nil, false, err
		}
		if b, ok := sent.(*ark.Backup); ok && b.ResourceVersion != "" && b.ResourceVersion != old.ResourceVersion {
			return nil, false, r.conflict(name)
		}
		if err := refuseCorrupt(old); err != nil {
			return nil, false, err
		}
		if r.signer == nil || (!r.foreign(old) && r.verified(old)) {
			return old.DeepCopy(), false, nil // already this cluster's
		}
		b := adopted(old, metav1.NewTime(r.clock.Now()))
		if err := r.sign(b); err != nil {
			return nil, false, err
		}
		if options != nil && len(options.DryRun) > 0 {
			return b, false, nil
		}
		saved, again, err := r.swapOrRetry(ctx, loc, name, b, gen, attempt)
		if again {
			continue
		}
		if err != nil {
			return nil, false, err
		}
		user := ""
		if u, ok := genericapirequest.UserFrom(ctx); ok {
			user = u.GetName()
		}
		klog.InfoS("Backup adopted", "backup", klog.KObj(b), "from", b.Annotations[arkv1.AnnotationAdoptedFrom], "by", user, "phase", b.Status.Phase)
		return saved, false, nil
	}
}

// adopted is old taken over by this cluster: its origin recorded, and a
// backup that never finished closed, with the reason.
func adopted(old *ark.Backup, now metav1.Time) *ark.Backup {
	b := old.DeepCopy()
	from := old.Annotations[provenance.ClusterAnnotation]
	if from == "" {
		from = AdoptedUnsigned
	}
	dropOrigin(b)
	if b.Annotations == nil {
		b.Annotations = map[string]string{}
	}
	if uid := old.Annotations[arkv1.AnnotationNamespaceUID]; uid != "" {
		b.Annotations[arkv1.AnnotationNamespaceUID] = uid
	}
	b.Annotations[arkv1.AnnotationAdoptedFrom] = from
	why := fmt.Sprintf("adopted from cluster %s", from)
	switch b.Status.Phase {
	case "", ark.BackupPhaseNew:
		b.Status.Phase = ark.BackupPhaseFailedValidation
		b.Status.ValidationErrors = append(b.Status.ValidationErrors, why+" before it ran: a backup runs only in the cluster whose Ark accepted it")
		if b.Status.Expiration == nil {
			exp := metav1.NewTime(now.Add(b.Spec.TTL.Duration))
			b.Status.Expiration = &exp
		}
	case ark.BackupPhaseInProgress:
		b.Status.Phase = ark.BackupPhaseFailed
		b.Status.FailureReason = why + " while it was in progress there; its files may be incomplete"
		b.Status.CompletionTimestamp = &now
	}
	return b
}
