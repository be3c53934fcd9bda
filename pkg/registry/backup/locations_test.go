package backup

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apiserver/pkg/warning"

	"github.com/arkproject/ark/pkg/apis/ark"
	"github.com/arkproject/ark/pkg/apis/ark/install"
	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
	"github.com/arkproject/ark/pkg/apis/ark/validation"
	"github.com/arkproject/ark/pkg/locations"
	"github.com/arkproject/ark/pkg/objectstore"
)

// fileLocation is a location on a fresh directory bucket.
func fileLocation(t *testing.T, name string, readOnly bool) *locations.Location {
	t.Helper()
	s, err := objectstore.NewFileStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return &locations.Location{Name: name, Store: s, ReadOnly: readOnly}
}

// newLocationsREST serves the backups of locs.
func newLocationsREST(t *testing.T, locs *locations.Set) *REST {
	t.Helper()
	scheme := runtime.NewScheme()
	install.Install(scheme)
	codecs := serializer.NewCodecFactory(scheme)
	r, _ := NewREST(scheme, Options{
		Locations:    locs,
		Codec:        codecs.LegacyCodec(arkv1.SchemeGroupVersion),
		Scope:        validation.Scope{HomeNamespace: home, Locations: locs},
		PollInterval: 50 * time.Millisecond,
	})
	t.Cleanup(r.Destroy)
	waitPoll(t, r)
	return r
}

func waitPoll(t *testing.T, r *REST) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.WaitForNextPoll(ctx); err != nil {
		t.Fatal(err)
	}
}

func createIn(r *REST, ns, name, location string) (*ark.Backup, error) {
	obj, err := r.Create(nsContext(ns), &ark.Backup{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec:       ark.BackupSpec{IncludedNamespaces: []string{ns}, StorageLocation: location},
	}, nil, &metav1.CreateOptions{})
	if err != nil {
		return nil, err
	}
	return obj.(*ark.Backup), nil
}

// recorder keeps the Warning headers a request would carry.
type recorder struct{ msgs []string }

func (r *recorder) AddWarning(_, text string) { r.msgs = append(r.msgs, text) }

// listIn lists the home namespace's backups with a field selector, and
// returns where each one lives and the warnings of the answer.
func listIn(t *testing.T, r *REST, selector string) (map[string]string, []string, error) {
	t.Helper()
	rec := &recorder{}
	ctx := warning.WithWarningRecorder(nsContext(home), rec)
	opts := &metainternalversion.ListOptions{}
	if selector != "" {
		opts.FieldSelector = fields.ParseSelectorOrDie(selector)
	}
	obj, err := r.List(ctx, opts)
	if err != nil {
		return nil, rec.msgs, err
	}
	out := map[string]string{}
	for _, b := range obj.(*ark.BackupList).Items {
		out[b.Name] = b.Spec.StorageLocation
	}
	return out, rec.msgs, nil
}

