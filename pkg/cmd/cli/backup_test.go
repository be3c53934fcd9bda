package cli

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clienttesting "k8s.io/client-go/testing"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
	"github.com/arkproject/ark/pkg/generated/clientset/versioned/fake"
)

func getBackup(t *testing.T, c *fake.Clientset, ns, name string) *arkv1.Backup {
	t.Helper()
	b, err := c.ArkV1().Backups(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("reading back backup %s/%s: %v", ns, name, err)
	}
	return b
}

func TestBackupCreateEveryFlag(t *testing.T) {
	c := fake.NewSimpleClientset(testLocation("other"))
	r := mustRun(t, c, nil, "backup", "create", "full",
		"--include-namespaces", "a,b", "--exclude-namespaces", "c",
		"--include-resources", "pods,deploy", "--exclude-resources", "secrets",
		"-l", "app=web,tier!=db", "--include-cluster-resources",
		"--snapshot-volumes=false", "--ttl", "24h0m0s", "--storage-location", "other",
		"--volume-snapshot-locations", "eu-disks,fast-csi",
		"--ordered-resources", "pods=a/db-0,a/db-1;persistentvolumes=pv-1")
	// the location is looked up first: a missing one fails before the create
	if got := verbs(c); strings.Join(got, ",") != "get backupstoragelocations,create backups" {
		t.Errorf("actions = %v, want the location's get, then one create", got)
	}
	b := getBackup(t, c, DefaultNamespace, "full")
	want := arkv1.BackupSpec{
		IncludedNamespaces: []string{"a", "b"},
		ExcludedNamespaces: []string{"c"},
		IncludedResources:  []string{"pods", "deploy"},
		ExcludedResources:  []string{"secrets"},
		OrderedResources:   map[string]string{"pods": "a/db-0,a/db-1", "persistentvolumes": "pv-1"},
		LabelSelector: &metav1.LabelSelector{
			MatchLabels:      map[string]string{"app": "web"},
			MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "tier", Operator: metav1.LabelSelectorOpNotIn, Values: []string{"db"}}},
		},
		IncludeClusterResources: ptr(true),
		SnapshotVolumes:         ptr(false),
		TTL:                     metav1.Duration{Duration: 24 * time.Hour},
		StorageLocation:         "other",
		VolumeSnapshotLocations: []string{"eu-disks", "fast-csi"},
	}
	assertEqual(t, "spec", b.Spec, want)
	if len(b.Labels) != 0 {
		t.Errorf("labels = %v, want none", b.Labels)
	}
	if !strings.HasPrefix(r.out, `Backup "full" submitted.`) || !strings.Contains(r.out, "ark backup describe full -n heptio-ark") {
		t.Errorf("stdout = %q", r.out)
	}
}

func TestBackupCreateDefaults(t *testing.T) {
	c := fake.NewSimpleClientset()
	mustRun(t, c, nil, "backup", "create", "plain")
	b := getBackup(t, c, DefaultNamespace, "plain")
	want := arkv1.BackupSpec{
		SnapshotVolumes: ptr(true),
		TTL:             metav1.Duration{Duration: arkv1.DefaultBackupTTL},
	}
	assertEqual(t, "spec", b.Spec, want)
}

func TestBackupCreateNamespaceFlag(t *testing.T) {
	c := fake.NewSimpleClientset()
	r := mustRun(t, c, nil, "-n", "team-a", "backup", "create", "mine", "--include-namespaces", "team-a")
	getBackup(t, c, "team-a", "mine")
	if !strings.Contains(r.out, "-n team-a") {
		t.Errorf("stdout = %q, want the hint to name namespace team-a", r.out)
	}
}

// --include-cluster-resources is a three-state flag: said (true), said
// false, and not said (nil, the server decides).
func TestBackupCreateIncludeClusterResources(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want *bool
	}{
		{"bare", []string{"backup", "create", "x", "--include-cluster-resources"}, ptr(true)},
		{"bare before the name", []string{"backup", "create", "--include-cluster-resources", "x"}, ptr(true)},
		{"true", []string{"backup", "create", "x", "--include-cluster-resources=true"}, ptr(true)},
		{"false", []string{"backup", "create", "x", "--include-cluster-resources=false"}, ptr(false)},
		{"auto", []string{"backup", "create", "x", "--include-cluster-resources=auto"}, nil},
		{"unset", []string{"backup", "create", "x"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := fake.NewSimpleClientset()
			mustRun(t, c, nil, tc.args...)
			assertEqual(t, "includeClusterResources", getBackup(t, c, DefaultNamespace, "x").Spec.IncludeClusterResources, tc.want)
		})
	}
	wantErr(t, fake.NewSimpleClientset(), []string{"backup", "create", "x", "--include-cluster-resources=maybe"}, "maybe")
}

