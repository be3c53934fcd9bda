package backup

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/klog/v2"

	"github.com/arkproject/ark/pkg/apis/ark"
	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
	"github.com/arkproject/ark/pkg/backupstore"
	"github.com/arkproject/ark/pkg/objectstore"
)

// pollTimeout bounds one poll, so an unreachable bucket is reported rather
// than waited for.
const pollTimeout = 30 * time.Second

// run polls the bucket every interval until ctx ends.
func (ix *index) run(ctx context.Context, interval time.Duration) {
	wait.UntilWithContext(ctx, func(ctx context.Context) {
		ctx, cancel := context.WithTimeout(ctx, pollTimeout)
		defer cancel()
		if err := ix.poll(ctx); err != nil {
			klog.ErrorS(err, "Polling backup storage location failed", "location", ix.location)
		}
	}, interval)
}

// poll lists the bucket and brings the index up to date with it.
func (ix *index) poll(ctx context.Context) error {
	ix.mu.RLock()
	start := ix.rev
	ix.mu.RUnlock()

	listed := map[string]objectstore.ObjectAttrs{}
	err := objectstore.ListAll(ctx, ix.store, backupstore.BackupsPrefix, func(a objectstore.ObjectAttrs) error {
		if name, ok := nameFromKey(a.Key); ok {
			listed[name] = a
		}
		return nil
	})
	if err != nil {
		err = ix.unavailable(err)
		ix.mu.Lock()
		ix.syncErr = err
		ix.finishPoll()
		ix.mu.Unlock()
		return err
	}

	// Read only what is new or changed since we last saw it.
	var changed []objectstore.ObjectAttrs
	ix.mu.RLock()
	for name, a := range listed {
		if e, ok := ix.items[name]; ok && e.gen == a.Generation {
			continue
		}
		if g, ok := ix.bad[name]; ok && g == a.Generation {
			continue
		}
		changed = append(changed, a)
	}
	ix.mu.RUnlock()
	loaded, readErr := ix.readAll(ctx, changed)

	ix.mu.Lock()
	defer ix.mu.Unlock()
	for _, l := range loaded {
		ix.applyLocked(l.name, l.obj, l.gen, start)
	}
	for name, e := range ix.items {
		if _, ok := listed[name]; !ok && e.seen <= start {
			ix.removeLocked(name)
		}
	}
	for name := range ix.bad {
		if _, ok := listed[name]; !ok {
			delete(ix.bad, name)
		}
	}
	if readErr != nil {
		ix.syncErr = ix.unavailable(readErr)
	} else {
		ix.syncErr = nil
		if !ix.synced {
			ix.synced = true
			ix.ringBase = ix.rev
			klog.InfoS("Loaded backups from storage location", "location", ix.location, "backups", len(ix.items))
		}
	}
	ix.finishPoll()
	return ix.syncErr
}

func (ix *index) finishPoll() {
	close(ix.pollDone)
	ix.pollDone = make(chan struct{})
}

// nextPoll returns a channel closed when the poll after now has finished.
func (ix *index) nextPoll() <-chan struct{} {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return ix.pollDone
}

type loadedBackup struct {
	name string
	obj  *ark.Backup
	gen  int64
}

// readAll reads and decodes changed metadata files, a few at a time.
// Undecodable files are remembered and logged, never fatal: one corrupt file
// must not hide every other backup.
func (ix *index) readAll(ctx context.Context, attrs []objectstore.ObjectAttrs) ([]loadedBackup, error) {
	var (
		mu      sync.Mutex
		out     []loadedBackup
		firstEr error
		wg      sync.WaitGroup
		sem     = make(chan struct{}, readConcurrency)
	)
	for _, a := range attrs {
		name, _ := nameFromKey(a.Key)
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			obj, gen, err := ix.read(ctx, name)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				out = append(out, loadedBackup{name, obj, gen})
			case errors.Is(err, objectstore.ErrNotFound):
				// Deleted between list and read: the next poll sees it gone.
			case errors.Is(err, errCorrupt):
				klog.ErrorS(err, "Ignoring unreadable backup metadata", "location", ix.location, "backup", name)
				ix.mu.Lock()
				ix.bad[name] = a.Generation
				ix.mu.Unlock()
			default:
				if firstEr == nil {
					firstEr = err
				}
			}
		}()
	}
	wg.Wait()
	return out, firstEr
}

var (
	errCorrupt = errors.New("corrupt backup metadata")
	defaultGVK = arkv1.SchemeGroupVersion.WithKind("Backup")
)

// read fetches and decodes one ark-backup.json. The directory name is the
// backup's name whatever the file says, and a file with no namespace belongs
// to the home namespace (as files written by Heptio Ark do).
func (ix *index) read(ctx context.Context, name string) (*ark.Backup, int64, error) {
	data, attrs, err := objectstore.ReadAll(ctx, ix.store, MetadataKey(name), maxMetadataSize)
	if err != nil {
		return nil, 0, err
	}
	obj, err := ix.decode(data)
	if err != nil {
		return nil, 0, fmt.Errorf("%w %s: %v", errCorrupt, MetadataKey(name), err)
	}
	obj.Name = name
	if obj.Namespace == "" {
		obj.Namespace = ix.home
	}
	obj.ResourceVersion = strconv.FormatInt(attrs.Generation, 10)
	return obj, attrs.Generation, nil
}

func (ix *index) decode(data []byte) (*ark.Backup, error) {
	// Files without apiVersion/kind are read as ark.heptio.com/v1 Backups.
	out, _, err := ix.decoder.Decode(data, &defaultGVK, nil)
	if err != nil {
		return nil, err
	}
	b, ok := out.(*ark.Backup)
	if !ok {
		return nil, fmt.Errorf("holds a %T, not a Backup", out)
	}
	return b, nil
}
