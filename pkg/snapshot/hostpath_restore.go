package snapshot

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/arkproject/ark/pkg/backupstore"
)

// ErrNotEmpty means a volume's directory already holds data: a restore never
// overwrites it.
var ErrNotEmpty = errors.New("the volume's directory is not empty")

// maxRestoredFile caps one file of a restored volume (and so what a
// tampered archive can make us write in one go).
const maxRestoredFile = 64 << 30

// Restore unpacks a hostPath/local snapshot into the volume's directory,
// creating it if needed. The archive comes from the bucket and is not
// trusted: every path is resolved inside the directory (os.Root), so no
// entry — and no symbolic link in the archive — can write outside it. An
// existing non-empty directory is left alone (ErrNotEmpty).
func (h *HostPath) Restore(ctx context.Context, rec Record, pv *corev1.PersistentVolume) (int64, error) {
	return h.RestoreFrom(ctx, backupstore.Backup{}, rec, pv)
}

// RestoreFrom is Restore of a volume of the backup, whose data is
// decrypted (each segment authenticated before use) when the backup is
// encrypted. The zero Backup reads the data as it is stored.
func (h *HostPath) RestoreFrom(ctx context.Context, backup backupstore.Backup, rec Record, pv *corev1.PersistentVolume) (int64, error) {
	dir := filepath.Join(h.Root, volumePath(pv))
	root, err := h.openVolumeDir(dir)
	if err != nil {
		return 0, err
	}
	defer root.Close()
	f, err := root.Open(".")
	if err != nil {
		return 0, err
	}
	entries, err := f.ReadDir(1)
	f.Close()
	if err != nil && err != io.EOF {
		return 0, err
	}
	if len(entries) > 0 {
		return 0, fmt.Errorf("%s: %w", dir, ErrNotEmpty)
	}
	var r io.ReadCloser
	if backup.Name == "" {
		r, _, err = h.Store.NewReader(ctx, rec.SnapshotID)
	} else {
		r, err = backup.OpenFile(ctx, h.Store, rec.SnapshotID)
	}
	if err != nil {
		return 0, fmt.Errorf("reading the snapshot %s: %w", rec.SnapshotID, err)
	}
	defer r.Close()
	gz, err := gzip.NewReader(r)
	if err != nil {
		return 0, fmt.Errorf("snapshot %s is not a gzip stream: %w", rec.SnapshotID, err)
	}
	tr := tar.NewReader(gz)
	var written int64
	for {
		if err := ctx.Err(); err != nil {
			return written, err
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			return written, nil
		}
		if err != nil {
			return written, fmt.Errorf("snapshot %s is corrupt: %w", rec.SnapshotID, err)
		}
		name, err := safeName(hdr.Name)
		if err != nil {
			return written, fmt.Errorf("snapshot %s: %w", rec.SnapshotID, err)
		}
		mode := fs.FileMode(hdr.Mode).Perm()
		switch hdr.Typeflag {
		case tar.TypeDir:
			if err := root.MkdirAll(name, mode|0o700); err != nil {
				return written, err
			}
		case tar.TypeReg:
			if hdr.Size > maxRestoredFile {
				return written, fmt.Errorf("snapshot %s: entry %q is larger than %d bytes", rec.SnapshotID, hdr.Name, int64(maxRestoredFile))
			}
			if dirName := path.Dir(name); dirName != "." {
				if err := root.MkdirAll(dirName, 0o755); err != nil {
					return written, err
				}
			}
			f, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
			if err != nil {
				return written, err
			}
			n, err := io.Copy(f, io.LimitReader(tr, hdr.Size))
			written += n
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return written, err
			}
		case tar.TypeSymlink:
			// Links are recreated as they were; os.Root keeps later
			// entries from writing through them to outside the volume.
			if err := root.Symlink(hdr.Linkname, name); err != nil {
				return written, err
			}
		default:
			return written, fmt.Errorf("snapshot %s: entry %q has unsupported type %q", rec.SnapshotID, hdr.Name, hdr.Typeflag)
		}
	}
}

// ErrOutsideRestoreDirs means a volume's directory is not under any of the
// directories volume data may be restored to.
var ErrOutsideRestoreDirs = errors.New("is outside the directories volume data may be restored to")

// openVolumeDir creates dir if needed and opens it as an os.Root. With
// RestoreDirs, dir must lie lexically under one of them, and it is created
// and opened through that directory's os.Root, so no symbolic link on the
// way can lead outside it either.
func (h *HostPath) openVolumeDir(dir string) (*os.Root, error) {
	if len(h.RestoreDirs) == 0 {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("creating %s: %w", dir, err)
		}
		return os.OpenRoot(dir)
	}
	for _, allowed := range h.RestoreDirs {
		allowed = filepath.Clean(allowed)
		rel, err := filepath.Rel(allowed, dir)
		if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || filepath.IsAbs(rel) {
			continue
		}
		parent, err := os.OpenRoot(allowed)
		if err != nil {
			return nil, fmt.Errorf("opening %s: %w", allowed, err)
		}
		defer parent.Close()
		if rel != "." {
			if err := parent.MkdirAll(rel, 0o755); err != nil {
				return nil, fmt.Errorf("creating %s: %w", dir, err)
			}
		}
		root, err := parent.OpenRoot(rel)
		if err != nil {
			return nil, fmt.Errorf("opening %s: %w", dir, err)
		}
		return root, nil
	}
	return nil, fmt.Errorf("volume directory %s %w (%s)", dir, ErrOutsideRestoreDirs, strings.Join(h.RestoreDirs, ", "))
}

// safeName cleans an archive path and refuses anything that leaves the volume.
func safeName(name string) (string, error) {
	if name == "" || strings.ContainsAny(name, "\\\x00") || path.IsAbs(name) {
		return "", fmt.Errorf("unsafe entry %q", name)
	}
	clean := path.Clean(strings.TrimSuffix(name, "/"))
	if clean == "." || clean == ".." || strings.HasPrefix(clean, "../") {
		return "", fmt.Errorf("unsafe entry %q", name)
	}
	return clean, nil
}
