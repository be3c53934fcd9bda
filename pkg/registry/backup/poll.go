package backup

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"sync"
	"time"

	"github.com/google/uuid"
	"golang.org/x/sync/errgroup"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/klog/v2"

	"github.com/arkproject/ark/pkg/apis/ark"
	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
	"github.com/arkproject/ark/pkg/backupstore"
	"github.com/arkproject/ark/pkg/locations"
	"github.com/arkproject/ark/pkg/metrics"
	"github.com/arkproject/ark/pkg/objectstore"
)

// pollTimeout bounds one poll, so an unreachable bucket is reported rather
// than waited for.
const pollTimeout = 30 * time.Second

// pollPageSize is the page size a poll asks for: as large as a backend
// serves. Object stores cap their pages at 1,000 whatever is asked; the
// file store, which reads the whole folder of backups for every page, then
// reads it once. A poll holds every record's attributes anyway.
const pollPageSize = 1 << 20

// eventResyncFactor stretches the poll interval of a location whose store
// reports changes as they happen (objectstore.Notifier): events bring
// changes within moments, and the rarer poll only catches what events
// missed.
const eventResyncFactor = 12

// eventSettle is how long a poll waits after an event for the events that
// come with it, so that one poll answers a burst. Event-driven polls are
// spaced at least minEventGap, and ten times as long as the last poll
// took, so that a busy location (a backup rewriting its record as it
// progresses) costs at most a tenth of a core however many records each
// poll lists.
const (
	eventSettle = 50 * time.Millisecond
	minEventGap = 250 * time.Millisecond
	eventDuty   = 10
)

// pollDuty bounds the share of a core that periodic polls take: a poll
// that took d waits at least pollDuty*d for the next one (2%).
const pollDuty = 50

