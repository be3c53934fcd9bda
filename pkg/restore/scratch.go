package restore

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"k8s.io/klog/v2"
)

const (
	// scratchPrefix starts the name of every restore's scratch directory;
	// CleanScratch touches nothing else.
	scratchPrefix = "ark-restore-"
	// scratchLock is the file a restore holds an exclusive flock on while it
	// uses its scratch directory. The kernel drops the lock when the process
	// dies however it dies, so an unlockable file is the sign of an abandoned
	// directory that an mtime cannot give: a restore may run for hours after
	// its extraction last touched the directory.
	scratchLock = ".lock"
	// scratchData is where the backup is unpacked: archive.Extract wants an
	// empty directory, and the lock file must sit next to it, not in it.
	scratchData = "backup"
)

// scratch is one restore's scratch directory, locked until it is removed.
type scratch struct {
	dir  string
	lock *os.File
}

// newScratch creates and locks a scratch directory in parent ("" is the
// system's temporary directory).
func newScratch(parent string) (_ *scratch, err error) {
	dir, err := os.MkdirTemp(parent, scratchPrefix)
	if err != nil {
		return nil, err
	}
	var lock *os.File
	defer func() {
		if err != nil {
			_ = os.RemoveAll(dir)
			if lock != nil {
				lock.Close()
			}
		}
	}()
	lock, err = os.OpenFile(filepath.Join(dir, scratchLock), os.O_RDWR|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return nil, fmt.Errorf("creating the lock of scratch directory %s: %w", dir, err)
	}
	// Not waiting: the file is new, so only a CleanScratch told that even a
	// fresh directory is abandoned can hold it, and it is removing the
	// directory.
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		return nil, fmt.Errorf("locking scratch directory %s: %w", dir, err)
	}
	if err := os.Mkdir(filepath.Join(dir, scratchData), 0o700); err != nil {
		return nil, err
	}
	return &scratch{dir: dir, lock: lock}, nil
}

// data is the empty directory to unpack the backup into.
func (s *scratch) data() string { return filepath.Join(s.dir, scratchData) }

// remove deletes the directory, then releases its lock: unlocked earlier, a
// CleanScratch could start deleting what this RemoveAll is deleting too.
func (s *scratch) remove() error {
	err := os.RemoveAll(s.dir)
	return errors.Join(err, s.lock.Close()) // closing the file drops the flock
}

// CleanScratch removes the scratch directories of restores that died before
// they could remove their own (a killed server leaves the whole unpacked
// backup behind) from dir, "" being the system's temporary directory as for
// Restorer.ScratchDir. Servers may share dir, so it removes only what no
// live restore uses: directories directly in dir, not symbolic links, whose
// name starts with "ark-restore-", modified longer than olderThan ago, and
// whose lock no process holds. Directories without a lock file, made by
// versions that did not lock, qualify on age alone; a restore creates its
// lock file right after its directory, so olderThan should be a minute or
// more, never zero. Nothing else in dir is touched.
//
// It returns how many directories it removed; a directory it could not
// examine or remove does not stop it, and its error is joined to the others.
func CleanScratch(dir string, olderThan time.Duration) (removed int, err error) {
	if dir == "" {
		dir = os.TempDir()
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0, fmt.Errorf("listing scratch directory %s: %w", dir, err)
	}
	cutoff := time.Now().Add(-olderThan)
	var errs []error
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), scratchPrefix) {
			continue
		}
		path := filepath.Join(dir, e.Name())
		ok, err := removeAbandoned(path, cutoff)
		if err != nil {
			errs = append(errs, err)
		}
		if ok {
			removed++
			klog.V(2).InfoS("Removed an abandoned restore scratch directory", "dir", path)
		}
	}
	return removed, errors.Join(errs...)
}

// removeAbandoned removes path if it is a scratch directory older than
// cutoff that no restore holds, and says whether it did.
func removeAbandoned(path string, cutoff time.Time) (bool, error) {
	info, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil // another cleaner was quicker
	}
	if err != nil {
		return false, err
	}
	// Lstat: a symbolic link named like a scratch directory is not one, and
	// what it points to is not ours.
	if !info.IsDir() || !info.ModTime().Before(cutoff) {
		return false, nil
	}
	// The lock is looked up in the directory Lstat described, so it cannot
	// belong to something put in its place since.
	root, err := os.OpenRoot(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
			return false, nil // removed or replaced since Lstat
		}
		return false, fmt.Errorf("opening scratch directory %s: %w", path, err)
	}
	defer root.Close()
	if now, err := root.Stat("."); err != nil {
		return false, fmt.Errorf("examining scratch directory %s: %w", path, err)
	} else if !os.SameFile(info, now) {
		return false, nil // replaced since Lstat, by a symbolic link maybe
	}
	lock, err := openLock(root)
	switch {
	case err == nil:
		// Held through the removal: another server cleaning the same
		// directory then takes it for one in use and leaves it alone,
		// rather than racing this removal.
		defer lock.Close()
		if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			if errors.Is(err, syscall.EWOULDBLOCK) {
				return false, nil // a restore is using it
			}
			return false, fmt.Errorf("locking scratch directory %s: %w", path, err)
		}
	case errors.Is(err, fs.ErrNotExist):
		// Made before restores locked their directories: age decides.
	default:
		return false, fmt.Errorf("opening the lock of scratch directory %s: %w", path, err)
	}
	if err := os.RemoveAll(path); err != nil {
		return false, fmt.Errorf("removing abandoned scratch directory %s: %w", path, err)
	}
	return true, nil
}

// openLock opens the lock file of the scratch directory root, refusing
// anything but the regular file a restore creates: a symbolic link would
// have the lock taken on some other file.
func openLock(root *os.Root) (*os.File, error) {
	info, err := root.Lstat(scratchLock)
	if err != nil {
		return nil, err
	}
	if !info.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", scratchLock)
	}
	f, err := root.Open(scratchLock)
	if err != nil {
		return nil, err
	}
	now, err := f.Stat()
	if err == nil && !os.SameFile(info, now) {
		err = fmt.Errorf("%s was replaced while it was opened", scratchLock)
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}
