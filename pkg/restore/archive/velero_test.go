package archive

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/arkproject/ark/pkg/backupstore"
	"github.com/arkproject/ark/pkg/objectstore"
)

// veleroRef is where a Velero bucket keeps backup b1.
var veleroRef = backupstore.Layout{HomeNamespace: "heptio-ark", Format: backupstore.FormatVelero}.Backup("heptio-ark", name)

// veleroItem is a Velero item file of the given apiVersion at path.
func veleroItem(path, apiVersion string) entry {
	it, msg := parseVeleroItemPath(path)
	if msg != "" {
		panic(msg)
	}
	return reg(path, object(apiVersion, it.Namespace, it.Name, ""))
}

func extractVelero(t *testing.T, limits Limits, entries ...entry) (*Index, string, error) {
	t.Helper()
	s := newStore(t)
	put(t, s, veleroRef.TarballKey(), tgz(t, entries...))
	dir := t.TempDir()
	idx, err := Extract(context.Background(), s, veleroRef, dir, limits)
	if idx != nil {
		t.Cleanup(func() { idx.Close() })
	}
	return idx, dir, err
}

func itemPaths(idx *Index) []string {
	var out []string
	for _, it := range idx.Items {
		p := it.Resource + "/" + it.Namespace + "/" + it.Name
		data, _ := it.Content()
		out = append(out, p+"@"+string(data[strings.Index(string(data), `"apiVersion":"`)+14:strings.Index(string(data), `","kind"`)]))
	}
	slices.Sort(out)
	return out
}

// Velero 1.0-1.3 tarballs: version "1", the classic layout only, no manifest.
func TestExtractVeleroClassic(t *testing.T) {
	for _, limits := range []Limits{{}, {MemoryBudget: 1 << 20}} {
		idx, _, err := extractVelero(t, limits,
			reg("metadata/version", "1\n"),
			entry{name: "resources/", typ: '5'},
			entry{name: "resources/deployments.apps/namespaces/shop/", typ: '5'},
			veleroItem("resources/deployments.apps/namespaces/shop/web.json", "apps/v1"),
			veleroItem("resources/configmaps/namespaces/shop/settings.json", "v1"),
			veleroItem("resources/namespaces/cluster/shop.json", "v1"),
		)
		if err != nil {
			t.Fatal(err)
		}
		want := []string{"configmaps/shop/settings@v1", "deployments.apps/shop/web@apps/v1", "namespaces//shop@v1"}
		if got := itemPaths(idx); !slices.Equal(got, want) {
			t.Errorf("items %v, want %v", got, want)
		}
	}
}

// Velero 1.4+ tarballs (format 1.1.0): each resource also in its API
// group's version folders; the preferred version's copy is restored, once.
func TestExtractVeleroAPIGroupVersions(t *testing.T) {
	idx, _, err := extractVelero(t, Limits{},
		reg("metadata/version", "1.1.0\n"),
		veleroItem("resources/horizontalpodautoscalers.autoscaling/namespaces/shop/hpa.json", "autoscaling/v1"),
		veleroItem("resources/horizontalpodautoscalers.autoscaling/v1-preferredversion/namespaces/shop/hpa.json", "autoscaling/v1"),
		veleroItem("resources/horizontalpodautoscalers.autoscaling/v2beta2/namespaces/shop/hpa.json", "autoscaling/v2beta2"),
		entry{name: "resources/horizontalpodautoscalers.autoscaling/v2beta2/namespaces/shop/", typ: '5'},
		veleroItem("resources/widgets.example.com/v1beta1-preferredversion/namespaces/shop/w.json", "example.com/v1beta1"),
		veleroItem("resources/widgets.example.com/namespaces/shop/w.json", "example.com/v1beta1"),
		veleroItem("resources/customresourcedefinitions.apiextensions.k8s.io/v1-preferredversion/cluster/widgets.example.com.json", "apiextensions.k8s.io/v1"),
		veleroItem("resources/customresourcedefinitions.apiextensions.k8s.io/cluster/widgets.example.com.json", "apiextensions.k8s.io/v1"),
		veleroItem("resources/configmaps/namespaces/shop/only-classic.json", "v1"),
	)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"configmaps/shop/only-classic@v1",
		"customresourcedefinitions.apiextensions.k8s.io//widgets.example.com@apiextensions.k8s.io/v1",
		"horizontalpodautoscalers.autoscaling/shop/hpa@autoscaling/v1",
		"widgets.example.com/shop/w@example.com/v1beta1",
	}
	if got := itemPaths(idx); !slices.Equal(got, want) {
		t.Errorf("items %v, want %v", got, want)
	}
}

