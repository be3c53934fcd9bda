package backup

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
)

// spec.orderedResources puts the named items of a resource first in the
// tarball, in its order, the rest after them as listed, each item once,
// however the LIST is paged and whether its pages come raw or decoded.
// Names that do not fit are warnings, and the backup still completes.
func TestOrderedResources(t *testing.T) {
	for _, tc := range []struct {
		raw      bool
		pageSize int64
	}{{true, 0}, {false, 0}, {true, 1}, {false, 2}} {
		t.Run(fmt.Sprintf("raw=%v,pageSize=%d", tc.raw, tc.pageSize), func(t *testing.T) {
			e := newEnv(t)
			e.b.PageSize = tc.pageSize
			if !tc.raw {
				e.b.Dynamic = plainDynamic{e.rec}
			}
			for _, o := range []*unstructured.Unstructured{
				object("v1", "ConfigMap", "app", "a", nil, nil),
				object("v1", "ConfigMap", "app", "m", nil, nil),
				object("v1", "ConfigMap", "app", "z", nil, nil),
				object("v1", "ConfigMap", "app", "hidden", map[string]any{arkv1.LabelExcludeFromBackup: "true"}, nil),
			} {
				if err := e.dyn.Tracker().Add(o); err != nil {
					t.Fatal(err)
				}
			}
			s := e.run(t, newBackup("b1", func(sp *arkv1.BackupSpec) {
				appOnly(sp)
				sp.OrderedResources = map[string]string{
					"cm":                "app/z,app/gone,app/m,other/cm2,app/hidden,nameonly",
					"deployments.apps":  "app/web",
					"persistentvolumes": "app/pv-1",
					"widgets":           "app/w",
				}
			}))
			mustSucceed(t, s)

			var configMaps []string
			for _, p := range s.entries {
				if rest, ok := strings.CutPrefix(p, "resources/configmaps/namespaces/"); ok {
					configMaps = append(configMaps, strings.TrimSuffix(rest, ".json"))
				}
			}
			if want := []string{"app/z", "app/m", "app/a", "app/cm1"}; !slices.Equal(configMaps, want) {
				t.Errorf("config maps in tarball order %q, want %q", configMaps, want)
			}
			if want := len(namespaceAppItems) + 3; s.out.Items != want || len(s.entries) != want+1 {
				t.Errorf("outcome %+v with %d entries, want %d items", s.out, len(s.entries), want)
			}
			if last := s.progress[len(s.progress)-1]; last.total != last.done || last.done != s.out.Items {
				t.Errorf("last progress %+v, want %d of %d", last, s.out.Items, s.out.Items)
			}
			for _, want := range []string{
				"orderedResources names configmaps app/gone, which does not exist",
				`orderedResources names configmaps "nameonly", which should be "namespace/name": it is namespaced`,
				`orderedResources names persistentvolumes "app/pv-1", which should be "name": it is cluster-scoped`,
				`orderedResources names "widgets", which this cluster does not serve`,
				"skipped configmaps app/hidden: labelled ark.heptio.com/exclude-from-backup=true",
			} {
				if !strings.Contains(s.log, want) {
					t.Errorf("log lacks %q:\n%s", want, s.log)
				}
			}
			if s.results.Warnings.Count != 4 || s.results.Errors.Count != 0 {
				t.Errorf("results %+v, want 4 warnings", s.results)
			}
		})
	}
}
