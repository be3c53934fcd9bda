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
	"sort"
	"strings"
	"time"

	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/util/retry"
	"k8s.io/klog/v2"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
	"github.com/arkproject/ark/pkg/backupstore"
	"github.com/arkproject/ark/pkg/backupstore/encryption"
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
	// ByKey counts its encrypted backups by the key their records name.
	ByKey map[string]int
}

// Opener opens the store of a location from its spec and the content of its
// credential (nil when it names none).
type Opener func(ctx context.Context, spec arkv1.BackupStorageLocationSpec, credential []byte) (objectstore.Store, error)

// SecretReader reads one key of a Secret of the home namespace.
type SecretReader func(ctx context.Context, name, key string) ([]byte, error)

// KeySecretReader reads the whole of a Secret of the home namespace: a
// location's encryption keys.
type KeySecretReader func(ctx context.Context, name string) (map[string][]byte, error)

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
	// KeySecret reads encryption keys; nil refuses encrypted locations.
	KeySecret KeySecretReader
	// Mine reports whether this cluster's Ark owns a backup (signed it):
	// only those are re-wrapped under a new key, since another cluster
	// sharing the bucket may not hold it. Nil owns every backup.
	Mine func(*arkv1.Backup) bool
	// Observe reports on a location's bucket.
	Observe func(location string) Observation
	// Interval is how often locations and statuses are brought up to
	// date: the bucket's poll interval.
	Interval time.Duration

	// opened remembers, by location name, the fingerprint of the spec and
	// credential each store was opened with, so an unchanged location is
	// not opened again (or, for one that failed, "failed:" and why).
	opened map[string]string
	// keyrings are the keys last read, by Secret name, with a digest of
	// the Secret's data: an unchanged Secret keeps its Keyring, so an
	// unchanged location is not put in the set again.
	keyrings map[string]keyring
	// keys are the keys each location is served with, by name, for its status.
	keys map[string]*encryption.Keyring
}

type keyring struct {
	digest string
	keys   *encryption.Keyring
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
		if err := c.rewrap(ctx, &list.Items[i]); err != nil && firstErr == nil {
			firstErr = err
		}
	}
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
	c.keys = map[string]*encryption.Keyring{}
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
			// The flag's key Secret, if it names one, else the object's.
			enc := l.Spec.Encryption
			if c.Spec.Encryption != nil {
				enc = c.Spec.Encryption
			}
			keys, keysErr := c.keyring(ctx, enc)
			c.keys[l.Name] = keys
			loc := &locations.Location{Name: c.Name, Store: c.Store, Primary: true, ReadOnly: readOnly, Default: l.Spec.Default, Keys: keys}
			if keysErr != nil {
				// Never plaintext where encryption was asked for.
				loc.Err = keysErr
				c.logOnce(l.Name, keysErr)
			} else if c.opened[l.Name] != "" {
				klog.InfoS("Backup storage location's encryption keys are read", "location", l.Name)
				delete(c.opened, l.Name)
			}
			c.put(loc)
			continue
		}
		if c.Open == nil {
			continue
		}
		credential, credErr := c.credential(ctx, l)
		keys, keysErr := c.keyring(ctx, l.Spec.Encryption)
		c.keys[l.Name] = keys
		print := fingerprint(l.Spec, credential, credErr)
		if keysErr != nil {
			print += "/keys:" + keysErr.Error()
		} else if keys != nil {
			print += "/keys:" + c.keyrings[l.Spec.Encryption.KeySecret].digest
		}
		if cur, err := c.Locations.Get(l.Name); err == nil && c.opened[l.Name] == print {
			if cur.ReadOnly != readOnly || cur.Default != l.Spec.Default {
				next := *cur
				next.ReadOnly, next.Default = readOnly, l.Spec.Default
				c.put(&next)
			}
			continue
		}
		loc := &locations.Location{Name: l.Name, ReadOnly: readOnly, Default: l.Spec.Default, Format: format, Keys: keys}
		switch {
		case credErr != nil:
			loc.Err = credErr
		case keysErr != nil:
			loc.Err = keysErr
		default:
			octx, cancel := context.WithTimeout(ctx, openTimeout)
			loc.Store, loc.Err = c.Open(octx, l.Spec, credential)
			cancel()
		}
		// A location that could not be opened is tried again at every sync
		// (a Secret created late, a transient failure), logged once per reason.
		switch {
		case loc.Err == nil:
			klog.InfoS("Opened backup storage location", "location", l.Name, "store", loc.Store.String(), "readOnly", readOnly, "format", format, "encrypted", keys != nil)
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
		cur.ReadOnly == l.ReadOnly && cur.Default == l.Default && cur.Keys == l.Keys && sameError(cur.Err, l.Err) {
		return
	}
	c.Locations.Put(l)
}

func sameError(a, b error) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Error() == b.Error()
}

// logOnce logs why a location cannot be served, once per reason.
func (c *Controller) logOnce(name string, err error) {
	if c.opened[name] != "failed:"+err.Error() {
		klog.ErrorS(err, "Cannot serve backup storage location; serving it as unavailable", "location", name)
		c.opened[name] = "failed:" + err.Error()
	}
}