// Every check of Ark's own tarballs holds for Velero's, and a Velero
// tarball's layout is checked too; nothing is left behind.
func TestExtractVeleroRejects(t *testing.T) {
	v := reg("metadata/version", "1.1.0")
	cm := veleroItem("resources/configmaps/v1-preferredversion/namespaces/shop/a.json", "v1")
	for _, c := range []struct {
		name    string
		entries []entry
		want    string
	}{
		{"traversal", []entry{v, cm, reg("resources/configmaps/v1-preferredversion/namespaces/../../../../x.json", "{}")}, "escapes the archive"},
		{"symlink", []entry{v, cm, {name: "resources/configmaps/v1-preferredversion/namespaces/shop/b.json", typ: '2', link: "/etc/passwd"}}, "is a symbolic link"},
		{"hard link", []entry{v, cm, {name: "resources/configmaps/namespaces/shop/b.json", typ: '1', link: "resources/configmaps/v1-preferredversion/namespaces/shop/a.json"}}, "is a hard link"},
		{"absolute", []entry{v, cm, reg("/etc/cron.d/x", "{}")}, "is an absolute path"},
		{"version 2", []entry{reg("metadata/version", "2.0.0"), cm}, `unsupported backup format version "2.0.0"`},
		{"no version", []entry{cm}, "missing metadata/version"},
		{"not a version folder", []entry{v, reg("resources/configmaps/latest/namespaces/shop/a.json", `{}`)}, "is not resources/<resource>[/<version>]"},
		{"version folder mismatch", []entry{v, veleroItem("resources/configmaps/v2-preferredversion/namespaces/shop/a.json", "v1")}, `but its path's version is "v2"`},
		{"name mismatch in a skipped version", []entry{v, cm, reg("resources/configmaps/v1beta1/namespaces/shop/a.json", object("v1beta1", "shop", "other", ""))}, `holds name "other"`},
		{"namespace mismatch", []entry{v, reg("resources/configmaps/v1-preferredversion/namespaces/shop/a.json", object("v1", "kube-system", "a", ""))}, `holds namespace "kube-system"`},
		{"group mismatch", []entry{v, reg("resources/configmaps/v1-preferredversion/namespaces/shop/a.json", object("rbac.authorization.k8s.io/v1", "shop", "a", ""))}, "group"},
		{"duplicate", []entry{v, cm, cm}, "duplicate tar entry"},
		{"not JSON", []entry{v, reg("resources/configmaps/namespaces/shop/a.json", "#!/bin/sh")}, "not valid JSON"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, dir, err := extractVelero(t, Limits{}, c.entries...)
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want corrupt: %s", err, c.want)
			}
			assertEmpty(t, dir)
		})
	}
}

// With no manifest, the size limit is what bounds the download.
func TestExtractVeleroSizeLimit(t *testing.T) {
	_, dir, err := extractVelero(t, Limits{MaxTotalSize: 64},
		reg("metadata/version", "1"), veleroItem("resources/configmaps/namespaces/shop/a.json", "v1"))
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "more than the limit") {
		t.Fatalf("err = %v, want the size limit", err)
	}
	assertEmpty(t, dir)
	s := newStore(t)
	if _, err := Extract(context.Background(), s, veleroRef, t.TempDir(), Limits{}); !errors.Is(err, objectstore.ErrNotFound) || !errors.Is(err, ErrCorrupt) {
		t.Errorf("a missing tarball: %v", err)
	}
}

// An Ark tarball's reader does not take Velero's layouts or versions.
func TestArkExtractRefusesVeleroLayout(t *testing.T) {
	s := newStore(t)
	putBackup(t, s, tgz(t, version, veleroItem("resources/configmaps/v1-preferredversion/namespaces/shop/a.json", "v1")))
	if _, err := Extract(context.Background(), s, backupstore.Home(name), t.TempDir(), Limits{}); !errors.Is(err, ErrCorrupt) {
		t.Errorf("err = %v, want corrupt", err)
	}
}
