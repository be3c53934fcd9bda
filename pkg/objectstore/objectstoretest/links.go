package objectstoretest

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/arkproject/ark/pkg/objectstore"
)

// The link cases plant symbolic links as an attacker with write access to the
// bucket would, and check that the store never follows one. Their targets lie
// outside the bucket (a TLS key, /etc) or inside it (an alias of another
// object). Whatever is behind a link must be neither served, changed nor
// listed.

const secret = "-----BEGIN PRIVATE KEY----- not for the API"

// writeSecret creates a file outside any bucket that must stay as it is.
func writeSecret(t *testing.T, dir, name string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(secret), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func checkSecret(t *testing.T, p string) {
	t.Helper()
	data, err := os.ReadFile(p)
	if err != nil || string(data) != secret {
		t.Errorf("%s outside the bucket changed: %q, %v", p, data, err)
	}
}

func checkDirEntries(t *testing.T, dir string, want ...string) {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, de := range des {
		got = append(got, de.Name())
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("directory %s outside the bucket holds %q, want %q", dir, got, want)
	}
}

// checkAbsent requires that key reads as a missing object on every read path
// and that Delete refuses it as missing.
func checkAbsent(t *testing.T, s objectstore.Store, key string) {
	t.Helper()
	ctx := context.Background()
	if a, err := s.Attrs(ctx, key); !errors.Is(err, objectstore.ErrNotFound) {
		t.Errorf("Attrs %s: got %+v, %v; want ErrNotFound", key, a, err)
	}
	r, _, err := s.NewReader(ctx, key)
	if r != nil {
		data, _ := io.ReadAll(r)
		r.Close()
		t.Errorf("NewReader %s served %q", key, data)
	}
	if !errors.Is(err, objectstore.ErrNotFound) {
		t.Errorf("NewReader %s: got %v, want ErrNotFound", key, err)
	}
	if data, _, err := objectstore.ReadAll(ctx, s, key, 1<<20); data != nil || !errors.Is(err, objectstore.ErrNotFound) {
		t.Errorf("ReadAll %s: got %q, %v; want ErrNotFound", key, data, err)
	}
	if err := s.Delete(ctx, key, objectstore.Conditions{}); !errors.Is(err, objectstore.ErrNotFound) {
		t.Errorf("Delete %s: got %v, want ErrNotFound", key, err)
	}
}

// listed returns every key and every delimited prefix under prefix.
func listed(t *testing.T, s objectstore.Store, prefix string) (keys, prefixes []string) {
	t.Helper()
	ctx := context.Background()
	if err := objectstore.ListAll(ctx, s, prefix, func(o objectstore.ObjectAttrs) error {
		keys = append(keys, o.Key)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// A listing by name sees what the full listing sees of that name, no
	// more: it takes its own shortcuts through the tree (see the file
	// store's leafByName), which must not follow links either.
	var named, want []string
	if err := objectstore.ListEach(ctx, s, objectstore.ListOptions{Prefix: prefix, Name: "ark-backup.json"}, func(o objectstore.ObjectAttrs) error {
		named = append(named, o.Key)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if k == "ark-backup.json" || strings.HasSuffix(k, "/ark-backup.json") {
			want = append(want, k)
		}
	}
	if !slices.Equal(named, want) {
		t.Errorf("listing by name shows %q, want %q", named, want)
	}
	page, err := s.List(ctx, objectstore.ListOptions{Prefix: prefix, Delimiter: "/"})
	if err != nil {
		t.Fatal(err)
	}
	return keys, page.Prefixes
}

// testLinkToOutsideFile is the reported attack: an object that is a link to
// the server's TLS key.
func testLinkToOutsideFile(t *testing.T, s objectstore.Store, plant func(*testing.T, objectstore.Store, string, string)) {
	ctx := context.Background()
	keyFile := writeSecret(t, t.TempDir(), "tls.key")
	put(t, s, "backups/slink/ark-backup.json", "{}", objectstore.Conditions{})
	const link = "backups/slink/slink.tar.gz"
	plant(t, s, link, keyFile)

	checkAbsent(t, s, link)
	if keys, _ := listed(t, s, "backups/"); !reflect.DeepEqual(keys, []string{"backups/slink/ark-backup.json"}) {
		t.Errorf("List shows %q, want only the real object", keys)
	}
	checkSecret(t, keyFile)

	// A write may replace the link or be refused; it never writes through it.
	_, err := objectstore.PutBytes(ctx, s, link, []byte("new"), objectstore.Conditions{DoesNotExist: true})
	checkSecret(t, keyFile)
	if err == nil {
		if got := read(t, s, link); got != "new" {
			t.Errorf("after a write replaced the link, the key reads %q", got)
		}
	}
}

// testLinkedDirectoryOutside plants a directory link on a key's path that
// leads out of the bucket, e.g. backups/x -> /etc: neither reads nor writes
// may go through it.
func testLinkedDirectoryOutside(t *testing.T, s objectstore.Store, plant func(*testing.T, objectstore.Store, string, string)) {
	ctx := context.Background()
	outside := t.TempDir()
	inner := writeSecret(t, outside, "ark-backup.json")
	put(t, s, "backups/real/ark-backup.json", "real", objectstore.Conditions{})
	plant(t, s, "backups/x", outside)

	checkAbsent(t, s, "backups/x/ark-backup.json")
	for _, key := range []string{"backups/x/ark-backup.json", "backups/x/new.json", "backups/x/sub/deep.json"} {
		for _, cond := range []objectstore.Conditions{{}, {DoesNotExist: true}} {
			if _, err := objectstore.PutBytes(ctx, s, key, []byte("planted"), cond); err == nil {
				t.Errorf("put %s (%+v) through a linked directory succeeded", key, cond)
			}
		}
	}
	checkSecret(t, inner)
	checkDirEntries(t, outside, "ark-backup.json")

	keys, prefixes := listed(t, s, "backups/")
	if !reflect.DeepEqual(keys, []string{"backups/real/ark-backup.json"}) || !reflect.DeepEqual(prefixes, []string{"backups/real/"}) {
		t.Errorf("List shows keys %q and prefixes %q, want only backups/real", keys, prefixes)
	}
	if keys, prefixes := listed(t, s, "backups/x/"); len(keys)+len(prefixes) != 0 {
		t.Errorf("List under the link shows %q %q", keys, prefixes)
	}
	if got := read(t, s, "backups/real/ark-backup.json"); got != "real" {
		t.Errorf("the real object now reads %q", got)
	}
}

// testLinksInsideBucket plants links that stay inside the bucket: an alias of
// an object and an alias of a directory. They are not followed either, so
// no object has two keys and no operation on one key reaches another.
func testLinksInsideBucket(t *testing.T, s objectstore.Store, plant func(*testing.T, objectstore.Store, string, string)) {
	ctx := context.Background()
	orig := put(t, s, "backups/real/ark-backup.json", "real", objectstore.Conditions{})
	plant(t, s, "backups/alias/ark-backup.json", "../real/ark-backup.json")
	plant(t, s, "backups/aliasdir", "real")

	checkAbsent(t, s, "backups/alias/ark-backup.json")
	checkAbsent(t, s, "backups/aliasdir/ark-backup.json")
	if _, err := objectstore.PutBytes(ctx, s, "backups/aliasdir/new.json", []byte("x"), objectstore.Conditions{}); err == nil {
		t.Error("put through a directory link inside the bucket succeeded")
	}
	if _, err := s.Attrs(ctx, "backups/real/new.json"); !errors.Is(err, objectstore.ErrNotFound) {
		t.Errorf("a write through the directory link reached its target: %v", err)
	}
	a, err := s.Attrs(ctx, "backups/real/ark-backup.json")
	if err != nil || a.Generation != orig.Generation {
		t.Errorf("the linked object changed: %+v, %v", a, err)
	}
	if got := read(t, s, "backups/real/ark-backup.json"); got != "real" {
		t.Errorf("the linked object reads %q", got)
	}
	keys, _ := listed(t, s, "backups/")
	if slices.ContainsFunc(keys, func(k string) bool { return k != "backups/real/ark-backup.json" }) {
		t.Errorf("List shows %q, want only backups/real/ark-backup.json", keys)
	}
}
