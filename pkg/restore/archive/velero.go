package archive

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"

	"github.com/arkproject/ark/pkg/backup"
	"github.com/arkproject/ark/pkg/objectstore"
)

// A Velero server's tarball (Velero's published "output file format")
// differs from Ark's in three ways, and is read with every check Ark's
// own gets:
//
//   - metadata/version holds "1" (Velero 1.0 to 1.3) or a semantic version
//     of major 1 ("1.1.0", from Velero 1.4);
//   - from format 1.1, each resource folder may also hold a folder per
//     version of its API group: resources/<resource>/<version>/namespaces/
//     <ns>/<name>.json (and .../cluster/<name>.json), the group's preferred
//     version suffixed "-preferredversion", beside the classic folders;
//   - there is no manifest: nothing says what the tarball's checksum was.
//
// A resource with a preferred-version folder is restored from it (the
// classic copies are what Velero keeps for older Velero servers); other
// versions are checked and skipped, as Velero itself restores the
// preferred version unless told otherwise.

// veleroVariant says which copy of an item a tar entry is.
type veleroVariant uint8

const (
	// veleroClassic is an item of the classic layout (and every item of
	// an Ark tarball).
	veleroClassic veleroVariant = iota
	// veleroPreferred is an item in its group's preferred-version folder.
	veleroPreferred
	// veleroOtherVersion is an item in another version's folder.
	veleroOtherVersion
)

const preferredSuffix = "-preferredversion"

var (
	veleroVersionRE    = regexp.MustCompile(`^1(\.(0|[1-9][0-9]{0,3})){0,2}$`)
	veleroVersionDirRE = regexp.MustCompile(`^v[1-9][0-9]{0,3}((alpha|beta)[1-9][0-9]{0,3})?(` + preferredSuffix + `)?$`)
)

// knownVersion reports whether the tarball's metadata/version is one this
// reader knows.
func (x *extractor) knownVersion(v string) bool {
	if x.velero {
		return veleroVersionRE.MatchString(v)
	}
	return v == strconv.Itoa(backup.FormatVersion)
}

// veleroVersionDir reports whether a path segment is the folder of an API
// version ("v1", "v2beta1", "v1-preferredversion"). No resource folder
// holds a version's name but as one: the classic layout's folders there
// are "namespaces" and "cluster".
func veleroVersionDir(seg string) bool { return veleroVersionDirRE.MatchString(seg) }

// parseVeleroItemPath parses an item file of a Velero tarball, of either
// layout, or says why it is not one.
func parseVeleroItemPath(name string) (Item, string) {
	segs := strings.Split(name, "/")
	variant := veleroClassic
	if len(segs) >= 3 && segs[0] == "resources" && veleroVersionDir(segs[2]) {
		variant = veleroOtherVersion
		if strings.HasSuffix(segs[2], preferredSuffix) {
			variant = veleroPreferred
		}
		segs = append(segs[:2:2], segs[3:]...)
	}
	it, msg := parseItemPath(strings.Join(segs, "/"))
	if msg != "" {
		return Item{}, fmt.Sprintf("tar entry %q is not resources/<resource>[/<version>]/namespaces/<namespace>/<name>.json or resources/<resource>[/<version>]/cluster/<name>.json", name)
	}
	it.variant = variant
	return it, ""
}

// checkVersionDir returns how an item filed under a version's folder
// disagrees with it (its apiVersion is of another version), or "".
func checkVersionDir(name string, it Item, data []byte) string {
	dir := strings.TrimSuffix(strings.Split(name, "/")[2], preferredSuffix)
	head, msg := readHead(data)
	if msg != "" {
		return fmt.Sprintf("tar entry %q: %s", name, msg)
	}
	_, version, found := strings.Cut(head.apiVersion, "/")
	if !found {
		version = head.apiVersion
	}
	if version != dir {
		return fmt.Sprintf("tar entry %q holds apiVersion %q, but its path's version is %q", name, head.apiVersion, dir)
	}
	return ""
}

// preferredCopies keeps one copy of each item of a Velero tarball: that of
// its group's preferred version where the resource has that folder, else
// the classic one.
func preferredCopies(items []Item) []Item {
	preferred := map[string]bool{}
	for _, it := range items {
		if it.variant == veleroPreferred {
			preferred[it.Resource] = true
		}
	}
	if len(preferred) == 0 {
		return items
	}
	out := items[:0]
	for _, it := range items {
		if it.variant == veleroPreferred || !preferred[it.Resource] {
			out = append(out, it)
		}
	}
	return out
}

// downloadUnverified streams a tarball that has no manifest into a
// temporary file in the directory (or into memory, within the memory
// budget), bounded by the limit on its size, and returns it rewound.
func (x *extractor) downloadUnverified(ctx context.Context, store objectstore.Store) (io.Reader, error) {
	key, file := x.ref.TarballKey(), x.tarballName()
	r, attrs, err := store.NewReader(ctx, key)
	if err != nil {
		if errors.Is(err, objectstore.ErrNotFound) {
			return nil, x.corrupt(err, "its tarball is missing")
		}
		return nil, fmt.Errorf("downloading backup %q: %w", x.backup, err)
	}
	defer r.Close()
	if attrs.Size > x.limits.MaxTotalSize {
		return nil, x.corrupt(nil, "%s is %d bytes, more than the limit of %d", file, attrs.Size, x.limits.MaxTotalSize)
	}
	var dst io.Writer
	var buf *bytes.Buffer
	var f *os.File
	if x.inMemory && attrs.Size <= x.limits.MemoryBudget {
		buf = bytes.NewBuffer(make([]byte, 0, attrs.Size+1))
		dst = buf
	} else {
		x.wroteTemp = true
		if f, err = x.root.OpenFile(tempName, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600); err != nil {
			return nil, fmt.Errorf("downloading backup %q: %w", x.backup, err)
		}
		dst = f
	}
	fail := func(err error) (io.Reader, error) {
		if f != nil {
			f.Close()
		}
		return nil, err
	}
	n, err := io.Copy(dst, io.LimitReader(ctxReader{ctx, r}, x.limits.MaxTotalSize+1))
	switch {
	case err != nil:
		return fail(fmt.Errorf("downloading backup %q: %s: %w", x.backup, key, err))
	case n > x.limits.MaxTotalSize:
		return fail(x.corrupt(nil, "%s is more than the limit of %d bytes", file, x.limits.MaxTotalSize))
	case n != attrs.Size:
		return fail(x.corrupt(nil, "%s changed while it was read (%d bytes, %d listed)", file, n, attrs.Size))
	}
	if buf != nil {
		return bytes.NewReader(buf.Bytes()), nil
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return fail(fmt.Errorf("extracting backup %q: %w", x.backup, err))
	}
	return f, nil
}
