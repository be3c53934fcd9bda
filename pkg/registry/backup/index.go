package backup

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"slices"
	"sort"
	"strconv"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"

	"github.com/arkproject/ark/pkg/apis/ark"
	"github.com/arkproject/ark/pkg/backupstore"
	"github.com/arkproject/ark/pkg/locations"
	"github.com/arkproject/ark/pkg/metrics"
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

// changeToken stands for an object's change token (ObjectAttrs.Token),
// which is only ever compared: a hash of it, in 8 bytes of the entry,
// rather than a string of 30 to 60 (a file store's, an ETag) beside it.
// Two tokens of one record collide once in 2^64 changes.
type changeToken uint64

var tokenSeed = maphash.MakeSeed()

func tokenOf(token string) changeToken { return changeToken(maphash.String(tokenSeed, token)) }

// entry is one backup as the index knows it.
type entry struct {
	obj *ark.Backup // ResourceVersion is the generation of its ark-backup.json
	gen int64
	// loc is the name of the location the backup is served from.
	loc string
	// token is the ark-backup.json's change token (objectstore.ObjectAttrs.Token)
	// as last read: a poll reads the file again only when its listing shows
	// another, since some backends list no generation.
	token changeToken
	// seen is the index revision at which this entry was last written, so a
	// poll that started earlier cannot undo a newer local write.
	seen uint64
	// unreadable marks the Corrupt view of a record that could not be
	// read (rather than one read and found bad): it is read again.
	unreadable bool
	// gone marks an entry removed from items and not yet from order.
	gone bool
}

// before orders entries as lists return them: by namespace, then name.
func (e *entry) before(ns, name string) bool {
	if e.obj.Namespace != ns {
		return e.obj.Namespace < ns
	}
	return e.obj.Name < name
}

// event is one change, numbered by the index revision it produced.
type event struct {
	rev  uint64
	typ  watch.EventType
	obj  *ark.Backup
	prev *ark.Backup
}

// source is one location as the index polls it.
type source struct {
	// locName is the location's name, which never changes for a source.
	locName string
	// loc is the location as last put in the set (its store and flags
	// change); read it under the index's lock.
	loc *locations.Location
	// rank orders sources: of two backups of the same namespace and name
	// in two locations, the one of the lower rank is served.
	rank     int
	synced   bool
	syncErr  error
	lastSync time.Time     // end of the latest successful poll
	listTook time.Duration // how long its listing took
	// shadowed are the records of this location hidden by a backup of the
	// same name in a location of lower rank, by id, with their change
	// tokens: they are not read again until they change or the other goes.
	shadowed map[string]changeToken
	// pollDone is closed and replaced after every poll of the source.
	pollDone chan struct{}
	// kick asks for a poll soon: the store reported a change. pollNow
	// asks for one at once: a caller waits for the next poll.
	kick, pollNow chan struct{}
	cancel        context.CancelFunc

	// changesMu guards what the store reported since the last poll: the
	// keys of records that may have changed, or that anything may have.
	changesMu  sync.Mutex
	changes    map[string]struct{}
	changedAll bool
}

// maxChangedKeys is how many changed records a poll looks at one by one;
// more than that, and listing the bucket is the cheaper way.
const maxChangedKeys = 256

