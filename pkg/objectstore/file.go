package objectstore

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"k8s.io/klog/v2"
)

// The file store keeps its bookkeeping beside the objects, under names no key
// may take, so that a directory is a complete, copyable bucket.
const (
	fileReservedPrefix = ".ark-"
	fileTempDir        = ".ark-tmp"
	fileLockName       = ".ark-lock"
	// fileUploadPrefix names the temporary files of uploads in progress. Only
	// such files are ever removed by RemoveAbandonedUploads.
	fileUploadPrefix = "upload-"
)

// FileStore is a bucket in a local directory: each key is a file under it.
//
// Generations are file modification times in nanoseconds. The store sets them
// itself on every write, strictly increasing per key, because the kernel's
// coarse file clock would otherwise give two quick writes the same generation.
// Commits (the precondition check and the rename) hold an flock on the
// bucket's lock file, so several processes sharing the directory still get
// atomic put-if-absent and compare-and-swap. Files dropped into the directory
// by other programs are objects like any other.
//
// Anyone who can write to the directory is treated as hostile. No operation
// touches anything outside the directory, and no operation follows a
// symbolic link: a key whose path contains one is an absent object (see
// file_nofollow.go).
type FileStore struct {
	dir string // the bucket directory: absolute and cleaned
}

var (
	_ Store   = &FileStore{}
	_ Janitor = &FileStore{}
)

// NewFileStore opens (creating if needed) a file bucket rooted at dir. The
// path itself may go through links: it comes from the operator, not from the
// bucket.
func NewFileStore(dir string) (*FileStore, error) {
	if !filepath.IsAbs(dir) {
		return nil, fmt.Errorf("file backup location %q must be an absolute path", dir)
	}
	s := &FileStore{dir: filepath.Clean(dir)}
	if err := os.MkdirAll(s.dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating file backup location: %w", err)
	}
	top, err := s.openRoot()
	if err != nil {
		return nil, err
	}
	defer top.Close()
	// Mkdir never follows a link. A bad entry already named .ark-tmp
	// only fails writes, when NewWriter inspects it. Reads from such a
	// bucket still work.
	if err := top.Mkdir(fileTempDir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("creating file backup location: %w", err)
	}
	return s, nil
}

// String returns the location's URL.
func (s *FileStore) String() string { return "file://" + s.dir }

// Close is a no-op: the store holds no open files between calls.
func (s *FileStore) Close() error { return nil }

// openRoot opens the bucket directory for one operation.
//
// The store opens the directory again for every operation instead of holding
// one os.Root from NewFileStore. A held root is bound to the directory that
// was there at open time. If the directory is removed and recreated (restored
// from a copy, or a volume mounted over the path after the store opened),
// the held root would still point at the deleted directory. Every read would
// then say "not found" while the path looks healthy, so a missing bucket
// would pass for an empty one, the failure checkRoot exists to prevent.
// Writes into the unlinked directory would also be lost. One open(2) per
// operation is cheap next to the rest of it.
func (s *FileStore) openRoot() (*os.Root, error) {
	r, err := os.OpenRoot(s.dir)
	if err != nil {
		return nil, fmt.Errorf("backup location %s is unavailable: %w", s, err)
	}
	return r, nil
}

// segments validates key for this store and splits it: the generic limits
// (CheckKey), and names no key may take here. A backslash would be a separator
// on Windows. A leading ".ark-" would collide with the store's bookkeeping.
func (s *FileStore) segments(key string) ([]string, error) {
	if err := CheckKey(key); err != nil {
		return nil, err
	}
	if strings.Contains(key, "\\") {
		return nil, fmt.Errorf("%w: %s contains a backslash", ErrInvalidKey, quoteKey(key))
	}
	if strings.HasPrefix(key, fileReservedPrefix) {
		return nil, fmt.Errorf("%w: %s is reserved", ErrInvalidKey, quoteKey(key))
	}
	return strings.Split(key, "/"), nil
}

