// Package fairshare keeps one namespace from holding every worker of a
// controller. Backups and restores of the home namespace (the
// administrators') are limited only by the workers; every other namespace
// may run at most PerNamespace at once, and all of them together at most
// all workers but one, so the administrators' work and other tenants'
// keep moving while one tenant's long hooks run. Operations that find no
// slot wait in the queue and are retried; the queue's order across
// namespaces is first come, first served.
package fairshare

import "sync"

// Slots counts the operations running per namespace.
type Slots struct {
	// Home is the namespace whose operations only the workers bound.
	Home string
	// Workers is how many operations the controller runs at once.
	Workers int
	// PerNamespace bounds each other namespace; 0 means 1.
	PerNamespace int

	mu      sync.Mutex
	running map[string]int
	tenants int
}

// TryAcquire takes a slot for an operation of namespace ns, if one is free.
func (s *Slots) TryAcquire(ns string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.running == nil {
		s.running = map[string]int{}
	}
	if ns != s.Home {
		per := s.PerNamespace
		if per <= 0 {
			per = 1
		}
		if s.running[ns] >= per || s.tenants >= max(s.Workers-1, 1) {
			return false
		}
		s.tenants++
	}
	s.running[ns]++
	return true
}

// Release gives back a slot taken by TryAcquire.
func (s *Slots) Release(ns string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.running[ns] == 0 {
		return
	}
	s.running[ns]--
	if s.running[ns] == 0 {
		delete(s.running, ns)
	}
	if ns != s.Home {
		s.tenants--
	}
}
