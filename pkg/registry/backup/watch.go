package backup

import (
	"fmt"
	"strconv"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/arkproject/ark/pkg/apis/ark"
	"github.com/arkproject/ark/pkg/metrics"
)

// watcherBuffer is how many changes a slow watcher may lag behind before it
// is closed (with 410 Gone, so its client re-lists) rather than slowing the
// fan-out for everyone else.
const watcherBuffer = 1024

type watchOptions struct {
	resourceVersion   string
	sendInitialEvents bool
	bookmarks         bool
	filter            func(*ark.Backup) bool
	// pick selects the locations the watch is about (nil: all); only
	// their readiness matters.
	pick func(loc string) bool
	// out makes the object an event carries from the index's own; nil
	// is a deep copy, which the API server's encoding may then own.
	out func(*ark.Backup) runtime.Object
}

type watcher struct {
	ix        *index
	in        chan event
	result    chan watch.Event
	done      chan struct{}
	stopOnce  sync.Once
	filter    func(*ark.Backup) bool
	bookmarks bool
	out       func(*ark.Backup) runtime.Object
}

var _ watch.Interface = &watcher{}

// watch starts a watch. Initial events come from the index's state (or its
// event window, when resuming from a resourceVersion) taken under the same
// lock that registers the watcher, so no change is lost or sent twice.
func (ix *index) watch(opts watchOptions) (watch.Interface, []error, error) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	down, err := ix.readyLocked(opts.pick)
	if err != nil {
		return nil, nil, err
	}
	w := &watcher{
		ix:        ix,
		in:        make(chan event, watcherBuffer),
		result:    make(chan watch.Event),
		done:      make(chan struct{}),
		filter:    opts.filter,
		bookmarks: opts.bookmarks,
		out:       opts.out,
	}
	if w.out == nil {
		w.out = func(b *ark.Backup) runtime.Object { return b.DeepCopy() }
	}
	var initial []watch.Event
	switch {
	case opts.sendInitialEvents || opts.resourceVersion == "" || opts.resourceVersion == "0":
		// The state now, as ADDED events; a streaming list ends with a bookmark.
		for _, b := range ix.sortedLocked() {
			if w.filter(b) {
				initial = append(initial, watch.Event{Type: watch.Added, Object: w.out(b)})
			}
		}
		// Legacy watches (resourceVersion "" or "0") are defaulted to
		// sendInitialEvents by the API server but did not ask for bookmarks;
		// only a streaming list gets the end-of-initial-events bookmark.
		if opts.sendInitialEvents && opts.bookmarks {
			end := w.bookmarkObject(ix.rev)
			end.Annotations = map[string]string{metav1.InitialEventsAnnotationKey: "true"}
			initial = append(initial, watch.Event{Type: watch.Bookmark, Object: w.out(end)})
		}
	default:
		from, err := strconv.ParseUint(opts.resourceVersion, 10, 64)
		if err != nil {
			return nil, nil, apierrors.NewBadRequest(fmt.Sprintf("invalid resourceVersion %q", opts.resourceVersion))
		}
		if from < ix.ringBase || from > ix.rev {
			return nil, nil, apierrors.NewResourceExpired(fmt.Sprintf("resourceVersion %d is outside the window of changes this server holds (%d to %d); list again", from, ix.ringBase, ix.rev))
		}
		for _, ev := range ix.events {
			if ev.rev <= from {
				continue
			}
			if e, ok := w.convert(ev); ok {
				initial = append(initial, e)
			}
		}
	}
	ix.watchers[w] = struct{}{}
	metrics.BackupWatchers(len(ix.watchers))
	go w.run(initial)
	return w, down, nil
}

// sortedLocked returns every backup in namespace and name order.
func (ix *index) sortedLocked() []*ark.Backup {
	out := make([]*ark.Backup, 0, len(ix.order))
	for _, e := range ix.order {
		out = append(out, e.obj)
	}
	return out
}

// bookmark tells every watcher the index's current revision.
func (ix *index) bookmark() {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if !ix.synced {
		return
	}
	for w := range ix.watchers {
		if !w.send(event{rev: ix.rev, typ: watch.Bookmark}) {
			delete(ix.watchers, w)
		}
	}
	metrics.BackupWatchers(len(ix.watchers))
}

func (ix *index) removeWatcher(w *watcher) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	delete(ix.watchers, w)
	metrics.BackupWatchers(len(ix.watchers))
}

// send queues an event without blocking. On overflow the watcher's queue is
// closed, which ends the watch with 410; the caller then drops the watcher.
// Called with ix.mu held.
func (w *watcher) send(ev event) bool {
	select {
	case w.in <- ev:
		return true
	default:
		close(w.in)
		return false
	}
}

func (w *watcher) run(initial []watch.Event) {
	defer close(w.result)
	for _, e := range initial {
		if !w.deliver(e) {
			return
		}
	}
	for {
		select {
		case ev, ok := <-w.in:
			if !ok {
				w.deliver(watch.Event{Type: watch.Error, Object: &apierrors.NewResourceExpired("the watch fell too far behind; list again").ErrStatus})
				return
			}
			if e, ok := w.convert(ev); ok && !w.deliver(e) {
				return
			}
		case <-w.done:
			return
		}
	}
}

func (w *watcher) deliver(e watch.Event) bool {
	select {
	case w.result <- e:
		return true
	case <-w.done:
		return false
	}
}

// convert turns an index change into what this watcher should see: an object
// moving into or out of its selection is ADDED or DELETED for it.
func (w *watcher) convert(ev event) (watch.Event, bool) {
	if ev.typ == watch.Bookmark {
		if !w.bookmarks {
			return watch.Event{}, false
		}
		return watch.Event{Type: watch.Bookmark, Object: w.out(w.bookmarkObject(ev.rev))}, true
	}
	cur := ev.typ != watch.Deleted && w.filter(ev.obj)
	prev := ev.prev != nil && w.filter(ev.prev)
	var typ watch.EventType
	switch {
	case ev.typ == watch.Deleted && prev:
		typ = watch.Deleted
	case cur && prev:
		typ = watch.Modified
	case cur:
		typ = watch.Added
	case prev:
		typ = watch.Deleted
	default:
		return watch.Event{}, false
	}
	return watch.Event{Type: typ, Object: w.out(ev.obj)}, true
}

func (w *watcher) bookmarkObject(rev uint64) *ark.Backup {
	return &ark.Backup{ObjectMeta: metav1.ObjectMeta{ResourceVersion: strconv.FormatUint(rev, 10)}}
}

// Stop ends the watch; it is safe to call more than once.
func (w *watcher) Stop() {
	w.stopOnce.Do(func() {
		w.ix.removeWatcher(w)
		close(w.done)
	})
}

// ResultChan delivers the events; it is closed when the watch ends.
func (w *watcher) ResultChan() <-chan watch.Event { return w.result }
