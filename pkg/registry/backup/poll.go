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

	listed := map[string]listedBackup{}
	var err error
	for _, prefix := range ix.layout.Prefixes() {
		err = objectstore.ListAll(ctx, ix.store, prefix, func(a objectstore.ObjectAttrs) error {
			if ref, ok := ix.layout.ParseMetadataKey(a.Key); ok {
				listed[id(ref.Namespace, ref.Name)] = listedBackup{ref: ref, attrs: a}
			}
			return nil
		})
		if err != nil {
			break
		}
	}
	if err != nil {
		err = ix.unavailable(err)
		ix.mu.Lock()
		ix.syncErr = err
		ix.finishPoll()
		ix.mu.Unlock()
		return err
	}

	// Read only what is new or changed since we last saw it.
	var changed []listedBackup
	ix.mu.RLock()
	for key, l := range listed {
		if e, ok := ix.items[key]; ok && e.gen == l.attrs.Generation {
			continue
		}
		if g, ok := ix.bad[key]; ok && g == l.attrs.Generation {
			continue
		}
		changed = append(changed, l)
	}
	ix.mu.RUnlock()
	loaded, readErr := ix.readAll(ctx, changed)

	ix.mu.Lock()
	defer ix.mu.Unlock()
	for _, l := range loaded {
		ix.applyLocked(id(l.obj.Namespace, l.obj.Name), l.obj, l.gen, start)
	}
	for key, e := range ix.items {
		if _, ok := listed[key]; !ok && e.seen <= start {
			ix.removeLocked(key)
		}
	}
	for key := range ix.bad {
		if _, ok := listed[key]; !ok {
			delete(ix.bad, key)
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

// listedBackup is a metadata file found by a poll.
type listedBackup struct {
	ref   backupstore.Backup
	attrs objectstore.ObjectAttrs
}

type loadedBackup struct {
	obj *ark.Backup
	gen int64
}

// readAll reads and decodes changed metadata files, a few at a time.
// Undecodable files are remembered and logged, never fatal: one corrupt file
// must not hide every other backup.
func (ix *index) readAll(ctx context.Context, listed []listedBackup) ([]loadedBackup, error) {
	var (
		mu      sync.Mutex
		out     []loadedBackup
		firstEr error
		wg      sync.WaitGroup
		sem     = make(chan struct{}, readConcurrency)
	)
	for _, l := range listed {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			obj, gen, err := ix.read(ctx, l.ref)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				out = append(out, loadedBackup{obj, gen})
			case errors.Is(err, objectstore.ErrNotFound):
				// Deleted between list and read: the next poll sees it gone.
			case errors.Is(err, errCorrupt):
				klog.ErrorS(err, "Ignoring unreadable backup metadata", "location", ix.location, "backup", klog.KRef(l.ref.Namespace, l.ref.Name))
				ix.mu.Lock()
				ix.bad[id(l.ref.Namespace, l.ref.Name)] = l.attrs.Generation
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

// read fetches and decodes one ark-backup.json. Where the file is decides
// the backup's namespace and name, whatever the file says: backups/ holds
// the home namespace's (as Heptio Ark wrote them, and earlier versions of
// Ark wrote every namespace's, which administrators now find in the home
// namespace), namespaces/<ns>/backups/ another namespace's.
func (ix *index) read(ctx context.Context, ref backupstore.Backup) (*ark.Backup, int64, error) {
	data, attrs, err := objectstore.ReadAll(ctx, ix.store, ref.MetadataKey(), maxMetadataSize)
	if err != nil {
		return nil, 0, err
	}
	obj, err := ix.decode(data)
	if err != nil {
		return nil, 0, fmt.Errorf("%w %s: %v", errCorrupt, ref.MetadataKey(), err)
	}
	obj.Name, obj.Namespace = ref.Name, ref.Namespace
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
