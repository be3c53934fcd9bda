package integration

import (
	"context"
	"sort"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
)

func newRestore(name, backup string) *arkv1.Restore {
	return &arkv1.Restore{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: home, Labels: map[string]string{"app": "web"}},
		Spec:       arkv1.RestoreSpec{BackupName: backup},
	}
}

// finishedBackup puts a backup in phase into namespace ns through the API, as
// the backup controller would: restores are accepted only of finished ones.
func finishedBackup(t *testing.T, ts *testServer, ns, name string, phase arkv1.BackupPhase) {
	t.Helper()
	ctx := context.Background()
	b := newBackup(name)
	b.Namespace = ns
	b.Spec.IncludedNamespaces = []string{ns}
	created, err := ts.Client.ArkV1().Backups(ns).Create(ctx, b, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating backup %s/%s: %v", ns, name, err)
	}
	if phase == arkv1.BackupPhaseNew {
		return
	}
	created.Status.Phase = phase
	if _, err := ts.Client.ArkV1().Backups(ns).UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("backup %s/%s to %s: %v", ns, name, phase, err)
	}
}

func restoreNames(list *arkv1.RestoreList) []string {
	var names []string
	for _, r := range list.Items {
		names = append(names, r.Name)
	}
	sort.Strings(names)
	return names
}