// run polls a location's bucket every interval until ctx ends. A store
// that reports changes (objectstore.Notifier) is listed every
// eventResyncFactor intervals instead, and in between, after eventSettle,
// the records it names are looked at one by one (see poll): what an event
// costs follows the records changed, not the bucket's size.
func (ix *index) run(ctx context.Context, s *source, interval time.Duration) {
	var (
		watched *locations.Location // the location whose store's changes are reported
		stop    context.CancelFunc
		events  bool
		// keys, when not nil, are the records the next poll looks at
		// instead of listing the bucket.
		keys []string
		// nextList is when the bucket is listed next, events or not.
		nextList time.Time
		// kicked says the poll was brought by events.
		kicked bool
		// wasStretched says the last interval was stretched, so that
		// it is logged once, not every poll.
		wasStretched bool
		// rewatch asks for the store's changes to be watched anew
		// before the next poll: the notifier lost track (its folder
		// went away, its queue overflowed, its subscription failed) or
		// the bucket could not be listed, and a watch set up on what
		// was there then may see nothing of what is there now.
		rewatch bool
		// retryWatch says a watch that worked stopped working: it is
		// tried again before every poll until it works, while one that
		// never could (a network file system, no subscription) is not.
		retryWatch bool
		// watchedSinceFailure says the watch was set up after the last
		// failed poll, so another failure is not the watch's doing.
		watchedSinceFailure bool
		// complete is whether the watch reports every change, so that
		// listings only catch what it missed.
		complete bool
	)
	defer func() {
		if stop != nil {
			stop()
		}
	}()
	for {
		ix.mu.RLock()
		loc := s.loc // replaced, not changed, when the location changes
		ix.mu.RUnlock()
		if loc != watched && watched != nil && sameStore(loc.Store, watched.Store) {
			// Replaced with the same store: its mode or default changed
			// (as the flag's location's does once its object exists).
			// The watch goes on: watching a file bucket anew means a
			// watch per folder again, and the next listing comes anyway.
			watched = loc
		}
		if loc != watched || rewatch {
			if stop != nil {
				stop()
			}
			if loc != watched {
				retryWatch, watchedSinceFailure = false, false
			}
			wasWatching := events
			watched, stop, events, keys, rewatch = loc, nil, false, nil, false
			if n, ok := loc.Store.(objectstore.Notifier); ok {
				s.takeChanges() // the old watch's: the listing below answers them
				wctx, cancel := context.WithCancel(ctx)
				lay := ix.layoutOf(loc)
				coverage, err := n.Notify(wctx, lay.Prefixes(), lay.MetadataFile(), s.noteChanges)
				if err != nil {
					cancel()
					// Said once, not at every retry.
					if !retryWatch || wasWatching {
						klog.InfoS("Polling the backup storage location for changes; it cannot report them", "location", s.name(), "interval", interval, "reason", err)
					}
					rewatch = retryWatch
				} else {
					// A watch renewed while it worked (events dropped)
					// is not news.
					complete = coverage == objectstore.CoversAll
					switch {
					case retryWatch && wasWatching:
					case complete:
						klog.InfoS("Watching the backup storage location for changes", "location", s.name(), "resync", interval*eventResyncFactor)
					default:
						klog.InfoS("Watching the backup storage location for new backups; changes to older ones are found by polling", "location", s.name(), "interval", interval)
					}
					stop, events, retryWatch = cancel, true, false
					watchedSinceFailure = true
				}
			}
		}

		pollStart := time.Now()
		if keys == nil {
			s.takeChanges() // this listing answers them
		}
		pctx, cancel := context.WithTimeout(ctx, pollTimeout)
		err := ix.poll(pctx, s, keys)
		if err != nil && keys != nil {
			klog.V(2).InfoS("Reading the changed backup records failed; listing the backup storage location", "location", s.name(), "err", err)
			keys = nil
			err = ix.poll(pctx, s, nil)
		}
		if ctx.Err() == nil { // not a location stopped mid-poll, whose series are gone
			metrics.BucketPolled(s.name(), time.Since(pollStart), err)
		}
		if err != nil {
			klog.ErrorS(err, "Polling backup storage location failed", "location", s.name())
			if _, ok := loc.Store.(objectstore.Notifier); ok && !watchedSinceFailure {
				// Once the bucket is back (remounted, recreated), the
				// old watch may be on nothing: watch it anew, and poll
				// at the interval until that works. A watch set up
				// since the last failure is kept: the bucket was there.
				rewatch, retryWatch = true, true
			}
		} else {
			watchedSinceFailure = false
		}
		cancel()
		// Polls that events bring are spaced by what they cost; a
		// periodic listing is paced below, and does not hold back the
		// events that follow it.
		gap := minEventGap
		if kicked {
			gap = max(minEventGap, eventDuty*time.Since(pollStart))
		}

		if keys == nil {
			ix.mu.RLock()
			took := s.listTook // what every listing costs, changed records aside
			ix.mu.RUnlock()
			period := interval
			if events && complete && err == nil {
				period = interval * eventResyncFactor
			}
			// However large the bucket, listing it takes at most
			// 1/pollDuty of a core: a bucket whose listing takes longer
			// than the interval allows is listed less often, and says so.
			// (Reading changed records is not counted: it follows the
			// changes.)
			if stretched := pollDuty * took; stretched > period {
				if !wasStretched {
					klog.InfoS("Listing the backup storage location takes long; it is listed less often than --bucket-poll-interval", "location", s.name(), "listingTook", took, "interval", stretched)
				}
				period, wasStretched = stretched, true
			} else {
				wasStretched = false
			}
			nextList = pollStart.Add(period)
		}

		var all bool
		kicked = false
		for waiting := true; waiting; {
			// Real time, as the poll's timeout: a test's fake clock
			// stops only the index's timestamps.
			timer := time.NewTimer(time.Until(nextList))
			select {
			case <-ctx.Done():
				timer.Stop()
				return
			case <-timer.C:
				waiting, all = false, true
			case <-s.pollNow:
				timer.Stop()
				waiting, all = false, true
			case <-s.kick:
				timer.Stop()
				wait := max(eventSettle, gap-time.Since(pollStart))
				select {
				case <-ctx.Done():
					return
				case <-time.After(wait):
				}
				select { // the events of the wait are answered by this poll
				case <-s.kick:
				default:
				}
				keys, all = s.takeChanges()
				kicked = true
				if all {
					// The notifier lost track: list, on a new watch.
					rewatch, retryWatch = true, true
				}
				// Nothing named (a listing answered it already): wait on.
				waiting = !all && len(keys) == 0
			}
		}
		if all {
			keys = nil
		}
	}
}