// keyring reads the keys a location's spec.encryption names: nil when it
// names none. A Secret that cannot be read or parsed is an error, and the
// location is served as unavailable rather than written in plaintext.
func (c *Controller) keyring(ctx context.Context, enc *arkv1.BackupStorageLocationEncryption) (*encryption.Keyring, error) {
	if enc == nil {
		return nil, nil
	}
	if c.KeySecret == nil {
		return nil, errors.New("this server reads no Secrets (standalone mode), so it cannot use spec.encryption")
	}
	data, err := c.KeySecret(ctx, enc.KeySecret)
	if err != nil {
		return nil, fmt.Errorf("reading encryption key Secret %s/%s: %w", c.Namespace, enc.KeySecret, err)
	}
	h := sha256.New()
	ids := make([]string, 0, len(data))
	for id := range data {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		h.Write([]byte(id))
		h.Write([]byte{0})
		h.Write(data[id])
		h.Write([]byte{0})
	}
	digest := hex.EncodeToString(h.Sum(nil))
	if c.keyrings == nil {
		c.keyrings = map[string]keyring{}
	}
	if k, ok := c.keyrings[enc.KeySecret]; ok && k.digest == digest {
		return k.keys, nil
	}
	keys, err := encryption.ParseSecret(data)
	if err != nil {
		return nil, fmt.Errorf("encryption key Secret %s/%s: %w", c.Namespace, enc.KeySecret, err)
	}
	c.keyrings[enc.KeySecret] = keyring{digest: digest, keys: keys}
	return keys, nil
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
	if keys := c.keys[l.Name]; keys != nil || len(o.ByKey) > 0 {
		e := &arkv1.BackupStorageLocationEncryptionStatus{}
		if keys != nil {
			e.ActiveKeyID, e.KeyIDs = keys.ActiveID(), keys.IDs()
		}
		var missing []string
		for id, n := range o.ByKey {
			if e.BackupsByKey == nil {
				e.BackupsByKey = map[string]int32{}
			}
			e.BackupsByKey[id] = int32(n)
			if !keys.Has(id) {
				e.UnreadableBackups += int32(n)
				missing = append(missing, id)
			}
		}
		if len(missing) > 0 {
			// Said where an administrator looks: a key removed from the
			// Secret while backups still need it.
			sort.Strings(missing)
			msg := fmt.Sprintf("%d backups cannot be restored: they were written with keys this location's Secret does not hold (%s); add them back to the Secret, or rotate while they are there", e.UnreadableBackups, strings.Join(missing, ", "))
			if s.Message != "" {
				msg = s.Message + "; " + msg
			}
			s.Message = msg
		}
		s.Encryption = e
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

// rewrapBatch bounds the backups re-wrapped in one sync, so a rotation over
// many backups does not hold up the statuses; the rest follow next sync.
const rewrapBatch = 100

// rewrap is key rotation: the backups of the location whose records name
// another key than the active one get their data key wrapped again under
// the active key (only their small key file is rewritten, never their
// data), and their records name the new key. Once the location's status
// counts no backup under an old key, that key can leave the Secret.
func (c *Controller) rewrap(ctx context.Context, l *arkv1.BackupStorageLocation) error {
	keys := c.keys[l.Name]
	if keys == nil || c.Locations == nil {
		return nil
	}
	loc, err := c.Locations.Get(l.Name)
	if err != nil {
		return nil
	}
	store, err := loc.Writable()
	if err != nil {
		return nil // ReadOnly, or unavailable: its status says so
	}
	// The poller counts the backups by key from their records: nothing
	// to list when every one is under the active key.
	stale := false
	for id, n := range c.Observe(l.Name).ByKey {
		stale = stale || (n > 0 && id != keys.ActiveID() && keys.Has(id))
	}
	if !stale {
		return nil
	}
	backups, err := c.Client.ArkV1().Backups(metav1.NamespaceAll).List(ctx, metav1.ListOptions{FieldSelector: "spec.storageLocation=" + l.Name})
	if err != nil {
		return fmt.Errorf("listing the backups of location %q to re-wrap: %w", l.Name, err)
	}
	active, done := keys.ActiveID(), 0
	for i := range backups.Items {
		b := &backups.Items[i]
		id := b.Status.EncryptionKeyID
		if id == "" || id == active || !keys.Has(id) || done >= rewrapBatch {
			continue
		}
		switch b.Status.Phase {
		case arkv1.BackupPhaseCompleted, arkv1.BackupPhasePartiallyFailed:
		default:
			continue // running, failed or going: nothing to keep readable
		}
		if c.Mine != nil && !c.Mine(b) {
			continue
		}
		done++
		ref := loc.Layout(c.Namespace).Backup(b.Namespace, b.Name)
		from, rewrapped, err := ref.Rewrap(ctx, store)
		if err != nil {
			klog.ErrorS(err, "Cannot re-wrap a backup's data key under the active key", "backup", klog.KObj(b), "location", l.Name, "key", active)
			continue
		}
		if err := retry.RetryOnConflict(retry.DefaultBackoff, func() error {
			latest, err := c.Client.ArkV1().Backups(b.Namespace).Get(ctx, b.Name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			latest.Status.EncryptionKeyID = active
			_, err = c.Client.ArkV1().Backups(b.Namespace).UpdateStatus(ctx, latest, metav1.UpdateOptions{})
			return err
		}); err != nil {
			klog.ErrorS(err, "Re-wrapped a backup's data key but cannot record its key", "backup", klog.KObj(b), "key", active)
			continue
		}
		klog.InfoS("Re-wrapped a backup's data key under the active key", "backup", klog.KObj(b), "location", l.Name, "from", from, "to", active, "rewritten", rewrapped)
	}
	return nil
}
