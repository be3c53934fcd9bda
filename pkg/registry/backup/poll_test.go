package backup

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/arkproject/ark/pkg/apis/ark"
	"github.com/arkproject/ark/pkg/backupstore"
	"github.com/arkproject/ark/pkg/backupstore/backupstoretest"
	"github.com/arkproject/ark/pkg/locations"
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
	if d := arrival(t, r, w, store, "a record written behind the server's back"); d > 2*time.Second {
		t.Errorf("the record arrived after %s", d)
	}
}

// arrival writes a record "foreign" with writer, as someone else, and
// returns how long it took to show in watch w; it fails the test if that
// is over 5s, or if the record then is not listed too.
func arrival(t *testing.T, r *REST, w watch.Interface, writer objectstore.Store, what string) time.Duration {
	t.Helper()
	start := time.Now()
	putRecord(t, writer, home, "foreign", ark.BackupPhaseCompleted)
	timeout := time.After(5 * time.Second)
	for {
		select {
		case ev := <-w.ResultChan():
			if b, ok := ev.Object.(*ark.Backup); ok && b.Name == "foreign" {
				d := time.Since(start)
				if got := listAll(t, r, home)["foreign"]; got == nil {
					t.Error("watched but not listed")
				}
				return d
			}
		case <-timeout:
			t.Fatalf("%s did not arrive within 5s with an hourly poll", what)
		}
	}
}

// The same against GCS, whose bucket publishes its object notifications
// to a Pub/Sub topic the location has a subscription of: fake-gcs-server
// publishing to an in-process Pub/Sub emulator, both over loopback.
func TestChangesArriveByGCSNotificationsBetweenPolls(t *testing.T) {
	const project, topic, sub = "ark-test", "bucket-events", "ark-location"
	ps, err := gcstest.StartPubsub(project, topic, sub)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ps.Close() })
	t.Setenv("PUBSUB_EMULATOR_HOST", ps.Addr)
	srv, err := gcstest.StartWithOptions(gcstest.Options{NotifyProject: project, NotifyTopic: topic}, "notified")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	client, err := srv.NewClient(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	gcs := objectstore.NewGCSStore(client, "notified", "cluster-1")
	gcs.PubsubSubscription = "projects/" + project + "/subscriptions/" + sub
	r := newRESTOnStore(t, gcs, nil, nil, time.Hour)
	// Someone else: another client of the bucket.
	other, err := srv.NewStore(context.Background(), "notified", "cluster-1")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Close() })

	w, err := r.Watch(nsContext(home), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	d := arrival(t, r, w, other, "a record written to GCS by another client")
	t.Logf("the record written to GCS arrived after %s", d)
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

// notifyingCounter is a file store (which reports changes with inotify)
// that counts its listings and its reads of attributes.
type notifyingCounter struct {
	*objectstore.FileStore
	lists, attrs atomic.Int32
}

func (s *notifyingCounter) List(ctx context.Context, opts objectstore.ListOptions) (objectstore.ListPage, error) {
	s.lists.Add(1)
	return s.FileStore.List(ctx, opts)
}

func (s *notifyingCounter) Attrs(ctx context.Context, key string) (objectstore.ObjectAttrs, error) {
	s.attrs.Add(1)
	return s.FileStore.Attrs(ctx, key)
}

// Between the rare listings of a store that reports changes, a change
// costs a look at the records it names, not a listing of the bucket: what
// an event costs follows the records changed, however many backups the
// bucket holds. Additions, rewrites and removals made behind the server's
// back all arrive that way, and nothing else in the bucket is touched.
func TestEventsCostTheChangedRecordsNotTheBucket(t *testing.T) {
	plain, err := objectstore.NewFileStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	const n = 300
	for i := range n {
		putRecord(t, plain, home, fmt.Sprintf("b-%04d", i), ark.BackupPhaseCompleted)
	}
	store := &notifyingCounter{FileStore: plain}
	r := newRESTOnStore(t, store, nil, nil, time.Hour)
	w, err := r.Watch(nsContext(home), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	// The polls asked for while serving began are over when the count
	// of listings (two a poll) stays put.
	lists := store.lists.Load()
	for stable := time.Now(); time.Since(stable) < 300*time.Millisecond; time.Sleep(10 * time.Millisecond) {
		if now := store.lists.Load(); now != lists || now%2 != 0 {
			lists, stable = now, time.Now()
		}
	}
	attrs := store.attrs.Load()

	arrival(t, r, w, plain, "a record written behind the server's back")
	putRecord(t, plain, home, "b-0001", ark.BackupPhaseDeleting)
	waitEvent(t, w, watch.Modified, "b-0001")
	if err := plain.Delete(context.Background(), metaKey(home, "b-0002"), objectstore.Conditions{}); err != nil {
		t.Fatal(err)
	}
	waitEvent(t, w, watch.Deleted, "b-0002")

	if got := store.lists.Load() - lists; got != 0 {
		t.Errorf("the bucket was listed %d times for three changed records", got)
	}
	if got := store.attrs.Load() - attrs; got < 3 || got > 12 {
		t.Errorf("%d reads of attributes for three changed records, want 3 to 12", got)
	}
	all := listAll(t, r, home)
	if len(all) != n || all["foreign"] == nil || all["b-0002"] != nil || all["b-0001"].Status.Phase != ark.BackupPhaseDeleting {
		t.Errorf("after the changes %d backups are listed (want %d, with foreign, without b-0002, b-0001 Deleting)", len(all), n)
	}
}

// waitEvent waits up to 5s for an event of typ about backup name in w.
func waitEvent(t *testing.T, w watch.Interface, typ watch.EventType, name string) {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case ev := <-w.ResultChan():
			if b, ok := ev.Object.(*ark.Backup); ok && b.Name == name && ev.Type == typ {
				return
			}
		case <-timeout:
			t.Fatalf("no %s event for %s within 5s", typ, name)
		}
	}
}

