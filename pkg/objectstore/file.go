package objectstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"
)

// The file store keeps its bookkeeping beside the objects, under names no key
// may take, so that a directory is a complete, copyable bucket.
const (
	fileReservedPrefix = ".ark-"
	fileTempDir        = ".ark-tmp"
	fileLockName       = ".ark-lock"
)

// FileStore is a bucket in a local directory: each key is a file under root.
//
// Generations are file modification times in nanoseconds. The store sets them
// itself on every write, strictly increasing per key, because the kernel's
// coarse file clock would otherwise give two quick writes the same generation.
// Commits (the precondition check and the rename) hold an flock on the
// bucket's lock file, so several processes sharing the directory still get
// atomic put-if-absent and compare-and-swap. Files dropped into the directory
// by other programs are objects like any other.
type FileStore struct {
	root string
}

var _ Store = &FileStore{}

// NewFileStore opens (creating if needed) a file bucket rooted at dir.
func NewFileStore(dir string) (*FileStore, error) {
	if !filepath.IsAbs(dir) {
		return nil, fmt.Errorf("file backup location %q must be an absolute path", dir)
	}
	if err := os.MkdirAll(filepath.Join(dir, fileTempDir), 0o700); err != nil {
		return nil, fmt.Errorf("creating file backup location: %w", err)
	}
	return &FileStore{root: filepath.Clean(dir)}, nil
}

// String returns the location's URL.
func (s *FileStore) String() string { return "file://" + s.root }

// Close is a no-op: the store holds no open files between calls.
func (s *FileStore) Close() error { return nil }

// path maps a key to its file, refusing keys that could escape the root or
// collide with the store's bookkeeping.
func (s *FileStore) path(key string) (string, error) {
	if key == "" || strings.HasPrefix(key, "/") || strings.HasSuffix(key, "/") || strings.Contains(key, "\\") || strings.ContainsRune(key, 0) {
		return "", fmt.Errorf("%w: %q", ErrInvalidKey, key)
	}
	for _, seg := range strings.Split(key, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return "", fmt.Errorf("%w: %q", ErrInvalidKey, key)
		}
	}
	if strings.HasPrefix(key, fileReservedPrefix) {
		return "", fmt.Errorf("%w: %q is reserved", ErrInvalidKey, key)
	}
	return filepath.Join(s.root, filepath.FromSlash(key)), nil
}

// checkRoot fails when the bucket directory itself is gone or unreadable, so
// that a missing bucket is an error rather than an empty bucket.
func (s *FileStore) checkRoot() error {
	fi, err := os.Stat(s.root)
	if err != nil {
		return fmt.Errorf("backup location %s is unavailable: %w", s, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("backup location %s is not a directory", s)
	}
	return nil
}

func fileAttrs(key string, fi fs.FileInfo) ObjectAttrs {
	return ObjectAttrs{Key: key, Size: fi.Size(), Generation: fi.ModTime().UnixNano(), Updated: fi.ModTime()}
}

// Attrs stats the object at key.
func (s *FileStore) Attrs(ctx context.Context, key string) (ObjectAttrs, error) {
	p, err := s.path(key)
	if err != nil {
		return ObjectAttrs{}, err
	}
	fi, err := os.Stat(p)
	if err != nil {
		return ObjectAttrs{}, s.mapErr(key, err)
	}
	if !fi.Mode().IsRegular() {
		return ObjectAttrs{}, fmt.Errorf("%s: %w", key, ErrNotFound)
	}
	return fileAttrs(key, fi), nil
}

func (s *FileStore) mapErr(key string, err error) error {
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		if rootErr := s.checkRoot(); rootErr != nil {
			return rootErr
		}
		return fmt.Errorf("%s: %w", key, ErrNotFound)
	}
	return fmt.Errorf("backup location %s: %w", s, err)
}

