package objectstore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/fsnotify/fsnotify"
	"golang.org/x/sys/unix"
	"k8s.io/klog/v2"
)

// Notifier is implemented by stores that can tell, as it happens, that an
// object may have changed, so that a poller need not list the bucket often
// to notice, and can look at just those objects rather than list them all.
// Notifications are hints: they carry no content, may come for nothing
// and, where the backend drops them, may be missed; the poller still lists
// now and then to stay correct.
type Notifier interface {
	// Notify calls changed, from one goroutine, whenever objects whose
	// last key segment is name may have been written or removed under one
	// of prefixes (folders, with a trailing slash), until ctx ends, with
	// their keys. Keys may name objects that do not exist (a folder came
	// or went). A nil keys means that anything under prefixes may have
	// changed: the notifier lost track (events dropped, the bucket's
	// folder moved away, its subscription failed) or cannot tell which
	// objects a change touched. The caller then lists the bucket, and
	// calls Notify anew (ending the old one's ctx): a watch that lost
	// track may see nothing from then on. Notify returns an error, and
	// calls nothing, when it cannot watch the bucket.
	//
	// The coverage it returns says which changes the watch reports.
	Notify(ctx context.Context, prefixes []string, name string, changed func(keys []string)) (Coverage, error)
}

// Coverage says which changes a watch reports.
type Coverage int

const (
	// CoversAll is a watch of every object under the prefixes: the
	// caller lists only to catch what the backend never reported.
	CoversAll Coverage = iota + 1
	// CoversNew is a watch of the folders under the prefixes that hold no
	// object of the watched name yet: objects in folders created or
	// removed later are reported, but not the rewrite of an object that
	// was already there. The caller lists as often as it would without
	// a watch.
	CoversNew
)

var _ Notifier = &FileStore{}

// MaxWatchedDirectories caps the directories a file store watches with
// inotify, one watch each (about 1 KiB of kernel memory, counted against
// fs.inotify.max_user_watches). In a bucket with more backups, only the
// folders that hold backups are watched (CoversNew). A variable for tests.
var MaxWatchedDirectories = 20000

// errNotWatchable means the bucket's changes cannot be watched.
var errNotWatchable = errors.New("changes cannot be watched")

// Notify watches the directories under prefixes with inotify. It refuses
// network and FUSE file systems (NFS, SMB, gcsfuse...): another host's
// writes raise no event there, which is exactly the case of two clusters
// sharing a bucket. Links are not watched, like they are not listed.
//
// When there are more than MaxWatchedDirectories folders, it watches only
// those that hold no object named name (backups/, a namespace's folders):
// a new backup, or one removed, is still reported at once; a record
// rewritten in an older backup's folder is found by the caller's listing.
func (s *FileStore) Notify(ctx context.Context, prefixes []string, name string, changed func(keys []string)) (Coverage, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(s.dir, &st); err != nil {
		return 0, fmt.Errorf("%w: %v", errNotWatchable, err)
	}
	if remoteFS(st.Type) {
		return 0, fmt.Errorf("%w: %s is on a network or FUSE file system (type %#x), where other hosts' writes raise no events", errNotWatchable, s.dir, st.Type)
	}
	n, err := s.watch(prefixes, name, changed, false)
	if errors.Is(err, errTooManyDirectories) {
		klog.V(2).InfoS("The file backup location has too many folders to watch each; only new backups are watched", "location", s.String(), "limit", MaxWatchedDirectories)
		n, err = s.watch(prefixes, name, changed, true)
	}
	if err != nil {
		return 0, err
	}
	go n.run(ctx)
	if n.partial {
		return CoversNew, nil
	}
	return CoversAll, nil
}

