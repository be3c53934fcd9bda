package integration

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
	"github.com/arkproject/ark/pkg/objectstore"
)

var listAll = metav1.ListOptions{}

func newBackup(name string) *arkv1.Backup {
	return &arkv1.Backup{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: home, Labels: map[string]string{"app": "web"}},
		Spec:       arkv1.BackupSpec{IncludedNamespaces: []string{"default"}},
	}
}

// readBucketBackup decodes the ark-backup.json the server wrote.
func readBucketBackup(t *testing.T, s objectstore.Store, name string) (*arkv1.Backup, objectstore.ObjectAttrs) {
	t.Helper()
	data, attrs, err := objectstore.ReadAll(context.Background(), s, "backups/"+name+"/ark-backup.json", 1<<20)
	if err != nil {
		t.Fatalf("reading %s from the bucket: %v", name, err)
	}
	var b arkv1.Backup
	if err := json.Unmarshal(data, &b); err != nil {
		t.Fatalf("bucket file of %s is not a Backup: %v\n%s", name, err, data)
	}
	return &b, attrs
}

func TestBackupCRUD(t *testing.T) {
	bucketKinds(t, func(t *testing.T, ts *testServer) {
		ctx := context.Background()
		backups := ts.Client.ArkV1().Backups(home)

		created, err := backups.Create(ctx, newBackup("nightly"), metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		// Defaults and server-owned fields.
		if created.Status.Phase != arkv1.BackupPhaseNew || created.Spec.TTL.Duration != 720*time.Hour ||
			created.Spec.SnapshotVolumes == nil || !*created.Spec.SnapshotVolumes || created.Spec.StorageLocation != "default" {
			t.Errorf("defaults not applied: %+v / %+v", created.Spec, created.Status)
		}
		if created.Spec.Requester == nil || created.Spec.Requester.Username != "ark-admin" {
			t.Errorf("requester not recorded: %+v", created.Spec.Requester)
		}
		if created.UID == "" || created.CreationTimestamp.IsZero() || created.ResourceVersion == "" {
			t.Errorf("system metadata missing: %+v", created.ObjectMeta)
		}

		// The bucket holds the object, and its generation is the resourceVersion.
		stored, attrs := readBucketBackup(t, ts.Store, "nightly")
		if stored.UID != created.UID || stored.Spec.IncludedNamespaces[0] != "default" {
			t.Errorf("bucket copy differs: %+v", stored)
		}
		if got := created.ResourceVersion; got != itoa(attrs.Generation) {
			t.Errorf("resourceVersion %s is not the bucket generation %d", got, attrs.Generation)
		}

		// A second create of the same name is refused and changes nothing.
		_, err = backups.Create(ctx, newBackup("nightly"), metav1.CreateOptions{})
		if !apierrors.IsAlreadyExists(err) {
			t.Fatalf("duplicate create: got %v, want AlreadyExists", err)
		}
		if _, attrs2 := readBucketBackup(t, ts.Store, "nightly"); attrs2.Generation != attrs.Generation {
			t.Errorf("refused create rewrote the bucket file")
		}

		got, err := backups.Get(ctx, "nightly", metav1.GetOptions{})
		if err != nil || got.UID != created.UID {
			t.Fatalf("get: %v %+v", err, got)
		}

		// Update with the current resourceVersion.
		got.Labels["tier"] = "gold"
		updated, err := backups.Update(ctx, got, metav1.UpdateOptions{})
		if err != nil {
			t.Fatalf("update: %v", err)
		}
		if updated.ResourceVersion == got.ResourceVersion || updated.Labels["tier"] != "gold" {
			t.Errorf("update did not take: %+v", updated.ObjectMeta)
		}
		// A stale resourceVersion is a conflict, and the bucket keeps the newer write.
		got.Labels["tier"] = "stale"
		if _, err := backups.Update(ctx, got, metav1.UpdateOptions{}); !apierrors.IsConflict(err) {
			t.Fatalf("stale update: got %v, want Conflict", err)
		}
		if b, _ := readBucketBackup(t, ts.Store, "nightly"); b.Labels["tier"] != "gold" {
			t.Errorf("stale update reached the bucket: %v", b.Labels)
		}

		// Merge patch (no resourceVersion) applies to the latest version.
		patched, err := backups.Patch(ctx, "nightly", types.MergePatchType, []byte(`{"metadata":{"labels":{"patched":"yes"}}}`), metav1.PatchOptions{})
		if err != nil || patched.Labels["patched"] != "yes" || patched.Labels["tier"] != "gold" {
			t.Fatalf("patch: %v %+v", err, patched)
		}
		// Server-side apply works too (it needs the OpenAPI models).
		applied, err := backups.Patch(ctx, "nightly", types.ApplyPatchType,
			[]byte(`{"apiVersion":"ark.heptio.com/v1","kind":"Backup","metadata":{"name":"nightly","labels":{"applied":"yes"}}}`),
			metav1.PatchOptions{FieldManager: "it", Force: ptr(true)})
		if err != nil || applied.Labels["applied"] != "yes" {
			t.Fatalf("apply: %v %+v", err, applied)
		}

		// Users cannot write status through the main resource...
		applied.Status.Phase = arkv1.BackupPhaseCompleted
		afterMain, err := backups.Update(ctx, applied, metav1.UpdateOptions{})
		if err != nil || afterMain.Status.Phase != arkv1.BackupPhaseNew {
			t.Fatalf("status changed through the main resource: %v %+v", err, afterMain.Status)
		}
		// ...controllers write it through /status, which ignores spec.
		afterMain.Status.Phase = arkv1.BackupPhaseInProgress
		afterMain.Status.Progress = &arkv1.Progress{TotalItems: 10, ItemsDone: 3}
		afterMain.Spec.TTL = metav1.Duration{Duration: time.Hour}
		st, err := backups.UpdateStatus(ctx, afterMain, metav1.UpdateOptions{})
		if err != nil {
			t.Fatalf("update status: %v", err)
		}
		if st.Status.Phase != arkv1.BackupPhaseInProgress || st.Status.Progress.ItemsDone != 3 || st.Spec.TTL.Duration != 720*time.Hour {
			t.Errorf("status update: %+v %+v", st.Status, st.Spec.TTL)
		}
		// Once the backup has started its spec is frozen, but for its
		// retention.
		frozen := st.DeepCopy()
		frozen.Spec.ExcludedResources = []string{"secrets"}
		if _, err := backups.Update(ctx, frozen, metav1.UpdateOptions{}); !apierrors.IsInvalid(err) {
			t.Errorf("spec change of a running backup: got %v, want Invalid", err)
		}
		st.Spec.TTL = metav1.Duration{Duration: time.Hour}
		if kept, err := backups.Update(ctx, st, metav1.UpdateOptions{}); err != nil || kept.Spec.TTL.Duration != time.Hour {
			t.Errorf("retention change of a running backup: %v", err)
		}

		// Delete marks the backup Deleting and keeps its data.
		if err := backups.Delete(ctx, "nightly", metav1.DeleteOptions{}); err != nil {
			t.Fatalf("delete: %v", err)
		}
		del, err := backups.Get(ctx, "nightly", metav1.GetOptions{})
		if err != nil || del.Status.Phase != arkv1.BackupPhaseDeleting || del.DeletionTimestamp == nil {
			t.Fatalf("after delete: %v %+v", err, del)
		}
		if b, _ := readBucketBackup(t, ts.Store, "nightly"); b.Status.Phase != arkv1.BackupPhaseDeleting {
			t.Errorf("bucket copy after delete: %s", b.Status.Phase)
		}
		// Deleting with a stale precondition is refused.
		err = backups.Delete(ctx, "nightly", metav1.DeleteOptions{Preconditions: &metav1.Preconditions{ResourceVersion: ptr("1")}})
		if !apierrors.IsConflict(err) {
			t.Errorf("delete with stale precondition: got %v, want Conflict", err)
		}

		if _, err := backups.Get(ctx, "missing", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("get of a missing backup: %v", err)
		}
		// A backup is not visible from another namespace.
		if _, err := ts.Client.ArkV1().Backups("other").Get(ctx, "nightly", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("get from another namespace: %v", err)
		}
	})
}

// Two writers holding the same version: exactly one update wins, the other
// gets 409, and no write is lost.
func TestBackupConcurrentUpdates(t *testing.T) {
	bucketKinds(t, func(t *testing.T, ts *testServer) {
		ctx := context.Background()
		backups := ts.Client.ArkV1().Backups(home)
		b, err := backups.Create(ctx, newBackup("contended"), metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		const writers = 6
		var wg sync.WaitGroup
		errs := make([]error, writers)
		for i := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c := b.DeepCopy()
				c.Labels["writer"] = itoa(int64(i))
				_, errs[i] = backups.Update(ctx, c, metav1.UpdateOptions{})
			}()
		}
		wg.Wait()
		wins := 0
		for _, err := range errs {
			if err == nil {
				wins++
			} else if !apierrors.IsConflict(err) {
				t.Errorf("unexpected error: %v", err)
			}
		}
		if wins != 1 {
			t.Errorf("%d of %d writers with the same resourceVersion won, want 1", wins, writers)
		}

		// Patches carry no version: all of them land, none lost.
		for i := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				patch := `{"metadata":{"annotations":{"p` + itoa(int64(i)) + `":"x"}}}`
				_, errs[i] = backups.Patch(ctx, "contended", types.MergePatchType, []byte(patch), metav1.PatchOptions{})
			}()
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				t.Errorf("concurrent patch: %v", err)
			}
		}
		final, _ := readBucketBackup(t, ts.Store, "contended")
		if len(final.Annotations) != writers {
			t.Errorf("bucket holds %d of %d patched annotations: %v", len(final.Annotations), writers, final.Annotations)
		}
	})
}

