package snapshot

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/arkproject/ark/pkg/backupstore"
	"github.com/arkproject/ark/pkg/objectstore"
)

func hostPathPV(name, path string) *corev1.PersistentVolume {
	return &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PersistentVolumeSpec{PersistentVolumeSource: corev1.PersistentVolumeSource{
			HostPath: &corev1.HostPathVolumeSource{Path: path},
		}},
	}
}

func TestHostPathArchivesTheVolume(t *testing.T) {
	vol := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(vol, "db", "wal"), 0o750))
	must(os.WriteFile(filepath.Join(vol, "db", "data.bin"), []byte(strings.Repeat("x", 100000)), 0o640))
	must(os.WriteFile(filepath.Join(vol, "db", "wal", "0001"), []byte("log"), 0o600))
	must(os.Symlink("/etc/passwd", filepath.Join(vol, "escape")))
	store, err := objectstore.NewFileStore(t.TempDir())
	must(err)
	h := &HostPath{Store: store}
	pv := hostPathPV("data", vol)
	if !h.Handles(pv) || h.Handles(&corev1.PersistentVolume{}) {
		t.Fatal("Handles")
	}
	rec, err := h.Snapshot(context.Background(), backupstore.Home("b1"), pv)
	must(err)
	if rec.SnapshotID != "backups/b1/volumes/data.tar.gz" || rec.VolumeID != vol || rec.Size == 0 {
		t.Errorf("record %+v", rec)
	}
	r, attrs, err := store.NewReader(context.Background(), rec.SnapshotID)
	must(err)
	defer r.Close()
	if attrs.Size != rec.Size {
		t.Errorf("recorded size %d, stored %d", rec.Size, attrs.Size)
	}
	gz, err := gzip.NewReader(r)
	must(err)
	tr := tar.NewReader(gz)
	got := map[string]string{}
	var modes = map[string]int64{}
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		must(err)
		data, _ := io.ReadAll(tr)
		got[hdr.Name] = string(data)
		modes[hdr.Name] = hdr.Mode
		if hdr.Typeflag == tar.TypeSymlink {
			got[hdr.Name] = "-> " + hdr.Linkname
		}
	}
	var names []string
	for n := range got {
		names = append(names, n)
	}
	sort.Strings(names)
	if strings.Join(names, ",") != "db/,db/data.bin,db/wal/,db/wal/0001,escape" {
		t.Errorf("archive entries %v", names)
	}
	if len(got["db/data.bin"]) != 100000 || got["db/wal/0001"] != "log" {
		t.Errorf("file contents not archived")
	}
	if got["escape"] != "-> /etc/passwd" {
		t.Errorf("a symlink must be archived as a link, not followed: %q", got["escape"][:min(20, len(got["escape"]))])
	}
	if modes["db/wal/0001"]&0o777 != 0o600 {
		t.Errorf("mode of db/wal/0001: %o", modes["db/wal/0001"])
	}
}

func TestHostPathMissingDirectoryFails(t *testing.T) {
	store, err := objectstore.NewFileStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	h := &HostPath{Store: store}
	if _, err := h.Snapshot(context.Background(), backupstore.Home("b1"), hostPathPV("gone", filepath.Join(t.TempDir(), "missing"))); err == nil {
		t.Fatal("snapshot of a missing directory succeeded")
	}
	page, err := store.List(context.Background(), objectstore.ListOptions{})
	if err != nil || len(page.Objects) != 0 {
		t.Errorf("a failed snapshot left objects: %+v %v", page.Objects, err)
	}
}

// A volume archived by Snapshot comes back identical with Restore.
func TestHostPathRoundTrip(t *testing.T) {
	src := t.TempDir()
	os.MkdirAll(filepath.Join(src, "a", "b"), 0o755)
	os.WriteFile(filepath.Join(src, "a", "b", "f.txt"), []byte("payload"), 0o640)
	os.Symlink("b/f.txt", filepath.Join(src, "a", "link"))
	store, _ := objectstore.NewFileStore(t.TempDir())
	h := &HostPath{Store: store}
	rec, err := h.Snapshot(context.Background(), backupstore.Home("b1"), hostPathPV("data", src))
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "restored")
	n, err := h.Restore(context.Background(), rec, hostPathPV("data", dst))
	if err != nil || n != int64(len("payload")) {
		t.Fatalf("restore: %d %v", n, err)
	}
	got, err := os.ReadFile(filepath.Join(dst, "a", "b", "f.txt"))
	if err != nil || string(got) != "payload" {
		t.Errorf("file: %q %v", got, err)
	}
	if fi, _ := os.Stat(filepath.Join(dst, "a", "b", "f.txt")); fi.Mode().Perm() != 0o640 {
		t.Errorf("mode %o", fi.Mode().Perm())
	}
	if target, err := os.Readlink(filepath.Join(dst, "a", "link")); err != nil || target != "b/f.txt" {
		t.Errorf("link: %q %v", target, err)
	}
	// Never over existing data.
	if _, err := h.Restore(context.Background(), rec, hostPathPV("data", dst)); !errors.Is(err, ErrNotEmpty) {
		t.Errorf("restore over data: %v", err)
	}
}

