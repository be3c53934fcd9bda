package cli

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clienttesting "k8s.io/client-go/testing"

	"github.com/arkproject/ark/pkg/apis/ark"
	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
	"github.com/arkproject/ark/pkg/apis/ark/validation"
	"github.com/arkproject/ark/pkg/generated/clientset/versioned/fake"
)

// onlyRestore returns the one restore in the fake's home namespace.
func onlyRestore(t *testing.T, c *fake.Clientset) arkv1.Restore {
	t.Helper()
	list, err := c.ArkV1().Restores(DefaultNamespace).List(context.Background(), metav1.ListOptions{})
	if err != nil || len(list.Items) != 1 {
		t.Fatalf("restores = %v, %v; want exactly one", list, err)
	}
	return list.Items[0]
}

func TestDefaultRestoreName(t *testing.T) {
	at := time.Date(2024, 1, 2, 3, 4, 5, 999, time.FixedZone("CET", 3600))
	if got, want := DefaultRestoreName("nginx-backup", at), "nginx-backup-20240102020405"; got != want {
		t.Errorf("DefaultRestoreName = %q, want %q (UTC)", got, want)
	}
	if got, want := DefaultRestoreName("b", time.Date(1999, 12, 31, 23, 59, 59, 0, time.UTC)), "b-19991231235959"; got != want {
		t.Errorf("DefaultRestoreName = %q, want %q", got, want)
	}
}

// A backup's name may be as long as a DNS subdomain (253 characters) while a
// restore's may be no more than validation.MaxRestoreNameLength: the default
// name cuts the backup's, and stays valid where the cut leaves a dot.
func TestDefaultRestoreNameOfLongBackup(t *testing.T) {
	at := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	keep := validation.MaxRestoreNameLength() - len("-20240102030405")
	for _, backup := range []string{
		strings.Repeat("b", 253),
		strings.Repeat("b", keep-1) + ".c",
		strings.Repeat("b", keep-2) + ".-c",
	} {
		got := DefaultRestoreName(backup, at)
		if !strings.HasSuffix(got, "b-20240102030405") || !strings.HasPrefix(got, strings.Repeat("b", keep-2)) {
			t.Errorf("DefaultRestoreName(%q) = %q, want the backup's name cut before the dot", backup, got)
		}
		r := &ark.Restore{ObjectMeta: metav1.ObjectMeta{Name: got, Namespace: DefaultNamespace}, Spec: ark.RestoreSpec{BackupName: "b"}}
		if errs := validation.ValidateRestore(r, validation.Scope{HomeNamespace: DefaultNamespace}); len(errs) != 0 {
			t.Errorf("DefaultRestoreName(%q) = %q (%d characters) is refused: %v", backup, got, len(got), errs)
		}
	}
	// The longest backup name that fits is kept whole.
	whole := strings.Repeat("b", keep)
	if got := DefaultRestoreName(whole, at); got != whole+"-20240102030405" {
		t.Errorf("DefaultRestoreName(%q) = %q, want it whole", whole, got)
	}
}

func TestRestoreCreateEveryFlag(t *testing.T) {
	c := fake.NewSimpleClientset()
	r := mustRun(t, c, nil, "restore", "create", "--from-backup", "full",
		"--include-namespaces", "abc,123", "--exclude-namespaces", "kube-system",
		"--include-resources", "deployments,configmaps", "--exclude-resources", "secrets",
		"-l", "app=web", "--include-cluster-resources=false",
		"--namespace-mappings", "abc:def,123:456",
		"--restore-volumes=false", "--preserve-nodeports", "--existing-resource-policy", "update")
	got := onlyRestore(t, c)
	want := arkv1.RestoreSpec{
		BackupName:              "full",
		IncludedNamespaces:      []string{"abc", "123"},
		ExcludedNamespaces:      []string{"kube-system"},
		IncludedResources:       []string{"deployments", "configmaps"},
		ExcludedResources:       []string{"secrets"},
		NamespaceMapping:        map[string]string{"abc": "def", "123": "456"},
		LabelSelector:           &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}, MatchExpressions: []metav1.LabelSelectorRequirement{}},
		IncludeClusterResources: ptr(false),
		RestorePVs:              ptr(false),
		PreserveNodePorts:       ptr(true),
		ExistingResourcePolicy:  arkv1.ExistingResourcePolicyUpdate,
	}
	assertEqual(t, "spec", got.Spec, want)
	if !strings.Contains(r.out, `Restore "`+got.Name+`" submitted.`) || !strings.Contains(r.out, "ark restore results "+got.Name+" -n heptio-ark") {
		t.Errorf("stdout = %q", r.out)
	}
}

