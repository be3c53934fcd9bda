package locations

import (
	"errors"
	"testing"

	"github.com/arkproject/ark/pkg/backupstore"
)

func names(locs []*Location) []string {
	var out []string
	for _, l := range locs {
		out = append(out, l.Name)
	}
	return out
}

func TestPrecedenceAndDefault(t *testing.T) {
	s := NewSet(
		&Location{Name: "z-rw"},
		&Location{Name: "a-ro", ReadOnly: true},
		&Location{Name: "primary", Primary: true},
		&Location{Name: "b-rw"},
	)
	if got, want := names(s.All()), []string{"primary", "b-rw", "z-rw", "a-ro"}; !equal(got, want) {
		t.Errorf("All() = %v, want %v", got, want)
	}
	if d, _ := s.Default(); d.Name != "primary" {
		t.Errorf("default with none marked = %s", d.Name)
	}
	p, _ := s.Get("primary")
	p.Default = true
	z, _ := s.Get("z-rw")
	z.Default = true
	if d, _ := s.Default(); d.Name != "z-rw" {
		t.Errorf("default = %s, want z-rw: a location marked default takes over from the primary one", d.Name)
	}
	if l, _ := s.Resolve(""); l.Name != "z-rw" {
		t.Errorf("Resolve(\"\") = %s", l.Name)
	}
	if _, err := s.Resolve("nope"); !errors.Is(err, ErrUnknown) {
		t.Errorf("Resolve(nope) = %v", err)
	}
}

func TestWritableAndRestoreFiles(t *testing.T) {
	down := errors.New("bad key")
	s := NewSet(&Location{Name: "primary", Primary: true}, &Location{Name: "ro", ReadOnly: true}, &Location{Name: "broken", Err: down})
	if _, err := s.WritableStore("ro"); !errors.Is(err, ErrReadOnly) {
		t.Errorf("WritableStore(ro) = %v", err)
	}
	if _, err := s.ReadableStore("ro"); err != nil {
		t.Errorf("ReadableStore(ro) = %v", err)
	}
	if _, err := s.ReadableStore("broken"); !errors.Is(err, down) {
		t.Errorf("ReadableStore(broken) = %v", err)
	}
	if l, _ := s.ForRestoreFiles("ro"); l.Name != "primary" {
		t.Errorf("restore files of a ReadOnly location's backup go to %s, want the default", l.Name)
	}
	if l, _ := s.ForRestoreFiles("broken"); l.Name != "broken" {
		t.Errorf("restore files of a writable location's backup go to %s", l.Name)
	}
}

func TestChangesAreAnnounced(t *testing.T) {
	s := NewSet()
	calls := 0
	s.OnChange(func() { calls++ })
	s.Put(&Location{Name: "a"})
	s.Remove("a")
	s.Remove("a") // gone already: nothing to announce
	if calls != 2 {
		t.Errorf("%d change calls, want 2", calls)
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// A Velero bucket is never written, whatever its access mode says, and a
// restore from it keeps its files in the default location.
func TestVeleroLocationIsNeverWritten(t *testing.T) {
	s := NewSet(&Location{Name: "primary", Primary: true}, &Location{Name: "velero", Format: backupstore.FormatVelero})
	if _, err := s.WritableStore("velero"); !errors.Is(err, ErrReadOnly) {
		t.Errorf("WritableStore(velero) = %v, want ErrReadOnly", err)
	}
	if _, readOnly := s.Location("velero"); !readOnly {
		t.Errorf("a velero location must count as ReadOnly")
	}
	if l, err := s.ForRestoreFiles("velero"); err != nil || l.Name != "primary" {
		t.Errorf("ForRestoreFiles(velero) = %v, %v; want the primary location", l, err)
	}
	if len(s.WritableStores()) != 1 {
		t.Errorf("WritableStores holds %d stores, want the primary's only", len(s.WritableStores()))
	}
}
