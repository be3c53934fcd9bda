package snapshot

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

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
	rec, err := h.Snapshot(context.Background(), "b1", pv)
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
	if _, err := h.Snapshot(context.Background(), "b1", hostPathPV("gone", filepath.Join(t.TempDir(), "missing"))); err == nil {
		t.Fatal("snapshot of a missing directory succeeded")
	}
	page, err := store.List(context.Background(), objectstore.ListOptions{})
	if err != nil || len(page.Objects) != 0 {
		t.Errorf("a failed snapshot left objects: %+v %v", page.Objects, err)
	}
}
