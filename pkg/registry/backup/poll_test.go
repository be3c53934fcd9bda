package backup

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/arkproject/ark/pkg/apis/ark"
	"github.com/arkproject/ark/pkg/backupstore"
	"github.com/arkproject/ark/pkg/backupstore/backupstoretest"
	"github.com/arkproject/ark/pkg/objectstore"
	"github.com/arkproject/ark/pkg/objectstore/gcstest"
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

// countsListing is a store that counts its List calls, the objects they
// return, and the polls: every poll lists namespaces/ once, last.
type countsListing struct {
	objectstore.Store
	calls, objects, polls *atomic.Int32
}

func (s countsListing) List(ctx context.Context, opts objectstore.ListOptions) (objectstore.ListPage, error) {
	s.calls.Add(1)
	page, err := s.Store.List(ctx, opts)
	s.objects.Add(int32(len(page.Objects)))
	if opts.Prefix == backupstore.NamespacesPrefix && page.NextPageToken == "" {
		s.polls.Add(1)
	}
	return page, err
}

// A poll lists the backups' records only, never their other files: its
// cost follows the number of backups, not of files. 1,001 backups of seven
// files each take one page of backups/ and one (empty) of namespaces/ from
// the file store, which serves pages as large as a poll asks for, where
// listing every file in pages of 1,000 took nine.
func TestPollListsOnlyRecords(t *testing.T) {
	r, store := newTestREST(t, nil)
	const n, perPoll = 1001, 2
	layout := backupstore.Layout{HomeNamespace: home}
	for i := range n {
		name := fmt.Sprintf("b-%04d", i)
		putRecord(t, store, home, name, ark.BackupPhaseCompleted)
		ref := layout.Backup(home, name)
		for _, key := range []string{ref.TarballKey(), ref.LogsKey(), ref.ResourceListKey(), ref.VolumeSnapshotsKey(), ref.ResultsKey(), ref.ManifestKey()} {
			backupstoretest.Put(t, store, key, []byte("x"))
		}
	}
	waitPolls(t, r, 1)
	count := countsListing{Store: store, calls: &atomic.Int32{}, objects: &atomic.Int32{}, polls: &atomic.Int32{}}
	useStore(r, count)
	waitPolls(t, r, 2) // the poll under way may have used the plain store
	// Counted from the end of a poll to the end of another: whole polls.
	for count.polls.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	calls0, objects0, polls0 := count.calls.Load(), count.objects.Load(), count.polls.Load()
	waitPolls(t, r, 3)
	var calls, objects, polls int32
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		calls, objects, polls = count.calls.Load()-calls0, count.objects.Load()-objects0, count.polls.Load()-polls0
		if calls%perPoll == 0 && calls/perPoll == polls {
			break // between polls
		}
	}
	if polls == 0 {
		t.Fatal("no poll counted")
	}
	if calls != perPoll*polls {
		t.Errorf("%d list calls in %d polls of %d backups, want %d a poll", calls, polls, n, perPoll)
	}
	if objects != n*polls {
		t.Errorf("%d objects listed in %d polls, want the %d records a poll", objects, polls, n)
	}
	if got := len(listAll(t, r, home)); got != n {
		t.Errorf("%d backups listed, want %d", got, n)
	}
}

// A store that reports changes (the file store, with inotify) brings a
// record written behind the server's back into list and watch at once,
// long before the next poll: here the poll interval is an hour.
func TestChangesArriveByEventsBetweenPolls(t *testing.T) {
	r, store := newRESTPolling(t, nil, nil, time.Hour)
	w, err := r.Watch(nsContext(home), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	start := time.Now()
	putRecord(t, store, home, "foreign", ark.BackupPhaseCompleted)
	timeout := time.After(5 * time.Second)
	for {
		select {
		case ev := <-w.ResultChan():
			if b, ok := ev.Object.(*ark.Backup); ok && b.Name == "foreign" {
				if d := time.Since(start); d > 2*time.Second {
					t.Errorf("the record arrived after %s", d)
				}
				if got := listAll(t, r, home)["foreign"]; got == nil {
					t.Error("watched but not listed")
				}
				return
			}
		case <-timeout:
			t.Fatal("a record written behind the server's back did not arrive within 5s with an hourly poll")
		}
	}
}

// Against GCS (fake-gcs-server behind a proxy that filters by match glob
// before paging, as GCS does), a poll costs a listing call per 1,000
// backups, whatever other files they hold: 1,001 backups of two files
// take two calls under backups/ and one under namespaces/, where listing
// every file would take four.
func TestPollOnGCSCostsACallPerThousandBackups(t *testing.T) {
	srv, err := gcstest.Start("polled")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	gcs, err := srv.NewStore(context.Background(), "polled", "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { gcs.Close() })
	const n, perPoll = 1001, 3
	layout := backupstore.Layout{HomeNamespace: home}
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += 16 {
				name := fmt.Sprintf("b-%04d", i)
				putRecord(t, gcs, home, name, ark.BackupPhaseCompleted)
				ref := layout.Backup(home, name)
				backupstoretest.Put(t, gcs, ref.TarballKey(), []byte("x"))
			}
		}()
	}
	wg.Wait()
	r, _ := newTestREST(t, nil)
	count := countsListing{Store: gcs, calls: &atomic.Int32{}, objects: &atomic.Int32{}, polls: &atomic.Int32{}}
	useStore(r, count)
	waitPolls(t, r, 2)
	for count.polls.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	// From the end of a poll: no call of the next one is counted yet.
	var calls0, polls0 int64
	for p := count.polls.Load(); ; time.Sleep(100 * time.Microsecond) {
		if now := count.polls.Load(); now != p {
			calls0, polls0 = srv.ListCalls(), int64(now)
			break
		}
	}
	waitPolls(t, r, 2)
	var calls, polls int64
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		calls, polls = srv.ListCalls()-calls0, int64(count.polls.Load())-polls0
		if calls%perPoll == 0 && calls/perPoll == polls {
			break // between polls
		}
	}
	if polls == 0 || calls != perPoll*polls {
		t.Errorf("%d GCS listing calls in %d polls of %d backups, want %d a poll", calls, polls, n, perPoll)
	}
	if got := len(listAll(t, r, home)); got != n {
		t.Errorf("%d backups listed, want %d", got, n)
	}
}

// slowListing is a store whose listing takes a while, as a huge bucket's.
type slowListing struct {
	countsListing
	delay time.Duration
}

func (s slowListing) List(ctx context.Context, opts objectstore.ListOptions) (objectstore.ListPage, error) {
	time.Sleep(s.delay)
	return s.countsListing.List(ctx, opts)
}

// Polling takes at most a fiftieth of a core: a location whose listing
// takes 20ms is listed every second or so, not every 50ms interval.
func TestSlowListingStretchesThePollInterval(t *testing.T) {
	r, store := newTestREST(t, nil)
	count := countsListing{Store: store, calls: &atomic.Int32{}, objects: &atomic.Int32{}, polls: &atomic.Int32{}}
	useStore(r, slowListing{countsListing: count, delay: 10 * time.Millisecond}) // two listings a poll
	time.Sleep(500 * time.Millisecond)                                           // the first slow poll sets the pace
	before := count.polls.Load()
	time.Sleep(2 * time.Second)
	if polls := count.polls.Load() - before; polls > 3 {
		t.Errorf("%d polls in 2s of a listing that takes 20ms, want at most 3 (one a second)", polls)
	}
}
