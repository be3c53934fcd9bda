package backup

import (
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/utils/clock"

	"github.com/arkproject/ark/pkg/apis/ark"
	"github.com/arkproject/ark/pkg/backupstore"
	"github.com/arkproject/ark/pkg/objectstore"
)

const (
	// maxMetadataSize caps what is read of one ark-backup.json.
	maxMetadataSize = 4 << 20
	// eventWindow is how many changes a watch can resume across.
	eventWindow = 10000
	// readConcurrency bounds the parallel reads of changed ark-backup.json files during a poll.
	readConcurrency = 16
)

// id is how the index knows a backup: names are per namespace.
func id(namespace, name string) string { return namespace + "/" + name }

// entry is one backup as the index knows it.
type entry struct {
	obj *ark.Backup // ResourceVersion is the generation of its ark-backup.json
	gen int64
	// token is the ark-backup.json's change token (objectstore.ObjectAttrs.Token)
	// as last read: a poll reads the file again only when its listing shows
	// another, since some backends list no generation.
	token string
	// seen is the index revision at which this entry was last written, so a
	// poll that started earlier cannot undo a newer local write.
	seen uint64
	// unreadable marks the Corrupt view of a record that could not be
	// read (rather than one read and found bad): it is read again.
	unreadable bool
}

// event is one change, numbered by the index revision it produced.
type event struct {
	rev  uint64
	typ  watch.EventType
	obj  *ark.Backup
	prev *ark.Backup
}

// index is the in-memory view of the backups in one bucket. It is filled by
// polling the bucket's listing (one LIST per poll, plus one read per changed
// ark-backup.json) and by every write this server makes, and it fans changes
// out to watchers.
//
// Revisions: every change gets a revision greater than the previous one and
// at least the generation of the object it carries, so the resourceVersion of
// any object a client saw (its generation) or of any list (the revision) is a
// valid point to resume a watch from within the event window.
type index struct {
	store    objectstore.Store
	location string
	layout   backupstore.Layout
	decoder  runtime.Decoder
	clock    clock.Clock

	mu       sync.RWMutex
	items    map[string]*entry // by id
	rev      uint64
	synced   bool
	syncErr  error
	lastSync time.Time // end of the latest successful poll
	events   []event   // ring of the latest changes, oldest first
	window   int       // how many changes events keeps
	ringBase uint64    // every change after this revision is in events
	watchers map[*watcher]struct{}
	// listDone is closed and replaced after every poll, for tests and for
	// callers that want to wait for the next poll.
	pollDone chan struct{}
}

func newIndex(store objectstore.Store, location string, layout backupstore.Layout, decoder runtime.Decoder, clk clock.Clock) *index {
	return &index{
		store:    store,
		location: location,
		layout:   layout,
		decoder:  decoder,
		clock:    clk,
		items:    map[string]*entry{},
		watchers: map[*watcher]struct{}{},
		window:   eventWindow,
		pollDone: make(chan struct{}),
	}
}

// unavailable wraps a bucket failure with the location, for 503s.
func (ix *index) unavailable(err error) error {
	return &unavailableError{location: ix.location, store: ix.store.String(), err: err}
}

type unavailableError struct {
	location, store string
	err             error
}

func (e *unavailableError) Error() string {
	return fmt.Sprintf("backup storage location %q (%s) is unavailable: %v", e.location, e.store, e.err)
}

func (e *unavailableError) Unwrap() error { return e.err }

// observe records an object this server just wrote or read, so that its own
// clients see their writes in list and watch at once.
func (ix *index) observe(obj *ark.Backup, attrs objectstore.ObjectAttrs) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.applyLocked(id(obj.Namespace, obj.Name), obj, attrs.Generation, attrs.Token, ^uint64(0), false)
}

// forget records that a backup is gone from the bucket.
func (ix *index) forget(namespace, name string) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.removeLocked(id(namespace, name))
}

// applyLocked adds or replaces an entry unless the index already holds a
// newer write than a poll that started at revision since.
func (ix *index) applyLocked(key string, obj *ark.Backup, gen int64, token string, since uint64, unreadable bool) {
	old, exists := ix.items[key]
	if exists {
		if old.gen == gen && old.unreadable == unreadable {
			old.token = token
			return
		}
		if old.seen > since && gen < old.gen {
			return // a local write overtook this poll
		}
	}
	ix.rev++
	if uint64(gen) > ix.rev {
		ix.rev = uint64(gen)
	}
	e := &entry{obj: obj, gen: gen, token: token, seen: ix.rev, unreadable: unreadable}
	ix.items[key] = e
	if exists {
		ix.emitLocked(event{rev: ix.rev, typ: watch.Modified, obj: obj, prev: old.obj})
	} else {
		ix.emitLocked(event{rev: ix.rev, typ: watch.Added, obj: obj})
	}
}

func (ix *index) removeLocked(key string) {
	old, ok := ix.items[key]
	if !ok {
		return
	}
	delete(ix.items, key)
	ix.rev++
	gone := old.obj.DeepCopy()
	gone.ResourceVersion = strconv.FormatUint(ix.rev, 10)
	ix.emitLocked(event{rev: ix.rev, typ: watch.Deleted, obj: gone, prev: old.obj})
}

func (ix *index) emitLocked(ev event) {
	if !ix.synced {
		return // the initial load is not a change anyone can watch for
	}
	ix.events = append(ix.events, ev)
	if len(ix.events) > ix.window {
		drop := len(ix.events) - ix.window
		ix.ringBase = ix.events[drop-1].rev
		ix.events = append([]event(nil), ix.events[drop:]...)
	}
	for w := range ix.watchers {
		if !w.send(ev) {
			delete(ix.watchers, w)
		}
	}
}

// ready returns an error unless the index reflects a successful recent poll.
func (ix *index) readyLocked() error {
	if ix.syncErr != nil {
		return ix.syncErr
	}
	if !ix.synced {
		return ix.unavailable(errors.New("backups have not been loaded from the bucket yet"))
	}
	return nil
}

// snapshot returns the current backups sorted by namespace and name, and the
// revision they reflect.
func (ix *index) snapshot(filter func(*ark.Backup) bool) ([]*ark.Backup, uint64, error) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	if err := ix.readyLocked(); err != nil {
		return nil, 0, err
	}
	all := ix.sortedLocked()
	out := all[:0]
	for _, b := range all {
		if filter == nil || filter(b) {
			out = append(out, b)
		}
	}
	return out, ix.rev, nil
}

// cached returns the index's copy of a backup if it is at generation gen.
func (ix *index) cached(namespace, name string, gen int64) *ark.Backup {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	if e, ok := ix.items[id(namespace, name)]; ok && e.gen == gen && !e.unreadable {
		return e.obj
	}
	return nil
}

// currentRev is the revision of the index's state.
func (ix *index) currentRev() uint64 {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return ix.rev
}