// Backups of every location are served together, each saying where it
// lives; new backups go where they say or to the default location; a name
// is one backup across locations; ReadOnly locations are never written.
func TestSeveralLocations(t *testing.T) {
	primary := fileLocation(t, "default", false)
	primary.Primary = true
	second := fileLocation(t, "second", false)
	mounted := fileLocation(t, "mounted", true)
	locs := locations.NewSet(primary, second, mounted)
	r := newLocationsREST(t, locs)
	ctx := context.Background()

	if _, err := createIn(r, home, "a", ""); err != nil {
		t.Fatal(err)
	}
	b, err := createIn(r, home, "b", "second")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := second.Store.Attrs(ctx, metaKey(home, "b")); err != nil {
		t.Errorf("b is not in the second bucket: %v", err)
	}
	if _, err := primary.Store.Attrs(ctx, metaKey(home, "b")); !errors.Is(err, objectstore.ErrNotFound) {
		t.Errorf("b is in the primary bucket too: %v", err)
	}
	// A record another cluster wrote into the mounted bucket.
	data, err := r.encode(&ark.Backup{ObjectMeta: metav1.ObjectMeta{Name: "theirs", Namespace: home}, Status: ark.BackupStatus{Phase: ark.BackupPhaseCompleted}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := objectstore.PutBytes(ctx, mounted.Store, metaKey(home, "theirs"), data, objectstore.Conditions{}); err != nil {
		t.Fatal(err)
	}
	waitPoll(t, r)
	got, warnings, err := listIn(t, r, "")
	if err != nil || len(warnings) != 0 {
		t.Fatalf("list: %v %v", err, warnings)
	}
	if want := map[string]string{"a": "default", "b": "second", "theirs": "mounted"}; !equalMaps(got, want) {
		t.Errorf("listed %v, want %v", got, want)
	}
	if got, _, _ := listIn(t, r, "spec.storageLocation=second"); !equalMaps(got, map[string]string{"b": "second"}) {
		t.Errorf("listed by location %v", got)
	}
	if obj, err := r.Get(nsContext(home), "theirs", nil); err != nil || obj.(*ark.Backup).Spec.StorageLocation != "mounted" {
		t.Errorf("get theirs: %v %v", obj, err)
	}

	// A name held elsewhere is taken; a ReadOnly location takes nothing.
	if _, err := createIn(r, home, "b", ""); !apierrors.IsAlreadyExists(err) {
		t.Errorf("create of a name another location holds: %v", err)
	}
	if _, err := createIn(r, home, "mine", "mounted"); !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "ReadOnly") {
		t.Errorf("create in a ReadOnly location: %v", err)
	}
	if _, _, err := r.Delete(nsContext(home), "theirs", nil, &metav1.DeleteOptions{}); !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "ReadOnly") {
		t.Errorf("delete in a ReadOnly location: %v", err)
	}
	if _, err := mounted.Store.Attrs(ctx, metaKey(home, "theirs")); err != nil {
		t.Errorf("the mounted record was touched: %v", err)
	}

	// The same name in a location of lower rank is shadowed, not served twice.
	if _, err := objectstore.PutBytes(ctx, mounted.Store, metaKey(home, "b"), data, objectstore.Conditions{}); err != nil {
		t.Fatal(err)
	}
	waitPoll(t, r)
	if got, _, _ := listIn(t, r, ""); got["b"] != "second" {
		t.Errorf("b is served from %q, want second (ReadOnly locations come last)", got["b"])
	}
	if h := r.Health("mounted"); h.Shadowed != 1 || h.Backups != 1 {
		t.Errorf("mounted health = %+v, want 1 served and 1 shadowed", h)
	}

	// A location that stops answering: the others are listed with a
	// Warning naming it; selecting it alone, or getting a name only it
	// could hold, is a 503.
	broken := *second
	broken.Store = failingStore{Store: second.Store}
	locs.Put(&broken)
	waitPoll(t, r)
	got, warnings, err = listIn(t, r, "")
	if err != nil || len(warnings) != 1 || !strings.Contains(warnings[0], `"second"`) {
		t.Fatalf("list with second down: %v, warnings %q", err, warnings)
	}
	if _, ok := got["a"]; !ok {
		t.Errorf("a missing while only second is down: %v", got)
	}
	if _, _, err := listIn(t, r, "spec.storageLocation=second"); !apierrors.IsServiceUnavailable(err) || !strings.Contains(err.Error(), `"second"`) {
		t.Errorf("list of the down location alone: %v", err)
	}
	if _, err := r.Get(nsContext(home), "nowhere", nil); !apierrors.IsServiceUnavailable(err) {
		t.Errorf("get of a name a down location might hold: %v", err)
	}
	if _, err := r.Get(nsContext(home), "a", nil); err != nil {
		t.Errorf("get of a backup of an answering location: %v", err)
	}
	locs.Put(second)

	// Removing a location takes its backups out of the API, not the bucket;
	// the shadowed record of the same name is then served.
	locs.Remove("second")
	waitPoll(t, r)
	if got, _, _ := listIn(t, r, ""); got["b"] != "mounted" || len(got) != 3 {
		t.Errorf("after removing second: %v", got)
	}
	if _, err := second.Store.Attrs(ctx, metaKey(home, b.Name)); err != nil {
		t.Errorf("removing the location touched its bucket: %v", err)
	}
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// failingStore fails every listing and attribute read, as an unreachable bucket does.
type failingStore struct{ objectstore.Store }

var errUnreachable = errors.New("dial tcp 127.0.0.1:1: connection refused")

func (failingStore) List(context.Context, objectstore.ListOptions) (objectstore.ListPage, error) {
	return objectstore.ListPage{}, errUnreachable
}

func (failingStore) Attrs(context.Context, string) (objectstore.ObjectAttrs, error) {
	return objectstore.ObjectAttrs{}, errUnreachable
}
