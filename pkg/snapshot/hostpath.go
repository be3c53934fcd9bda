package snapshot

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/arkproject/ark/pkg/backupstore"
	"github.com/arkproject/ark/pkg/objectstore"
)

// HostPathName is the name of the hostPath/local snapshotter.
const HostPathName = "hostpath"

// HostPath snapshots hostPath and local persistent volumes by archiving their
// directory into the bucket as backups/<backup>/volumes/<pv>.tar.gz. It reads
// the directory on the machine ark-apiserver runs on, so it suits
// single-node clusters, development, and nodes that share a filesystem.
type HostPath struct {
	Store objectstore.Store
	// Root, when set, is prefixed to volume paths: ark-apiserver may see the
	// node's filesystem mounted somewhere else (e.g. /host).
	Root string
	// RestoreDirs, when set, are the only directories (of this server's
	// filesystem, Root included) under which volume data is restored. The
	// path comes from the backup's PersistentVolume, which is only as
	// trustworthy as the bucket; this bounds where a tampered backup can
	// write. Empty allows any directory.
	RestoreDirs []string
}

var _ VolumeSnapshotter = &HostPath{}

// Name returns "hostpath".
func (h *HostPath) Name() string { return HostPathName }

// Handles hostPath and local volumes.
func (h *HostPath) Handles(pv *corev1.PersistentVolume) bool {
	return volumePath(pv) != ""
}

func volumePath(pv *corev1.PersistentVolume) string {
	switch {
	case pv.Spec.HostPath != nil:
		return pv.Spec.HostPath.Path
	case pv.Spec.Local != nil:
		return pv.Spec.Local.Path
	}
	return ""
}

// ArchiveKey is where the snapshot of a PV of a backup lives.
func ArchiveKey(backup backupstore.Backup, pv string) string {
	return backup.Dir() + "volumes/" + pv + ".tar.gz"
}

// InBackup reports whether key, a hostPath snapshot ID read from the
// bucket, is in the backup's own folder: records are bucket input, and
// restores and deletions never follow one to another backup's files.
func InBackup(backup backupstore.Backup, key string) bool {
	return strings.HasPrefix(key, backup.Dir()) && !strings.Contains(key, "..")
}

// Snapshot streams the volume's directory into the bucket: directories,
// regular files and symbolic links (never followed), with their modes.
func (h *HostPath) Snapshot(ctx context.Context, backup backupstore.Backup, pv *corev1.PersistentVolume) (Record, error) {
	dir := filepath.Join(h.Root, volumePath(pv))
	rec := Record{VolumeID: volumePath(pv), SnapshotID: ArchiveKey(backup, pv.Name)}
	fi, err := os.Stat(dir)
	if err != nil {
		return rec, fmt.Errorf("reading volume %s at %s: %w", pv.Name, dir, err)
	}
	if !fi.IsDir() {
		return rec, fmt.Errorf("volume %s at %s is not a directory", pv.Name, dir)
	}
	// An encrypted backup's key file is written before its volumes are
	// snapshotted; its data is encrypted with the backup's files.
	dk, err := backup.DataKey(ctx, h.Store)
	if err != nil {
		return rec, err
	}
	w, err := backupstore.NewFileWriter(ctx, h.Store, rec.SnapshotID, dk, nil)
	if err != nil {
		return rec, fmt.Errorf("snapshot of volume %s: %w", pv.Name, err)
	}
	if err := archive(ctx, dir, w); err != nil {
		w.Abort()
		return rec, fmt.Errorf("archiving volume %s: %w", pv.Name, err)
	}
	if err := w.Close(); err != nil {
		return rec, fmt.Errorf("snapshot of volume %s: %w", pv.Name, err)
	}
	rec.Size = w.Size()
	return rec, nil
}

// archive writes dir as a tar.gz with paths relative to dir.
func archive(ctx context.Context, dir string, w io.Writer) error {
	gz := gzip.NewWriter(w)
	tw := tar.NewWriter(gz)
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil || rel == "." {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		link := ""
		if info.Mode()&fs.ModeSymlink != 0 {
			if link, err = os.Readlink(path); err != nil {
				return err
			}
		} else if !info.Mode().IsRegular() && !info.IsDir() {
			return nil // sockets, devices, pipes: not data
		}
		hdr, err := tar.FileInfoHeader(info, link)
		if err != nil {
			return err
		}
		hdr.Name = filepath.ToSlash(rel)
		if info.IsDir() {
			hdr.Name += "/"
		}
		hdr.Uname, hdr.Gname = "", ""
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if !info.Mode().IsRegular() {
			return nil
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(tw, f)
		return err
	})
	if err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return gz.Close()
}