// layoutOf is how backups are laid out in a location's bucket.
func (ix *index) layoutOf(loc *locations.Location) backupstore.Layout {
	return loc.Layout(ix.layout.HomeNamespace)
}

// sameStore reports whether a and b are the same opened store. Stores are
// pointers; anything else is taken as different, to be safe.
func sameStore(a, b objectstore.Store) bool {
	if a == nil || b == nil {
		return false
	}
	t := reflect.TypeOf(a)
	return t == reflect.TypeOf(b) && t.Kind() == reflect.Pointer && a == b
}

// poll lists a location's bucket and brings the index up to date with it.
// Given keys (the store reported those records changed), it looks at
// those records alone, once the location has been listed: a few reads of
// attributes rather than a listing of every backup. Such a poll's failure
// is only returned, for the caller to list instead.
func (ix *index) poll(ctx context.Context, s *source, keys []string) error {
	ix.mu.RLock()
	start := ix.rev
	loc := s.loc
	if !s.synced {
		keys = nil
	}
	ix.mu.RUnlock()
	if keys != nil {
		return ix.pollRecords(ctx, s, loc, start, keys)
	}

	listed := map[string]listedBackup{}
	listStart := time.Now()
	store, err := loc.Readable()
	lay := ix.layoutOf(loc)
	for _, prefix := range lay.Prefixes() {
		if err != nil {
			break
		}
		// Only the records: a backup's other files (six more) are not
		// the index's business, and listing them would make every poll
		// cost seven times the backups.
		opts := objectstore.ListOptions{Prefix: prefix, Name: lay.MetadataFile(), Limit: pollPageSize}
		err = objectstore.ListEach(ctx, store, opts, func(a objectstore.ObjectAttrs) error {
			if ref, ok := lay.ParseMetadataKey(a.Key); ok {
				listed[id(ref.Namespace, ref.Name)] = listedBackup{ref: ref, attrs: a}
			}
			return nil
		})
	}
	listTook := time.Since(listStart)
	if err != nil {
		err = unavailable(loc, err)
		ix.mu.Lock()
		s.syncErr = err
		ix.finishPollLocked(s)
		ix.mu.Unlock()
		return err
	}

	ix.update(ctx, s, loc, start, listed, nil, func() {
		ix.listedLocked(s, listTook)
	})
	return nil
}

// listedLocked records that a listing of s, which took took, succeeded.
func (ix *index) listedLocked(s *source, took time.Duration) {
	s.syncErr = nil
	s.lastSync = ix.clock.Now()
	s.listTook = took
	if !s.synced {
		s.synced = true
		n := 0
		for _, e := range ix.items {
			if e.loc == s.name() {
				n++
			}
		}
		klog.InfoS("Loaded backups from storage location", "location", s.name(), "backups", n, "shadowed", len(s.shadowed))
	}
	if !ix.synced {
		ix.synced = true
		ix.ringBase = ix.rev
	}
	ix.finishPollLocked(s)
}