// noteChanges records what the store reported (nil keys: anything may
// have changed) and asks for a poll.
func (s *source) noteChanges(keys []string) {
	s.changesMu.Lock()
	if keys == nil || len(s.changes)+len(keys) > maxChangedKeys {
		s.changedAll, s.changes = true, nil
	} else if !s.changedAll {
		if s.changes == nil {
			s.changes = map[string]struct{}{}
		}
		for _, k := range keys {
			s.changes[k] = struct{}{}
		}
	}
	s.changesMu.Unlock()
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// takeChanges returns and forgets what the store reported: the keys that
// may have changed, or all when the bucket must be listed.
func (s *source) takeChanges() (keys []string, all bool) {
	s.changesMu.Lock()
	defer s.changesMu.Unlock()
	all = s.changedAll
	if !all {
		keys = make([]string, 0, len(s.changes))
		for k := range s.changes {
			keys = append(keys, k)
		}
	}
	s.changes, s.changedAll = nil, false
	return keys, all
}

func (s *source) name() string { return s.locName }

// unavailable wraps a failure of the source with the location, for 503s.
func (s *source) unavailable(err error) error { return unavailable(s.loc, err) }

// index is the in-memory view of the backups in every served location. It
// is filled by polling each location's listing (one LIST per poll, plus one
// read per changed ark-backup.json) and by every write this server makes,
// and it fans changes out to watchers.
//
// Revisions: every change gets a revision greater than the previous one and
// at least the generation of the object it carries, so the resourceVersion of
// any object a client saw (its generation) or of any list (the revision) is a
// valid point to resume a watch from within the event window. One sequence
// of revisions covers every location, so one watch sees them all.
//
// Names: a namespace holds one backup of a name. When two locations both
// hold one (a ReadOnly location mounted from another cluster's bucket, say),
// the location of lower rank (see locations.Set.All) is served and the other
// record is counted as shadowed in its location's health; creating a
// backup of a name some location holds is refused.
type index struct {
	layout  backupstore.Layout
	decoder runtime.Decoder
	clock   clock.Clock
	// share holds what the records loaded so far have in common.
	share shareTable

	mu      sync.RWMutex
	sources map[string]*source
	items   map[string]*entry // by id
	// order holds the entries of items sorted by namespace and name, so a
	// page of a list costs a binary search and the page, never a sort of
	// every backup. Additions wait in added and removals are marked gone
	// until settleLocked merges them in, once per change of the index
	// rather than once per backup, so that loading 100,000 backups is one
	// sort, not 100,000 insertions.
	order    []*entry
	added    []*entry
	removed  int
	rev      uint64
	synced   bool    // some source has been polled: changes are events from then on
	events   []event // ring of the latest changes, oldest first
	window   int     // how many changes events keeps
	ringBase uint64  // every change after this revision is in events
	watchers map[*watcher]struct{}
	// keyMessages are the messages of key conditions (see conditions.go).
	keyMessages map[keyMessage]string
}

func newIndex(layout backupstore.Layout, decoder runtime.Decoder, clk clock.Clock) *index {
	return &index{
		layout:      layout,
		decoder:     decoder,
		clock:       clk,
		sources:     map[string]*source{},
		items:       map[string]*entry{},
		watchers:    map[*watcher]struct{}{},
		window:      eventWindow,
		keyMessages: map[keyMessage]string{},
	}
}

type unavailableError struct {
	location, store string
	err             error
}

func (e *unavailableError) Error() string {
	return fmt.Sprintf("backup storage location %q (%s) is unavailable: %v", e.location, e.store, e.err)
}

func (e *unavailableError) Unwrap() error { return e.err }

// setLocations brings the sources in line with locs (in rank order): new
// locations start polling, gone ones stop and their backups leave the
// index (their buckets are not touched), and changed ones poll with their
// new store from the next poll on.
func (ix *index) setLocations(ctx context.Context, locs []*locations.Location, interval time.Duration) {
	ix.mu.Lock()
	defer ix.unlock()
	want := map[string]bool{}
	for rank, l := range locs {
		want[l.Name] = true
		if s, ok := ix.sources[l.Name]; ok {
			keysChanged := s.loc.Keys != l.Keys
			s.loc, s.rank = l, rank
			if keysChanged {
				ix.rederiveLocked(l.Name)
			}
			continue
		}
		sctx, cancel := context.WithCancel(ctx)
		s := &source{locName: l.Name, loc: l, rank: rank, shadowed: map[string]changeToken{}, pollDone: make(chan struct{}), kick: make(chan struct{}, 1), pollNow: make(chan struct{}, 1), cancel: cancel}
		ix.sources[l.Name] = s
		go ix.run(sctx, s, interval)
		klog.InfoS("Serving backups from storage location", "location", l.Name, "readOnly", l.ReadOnly)
	}
	for name, s := range ix.sources {
		if want[name] {
			continue
		}
		s.cancel()
		delete(ix.sources, name)
		for key, e := range ix.items {
			if e.loc == name {
				ix.removeLocked(key)
			}
		}
		ix.unshadowLocked("")
		close(s.pollDone)
		s.pollDone = make(chan struct{})
		metrics.LocationGone(name)
		klog.InfoS("Stopped serving backups from storage location; its bucket is untouched", "location", name)
	}
}

// unshadowLocked forgets the shadowed records whose backup the index no
// longer serves (key "" checks them all), so their own location's next
// poll reads and serves them.
func (ix *index) unshadowLocked(key string) {
	for _, s := range ix.sources {
		if key != "" {
			delete(s.shadowed, key)
			continue
		}
		for k := range s.shadowed {
			if _, ok := ix.items[k]; !ok {
				delete(s.shadowed, k)
			}
		}
	}
}

// source returns the source of a location, or nil.
func (ix *index) source(name string) *source {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return ix.sources[name]
}

// lookupOrder returns the served locations to look for a backup in: first
// (when served), then the others in rank order.
func (ix *index) lookupOrder(first string) []*locations.Location {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	out := make([]*locations.Location, 0, len(ix.sources))
	if s, ok := ix.sources[first]; ok {
		out = append(out, s.loc)
	}
	for _, s := range ix.rankedLocked() {
		if s.name() != first {
			out = append(out, s.loc)
		}
	}
	return out
}

// heldElsewhere returns a location other than loc that holds (or shadows)
// a backup of the name, as of its latest poll, or "".
func (ix *index) heldElsewhere(loc, namespace, name string) string {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	key := id(namespace, name)
	if e, ok := ix.items[key]; ok && e.loc != loc {
		return e.loc
	}
	for _, s := range ix.rankedLocked() {
		if _, ok := s.shadowed[key]; ok && s.name() != loc {
			return s.name()
		}
	}
	return ""
}

func (ix *index) rankedLocked() []*source {
	out := make([]*source, 0, len(ix.sources))
	for _, s := range ix.sources {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].rank < out[j].rank })
	return out
}