// A tampered archive cannot write outside the volume: not by "..", not by
// an absolute path, not through a symbolic link it plants first.
func TestHostPathRestoreRefusesEscapes(t *testing.T) {
	for name, entries := range map[string][]tar.Header{
		"dot-dot":  {{Name: "../escaped", Typeflag: tar.TypeReg, Size: 1, Mode: 0o644}},
		"absolute": {{Name: "/tmp/escaped", Typeflag: tar.TypeReg, Size: 1, Mode: 0o644}},
		"via symlink": {
			{Name: "out", Typeflag: tar.TypeSymlink, Linkname: "..", Mode: 0o777},
			{Name: "out/escaped", Typeflag: tar.TypeReg, Size: 1, Mode: 0o644},
		},
		"device": {{Name: "dev", Typeflag: tar.TypeChar, Mode: 0o644}},
	} {
		t.Run(name, func(t *testing.T) {
			parent := t.TempDir()
			store, _ := objectstore.NewFileStore(t.TempDir())
			var buf bytes.Buffer
			gz := gzip.NewWriter(&buf)
			tw := tar.NewWriter(gz)
			for _, h := range entries {
				h := h
				if err := tw.WriteHeader(&h); err != nil {
					t.Fatal(err)
				}
				if h.Size > 0 {
					tw.Write([]byte("x"))
				}
			}
			tw.Close()
			gz.Close()
			objectstore.PutBytes(context.Background(), store, "snap", buf.Bytes(), objectstore.Conditions{})
			h := &HostPath{Store: store}
			_, err := h.Restore(context.Background(), Record{SnapshotID: "snap"}, hostPathPV("v", filepath.Join(parent, "vol")))
			if err == nil {
				t.Fatal("a hostile archive was restored")
			}
			if _, err := os.Stat(filepath.Join(parent, "escaped")); !os.IsNotExist(err) {
				t.Errorf("a file escaped the volume: %v", err)
			}
		})
	}
}

// With RestoreDirs, volume data goes only under those directories: a
// backup's PV naming another path (as a tampered bucket could) is refused
// before anything is created, and a symbolic link inside an allowed
// directory cannot lead out of it.
func TestHostPathRestoreDirs(t *testing.T) {
	src := t.TempDir()
	os.WriteFile(filepath.Join(src, "f.txt"), []byte("payload"), 0o644)
	store, _ := objectstore.NewFileStore(t.TempDir())
	snap := &HostPath{Store: store}
	rec, err := snap.Snapshot(context.Background(), backupstore.Home("b1"), hostPathPV("data", src))
	if err != nil {
		t.Fatal(err)
	}
	allowed, outside := t.TempDir(), t.TempDir()
	h := &HostPath{Store: store, RestoreDirs: []string{filepath.Join(t.TempDir(), "other"), allowed + "/"}}

	// Inside: created, nested, restored.
	dst := filepath.Join(allowed, "vols", "data")
	if _, err := h.Restore(context.Background(), rec, hostPathPV("data", dst)); err != nil {
		t.Fatalf("restore under an allowed directory: %v", err)
	}
	if got, _ := os.ReadFile(filepath.Join(dst, "f.txt")); string(got) != "payload" {
		t.Errorf("restored %q", got)
	}

	for name, path := range map[string]string{
		"outside":           filepath.Join(outside, "vol"),
		"sibling prefix":    allowed + "-evil/vol",
		"dot-dot":           allowed + "/../" + filepath.Base(outside) + "/vol",
		"the parent itself": filepath.Dir(allowed),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := h.Restore(context.Background(), rec, hostPathPV("data", path))
			if !errors.Is(err, ErrOutsideRestoreDirs) {
				t.Fatalf("err = %v, want ErrOutsideRestoreDirs", err)
			}
			if _, err := os.Stat(filepath.Join(outside, "vol")); !os.IsNotExist(err) {
				t.Errorf("created outside: %v", err)
			}
		})
	}

	// A link planted inside the allowed directory pointing out of it.
	if err := os.Symlink(outside, filepath.Join(allowed, "link")); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Restore(context.Background(), rec, hostPathPV("data", filepath.Join(allowed, "link", "vol"))); err == nil {
		t.Error("restored through a symbolic link out of the allowed directory")
	}
	if entries, _ := os.ReadDir(outside); len(entries) != 0 {
		t.Errorf("wrote outside through the link: %v", entries)
	}
}

func TestInBackup(t *testing.T) {
	b := backupstore.Layout{HomeNamespace: "heptio-ark"}.Backup("team-a", "b1")
	for key, want := range map[string]bool{
		ArchiveKey(b, "pv-1"): true,
		"namespaces/team-a/backups/b1/volumes/../../b2/volumes/pv-1.tar.gz": false,
		"namespaces/team-a/backups/b10/volumes/pv-1.tar.gz":                 false,
		"backups/b1/volumes/pv-1.tar.gz":                                    false,
		"snapshots/b1/pv-1.tar.gz":                                          false,
	} {
		if got := InBackup(b, key); got != want {
			t.Errorf("InBackup(%q) = %v, want %v", key, got, want)
		}
	}
}
