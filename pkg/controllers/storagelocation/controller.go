// Package storagelocation serves the BackupStorageLocations of the home
// namespace: it opens each one's bucket (with the credential its Secret
// holds) into the server's set of locations, whose backups the API then
// serves, and keeps each one's status true to what the bucket's poller sees.
// The location given by --backup-location is opened from the flag and its
// object created when missing.
package storagelocation

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/klog/v2"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
	"github.com/arkproject/ark/pkg/backupstore"
	"github.com/arkproject/ark/pkg/generated/clientset/versioned"
	"github.com/arkproject/ark/pkg/locations"
	"github.com/arkproject/ark/pkg/objectstore"
)

// refreshAfter bounds how stale lastSyncedTime may get: an unchanged status
// is rewritten only this often, so that a short poll interval does not
// become an etcd write per poll.
const refreshAfter = time.Minute

// openTimeout bounds the opening of one location's store.
const openTimeout = 30 * time.Second

// closeGrace is how long a replaced store stays open for the polls and
// requests that took it before the change.
const closeGrace = 2 * time.Minute

// Observation is what a location's bucket poller last found.
type Observation struct {
	// LastSynced is when the bucket was last listed successfully.
	LastSynced time.Time
	// Backups is how many backups are served from it.
	Backups int
	// Shadowed is how many of its backups are hidden by backups of the same
	// name in a location that comes first.
	Shadowed int
	// Err is why the latest poll failed, or nil.
	Err error
}

// Opener opens the store of a location from its spec and the content of its
// credential (nil when it names none).
type Opener func(ctx context.Context, spec arkv1.BackupStorageLocationSpec, credential []byte) (objectstore.Store, error)

// SecretReader reads one key of a Secret of the home namespace.
type SecretReader func(ctx context.Context, name, key string) ([]byte, error)

// Controller serves the locations of the home namespace and writes their status.
type Controller struct {
	Client    versioned.Interface
	Namespace string
	// Name is the location given by --backup-location, and Spec what its
	// object is created with when missing (see SpecFor); Store is its
	// store, opened from the flag.
	Name  string
	Spec  arkv1.BackupStorageLocationSpec
	Store objectstore.Store
	// Locations is the set the API serves; the controller puts every
	// location's store in it and removes those whose object is gone.
	Locations *locations.Set
	// Open opens the other locations; nil serves only the flag's.
	Open Opener
	// Secret reads credentials; nil refuses locations that name one.
	Secret SecretReader
	// Observe reports on a location's bucket.
	Observe func(location string) Observation
	// Interval is how often locations and statuses are brought up to
	// date: the bucket's poll interval.
	Interval time.Duration

	// opened remembers, by location name, the fingerprint of the spec and
	// credential each store was opened with, so an unchanged location is
	// not opened again (or, for one that failed, "failed:" and why).
	opened map[string]string
}

// Run keeps locations and statuses up to date until ctx ends.
func (c *Controller) Run(ctx context.Context) {
	klog.InfoS("Starting storage location controller", "namespace", c.Namespace, "primary", c.Name)
	wait.UntilWithContext(ctx, func(ctx context.Context) {
		if err := c.Sync(ctx); err != nil {
			klog.ErrorS(err, "Updating backup storage locations failed", "namespace", c.Namespace)
		}
	}, c.Interval)
}

// Sync creates the flag's location if it is missing, serves every location
// as its object says, stops serving those whose object is gone (leaving
// their buckets alone), then brings every location's status up to date.
func (c *Controller) Sync(ctx context.Context) error {
	if err := c.ensureServed(ctx); err != nil {
		return err
	}
	client := c.Client.ArkV1().BackupStorageLocations(c.Namespace)
	list, err := client.List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("listing locations: %w", err)
	}
	c.serve(ctx, list.Items)
	var firstErr error
	for i := range list.Items {
		l := &list.Items[i]
		want := c.status(l)
		if !c.stale(l.Status, want) {
			continue
		}
		l.Status = want
		if _, err := client.UpdateStatus(ctx, l, metav1.UpdateOptions{}); err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			// A conflict or a deletion is caught up with at the next sync.
			if firstErr == nil {
				firstErr = fmt.Errorf("updating the status of location %q: %w", l.Name, err)
			}
		}
	}
	return firstErr
}

