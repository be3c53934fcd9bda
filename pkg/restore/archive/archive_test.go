package archive

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/arkproject/ark/pkg/backupstore"
	"github.com/arkproject/ark/pkg/objectstore"
)

const name = "b1"

// entry is one tar entry to write; typ defaults to a regular file.
type entry struct {
	name string
	body string
	typ  byte
	link string
	pax  map[string]string
}

func reg(name, body string) entry { return entry{name: name, body: body} }

// object is an item's content: an object with this apiVersion, name and
// namespace ("" leaves metadata.namespace out), and more top-level fields.
func object(apiVersion, ns, name, more string) string {
	meta := fmt.Sprintf(`"name":%q`, name)
	if ns != "" {
		meta += fmt.Sprintf(`,"namespace":%q`, ns)
	}
	if more != "" {
		more = "," + more
	}
	return fmt.Sprintf(`{"apiVersion":%q,"kind":"Thing","metadata":{%s}%s}`, apiVersion, meta, more)
}

// itemBody is the content that agrees with an item file's path, with more
// top-level fields.
func itemBody(path, more string) string {
	it, msg := parseItemPath(path)
	if msg != "" {
		panic(msg)
	}
	apiVersion := "v1"
	if _, group, ok := strings.Cut(it.Resource, "."); ok {
		apiVersion = group + "/v1"
	}
	return object(apiVersion, it.Namespace, it.Name, more)
}

// item is an item file whose content agrees with its path.
func item(path string) entry { return reg(path, itemBody(path, "")) }

var (
	version = reg("metadata/version", "1")
	podA    = item("resources/pods/namespaces/a/p.json")
	nsA     = item("resources/namespaces/cluster/a.json")
)

// base is a valid archive's entries; hostile cases append to it, so that
// their bad entry comes after items that were already extracted.
func base(more ...entry) []entry { return append([]entry{version, podA, nsA}, more...) }