// watch sets up a watch of the bucket's top, for prefixes created later,
// and of every folder under each prefix; partial, of the folders that
// hold no record yet.
func (s *FileStore) watch(prefixes []string, name string, changed func(keys []string), partial bool) (*fileNotifier, error) {
	w, err := fsnotify.NewBufferedWatcher(4096)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errNotWatchable, err)
	}
	n := &fileNotifier{s: s, w: w, name: name, changed: changed, dirs: map[string]bool{}, partial: partial, starting: true}
	defer func() { n.starting = false }()
	for _, p := range prefixes {
		n.prefixes = append(n.prefixes, filepath.Join(s.dir, filepath.FromSlash(strings.TrimSuffix(p, "/"))))
	}
	if err := n.add(s.dir); err != nil {
		w.Close()
		return nil, err
	}
	for _, p := range n.prefixes {
		if _, err := n.addTree(p, nil); err != nil {
			w.Close()
			return nil, err
		}
	}
	return n, nil
}

// remoteFS says whether a statfs type is a file system whose changes may
// come from other hosts: NFS, SMB/CIFS, FUSE, Ceph, 9P, AFS, Lustre.
func remoteFS(t int64) bool {
	switch uint32(t) {
	case unix.NFS_SUPER_MAGIC, unix.SMB_SUPER_MAGIC, unix.SMB2_SUPER_MAGIC, unix.CIFS_SUPER_MAGIC,
		unix.FUSE_SUPER_MAGIC, unix.CEPH_SUPER_MAGIC, unix.V9FS_MAGIC, unix.AFS_SUPER_MAGIC, 0x0bd00bd0 /* Lustre */ :
		return true
	}
	return false
}

type fileNotifier struct {
	s       *FileStore
	w       *fsnotify.Watcher
	name    string
	changed func(keys []string)
	// prefixes are the watched folders' paths; the bucket's top is
	// watched only to see them created.
	prefixes []string

	// partial watches only the folders that held no record when the
	// watch began, and those that came later (CoversNew); starting is
	// set while the first folders are added.
	partial, starting bool

	mu   sync.Mutex
	dirs map[string]bool // watched directories
}

// errTooManyDirectories means a watch of every folder would pass
// MaxWatchedDirectories.
var errTooManyDirectories = fmt.Errorf("%w: too many directories", errNotWatchable)

// add watches one directory.
func (n *fileNotifier) add(dir string) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.dirs[dir] {
		return nil
	}
	if len(n.dirs) >= MaxWatchedDirectories {
		return fmt.Errorf("%w: more than %d", errTooManyDirectories, MaxWatchedDirectories)
	}
	if err := n.w.Add(dir); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("%w: watching %s: %v", errNotWatchable, dir, err)
	}
	n.dirs[dir] = true
	return nil
}

// addTree watches dir and every directory below it, never through a link
// and never in the store's reserved folders, and returns added with the
// directories it watched.
func (n *fileNotifier) addTree(dir string, added []string) ([]string, error) {
	fi, err := os.Lstat(dir)
	if err != nil || !fi.IsDir() {
		return added, nil // absent (watched from its parent) or not a folder
	}
	if n.partial && n.starting && n.holdsRecord(dir) {
		// A backup's folder from before the watch: its records are
		// found by listing. Folders that come later are watched, so
		// a new backup's progress is seen.
		return added, nil
	}
	if err := n.add(dir); err != nil {
		return added, err
	}
	added = append(added, dir)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return added, nil // removed meanwhile; its parent's event says so
	}
	for _, e := range entries {
		if e.IsDir() && e.Type()&fs.ModeSymlink == 0 && !strings.HasPrefix(e.Name(), fileReservedPrefix) {
			if added, err = n.addTree(filepath.Join(dir, e.Name()), added); err != nil {
				return added, err
			}
		}
	}
	return added, nil
}

// holdsRecord says whether dir holds a file of the watched name.
func (n *fileNotifier) holdsRecord(dir string) bool {
	fi, err := os.Lstat(filepath.Join(dir, n.name))
	return err == nil && fi.Mode().IsRegular()
}

// watched says whether path is a prefix's folder or under one: other
// folders (a bucket's restores/) are not watched.
func (n *fileNotifier) watched(path string) bool {
	for _, p := range n.prefixes {
		if path == p || strings.HasPrefix(path, p+string(filepath.Separator)) {
			return true
		}
	}
	return false
}