// checkRoot fails when the bucket directory itself is gone or unreadable, so
// that a missing bucket is an error rather than an empty bucket.
func (s *FileStore) checkRoot() error {
	fi, err := os.Stat(s.dir)
	if err != nil {
		return fmt.Errorf("backup location %s is unavailable: %w", s, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("backup location %s is not a directory", s)
	}
	return nil
}

func fileAttrs(key string, fi fs.FileInfo) ObjectAttrs {
	gen := fi.ModTime().UnixNano()
	return ObjectAttrs{Key: key, Size: fi.Size(), Generation: gen, Updated: fi.ModTime(), Token: fileToken(gen, fi)}
}

// fileToken is the change token of a file: its modification time, size,
// inode and change time. The store's own writes set distinct modification
// times, but another program writing a file in place can leave it unchanged
// within the kernel's clock tick; a poller that read the file while it was
// still empty must still see the finished write as a change, and the size
// or the change time tells it so.
func fileToken(gen int64, fi fs.FileInfo) string {
	b := strconv.AppendInt(make([]byte, 0, 64), gen, 10)
	b = append(b, '.')
	b = strconv.AppendInt(b, fi.Size(), 10)
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		b = append(b, '.')
		b = strconv.AppendUint(b, uint64(st.Ino), 10)
		b = append(b, '.')
		b = strconv.AppendInt(b, int64(st.Ctim.Sec)*1e9+int64(st.Ctim.Nsec), 10)
	}
	return string(b)
}

// mapErr turns a file system error about key into the store's errors.
func (s *FileStore) mapErr(key string, err error) error {
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) || errors.Is(err, syscall.EISDIR) {
		if rootErr := s.checkRoot(); rootErr != nil {
			return rootErr
		}
		return fmt.Errorf("%s: %w", key, ErrNotFound)
	}
	return fmt.Errorf("backup location %s: %w", s, err)
}

// readErr is mapErr for reads and deletes. A refused link or special file
// makes the object absent. The store says why, and logs it here, once per
// operation. Such an entry means someone tampered with the bucket, and the
// operator should hear about it even when the caller drops a "not found".
func (s *FileStore) readErr(key string, err error) error {
	var re *refusedError
	if errors.As(err, &re) {
		s.logRefused("Refusing an entry of the backup location", key, re)
		return fmt.Errorf("%s: %w: %v", key, ErrNotFound, re)
	}
	return s.mapErr(key, err)
}

// writeErr is for writes. A link among the key's directories fails the write
// instead of making the key absent: writing through it would put the object
// somewhere else, and removing it would destroy evidence and maybe data.
func (s *FileStore) writeErr(key string, err error) error {
	var re *refusedError
	if errors.As(err, &re) {
		s.logRefused("Refusing to write through an entry of the backup location", key, re)
		return fmt.Errorf("writing %s: %v; remove it to write this key", key, re)
	}
	return fmt.Errorf("writing %s: %w", key, err)
}

func (s *FileStore) logRefused(msg, key string, re *refusedError) {
	kv := []any{"location", s.String(), "key", key, "path", re.path, "reason", re.Error()}
	if re.target != "" {
		kv = append(kv, "linkTarget", re.target)
	}
	klog.InfoS(msg, kv...)
}

// Attrs stats the object at key.
func (s *FileStore) Attrs(ctx context.Context, key string) (ObjectAttrs, error) {
	segs, err := s.segments(key)
	if err != nil {
		return ObjectAttrs{}, err
	}
	top, err := s.openRoot()
	if err != nil {
		return ObjectAttrs{}, err
	}
	defer top.Close()
	dirs, fi, err := s.lstatObject(top, key, segs)
	if err != nil {
		return ObjectAttrs{}, err
	}
	closeDirs(dirs)
	return fileAttrs(key, fi), nil
}

// NewReader opens the object for reading. A concurrent overwrite replaces the
// file by rename, so an open reader keeps seeing the version it opened.
func (s *FileStore) NewReader(ctx context.Context, key string) (io.ReadCloser, ObjectAttrs, error) {
	segs, err := s.segments(key)
	if err != nil {
		return nil, ObjectAttrs{}, err
	}
	top, err := s.openRoot()
	if err != nil {
		return nil, ObjectAttrs{}, err
	}
	defer top.Close()
	dirs, err := openParents(top, segs[:len(segs)-1], 0)
	if err != nil {
		return nil, ObjectAttrs{}, s.readErr(key, err)
	}
	defer closeDirs(dirs)
	f, fi, err := openFileAt(dirs[len(dirs)-1], key, segs[len(segs)-1], os.O_RDONLY, 0)
	if err != nil {
		return nil, ObjectAttrs{}, s.readErr(key, err)
	}
	return f, fileAttrs(key, fi), nil
}

