package backup

import (
	"errors"
	"time"
)

// Health is what the latest poll of the bucket found: what the location's
// status reports.
type Health struct {
	// LastSynced is when the bucket was last listed successfully; zero
	// before the first success.
	LastSynced time.Time
	// Backups is how many backups the API serves from the bucket, in every
	// namespace, as of the latest successful poll.
	Backups int
	// Err says why the latest poll failed, or that none has succeeded yet;
	// nil when the bucket answered it.
	Err error
}

// Health reports on the latest poll. It reads the poller's own result
// rather than listing the bucket again, so reporting adds no requests.
func (r *REST) Health() Health {
	r.ix.mu.RLock()
	defer r.ix.mu.RUnlock()
	h := Health{LastSynced: r.ix.lastSync, Backups: len(r.ix.items), Err: r.ix.syncErr}
	if h.Err == nil && !r.ix.synced {
		h.Err = errors.New("backups have not been loaded from the bucket yet")
	}
	return h
}
