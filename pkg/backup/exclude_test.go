package backup

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
)

// Items labelled ark.heptio.com/exclude-from-backup=true are left out of
// the tarball, the resource list and the counts, each named in the log,
// whether their pages come raw or decoded, and whether the backupper
// decodes their resource fully (claims) or not (config maps). A claim left
// out takes its volume with it.
func TestExcludeFromBackupLabel(t *testing.T) {
	for _, raw := range []bool{true, false} {
		t.Run(fmt.Sprintf("raw=%v", raw), func(t *testing.T) {
			e := newEnv(t)
			if !raw {
				e.b.Dynamic = plainDynamic{e.rec}
			}
			excluded := map[string]any{arkv1.LabelExcludeFromBackup: "true"}
			for _, o := range []*unstructured.Unstructured{
				object("v1", "ConfigMap", "app", "cache", excluded, nil),
				object("v1", "ConfigMap", "app", "notes", map[string]any{arkv1.LabelExcludeFromBackup: "false"}, nil),
				object("v1", "PersistentVolumeClaim", "app", "scratch", excluded,
					map[string]any{"spec": map[string]any{"volumeName": "pv-2"}}),
			} {
				if err := e.dyn.Tracker().Add(o); err != nil {
					t.Fatal(err)
				}
			}
			s := e.run(t, newBackup("b1", appOnly))
			mustSucceed(t, s)

			notes := "resources/configmaps/namespaces/app/notes.json"
			for _, p := range []string{"resources/configmaps/namespaces/app/cache.json", "resources/persistentvolumeclaims/namespaces/app/scratch.json", pPV2} {
				if slices.Contains(s.entries, p) {
					t.Errorf("tarball holds %s", p)
				}
			}
			if !slices.Contains(s.entries, notes) {
				t.Errorf("tarball lacks %s, labelled exclude-from-backup=false: %q", notes, s.entries)
			}
			if want := len(namespaceAppItems) + 1; s.out.Items != want || len(s.entries) != want+1 {
				t.Errorf("outcome %+v with %d entries, want %d items", s.out, len(s.entries), want)
			}
			if got := s.resourceList["configmaps"]; slices.Contains(got, "app/cache") || !slices.Contains(got, "app/notes") {
				t.Errorf("resource list of configmaps %v, want app/notes and not app/cache", got)
			}
			if last := s.progress[len(s.progress)-1]; last.total != last.done {
				t.Errorf("last progress %+v: the excluded items were counted", last)
			}
			for _, want := range []string{
				"skipped configmaps app/cache: labelled ark.heptio.com/exclude-from-backup=true",
				"skipped persistentvolumeclaims app/scratch: labelled ark.heptio.com/exclude-from-backup=true",
			} {
				if !strings.Contains(s.log, want) {
					t.Errorf("log lacks %q:\n%s", want, s.log)
				}
			}
			if strings.Contains(s.log, "app/notes") {
				t.Errorf("log names app/notes, which was backed up:\n%s", s.log)
			}
		})
	}
}