// NewWriter streams into a temporary file in .ark-tmp; Close commits it under
// the lock. The writer holds an flock on its temporary file until it is
// closed or aborted, which tells RemoveAbandonedUploads that it is alive.
func (s *FileStore) NewWriter(ctx context.Context, key string, cond Conditions) (Writer, error) {
	segs, err := s.segments(key)
	if err != nil {
		return nil, err
	}
	top, err := s.openRoot()
	if err != nil {
		return nil, err
	}
	defer top.Close()
	tmp, err := openDirAt(top, fileTempDir, fileTempDir, 0o700)
	if err != nil {
		return nil, s.writeErr(key, err)
	}
	f, name, err := createUpload(tmp)
	if err != nil {
		tmp.Close()
		return nil, fmt.Errorf("backup location %s: starting an upload: %w", s, err)
	}
	return &fileWriter{store: s, key: key, segs: segs, cond: cond, tmp: tmp, name: name, f: f}, nil
}

// createUpload creates a new upload-* file in tmp and locks it.
func createUpload(tmp *os.Root) (*os.File, string, error) {
	for range 100 {
		name := fileUploadPrefix + rand.Text()
		f, err := tmp.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return nil, "", err
		}
		// The file is brand new, so nobody else can hold its lock except a
		// janitor that took it during this gap. The janitor leaves new files
		// alone (they are not old enough), so this cannot fail in practice.
		// If it does, give the name up.
		if err := flock(f, syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			tmp.Remove(name)
			f.Close()
			return nil, "", fmt.Errorf("locking %s: %w", name, err)
		}
		return f, name, nil
	}
	return nil, "", errors.New("no free temporary file name")
}

type fileWriter struct {
	store *FileStore
	key   string
	segs  []string
	cond  Conditions
	tmp   *os.Root // the .ark-tmp directory the upload was created in
	name  string   // the upload's name in tmp
	f     *os.File // the upload, locked until closed
	done  bool
	attrs ObjectAttrs
}

func (w *fileWriter) Write(p []byte) (int, error) {
	if w.done {
		return 0, errors.New("write after close")
	}
	return w.f.Write(p)
}

// Abort removes the temporary file before it closes it. The lock must outlive
// the name in .ark-tmp, so a janitor never finds a live upload unlocked.
func (w *fileWriter) Abort() {
	if w.done {
		return
	}
	w.done = true
	w.tmp.Remove(w.name)
	w.f.Close()
	w.tmp.Close()
}

func (w *fileWriter) Attrs() ObjectAttrs { return w.attrs }

func (w *fileWriter) Close() error {
	if w.done {
		return errors.New("writer already closed")
	}
	w.done = true
	defer func() {
		w.tmp.Remove(w.name) // no-op once renamed
		w.f.Close()          // releases the upload's lock, after the name is gone
		w.tmp.Close()
	}()
	if err := w.f.Sync(); err != nil {
		return fmt.Errorf("writing %s: %w", w.key, err)
	}
	return w.store.commit(w)
}

