package integration

import (
	"context"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
)

func newSchedule(name, cron string) *arkv1.Schedule {
	return &arkv1.Schedule{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: home},
		Spec: arkv1.ScheduleSpec{
			Schedule: cron,
			Template: arkv1.BackupSpec{IncludedNamespaces: []string{"default"}},
		},
	}
}

func TestScheduleCRUD(t *testing.T) {
	ts := startServer(t, serverOptions{})
	ctx := context.Background()
	schedules := ts.Client.ArkV1().Schedules(home)

	in := newSchedule("every-6h", "0 */6 * * *")
	in.Spec.Template.Requester = &arkv1.UserInfo{Username: "mallory"}
	in.Status.Phase = arkv1.SchedulePhaseEnabled
	created, err := schedules.Create(ctx, in, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tpl := created.Spec.Template
	if tpl.TTL.Duration != 720*time.Hour {
		t.Errorf("template ttl = %v, want 720h", tpl.TTL.Duration)
	}
	if tpl.SnapshotVolumes == nil || !*tpl.SnapshotVolumes {
		t.Errorf("template snapshotVolumes = %v, want true", tpl.SnapshotVolumes)
	}
	if tpl.StorageLocation != "default" {
		t.Errorf("template storageLocation = %q, want default", tpl.StorageLocation)
	}
	if tpl.Requester == nil || tpl.Requester.Username != "ark-admin" {
		t.Errorf("template requester = %+v, want ark-admin", tpl.Requester)
	}
	if created.Spec.Schedule != "0 */6 * * *" || created.Spec.Paused || strings.Join(tpl.IncludedNamespaces, ",") != "default" {
		t.Errorf("created spec: %+v", created.Spec)
	}
	if created.Status.Phase != arkv1.SchedulePhaseNew || created.Generation != 1 {
		t.Errorf("created status %+v generation %d, want New and 1", created.Status, created.Generation)
	}

	got, err := schedules.Get(ctx, "every-6h", metav1.GetOptions{})
	if err != nil || got.UID != created.UID || got.Spec.Schedule != "0 */6 * * *" {
		t.Fatalf("get: %v %+v", err, got)
	}
	if _, err := schedules.Create(ctx, newSchedule("every-6h", "@daily"), metav1.CreateOptions{}); !apierrors.IsAlreadyExists(err) {
		t.Errorf("duplicate create: got %v, want AlreadyExists", err)
	}

	// Pausing is a merge patch of the spec.
	paused, err := schedules.Patch(ctx, "every-6h", types.MergePatchType, []byte(`{"spec":{"paused":true}}`), metav1.PatchOptions{})
	if err != nil {
		t.Fatalf("pause: %v", err)
	}
	if !paused.Spec.Paused || paused.Spec.Schedule != "0 */6 * * *" || paused.Spec.Template.TTL.Duration != 720*time.Hour {
		t.Errorf("paused schedule: %+v", paused.Spec)
	}
	if paused.Generation != 2 {
		t.Errorf("generation after a spec change = %d, want 2", paused.Generation)
	}
	if cur, err := schedules.Get(ctx, "every-6h", metav1.GetOptions{}); err != nil || !cur.Spec.Paused {
		t.Errorf("stored schedule not paused: %v %+v", err, cur)
	}

	// Status belongs to controllers: /status sets it and ignores spec...
	last := metav1.NewTime(time.Date(2025, 3, 1, 6, 0, 0, 0, time.UTC))
	paused.Status.Phase = arkv1.SchedulePhaseEnabled
	paused.Status.LastBackup = &last
	paused.Status.LastBackupName = "every-6h-20250301060000"
	paused.Spec.Schedule = "@hourly"
	paused.Spec.Paused = false
	st, err := schedules.UpdateStatus(ctx, paused, metav1.UpdateOptions{})
	if err != nil {
		t.Fatalf("update status: %v", err)
	}
	if st.Status.Phase != arkv1.SchedulePhaseEnabled || st.Status.LastBackup == nil || !st.Status.LastBackup.Equal(&last) ||
		st.Status.LastBackupName != "every-6h-20250301060000" {
		t.Errorf("status after update: %+v", st.Status)
	}
	if st.Spec.Schedule != "0 */6 * * *" || !st.Spec.Paused {
		t.Errorf("status update changed the spec: %+v", st.Spec)
	}
	if st.Generation != 2 {
		t.Errorf("status update changed the generation to %d", st.Generation)
	}

	// ...and the main resource cannot change it.
	st.Status.Phase = arkv1.SchedulePhaseFailedValidation
	st.Status.LastBackup = nil
	st.Status.LastBackupName = ""
	st.Labels = map[string]string{"team": "ops"}
	st.Generation = 99 // clients cannot set the generation either
	afterMain, err := schedules.Update(ctx, st, metav1.UpdateOptions{})
	if err != nil {
		t.Fatalf("update: %v", err)
	}
	if afterMain.Status.Phase != arkv1.SchedulePhaseEnabled || afterMain.Status.LastBackup == nil ||
		!afterMain.Status.LastBackup.Equal(&last) || afterMain.Status.LastBackupName != "every-6h-20250301060000" {
		t.Errorf("status changed through the main resource: %+v", afterMain.Status)
	}
	if afterMain.Labels["team"] != "ops" {
		t.Errorf("label update did not take: %v", afterMain.Labels)
	}
	// A metadata-only change is not a new generation.
	if afterMain.Generation != 2 {
		t.Errorf("generation after a label change = %d, want 2", afterMain.Generation)
	}

	// A stale resourceVersion is a conflict.
	st.Labels["team"] = "stale"
	if _, err := schedules.Update(ctx, st, metav1.UpdateOptions{}); !apierrors.IsConflict(err) {
		t.Errorf("stale update: got %v, want Conflict", err)
	}

	if err := schedules.Delete(ctx, "every-6h", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := schedules.Get(ctx, "every-6h", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("get after delete: got %v, want NotFound", err)
	}
}

func TestScheduleValidation(t *testing.T) {
	ts := startServer(t, serverOptions{})
	ctx := context.Background()
	cases := []struct {
		name   string
		mutate func(*arkv1.Schedule)
		fields []string
	}{
		{"minute out of range", func(s *arkv1.Schedule) { s.Spec.Schedule = "61 * * * *" }, []string{"spec.schedule"}},
		{"interval under ten seconds", func(s *arkv1.Schedule) { s.Spec.Schedule = "@every 5s" }, []string{"spec.schedule"}},
		{"time zone alone", func(s *arkv1.Schedule) { s.Spec.Schedule = "CRON_TZ=UTC" }, []string{"spec.schedule"}},
		{"short time zone alone", func(s *arkv1.Schedule) { s.Spec.Schedule = "TZ=UTC" }, []string{"spec.schedule"}},
		{"time zone with a space", func(s *arkv1.Schedule) { s.Spec.Schedule = "CRON_TZ=UTC " }, []string{"spec.schedule"}},
		{"unknown time zone", func(s *arkv1.Schedule) { s.Spec.Schedule = "CRON_TZ=Nowhere/Atlantis 0 * * * *" }, []string{"spec.schedule"}},
		{"four fields", func(s *arkv1.Schedule) { s.Spec.Schedule = "0 * * *" }, []string{"spec.schedule"}},
		{"empty", func(s *arkv1.Schedule) { s.Spec.Schedule = "" }, []string{"spec.schedule"}},
		{"negative template ttl", func(s *arkv1.Schedule) { s.Spec.Template.TTL = metav1.Duration{Duration: -time.Hour} }, []string{"spec.template.ttl"}},
		{"unknown template location", func(s *arkv1.Schedule) { s.Spec.Template.StorageLocation = "elsewhere" }, []string{"spec.template.storageLocation"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newSchedule("invalid", "@daily")
			tc.mutate(s)
			_, err := ts.Client.ArkV1().Schedules(home).Create(ctx, s, metav1.CreateOptions{})
			assertInvalid(t, err, tc.fields...)
			if _, err := ts.Client.ArkV1().Schedules(home).Get(ctx, "invalid", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
				t.Errorf("an invalid schedule was stored: %v", err)
			}
		})
	}
	// The server survived every one of them.
	if code, body := ts.rawGet(ctx, "/readyz"); code != 200 {
		t.Fatalf("/readyz after invalid schedules: %d %s", code, body)
	}

	// Valid forms are accepted, and updates are validated too.
	for i, expr := range []string{"@every 1m", "@every 6h", "@daily", "CRON_TZ=UTC 0 3 * * *", "*/15 * * * *"} {
		s, err := ts.Client.ArkV1().Schedules(home).Create(ctx, newSchedule("valid-"+itoa(int64(i)), expr), metav1.CreateOptions{})
		if err != nil {
			t.Errorf("schedule %q: %v", expr, err)
			continue
		}
		if s.Spec.Schedule != expr {
			t.Errorf("schedule %q stored as %q", expr, s.Spec.Schedule)
		}
	}
	_, err := ts.Client.ArkV1().Schedules(home).Patch(ctx, "valid-0", types.MergePatchType, []byte(`{"spec":{"schedule":"@every 3s"}}`), metav1.PatchOptions{})
	assertInvalid(t, err, "spec.schedule")
}

func TestScheduleInTeamNamespace(t *testing.T) {
	ts := startServer(t, serverOptions{})
	ctx := context.Background()
	schedules := ts.Client.ArkV1().Schedules("team-a")

	s := newSchedule("team-daily", "@daily")
	s.Namespace = "team-a"
	s.Spec.Template.IncludedNamespaces = nil
	created, err := schedules.Create(ctx, s, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(created.Spec.Template.IncludedNamespaces, ","); got != "team-a" {
		t.Errorf("team schedule includes %q, want team-a", got)
	}
	// Clearing the namespaces on update fills them in again.
	updated, err := schedules.Patch(ctx, "team-daily", types.MergePatchType, []byte(`{"spec":{"template":{"includedNamespaces":null}}}`), metav1.PatchOptions{})
	if err != nil {
		t.Fatalf("patch: %v", err)
	}
	if got := strings.Join(updated.Spec.Template.IncludedNamespaces, ","); got != "team-a" {
		t.Errorf("after clearing, team schedule includes %q, want team-a", got)
	}

	// A team schedule cannot reach beyond its namespace.
	wide := newSchedule("team-wide", "@daily")
	wide.Namespace = "team-a"
	wide.Spec.Template.IncludedNamespaces = []string{"team-b"}
	wide.Spec.Template.IncludeClusterResources = ptr(true)
	_, err = schedules.Create(ctx, wide, metav1.CreateOptions{})
	assertInvalid(t, err, "spec.template.includedNamespaces[0]", "spec.template.includeClusterResources")

	// In the home namespace an empty list stays empty (all namespaces).
	all := newSchedule("everything", "@daily")
	all.Spec.Template.IncludedNamespaces = nil
	c, err := ts.Client.ArkV1().Schedules(home).Create(ctx, all, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Spec.Template.IncludedNamespaces) != 0 {
		t.Errorf("home schedule includes %v, want all (empty)", c.Spec.Template.IncludedNamespaces)
	}
}