// A watched bucket moved away (unmounted, say) and back: while it is away
// backups answer 503 and none is reported deleted, since the records were
// not seen removed, only the bucket lost; once it is back they are served
// again within a poll interval, not at the next resync of a watched store
// (a dozen intervals), and changes arrive by events again, on a new watch:
// the old one followed the folder away.
func TestWatchedBucketMovedAwayAndBack(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "bucket")
	plain, err := objectstore.NewFileStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	putRecord(t, plain, home, "kept", ark.BackupPhaseCompleted)
	store := &notifyingCounter{FileStore: plain}
	const interval = 500 * time.Millisecond // resync: 6s
	r := newRESTOnStore(t, store, nil, nil, interval)
	w, err := r.Watch(nsContext(home), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	var deleted atomic.Bool
	go func() {
		for ev := range w.ResultChan() {
			if ev.Type == watch.Deleted {
				deleted.Store(true)
			}
		}
	}()

	away := filepath.Join(parent, "away")
	if err := os.Rename(dir, away); err != nil {
		t.Fatal(err)
	}
	unavailable := func() error {
		_, err := r.List(nsContext(home), &metainternalversion.ListOptions{})
		return err
	}
	deadline := time.Now().Add(5 * time.Second)
	for err := unavailable(); !apierrors.IsServiceUnavailable(err); err = unavailable() {
		if time.Now().After(deadline) {
			t.Fatalf("with the bucket moved away, list answers %v, want 503", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// A write into the folder moved away is not a change of the bucket.
	awayStore, err := objectstore.NewFileStore(away)
	if err != nil {
		t.Fatal(err)
	}
	putRecord(t, awayStore, home, "elsewhere", ark.BackupPhaseCompleted)

	if err := os.Rename(away, dir); err != nil {
		t.Fatal(err)
	}
	back := time.Now()
	for unavailable() != nil {
		if time.Since(back) > 4*interval {
			t.Fatalf("the bucket is back, and after %s list still answers %v", time.Since(back), unavailable())
		}
		time.Sleep(20 * time.Millisecond)
	}
	all := listAll(t, r, home)
	if all["kept"] == nil || all["elsewhere"] == nil {
		t.Errorf("with the bucket back, %d backups are listed, want kept and elsewhere", len(all))
	}
	if deleted.Load() {
		t.Error("a backup was reported deleted while the bucket was away")
	}

	// The new watch reports changes, with no listing: the next resync
	// is seconds away.
	time.Sleep(2 * interval)
	lists := store.lists.Load()
	if d := arrival(t, r, w2(t, r), plain, "a record written once the bucket is back"); d > 2*time.Second {
		t.Errorf("the record arrived after %s", d)
	}
	if got := store.lists.Load() - lists; got != 0 {
		t.Errorf("the bucket was listed %d times to find one new record: the watch is not back", got)
	}
}

// w2 opens another watch of the home namespace's backups.
func w2(t *testing.T, r *REST) watch.Interface {
	t.Helper()
	w, err := r.Watch(nsContext(home), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
	return w
}

// A file bucket with more backup folders than are watched gets a watch of
// new backups only: those arrive by events, and the bucket is still listed
// every interval (not every dozen), so that a record rewritten in an older
// backup's folder, which no event reports, is seen within an interval.
func TestPartialWatchKeepsPolling(t *testing.T) {
	defer func(was int) { objectstore.MaxWatchedDirectories = was }(objectstore.MaxWatchedDirectories)
	objectstore.MaxWatchedDirectories = 8
	plain, err := objectstore.NewFileStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for i := range 30 {
		putRecord(t, plain, home, fmt.Sprintf("b-%04d", i), ark.BackupPhaseCompleted)
	}
	store := &notifyingCounter{FileStore: plain}
	const interval = 500 * time.Millisecond // a dozen: 6s
	r := newRESTOnStore(t, store, nil, nil, interval)
	w, err := r.Watch(nsContext(home), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()

	arrival(t, r, w, plain, "a new backup, watched in part")
	lists := store.lists.Load()
	start := time.Now()
	putRecord(t, plain, home, "b-0005", ark.BackupPhaseDeleting)
	waitEvent(t, w, watch.Modified, "b-0005")
	if d := time.Since(start); d > 4*interval {
		t.Errorf("a record rewritten in an older backup's folder arrived after %s, want within an interval or so (%s)", d, interval)
	}
	time.Sleep(3 * interval)
	if got := store.lists.Load() - lists; got < 2 {
		t.Errorf("the bucket was listed %d times in %s with a partial watch; want it listed every %s", got, time.Since(start), interval)
	}
}

// watchCounter is a file store that counts the watches set up on it.
type watchCounter struct {
	*objectstore.FileStore
	watches atomic.Int32
}

func (s *watchCounter) Notify(ctx context.Context, prefixes []string, name string, changed func(keys []string)) (objectstore.Coverage, error) {
	s.watches.Add(1)
	return s.FileStore.Notify(ctx, prefixes, name, changed)
}

// A location replaced with the same store, as the flag's location is once
// its object says it is the default, keeps its watch: watching a file
// bucket anew sets up a watch per folder again (a third of an idle
// minute's CPU at 10,000 backups). A location replaced with another store
// is watched anew, and changes keep arriving by events either way.
func TestLocationReplacedWithTheSameStoreKeepsItsWatch(t *testing.T) {
	plain, err := objectstore.NewFileStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	putRecord(t, plain, home, "b-0", ark.BackupPhaseCompleted)
	store := &watchCounter{FileStore: plain}
	locs := locations.NewSet(&locations.Location{Name: "default", Store: store, Primary: true})
	// Hourly: only events, or a poll asked for, find changes.
	r := serveLocations(t, locs, nil, nil, time.Hour)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.WaitForNextPoll(ctx); err != nil {
		t.Fatal(err)
	}
	if got := store.watches.Load(); got != 1 {
		t.Fatalf("watched %d times after the first poll, want 1", got)
	}
	w, err := r.Watch(nsContext(home), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()

	locs.Put(&locations.Location{Name: "default", Store: store, Primary: true, Default: true})
	if err := r.WaitForNextPoll(ctx); err != nil {
		t.Fatal(err)
	}
	if got := store.watches.Load(); got != 1 {
		t.Errorf("watched %d times after the location was replaced with the same store, want still 1", got)
	}
	arrival(t, r, w, plain, "a new backup after the location was replaced with the same store")

	other := &watchCounter{FileStore: plain}
	locs.Put(&locations.Location{Name: "default", Store: other, Primary: true, Default: true})
	if err := r.WaitForNextPoll(ctx); err != nil {
		t.Fatal(err)
	}
	if got := other.watches.Load(); got != 1 {
		t.Errorf("the new store was watched %d times, want 1", got)
	}
	putRecord(t, plain, home, "b-1", ark.BackupPhaseCompleted)
	waitEvent(t, w, watch.Added, "b-1")
}