// commit moves a finished upload to its key under the bucket lock.
func (s *FileStore) commit(w *fileWriter) error {
	top, err := s.openRoot()
	if err != nil {
		return err
	}
	defer top.Close()
	parents, name := w.segs[:len(w.segs)-1], w.segs[len(w.segs)-1]
	return s.withLock(top, func() error {
		var prev fs.FileInfo // what holds the key now, if anything
		dirs, err := openParents(top, parents, 0)
		switch {
		case err == nil:
			defer closeDirs(dirs)
			fi, err := dirs[len(dirs)-1].Lstat(name)
			var re *refusedError
			switch {
			case errors.Is(err, fs.ErrNotExist):
			case err != nil:
				return s.writeErr(w.key, err)
			case fi.Mode().IsRegular() || fi.IsDir():
				// A directory occupies the name: a create is refused
				// as for an object, any other write fails at the
				// rename.
				prev = fi
			case errors.As(checkRegular(dirs[len(dirs)-1], w.key, name, fi), &re):
				// A link or special file is no object, so the key is
				// absent. The rename replaces the entry itself and
				// never writes through it.
				s.logRefused("Replacing an entry of the backup location that is not an object", w.key, re)
			}
		case errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR):
			// Absent. A file in the way of a directory fails below.
		default:
			return s.writeErr(w.key, err)
		}
		if err := checkConditions(w.key, w.cond, prev != nil, prev); err != nil {
			return err
		}
		if dirs == nil {
			if dirs, err = openParents(top, parents, 0o755); err != nil {
				return s.writeErr(w.key, err)
			}
			defer closeDirs(dirs)
		}
		gen := time.Now()
		if prev != nil && !gen.After(prev.ModTime()) {
			gen = prev.ModTime().Add(time.Nanosecond)
		}
		if err := w.f.Chmod(0o644); err != nil {
			return fmt.Errorf("writing %s: %w", w.key, err)
		}
		if err := w.tmp.Chtimes(w.name, gen, gen); err != nil {
			return fmt.Errorf("writing %s: %w", w.key, err)
		}
		// os.Root's Rename resolves the key's directories again, by name. The
		// walk above found no links there under the lock, and os.Root keeps
		// the rename inside the bucket whatever happens. Only a tamperer
		// racing this line could redirect it, and only to another place in
		// the bucket. The check below catches that.
		if err := top.Rename(fileTempDir+"/"+w.name, w.key); err != nil {
			return s.writeErr(w.key, err)
		}
		cur, err := w.f.Stat()
		if err != nil {
			return fmt.Errorf("writing %s: %w", w.key, err)
		}
		placed, err := dirs[len(dirs)-1].Lstat(name)
		if err != nil || !os.SameFile(placed, cur) {
			klog.InfoS("An upload did not land at its key: the backup location changed during the commit", "location", s.String(), "key", w.key)
			return fmt.Errorf("writing %s: the key's directories changed during the commit; the object may be elsewhere in the bucket", w.key)
		}
		w.attrs = fileAttrs(w.key, cur)
		return nil
	})
}

func checkConditions(key string, cond Conditions, exists bool, cur fs.FileInfo) error {
	if cond.DoesNotExist && exists {
		return fmt.Errorf("%s already exists: %w", key, ErrPreconditionFailed)
	}
	if cond.GenerationMatch != 0 {
		if !exists {
			return fmt.Errorf("%s no longer exists: %w", key, ErrPreconditionFailed)
		}
		if g := cur.ModTime().UnixNano(); g != cond.GenerationMatch {
			return fmt.Errorf("%s is at generation %d, not %d: %w", key, g, cond.GenerationMatch, ErrPreconditionFailed)
		}
	}
	return nil
}

// withLock runs fn holding the bucket's exclusive flock.
func (s *FileStore) withLock(top *os.Root, fn func() error) error {
	f, _, err := openFileAt(top, fileLockName, fileLockName, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		if rootErr := s.checkRoot(); rootErr != nil {
			return rootErr
		}
		var re *refusedError
		if errors.As(err, &re) {
			s.logRefused("Refusing the lock file of the backup location", fileLockName, re)
		}
		return fmt.Errorf("backup location %s: locking: %w", s, err)
	}
	defer f.Close() // releases the lock
	if err := flock(f, syscall.LOCK_EX); err != nil {
		return fmt.Errorf("backup location %s: locking: %w", s, err)
	}
	return fn()
}

// lstatObject finds the object at key (split into segs) under top without
// following a link anywhere on its path: the directories down to it, which
// the caller closes with closeDirs (the last one holds the object), and the
// object's Lstat. A link, special file or missing entry is readErr's error.
func (s *FileStore) lstatObject(top *os.Root, key string, segs []string) ([]*os.Root, fs.FileInfo, error) {
	dirs, err := openParents(top, segs[:len(segs)-1], 0)
	if err != nil {
		return nil, nil, s.readErr(key, err)
	}
	dir, name := dirs[len(dirs)-1], segs[len(segs)-1]
	fi, err := dir.Lstat(name)
	if err == nil {
		err = checkRegular(dir, key, name, fi)
	}
	if err != nil {
		closeDirs(dirs)
		return nil, nil, s.readErr(key, err)
	}
	return dirs, fi, nil
}

