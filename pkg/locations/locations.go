// Package locations owns the backup storage locations a server serves: the
// store opened for each BackupStorageLocation, by name, whether it may be
// written, and which one is the default. The backup registry serves the
// backups of every location in the set, and the engines (backup, restore,
// garbage collection) find a backup's store here by its spec.storageLocation,
// so that no engine opens or chooses a bucket on its own.
package locations

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"

	"github.com/arkproject/ark/pkg/backupstore"
	"github.com/arkproject/ark/pkg/backupstore/encryption"
	"github.com/arkproject/ark/pkg/objectstore"
)

// ErrUnknown is the error of a name no location has.
var ErrUnknown = errors.New("no such backup storage location")

// ErrReadOnly is the error of writing to a ReadOnly location.
var ErrReadOnly = errors.New("the backup storage location is ReadOnly")

// Location is one served location.
type Location struct {
	// Name is the BackupStorageLocation's name, what backups' spec.storageLocation says.
	Name string
	// Store is the location's bucket; nil when it could not be opened,
	// and then Err says why.
	Store objectstore.Store
	// Err is why the store could not be opened (a bad credential, a
	// missing Secret): the location is still served, and everything asked
	// of it answers 503 with this reason, so that its backups never just
	// vanish from a list.
	Err error
	// ReadOnly locations are read and restored from, never written to,
	// expired or deleted in.
	ReadOnly bool
	// Default marks the location backups go to when they name none.
	Default bool
	// Format is the layout of the bucket's backups: Ark's (the zero value)
	// or a Velero server's, which is only ever read (validation makes such
	// a location ReadOnly; Writable refuses it whatever it says).
	Format backupstore.Format
	// Keys are the location's encryption keys (its spec.encryption's
	// Secret): backups and restores written to it are encrypted with the
	// active one. Nil is a location without encryption.
	Keys *encryption.Keyring
	// Primary marks the location given by --backup-location: it is opened
	// from the flag, not from its object, and its backups win over those of
	// the same name elsewhere.
	Primary bool
}

// Writable returns the location's store for writing, or why it may not be written.
func (l *Location) Writable() (objectstore.Store, error) {
	switch {
	case l.ReadOnly || l.Format.IsVelero():
		return nil, fmt.Errorf("%w: %q", ErrReadOnly, l.Name)
	case l.Err != nil:
		return nil, fmt.Errorf("backup storage location %q is unavailable: %w", l.Name, l.Err)
	}
	return l.Store, nil
}

// Layout is how backups are laid out in the location's bucket.
func (l *Location) Layout(home string) backupstore.Layout {
	return backupstore.Layout{HomeNamespace: home, Format: l.Format, Keys: l.Keys}
}

// Readable returns the location's store, or why it cannot be opened.
func (l *Location) Readable() (objectstore.Store, error) {
	if l.Err != nil {
		return nil, fmt.Errorf("backup storage location %q is unavailable: %w", l.Name, l.Err)
	}
	return l.Store, nil
}

// Set is the locations served, safe for concurrent use. Subscribers learn
// of every change, so the registry can start and stop polling buckets as
// locations come and go.
type Set struct {
	mu       sync.RWMutex
	byName   map[string]*Location
	watchers []func()
}

// NewSet returns a set holding locs.
func NewSet(locs ...*Location) *Set {
	s := &Set{byName: map[string]*Location{}}
	for _, l := range locs {
		s.byName[l.Name] = l
	}
	return s
}

// Put adds a location or replaces the one of the same name. Stores are
// closed by whoever opened them, not by the set: the registry may still be
// finishing a poll with the one replaced.
func (s *Set) Put(l *Location) {
	s.mu.Lock()
	s.byName[l.Name] = l
	watchers := slices.Clone(s.watchers)
	s.mu.Unlock()
	for _, w := range watchers {
		w()
	}
}

