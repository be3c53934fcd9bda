// Package storagelocation keeps BackupStorageLocations' status true to what
// this server sees: the location given by --backup-location reports whether
// its bucket answers; every other location says it is not served yet.
package storagelocation

import (
	"context"
	"fmt"
	"time"

	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/klog/v2"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
	"github.com/arkproject/ark/pkg/generated/clientset/versioned"
)

// NotServed is the message of every location but the served one, until
// Ark serves more than one location.
const NotServed = "not served yet: this server serves only the location given by --backup-location"

// refreshAfter bounds how stale lastSyncedTime may get: an unchanged status
// is rewritten only this often, so that a short poll interval does not
// become an etcd write per poll.
const refreshAfter = time.Minute

// Observation is what the bucket poller last found.
type Observation struct {
	// LastSynced is when the bucket was last listed successfully.
	LastSynced time.Time
	// Backups is how many backups are served from it.
	Backups int
	// Err is why the latest poll failed, or nil.
	Err error
}

// Controller writes the status of the locations of the home namespace.
type Controller struct {
	Client    versioned.Interface
	Namespace string
	// Name is the served location's name, and Spec what it is created
	// with when missing (see SpecFor).
	Name string
	Spec arkv1.BackupStorageLocationSpec
	// Observe reports on the served location's bucket.
	Observe func() Observation
	// Interval is how often statuses are brought up to date: the bucket's
	// poll interval.
	Interval time.Duration
}

// Run keeps statuses up to date until ctx ends.
func (c *Controller) Run(ctx context.Context) {
	klog.InfoS("Starting storage location controller", "namespace", c.Namespace, "served", c.Name)
	wait.UntilWithContext(ctx, func(ctx context.Context) {
		if err := c.Sync(ctx); err != nil {
			klog.ErrorS(err, "Updating backup storage locations failed", "namespace", c.Namespace)
		}
	}, c.Interval)
}

// Sync creates the served location if it is missing, then brings every
// location's status up to date.
func (c *Controller) Sync(ctx context.Context) error {
	if err := c.ensureServed(ctx); err != nil {
		return err
	}
	locations := c.Client.ArkV1().BackupStorageLocations(c.Namespace)
	list, err := locations.List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("listing locations: %w", err)
	}
	var firstErr error
	for i := range list.Items {
		l := &list.Items[i]
		want := c.status(l)
		if !c.stale(l.Status, want) {
			continue
		}
		l.Status = want
		if _, err := locations.UpdateStatus(ctx, l, metav1.UpdateOptions{}); err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			// A conflict or a deletion is caught up with at the next sync.
			if firstErr == nil {
				firstErr = fmt.Errorf("updating the status of location %q: %w", l.Name, err)
			}
		}
	}
	return firstErr
}

// ensureServed creates the served location when it is missing. An existing
// object is left as it is: administrators' edits are theirs, and the
// flag, not the object, says which bucket is served.
func (c *Controller) ensureServed(ctx context.Context) error {
	locations := c.Client.ArkV1().BackupStorageLocations(c.Namespace)
	_, err := locations.Get(ctx, c.Name, metav1.GetOptions{})
	if !apierrors.IsNotFound(err) {
		return err
	}
	l := &arkv1.BackupStorageLocation{
		ObjectMeta: metav1.ObjectMeta{Name: c.Name, Namespace: c.Namespace},
		Spec:       *c.Spec.DeepCopy(),
	}
	_, err = locations.Create(ctx, l, metav1.CreateOptions{})
	switch {
	case apierrors.IsAlreadyExists(err):
		return nil
	case apierrors.IsForbidden(err) || apierrors.IsNotFound(err):
		// The home namespace is being deleted or is gone: the location
		// comes back with the namespace, and until then there is nothing
		// to report on.
		klog.V(2).InfoS("Cannot create the served backup storage location yet", "location", klog.KObj(l), "err", err)
		return nil
	}
	if err == nil {
		klog.InfoS("Created the served backup storage location", "location", klog.KObj(l), "provider", l.Spec.Provider, "bucket", l.Spec.ObjectStorage.Bucket)
	}
	return err
}

// status is the status a location should have now.
func (c *Controller) status(l *arkv1.BackupStorageLocation) arkv1.BackupStorageLocationStatus {
	if l.Name != c.Name {
		return arkv1.BackupStorageLocationStatus{Phase: arkv1.BackupStorageLocationPhaseUnavailable, Message: NotServed}
	}
	o := c.Observe()
	s := arkv1.BackupStorageLocationStatus{Phase: arkv1.BackupStorageLocationPhaseAvailable, BackupCount: int32(o.Backups)}
	if !o.LastSynced.IsZero() {
		t := metav1.NewTime(o.LastSynced)
		s.LastSyncedTime = &t
	}
	if o.Err != nil {
		s.Phase, s.Message = arkv1.BackupStorageLocationPhaseUnavailable, o.Err.Error()
	}
	return s
}

// stale says whether the recorded status must be rewritten: it says
// something else, or its lastSyncedTime is more than refreshAfter behind.
func (c *Controller) stale(have, want arkv1.BackupStorageLocationStatus) bool {
	h, w := have.DeepCopy(), want.DeepCopy()
	h.LastSyncedTime, w.LastSyncedTime = nil, nil
	if !apiequality.Semantic.DeepEqual(h, w) {
		return true
	}
	switch {
	case want.LastSyncedTime == nil:
		return false
	case have.LastSyncedTime == nil:
		return true
	default:
		return want.LastSyncedTime.Sub(have.LastSyncedTime.Time) >= refreshAfter
	}
}