// Delete removes the object, then any directories the removal left empty.
func (s *FileStore) Delete(ctx context.Context, key string, cond Conditions) error {
	segs, err := s.segments(key)
	if err != nil {
		return err
	}
	top, err := s.openRoot()
	if err != nil {
		return err
	}
	defer top.Close()
	return s.withLock(top, func() error {
		dirs, fi, err := s.lstatObject(top, key, segs)
		if err != nil {
			return err
		}
		defer closeDirs(dirs)
		dir, name := dirs[len(dirs)-1], segs[len(segs)-1]
		if err := checkConditions(key, cond, true, fi); err != nil {
			return err
		}
		if err := dir.Remove(name); err != nil {
			return s.mapErr(key, err)
		}
		// Prune upwards, each directory from its own parent, so
		// no path is resolved again. Stop at the first one that is
		// not an empty directory.
		for i := len(segs) - 2; i >= 0; i-- {
			if fi, err := dirs[i].Lstat(segs[i]); err != nil || !fi.IsDir() {
				break
			}
			if dirs[i].Remove(segs[i]) != nil {
				break
			}
		}
		return nil
	})
}

// RemoveAbandonedUploads removes upload-* files directly in .ark-tmp that were
// last written more than olderThan ago and whose lock it can take without
// waiting. A writer holds that lock from NewWriter until Close or Abort, and
// the kernel drops it when the writer's process dies. A free lock on an old
// upload therefore means a crashed upload, never a slow one, in this
// process or in another sharing the bucket. Entries of any other name or type
// stay, and so do links.
//
// olderThan must be positive. A writer locks its file just after creating it.
// The age threshold is what keeps a janitor from taking an upload in that
// moment.
func (s *FileStore) RemoveAbandonedUploads(ctx context.Context, olderThan time.Duration) (int, error) {
	if olderThan <= 0 {
		return 0, fmt.Errorf("removing abandoned uploads: olderThan must be positive, not %s", olderThan)
	}
	top, err := s.openRoot()
	if err != nil {
		return 0, err
	}
	defer top.Close()
	tmp, err := openDirAt(top, fileTempDir, fileTempDir, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("backup location %s: removing abandoned uploads: %w", s, err)
	}
	defer tmp.Close()
	d, err := tmp.Open(".")
	if err != nil {
		return 0, fmt.Errorf("backup location %s: removing abandoned uploads: %w", s, err)
	}
	defer d.Close()
	cutoff := time.Now().Add(-olderThan)
	removed := 0
	defer func() {
		if removed > 0 {
			klog.InfoS("Removed abandoned uploads", "location", s.String(), "count", removed, "olderThan", olderThan)
		}
	}()
	for {
		// Batches keep memory flat however many files a crash loop left.
		des, err := d.ReadDir(256)
		for _, de := range des {
			if err := ctx.Err(); err != nil {
				return removed, err
			}
			if !strings.HasPrefix(de.Name(), fileUploadPrefix) || !de.Type().IsRegular() {
				continue
			}
			ok, err := removeIfAbandoned(tmp, de.Name(), cutoff)
			if err != nil {
				return removed, fmt.Errorf("backup location %s: removing abandoned upload %s: %w", s, de.Name(), err)
			}
			if ok {
				removed++
			}
		}
		if errors.Is(err, io.EOF) || (err == nil && len(des) == 0) {
			return removed, nil
		}
		if err != nil {
			return removed, fmt.Errorf("backup location %s: removing abandoned uploads: %w", s, err)
		}
	}
}

// removeIfAbandoned removes the upload name from tmp if it is a regular file
// last written before cutoff and nobody holds its lock. It removes the file
// while holding the lock, so no writer can take it over in between.
func removeIfAbandoned(tmp *os.Root, name string, cutoff time.Time) (bool, error) {
	f, fi, err := openFileAt(tmp, fileTempDir+"/"+name, name, os.O_RDONLY, 0)
	if err != nil {
		var re *refusedError
		if errors.Is(err, fs.ErrNotExist) || errors.As(err, &re) || errors.Is(err, syscall.EISDIR) {
			return false, nil // gone, or not an upload of ours
		}
		return false, err
	}
	defer f.Close()
	if !fi.ModTime().Before(cutoff) {
		return false, nil
	}
	if err := flock(f, syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return false, nil // a live writer
		}
		return false, err
	}
	// A writer that committed between our open and our lock renamed the file
	// to its key. Then the name is gone or, in theory, a new upload took it.
	// Remove only the file we inspected.
	now, err := tmp.Lstat(name)
	if err != nil || !os.SameFile(now, fi) || !now.ModTime().Before(cutoff) {
		return false, nil
	}
	if err := tmp.Remove(name); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return false, nil
		}
		return false, err
	}
	return true, nil
}