// Remove stops serving a location; nothing in its bucket is touched.
func (s *Set) Remove(name string) {
	s.mu.Lock()
	_, ok := s.byName[name]
	delete(s.byName, name)
	watchers := slices.Clone(s.watchers)
	s.mu.Unlock()
	if !ok {
		return
	}
	for _, w := range watchers {
		w()
	}
}

// OnChange calls fn after every Put and Remove.
func (s *Set) OnChange(fn func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.watchers = append(s.watchers, fn)
}

// Get returns the location of a name.
func (s *Set) Get(name string) (*Location, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if l, ok := s.byName[name]; ok {
		return l, nil
	}
	return nil, fmt.Errorf("%w: %q", ErrUnknown, name)
}

// All returns the locations in precedence order: the primary one, then the
// ReadWrite ones by name, then the ReadOnly ones by name. When two locations
// hold a backup of the same name, the API serves the one of the location
// that comes first, so a bucket mounted ReadOnly from another cluster never
// hides this cluster's own backups.
func (s *Set) All() []*Location {
	s.mu.RLock()
	out := make([]*Location, 0, len(s.byName))
	for _, l := range s.byName {
		out = append(out, l)
	}
	s.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Primary != b.Primary {
			return a.Primary
		}
		if a.ReadOnly != b.ReadOnly {
			return b.ReadOnly
		}
		return a.Name < b.Name
	})
	return out
}

// Names returns the names of the locations, sorted.
func (s *Set) Names() []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]string, 0, len(s.byName))
	for n := range s.byName {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Default returns the location backups go to when they name none: one
// marked default other than the primary one (the first by name if several
// are: the primary location's object is created marked default, so a
// location an administrator marks default later takes over), else the
// primary one.
func (s *Set) Default() (*Location, error) {
	var primary *Location
	for _, l := range s.All() {
		switch {
		case l.Primary:
			primary = l
		case l.Default:
			return l, nil
		}
	}
	if primary != nil {
		return primary, nil
	}
	return nil, errors.New("no backup storage location is the default: mark one with spec.default")
}

// ForRestoreFiles returns where the logs and results of a restore from a
// backup of location name are kept: with the backup, unless its location is
// ReadOnly (or gone), and then in the default location.
func (s *Set) ForRestoreFiles(name string) (*Location, error) {
	if l, err := s.Get(name); err == nil && !l.ReadOnly && !l.Format.IsVelero() {
		return l, nil
	}
	l, err := s.Default()
	if err != nil {
		return nil, err
	}
	if l.ReadOnly || l.Format.IsVelero() {
		return nil, fmt.Errorf("%w: %q, the default location, so the restore's logs have nowhere to go", ErrReadOnly, l.Name)
	}
	return l, nil
}

// Location says whether a location of the name is served and whether it is
// ReadOnly: what validation asks of a new backup's spec.storageLocation.
func (s *Set) Location(name string) (exists, readOnly bool) {
	l, err := s.Get(name)
	if err != nil {
		return false, false
	}
	return true, l.ReadOnly || l.Format.IsVelero()
}

// Resolve returns the location of a backup's spec.storageLocation: the
// default one when empty.
func (s *Set) Resolve(name string) (*Location, error) {
	if name == "" {
		return s.Default()
	}
	return s.Get(name)
}

// WritableStore returns the store of the location a backup names, for
// writing: what the engines use to put a backup's files.
func (s *Set) WritableStore(name string) (objectstore.Store, error) {
	l, err := s.Resolve(name)
	if err != nil {
		return nil, err
	}
	return l.Writable()
}

// ReadableStore returns the store of the location a backup names, for reading.
func (s *Set) ReadableStore(name string) (objectstore.Store, error) {
	l, err := s.Resolve(name)
	if err != nil {
		return nil, err
	}
	return l.Readable()
}

// WritableStores returns the stores of the ReadWrite locations that could be
// opened, in precedence order.
func (s *Set) WritableStores() []objectstore.Store {
	var out []objectstore.Store
	for _, l := range s.All() {
		if store, err := l.Writable(); err == nil {
			out = append(out, store)
		}
	}
	return out
}
