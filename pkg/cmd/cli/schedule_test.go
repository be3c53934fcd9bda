package cli

import (
	"context"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	clienttesting "k8s.io/client-go/testing"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
	"github.com/arkproject/ark/pkg/generated/clientset/versioned/fake"
)

func getSchedule(t *testing.T, c *fake.Clientset, name string) *arkv1.Schedule {
	t.Helper()
	s, err := c.ArkV1().Schedules(DefaultNamespace).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("reading back schedule %s: %v", name, err)
	}
	return s
}

func TestScheduleCreate(t *testing.T) {
	c := fake.NewSimpleClientset(testLocation("eu"))
	r := mustRun(t, c, nil, "schedule", "create", "six-hourly", "--schedule", "0 */6 * * *",
		"--include-namespaces", "shop", "--exclude-resources", "events", "-l", "backup!=no",
		"--include-cluster-resources=false", "--snapshot-volumes=false", "--ttl", "168h", "--storage-location", "eu",
		"--ordered-resources", "pods=shop/db-0", "--paused")
	if r.out != "Schedule \"six-hourly\" created (paused).\n" {
		t.Errorf("stdout = %q", r.out)
	}
	s := getSchedule(t, c, "six-hourly")
	assertEqual(t, "spec", s.Spec, arkv1.ScheduleSpec{
		Schedule: "0 */6 * * *",
		Paused:   true,
		Template: arkv1.BackupSpec{
			IncludedNamespaces: []string{"shop"},
			ExcludedResources:  []string{"events"},
			OrderedResources:   map[string]string{"pods": "shop/db-0"},
			LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{}, MatchExpressions: []metav1.LabelSelectorRequirement{
				{Key: "backup", Operator: metav1.LabelSelectorOpNotIn, Values: []string{"no"}},
			}},
			IncludeClusterResources: ptr(false),
			SnapshotVolumes:         ptr(false),
			TTL:                     metav1.Duration{Duration: 168 * time.Hour},
			StorageLocation:         "eu",
		},
	})
}

func TestScheduleCreateDefaults(t *testing.T) {
	c := fake.NewSimpleClientset()
	r := mustRun(t, c, nil, "schedule", "create", "daily", "--schedule", "@daily")
	if r.out != "Schedule \"daily\" created.\n" {
		t.Errorf("stdout = %q", r.out)
	}
	assertEqual(t, "spec", getSchedule(t, c, "daily").Spec, arkv1.ScheduleSpec{
		Schedule: "@daily",
		Template: arkv1.BackupSpec{SnapshotVolumes: ptr(true), TTL: metav1.Duration{Duration: arkv1.DefaultBackupTTL}},
	})
}

func TestScheduleCreateErrors(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []string
		substrs []string
	}{
		{"no --schedule", []string{"schedule", "create", "x", "--include-namespaces", "a"}, []string{"--schedule is required"}},
		{"empty --schedule", []string{"schedule", "create", "x", "--schedule", ""}, []string{"--schedule is required"}},
		{"no name", []string{"schedule", "create", "--schedule", "@daily"}, []string{"accepts 1 arg"}},
		{"bad selector", []string{"schedule", "create", "x", "--schedule", "@daily", "-l", "a in ("}, []string{"--selector"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := fake.NewSimpleClientset()
			wantErr(t, c, tc.args, tc.substrs...)
			if len(c.Actions()) != 0 {
				t.Errorf("actions %v, want none", verbs(c))
			}
		})
	}
}

func TestSchedulePauseUnpause(t *testing.T) {
	mk := func(name string, paused bool) *arkv1.Schedule {
		return &arkv1.Schedule{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: DefaultNamespace},
			Spec:       arkv1.ScheduleSpec{Schedule: "@daily", Paused: paused},
		}
	}
	for _, tc := range []struct {
		verb      string
		start     bool
		wantPatch string
		wantOut   string
	}{
		{"pause", false, `{"spec":{"paused":true}}`, "Schedule \"a\" paused.\nSchedule \"b\" paused.\n"},
		{"unpause", true, `{"spec":{"paused":false}}`, "Schedule \"a\" unpaused.\nSchedule \"b\" unpaused.\n"},
	} {
		t.Run(tc.verb, func(t *testing.T) {
			c := fake.NewSimpleClientset(mk("a", tc.start), mk("b", tc.start))
			r := mustRun(t, c, nil, "schedule", tc.verb, "a", "b")
			if r.out != tc.wantOut {
				t.Errorf("stdout = %q, want %q", r.out, tc.wantOut)
			}
			patches := actionsWithVerb(c, "patch")
			if len(patches) != 2 || len(c.Actions()) != 2 {
				t.Fatalf("actions %v, want two patches", verbs(c))
			}
			for i, a := range patches {
				p := a.(clienttesting.PatchAction)
				if want := []string{"a", "b"}[i]; p.GetName() != want || p.GetNamespace() != DefaultNamespace || p.GetResource().Resource != "schedules" {
					t.Errorf("patch %d: %s %s/%s, want schedules %s/%s", i, p.GetResource().Resource, p.GetNamespace(), p.GetName(), DefaultNamespace, want)
				}
				if p.GetPatchType() != types.MergePatchType {
					t.Errorf("patch type %q, want merge", p.GetPatchType())
				}
				if string(p.GetPatch()) != tc.wantPatch {
					t.Errorf("patch %s, want %s", p.GetPatch(), tc.wantPatch)
				}
			}
			for _, n := range []string{"a", "b"} {
				s := getSchedule(t, c, n)
				if s.Spec.Paused == tc.start || s.Spec.Schedule != "@daily" {
					t.Errorf("%s after %s: %+v", n, tc.verb, s.Spec)
				}
			}
		})
	}

	c := fake.NewSimpleClientset(mk("a", false))
	r := wantErr(t, c, []string{"schedule", "pause", "a", "missing"}, `"missing" not found`)
	if r.out != "Schedule \"a\" paused.\n" {
		t.Errorf("stdout = %q", r.out)
	}
	wantErr(t, c, []string{"schedule", "unpause"}, "requires at least 1 arg")
}

func TestScheduleDescribeCommand(t *testing.T) {
	c := fake.NewSimpleClientset(&arkv1.Schedule{ObjectMeta: metav1.ObjectMeta{Name: "s", Namespace: DefaultNamespace}, Spec: arkv1.ScheduleSpec{Schedule: "@daily"}})
	r := mustRun(t, c, nil, "schedule", "describe", "s")
	if !strings.Contains(r.out, "Schedule:                  @daily\n") {
		t.Errorf("stdout:\n%s", r.out)
	}
	wantErr(t, c, []string{"schedules", "describe", "s", "t"}, `"t" not found`)
}