// pollRecords looks at the records of keys (others than records are
// ignored) and brings the index up to date with what it finds: a record
// absent now is a backup gone.
func (ix *index) pollRecords(ctx context.Context, s *source, loc *locations.Location, start uint64, keys []string) error {
	store, err := loc.Readable()
	if err != nil {
		return err
	}
	var (
		mu     sync.Mutex
		listed = map[string]listedBackup{}
		scope  = map[string]bool{}
		g      errgroup.Group
	)
	g.SetLimit(readConcurrency)
	lay := ix.layoutOf(loc)
	for _, key := range keys {
		ref, ok := lay.ParseMetadataKey(key)
		if !ok {
			continue
		}
		scope[id(ref.Namespace, ref.Name)] = true
		g.Go(func() error {
			a, err := store.Attrs(ctx, key)
			switch {
			case errors.Is(err, objectstore.ErrNotFound):
				return nil
			case err != nil:
				return err
			}
			mu.Lock()
			listed[id(ref.Namespace, ref.Name)] = listedBackup{ref: ref, attrs: a}
			mu.Unlock()
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return unavailable(loc, err)
	}
	if len(scope) > 0 {
		ix.update(ctx, s, loc, start, listed, scope, nil)
	}
	return nil
}

// update brings the index up to date with the records listed of a
// location's bucket in a poll that started at revision start: of every
// backup, or with scope, of the backups of those ids only. It calls done,
// if any, under the same lock, unless the location stopped being served.
func (ix *index) update(ctx context.Context, s *source, loc *locations.Location, start uint64, listed map[string]listedBackup, scope map[string]bool, done func()) {
	// Read only what is new or changed since we last saw it, and again what
	// could not be read last time. The listing's change token decides, not
	// its generation, which some backends (S3) do not list. A record that a
	// location of lower rank shadows is not read while it stays unchanged.
	var changed []listedBackup
	ix.mu.RLock()
	for key, l := range listed {
		if e, ok := ix.items[key]; ok && e.loc == s.name() && e.token == tokenOf(l.attrs.Token) && !e.unreadable {
			continue
		}
		if e, ok := ix.items[key]; ok && e.loc != s.name() && !ix.outranksLocked(s.name(), e.loc) {
			continue // shadowed: counted below
		}
		changed = append(changed, l)
	}
	ix.mu.RUnlock()
	loaded := ix.readAll(ctx, loc, changed)

	ix.mu.Lock()
	defer ix.unlock()
	if ix.sources[s.name()] != s {
		return // the location stopped being served during the poll
	}
	inScope := func(key string) bool { return scope == nil || scope[key] }
	for _, l := range loaded {
		key := id(l.obj.Namespace, l.obj.Name)
		e, ok := ix.items[key]
		if ok && e.loc != s.name() && !ix.outranksLocked(s.name(), e.loc) {
			s.shadowed[key] = tokenOf(l.attrs.Token)
			continue // another location's backup of that name came first
		}
		if l.unreadable && ok && e.loc == s.name() && !e.unreadable {
			continue // keep what we last read until the new version can be read
		}
		delete(s.shadowed, key)
		ix.applyLocked(key, s.name(), l.obj, l.attrs.Generation, tokenOf(l.attrs.Token), start, l.unreadable)
	}
	for key, l := range listed {
		if e, ok := ix.items[key]; ok && e.loc != s.name() {
			s.shadowed[key] = tokenOf(l.attrs.Token)
		}
	}
	for key := range s.shadowed {
		if _, ok := listed[key]; !ok && inScope(key) {
			delete(s.shadowed, key)
		}
	}
	gone := func(key string, e *entry) {
		if _, ok := listed[key]; !ok && e.loc == s.name() && e.seen <= start {
			ix.removeLocked(key)
			ix.unshadowLocked(key)
		}
	}
	if scope == nil {
		for key, e := range ix.items {
			gone(key, e)
		}
	}
	for key := range scope {
		if e, ok := ix.items[key]; ok {
			gone(key, e)
		}
	}
	if done != nil {
		done()
	}
}

func (ix *index) finishPollLocked(s *source) {
	close(s.pollDone)
	s.pollDone = make(chan struct{})
}

// nextPolls returns channels closed when the poll after now of each
// location has finished (or the location is no longer served), and asks
// each location for that poll now rather than at its next interval.
func (ix *index) nextPolls() []<-chan struct{} {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	out := make([]<-chan struct{}, 0, len(ix.sources))
	for _, s := range ix.sources {
		out = append(out, s.pollDone)
		select {
		case s.pollNow <- struct{}{}:
		default:
		}
	}
	return out
}

// listedBackup is a metadata file found by a poll.
type listedBackup struct {
	ref   backupstore.Backup
	attrs objectstore.ObjectAttrs
}

type loadedBackup struct {
	obj   *ark.Backup
	attrs objectstore.ObjectAttrs
	// unreadable marks the view of a record that could not be read this
	// time (not one whose content is bad): it is read again next poll.
	unreadable bool
}

// readAll reads and decodes changed metadata files, a few at a time. No
// record's failure fails the poll: a bad record becomes a Corrupt view of
// itself, one that cannot be read just now an unreadable one, and every
// other backup stays listed and watched. (An outage fails the listing,
// which is what makes list and watch answer 503.)
func (ix *index) readAll(ctx context.Context, loc *locations.Location, listed []listedBackup) []loadedBackup {
	var (
		mu  sync.Mutex
		out []loadedBackup
		wg  sync.WaitGroup
		sem = make(chan struct{}, readConcurrency)
	)
	for _, l := range listed {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			obj, attrs, err := ix.read(ctx, loc, l.ref)
			var loaded loadedBackup
			switch {
			case err == nil:
				loaded = loadedBackup{obj: obj, attrs: attrs}
			case errors.Is(err, objectstore.ErrNotFound), ctx.Err() != nil:
				return // deleted between list and read, or the poll timed out: the next poll sees
			default:
				klog.ErrorS(err, "Cannot read a backup record; listing it as Corrupt until it can be read", "location", loc.Name, "backup", klog.KRef(l.ref.Namespace, l.ref.Name))
				attrs := ix.listedGeneration(ctx, loc.Store, l.ref, l.attrs)
				loaded = loadedBackup{obj: ix.corruptView(loc, l.ref, attrs, fmt.Errorf("cannot be read: %w", err)), attrs: attrs, unreadable: true}
			}
			mu.Lock()
			out = append(out, loaded)
			mu.Unlock()
		}()
	}
	wg.Wait()
	return out
}

// listedGeneration returns the listed attributes of a record that could not
// be read, with its generation (its resourceVersion) filled in from the
// object's attributes where the listing has none: reading the content can
// fail where its attributes can be read (an S3 object whose encryption key
// the server may not use). When those fail too it stays 0.
func (ix *index) listedGeneration(ctx context.Context, store objectstore.Store, ref backupstore.Backup, listed objectstore.ObjectAttrs) objectstore.ObjectAttrs {
	if listed.Generation != 0 {
		return listed
	}
	a, err := store.Attrs(ctx, ref.MetadataKey())
	if err != nil || a.Token != listed.Token {
		return listed
	}
	return a
}

var (
	errCorrupt = errors.New("corrupt backup record")
	defaultGVK = arkv1.SchemeGroupVersion.WithKind("Backup")
)

// read fetches and decodes one ark-backup.json. Where the file is decides
// the backup's namespace and name, whatever the file says: backups/ holds
// the home namespace's (as Heptio Ark wrote them, and earlier versions of
// Ark wrote every namespace's, which administrators now find in the home
// namespace), namespaces/<ns>/backups/ another namespace's.
//
// A record that is oversized, undecodable or not a Backup of that name is
// returned as a Corrupt view of itself (see corruptView), without error:
// it is the bucket's content that is bad, and saying so is the answer.
// Errors are those of reading (not found, the store failing).
//
// spec.storageLocation is the location it was read from, whatever the
// record says: that is where it lives. A record written for another
// location's name then no longer matches its signature, so a record
// copied between buckets never runs.
func (ix *index) read(ctx context.Context, loc *locations.Location, ref backupstore.Backup) (*ark.Backup, objectstore.ObjectAttrs, error) {
	store, err := loc.Readable()
	if err != nil {
		return nil, objectstore.ObjectAttrs{}, err
	}
	r, attrs, err := store.NewReader(ctx, ref.MetadataKey())
	if err != nil {
		return nil, objectstore.ObjectAttrs{}, err
	}
	defer r.Close()
	data, err := io.ReadAll(io.LimitReader(r, maxMetadataSize+1))
	if err != nil {
		return nil, objectstore.ObjectAttrs{}, fmt.Errorf("reading %s: %w", ref.MetadataKey(), err)
	}
	var obj *ark.Backup
	if ref.Format().IsVelero() {
		obj, err = decodeVelero(data, ref, loc.Store.String())
	} else {
		obj, err = ix.decode(data, ref)
	}
	if err != nil {
		klog.ErrorS(err, "Listing a bad backup record as Corrupt", "location", loc.Name, "key", ref.MetadataKey(), "generation", attrs.Generation)
		return ix.corruptView(loc, ref, attrs, err), attrs, nil
	}
	obj.Name, obj.Namespace = ref.Name, ref.Namespace
	obj.Spec.StorageLocation = loc.Name
	obj.ResourceVersion = strconv.FormatInt(attrs.Generation, 10)
	ix.share.shareRepeats(obj)
	return obj, attrs, nil
}

// decode reads data as the record of the backup at ref, refusing anything
// that is not plainly one: too large, empty, null or {}, another kind, a
// record naming another backup (copied or moved by hand), or a phase this
// API never writes.
func (ix *index) decode(data []byte, ref backupstore.Backup) (*ark.Backup, error) {
	if len(data) > maxMetadataSize {
		return nil, fmt.Errorf("%w: it is larger than %d bytes", errCorrupt, maxMetadataSize)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, fmt.Errorf("%w: it is empty", errCorrupt)
	}
	// Files without apiVersion/kind are read as ark.heptio.com/v1 Backups.
	out, _, err := ix.decoder.Decode(data, &defaultGVK, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errCorrupt, err)
	}
	b, ok := out.(*ark.Backup)
	if !ok {
		return nil, fmt.Errorf("%w: it holds a %T, not a Backup", errCorrupt, out)
	}
	if b.Name != ref.Name {
		return nil, fmt.Errorf("%w: it names backup %q, not %q (records are not moved or copied between folders)", errCorrupt, b.Name, ref.Name)
	}
	if !knownPhase(b.Status.Phase) {
		return nil, fmt.Errorf("%w: status.phase %q is not a phase Ark writes", errCorrupt, b.Status.Phase)
	}
	return b, nil
}

