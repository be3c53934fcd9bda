package backup

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/authentication/user"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/arkproject/ark/pkg/apis/ark"
	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
	"github.com/arkproject/ark/pkg/objectstore"
	"github.com/arkproject/ark/pkg/provenance"
)

// failingReads is a store whose reads of some keys fail as an I/O error
// would; running as root, a file's permissions cannot make it unreadable.
type failingReads struct {
	objectstore.Store
	keys map[string]bool
}

func (f failingReads) NewReader(ctx context.Context, key string) (io.ReadCloser, objectstore.ObjectAttrs, error) {
	if f.keys[key] {
		return nil, objectstore.ObjectAttrs{}, errors.New("input/output error")
	}
	return f.Store.NewReader(ctx, key)
}

func listAll(t *testing.T, r *REST, ns string) map[string]*ark.Backup {
	t.Helper()
	obj, err := r.List(nsContext(ns), &metainternalversion.ListOptions{})
	if err != nil {
		t.Fatalf("list: %v", err)
	}
	out := map[string]*ark.Backup{}
	for i := range obj.(*ark.BackupList).Items {
		b := &obj.(*ark.BackupList).Items[i]
		out[b.Name] = b
	}
	return out
}

// One bad record never hurts the others: each is listed as Corrupt with
// the reason, the good ones as they are, and a Corrupt one can only be
// deleted.
func TestBadRecordsAreListedAsCorrupt(t *testing.T) {
	mine, _ := provenance.NewSigner(bytes.Repeat([]byte{1}, provenance.KeySize), "here")
	r, store := newSignedREST(t, nil, mine)
	useStore(r, failingReads{Store: store, keys: map[string]bool{metaKey(home, "unreadable"): true}})
	ctx := context.Background()
	create(t, r, home, "good")
	bad := map[string]string{
		"oversized":  `{"metadata":{"name":"oversized"},"x":"` + strings.Repeat("a", 5<<20) + `"}`,
		"empty":      "",
		"null":       "null",
		"object":     "{}",
		"restore":    `{"apiVersion":"ark.heptio.com/v1","kind":"Restore","metadata":{"name":"restore"}}`,
		"garbage":    "\x1f\x8b not json",
		"misplaced":  `{"metadata":{"name":"elsewhere"},"status":{"phase":"Completed"}}`,
		"phase":      `{"metadata":{"name":"phase"},"status":{"phase":"Owned"}}`,
		"unreadable": `{"metadata":{"name":"unreadable"},"status":{"phase":"Completed"}}`,
	}
	want := map[string]string{
		"oversized": "larger than", "empty": "empty", "null": "names backup \"\"", "object": "names backup \"\"",
		"restore": "not a Backup", "garbage": "corrupt backup record", "misplaced": "names backup \"elsewhere\"",
		"phase": "not a phase", "unreadable": "input/output error",
	}
	for name, body := range bad {
		if _, err := objectstore.PutBytes(ctx, store, metaKey(home, name), []byte(body), objectstore.Conditions{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.WaitForNextPoll(ctx); err != nil {
		t.Fatal(err)
	}
	listed := listAll(t, r, home)
	if g := listed["good"]; g == nil || g.Status.Phase != "" && g.Status.Phase != ark.BackupPhaseNew {
		t.Fatalf("the good backup is not listed as it is: %+v", g)
	}
	for name, reason := range want {
		b := listed[name]
		if b == nil {
			t.Errorf("%s: not listed", name)
			continue
		}
		if b.Status.Phase != ark.BackupPhaseCorrupt || !strings.Contains(b.Status.FailureReason, reason) {
			t.Errorf("%s: listed as %s %q, want Corrupt with %q", name, b.Status.Phase, b.Status.FailureReason, reason)
		}
	}
	// Nothing was rewritten by reading.
	data, _, err := objectstore.ReadAll(ctx, store, metaKey(home, "object"), 1<<10)
	if err != nil || string(data) != "{}" {
		t.Errorf("the {} record became %q (%v)", data, err)
	}

	got, err := r.Get(nsContext(home), "null", &metav1.GetOptions{})
	if err != nil || got.(*ark.Backup).Status.Phase != ark.BackupPhaseCorrupt {
		t.Fatalf("get of a corrupt record: %v %+v", err, got)
	}
	// The patch handler takes an object without a UID for an absent one.
	if uid := got.(*ark.Backup).UID; uid == "" || uid != listed["null"].UID {
		t.Errorf("a corrupt record's UID is %q, listed as %q: want one, stable", uid, listed["null"].UID)
	}
	_, _, err = r.Update(nsContext(home), "null", rest.DefaultUpdatedObjectInfo(nil, func(_ context.Context, _, old runtime.Object) (runtime.Object, error) {
		b := old.(*ark.Backup).DeepCopy()
		b.Labels = map[string]string{"x": "y"}
		return b, nil
	}), nil, nil, false, &metav1.UpdateOptions{})
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "only deleted") {
		t.Errorf("update of a corrupt record: %v, want 422", err)
	}
	_, _, err = NewAdoptREST(r).Update(nsContext(home), "null", rest.DefaultUpdatedObjectInfo(nil), nil, nil, false, &metav1.UpdateOptions{})
	if !apierrors.IsInvalid(err) {
		t.Errorf("adoption of a corrupt record: %v, want 422", err)
	}

	obj, _, err := r.Delete(nsContext(home), "garbage", nil, &metav1.DeleteOptions{})
	if err != nil {
		t.Fatalf("delete of a corrupt record: %v", err)
	}
	deleting := obj.(*ark.Backup)
	if deleting.Status.Phase != ark.BackupPhaseDeleting || !strings.Contains(deleting.Status.FailureReason, "deleted as corrupt") || deleting.UID == "" {
		t.Errorf("deleted corrupt record: %+v", deleting.Status)
	}
	var v1b arkv1.Backup
	if err := arkv1.Convert_ark_Backup_To_v1_Backup(deleting, &v1b, nil); err != nil {
		t.Fatal(err)
	}
	if err := mine.Verify(&v1b); err != nil {
		t.Errorf("the Deleting record that replaces a corrupt one is not this cluster's: %v", err)
	}
}

// Adoption is the explicit takeover of a record this cluster's Ark did not
// accept; nothing adopted ever runs.
func TestAdopt(t *testing.T) {
	mine, _ := provenance.NewSigner(bytes.Repeat([]byte{1}, provenance.KeySize), "here")
	theirs, _ := provenance.NewSigner(bytes.Repeat([]byte{2}, provenance.KeySize), "there")
	r, store := newSignedREST(t, nil, mine)
	ctx := context.Background()
	put := func(name string, phase arkv1.BackupPhase, signer *provenance.Signer) {
		b := &arkv1.Backup{
			TypeMeta:   metav1.TypeMeta{APIVersion: "ark.heptio.com/v1", Kind: "Backup"},
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: home},
			Spec:       arkv1.BackupSpec{StorageLocation: "default", TTL: metav1.Duration{Duration: 3600e9}},
			Status:     arkv1.BackupStatus{Phase: phase},
		}
		if signer != nil {
			if err := signer.Sign(b); err != nil {
				t.Fatal(err)
			}
		}
		data, err := runtime.Encode(r.codec, b)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := objectstore.PutBytes(ctx, store, metaKey(home, name), data, objectstore.Conditions{}); err != nil {
			t.Fatal(err)
		}
	}
	put("theirs-done", arkv1.BackupPhaseCompleted, theirs)
	put("theirs-running", arkv1.BackupPhaseInProgress, theirs)
	put("unsigned-new", arkv1.BackupPhaseNew, nil)
	create(t, r, home, "ours")

	// Before adoption another cluster's backup cannot be deleted here.
	if _, _, err := r.Delete(nsContext(home), "theirs-done", nil, &metav1.DeleteOptions{}); !apierrors.IsForbidden(err) {
		t.Fatalf("delete of another cluster's backup: %v, want 403", err)
	}
	adopt := func(name string) *ark.Backup {
		t.Helper()
		obj, _, err := NewAdoptREST(r).Update(nsContext(home), name, rest.DefaultUpdatedObjectInfo(nil), nil, nil, false, &metav1.UpdateOptions{})
		if err != nil {
			t.Fatalf("adopt %s: %v", name, err)
		}
		b := obj.(*ark.Backup)
		var v1b arkv1.Backup
		if err := arkv1.Convert_ark_Backup_To_v1_Backup(b, &v1b, nil); err != nil {
			t.Fatal(err)
		}
		if err := mine.Verify(&v1b); err != nil {
			t.Errorf("adopted %s does not verify as this cluster's: %v", name, err)
		}
		return b
	}
	if b := adopt("theirs-done"); b.Status.Phase != ark.BackupPhaseCompleted || b.Annotations[arkv1.AnnotationAdoptedFrom] != "there" {
		t.Errorf("adopted completed backup: %s %v", b.Status.Phase, b.Annotations)
	}
	if b := adopt("theirs-running"); b.Status.Phase != ark.BackupPhaseFailed || !strings.Contains(b.Status.FailureReason, "adopted from cluster there while it was in progress") {
		t.Errorf("adopted running backup: %s %q", b.Status.Phase, b.Status.FailureReason)
	}
	if b := adopt("unsigned-new"); b.Status.Phase != ark.BackupPhaseFailedValidation || b.Annotations[arkv1.AnnotationAdoptedFrom] != AdoptedUnsigned || b.Status.Expiration == nil {
		t.Errorf("adopted unsigned new backup: %s %v %v", b.Status.Phase, b.Annotations, b.Status.Expiration)
	}
	before, _ := r.Get(nsContext(home), "ours", &metav1.GetOptions{})
	if b := adopt("ours"); b.ResourceVersion != before.(*ark.Backup).ResourceVersion || b.Annotations[arkv1.AnnotationAdoptedFrom] != "" {
		t.Errorf("adopting this cluster's own backup changed it: %v", b.Annotations)
	}
	// Once adopted, it is this cluster's to delete.
	if _, _, err := r.Delete(nsContext(home), "theirs-done", nil, &metav1.DeleteOptions{}); err != nil {
		t.Errorf("delete after adoption: %v", err)
	}
	// A client cannot claim an adoption through a plain update.
	_, _, err := r.Update(nsContext(home), "ours", rest.DefaultUpdatedObjectInfo(nil, func(_ context.Context, _, old runtime.Object) (runtime.Object, error) {
		b := old.(*ark.Backup).DeepCopy()
		b.Annotations[arkv1.AnnotationAdoptedFrom] = "forged"
		return b, nil
	}), nil, nil, false, &metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := r.Get(nsContext(home), "ours", &metav1.GetOptions{}); got.(*ark.Backup).Annotations[arkv1.AnnotationAdoptedFrom] != "" {
		t.Error("a client set the adopted-from annotation")
	}
}

// A server-side apply of a backup that does not exist creates it (the apply
// handler calls Update with forceAllowCreate); a plain update still 404s.
func TestUpdateCreatesWhenAllowed(t *testing.T) {
	mine, _ := provenance.NewSigner(bytes.Repeat([]byte{1}, provenance.KeySize), "here")
	r, _ := newSignedREST(t, nil, mine)
	applied := &ark.Backup{
		ObjectMeta: metav1.ObjectMeta{Name: "applied", Namespace: home, Labels: map[string]string{"via": "ssa"}},
		Spec:       ark.BackupSpec{StorageLocation: "default"},
	}
	if _, _, err := r.Update(nsContext(home), "applied", rest.DefaultUpdatedObjectInfo(applied.DeepCopy()), nil, nil, false, &metav1.UpdateOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("update of an absent backup without forceAllowCreate: %v, want 404", err)
	}
	obj, created, err := r.Update(nsContext(home), "applied", rest.DefaultUpdatedObjectInfo(applied.DeepCopy()), nil, nil, true, &metav1.UpdateOptions{FieldManager: "kubectl"})
	if err != nil || !created {
		t.Fatalf("apply of an absent backup: created=%v %v", created, err)
	}
	b := obj.(*ark.Backup)
	if b.UID == "" || b.Labels["via"] != "ssa" || b.Spec.Requester == nil || b.Spec.Requester.Username != "tester" {
		t.Errorf("created by apply: %+v", b.ObjectMeta)
	}
	var v1b arkv1.Backup
	if err := arkv1.Convert_ark_Backup_To_v1_Backup(b, &v1b, nil); err != nil {
		t.Fatal(err)
	}
	if err := mine.Verify(&v1b); err != nil {
		t.Errorf("a backup created by apply is not signed: %v", err)
	}
	// Applying again updates it (the apply handler patches the current object).
	obj, created, err = r.Update(nsContext(home), "applied", rest.DefaultUpdatedObjectInfo(nil, func(_ context.Context, _, old runtime.Object) (runtime.Object, error) {
		b := old.(*ark.Backup).DeepCopy()
		b.Labels["via"] = "ssa-again"
		return b, nil
	}), nil, nil, true, &metav1.UpdateOptions{})
	if err != nil || created || obj.(*ark.Backup).Labels["via"] != "ssa-again" {
		t.Errorf("second apply: created=%v %v %v", created, err, obj)
	}
	// A body naming another backup than the URL is refused.
	other := applied.DeepCopy()
	other.Name = "other"
	if _, _, err := r.Update(nsContext(home), "absent", rest.DefaultUpdatedObjectInfo(other), nil, nil, true, &metav1.UpdateOptions{}); !apierrors.IsBadRequest(err) {
		t.Errorf("apply with a mismatched name: %v", err)
	}
}

// A finished backup's retention can change: its expiration follows, its
// requester stays, and it is signed again; nothing else of its spec can.
func TestRetentionOfAFinishedBackup(t *testing.T) {
	mine, _ := provenance.NewSigner(bytes.Repeat([]byte{1}, provenance.KeySize), "here")
	r, _ := newSignedREST(t, nil, mine)
	b := create(t, r, home, "kept")
	start := metav1.NewTime(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC))
	status := &StatusREST{r: r}
	_, _, err := status.Update(nsContext(home), "kept", rest.DefaultUpdatedObjectInfo(nil, func(_ context.Context, _, old runtime.Object) (runtime.Object, error) {
		c := old.(*ark.Backup).DeepCopy()
		c.Status.Phase, c.Status.StartTimestamp = ark.BackupPhaseCompleted, &start
		exp := metav1.NewTime(start.Add(720 * time.Hour))
		c.Status.Expiration = &exp
		return c, nil
	}), nil, nil, false, &metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	as := func(name string) context.Context {
		return genericapirequest.WithUser(genericapirequest.WithNamespace(context.Background(), home), &user.DefaultInfo{Name: name})
	}
	change := func(mutate func(*ark.Backup)) (*ark.Backup, error) {
		obj, _, err := r.Update(as("someone-else"), "kept", rest.DefaultUpdatedObjectInfo(nil, func(_ context.Context, _, old runtime.Object) (runtime.Object, error) {
			c := old.(*ark.Backup).DeepCopy()
			mutate(c)
			return c, nil
		}), nil, nil, false, &metav1.UpdateOptions{})
		if err != nil {
			return nil, err
		}
		return obj.(*ark.Backup), nil
	}
	got, err := change(func(c *ark.Backup) { c.Spec.TTL = metav1.Duration{Duration: 48 * time.Hour} })
	if err != nil {
		t.Fatalf("changing the retention: %v", err)
	}
	if got.Status.Expiration == nil || !got.Status.Expiration.Equal(&metav1.Time{Time: start.Add(48 * time.Hour)}) {
		t.Errorf("expiration %v, want start + 48h", got.Status.Expiration)
	}
	if got.Spec.Requester.Username != b.Spec.Requester.Username {
		t.Errorf("a retention change made %s the requester", got.Spec.Requester.Username)
	}
	var v1b arkv1.Backup
	if err := arkv1.Convert_ark_Backup_To_v1_Backup(got, &v1b, nil); err != nil {
		t.Fatal(err)
	}
	if err := mine.Verify(&v1b); err != nil {
		t.Errorf("not signed again: %v", err)
	}
	if _, err := change(func(c *ark.Backup) { c.Spec.ExcludedResources = []string{"secrets"} }); !apierrors.IsInvalid(err) {
		t.Errorf("changing what a finished backup holds: %v, want 422", err)
	}
}