// NewReader opens the object for reading. A concurrent overwrite replaces the
// file by rename, so an open reader keeps seeing the version it opened.
func (s *FileStore) NewReader(ctx context.Context, key string) (io.ReadCloser, ObjectAttrs, error) {
	p, err := s.path(key)
	if err != nil {
		return nil, ObjectAttrs{}, err
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, ObjectAttrs{}, s.mapErr(key, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, ObjectAttrs{}, s.mapErr(key, err)
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, ObjectAttrs{}, fmt.Errorf("%s: %w", key, ErrNotFound)
	}
	return f, fileAttrs(key, fi), nil
}

// NewWriter streams into a temporary file; Close commits it under the lock.
func (s *FileStore) NewWriter(ctx context.Context, key string, cond Conditions) (Writer, error) {
	p, err := s.path(key)
	if err != nil {
		return nil, err
	}
	if err := s.checkRoot(); err != nil {
		return nil, err
	}
	tmpDir := filepath.Join(s.root, fileTempDir)
	if err := os.MkdirAll(tmpDir, 0o700); err != nil {
		return nil, fmt.Errorf("backup location %s: %w", s, err)
	}
	f, err := os.CreateTemp(tmpDir, "upload-*")
	if err != nil {
		return nil, fmt.Errorf("backup location %s: %w", s, err)
	}
	return &fileWriter{store: s, key: key, path: p, cond: cond, f: f}, nil
}

type fileWriter struct {
	store *FileStore
	key   string
	path  string
	cond  Conditions
	f     *os.File
	done  bool
	attrs ObjectAttrs
}

func (w *fileWriter) Write(p []byte) (int, error) {
	if w.done {
		return 0, errors.New("write after close")
	}
	return w.f.Write(p)
}

func (w *fileWriter) Abort() {
	if w.done {
		return
	}
	w.done = true
	w.f.Close()
	os.Remove(w.f.Name())
}

func (w *fileWriter) Attrs() ObjectAttrs { return w.attrs }

func (w *fileWriter) Close() error {
	if w.done {
		return errors.New("writer already closed")
	}
	tmp := w.f.Name()
	defer func() {
		w.done = true
		os.Remove(tmp) // no-op once renamed
	}()
	if err := w.f.Sync(); err != nil {
		w.f.Close()
		return fmt.Errorf("writing %s: %w", w.key, err)
	}
	if err := w.f.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", w.key, err)
	}
	return w.store.withLock(func() error {
		prev, err := os.Stat(w.path)
		exists := err == nil
		if err != nil && !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, syscall.ENOTDIR) {
			return fmt.Errorf("writing %s: %w", w.key, err)
		}
		if err := checkConditions(w.key, w.cond, exists, prev); err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Dir(w.path), 0o755); err != nil {
			return fmt.Errorf("writing %s: %w", w.key, err)
		}
		gen := time.Now()
		if exists && !gen.After(prev.ModTime()) {
			gen = prev.ModTime().Add(time.Nanosecond)
		}
		if err := os.Chtimes(tmp, gen, gen); err != nil {
			return fmt.Errorf("writing %s: %w", w.key, err)
		}
		if err := os.Chmod(tmp, 0o644); err != nil {
			return fmt.Errorf("writing %s: %w", w.key, err)
		}
		if err := os.Rename(tmp, w.path); err != nil {
			return fmt.Errorf("writing %s: %w", w.key, err)
		}
		fi, err := os.Stat(w.path)
		if err != nil {
			return fmt.Errorf("writing %s: %w", w.key, err)
		}
		w.attrs = fileAttrs(w.key, fi)
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
func (s *FileStore) withLock(fn func() error) error {
	f, err := os.OpenFile(filepath.Join(s.root, fileLockName), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		if rootErr := s.checkRoot(); rootErr != nil {
			return rootErr
		}
		return fmt.Errorf("backup location %s: locking: %w", s, err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("backup location %s: locking: %w", s, err)
	}
	defer syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	return fn()
}

// Delete removes the object, then any directories the removal left empty.
func (s *FileStore) Delete(ctx context.Context, key string, cond Conditions) error {
	p, err := s.path(key)
	if err != nil {
		return err
	}
	return s.withLock(func() error {
		fi, err := os.Stat(p)
		if err != nil {
			return s.mapErr(key, err)
		}
		if !fi.Mode().IsRegular() {
			return fmt.Errorf("%s: %w", key, ErrNotFound)
		}
		if err := checkConditions(key, cond, true, fi); err != nil {
			return err
		}
		if err := os.Remove(p); err != nil {
			return s.mapErr(key, err)
		}
		for dir := filepath.Dir(p); dir != s.root && strings.HasPrefix(dir, s.root); dir = filepath.Dir(dir) {
			if os.Remove(dir) != nil { // not empty, or gone: stop
				break
			}
		}
		return nil
	})
}

// List walks the directory tree in exact key order (a subdirectory d sorts as
// "d/"), so a page costs only the entries up to its end, not the whole bucket.
func (s *FileStore) List(ctx context.Context, opts ListOptions) (ListPage, error) {
	if opts.Delimiter != "" && opts.Delimiter != "/" {
		return ListPage{}, fmt.Errorf("file backup location supports only the delimiter \"/\", not %q", opts.Delimiter)
	}
	if err := s.checkRoot(); err != nil {
		return ListPage{}, err
	}
	limit := opts.Limit
	if limit <= 0 {
		limit = DefaultPageSize
	}
	l := &fileLister{ctx: ctx, prefix: opts.Prefix, delim: opts.Delimiter != "", after: opts.PageToken, limit: limit}
	// Start at the deepest directory the prefix names completely.
	dirKey := ""
	if i := strings.LastIndex(opts.Prefix, "/"); i >= 0 {
		dirKey = opts.Prefix[:i+1]
	}
	err := l.walk(filepath.Join(s.root, filepath.FromSlash(dirKey)), dirKey)
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

func (l *fileLister) walk(dir, dirKey string) error {
	if err := l.ctx.Err(); err != nil {
		return err
	}
	des, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	entries := make([]dirEntry, 0, len(des))
	for _, de := range des {
		name := de.Name()
		if dirKey == "" && strings.HasPrefix(name, fileReservedPrefix) {
			continue
		}
		isDir := de.IsDir()
		if de.Type()&fs.ModeSymlink != 0 {
			continue // never follow links out of the bucket
		}
		sortKey := name
		if isDir {
			sortKey += "/"
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
			if err := l.walk(filepath.Join(dir, e.name), key); err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					continue // removed while we walked
				}
				return err
			}
			continue
		}
		if !strings.HasPrefix(key, l.prefix) || key <= l.after {
			continue
		}
		fi, err := os.Stat(filepath.Join(dir, e.name))
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			return err
		}
		if !fi.Mode().IsRegular() {
			continue
		}
		if err := l.emit(key, false, fi); err != nil {
			return err
		}
	}
	return nil
}
