package fairshare

import "testing"

// One namespace gets PerNamespace slots, tenants together all workers but
// one, and the home namespace always finds the last one.
func TestSlots(t *testing.T) {
	s := &Slots{Home: "heptio-ark", Workers: 3}
	if !s.TryAcquire("a") {
		t.Fatal("first of a")
	}
	if s.TryAcquire("a") {
		t.Error("a holds a second slot")
	}
	if !s.TryAcquire("b") {
		t.Fatal("b is kept out by a")
	}
	if s.TryAcquire("c") {
		t.Error("tenants took the last worker")
	}
	for i := 0; i < 2; i++ {
		if !s.TryAcquire("heptio-ark") {
			t.Errorf("the home namespace is kept out by tenants (slot %d)", i+1)
		}
	}
	s.Release("a")
	if !s.TryAcquire("c") {
		t.Error("c waits after a finished")
	}
	s.Release("nobody") // harmless
	s.Release("b")
	s.Release("c")
	if !s.TryAcquire("a") || !s.TryAcquire("b") {
		t.Error("slots were not given back")
	}

	one := &Slots{Home: "h", Workers: 1, PerNamespace: 2}
	if !one.TryAcquire("a") || one.TryAcquire("a") {
		t.Error("with one worker a tenant gets exactly one slot")
	}
}