// List walks the directory tree in exact key order (a subdirectory d sorts as
// "d/"), so a page costs only the entries up to its end, not the whole bucket.
// Like every other operation it neither leaves the bucket nor follows links.
// Links are not listed, and neither is anything behind one.
func (s *FileStore) List(ctx context.Context, opts ListOptions) (ListPage, error) {
	if err := checkListOptions(opts); err != nil {
		return ListPage{}, fmt.Errorf("backup location %s: %w", s, err)
	}
	top, err := s.openRoot()
	if err != nil {
		return ListPage{}, err
	}
	defer top.Close()
	limit := opts.Limit
	if limit <= 0 {
		limit = DefaultPageSize
	}
	l := &fileLister{ctx: ctx, prefix: opts.Prefix, delim: opts.Delimiter != "", name: opts.Name, after: opts.PageToken, limit: limit}
	// Start at the deepest directory the prefix names completely.
	dirKey := ""
	if i := strings.LastIndex(opts.Prefix, "/"); i >= 0 {
		dirKey = opts.Prefix[:i+1]
	}
	var segs []string
	if dirKey != "" {
		segs = strings.Split(strings.TrimSuffix(dirKey, "/"), "/")
		// No key has a segment that breaks the key rules, or a first
		// segment in the store's reserved namespace. Such a prefix matches
		// nothing, and it must not walk ".." or .ark-tmp.
		if strings.HasPrefix(segs[0], fileReservedPrefix) {
			return ListPage{}, nil
		}
		for _, seg := range segs {
			if checkKeySegment(seg) != nil || strings.Contains(seg, "\\") {
				return ListPage{}, nil
			}
		}
	}
	dirs, err := openParents(top, segs, 0)
	if err != nil {
		var re *refusedError
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) || errors.As(err, &re) {
			return ListPage{}, nil
		}
		return ListPage{}, fmt.Errorf("listing backup location %s: %w", s, err)
	}
	defer closeDirs(dirs)
	err = l.walk(dirs[len(dirs)-1], dirKey)
	if err != nil && !errors.Is(err, errPageFull) {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
			return ListPage{}, nil
		}
		return ListPage{}, fmt.Errorf("listing backup location %s: %w", s, err)
	}
	if errors.Is(err, errPageFull) {
		l.page.NextPageToken = l.last
	}
	return l.page, nil
}

var errPageFull = errors.New("page full")

type fileLister struct {
	ctx    context.Context
	prefix string
	delim  bool
	name   string // only objects of this name (ListOptions.Name)
	after  string
	limit  int
	page   ListPage
	count  int
	last   string
}

type dirEntry struct {
	name  string
	sort  string
	isDir bool
}

// emit adds one entry to the page; it returns errPageFull once the page is
// complete and another entry is waiting, so the token points at a real rest.
func (l *fileLister) emit(key string, isPrefix bool, fi fs.FileInfo) error {
	if l.count == l.limit {
		return errPageFull
	}
	if isPrefix {
		l.page.Prefixes = append(l.page.Prefixes, key)
	} else {
		l.page.Objects = append(l.page.Objects, fileAttrs(key, fi))
	}
	l.count++
	l.last = key
	return nil
}

