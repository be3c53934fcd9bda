package backup

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/arkproject/ark/pkg/apis/ark"
	"github.com/arkproject/ark/pkg/backupstore/backupstoretest"
	"github.com/arkproject/ark/pkg/backupstore/encryption"
	"github.com/arkproject/ark/pkg/locations"
	"github.com/arkproject/ark/pkg/objectstore"
)

func keyring(t *testing.T, active string, ids ...string) *encryption.Keyring {
	k, _ := backupstoretest.Keys(t, active, ids...)
	return k
}

func keyAvailable(t *testing.T, r *REST, name string) *metav1.Condition {
	t.Helper()
	obj, err := r.Get(nsContext(home), name, &metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get %s: %v", name, err)
	}
	return meta.FindStatusCondition(obj.(*ark.Backup).Status.Conditions, ark.BackupConditionEncryptionKeyAvailable)
}

// An encrypted backup is served with a condition saying whether the
// location's key Secret holds its key: False, naming the key, when it does
// not, and True as soon as the key is back, which watchers are told of.
// The condition is the server's alone: what a record in the bucket or a
// client says of it is ignored, and it is never written to the bucket.
func TestEncryptionKeyCondition(t *testing.T) {
	store, err := objectstore.NewFileStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	locs := locations.NewSet(&locations.Location{Name: "default", Store: store, Primary: true, Keys: keyring(t, "k1", "k1")})
	ctx := context.Background()
	// k0 is not held; the record also claims a condition saying it is.
	planted := `{"apiVersion":"ark.heptio.com/v1","kind":"Backup","metadata":{"name":"old","namespace":"heptio-ark"},"status":{"phase":"Completed","encryptionKeyID":"k0",` +
		`"conditions":[{"type":"EncryptionKeyAvailable","status":"True","reason":"KeyHeld","message":"trust me","lastTransitionTime":"2020-01-01T00:00:00Z"}]}}`
	for name, body := range map[string]string{
		"old":   planted,
		"new":   `{"apiVersion":"ark.heptio.com/v1","kind":"Backup","metadata":{"name":"new","namespace":"heptio-ark"},"status":{"phase":"Completed","encryptionKeyID":"k1"}}`,
		"plain": `{"apiVersion":"ark.heptio.com/v1","kind":"Backup","metadata":{"name":"plain","namespace":"heptio-ark"},"status":{"phase":"Completed"}}`,
	} {
		if _, err := objectstore.PutBytes(ctx, store, metaKey(home, name), []byte(body), objectstore.Conditions{}); err != nil {
			t.Fatal(err)
		}
	}
	r := serveLocations(t, locs, nil, nil, 50*time.Millisecond)
	waitPoll(t, r)

	c := keyAvailable(t, r, "old")
	if c == nil || c.Status != metav1.ConditionFalse || c.Reason != ark.BackupReasonKeyNotHeld || !strings.Contains(c.Message, `written with key "k0", which this server does not hold`) {
		t.Fatalf("backup under a key not held: %+v", c)
	}
	if c := keyAvailable(t, r, "new"); c == nil || c.Status != metav1.ConditionTrue || c.Reason != ark.BackupReasonKeyHeld {
		t.Errorf("backup under the active key: %+v", c)
	}
	if c := keyAvailable(t, r, "plain"); c != nil {
		t.Errorf("a plaintext backup has a key condition: %+v", c)
	}
	table, err := r.ConvertToTable(nsContext(home), mustGet(t, r, "old"), nil)
	if err != nil || len(table.Rows) != 1 || table.Rows[0].Cells[1] != "Completed (key k0 not held)" {
		t.Errorf("table status of a backup whose key is not held: %v %v", table, err)
	}

	// Putting k0 back into the Secret shows on the backup at once, in get
	// and in a watch started before.
	list, err := r.List(nsContext(home), &metainternalversion.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	w, err := r.Watch(nsContext(home), &metainternalversion.ListOptions{ResourceVersion: list.(*ark.BackupList).ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	locs.Put(&locations.Location{Name: "default", Store: store, Primary: true, Keys: keyring(t, "k1", "k0", "k1")})
	select {
	case ev := <-w.ResultChan():
		b, _ := ev.Object.(*ark.Backup)
		if ev.Type != watch.Modified || b == nil || b.Name != "old" || !meta.IsStatusConditionTrue(b.Status.Conditions, ark.BackupConditionEncryptionKeyAvailable) {
			t.Errorf("after the key came back, the watch got %s %+v", ev.Type, ev.Object)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the watch was not told the key came back")
	}
	if c := keyAvailable(t, r, "old"); c == nil || c.Status != metav1.ConditionTrue {
		t.Errorf("after the key came back: %+v", c)
	}

	// A client sending the condition changes nothing, and nothing of it
	// reaches the bucket.
	old := mustGet(t, r, "new")
	sent := old.DeepCopy()
	sent.Labels = map[string]string{"touched": "yes"}
	meta.SetStatusCondition(&sent.Status.Conditions, metav1.Condition{Type: ark.BackupConditionEncryptionKeyAvailable, Status: metav1.ConditionFalse, Reason: "Client", Message: "from the client"})
	obj, _, err := r.Update(nsContext(home), "new", rest.DefaultUpdatedObjectInfo(sent), nil, nil, false, &metav1.UpdateOptions{})
	if err != nil {
		t.Fatalf("update: %v", err)
	}
	if c := meta.FindStatusCondition(obj.(*ark.Backup).Status.Conditions, ark.BackupConditionEncryptionKeyAvailable); c == nil || c.Status != metav1.ConditionTrue {
		t.Errorf("the update's answer carries %+v", c)
	}
	if c := keyAvailable(t, r, "new"); c == nil || c.Status != metav1.ConditionTrue {
		t.Errorf("after an update sending the condition: %+v", c)
	}
	data, _, err := objectstore.ReadAll(ctx, store, metaKey(home, "new"), maxMetadataSize)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(data, []byte(`"touched"`)) || bytes.Contains(data, []byte("conditions")) {
		t.Errorf("the record written to the bucket:\n%s", data)
	}
}

func mustGet(t *testing.T, r *REST, name string) *ark.Backup {
	t.Helper()
	obj, err := r.Get(nsContext(home), name, &metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return obj.(*ark.Backup)
}
