package objectstore

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"syscall"
)

// The file store treats its bucket directory as hostile: anyone who can write
// to it may plant symbolic links, FIFOs or devices where objects should be.
// Two layers keep such entries harmless.
//
//   - Every access goes through an os.Root opened on the bucket directory, so
//     no path (whatever links it meets) resolves outside the bucket. This is
//     the containment guarantee, enforced by the os package on every call.
//   - The store never follows a link, not even one that stays inside the
//     bucket. os.Root does follow links that stay inside the root, and it
//     ignores O_NOFOLLOW in OpenFile: it resolves the final link itself. So
//     the helpers below walk a key one segment at a time, Lstat each entry
//     and refuse links and special files. Then they open the entry and check
//     with os.SameFile that it is the entry they inspected.
//
// A link inside the bucket is refused too, although os.Root would contain it.
// Following it would give one object two keys, and a planted alias could
// make Delete or a conditional write act on an object other than the one
// named. A key whose path holds a link is simply absent.

// refusedError is an entry on a key's path that the file store will not use.
type refusedError struct {
	path   string      // slash-separated, relative to the bucket directory
	mode   fs.FileMode // what was found there
	target string      // a link's target, for the log only
	raced  bool        // replaced between its Lstat and its open
}

func (e *refusedError) Error() string {
	switch {
	case e.raced:
		return fmt.Sprintf("%s was replaced while it was being opened; the file store never follows symbolic links and does not use entries that change under it", e.path)
	case e.mode&fs.ModeSymlink != 0:
		return fmt.Sprintf("%s is a symbolic link, which the file store never follows", e.path)
	default:
		return fmt.Sprintf("%s is not a regular file (%s), which the file store never opens", e.path, e.mode.Type())
	}
}

// checkRegular accepts fi, the Lstat of name in dir, as an object. A directory
// is not an object: that error is EISDIR so that callers map it to "not found"
// without alarm, since a key such as "backups" names a prefix in normal use.
func checkRegular(dir *os.Root, rel, name string, fi fs.FileInfo) error {
	switch {
	case fi.Mode().IsRegular():
		return nil
	case fi.IsDir():
		return &fs.PathError{Op: "open", Path: rel, Err: syscall.EISDIR}
	case fi.Mode()&fs.ModeSymlink != 0:
		target, _ := dir.Readlink(name) // best effort: it only goes to the log
		return &refusedError{path: rel, mode: fi.Mode(), target: target}
	default:
		return &refusedError{path: rel, mode: fi.Mode()}
	}
}

// openDirAt opens the directory name in parent without following a link.
// rel is its bucket-relative path, for errors. If mkdir is non-zero, a
// missing directory is created with that mode.
//
// A component that is not a directory at all is ENOTDIR, which makes the key
// absent, just as the kernel would report it.
func openDirAt(parent *os.Root, rel, name string, mkdir fs.FileMode) (*os.Root, error) {
	d, _, err := openDirInfo(parent, rel, name, mkdir)
	return d, err
}

// openDirInfo is openDirAt, also returning the directory's attributes.
func openDirInfo(parent *os.Root, rel, name string, mkdir fs.FileMode) (*os.Root, fs.FileInfo, error) {
	fi, err := parent.Lstat(name)
	if mkdir != 0 && errors.Is(err, fs.ErrNotExist) {
		// Mkdir never follows a link. If another writer created the
		// directory first, take that one.
		if err := parent.Mkdir(name, mkdir); err != nil && !errors.Is(err, fs.ErrExist) {
			return nil, nil, err
		}
		fi, err = parent.Lstat(name)
	}
	if err != nil {
		return nil, nil, err
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		target, _ := parent.Readlink(name)
		return nil, nil, &refusedError{path: rel, mode: fi.Mode(), target: target}
	}
	if !fi.IsDir() {
		return nil, nil, &fs.PathError{Op: "open", Path: rel, Err: syscall.ENOTDIR}
	}
	d, err := parent.OpenRoot(name)
	if err != nil {
		return nil, nil, err
	}
	// OpenRoot follows a link swapped in since the Lstat. Check that we opened
	// the directory we inspected. If so, the walk matches one done with no
	// links at the moment of the Lstat.
	now, err := d.Stat(".")
	if err != nil {
		d.Close()
		return nil, nil, err
	}
	if !os.SameFile(fi, now) {
		d.Close()
		return nil, nil, &refusedError{path: rel, mode: fi.Mode(), raced: true}
	}
	return d, fi, nil
}

// openParents opens the directories of a key's leading segments one by one
// from top, never through a link. dirs[0] is top; dirs[i] holds segs[i]. The
// caller closes them with closeDirs, but top stays the caller's to close.
func openParents(top *os.Root, segs []string, mkdir fs.FileMode) ([]*os.Root, error) {
	dirs := make([]*os.Root, 1, len(segs)+1)
	dirs[0] = top
	for i, seg := range segs {
		d, err := openDirAt(dirs[i], strings.Join(segs[:i+1], "/"), seg, mkdir)
		if err != nil {
			closeDirs(dirs)
			return nil, err
		}
		dirs = append(dirs, d)
	}
	return dirs, nil
}

// closeDirs closes what openParents opened.
func closeDirs(dirs []*os.Root) {
	for _, d := range dirs[1:] {
		d.Close()
	}
}

// openFileAt opens the regular file name in dir without following a link.
// With os.O_CREATE in flag, a missing file is created (O_EXCL, which never
// follows a link). It returns the file and its fstat.
//
// The file is opened with O_NONBLOCK. Without it, a FIFO swapped in between
// the Lstat and the open would block the open until some writer showed up,
// which would hang an API request on attacker input. A regular file reads the
// same either way.
func openFileAt(dir *os.Root, rel, name string, flag int, perm fs.FileMode) (*os.File, fs.FileInfo, error) {
	for range 3 { // only a creator that keeps losing races goes round again
		fi, err := dir.Lstat(name)
		if errors.Is(err, fs.ErrNotExist) && flag&os.O_CREATE != 0 {
			f, err := dir.OpenFile(name, flag|os.O_EXCL, perm)
			if errors.Is(err, fs.ErrExist) {
				continue // created meanwhile: inspect what is there now
			}
			if err != nil {
				return nil, nil, err
			}
			fi, err := f.Stat()
			if err != nil {
				f.Close()
				return nil, nil, err
			}
			return f, fi, nil
		}
		if err != nil {
			return nil, nil, err
		}
		if err := checkRegular(dir, rel, name, fi); err != nil {
			return nil, nil, err
		}
		f, err := dir.OpenFile(name, flag&^(os.O_CREATE|os.O_EXCL)|syscall.O_NONBLOCK, 0)
		if err != nil {
			return nil, nil, err
		}
		got, err := f.Stat()
		if err != nil {
			f.Close()
			return nil, nil, err
		}
		if !os.SameFile(fi, got) {
			f.Close()
			return nil, nil, &refusedError{path: rel, mode: fi.Mode(), raced: true}
		}
		return f, got, nil
	}
	return nil, nil, fmt.Errorf("%s keeps being created and removed", rel)
}

// flock applies flock(2) to f. It retries on EINTR, since a signal must not
// turn into a failed commit.
func flock(f *os.File, how int) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) {
		for {
			ferr = syscall.Flock(int(fd), how)
			if ferr != syscall.EINTR {
				return
			}
		}
	}); err != nil {
		return err
	}
	return ferr
}