func TestBackupValidation(t *testing.T) {
	ts := startServer(t, serverOptions{})
	ctx := context.Background()
	cases := []struct {
		name   string
		ns     string
		mutate func(*arkv1.Backup)
		fields []string
	}{
		{"negative ttl", home, func(b *arkv1.Backup) { b.Spec.TTL = metav1.Duration{Duration: -time.Hour} }, []string{"spec.ttl"}},
		{"bad selector", home, func(b *arkv1.Backup) {
			b.Spec.LabelSelector = &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "a", Operator: "Near"}}}
		}, []string{"spec.labelSelector.matchExpressions[0].operator"}},
		{"unknown location", home, func(b *arkv1.Backup) { b.Spec.StorageLocation = "elsewhere" }, []string{"spec.storageLocation"}},
		{"bad hook", home, func(b *arkv1.Backup) {
			b.Spec.Hooks.Resources = []arkv1.BackupResourceHookSpec{{Name: "h", PreHooks: []arkv1.BackupResourceHook{{Exec: &arkv1.ExecHook{OnError: "Maybe"}}}}}
		}, []string{"spec.hooks.resources[0].pre[0].exec.command", "spec.hooks.resources[0].pre[0].exec.onError"}},
		{"team reaching another namespace", "team-a", func(b *arkv1.Backup) {
			b.Spec.IncludedNamespaces = []string{"team-b"}
			b.Spec.IncludeClusterResources = ptr(true)
		}, []string{"spec.includedNamespaces[0]", "spec.includeClusterResources"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := newBackup("invalid")
			b.Namespace = tc.ns
			tc.mutate(b)
			_, err := ts.Client.ArkV1().Backups(tc.ns).Create(ctx, b, metav1.CreateOptions{})
			assertInvalid(t, err, tc.fields...)
			if _, err := ts.Store.Attrs(ctx, "backups/invalid/ark-backup.json"); !errors.Is(err, objectstore.ErrNotFound) {
				t.Errorf("an invalid backup reached the bucket: %v", err)
			}
		})
	}

	// A namespace user's backup defaults to their own namespace.
	b := newBackup("mine")
	b.Namespace = "team-a"
	b.Spec.IncludedNamespaces = nil
	created, err := ts.Client.ArkV1().Backups("team-a").Create(ctx, b, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(created.Spec.IncludedNamespaces, ",") != "team-a" {
		t.Errorf("team backup includes %v, want [team-a]", created.Spec.IncludedNamespaces)
	}
}

// assertInvalid checks a 422 whose causes name exactly the given fields.
func assertInvalid(t *testing.T, err error, fields ...string) {
	t.Helper()
	if !apierrors.IsInvalid(err) {
		t.Fatalf("got %v, want 422 Invalid", err)
	}
	var status apierrors.APIStatus
	errors.As(err, &status)
	got := map[string]bool{}
	for _, c := range status.Status().Details.Causes {
		got[c.Field] = true
	}
	for _, f := range fields {
		if !got[f] {
			t.Errorf("no error for field %s; causes: %+v", f, status.Status().Details.Causes)
		}
	}
	if len(got) != len(fields) {
		t.Errorf("causes %v, want exactly %v", got, fields)
	}
}

func ptr[T any](v T) *T { return &v }

func itoa(i int64) string { return strconv.FormatInt(i, 10) }
