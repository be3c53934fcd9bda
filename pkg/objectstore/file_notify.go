package objectstore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/fsnotify/fsnotify"
	"golang.org/x/sys/unix"
	"k8s.io/klog/v2"
)

// Notifier is implemented by stores that can tell, as it happens, that an
// object may have changed, so that a poller need not list the bucket often
// to notice. Notifications are hints: they carry no content, may come for
// nothing and, where the backend drops them, may be missed; the poller
// still lists now and then to stay correct.
type Notifier interface {
	// Notify calls changed, from one goroutine, whenever an object whose
	// last key segment is name may have been written or removed under one
	// of prefixes (folders, with a trailing slash), until ctx ends. It
	// returns an error, and calls nothing, when it cannot watch the bucket.
	// When it loses track later (events dropped), it calls changed too.
	Notify(ctx context.Context, prefixes []string, name string, changed func()) error
}

var _ Notifier = &FileStore{}

// MaxWatchedDirectories caps the directories a file store watches with
// inotify, one watch each (about 1 KiB of kernel memory, counted against
// fs.inotify.max_user_watches). A bucket with more backups is polled.
const MaxWatchedDirectories = 20000

// errNotWatchable means the bucket's changes cannot be watched.
var errNotWatchable = errors.New("changes cannot be watched")

// Notify watches the directories under prefixes with inotify. It refuses
// network and FUSE file systems (NFS, SMB, gcsfuse...): another host's
// writes raise no event there, which is exactly the case of two clusters
// sharing a bucket. Links are not watched, like they are not listed.
func (s *FileStore) Notify(ctx context.Context, prefixes []string, name string, changed func()) error {
	var st unix.Statfs_t
	if err := unix.Statfs(s.dir, &st); err != nil {
		return fmt.Errorf("%w: %v", errNotWatchable, err)
	}
	if remoteFS(st.Type) {
		return fmt.Errorf("%w: %s is on a network or FUSE file system (type %#x), where other hosts' writes raise no events", errNotWatchable, s.dir, st.Type)
	}
	w, err := fsnotify.NewBufferedWatcher(4096)
	if err != nil {
		return fmt.Errorf("%w: %v", errNotWatchable, err)
	}
	n := &fileNotifier{s: s, w: w, name: name, changed: changed, dirs: map[string]bool{}}
	// The bucket's top, for prefixes created later, and every folder
	// under each prefix.
	if err := n.add(s.dir); err != nil {
		w.Close()
		return err
	}
	for _, p := range prefixes {
		if err := n.addTree(filepath.Join(s.dir, filepath.FromSlash(strings.TrimSuffix(p, "/")))); err != nil {
			w.Close()
			return err
		}
	}
	go n.run(ctx)
	return nil
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
	changed func()

	mu   sync.Mutex
	dirs map[string]bool // watched directories
}

// add watches one directory.
func (n *fileNotifier) add(dir string) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.dirs[dir] {
		return nil
	}
	if len(n.dirs) >= MaxWatchedDirectories {
		return fmt.Errorf("%w: more than %d directories to watch", errNotWatchable, MaxWatchedDirectories)
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
// and never in the store's reserved folders.
func (n *fileNotifier) addTree(dir string) error {
	fi, err := os.Lstat(dir)
	if err != nil || !fi.IsDir() {
		return nil // absent (watched from its parent) or not a folder
	}
	if err := n.add(dir); err != nil {
		return err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil // removed meanwhile; its parent's event says so
	}
	for _, e := range entries {
		if e.IsDir() && e.Type()&fs.ModeSymlink == 0 && !strings.HasPrefix(e.Name(), fileReservedPrefix) {
			if err := n.addTree(filepath.Join(dir, e.Name())); err != nil {
				return err
			}
		}
	}
	return nil
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
			n.changed()
		case ev, ok := <-n.w.Events:
			if !ok {
				return
			}
			n.handle(ev)
		}
	}
}

// handle decides whether an event may change a listing by name: a file of
// that name written or removed, or a folder (which may hold such files)
// created, removed or moved.
func (n *fileNotifier) handle(ev fsnotify.Event) {
	base := filepath.Base(ev.Name)
	if strings.HasPrefix(base, fileReservedPrefix) {
		return // uploads in progress and locks
	}
	if ev.Has(fsnotify.Create) {
		if fi, err := os.Lstat(ev.Name); err == nil && fi.IsDir() {
			if err := n.addTree(ev.Name); err != nil {
				klog.V(2).InfoS("Cannot watch a new folder of the file backup location; it is found by polling", "location", n.s.String(), "err", err)
			}
			n.changed()
			return
		}
	}
	if ev.Has(fsnotify.Remove) || ev.Has(fsnotify.Rename) {
		n.mu.Lock()
		wasDir := n.dirs[ev.Name]
		if wasDir {
			delete(n.dirs, ev.Name)
		}
		n.mu.Unlock()
		if wasDir {
			n.changed()
			return
		}
	}
	if base == n.name && (ev.Has(fsnotify.Create) || ev.Has(fsnotify.Write) || ev.Has(fsnotify.Remove) || ev.Has(fsnotify.Rename)) {
		n.changed()
	}
}