// locationOf returns the location the index serves a backup from, or "".
func (ix *index) locationOf(namespace, name string) string {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	if e, ok := ix.items[id(namespace, name)]; ok {
		return e.loc
	}
	return ""
}

// observe records an object this server just wrote to or read from
// location loc, so that its own clients see their writes in list and watch
// at once. It returns the conditions the index derived for obj (see
// deriveLocked), for the writer to answer with; obj must not be shared.
func (ix *index) observe(loc string, obj *ark.Backup, attrs objectstore.ObjectAttrs) []metav1.Condition {
	ix.mu.Lock()
	defer ix.unlock()
	if _, ok := ix.sources[loc]; !ok {
		return nil // the location stopped being served meanwhile
	}
	key := id(obj.Namespace, obj.Name)
	e, ok := ix.items[key]
	var prev *ark.Backup
	if ok && e.loc == loc {
		prev = e.obj
	}
	ix.deriveLocked(loc, obj, prev)
	if ok && e.loc != loc && !ix.outranksLocked(loc, e.loc) {
		ix.sources[loc].shadowed[key] = tokenOf(attrs.Token)
		return obj.Status.Conditions
	}
	ix.applyLocked(key, loc, obj, attrs.Generation, tokenOf(attrs.Token), ^uint64(0), false)
	return obj.Status.Conditions
}

// outranksLocked says whether location a's backups win over b's.
func (ix *index) outranksLocked(a, b string) bool {
	sa, sb := ix.sources[a], ix.sources[b]
	return sa != nil && (sb == nil || sa.rank < sb.rank)
}

// forget records that a backup is gone from location loc.
func (ix *index) forget(loc, namespace, name string) {
	ix.mu.Lock()
	defer ix.unlock()
	key := id(namespace, name)
	if s, ok := ix.sources[loc]; ok {
		delete(s.shadowed, key)
	}
	if e, ok := ix.items[key]; ok && e.loc == loc {
		ix.removeLocked(key)
		ix.unshadowLocked(key)
	}
}

// applyLocked adds or replaces an entry unless the index already holds a
// newer write than a poll that started at revision since. An entry of
// another location is replaced only by the caller's decision (see poll).
func (ix *index) applyLocked(key, loc string, obj *ark.Backup, gen int64, token changeToken, since uint64, unreadable bool) {
	old, exists := ix.items[key]
	if exists && old.loc == loc {
		if old.gen == gen && old.unreadable == unreadable {
			old.token = token
			return
		}
		if old.seen > since && gen < old.gen {
			return // a local write overtook this poll
		}
	}
	if exists && old.loc != loc {
		if s, ok := ix.sources[old.loc]; ok {
			s.shadowed[key] = old.token
		}
	}
	var prev *ark.Backup
	if exists && old.loc == loc {
		prev = old.obj
	}
	ix.deriveLocked(loc, obj, prev)
	ix.rev++
	if uint64(gen) > ix.rev {
		ix.rev = uint64(gen)
	}
	next := entry{obj: obj, gen: gen, loc: loc, token: token, seen: ix.rev, unreadable: unreadable}
	if exists {
		prev := old.obj
		*old = next // in place: its position in order stays
		ix.emitLocked(event{rev: ix.rev, typ: watch.Modified, obj: obj, prev: prev})
		return
	}
	e := &next
	ix.items[key] = e
	ix.added = append(ix.added, e)
	ix.emitLocked(event{rev: ix.rev, typ: watch.Added, obj: obj})
}

