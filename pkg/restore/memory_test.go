package restore

import (
	"reflect"
	"testing"

	"github.com/arkproject/ark/pkg/restore/archive"
)

// TestRunSameFromMemoryAndDisk restores one backup with its items kept in
// memory (the default budget), unpacked to disk (a negative budget), and
// spilling to disk part way (a tiny budget): what is created, and how, must
// not depend on where the items were held. Items of one resource are created
// by parallel workers, so only the order of resources is compared, and the
// items as a set.
func TestRunSameFromMemoryAndDisk(t *testing.T) {
	items := func() []bItem {
		return []bItem{
			namespaceItem("abc"),
			serviceAccount("abc", "sa1"),
			configMap("abc", "cm1"),
			configMap("abc", "cm2"),
			secret("abc", "s1"),
			deployment("abc", "web"),
			service("abc", "svc", map[string]any{"ports": []any{map[string]any{"port": int64(80)}}}),
			storageClass("fast"),
		}
	}
	type result struct {
		resources []string
		keys      []string
		sent      map[string]map[string]any
		out       Outcome
	}
	run := func(budget int64) result {
		f := newFixture(t)
		f.restorer.Limits = archive.Limits{MemoryBudget: budget}
		f.backup(items()...)
		out := f.run(newRestore())
		r := result{keys: sortedCopy(f.createdKeys()), sent: map[string]map[string]any{}, out: out}
		for _, c := range f.createCalls() {
			if k := groupResource(c.gvr); c.err == nil && (len(r.resources) == 0 || r.resources[len(r.resources)-1] != k) {
				r.resources = append(r.resources, k)
			}
		}
		for _, k := range r.keys {
			r.sent[k] = f.sent(k).Object
		}
		return r
	}
	memory, disk, spill := run(0), run(-1), run(200)
	if len(memory.keys) == 0 {
		t.Fatal("nothing was created")
	}
	if !reflect.DeepEqual(memory, disk) {
		t.Errorf("restoring from memory and from disk differ:\nmemory %+v\ndisk   %+v", memory, disk)
	}
	if !reflect.DeepEqual(memory, spill) {
		t.Errorf("restoring from memory and after a spill differ:\nmemory %+v\nspill  %+v", memory, spill)
	}
}