// walk lists dir, the directory of dirKey, opened without links.
func (l *fileLister) walk(dir *os.Root, dirKey string) error {
	if err := l.ctx.Err(); err != nil {
		return err
	}
	des, err := readDirTypes(dir)
	if err != nil {
		return err
	}
	entries := make([]dirEntry, 0, len(des))
	for _, de := range des {
		name := de.Name()
		if dirKey == "" && strings.HasPrefix(name, fileReservedPrefix) {
			continue
		}
		if de.Type()&fs.ModeSymlink != 0 {
			continue // never follow links, not even within the bucket
		}
		isDir := de.IsDir()
		sortKey := name
		if isDir {
			sortKey += "/"
		}
		// What lies wholly at or before the page token is not sorted,
		// so later pages of a large folder cost less than earlier ones.
		if key := dirKey + sortKey; l.after != "" && key <= l.after && !(isDir && strings.HasPrefix(l.after, key)) {
			continue
		}
		entries = append(entries, dirEntry{name: name, sort: sortKey, isDir: isDir})
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].sort < entries[j].sort })
	for _, e := range entries {
		key := dirKey + e.sort
		if !strings.HasPrefix(key, l.prefix) && !strings.HasPrefix(l.prefix, key) {
			continue
		}
		if e.isDir {
			if l.delim && strings.HasPrefix(key, l.prefix) {
				// Rolled up: one prefix for the whole directory.
				if key <= l.after {
					continue
				}
				if err := l.emit(key, true, nil); err != nil {
					return err
				}
				continue
			}
			// Skip a subtree that lies wholly at or before the page token.
			if l.after != "" && key < l.after && !strings.HasPrefix(l.after, key) {
				continue
			}
			if err := l.walkSub(dir, e.name, key); err != nil {
				return err
			}
			continue
		}
		if !strings.HasPrefix(key, l.prefix) || key <= l.after || (l.name != "" && e.name != l.name) {
			continue
		}
		fi, err := dir.Lstat(e.name)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			return err
		}
		if !fi.Mode().IsRegular() {
			continue // links, FIFOs, devices: no objects
		}
		if err := l.emit(key, false, fi); err != nil {
			return err
		}
	}
	return nil
}

// readDirTypes reads the entries of dir with the types the directory itself
// records. A directory opened in an os.Root reads them with an lstat of
// every entry, which made a poll of 10,000 backups cost 80,000 lstats; a
// duplicate of its descriptor opened as a plain file does not. The
// duplicate reads the same directory (a descriptor, not a path, so no
// link is followed), and only types come from it: the attributes of
// objects are still read through the root.
func readDirTypes(dir *os.Root) ([]fs.DirEntry, error) {
	d, err := dir.Open(".")
	if err != nil {
		return nil, err
	}
	defer d.Close()
	raw, err := d.SyscallConn()
	if err != nil {
		return nil, err
	}
	var dup int
	var dupErr error
	if err := raw.Control(func(fd uintptr) { dup, dupErr = syscall.Dup(int(fd)) }); err != nil {
		return nil, err
	}
	if dupErr != nil {
		return nil, fmt.Errorf("duplicating a directory descriptor: %w", dupErr)
	}
	plain := os.NewFile(uintptr(dup), d.Name())
	defer plain.Close()
	return plain.ReadDir(-1)
}

// walkSub walks the subdirectory name of dir, skipping it if it is gone or
// turned out to be a link by the time it is opened.
func (l *fileLister) walkSub(dir *os.Root, name, key string) error {
	sub, fi, err := openDirInfo(dir, strings.TrimSuffix(key, "/"), name, 0)
	if err != nil {
		var re *refusedError
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) || errors.As(err, &re) {
			return nil // removed while we walked, or not a directory after all
		}
		return err
	}
	defer sub.Close()
	if l.name != "" && leaf(fi) {
		return l.leafByName(sub, key)
	}
	return l.walk(sub, key)
}

// leaf says whether a directory has no subdirectories, from its link count
// (two: its entry in the parent and its own "."), as find(1) does. File
// systems that do not count subdirectories (btrfs reports 1) are walked.
func leaf(fi fs.FileInfo) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && st.Nlink == 2
}

// leafByName lists the one object of a directory without subdirectories
// that a listing by name wants, without reading the directory: a backup's
// folder costs one lstat instead of a read of its seven entries.
func (l *fileLister) leafByName(dir *os.Root, dirKey string) error {
	key := dirKey + l.name
	if !strings.HasPrefix(key, l.prefix) || key <= l.after {
		return nil
	}
	fi, err := dir.Lstat(l.name)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	}
	if !fi.Mode().IsRegular() {
		return nil // links, FIFOs, devices: no objects
	}
	return l.emit(key, false, fi)
}