// isRoot says whether path is the bucket's folder or a prefix's.
func (n *fileNotifier) isRoot(path string) bool {
	return path == n.s.dir || slices.Contains(n.prefixes, path)
}

// keys returns the keys of the objects named n.name in dirs.
func (n *fileNotifier) keys(dirs []string) []string {
	out := make([]string, 0, len(dirs))
	for _, d := range dirs {
		if k, ok := n.key(filepath.Join(d, n.name)); ok {
			out = append(out, k)
		}
	}
	return out
}

// key returns the key of the file at path, if it is in the bucket.
func (n *fileNotifier) key(path string) (string, bool) {
	rel, err := filepath.Rel(n.s.dir, path)
	if err != nil || rel == "." || strings.HasPrefix(rel, "..") {
		return "", false
	}
	return filepath.ToSlash(rel), true
}

func (n *fileNotifier) run(ctx context.Context) {
	defer n.w.Close()
	for {
		select {
		case <-ctx.Done():
			return
		case err, ok := <-n.w.Errors:
			if !ok {
				return
			}
			// Dropped events (the queue overflowed): what changed is
			// unknown, so the poller looks at everything.
			klog.V(2).InfoS("Watching the file backup location lost events; it is listed again", "location", n.s.String(), "err", err)
			n.changed(nil)
		case ev, ok := <-n.w.Events:
			if !ok {
				return
			}
			n.handle(ev)
		}
	}
}

// handle decides which objects of the watched name an event may change: a
// file of that name written or removed, or those a folder created, removed
// or moved may hold. A new folder is watched before it is read, so a record
// written into it meanwhile is reported either way.
func (n *fileNotifier) handle(ev fsnotify.Event) {
	base := filepath.Base(ev.Name)
	if strings.HasPrefix(base, fileReservedPrefix) {
		return // uploads in progress and locks
	}
	if ev.Has(fsnotify.Create) && n.watched(ev.Name) {
		if fi, err := os.Lstat(ev.Name); err == nil && fi.IsDir() {
			added, err := n.addTree(ev.Name, nil)
			if err != nil {
				klog.V(2).InfoS("Cannot watch a new folder of the file backup location; it is found by polling", "location", n.s.String(), "err", err)
				n.changed(nil)
				return
			}
			n.changed(n.keys(added))
			return
		}
	}
	if (ev.Has(fsnotify.Remove) || ev.Has(fsnotify.Rename)) && n.isRoot(ev.Name) {
		// The bucket's folder, or a prefix's, removed or moved away
		// (an unmount, a restore of the bucket from elsewhere): the
		// watches left follow folders that are no longer where they
		// were, so this watch can no longer be trusted to see
		// anything. The caller lists, and watches anew.
		klog.V(2).InfoS("A watched folder of the file backup location went away; it is listed and watched again", "location", n.s.String(), "folder", ev.Name)
		n.changed(nil)
		return
	}
	if ev.Has(fsnotify.Remove) || ev.Has(fsnotify.Rename) {
		// The folder and every watched folder below it are gone from
		// here (the kernel drops their watches, or they moved away).
		var gone []string
		n.mu.Lock()
		if n.dirs[ev.Name] {
			for d := range n.dirs {
				if d == ev.Name || strings.HasPrefix(d, ev.Name+string(filepath.Separator)) {
					gone = append(gone, d)
					delete(n.dirs, d)
				}
			}
		}
		n.mu.Unlock()
		if gone != nil {
			n.changed(n.keys(gone))
			return
		}
		if n.partial && base != n.name && n.watched(ev.Name) {
			// Maybe the folder of a backup that was there before the
			// watch, so not watched itself: its record went with it.
			n.changed(n.keys([]string{ev.Name}))
			return
		}
	}
	if base == n.name && (ev.Has(fsnotify.Create) || ev.Has(fsnotify.Write) || ev.Has(fsnotify.Remove) || ev.Has(fsnotify.Rename)) {
		if k, ok := n.key(ev.Name); ok {
			n.changed([]string{k})
		}
	}
}