func knownPhase(p ark.BackupPhase) bool {
	switch p {
	case "", ark.BackupPhaseNew, ark.BackupPhaseFailedValidation, ark.BackupPhaseInProgress, ark.BackupPhaseCompleted,
		ark.BackupPhasePartiallyFailed, ark.BackupPhaseFailed, ark.BackupPhaseDeleting:
		return true
	}
	return false
}

// corruptView is what the API shows of a record that cannot be used: its
// name and namespace (from where it lies), its generation, when it was
// written, and why it is bad. Nothing of its content is shown or trusted,
// so it runs nothing and restores nothing; it can only be deleted.
func (ix *index) corruptView(loc *locations.Location, ref backupstore.Backup, attrs objectstore.ObjectAttrs, why error) *ark.Backup {
	b := &ark.Backup{}
	b.Name, b.Namespace = ref.Name, ref.Namespace
	b.ResourceVersion = strconv.FormatInt(attrs.Generation, 10)
	// A UID, stable for this version of the file, so that clients (and
	// the patch handler, which takes an object without one for absent)
	// see an object that exists.
	b.UID = types.UID(uuid.NewSHA1(uuid.NameSpaceURL, []byte(loc.Store.String()+"/"+ref.MetadataKey()+"@"+b.ResourceVersion)).String())
	b.CreationTimestamp = metav1.NewTime(attrs.Updated)
	b.Spec.StorageLocation = loc.Name
	b.Status.Phase = ark.BackupPhaseCorrupt
	b.Status.FailureReason = fmt.Sprintf("the record %s in the backup storage location is corrupt, so nothing of it is used: %v", ref.MetadataKey(), why)
	return b
}
