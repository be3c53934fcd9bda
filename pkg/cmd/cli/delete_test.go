package cli

import (
	"context"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
	"github.com/arkproject/ark/pkg/generated/clientset/versioned/fake"
)

func deleteFixtures() *fake.Clientset {
	b := func(name string, labels map[string]string) *arkv1.Backup {
		return &arkv1.Backup{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: DefaultNamespace, Labels: labels}}
	}
	return fake.NewSimpleClientset(
		b("a", map[string]string{"app": "shop"}), b("b", map[string]string{"app": "shop"}), b("c", nil),
		&arkv1.Backup{ObjectMeta: metav1.ObjectMeta{Name: "elsewhere", Namespace: "team-a"}},
	)
}

func remaining(t *testing.T, c *fake.Clientset) []string {
	t.Helper()
	l, err := c.ArkV1().Backups("").List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, b := range l.Items {
		out = append(out, b.Namespace+"/"+b.Name)
	}
	return sortedCopy(out)
}

func TestDelete(t *testing.T) {
	all := []string{"heptio-ark/a", "heptio-ark/b", "heptio-ark/c", "team-a/elsewhere"}
	for _, tc := range []struct {
		name   string
		args   []string
		stdin  string
		want   []string
		output string
	}{
		{"answer no", []string{"backup", "delete", "a"}, "n\n", all, "Delete backup a in namespace heptio-ark? [y/N] "},
		{"no answer", []string{"backup", "delete", "a"}, "", all, "Nothing deleted."},
		{"answer yes", []string{"backup", "delete", "a", "c"}, "y\n", []string{"heptio-ark/b", "team-a/elsewhere"}, `Backup "c" is being deleted`},
		{"confirm", []string{"backup", "delete", "b", "--confirm"}, "", []string{"heptio-ark/a", "heptio-ark/c", "team-a/elsewhere"}, `Backup "b" is being deleted`},
		{"selector", []string{"backup", "delete", "-l", "app=shop", "--confirm"}, "", []string{"heptio-ark/c", "team-a/elsewhere"}, `Backup "a" is being deleted`},
		{"all, asked", []string{"backup", "delete", "--all"}, "yes\n", []string{"team-a/elsewhere"}, "Delete backup a, b, c in namespace heptio-ark? [y/N] "},
		{"all in another namespace", []string{"backup", "delete", "--all", "-n", "team-a", "--confirm"}, "", []string{"heptio-ark/a", "heptio-ark/b", "heptio-ark/c"}, `"elsewhere"`},
		{"selector matching none", []string{"backup", "delete", "-l", "app=none"}, "", all, "No backups to delete in namespace heptio-ark."},
		{"verb first", []string{"delete", "backup", "c", "--confirm"}, "", []string{"heptio-ark/a", "heptio-ark/b", "team-a/elsewhere"}, `Backup "c" is being deleted`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := deleteFixtures()
			r := mustRun(t, c, strings.NewReader(tc.stdin), tc.args...)
			assertEqual(t, "backups left", remaining(t, c), tc.want)
			if !strings.Contains(r.out+r.err, tc.output) {
				t.Errorf("output lacks %q:\nstdout %q\nstderr %q", tc.output, r.out, r.err)
			}
		})
	}

	c := deleteFixtures()
	wantErr(t, c, []string{"backup", "delete"}, "name the backups to delete, or use --all or --selector")
	wantErr(t, c, []string{"backup", "delete", "a", "--all"}, "not both")
	wantErr(t, c, []string{"backup", "delete", "nope", "--confirm"}, `"nope" not found`)
	wantErr(t, c, []string{"backup", "delete", "-l", "app in (x"}, "--selector")
	if got := remaining(t, c); len(got) != 4 {
		t.Errorf("failed deletes removed backups: %v", got)
	}
	// restores and schedules go through the same command
	rc := fake.NewSimpleClientset(&arkv1.Schedule{ObjectMeta: metav1.ObjectMeta{Name: "s", Namespace: DefaultNamespace}})
	r := mustRun(t, rc, nil, "schedule", "delete", "s", "--confirm")
	if !strings.Contains(r.out, `Schedule "s" deleted.`) {
		t.Errorf("stdout %q", r.out)
	}
	if l, _ := rc.ArkV1().Schedules(DefaultNamespace).List(context.Background(), metav1.ListOptions{}); len(l.Items) != 0 {
		t.Errorf("schedule not deleted")
	}
}

// The verb-first forms are the same commands under kubectl's word order.
func TestVerbFirst(t *testing.T) {
	c := getFixtures()
	a := mustRun(t, c, nil, "get", "backups", "-o", "json").out
	b := mustRun(t, c, nil, "backup", "get", "-o", "json").out
	if a != b || !strings.Contains(a, `"nginx-backup"`) {
		t.Errorf("ark get backups differs from ark backup get:\n%s\n---\n%s", a, b)
	}
	if mustRun(t, c, nil, "get", "backup", "nginx-backup", "-o", "yaml").out != mustRun(t, c, nil, "backup", "get", "nginx-backup", "-o", "yaml").out {
		t.Errorf("ark get backup NAME differs")
	}
	if r := mustRun(t, c, nil, "describe", "schedule", "s"); !strings.HasPrefix(r.out, "Name:                      s\n") {
		t.Errorf("describe schedule: %q", r.out)
	}
	nc := fake.NewSimpleClientset()
	mustRun(t, nc, nil, "create", "backup", "x", "--include-namespaces", "a", "--snapshot-volumes=false")
	bk := getBackup(t, nc, DefaultNamespace, "x")
	if len(bk.Spec.IncludedNamespaces) != 1 || *bk.Spec.SnapshotVolumes {
		t.Errorf("ark create backup: %+v", bk.Spec)
	}
	mustRun(t, nc, nil, "create", "restore", "--from-backup", "x")
	mustRun(t, nc, nil, "create", "schedule", "s", "--schedule", "@daily", "--paused")
	if v := verbs(nc); strings.Join(v, ",") != "create backups,get backups,create restores,create schedules" {
		t.Errorf("actions: %v", v)
	}
}