func TestRestoreCRUD(t *testing.T) {
	ts := startServer(t, serverOptions{})
	finishedBackup(t, ts, home, "nightly", arkv1.BackupPhaseCompleted)
	finishedBackup(t, ts, home, "weekly", arkv1.BackupPhaseCompleted)
	ctx := context.Background()
	restores := ts.Client.ArkV1().Restores(home)

	in := newRestore("from-nightly", "nightly")
	// Whatever requester a user sends is replaced by who they are.
	in.Spec.Requester = &arkv1.UserInfo{Username: "mallory"}
	in.Status.Phase = arkv1.RestorePhaseCompleted
	created, err := restores.Create(ctx, in, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if created.Status.Phase != arkv1.RestorePhaseNew {
		t.Errorf("status.phase = %q, want New", created.Status.Phase)
	}
	if created.Spec.RestorePVs == nil || !*created.Spec.RestorePVs {
		t.Errorf("spec.restorePVs = %v, want true", created.Spec.RestorePVs)
	}
	if created.Spec.ExistingResourcePolicy != arkv1.ExistingResourcePolicyNone {
		t.Errorf("spec.existingResourcePolicy = %q, want none", created.Spec.ExistingResourcePolicy)
	}
	if created.Spec.Requester == nil || created.Spec.Requester.Username != "ark-admin" {
		t.Errorf("spec.requester = %+v, want ark-admin", created.Spec.Requester)
	}
	if created.Spec.BackupName != "nightly" || created.UID == "" || created.ResourceVersion == "" || created.CreationTimestamp.IsZero() {
		t.Errorf("created restore: %+v", created)
	}

	// A second create of the same name is refused.
	if _, err := restores.Create(ctx, newRestore("from-nightly", "nightly"), metav1.CreateOptions{}); !apierrors.IsAlreadyExists(err) {
		t.Fatalf("duplicate create: got %v, want AlreadyExists", err)
	}

	got, err := restores.Get(ctx, "from-nightly", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got.UID != created.UID || got.Spec.BackupName != "nightly" || got.ResourceVersion != created.ResourceVersion {
		t.Errorf("get returned %+v, want the created restore", got)
	}

	if _, err := restores.Create(ctx, newRestore("from-weekly", "weekly"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	list, err := restores.List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if names := strings.Join(restoreNames(list), ","); names != "from-nightly,from-weekly" {
		t.Errorf("list: %s, want from-nightly,from-weekly", names)
	}

	// Update with the current resourceVersion; the requester cannot be rewritten.
	got.Labels["tier"] = "gold"
	got.Spec.ExistingResourcePolicy = arkv1.ExistingResourcePolicyUpdate
	got.Spec.Requester = &arkv1.UserInfo{Username: "mallory"}
	updated, err := restores.Update(ctx, got, metav1.UpdateOptions{})
	if err != nil {
		t.Fatalf("update: %v", err)
	}
	if updated.ResourceVersion == got.ResourceVersion || updated.Labels["tier"] != "gold" ||
		updated.Spec.ExistingResourcePolicy != arkv1.ExistingResourcePolicyUpdate {
		t.Errorf("update did not take: %+v", updated)
	}
	if updated.Spec.Requester == nil || updated.Spec.Requester.Username != "ark-admin" {
		t.Errorf("update changed the requester to %+v", updated.Spec.Requester)
	}

	// A stale resourceVersion is a conflict and changes nothing.
	got.Labels["tier"] = "stale"
	if _, err := restores.Update(ctx, got, metav1.UpdateOptions{}); !apierrors.IsConflict(err) {
		t.Fatalf("stale update: got %v, want Conflict", err)
	}
	if cur, err := restores.Get(ctx, "from-nightly", metav1.GetOptions{}); err != nil || cur.Labels["tier"] != "gold" {
		t.Errorf("after the stale update: %v %v", err, cur.Labels)
	}

	// Merge patch applies to the latest version.
	patched, err := restores.Patch(ctx, "from-nightly", types.MergePatchType,
		[]byte(`{"metadata":{"labels":{"patched":"yes"}},"spec":{"includedNamespaces":["web"],"restorePVs":false}}`), metav1.PatchOptions{})
	if err != nil {
		t.Fatalf("patch: %v", err)
	}
	if patched.Labels["patched"] != "yes" || patched.Labels["tier"] != "gold" ||
		strings.Join(patched.Spec.IncludedNamespaces, ",") != "web" ||
		patched.Spec.RestorePVs == nil || *patched.Spec.RestorePVs ||
		patched.Spec.BackupName != "nightly" {
		t.Errorf("patched restore: %+v", patched)
	}

	// The main resource ignores status...
	patched.Status.Phase = arkv1.RestorePhaseCompleted
	patched.Status.Warnings = 7
	afterMain, err := restores.Update(ctx, patched, metav1.UpdateOptions{})
	if err != nil {
		t.Fatalf("update with a status: %v", err)
	}
	if afterMain.Status.Phase != arkv1.RestorePhaseNew || afterMain.Status.Warnings != 0 {
		t.Errorf("status changed through the main resource: %+v", afterMain.Status)
	}
	// ...and /status ignores spec.
	afterMain.Status.Phase = arkv1.RestorePhaseInProgress
	afterMain.Status.BackupName = "nightly"
	afterMain.Status.Progress = &arkv1.Progress{TotalItems: 10, ItemsDone: 3}
	afterMain.Status.Warnings = 2
	afterMain.Spec.BackupName = "changed-through-status"
	st, err := restores.UpdateStatus(ctx, afterMain, metav1.UpdateOptions{})
	if err != nil {
		t.Fatalf("update status: %v", err)
	}
	if st.Status.Phase != arkv1.RestorePhaseInProgress || st.Status.Warnings != 2 ||
		st.Status.Progress == nil || st.Status.Progress.ItemsDone != 3 || st.Status.Progress.TotalItems != 10 {
		t.Errorf("status update did not take: %+v", st.Status)
	}
	if st.Spec.BackupName != "nightly" {
		t.Errorf("status update changed spec.backupName to %q", st.Spec.BackupName)
	}
	if cur, err := restores.Get(ctx, "from-nightly", metav1.GetOptions{}); err != nil ||
		cur.Status.Phase != arkv1.RestorePhaseInProgress || cur.Spec.BackupName != "nightly" {
		t.Errorf("stored after status update: %v %+v", err, cur)
	}
	// A negative count is refused on /status.
	bad := st.DeepCopy()
	bad.Status.Errors = -1
	_, err = restores.UpdateStatus(ctx, bad, metav1.UpdateOptions{})
	assertInvalid(t, err, "status.errors")

	// Once the restore is running its spec is frozen...
	frozen := st.DeepCopy()
	frozen.Spec.ExistingResourcePolicy = arkv1.ExistingResourcePolicyNone
	_, err = restores.Update(ctx, frozen, metav1.UpdateOptions{})
	assertInvalid(t, err, "spec")
	_, err = restores.Patch(ctx, "from-nightly", types.MergePatchType, []byte(`{"spec":{"backupName":"other"}}`), metav1.PatchOptions{})
	assertInvalid(t, err, "spec")
	// ...but its metadata is not.
	relabel := st.DeepCopy()
	relabel.Labels["running"] = "yes"
	if r, err := restores.Update(ctx, relabel, metav1.UpdateOptions{}); err != nil || r.Labels["running"] != "yes" {
		t.Errorf("label change of a running restore: %v", err)
	}

	// Delete: gone.
	if err := restores.Delete(ctx, "from-nightly", metav1.DeleteOptions{}); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if _, err := restores.Get(ctx, "from-nightly", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("get after delete: got %v, want NotFound", err)
	}
	if err := restores.Delete(ctx, "from-nightly", metav1.DeleteOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("second delete: got %v, want NotFound", err)
	}
	list, err = restores.List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if names := strings.Join(restoreNames(list), ","); names != "from-weekly" {
		t.Errorf("list after delete: %s, want from-weekly", names)
	}
}

func TestRestoreGenerateName(t *testing.T) {
	ts := startServer(t, serverOptions{})
	ctx := context.Background()
	finishedBackup(t, ts, home, "nightly", arkv1.BackupPhaseCompleted)
	r := newRestore("", "nightly")
	r.GenerateName = "nightly-"
	created, err := ts.Client.ArkV1().Restores(home).Create(ctx, r, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(created.Name, "nightly-") || len(created.Name) <= len("nightly-") {
		t.Fatalf("generated name %q, want nightly-<suffix>", created.Name)
	}
	if got, err := ts.Client.ArkV1().Restores(home).Get(ctx, created.Name, metav1.GetOptions{}); err != nil || got.UID != created.UID {
		t.Errorf("get of the generated restore: %v", err)
	}
	// A second one gets another name.
	again, err := ts.Client.ArkV1().Restores(home).Create(ctx, r, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if again.Name == created.Name || !strings.HasPrefix(again.Name, "nightly-") {
		t.Errorf("second generated name %q (first %q)", again.Name, created.Name)
	}
}

func TestRestoreValidation(t *testing.T) {
	ts := startServer(t, serverOptions{})
	ctx := context.Background()
	cases := []struct {
		name   string
		ns     string
		mutate func(*arkv1.Restore)
		fields []string
	}{
		{"backup and schedule", home, func(r *arkv1.Restore) { r.Spec.ScheduleName = "daily" }, []string{"spec.scheduleName"}},
		{"neither backup nor schedule", home, func(r *arkv1.Restore) { r.Spec.BackupName = "" }, []string{"spec.backupName"}},
		{"bad existing resource policy", home, func(r *arkv1.Restore) { r.Spec.ExistingResourcePolicy = "overwrite" }, []string{"spec.existingResourcePolicy"}},
		{"team mapping into another namespace", "team-a", func(r *arkv1.Restore) {
			r.Spec.NamespaceMapping = map[string]string{"abc": "team-b"}
		}, []string{"spec.namespaceMapping[abc]"}},
		{"team including cluster resources", "team-a", func(r *arkv1.Restore) { r.Spec.IncludeClusterResources = ptr(true) }, []string{"spec.includeClusterResources"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newRestore("invalid", "nightly")
			r.Namespace = tc.ns
			tc.mutate(r)
			_, err := ts.Client.ArkV1().Restores(tc.ns).Create(ctx, r, metav1.CreateOptions{})
			assertInvalid(t, err, tc.fields...)
			if _, err := ts.Client.ArkV1().Restores(tc.ns).Get(ctx, "invalid", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
				t.Errorf("an invalid restore was stored: %v", err)
			}
		})
	}

	// The valid counterparts are accepted.
	finishedBackup(t, ts, "team-a", "nightly", arkv1.BackupPhasePartiallyFailed)
	ok := newRestore("team-restore", "nightly")
	ok.Namespace = "team-a"
	ok.Spec.NamespaceMapping = map[string]string{"abc": "team-a"}
	ok.Spec.IncludedNamespaces = []string{"abc"}
	ok.Spec.IncludeClusterResources = ptr(false)
	if _, err := ts.Client.ArkV1().Restores("team-a").Create(ctx, ok, metav1.CreateOptions{}); err != nil {
		t.Errorf("team restore mapping into its own namespace: %v", err)
	}
	fromSchedule := newRestore("from-schedule", "")
	fromSchedule.Spec.ScheduleName = "daily"
	fromSchedule.Spec.ExistingResourcePolicy = arkv1.ExistingResourcePolicyUpdate
	if r, err := ts.Client.ArkV1().Restores(home).Create(ctx, fromSchedule, metav1.CreateOptions{}); err != nil ||
		r.Spec.ScheduleName != "daily" || r.Spec.ExistingResourcePolicy != arkv1.ExistingResourcePolicyUpdate {
		t.Errorf("restore from a schedule: %v %+v", err, r)
	}
}

// A restore the controller rejected can be corrected: changing its spec
// makes it New again, so the controller takes it.
func TestRestoreCorrectedAfterFailedValidation(t *testing.T) {
	ts := startServer(t, serverOptions{})
	ctx := context.Background()
	restores := ts.Client.ArkV1().Restores(home)
	finishedBackup(t, ts, home, "nightly", arkv1.BackupPhaseCompleted)
	// A schedule's latest backup is only known when the restore runs.
	r, err := restores.Create(ctx, &arkv1.Restore{ObjectMeta: metav1.ObjectMeta{Name: "typo"}, Spec: arkv1.RestoreSpec{ScheduleName: "nightlly"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r.Status.Phase = arkv1.RestorePhaseFailedValidation
	r.Status.ValidationErrors = []string{`spec.scheduleName: no Completed backup of schedule "nightlly"`}
	if r, err = restores.UpdateStatus(ctx, r, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	// A metadata-only change keeps the verdict.
	r.Labels = map[string]string{"x": "y"}
	if r, err = restores.Update(ctx, r, metav1.UpdateOptions{}); err != nil || r.Status.Phase != arkv1.RestorePhaseFailedValidation {
		t.Fatalf("label change: %v %+v", err, r.Status)
	}
	r.Spec.ScheduleName, r.Spec.BackupName = "", "nightly"
	fixed, err := restores.Update(ctx, r, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if fixed.Status.Phase != arkv1.RestorePhaseNew || len(fixed.Status.ValidationErrors) != 0 || fixed.Generation != 2 {
		t.Errorf("after the correction: generation %d, status %+v", fixed.Generation, fixed.Status)
	}
}

// A restore of a backup that does not exist, or has not finished, is refused
// when it is created or re-pointed (422), with the reason: Ark serves the
// backups, so it knows at once.
func TestRestoreOfAnUnrestorableBackupIsRefused(t *testing.T) {
	ts := startServer(t, serverOptions{})
	ctx := context.Background()
	restores := ts.Client.ArkV1().Restores(home)
	finishedBackup(t, ts, home, "done", arkv1.BackupPhaseCompleted)
	finishedBackup(t, ts, home, "partial", arkv1.BackupPhasePartiallyFailed)
	finishedBackup(t, ts, home, "running", arkv1.BackupPhaseInProgress)
	finishedBackup(t, ts, home, "waiting", arkv1.BackupPhaseNew)
	finishedBackup(t, ts, home, "broken", arkv1.BackupPhaseFailed)
	for backup, want := range map[string]string{
		"missing": `spec.backupName: Not found: "backup \"missing\" in namespace heptio-ark"`,
		"running": `backup "running" is InProgress; only Completed and PartiallyFailed backups can be restored`,
		"waiting": `backup "waiting" is New`,
		"broken":  `backup "broken" is Failed`,
	} {
		_, err := restores.Create(ctx, newRestore("of-"+backup, backup), metav1.CreateOptions{})
		if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), want) {
			t.Errorf("restore of %s: %v, want 422 containing %s", backup, err, want)
		}
		if _, err := restores.Get(ctx, "of-"+backup, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("the refused restore of %s was stored: %v", backup, err)
		}
	}
	for _, backup := range []string{"done", "partial"} {
		if _, err := restores.Create(ctx, newRestore("of-"+backup, backup), metav1.CreateOptions{}); err != nil {
			t.Errorf("restore of %s: %v", backup, err)
		}
	}
	// Re-pointing is checked too; other changes are not re-checked.
	r, err := restores.Get(ctx, "of-done", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r.Spec.BackupName = "running"
	if _, err := restores.Update(ctx, r, metav1.UpdateOptions{}); !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "is InProgress") {
		t.Errorf("re-pointing at an InProgress backup: %v", err)
	}
}