// tarBytes writes entries as Ark does (PAX, mode 0644), with the
// end-of-archive marker.
func tarBytes(t testing.TB, entries []entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	mod := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, e := range entries {
		typ := e.typ
		if typ == 0 {
			typ = tar.TypeReg
		}
		hdr := &tar.Header{Name: e.name, Mode: 0o644, ModTime: mod, Typeflag: typ, Linkname: e.link, Format: tar.FormatPAX, PAXRecords: e.pax}
		if typ == tar.TypeXGlobalHeader {
			hdr = &tar.Header{Typeflag: typ, PAXRecords: e.pax}
		}
		if typ == tar.TypeReg {
			hdr.Size = int64(len(e.body))
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatalf("writing header %q: %v", e.name, err)
		}
		if hdr.Size > 0 {
			if _, err := tw.Write([]byte(e.body)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func gz(t testing.TB, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func tgz(t testing.TB, entries ...entry) []byte { return gz(t, tarBytes(t, entries)) }

func newStore(t testing.TB) objectstore.Store {
	t.Helper()
	s, err := objectstore.NewFileStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func put(t testing.TB, s objectstore.Store, key string, data []byte) {
	t.Helper()
	if _, err := objectstore.PutBytes(context.Background(), s, key, data, objectstore.Conditions{}); err != nil {
		t.Fatal(err)
	}
}

func manifestFor(data []byte) backupstore.Manifest {
	sum := sha256.Sum256(data)
	return backupstore.Manifest{Version: 1, Files: map[string]backupstore.ManifestEntry{
		name + ".tar.gz":                {SHA256: hex.EncodeToString(sum[:]), Size: int64(len(data))},
		name + "-resource-list.json.gz": {SHA256: strings.Repeat("ab", 32), Size: 10},
	}}
}

func putManifest(t testing.TB, s objectstore.Store, m backupstore.Manifest) {
	t.Helper()
	data, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	put(t, s, backupstore.Home(name).ManifestKey(), data)
}

// putBackup stores a tarball and its matching manifest.
func putBackup(t testing.TB, s objectstore.Store, tarball []byte) {
	t.Helper()
	put(t, s, backupstore.Home(name).TarballKey(), tarball)
	putManifest(t, s, manifestFor(tarball))
}

// archiveCase stores the given tarball bytes with a matching manifest.
func archiveCase(build func(t testing.TB) []byte) func(testing.TB, objectstore.Store) {
	return func(t testing.TB, s objectstore.Store) { putBackup(t, s, build(t)) }
}

// entriesCase stores a tarball of the entries with a matching manifest.
func entriesCase(entries ...entry) func(testing.TB, objectstore.Store) {
	return archiveCase(func(t testing.TB) []byte { return tgz(t, entries...) })
}

func assertEmpty(t *testing.T, dir string) {
	t.Helper()
	names, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(names) != 0 {
		var got []string
		_ = filepath.WalkDir(dir, func(p string, _ os.DirEntry, _ error) error {
			got = append(got, p)
			return nil
		})
		t.Errorf("dir is not empty after a failed Extract: %v", got)
	}
}

func TestExtractRejects(t *testing.T) {
	big := func(path string) entry { return reg(path, itemBody(path, `"x":"`+strings.Repeat("y", 200)+`"`)) }
	many := func(n int) []entry {
		es := []entry{version}
		for i := range n {
			es = append(es, item(fmt.Sprintf("resources/pods/namespaces/a/p%d.json", i)))
		}
		return es
	}
	good := func(t testing.TB) []byte { return tgz(t, base()...) }

	cases := []struct {
		name     string
		setup    func(testing.TB, objectstore.Store)
		limits   Limits
		want     string
		notFound bool // errors.Is(err, objectstore.ErrNotFound)
	}{
		// Paths.
		{name: "traversal", setup: entriesCase(base(reg("../x", "{}"))...), want: `tar entry "../x" escapes the archive`},
		{name: "nested traversal", setup: entriesCase(base(reg("a/../../x", "{}"))...), want: `tar entry "a/../../x" escapes the archive`},
		{name: "traversal to passwd", setup: entriesCase(base(reg("../../etc/passwd", "{}"))...), want: `tar entry "../../etc/passwd" escapes the archive`},
		{name: "traversal inside resources", setup: entriesCase(base(reg("resources/pods/namespaces/../../../../x.json", "{}"))...), want: "escapes the archive"},
		{name: "absolute path", setup: entriesCase(base(reg("/etc/passwd", "{}"))...), want: `tar entry "/etc/passwd" is an absolute path`},
		{name: "backslash", setup: entriesCase(base(reg(`resources\pods\cluster\x.json`, "{}"))...), want: `contains a backslash`},
		{name: "empty segment", setup: entriesCase(base(reg("resources//pods/cluster/x.json", "{}"))...), want: `has an empty or "." path segment`},
		{name: "dot segment", setup: entriesCase(base(reg("./resources/pods/cluster/x.json", "{}"))...), want: `has an empty or "." path segment`},
		{name: "traversal directory", setup: entriesCase(base(entry{name: "resources/../../", typ: tar.TypeDir})...), want: "escapes the archive"},
		{name: "unexpected directory", setup: entriesCase(base(entry{name: "etc/", typ: tar.TypeDir})...), want: `unexpected tar directory "etc/"`},

		// Entry types.
		{name: "symlink", setup: entriesCase(base(entry{name: "resources/pods/cluster/x.json", typ: tar.TypeSymlink, link: "/etc/passwd"})...), want: `tar entry "resources/pods/cluster/x.json" is a symbolic link`},
		{name: "symlink first", setup: entriesCase(entry{name: "resources", typ: tar.TypeSymlink, link: "/"}, version, podA), want: `tar entry "resources" is a symbolic link`},
		{name: "hardlink", setup: entriesCase(base(entry{name: "resources/pods/cluster/x.json", typ: tar.TypeLink, link: "resources/pods/namespaces/a/p.json"})...), want: "is a hard link"},
		{name: "char device", setup: entriesCase(base(entry{name: "resources/pods/cluster/x.json", typ: tar.TypeChar})...), want: "is a character device"},
		{name: "block device", setup: entriesCase(base(entry{name: "resources/pods/cluster/x.json", typ: tar.TypeBlock})...), want: "is a block device"},
		{name: "fifo", setup: entriesCase(base(entry{name: "resources/pods/cluster/x.json", typ: tar.TypeFifo})...), want: "is a FIFO"},
		{name: "global header", setup: entriesCase(base(entry{name: "pax_global_header", typ: tar.TypeXGlobalHeader, pax: map[string]string{"comment": "x"}})...), want: "has unsupported type"},
		{name: "duplicate entry", setup: entriesCase(base(podA)...), want: `duplicate tar entry "resources/pods/namespaces/a/p.json"`},
		{name: "duplicate version", setup: entriesCase(base(version)...), want: `duplicate tar entry "metadata/version"`},

		// Limits.
		{name: "oversized entry", setup: entriesCase(base(big("resources/pods/cluster/big.json"))...), limits: Limits{MaxEntrySize: 100}, want: `tar entry "resources/pods/cluster/big.json" is larger than 100 bytes`},
		{name: "too many entries", setup: entriesCase(many(5)...), limits: Limits{MaxEntries: 4}, want: "the archive has more than 4 entries"},
		{name: "total too large", setup: entriesCase(version, big("resources/pods/cluster/a.json"), big("resources/pods/cluster/b.json"), big("resources/pods/cluster/c.json")), limits: Limits{MaxTotalSize: 600}, want: "the archive's entries hold more than 600 bytes"},
		{name: "compressed tarball too large", setup: archiveCase(good), limits: Limits{MaxTotalSize: 50}, want: "more than the limit of 50"},
		{name: "huge tar header", setup: entriesCase(base(entry{name: "resources/pods/cluster/x.json", body: "{}", pax: map[string]string{"comment": strings.Repeat("z", 100<<10)}})...), want: "a tar header (with its padding) is larger than"},

		// Streams.
		{name: "not gzip", setup: archiveCase(func(t testing.TB) []byte { return tarBytes(t, base()) }), want: "b1.tar.gz is not a gzip stream"},
		{name: "empty tarball", setup: archiveCase(func(testing.TB) []byte { return nil }), want: "b1.tar.gz is not a gzip stream"},
		{name: "truncated gzip", setup: archiveCase(func(t testing.TB) []byte { b := good(t); return b[:len(b)/2] }), want: "the archive is truncated"},
		{name: "gzip without trailer", setup: archiveCase(func(t testing.TB) []byte { b := good(t); return b[:len(b)-4] }), want: "the archive is truncated"},
		{name: "gzip checksum", setup: archiveCase(func(t testing.TB) []byte {
			b := bytes.Clone(good(t))
			b[len(b)-8] ^= 0xff // the CRC-32 of the trailer
			return b
		}), want: "the gzip stream is damaged"},
		{name: "truncated tar", setup: archiveCase(func(t testing.TB) []byte {
			b := tarBytes(t, base())
			return gz(t, b[:len(b)-1024-600])
		}), want: "the archive is truncated"},
		{name: "tar without end marker", setup: archiveCase(func(t testing.TB) []byte {
			b := tarBytes(t, base())
			return gz(t, b[:len(b)-1024])
		}), want: "the archive is truncated (no end-of-archive marker)"},
		{name: "tar with half an end marker", setup: archiveCase(func(t testing.TB) []byte {
			b := tarBytes(t, base())
			return gz(t, b[:len(b)-512])
		}), want: "the archive is truncated (no end-of-archive marker)"},
		{name: "garbage after tar", setup: archiveCase(func(t testing.TB) []byte {
			return gz(t, append(tarBytes(t, base()), "garbage"...))
		}), want: "trailing garbage after the end of the tar archive"},
		{name: "too much padding after tar", setup: archiveCase(func(t testing.TB) []byte {
			return gz(t, append(tarBytes(t, base()), make([]byte, 2<<20)...))
		}), want: "more than 1048576 bytes follow the end of the tar archive"},
		{name: "garbage after gzip", setup: archiveCase(func(t testing.TB) []byte {
			return append(good(t), "garbage"...)
		}), want: "trailing garbage after the gzip stream"},
		{name: "one byte after gzip", setup: archiveCase(func(t testing.TB) []byte {
			return append(good(t), 0x1f)
		}), want: "trailing garbage after the gzip stream"},
		{name: "zeros after gzip", setup: archiveCase(func(t testing.TB) []byte {
			return append(good(t), make([]byte, 100)...)
		}), want: "trailing garbage after the gzip stream"},
		{name: "truncated second gzip member", setup: archiveCase(func(t testing.TB) []byte {
			return append(good(t), 0x1f, 0x8b, 8)
		}), want: "the archive is truncated"},
		{name: "damaged second gzip member", setup: archiveCase(func(t testing.TB) []byte {
			return append(good(t), 0x1f, 0x8b, 99, 0, 0, 0, 0, 0, 0, 0, 0, 0)
		}), want: "the gzip stream is damaged"},
		{name: "tar data in a second gzip member", setup: archiveCase(func(t testing.TB) []byte {
			return append(good(t), tgz(t, podA)...)
		}), want: "trailing garbage after the end of the tar archive"},
		{name: "garbage tar header", setup: archiveCase(func(t testing.TB) []byte {
			return gz(t, append(tarBytes(t, base())[:0:0], bytes.Repeat([]byte("x"), 2048)...))
		}), want: "invalid tar header"},

		// Manifest and download.
		{name: "checksum mismatch", setup: func(t testing.TB, s objectstore.Store) {
			b := good(t)
			put(t, s, backupstore.Home(name).TarballKey(), b)
			m := manifestFor(b)
			e := m.Files[name+".tar.gz"]
			e.SHA256 = strings.Repeat("0", 64)
			m.Files[name+".tar.gz"] = e
			putManifest(t, s, m)
		}, want: `backup "b1" is corrupt: checksum of b1.tar.gz does not match its manifest`},
		{name: "tampered tarball", setup: func(t testing.TB, s objectstore.Store) {
			b := good(t)
			putManifest(t, s, manifestFor(b))
			b = bytes.Clone(b)
			b[len(b)/2] ^= 1
			put(t, s, backupstore.Home(name).TarballKey(), b)
		}, want: "checksum of b1.tar.gz does not match its manifest"},
		{name: "size mismatch", setup: func(t testing.TB, s objectstore.Store) {
			b := good(t)
			put(t, s, backupstore.Home(name).TarballKey(), b)
			m := manifestFor(b)
			e := m.Files[name+".tar.gz"]
			e.Size++
			m.Files[name+".tar.gz"] = e
			putManifest(t, s, m)
		}, want: "size of b1.tar.gz does not match its manifest"},
		{name: "manifest missing", setup: func(t testing.TB, s objectstore.Store) {
			put(t, s, backupstore.Home(name).TarballKey(), good(t))
		}, want: `backup "b1" is corrupt: its manifest is missing`, notFound: true},
		{name: "manifest malformed", setup: func(t testing.TB, s objectstore.Store) {
			put(t, s, backupstore.Home(name).TarballKey(), good(t))
			put(t, s, backupstore.Home(name).ManifestKey(), []byte(`{"version":1,"files":{`))
		}, want: "is malformed"},
		{name: "manifest wrong types", setup: func(t testing.TB, s objectstore.Store) {
			put(t, s, backupstore.Home(name).TarballKey(), good(t))
			put(t, s, backupstore.Home(name).ManifestKey(), []byte(`{"version":1,"files":{"b1.tar.gz":{"sha256":1,"size":"x"}}}`))
		}, want: "is malformed"},
		{name: "manifest too large", setup: func(t testing.TB, s objectstore.Store) {
			put(t, s, backupstore.Home(name).TarballKey(), good(t))
			put(t, s, backupstore.Home(name).ManifestKey(), bytes.Repeat([]byte(" "), backupstore.MaxManifestSize+1))
		}, want: "is larger than"},
		{name: "manifest version", setup: func(t testing.TB, s objectstore.Store) {
			b := good(t)
			put(t, s, backupstore.Home(name).TarballKey(), b)
			m := manifestFor(b)
			m.Version = 2
			putManifest(t, s, m)
		}, want: "has unsupported version 2"},
		{name: "manifest without tarball", setup: func(t testing.TB, s objectstore.Store) {
			b := good(t)
			put(t, s, backupstore.Home(name).TarballKey(), b)
			m := manifestFor(b)
			delete(m.Files, name+".tar.gz")
			putManifest(t, s, m)
		}, want: "does not list b1.tar.gz"},
		{name: "manifest bad sha", setup: func(t testing.TB, s objectstore.Store) {
			b := good(t)
			put(t, s, backupstore.Home(name).TarballKey(), b)
			m := manifestFor(b)
			e := m.Files[name+".tar.gz"]
			e.SHA256 = "xyz"
			m.Files[name+".tar.gz"] = e
			putManifest(t, s, m)
		}, want: "invalid SHA-256"},
		{name: "tarball missing", setup: func(t testing.TB, s objectstore.Store) {
			putManifest(t, s, manifestFor(good(t)))
		}, want: `backup "b1" is corrupt: its tarball is missing`, notFound: true},

		// Content.
		{name: "missing version", setup: entriesCase(podA, nsA), want: "missing metadata/version"},
		{name: "version 2", setup: entriesCase(reg("metadata/version", "2"), podA), want: `unsupported backup format version "2"`},
		{name: "version 1.1.0", setup: entriesCase(reg("metadata/version", "1.1.0"), podA), want: `unsupported backup format version "1.1.0"`},
		{name: "huge version", setup: entriesCase(reg("metadata/version", strings.Repeat("1", 1000)), podA), want: `unsupported backup format version (metadata/version holds 1000 bytes)`},
		{name: "unexpected top-level file", setup: entriesCase(base(reg("foo.txt", "hi"))...), want: `unexpected tar entry "foo.txt"`},
		{name: "unexpected metadata file", setup: entriesCase(base(reg("metadata/other", "hi"))...), want: `unexpected tar entry "metadata/other"`},
		{name: "item not JSON", setup: entriesCase(base(reg("resources/pods/cluster/x.json", "not json"))...), want: `tar entry "resources/pods/cluster/x.json" is not valid JSON`},
		{name: "item two JSON values", setup: entriesCase(base(reg("resources/pods/cluster/x.json", "{} {}"))...), want: "is not valid JSON"},
		{name: "item empty", setup: entriesCase(base(reg("resources/pods/cluster/x.json", ""))...), want: "is not valid JSON"},
		{name: "item JSON array", setup: entriesCase(base(reg("resources/pods/cluster/x.json", ` [{"a":1}]`))...), want: `tar entry "resources/pods/cluster/x.json" is not a JSON object`},
		{name: "item JSON string", setup: entriesCase(base(reg("resources/pods/cluster/x.json", `"{}"`))...), want: "is not a JSON object"},
		{name: "bad layout", setup: entriesCase(base(reg("resources/pods/x.json", "{}"))...), want: `tar entry "resources/pods/x.json" is not resources/<resource>/namespaces/<namespace>/<name>.json`},
		{name: "too deep", setup: entriesCase(base(reg("resources/pods/namespaces/a/b/x.json", "{}"))...), want: "is not resources/<resource>/namespaces"},
		{name: "cluster in namespaces slot", setup: entriesCase(base(reg("resources/pods/cluster/a/x.json", "{}"))...), want: "is not resources/<resource>/namespaces"},
		{name: "not .json", setup: entriesCase(base(reg("resources/pods/cluster/x.yaml", "{}"))...), want: `tar entry "resources/pods/cluster/x.yaml" is not a .json file`},
		{name: "empty name", setup: entriesCase(base(reg("resources/pods/cluster/.json", "{}"))...), want: "has an invalid object name"},

		// Path vs content.
		{name: "name mismatch", setup: entriesCase(base(reg("resources/configmaps/namespaces/a/x.json", object("v1", "a", "y", "")))...),
			want: `tar entry "resources/configmaps/namespaces/a/x.json" holds name "y", but its path says "x"`},
		{name: "name missing", setup: entriesCase(base(reg("resources/configmaps/namespaces/a/x.json", `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"namespace":"a"}}`))...),
			want: `tar entry "resources/configmaps/namespaces/a/x.json" holds name "", but its path says "x"`},
		{name: "no metadata", setup: entriesCase(base(reg("resources/configmaps/namespaces/a/x.json", `{"apiVersion":"v1","kind":"ConfigMap"}`))...),
			want: `holds name "", but its path says "x"`},
		{name: "namespace mismatch", setup: entriesCase(base(reg("resources/configmaps/namespaces/a/x.json", object("v1", "b", "x", "")))...),
			want: `tar entry "resources/configmaps/namespaces/a/x.json" holds namespace "b", but its path says "a"`},
		{name: "cluster-scoped object under a namespace", setup: entriesCase(base(reg("resources/clusterrolebindings.rbac.authorization.k8s.io/namespaces/a/pwn.json", object("rbac.authorization.k8s.io/v1", "", "pwn", "")))...),
			want: `tar entry "resources/clusterrolebindings.rbac.authorization.k8s.io/namespaces/a/pwn.json" holds a cluster-scoped object (no namespace), but its path is in namespace "a"`},
		{name: "namespaced object as cluster-scoped", setup: entriesCase(base(reg("resources/configmaps/cluster/x.json", object("v1", "a", "x", "")))...),
			want: `tar entry "resources/configmaps/cluster/x.json" holds namespace "a", but its path is cluster-scoped`},
		{name: "core group in a group's path", setup: entriesCase(base(reg("resources/deployments.apps/namespaces/a/web.json", object("v1", "a", "web", "")))...),
			want: `tar entry "resources/deployments.apps/namespaces/a/web.json" holds apiVersion "v1", in the core group, but its path's resource "deployments.apps" is in group "apps"`},
		{name: "group in a core path", setup: entriesCase(base(reg("resources/pods/namespaces/a/p2.json", object("apps/v1", "a", "p2", "")))...),
			want: `tar entry "resources/pods/namespaces/a/p2.json" holds apiVersion "apps/v1", in group "apps", but its path's resource "pods" is in the core group`},
		{name: "other group", setup: entriesCase(base(reg("resources/roles.rbac.authorization.k8s.io/namespaces/a/r.json", object("rbac.example.com/v1", "a", "r", "")))...),
			want: `holds apiVersion "rbac.example.com/v1", in group "rbac.example.com", but its path's resource "roles.rbac.authorization.k8s.io" is in group "rbac.authorization.k8s.io"`},
		{name: "group of a longer group", setup: entriesCase(base(reg("resources/ingresses.networking.k8s.io/namespaces/a/i.json", object("k8s.io/v1", "a", "i", "")))...),
			want: `but its path's resource "ingresses.networking.k8s.io" is in group "networking.k8s.io"`},
		{name: "no apiVersion", setup: entriesCase(base(reg("resources/pods/namespaces/a/p2.json", `{"kind":"Pod","metadata":{"name":"p2","namespace":"a"}}`))...),
			want: `tar entry "resources/pods/namespaces/a/p2.json" has no apiVersion`},
		{name: "apiVersion without version", setup: entriesCase(base(reg("resources/deployments.apps/namespaces/a/web.json", object("apps/", "a", "web", "")))...),
			want: `has an invalid apiVersion "apps/"`},
		{name: "apiVersion without group", setup: entriesCase(base(reg("resources/pods/namespaces/a/p2.json", object("/v1", "a", "p2", "")))...),
			want: `has an invalid apiVersion "/v1"`},
		{name: "apiVersion with two slashes", setup: entriesCase(base(reg("resources/deployments.apps/namespaces/a/web.json", object("apps/v1/x", "a", "web", "")))...),
			want: `has an invalid apiVersion "apps/v1/x"`},
		{name: "no kind", setup: entriesCase(base(reg("resources/pods/namespaces/a/p2.json", `{"apiVersion":"v1","metadata":{"name":"p2","namespace":"a"}}`))...),
			want: `tar entry "resources/pods/namespaces/a/p2.json" has no kind`},
		{name: "name not a string", setup: entriesCase(base(reg("resources/pods/cluster/1.json", `{"apiVersion":"v1","kind":"Pod","metadata":{"name":1}}`))...),
			want: `tar entry "resources/pods/cluster/1.json": metadata.name is not a string`},
		{name: "metadata not an object", setup: entriesCase(base(reg("resources/pods/cluster/x.json", `{"apiVersion":"v1","kind":"Pod","metadata":"x"}`))...),
			want: `tar entry "resources/pods/cluster/x.json": metadata is not an object`},
		// Decoders that disagree with the restorer's (maps: exact keys, the
		// last of repeated keys wins) must not be fooled.
		{name: "name in another case", setup: entriesCase(base(reg("resources/pods/cluster/x.json", `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"y","NAME":"x"}}`))...),
			want: `holds name "y", but its path says "x"`},
		{name: "repeated name", setup: entriesCase(base(reg("resources/pods/cluster/x.json", `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"x","name":"y"}}`))...),
			want: `holds name "y", but its path says "x"`},
		{name: "repeated metadata", setup: entriesCase(base(reg("resources/configmaps/namespaces/a/x.json", `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x","namespace":"a"},"metadata":{"namespace":"kube-system"}}`))...),
			want: `holds name "", but its path says "x"`},
	}
	// Every hostile input is refused whether the items are unpacked to disk,
	// kept in memory, or spill from memory to disk part way.
	budgets := []struct {
		name   string
		budget int64
	}{{"disk", 0}, {"memory", 64 << 20}, {"spill", 100}}
	for _, tc := range cases {
		for _, b := range budgets {
			t.Run(tc.name+"/"+b.name, func(t *testing.T) {
				s := newStore(t)
				tc.setup(t, s)
				dir := t.TempDir()
				limits := tc.limits
				limits.MemoryBudget = b.budget
				idx, err := Extract(context.Background(), s, backupstore.Home(name), dir, limits)
				if err == nil {
					t.Fatalf("Extract succeeded with %d items, want an error containing %q", len(idx.Items), tc.want)
				}
				if !strings.Contains(err.Error(), tc.want) {
					t.Errorf("Extract error = %q, want it to contain %q", err, tc.want)
				}
				if !errors.Is(err, ErrCorrupt) {
					t.Errorf("errors.Is(%q, ErrCorrupt) = false", err)
				}
				if got := errors.Is(err, objectstore.ErrNotFound); got != tc.notFound {
					t.Errorf("errors.Is(%q, objectstore.ErrNotFound) = %v, want %v", err, got, tc.notFound)
				}
				assertEmpty(t, dir)
			})
		}
	}
}

// TestExtractMemoryBudget checks that items are kept in memory within the
// budget (no file written, not even the download), spill to files past it,
// and read back the same on every path.
func TestExtractMemoryBudget(t *testing.T) {
	const n = 200
	entries := []entry{version}
	var itemsSize int64
	for i := range n {
		e := item(fmt.Sprintf("resources/configmaps/namespaces/ns-%d/cm-%d.json", i%7, i))
		itemsSize += int64(len(e.body))
		entries = append(entries, e)
	}
	s := newStore(t)
	putBackup(t, s, tgz(t, entries...))
	contents := func(t *testing.T, idx *Index) []string {
		t.Helper()
		var out []string
		for _, it := range idx.Items {
			data, err := it.Content()
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, string(data))
		}
		return out
	}
	var want []string
	for _, e := range entries[1:] {
		want = append(want, e.body)
	}
	for _, tc := range []struct {
		name     string
		budget   int64
		inMemory bool
	}{
		{"disk", 0, false},
		{"negative", -1, false},
		{"exactly the items", itemsSize, true},
		{"large", 64 << 20, true},
		{"one byte short", itemsSize - 1, false},
		{"half", itemsSize / 2, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			idx, err := Extract(context.Background(), s, backupstore.Home(name), dir, Limits{MemoryBudget: tc.budget})
			if err != nil {
				t.Fatal(err)
			}
			if len(idx.Items) != n {
				t.Fatalf("got %d items, want %d", len(idx.Items), n)
			}
			for i, it := range idx.Items {
				if it.InMemory() != tc.inMemory {
					t.Fatalf("item %d InMemory = %v, want %v", i, it.InMemory(), tc.inMemory)
				}
				wantItem := Item{Resource: "configmaps", Namespace: fmt.Sprintf("ns-%d", i%7), Name: fmt.Sprintf("cm-%d", i)}
				if got := (Item{Resource: it.Resource, Namespace: it.Namespace, Name: it.Name}); got != wantItem {
					t.Fatalf("item %d = %+v, want %+v", i, got, wantItem)
				}
			}
			if got := contents(t, idx); !slices.Equal(got, want) {
				t.Errorf("contents differ from the tarball's")
			}
			names, err := os.ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			if tc.inMemory && len(names) != 0 {
				t.Errorf("in memory, dir holds %v, want nothing", names)
			}
			if !tc.inMemory && (len(names) != 1 || names[0].Name() != spoolName) {
				t.Errorf("on disk, dir holds %v, want only %s", names, spoolName)
			}
			if err := idx.Close(); err != nil {
				t.Fatal(err)
			}
			if !tc.inMemory {
				if _, err := idx.Items[0].Content(); err == nil {
					t.Errorf("an item was read from its spool after the index was closed")
				}
			}
		})
	}
}

// readItems returns the items' contents by the name of their tar entry.
func readItems(t *testing.T, idx *Index) map[string]string {
	t.Helper()
	got := map[string]string{}
	for _, it := range idx.Items {
		data, err := it.Content()
		if err != nil {
			t.Fatal(err)
		}
		got[entryName(it)] = string(data)
	}
	return got
}

// entryName is the name of the tar entry an item was extracted from.
func entryName(it Item) string {
	if it.Namespace == "" {
		return "resources/" + it.Resource + "/cluster/" + it.Name + ".json"
	}
	return "resources/" + it.Resource + "/namespaces/" + it.Namespace + "/" + it.Name + ".json"
}

// fields is an item without where its content is held.
func fields(it Item) Item { return Item{Resource: it.Resource, Namespace: it.Namespace, Name: it.Name} }

func TestExtract(t *testing.T) {
	entries := []entry{
		version,
		{name: "resources/", typ: tar.TypeDir},
		{name: "resources/pods/", typ: tar.TypeDir},
		{name: "resources/pods/namespaces/", typ: tar.TypeDir},
		{name: "resources/pods/namespaces/a/", typ: tar.TypeDir},
		podA,
		item("resources/pods/namespaces/b/p.json"),
		item("resources/deployments.apps/namespaces/a/web.json"),
		nsA,
		item("resources/namespaces/cluster/b.json"),
		item("resources/clusterroles.rbac.authorization.k8s.io/cluster/system:controller:x.json"),
		reg("resources/configmaps/namespaces/a/cm.json", " \n{\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\", \"metadata\": {\"namespace\": \"a\", \"name\": \"cm\"}, \"data\": {\"k\": \"v\"}}\n"),
	}
	s := newStore(t)
	// Pad the tar stream to a 10 KiB record, as GNU tar does.
	data := tarBytes(t, entries)
	data = append(data, make([]byte, 10240-len(data)%10240)...)
	putBackup(t, s, gz(t, data))
	dir := t.TempDir()
	idx, err := Extract(context.Background(), s, backupstore.Home(name), dir, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if idx.Version != "1" {
		t.Errorf("Version = %q, want 1", idx.Version)
	}
	want := []Item{
		{Resource: "pods", Namespace: "a", Name: "p"},
		{Resource: "pods", Namespace: "b", Name: "p"},
		{Resource: "deployments.apps", Namespace: "a", Name: "web"},
		{Resource: "namespaces", Name: "a"},
		{Resource: "namespaces", Name: "b"},
		{Resource: "clusterroles.rbac.authorization.k8s.io", Name: "system:controller:x"},
		{Resource: "configmaps", Namespace: "a", Name: "cm"},
	}
	bodies := map[string]string{}
	for _, e := range entries {
		if e.typ == 0 && strings.HasPrefix(e.name, "resources/") {
			bodies[e.name] = e.body
		}
	}
	if len(idx.Items) != len(want) {
		t.Fatalf("got %d items, want %d: %+v", len(idx.Items), len(want), idx.Items)
	}
	for i, it := range idx.Items {
		if fields(it) != want[i] {
			t.Errorf("item %d = %+v, want %+v", i, fields(it), want[i])
		}
		if it.InMemory() {
			t.Errorf("item %d is in memory with no memory budget", i)
		}
	}
	got := readItems(t, idx)
	for p, body := range bodies {
		if got[p] != body {
			t.Errorf("%s = %q, want %q", p, got[p], body)
		}
	}
	// Only the spool remains: the download is gone.
	names, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(names) != 1 || names[0].Name() != spoolName {
		t.Errorf("dir holds %v, want only %s", names, spoolName)
	}
}

func TestExtractLarge(t *testing.T) {
	const n = 20000
	entries := []entry{version}
	for i := range n {
		entries = append(entries, item(fmt.Sprintf("resources/pods/namespaces/ns-%d/pod-%d.json", i%100, i)))
	}
	s := newStore(t)
	putBackup(t, s, tgz(t, entries...))
	dir := t.TempDir()
	start := time.Now()
	idx, err := Extract(context.Background(), s, backupstore.Home(name), dir, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("extracted %d items in %v", len(idx.Items), time.Since(start))
	if len(idx.Items) != n {
		t.Fatalf("got %d items, want %d", len(idx.Items), n)
	}
	got := readItems(t, idx)
	if len(got) != n {
		t.Fatalf("got %d distinct items, want %d", len(got), n)
	}
	for i, it := range idx.Items {
		e := entries[i+1]
		want := Item{Resource: "pods", Namespace: fmt.Sprintf("ns-%d", i%100), Name: fmt.Sprintf("pod-%d", i)}
		if fields(it) != want {
			t.Fatalf("item %d = %+v, want %+v", i, fields(it), want)
		}
		if got[e.name] != e.body {
			t.Fatalf("%s = %q, want %q", e.name, got[e.name], e.body)
		}
	}
}

func TestExtractMultiMemberGzip(t *testing.T) {
	// A gzip stream may be several members; only the whole must be one tar.
	data := tarBytes(t, base())
	s := newStore(t)
	putBackup(t, s, append(gz(t, data[:700]), gz(t, data[700:])...))
	idx, err := Extract(context.Background(), s, backupstore.Home(name), t.TempDir(), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if len(idx.Items) != 2 {
		t.Errorf("got %d items, want 2", len(idx.Items))
	}
}

func TestExtractDirectory(t *testing.T) {
	s := newStore(t)
	putBackup(t, s, tgz(t, base()...))

	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "mine"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Extract(context.Background(), s, backupstore.Home(name), dir, Limits{})
	if err == nil || !strings.Contains(err.Error(), "is not empty") || errors.Is(err, ErrCorrupt) {
		t.Errorf("Extract into a non-empty dir: err = %v, want a non-corrupt 'is not empty' error", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "mine")); err != nil {
		t.Errorf("the caller's file is gone: %v", err)
	}

	if _, err := Extract(context.Background(), s, backupstore.Home(name), filepath.Join(t.TempDir(), "absent"), Limits{}); err == nil || errors.Is(err, ErrCorrupt) {
		t.Errorf("Extract into a missing dir: err = %v, want a non-corrupt error", err)
	}
	for _, bad := range []string{"", ".", "..", "a/b", `a\b`} {
		if _, err := Extract(context.Background(), s, backupstore.Home(bad), t.TempDir(), Limits{}); err == nil || !strings.Contains(err.Error(), "invalid backup name") {
			t.Errorf("Extract(%q): err = %v, want invalid backup name", bad, err)
		}
	}
}

func TestExtractCanceled(t *testing.T) {
	s := newStore(t)
	putBackup(t, s, tgz(t, base()...))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	dir := t.TempDir()
	_, err := Extract(ctx, s, backupstore.Home(name), dir, Limits{})
	if !errors.Is(err, context.Canceled) || errors.Is(err, ErrCorrupt) {
		t.Errorf("err = %v, want context.Canceled, not ErrCorrupt", err)
	}
	assertEmpty(t, dir)
}

// outageStore fails reads of one key, as a bucket outage does.
type outageStore struct {
	objectstore.Store
	key string
}

var errOutage = errors.New("service unavailable")

func (s outageStore) NewReader(ctx context.Context, key string) (io.ReadCloser, objectstore.ObjectAttrs, error) {
	if key == s.key {
		return nil, objectstore.ObjectAttrs{}, errOutage
	}
	return s.Store.NewReader(ctx, key)
}

func TestExtractOutage(t *testing.T) {
	s := newStore(t)
	putBackup(t, s, tgz(t, base()...))
	for _, key := range []string{backupstore.Home(name).ManifestKey(), backupstore.Home(name).TarballKey()} {
		dir := t.TempDir()
		_, err := Extract(context.Background(), outageStore{s, key}, backupstore.Home(name), dir, Limits{})
		if !errors.Is(err, errOutage) || errors.Is(err, ErrCorrupt) || errors.Is(err, objectstore.ErrNotFound) {
			t.Errorf("outage reading %s: err = %v, want the outage, not ErrCorrupt", key, err)
		}
		assertEmpty(t, dir)
	}
}

// Items whose content agrees with their path are extracted, however their
// JSON spells it, and the restorer (which decodes them as unstructured
// objects) reads the name, namespace and group their path says.
func TestExtractContentAgreesWithPath(t *testing.T) {
	entries := []entry{
		version,
		reg("resources/configmaps/namespaces/a/x.json", object("v1", "a", "x", `"data":{"k":"v"}`)),
		reg("resources/deployments.apps/namespaces/a/web.json", object("apps/v1", "a", "web", "")),
		reg("resources/ingresses.networking.k8s.io/namespaces/a/i.json", object("networking.k8s.io/v1beta1", "a", "i", "")),
		reg("resources/clusterrolebindings.rbac.authorization.k8s.io/cluster/admin.json", object("rbac.authorization.k8s.io/v1", "", "admin", "")),
		// Escapes, a null namespace, a repeated key whose last value agrees,
		// and fields in another case or order.
		reg("resources/pods/namespaces/a/p.json", `{"metadata":{"namespace":"a","name":"\u0070"},"kind":"Pod","apiVersion":"v1"}`),
		reg("resources/namespaces/cluster/a.json", `{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"a","namespace":null,"Namespace":"b"}}`),
		reg("resources/secrets/namespaces/a/s.json", `{"apiVersion":"v1","kind":"Secret","metadata":{"name":"t","namespace":"b"},"metadata":{"name":"s","namespace":"a"}}`),
	}
	s := newStore(t)
	putBackup(t, s, tgz(t, entries...))
	idx, err := Extract(context.Background(), s, backupstore.Home(name), t.TempDir(), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if len(idx.Items) != len(entries)-1 {
		t.Fatalf("got %d items, want %d", len(idx.Items), len(entries)-1)
	}
	for _, it := range idx.Items {
		data, err := it.Content()
		if err != nil {
			t.Fatal(err)
		}
		obj := &unstructured.Unstructured{}
		if err := obj.UnmarshalJSON(data); err != nil {
			t.Fatalf("%s: %v", entryName(it), err)
		}
		group := obj.GroupVersionKind().Group
		if obj.GetName() != it.Name || obj.GetNamespace() != it.Namespace || group != resourceGroup(it.Resource) {
			t.Errorf("%+v: the restorer reads %s/%s in group %q", it, obj.GetNamespace(), obj.GetName(), group)
		}
	}
}

// BenchmarkExtractAndRead measures what a restore does with its backup
// before and while it creates objects, and nothing else: Extract of a
// tarball of 100,000 config maps of 1 KiB each (random hex, so that gzip
// cannot shrink them to nothing) from a file store, with the restore's
// default memory budget (64 MiB, which they outgrow), then reading every
// item's content back once. No API server, no decoding into objects.
func BenchmarkExtractAndRead(b *testing.B) {
	const n = 100000
	entries := []entry{version}
	value := make([]byte, 512)
	for i := range n {
		if _, err := rand.Read(value); err != nil {
			b.Fatal(err)
		}
		p := fmt.Sprintf("resources/configmaps/namespaces/bench/cm-%d.json", i)
		entries = append(entries, reg(p, itemBody(p, fmt.Sprintf(`"data":{"v":%q}`, hex.EncodeToString(value)))))
	}
	s := newStore(b)
	putBackup(b, s, tgz(b, entries...))
	b.ResetTimer()
	var extract, read time.Duration
	for range b.N {
		dir := b.TempDir()
		start := time.Now()
		idx, err := Extract(context.Background(), s, backupstore.Home(name), dir, Limits{MemoryBudget: 64 << 20})
		if err != nil {
			b.Fatal(err)
		}
		extract += time.Since(start)
		start = time.Now()
		for _, it := range idx.Items {
			if _, err := it.Content(); err != nil {
				b.Fatal(err)
			}
		}
		read += time.Since(start)
	}
	b.ReportMetric(extract.Seconds()/float64(b.N), "extract-s/op")
	b.ReportMetric(read.Seconds()/float64(b.N), "read-s/op")
}
