package backup

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"k8s.io/utils/clock"

	"github.com/arkproject/ark/pkg/apis/ark"
	"github.com/arkproject/ark/pkg/backupstore"
)

// The index keeps its backups in list order through every mix of
// additions, replacements and removals, and a scan from any point of any
// namespace returns what a sort of everything would.
func TestIndexKeepsListOrder(t *testing.T) {
	ix := newIndex(backupstore.Layout{HomeNamespace: home}, nil, clock.RealClock{})
	rnd := rand.New(rand.NewPCG(1, 2))
	namespaces := []string{"a", "a-b", "ab", "b"} // "a-b" sorts between "a" and "ab", and "a-b/x" before "a/x"
	for round := range 60 {
		ix.mu.Lock()
		for range rnd.IntN(40) {
			ns, name := namespaces[rnd.IntN(len(namespaces))], fmt.Sprintf("n%d", rnd.IntN(50))
			key := id(ns, name)
			if _, ok := ix.items[key]; ok && rnd.IntN(2) == 0 {
				ix.removeLocked(key)
				continue
			}
			b := &ark.Backup{}
			b.Namespace, b.Name = ns, name
			ix.applyLocked(key, "default", b, int64(round+1), 0, ^uint64(0), false)
		}
		ix.unlock()

		var want []string
		for _, e := range ix.items {
			want = append(want, itemKey(e.obj))
		}
		slices.Sort(want)
		check := func(what string, got []*ark.Backup, want []string) {
			t.Helper()
			keys := []string{}
			for _, b := range got {
				keys = append(keys, itemKey(b))
			}
			if !slices.Equal(keys, append([]string{}, want...)) {
				t.Fatalf("round %d, %s:\n got %q\nwant %q", round, what, keys, want)
			}
		}
		all, _, _, rest, err := ix.scan(nil, "", "", "", 0, nil)
		if err != nil {
			t.Fatal(err)
		}
		check("all", all, want)
		if rest != 0 {
			t.Fatalf("a scan of everything leaves %d", rest)
		}
		for _, ns := range namespaces {
			var inNS []string
			for _, k := range want {
				if k[:len(ns)+1] == ns+"\x00" {
					inNS = append(inNS, k)
				}
			}
			got, _, _, _, _ := ix.scan(nil, ns, "", "", 0, nil)
			check("namespace "+ns, got, inNS)
			if len(inNS) > 2 {
				// A page of two after the first, and what remains.
				first := ix.items[id(ns, inNS[0][len(ns)+1:])].obj
				page, _, _, rest, _ := ix.scan(nil, ns, ns, first.Name, 2, nil)
				check("page in "+ns, page, inNS[1:3])
				if rest != len(inNS)-3 {
					t.Fatalf("round %d: %d left after a page in %s, want %d", round, rest, ns, len(inNS)-3)
				}
			}
		}
	}
}
