// Package janitor removes what a crashed ark-apiserver leaves behind: the
// partial uploads of a file bucket and the scratch directories of restores.
// It runs on every replica (each has its own temporary directory), on start
// and then periodically, and removes only what no live process holds and
// what is older than a bound; it never touches anything else.
//
// A backup's live log is not the janitor's: the backup controller turns an
// interrupted backup's live log into its log when it marks it Failed.
package janitor

import (
	"context"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/klog/v2"

	"github.com/arkproject/ark/pkg/objectstore"
	"github.com/arkproject/ark/pkg/restore"
)

// Janitor sweeps one server's litter.
type Janitor struct {
	// Store is a backup storage location; it is swept if it keeps local
	// uploads (objectstore.Janitor).
	Store objectstore.Store
	// Stores, when set, returns more locations to sweep the same way, at
	// each sweep: the ReadWrite ones being served then.
	Stores func() []objectstore.Store
	// ScratchDir is where restores unpack backups; "" is the temporary
	// directory, as for restores.
	ScratchDir string
	// OlderThan is how long something must have been left untouched (and
	// unheld) before it counts as abandoned.
	OlderThan time.Duration
}

// Interval is how often Run sweeps: often enough that litter does not
// outlive its bound by much, never more than every ten minutes.
func (j Janitor) Interval() time.Duration {
	return min(max(j.OlderThan/2, time.Second), 10*time.Minute)
}

// Run sweeps now and then every Interval until ctx ends.
func (j Janitor) Run(ctx context.Context) {
	klog.InfoS("Starting the janitor of abandoned uploads and restore scratch directories", "olderThan", j.OlderThan, "interval", j.Interval())
	wait.UntilWithContext(ctx, j.Sweep, j.Interval())
}

// Sweep removes what is abandoned now.
func (j Janitor) Sweep(ctx context.Context) {
	stores := []objectstore.Store{j.Store}
	if j.Stores != nil {
		stores = append(stores, j.Stores()...)
	}
	swept := map[string]bool{}
	for _, store := range stores {
		sweeper, ok := store.(objectstore.Janitor)
		if !ok || swept[store.String()] {
			continue
		}
		swept[store.String()] = true
		n, err := sweeper.RemoveAbandonedUploads(ctx, j.OlderThan)
		if err != nil {
			klog.ErrorS(err, "Removing abandoned uploads", "location", store.String())
		}
		if n > 0 {
			klog.InfoS("Removed abandoned uploads", "location", store.String(), "count", n)
		}
	}
	n, err := restore.CleanScratch(j.ScratchDir, j.OlderThan)
	if err != nil {
		klog.ErrorS(err, "Removing abandoned restore scratch directories")
	}
	if n > 0 {
		klog.InfoS("Removed abandoned restore scratch directories", "count", n)
	}
}