func TestRestoreCreateDefaults(t *testing.T) {
	c := fake.NewSimpleClientset()
	before := time.Now().UTC().Truncate(time.Second)
	mustRun(t, c, nil, "restore", "create", "--from-backup", "nginx-backup")
	after := time.Now().UTC()
	got := onlyRestore(t, c)
	assertEqual(t, "spec", got.Spec, arkv1.RestoreSpec{
		BackupName:             "nginx-backup",
		RestorePVs:             ptr(true),
		ExistingResourcePolicy: arkv1.ExistingResourcePolicyNone,
	})
	m := regexp.MustCompile(`^nginx-backup-(\d{14})$`).FindStringSubmatch(got.Name)
	if m == nil {
		t.Fatalf("name %q is not nginx-backup-<YYYYMMDDhhmmss>", got.Name)
	}
	ts, err := time.Parse("20060102150405", m[1])
	if err != nil || ts.Before(before) || ts.After(after) {
		t.Errorf("timestamp %s (%v) not between %s and %s", m[1], err, before, after)
	}
	if got.Namespace != DefaultNamespace {
		t.Errorf("namespace %q", got.Namespace)
	}
}

func TestRestoreCreateFromScheduleCustomName(t *testing.T) {
	c := fake.NewSimpleClientset()
	mustRun(t, c, nil, "restore", "create", "latest", "--from-schedule", "nightly", "--include-cluster-resources")
	got := onlyRestore(t, c)
	if got.Name != "latest" {
		t.Errorf("name %q, want latest", got.Name)
	}
	assertEqual(t, "spec", got.Spec, arkv1.RestoreSpec{
		ScheduleName:            "nightly",
		IncludeClusterResources: ptr(true),
		RestorePVs:              ptr(true),
		ExistingResourcePolicy:  arkv1.ExistingResourcePolicyNone,
	})

	c = fake.NewSimpleClientset()
	mustRun(t, c, nil, "restore", "create", "--from-schedule", "nightly")
	if name := onlyRestore(t, c).Name; !regexp.MustCompile(`^nightly-\d{14}$`).MatchString(name) {
		t.Errorf("default name %q, want nightly-<timestamp>", name)
	}
}

