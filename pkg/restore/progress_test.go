package restore

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"
)

// A progress function that blocks (a status write to a slow API server) must
// not hold up the workers: every item is created while the first progress
// call is still blocked, and once it returns the final count is reported.
func TestRunProgressBlockedDoesNotStallItems(t *testing.T) {
	f := newFixture(t)
	f.seedNamespace("abc")
	f.restorer.Workers = 16
	const items = 300
	var backed []bItem
	for i := range items {
		backed = append(backed, configMap("abc", fmt.Sprintf("cm-%03d", i)))
	}
	f.backup(backed...)

	release := make(chan struct{})
	var mu sync.Mutex
	var calls [][2]int
	progress := func(total, done int) {
		<-release
		mu.Lock()
		calls = append(calls, [2]int{total, done})
		mu.Unlock()
	}
	type result struct {
		out Outcome
		err error
	}
	ran := make(chan result, 1)
	go func() {
		out, err := f.restorer.Run(context.Background(), newRestore(), testBackup, progress)
		ran <- result{out, err}
	}()

	deadline := time.Now().Add(10 * time.Second)
	for len(f.createdKeys()) < items && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	created := len(f.createdKeys())
	close(release)
	res := <-ran
	if created < items {
		t.Errorf("%d of %d items created while progress was blocked, want all", created, items)
	}
	if res.err != nil {
		t.Fatalf("Run: %v", res.err)
	}
	if res.out.Created != items {
		t.Errorf("outcome = %+v, want %d created", res.out, items)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(calls) == 0 || calls[len(calls)-1] != [2]int{items, items} {
		t.Errorf("progress calls %v, want the last to report %d of %d", calls, items, items)
	}
	f.checkScratchEmpty()
}
