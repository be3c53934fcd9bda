package backup

import (
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/arkproject/ark/pkg/apis/ark"
	"github.com/arkproject/ark/pkg/provenance"
)

// Sharing what repeats between records.
//
// Most of a backup record repeats from one backup to the next: a schedule's
// backups carry the same labels, namespaces, excluded resources, requester
// and groups, cluster annotation and phase. Decoded, each record holds its
// own copy of all of it, and at 100,000 backups the copies are most of the
// index. The index holds its objects read-only (it replaces an object, never
// changes it, and everything that hands one out deep-copies it or requires
// its reader to), so objects may share equal strings, slices, label maps
// and requesters; shareRepeats makes them do so as a record is loaded.

const (
	// shareTableSize bounds what the table keeps: a bucket whose values
	// never repeat (every label different) would otherwise grow it
	// without end. Full, it starts over: objects keep what they share,
	// and later ones share new copies.
	shareTableSize = 4096
	// shareMaxLen leaves long strings (failure reasons) alone: they
	// rarely repeat, and a table of them would cost more than it saves.
	shareMaxLen = 256
)

// shareTable holds one canonical copy of each value it has seen.
type shareTable struct {
	mu    sync.Mutex
	strs  map[string]string
	lists map[string][]string
	maps  map[string]map[string]string
	users map[string]*ark.UserInfo
	size  int
}

func (t *shareTable) resetLocked() {
	t.strs = map[string]string{}
	t.lists = map[string][]string{}
	t.maps = map[string]map[string]string{}
	t.users = map[string]*ark.UserInfo{}
	t.size = 0
}

// roomLocked makes room for one more value.
func (t *shareTable) roomLocked() {
	if t.strs == nil || t.size >= shareTableSize {
		t.resetLocked()
	}
	t.size++
}

// shareRepeats replaces the parts of b that equal those of a backup loaded
// before with that backup's, so that they are held once. b must be the
// caller's alone (just decoded).
func (t *shareTable) shareRepeats(b *ark.Backup) {
	t.mu.Lock()
	defer t.mu.Unlock()
	// The name may be a slice of a listed key, which it would keep alive.
	b.Name = strings.Clone(b.Name)
	b.Namespace = t.strLocked(b.Namespace)
	b.GenerateName = t.strLocked(b.GenerateName)
	b.Labels = t.mapLocked(b.Labels)
	// Annotations hold the record's signature, which differs for every
	// backup: the map stays the backup's own; its keys and the cluster
	// it names are shared.
	if len(b.Annotations) > 0 {
		shared := make(map[string]string, len(b.Annotations))
		for k, v := range b.Annotations {
			if k != provenance.SignatureAnnotation { // unique: it would only fill the table
				v = t.strLocked(v)
			}
			shared[t.strLocked(k)] = v
		}
		b.Annotations = shared
	}
	b.Finalizers = t.listLocked(b.Finalizers)

	s := &b.Spec
	s.IncludedNamespaces = t.listLocked(s.IncludedNamespaces)
	s.ExcludedNamespaces = t.listLocked(s.ExcludedNamespaces)
	s.IncludedResources = t.listLocked(s.IncludedResources)
	s.ExcludedResources = t.listLocked(s.ExcludedResources)
	s.IncludeClusterResources = sharedBool(s.IncludeClusterResources)
	s.SnapshotVolumes = sharedBool(s.SnapshotVolumes)
	s.StorageLocation = t.strLocked(s.StorageLocation)
	s.Requester = t.userLocked(s.Requester)

	st := &b.Status
	st.Phase = ark.BackupPhase(t.strLocked(string(st.Phase)))
	st.ValidationErrors = t.listLocked(st.ValidationErrors)
	st.FailureReason = t.strLocked(st.FailureReason)
}

func (t *shareTable) strLocked(s string) string {
	if s == "" || len(s) > shareMaxLen {
		return s
	}
	if c, ok := t.strs[s]; ok {
		return c
	}
	t.roomLocked()
	t.strs[s] = s
	return s
}

// keyOf encodes strings unambiguously (each with its length), as a key of
// the table.
func keyOf(strs ...string) string {
	var k strings.Builder
	for _, s := range strs {
		k.WriteString(strconv.Itoa(len(s)))
		k.WriteByte(':')
		k.WriteString(s)
	}
	return k.String()
}

func (t *shareTable) listLocked(l []string) []string {
	if len(l) == 0 {
		return l
	}
	k := keyOf(l...)
	if len(k) > shareMaxLen {
		return l
	}
	if c, ok := t.lists[k]; ok {
		return c
	}
	c := make([]string, len(l))
	for i, s := range l {
		c[i] = t.strLocked(s)
	}
	// A full slice: an append to a shared one copies it, never writes
	// into what another backup holds.
	c = slices.Clip(c)
	t.roomLocked()
	t.lists[k] = c
	return c
}

func (t *shareTable) mapLocked(m map[string]string) map[string]string {
	if len(m) == 0 {
		return m
	}
	keys := slices.Sorted(maps.Keys(m))
	kv := make([]string, 0, 2*len(keys))
	for _, k := range keys {
		kv = append(kv, k, m[k])
	}
	k := keyOf(kv...)
	if len(k) > shareMaxLen {
		return m
	}
	if c, ok := t.maps[k]; ok {
		return c
	}
	c := make(map[string]string, len(m))
	for k, v := range m {
		c[t.strLocked(k)] = t.strLocked(v)
	}
	t.roomLocked()
	t.maps[k] = c
	return c
}

func (t *shareTable) userLocked(u *ark.UserInfo) *ark.UserInfo {
	if u == nil || len(u.Extra) > 0 {
		return u // extra attributes are rare and nested: kept as they are
	}
	k := keyOf(append([]string{u.Username, u.UID}, u.Groups...)...)
	if len(k) > shareMaxLen {
		return u
	}
	if c, ok := t.users[k]; ok {
		return c
	}
	c := &ark.UserInfo{Username: t.strLocked(u.Username), UID: t.strLocked(u.UID), Groups: t.listLocked(u.Groups)}
	t.roomLocked()
	t.users[k] = c
	return c
}

var sharedTrue, sharedFalse = true, false

func sharedBool(b *bool) *bool {
	switch {
	case b == nil:
		return nil
	case *b:
		return &sharedTrue
	default:
		return &sharedFalse
	}
}