// settleLocked merges the entries added and removed since it last ran into
// order. Every method that changes items calls it before releasing the
// lock (through unlock), so readers always find order complete.
func (ix *index) settleLocked() {
	if len(ix.added) == 0 && ix.removed == 0 {
		return
	}
	slices.SortFunc(ix.added, func(a, b *entry) int {
		if a.before(b.obj.Namespace, b.obj.Name) {
			return -1
		}
		return 1
	})
	merged := make([]*entry, 0, len(ix.items))
	i, j := 0, 0
	for i < len(ix.order) || j < len(ix.added) {
		var e *entry
		if j == len(ix.added) || (i < len(ix.order) && ix.order[i].before(ix.added[j].obj.Namespace, ix.added[j].obj.Name)) {
			e, i = ix.order[i], i+1
		} else {
			e, j = ix.added[j], j+1
		}
		if !e.gone {
			merged = append(merged, e)
		}
	}
	ix.order, ix.added, ix.removed = merged, nil, 0
}

// unlock settles the order of entries and releases the write lock.
func (ix *index) unlock() {
	ix.settleLocked()
	ix.mu.Unlock()
}

// seek returns the position in order of the first backup after
// namespace/name ("" name: the namespace's first).
func (ix *index) seekLocked(namespace, name string, inclusive bool) int {
	return sort.Search(len(ix.order), func(i int) bool {
		e := ix.order[i]
		if e.obj.Namespace != namespace {
			return e.obj.Namespace > namespace
		}
		if inclusive {
			return e.obj.Name >= name
		}
		return e.obj.Name > name
	})
}

func (ix *index) removeLocked(key string) {
	old, ok := ix.items[key]
	if !ok {
		return
	}
	delete(ix.items, key)
	old.gone = true
	ix.removed++
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
	metrics.BackupWatchers(len(ix.watchers))
}

// errNotLoaded is the state of a location not polled yet.
var errNotLoaded = errors.New("backups have not been loaded from the bucket yet")

// downLocked returns, for the sources that only pick selects (nil: all),
// why each one that did not answer its latest poll is down, and whether
// any answered. A source answers once it has been polled successfully and
// its latest poll succeeded.
func (ix *index) downLocked(pick func(loc string) bool) (down []error, anyUp bool) {
	for _, s := range ix.rankedLocked() {
		if pick != nil && !pick(s.name()) {
			continue
		}
		switch {
		case s.syncErr != nil:
			down = append(down, s.syncErr)
		case !s.synced:
			down = append(down, s.unavailable(errNotLoaded))
		default:
			anyUp = true
		}
	}
	return down, anyUp
}

// readyLocked returns an error unless some selected source answers: what a
// list or watch can serve. No location at all is an empty, complete answer.
func (ix *index) readyLocked(pick func(loc string) bool) (down []error, err error) {
	down, anyUp := ix.downLocked(pick)
	if !anyUp && len(down) > 0 {
		return nil, down[0]
	}
	return down, nil
}

// scan returns, in namespace and name order, up to limit backups (0: all)
// that filter selects, of namespace ("": every namespace) and after the
// backup afterNS/afterName (afterName "": from the start); the revision
// they reflect; why each selected location that did not answer is
// missing; and how many backups of the namespace follow the last one
// returned, selected or not. It fails when no selected location answers.
// It costs a binary search and the backups it passes over, never a sort.
func (ix *index) scan(pick func(loc string) bool, namespace, afterNS, afterName string, limit int, filter func(*ark.Backup) bool) (out []*ark.Backup, rev uint64, down []error, rest int, err error) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	down, err = ix.readyLocked(pick)
	if err != nil {
		return nil, 0, nil, 0, err
	}
	start, end := 0, len(ix.order)
	if namespace != "" {
		start = ix.seekLocked(namespace, "", true)
		end = sort.Search(len(ix.order), func(i int) bool { return ix.order[i].obj.Namespace > namespace })
	}
	if afterName != "" {
		start = max(start, ix.seekLocked(afterNS, afterName, false))
	}
	i := start
	for ; i < end && (limit == 0 || len(out) < limit); i++ {
		if b := ix.order[i].obj; filter == nil || filter(b) {
			out = append(out, b)
		}
	}
	return out, ix.rev, down, max(end-i, 0), nil // a token of another namespace starts past its end
}

// cached returns the index's copy of a backup if it is at generation gen in location loc.
func (ix *index) cached(loc, namespace, name string, gen int64) *ark.Backup {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	if e, ok := ix.items[id(namespace, name)]; ok && e.loc == loc && e.gen == gen && !e.unreadable {
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