func TestBackupCreateErrors(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []string
		substrs []string
	}{
		{"bad selector", []string{"backup", "create", "x", "-l", "app in (web"}, []string{"--selector"}},
		{"bad selector operator", []string{"backup", "create", "x", "-l", "app=web,,=="}, []string{"--selector"}},
		{"no name", []string{"backup", "create", "--include-namespaces", "a"}, []string{"a backup needs a name"}},
		{"two names", []string{"backup", "create", "x", "y"}, []string{"accepts at most 1 arg"}},
		{"bad ttl", []string{"backup", "create", "x", "--ttl", "forever"}, []string{"--ttl"}},
		{"ordered without =", []string{"backup", "create", "x", "--ordered-resources", "pods"}, []string{"--ordered-resources", `"pods" is not resource=namespace/name`}},
		{"ordered twice", []string{"backup", "create", "x", "--ordered-resources", "pods=a/b;pods=a/c"}, []string{"--ordered-resources", `"pods" is given twice`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := fake.NewSimpleClientset()
			wantErr(t, c, tc.args, tc.substrs...)
			if n := len(actionsWithVerb(c, "create")); n != 0 {
				t.Errorf("%d creates sent, want none", n)
			}
		})
	}
}

func TestBackupCreateFromSchedule(t *testing.T) {
	template := arkv1.BackupSpec{
		IncludedNamespaces: []string{"shop"},
		LabelSelector:      &metav1.LabelSelector{MatchLabels: map[string]string{"tier": "db"}},
		SnapshotVolumes:    ptr(false),
		TTL:                metav1.Duration{Duration: 168 * time.Hour},
		StorageLocation:    "secondary",
	}
	schedule := &arkv1.Schedule{
		ObjectMeta: metav1.ObjectMeta{Name: "nightly", Namespace: DefaultNamespace},
		Spec:       arkv1.ScheduleSpec{Schedule: "0 3 * * *", Template: template},
	}

	t.Run("generated name", func(t *testing.T) {
		c := fake.NewSimpleClientset(schedule)
		before := time.Now().UTC().Truncate(time.Second)
		r := mustRun(t, c, nil, "backup", "create", "--from-schedule", "nightly",
			"--include-namespaces", "ignored") // the template wins
		after := time.Now().UTC()
		list, err := c.ArkV1().Backups(DefaultNamespace).List(context.Background(), metav1.ListOptions{})
		if err != nil || len(list.Items) != 1 {
			t.Fatalf("backups = %v, %v; want one", list, err)
		}
		b := list.Items[0]
		m := regexp.MustCompile(`^nightly-(\d{14})$`).FindStringSubmatch(b.Name)
		if m == nil {
			t.Fatalf("name %q is not nightly-<YYYYMMDDhhmmss>", b.Name)
		}
		ts, err := time.Parse("20060102150405", m[1])
		if err != nil || ts.Before(before) || ts.After(after) {
			t.Errorf("timestamp %s (%v) not between %s and %s", m[1], err, before, after)
		}
		assertEqual(t, "spec", b.Spec, template)
		assertEqual(t, "labels", b.Labels, map[string]string{arkv1.LabelScheduleName: "nightly"})
		if !strings.Contains(r.out, `Backup "`+b.Name+`" submitted.`) {
			t.Errorf("stdout = %q", r.out)
		}
	})

	t.Run("explicit name", func(t *testing.T) {
		c := fake.NewSimpleClientset(schedule)
		mustRun(t, c, nil, "backup", "create", "adhoc", "--from-schedule", "nightly")
		b := getBackup(t, c, DefaultNamespace, "adhoc")
		assertEqual(t, "spec", b.Spec, template)
		assertEqual(t, "labels", b.Labels, map[string]string{arkv1.LabelScheduleName: "nightly"})
	})

	t.Run("missing schedule", func(t *testing.T) {
		c := fake.NewSimpleClientset()
		r := wantErr(t, c, []string{"backup", "create", "--from-schedule", "nope"}, `"nope" not found`)
		if !apierrors.IsNotFound(r.runErr) {
			t.Errorf("error %v is not NotFound", r.runErr)
		}
		if n := len(actionsWithVerb(c, "create")); n != 0 {
			t.Errorf("%d creates sent, want none", n)
		}
	})
}

