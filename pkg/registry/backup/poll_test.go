package backup

import (
	"context"
	"io"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/arkproject/ark/pkg/apis/ark"
	"github.com/arkproject/ark/pkg/objectstore"
)

// listsNoGeneration is a store whose listing carries no generation, as S3's
// does not, and which counts the reads of objects.
type listsNoGeneration struct {
	objectstore.Store
	reads *atomic.Int32
}

func (s listsNoGeneration) List(ctx context.Context, opts objectstore.ListOptions) (objectstore.ListPage, error) {
	page, err := s.Store.List(ctx, opts)
	for i := range page.Objects {
		page.Objects[i].Generation = 0
	}
	return page, err
}

func (s listsNoGeneration) NewReader(ctx context.Context, key string) (io.ReadCloser, objectstore.ObjectAttrs, error) {
	s.reads.Add(1)
	return s.Store.NewReader(ctx, key)
}

// On a backend that lists no generation, a poll still reads only the records
// whose change token moved, and takes their generation from the read.
func TestPollComparesChangeTokens(t *testing.T) {
	r, store := newTestREST(t, nil)
	reads := &atomic.Int32{}
	useStore(r, listsNoGeneration{Store: store, reads: reads})
	create(t, r, home, "kept")
	putRecord(t, store, home, "foreign", ark.BackupPhaseCompleted)
	waitPolls(t, r, 3)
	if n := reads.Load(); n != 1 {
		t.Errorf("%d reads in three polls, want 1 (the record written behind the server's back)", n)
	}

	putRecord(t, store, home, "foreign", ark.BackupPhaseFailed)
	waitPolls(t, r, 2)
	attrs, err := store.Attrs(context.Background(), metaKey(home, "foreign"))
	if err != nil {
		t.Fatal(err)
	}
	got := listAll(t, r, home)["foreign"]
	if got == nil || got.Status.Phase != ark.BackupPhaseFailed || got.ResourceVersion != strconv.FormatInt(attrs.Generation, 10) {
		t.Fatalf("rewritten record listed as %+v, want phase Failed at generation %d", got, attrs.Generation)
	}
	if n := reads.Load(); n != 2 {
		t.Errorf("%d reads after one rewrite, want 2", n)
	}
}

// waitPolls waits for n polls to finish.
func waitPolls(t *testing.T, r *REST, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for range n {
		if err := r.WaitForNextPoll(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

// A record that cannot be read is listed as Corrupt at its real generation
// even where the listing has none: its attributes are read for it.
func TestUnreadableRecordKeepsItsGeneration(t *testing.T) {
	r, store := newTestREST(t, nil)
	putRecord(t, store, home, "unreadable", ark.BackupPhaseCompleted)
	useStore(r, failingReads{Store: listsNoGeneration{Store: store, reads: &atomic.Int32{}}, keys: map[string]bool{metaKey(home, "unreadable"): true}})
	waitPolls(t, r, 2)
	attrs, err := store.Attrs(context.Background(), metaKey(home, "unreadable"))
	if err != nil {
		t.Fatal(err)
	}
	got := listAll(t, r, home)["unreadable"]
	if got == nil || got.Status.Phase != ark.BackupPhaseCorrupt || got.ResourceVersion != strconv.FormatInt(attrs.Generation, 10) {
		t.Fatalf("unreadable record listed as %+v, want Corrupt at generation %d", got, attrs.Generation)
	}
}
