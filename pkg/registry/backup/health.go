package backup

import (
	"errors"
	"time"
)

// Health is what the latest poll of a location's bucket found: what the
// location's status reports.
type Health struct {
	// LastSynced is when the bucket was last listed successfully; zero
	// before the first success.
	LastSynced time.Time
	// Backups is how many backups the API serves from the bucket, in every
	// namespace, as of the latest successful poll.
	Backups int
	// Shadowed is how many of the bucket's backups are not served because
	// a location that comes first holds a backup of the same name.
	Shadowed int
	// Err says why the latest poll failed, or that none has succeeded yet;
	// nil when the bucket answered it.
	Err error
	// ByKey counts the encrypted backups served from the bucket by the
	// key ID their records name.
	ByKey map[string]int
}

// Health reports on the latest poll of a location. It reads the poller's
// own result rather than listing the bucket again, so reporting adds no
// requests.
func (r *REST) Health(location string) Health {
	r.ix.mu.RLock()
	defer r.ix.mu.RUnlock()
	s, ok := r.ix.sources[location]
	if !ok {
		return Health{Err: errors.New("not served by this server")}
	}
	h := Health{LastSynced: s.lastSync, Shadowed: len(s.shadowed), Err: s.syncErr}
	for _, e := range r.ix.items {
		if e.loc == location {
			h.Backups++
			if id := e.obj.Status.EncryptionKeyID; id != "" {
				if h.ByKey == nil {
					h.ByKey = map[string]int{}
				}
				h.ByKey[id]++
			}
		}
	}
	if h.Err == nil && s.loc.Err != nil {
		h.Err = s.unavailable(s.loc.Err) // it could not be opened: no poll will say more
	}
	if h.Err == nil && !s.synced {
		h.Err = errNotLoaded
	}
	return h
}
