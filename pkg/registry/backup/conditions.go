package backup

import (
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/arkproject/ark/pkg/apis/ark"
	"github.com/arkproject/ark/pkg/backupstore/encryption"
)

// A Backup's conditions are what this server observes of it as it serves
// it, not what anyone recorded: they are derived whenever the index takes
// in a record and whenever a location's keys change, and they are never
// written to the bucket (see encode), so neither a client nor a record
// planted in the bucket can set them.

// keyCondition is the EncryptionKeyAvailable condition of an encrypted
// backup served from a location with keys, or nil for a plaintext one. The
// transition time of a condition of the same status in prev is kept, so
// re-reading a record does not make its key look newly lost or found.
// message makes the condition's message for a key ID.
func keyCondition(keys *encryption.Keyring, b, prev *ark.Backup, now time.Time, message func(id string, held bool) string) *metav1.Condition {
	id := b.Status.EncryptionKeyID
	if id == "" {
		return nil
	}
	c := metav1.Condition{Type: ark.BackupConditionEncryptionKeyAvailable, Status: metav1.ConditionTrue, Reason: ark.BackupReasonKeyHeld}
	held := keys.Has(id)
	if !held {
		c.Status, c.Reason = metav1.ConditionFalse, ark.BackupReasonKeyNotHeld
	}
	c.Message = message(id, held)
	c.LastTransitionTime = metav1.NewTime(now)
	if prev != nil {
		if old := meta.FindStatusCondition(prev.Status.Conditions, c.Type); old != nil && old.Status == c.Status {
			c.LastTransitionTime = old.LastTransitionTime
		}
	}
	return &c
}

// deriveLocked replaces b's conditions with those this server observes of
// it in location loc. b must not be shared yet: it is changed in place.
func (ix *index) deriveLocked(loc string, b, prev *ark.Backup) {
	b.Status.Conditions = nil
	s, ok := ix.sources[loc]
	if !ok {
		return
	}
	if c := keyCondition(s.loc.Keys, b, prev, ix.clock.Now(), ix.keyMessageLocked); c != nil {
		b.Status.Conditions = []metav1.Condition{*c}
	}
}

// keyMessageLocked is the message of the key condition of a backup under
// key id, held or not. Backups under one key share one message string: a
// location holds many backups and few keys.
func (ix *index) keyMessageLocked(id string, held bool) string {
	k := keyMessage{id: id, held: held}
	if m, ok := ix.keyMessages[k]; ok {
		return m
	}
	m := fmt.Sprintf("the location's key Secret holds key %q, which the backup is written with", id)
	if !held {
		m = fmt.Sprintf("%v: the backup cannot be read or restored until the key is put back in the location's key Secret", &encryption.KeyNotHeldError{KeyID: id})
	}
	if len(ix.keyMessages) >= maxKeyMessages {
		clear(ix.keyMessages) // IDs come from the bucket: keep what they can cost bounded
	}
	ix.keyMessages[k] = m
	return m
}

type keyMessage struct {
	id   string
	held bool
}

// maxKeyMessages bounds the shared messages.
const maxKeyMessages = 1024

// rederiveLocked derives again the conditions of the backups served from
// loc, after its keys changed, and tells watchers of each one that
// changed: a key put back into the Secret shows on its backups at once.
func (ix *index) rederiveLocked(loc string) {
	for _, e := range ix.items {
		if e.loc != loc || e.obj.Status.EncryptionKeyID == "" {
			continue
		}
		next := *e.obj // shallow: the index's objects are never changed in place once served
		ix.deriveLocked(loc, &next, e.obj)
		if sameConditions(next.Status.Conditions, e.obj.Status.Conditions) {
			continue
		}
		prev := e.obj
		e.obj = &next
		ix.rev++
		ix.emitLocked(event{rev: ix.rev, typ: watch.Modified, obj: e.obj, prev: prev})
	}
}

// sameConditions compares conditions by what they say, not when.
func sameConditions(a, b []metav1.Condition) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Type != b[i].Type || a[i].Status != b[i].Status || a[i].Reason != b[i].Reason || a[i].Message != b[i].Message {
			return false
		}
	}
	return true
}