func TestRestoreCreateErrors(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []string
		substrs []string
	}{
		{"no source", []string{"restore", "create", "r"}, []string{"exactly one of --from-backup and --from-schedule"}},
		{"both sources", []string{"restore", "create", "--from-backup", "b", "--from-schedule", "s"}, []string{"exactly one of"}},
		{"mapping without colon", []string{"restore", "create", "--from-backup", "b", "--namespace-mappings", "abc"}, []string{"--namespace-mappings", `"abc" is not source:target`}},
		{"mapping without target", []string{"restore", "create", "--from-backup", "b", "--namespace-mappings", "abc:"}, []string{`"abc:" is not source:target`}},
		{"mapping without source", []string{"restore", "create", "--from-backup", "b", "--namespace-mappings", ":def"}, []string{`":def" is not source:target`}},
		{"duplicate source", []string{"restore", "create", "--from-backup", "b", "--namespace-mappings", "abc:def,abc:ghi"}, []string{`"abc" is mapped twice`}},
		{"duplicate source, two flags", []string{"restore", "create", "--from-backup", "b", "--namespace-mappings", "abc:def", "--namespace-mappings", "abc:xyz"}, []string{`"abc" is mapped twice`}},
		{"bad selector", []string{"restore", "create", "--from-backup", "b", "-l", "a in (b"}, []string{"--selector"}},
		{"two names", []string{"restore", "create", "a", "b", "--from-backup", "b"}, []string{"accepts at most 1 arg"}},
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

func TestRestoreCreateWait(t *testing.T) {
	defer func(d time.Duration) { waitInterval = d }(waitInterval)
	waitInterval = time.Millisecond
	steps := []arkv1.RestoreStatus{
		{Phase: arkv1.RestorePhaseNew},
		{Phase: arkv1.RestorePhaseInProgress, Progress: &arkv1.Progress{TotalItems: 4, ItemsDone: 1}},
		{Phase: arkv1.RestorePhaseFailedValidation, ValidationErrors: []string{"backup b not found", "namespace mapping x is bad"}},
	}
	c := fake.NewSimpleClientset()
	i := 0
	c.PrependReactor("get", "restores", func(a clienttesting.Action) (bool, runtime.Object, error) {
		s := steps[min(i, len(steps)-1)]
		i++
		return true, &arkv1.Restore{ObjectMeta: metav1.ObjectMeta{Name: "r", Namespace: DefaultNamespace}, Status: s}, nil
	})
	r := run(t, c, nil, "restore", "create", "r", "--from-backup", "b", "--wait")
	var exit *exitError
	if !errors.As(r.runErr, &exit) || exit.code != 1 {
		t.Fatalf("error = %#v, want exitError code 1", r.runErr)
	}
	want := "restore \"r\" FailedValidation\n  backup b not found\n  namespace mapping x is bad\nSee `ark restore describe r -n heptio-ark` and `ark restore results r -n heptio-ark`."
	if exit.msg != want {
		t.Errorf("message:\n%s\nwant:\n%s", exit.msg, want)
	}
	for _, s := range []string{"0/0 items  New", "1/4 items  InProgress", "0/0 items  FailedValidation\n"} {
		if !strings.Contains(r.err, s) {
			t.Errorf("stderr %q lacks %q", r.err, s)
		}
	}
	if i != 3 {
		t.Errorf("%d gets, want 3", i)
	}
}

func TestRestoreDescribeCommand(t *testing.T) {
	c := fake.NewSimpleClientset(&arkv1.Restore{ObjectMeta: metav1.ObjectMeta{Name: "r1", Namespace: "team-a"}, Spec: arkv1.RestoreSpec{BackupName: "b"}})
	r := mustRun(t, c, nil, "restore", "describe", "r1", "-n", "team-a")
	if !strings.Contains(r.out, "Backup:                    b\n") || !strings.Contains(r.out, "ark restore results r1 -n team-a") {
		t.Errorf("stdout:\n%s", r.out)
	}
	wantErr(t, c, []string{"restore", "describe", "r1"}, `"r1" not found`) // not in heptio-ark
}

// --from-backup NAMESPACE/NAME restores another namespace's backup; the
// default name is the backup's, without the namespace.
func TestRestoreCreateFromAnotherNamespace(t *testing.T) {
	c := fake.NewSimpleClientset()
	mustRun(t, c, nil, "restore", "create", "--from-backup", "shop/nightly", "--namespace-mappings", "shop:"+DefaultNamespace)
	got := onlyRestore(t, c)
	if got.Spec.BackupNamespace != "shop" || got.Spec.BackupName != "nightly" || !regexp.MustCompile(`^nightly-\d{14}$`).MatchString(got.Name) {
		t.Errorf("restore %s: %+v", got.Name, got.Spec)
	}
}