// phases makes a fake whose Get of backup name returns the given phases in
// turn (the last one repeatedly).
func backupPhases(name string, steps ...arkv1.BackupStatus) *fake.Clientset {
	c := fake.NewSimpleClientset()
	i := 0
	c.PrependReactor("get", "backups", func(a clienttesting.Action) (bool, runtime.Object, error) {
		s := steps[min(i, len(steps)-1)]
		i++
		return true, &arkv1.Backup{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: DefaultNamespace}, Status: s}, nil
	})
	return c
}

func TestBackupCreateWait(t *testing.T) {
	defer func(d time.Duration) { waitInterval = d }(waitInterval)
	waitInterval = time.Millisecond

	t.Run("completed", func(t *testing.T) {
		c := backupPhases("w",
			arkv1.BackupStatus{Phase: arkv1.BackupPhaseInProgress, Progress: &arkv1.Progress{TotalItems: 10, ItemsDone: 5}},
			arkv1.BackupStatus{Phase: arkv1.BackupPhaseCompleted, Progress: &arkv1.Progress{TotalItems: 10, ItemsDone: 10}, Warnings: 2})
		r := mustRun(t, c, nil, "backup", "create", "w", "--wait")
		if want := "Backup \"w\" submitted.\nBackup \"w\" Completed: 10 items, 2 warnings, 0 errors.\n"; r.out != want {
			t.Errorf("stdout = %q, want %q", r.out, want)
		}
		if !strings.Contains(r.err, "Waiting for backup w") || !strings.Contains(r.err, "5/10 items  InProgress") || !strings.Contains(r.err, "10/10 items  Completed\n") {
			t.Errorf("stderr = %q", r.err)
		}
	})

	t.Run("failed", func(t *testing.T) {
		c := backupPhases("w", arkv1.BackupStatus{Phase: arkv1.BackupPhaseFailed, FailureReason: "bucket gone", Errors: 1})
		r := run(t, c, nil, "backup", "create", "w", "-w")
		var exit *exitError
		if !errors.As(r.runErr, &exit) || exit.code != 1 {
			t.Fatalf("error = %#v, want exitError code 1", r.runErr)
		}
		for _, s := range []string{`backup "w" Failed: bucket gone`, "ark backup logs w -n heptio-ark"} {
			if !strings.Contains(exit.msg, s) {
				t.Errorf("message %q lacks %q", exit.msg, s)
			}
		}
		if !strings.Contains(r.out, `Backup "w" Failed: 0 items, 0 warnings, 1 errors.`) {
			t.Errorf("stdout = %q", r.out)
		}
	})

	t.Run("get fails", func(t *testing.T) {
		c := fake.NewSimpleClientset()
		c.PrependReactor("get", "backups", func(a clienttesting.Action) (bool, runtime.Object, error) {
			return true, nil, errors.New("connection refused")
		})
		wantErr(t, c, []string{"backup", "create", "w", "--wait"}, "connection refused")
	})
}

func TestBackupDescribeCommand(t *testing.T) {
	c := fake.NewSimpleClientset(
		&arkv1.Backup{ObjectMeta: metav1.ObjectMeta{Name: "a", Namespace: DefaultNamespace}},
		&arkv1.Backup{ObjectMeta: metav1.ObjectMeta{Name: "b", Namespace: DefaultNamespace}},
	)
	r := mustRun(t, c, nil, "backup", "describe", "a", "b")
	if !strings.HasPrefix(r.out, "Name:                      a\n") || !strings.Contains(r.out, "\n\nName:                      b\n") {
		t.Errorf("stdout:\n%s", r.out)
	}
	wantErr(t, c, []string{"backup", "describe", "a", "zzz"}, `"zzz" not found`)
	wantErr(t, c, []string{"backup", "describe"}, "requires at least 1 arg")
}