// serve brings the set of locations in line with the objects.
func (c *Controller) serve(ctx context.Context, objects []arkv1.BackupStorageLocation) {
	if c.Locations == nil {
		return
	}
	if c.opened == nil {
		c.opened = map[string]string{}
	}
	seen := map[string]bool{c.Name: true}
	for i := range objects {
		l := &objects[i]
		seen[l.Name] = true
		readOnly := l.Spec.AccessMode == arkv1.BackupStorageLocationAccessModeReadOnly
		format := backupstore.FormatArk
		if l.Spec.Format == arkv1.BackupStorageLocationFormatVelero {
			format = backupstore.FormatVelero
		}
		if l.Name == c.Name {
			c.put(&locations.Location{Name: c.Name, Store: c.Store, Primary: true, ReadOnly: readOnly, Default: l.Spec.Default})
			continue
		}
		if c.Open == nil {
			continue
		}
		credential, credErr := c.credential(ctx, l)
		print := fingerprint(l.Spec, credential, credErr)
		if cur, err := c.Locations.Get(l.Name); err == nil && c.opened[l.Name] == print {
			if cur.ReadOnly != readOnly || cur.Default != l.Spec.Default {
				next := *cur
				next.ReadOnly, next.Default = readOnly, l.Spec.Default
				c.put(&next)
			}
			continue
		}
		loc := &locations.Location{Name: l.Name, ReadOnly: readOnly, Default: l.Spec.Default, Format: format}
		if credErr != nil {
			loc.Err = credErr
		} else {
			octx, cancel := context.WithTimeout(ctx, openTimeout)
			loc.Store, loc.Err = c.Open(octx, l.Spec, credential)
			cancel()
		}
		// A location that could not be opened is tried again at every sync
		// (a Secret created late, a transient failure), logged once per reason.
		switch {
		case loc.Err == nil:
			klog.InfoS("Opened backup storage location", "location", l.Name, "store", loc.Store.String(), "readOnly", readOnly, "format", format)
			c.opened[l.Name] = print
		case c.opened[l.Name] != "failed:"+loc.Err.Error():
			klog.ErrorS(loc.Err, "Cannot open backup storage location; serving it as unavailable", "location", l.Name)
			c.opened[l.Name] = "failed:" + loc.Err.Error()
		}
		old, _ := c.Locations.Get(l.Name)
		c.put(loc)
		c.closeLater(old)
	}
	for _, name := range c.Locations.Names() {
		if !seen[name] {
			old, _ := c.Locations.Get(name)
			delete(c.opened, name)
			c.Locations.Remove(name)
			c.closeLater(old)
			klog.InfoS("Backup storage location deleted; its backups are no longer served and its bucket is untouched", "location", name)
		}
	}
}

// closeLater closes the store of a location this controller opened and no
// longer serves, once requests already using it have had time to finish.
func (c *Controller) closeLater(old *locations.Location) {
	if old == nil || old.Primary || old.Store == nil {
		return
	}
	store := old.Store
	time.AfterFunc(closeGrace, func() { _ = store.Close() })
}

// put puts a location in the set, unless it is the primary one as the set
// already holds it (its store never changes; others are put only when
// they changed).
func (c *Controller) put(l *locations.Location) {
	if cur, err := c.Locations.Get(l.Name); err == nil && l.Primary && cur.Primary &&
		cur.ReadOnly == l.ReadOnly && cur.Default == l.Default {
		return
	}
	c.Locations.Put(l)
}

// credential reads the credential a location names, if any.
func (c *Controller) credential(ctx context.Context, l *arkv1.BackupStorageLocation) ([]byte, error) {
	ref := l.Spec.Credential
	if ref == nil {
		return nil, nil
	}
	if c.Secret == nil {
		return nil, errors.New("this server reads no Secrets (standalone mode), so it cannot use spec.credential")
	}
	data, err := c.Secret(ctx, ref.Name, ref.Key)
	if err != nil {
		return nil, fmt.Errorf("reading credential %s/%s key %q: %w", c.Namespace, ref.Name, ref.Key, err)
	}
	return data, nil
}

// fingerprint identifies what a store was opened from, so that a change to
// the spec or to the Secret's content opens it again.
func fingerprint(spec arkv1.BackupStorageLocationSpec, credential []byte, credErr error) string {
	spec.AccessMode, spec.Default = "", false
	data, _ := json.Marshal(spec)
	h := sha256.New()
	h.Write(data)
	h.Write([]byte{0})
	h.Write(credential)
	if credErr != nil {
		h.Write([]byte{0})
		h.Write([]byte(credErr.Error()))
	}
	return hex.EncodeToString(h.Sum(nil))
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
	o := c.Observe(l.Name)
	s := arkv1.BackupStorageLocationStatus{Phase: arkv1.BackupStorageLocationPhaseAvailable, BackupCount: int32(o.Backups)}
	if !o.LastSynced.IsZero() {
		t := metav1.NewTime(o.LastSynced)
		s.LastSyncedTime = &t
	}
	if o.Shadowed > 0 {
		s.Message = fmt.Sprintf("%d backups are not served from this location: a location that comes first holds backups of the same names", o.Shadowed)
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
