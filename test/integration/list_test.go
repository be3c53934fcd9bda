package integration

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
)

func backupNames(list *arkv1.BackupList) []string {
	var names []string
	for _, b := range list.Items {
		names = append(names, b.Name)
	}
	return names
}

// listBackupNames lists with opts and returns the names in the order served.
func listBackupNames(t *testing.T, ts *testServer, ns string, opts metav1.ListOptions) []string {
	t.Helper()
	list, err := ts.Client.ArkV1().Backups(ns).List(context.Background(), opts)
	if err != nil {
		t.Fatalf("list %+v: %v", opts, err)
	}
	return backupNames(list)
}

func expectNames(t *testing.T, what string, got []string, want ...string) {
	t.Helper()
	g, w := append([]string(nil), got...), append([]string(nil), want...)
	sort.Strings(g)
	sort.Strings(w)
	if strings.Join(g, ",") != strings.Join(w, ",") {
		t.Errorf("%s: got %v, want %v", what, got, want)
	}
}

// count prints a remainingItemCount.
func count(p *int64) string {
	if p == nil {
		return "<nil>"
	}
	return itoa(*p)
}

func expectBadRequest(t *testing.T, what string, err error) {
	t.Helper()
	if !apierrors.IsBadRequest(err) {
		t.Errorf("%s: got %v, want 400 BadRequest", what, err)
	}
}

func TestListBackupPaging(t *testing.T) {
	ts := startServer(t, serverOptions{})
	ctx := context.Background()
	backups := ts.Client.ArkV1().Backups(home)
	var all []string
	for i := range 25 {
		b := newBackup(fmt.Sprintf("b-%02d", i))
		b.Labels["parity"] = []string{"even", "odd"}[i%2]
		if _, err := backups.Create(ctx, b, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		all = append(all, b.Name)
	}

	var pages [][]string
	var seen []string
	opts := metav1.ListOptions{Limit: 10}
	for page := 0; ; page++ {
		if page > 5 {
			t.Fatalf("paging does not end: %v", pages)
		}
		list, err := backups.List(ctx, opts)
		if err != nil {
			t.Fatalf("page %d: %v", page, err)
		}
		names := backupNames(list)
		pages = append(pages, names)
		seen = append(seen, names...)
		switch page {
		case 0:
			if list.RemainingItemCount == nil || *list.RemainingItemCount != 15 {
				t.Errorf("first page: remainingItemCount %s, want 15", count(list.RemainingItemCount))
			}
		case 1:
			if list.RemainingItemCount == nil || *list.RemainingItemCount != 5 {
				t.Errorf("second page: remainingItemCount %s, want 5", count(list.RemainingItemCount))
			}
		}
		if list.Continue == "" {
			if list.RemainingItemCount != nil {
				t.Errorf("last page has remainingItemCount %d", *list.RemainingItemCount)
			}
			break
		}
		opts.Continue = list.Continue
	}
	if len(pages) != 3 || len(pages[0]) != 10 || len(pages[1]) != 10 || len(pages[2]) != 5 {
		t.Errorf("pages %v, want 10, 10 and 5 items", pages)
	}
	if !sort.StringsAreSorted(seen) {
		t.Errorf("pages are not in name order: %v", seen)
	}
	if strings.Join(seen, ",") != strings.Join(all, ",") {
		t.Errorf("pages hold %v, want %v", seen, all)
	}

	// A limit at least the size of the list is one page without a token.
	list, err := backups.List(ctx, metav1.ListOptions{Limit: 25})
	if err != nil || len(list.Items) != 25 || list.Continue != "" || list.RemainingItemCount != nil {
		t.Errorf("limit 25: %v, %d items, continue %q, remaining %s", err, len(list.Items), list.Continue, count(list.RemainingItemCount))
	}

	// An invalid continue token is refused.
	_, err = backups.List(ctx, metav1.ListOptions{Limit: 10, Continue: "not-a-token"})
	expectBadRequest(t, "invalid continue token", err)
	_, err = backups.List(ctx, metav1.ListOptions{Limit: 10, Continue: "!!!"})
	expectBadRequest(t, "undecodable continue token", err)

	// Paging composes with selectors. As kube-apiserver's, a page with a
	// selector has no remaining count: counting would cost a look at
	// every backup left.
	even, err := backups.List(ctx, metav1.ListOptions{Limit: 10, LabelSelector: "parity=even"})
	if err != nil {
		t.Fatal(err)
	}
	if len(even.Items) != 10 || even.RemainingItemCount != nil || even.Continue == "" {
		t.Errorf("first page of even backups: %v, remaining %s", backupNames(even), count(even.RemainingItemCount))
	}
	rest, err := backups.List(ctx, metav1.ListOptions{Limit: 10, LabelSelector: "parity=even", Continue: even.Continue})
	if err != nil {
		t.Fatal(err)
	}
	expectNames(t, "second page of even backups", backupNames(rest), "b-20", "b-22", "b-24")
}

func TestListBackupSelectors(t *testing.T) {
	ts := startServer(t, serverOptions{})
	ctx := context.Background()
	backups := ts.Client.ArkV1().Backups(home)
	for i := range 6 {
		b := newBackup(fmt.Sprintf("b-%d", i))
		b.Labels["parity"] = []string{"even", "odd"}[i%2]
		if _, err := backups.Create(ctx, b, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	running, err := backups.Get(ctx, "b-3", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	running.Status.Phase = arkv1.BackupPhaseInProgress
	if _, err := backups.UpdateStatus(ctx, running, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		label, field string
		want         []string
	}{
		{label: "parity=even", want: []string{"b-0", "b-2", "b-4"}},
		{label: "parity in (odd),app=web", want: []string{"b-1", "b-3", "b-5"}},
		{label: "app=db", want: nil},
		{label: "!parity", want: nil},
		{field: "metadata.name=b-4", want: []string{"b-4"}},
		{field: "metadata.name!=b-4", want: []string{"b-0", "b-1", "b-2", "b-3", "b-5"}},
		{field: "metadata.namespace=" + home, want: []string{"b-0", "b-1", "b-2", "b-3", "b-4", "b-5"}},
		{field: "status.phase=New", want: []string{"b-0", "b-1", "b-2", "b-4", "b-5"}},
		{field: "status.phase=InProgress", want: []string{"b-3"}},
		{field: "status.phase!=New", want: []string{"b-3"}},
		{field: "spec.storageLocation=default", want: []string{"b-0", "b-1", "b-2", "b-3", "b-4", "b-5"}},
		{field: "spec.storageLocation=elsewhere", want: nil},
		{field: "spec.scheduleName=nightly", want: nil},
		{label: "parity=odd", field: "status.phase=New", want: []string{"b-1", "b-5"}},
	}
	for _, tc := range cases {
		got := listBackupNames(t, ts, home, metav1.ListOptions{LabelSelector: tc.label, FieldSelector: tc.field})
		expectNames(t, fmt.Sprintf("label %q field %q", tc.label, tc.field), got, tc.want...)
	}

	// Fields that are not selectable are refused, not ignored.
	for _, fs := range []string{"spec.ttl=1h", "status.errors=0", "spec.includedNamespaces=default"} {
		_, err := backups.List(ctx, metav1.ListOptions{FieldSelector: fs})
		expectBadRequest(t, "field selector "+fs, err)
	}
	_, err = backups.List(ctx, metav1.ListOptions{LabelSelector: "parity==="})
	expectBadRequest(t, "malformed label selector", err)
}

// kubectl get backups --all-namespaces lists every namespace's backups.
func TestListBackupsAllNamespaces(t *testing.T) {
	ts := startServer(t, serverOptions{})
	ctx := context.Background()
	for _, n := range []string{"home-1", "home-2"} {
		if _, err := ts.Client.ArkV1().Backups(home).Create(ctx, newBackup(n), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	team := newBackup("team-1")
	team.Namespace = "team-a"
	team.Spec.IncludedNamespaces = []string{"team-a"}
	if _, err := ts.Client.ArkV1().Backups("team-a").Create(ctx, team, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	list, err := ts.Client.ArkV1().Backups("").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, b := range list.Items {
		got = append(got, b.Namespace+"/"+b.Name)
	}
	if want := home + "/home-1," + home + "/home-2,team-a/team-1"; strings.Join(got, ",") != want {
		t.Errorf("all namespaces: %v, want %s", got, want)
	}
	expectNames(t, "namespace team-a", listBackupNames(t, ts, "team-a", metav1.ListOptions{}), "team-1")
	expectNames(t, "namespace "+home, listBackupNames(t, ts, home, metav1.ListOptions{}), "home-1", "home-2")
	expectNames(t, "all namespaces, field metadata.namespace=team-a",
		listBackupNames(t, ts, "", metav1.ListOptions{FieldSelector: "metadata.namespace=team-a"}), "team-1")

	// Paging across namespaces.
	first, err := ts.Client.ArkV1().Backups("").List(ctx, metav1.ListOptions{Limit: 2})
	if err != nil {
		t.Fatal(err)
	}
	expectNames(t, "first page of all namespaces", backupNames(first), "home-1", "home-2")
	if first.Continue == "" || first.RemainingItemCount == nil || *first.RemainingItemCount != 1 {
		t.Fatalf("first page of all namespaces: continue %q remaining %s", first.Continue, count(first.RemainingItemCount))
	}
	second, err := ts.Client.ArkV1().Backups("").List(ctx, metav1.ListOptions{Limit: 2, Continue: first.Continue})
	if err != nil {
		t.Fatal(err)
	}
	if len(second.Items) != 1 || second.Items[0].Namespace != "team-a" || second.Items[0].Name != "team-1" || second.Continue != "" {
		t.Errorf("second page of all namespaces: %v continue %q", backupNames(second), second.Continue)
	}
}

func TestListRestoreAndScheduleFieldSelectors(t *testing.T) {
	ts := startServer(t, serverOptions{})
	ctx := context.Background()

	restores := ts.Client.ArkV1().Restores(home)
	finishedBackup(t, ts, home, "nightly", arkv1.BackupPhaseCompleted)
	finishedBackup(t, ts, home, "weekly", arkv1.BackupPhaseCompleted)
	for _, r := range []*arkv1.Restore{newRestore("r-1", "nightly"), newRestore("r-2", "nightly"), newRestore("r-3", "weekly")} {
		if _, err := restores.Create(ctx, r, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	r2, err := restores.Get(ctx, "r-2", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r2.Status.Phase = arkv1.RestorePhaseInProgress
	if _, err := restores.UpdateStatus(ctx, r2, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		field string
		want  []string
	}{
		{"status.phase=InProgress", []string{"r-2"}},
		{"status.phase=New", []string{"r-1", "r-3"}},
		{"status.phase=Completed", nil},
		{"spec.backupName=nightly", []string{"r-1", "r-2"}},
		{"spec.backupName=nightly,status.phase=New", []string{"r-1"}},
		{"metadata.name=r-3", []string{"r-3"}},
	} {
		list, err := restores.List(ctx, metav1.ListOptions{FieldSelector: tc.field})
		if err != nil {
			t.Errorf("restores %s: %v", tc.field, err)
			continue
		}
		expectNames(t, "restores "+tc.field, restoreNames(list), tc.want...)
	}
	_, err = restores.List(ctx, metav1.ListOptions{FieldSelector: "spec.restorePVs=true"})
	expectBadRequest(t, "restores spec.restorePVs", err)

	schedules := ts.Client.ArkV1().Schedules(home)
	for _, n := range []string{"s-1", "s-2"} {
		if _, err := schedules.Create(ctx, newSchedule(n, "@daily"), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	s1, err := schedules.Get(ctx, "s-1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s1.Status.Phase = arkv1.SchedulePhaseEnabled
	if _, err := schedules.UpdateStatus(ctx, s1, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	scheduleNames := func(field string) []string {
		t.Helper()
		list, err := schedules.List(ctx, metav1.ListOptions{FieldSelector: field})
		if err != nil {
			t.Fatalf("schedules %s: %v", field, err)
		}
		var names []string
		for _, s := range list.Items {
			names = append(names, s.Name)
		}
		return names
	}
	expectNames(t, "schedules status.phase=Enabled", scheduleNames("status.phase=Enabled"), "s-1")
	expectNames(t, "schedules status.phase=New", scheduleNames("status.phase=New"), "s-2")
	expectNames(t, "schedules status.phase=FailedValidation", scheduleNames("status.phase=FailedValidation"))
	_, err = schedules.List(ctx, metav1.ListOptions{FieldSelector: "spec.schedule=@daily"})
	expectBadRequest(t, "schedules spec.schedule", err)
	_, err = schedules.List(ctx, metav1.ListOptions{FieldSelector: "spec.paused=false"})
	expectBadRequest(t, "schedules spec.paused", err)
}

// Paging through all namespaces must not depend on how namespace names
// compare with "/": "team" sorts before "team-a", but "team/…" sorts after
// "team-a/…" as a string. The continue token must compare in the list's own
// (namespace, name) order, or every backup of "team-a" is lost after a page
// ending in "team".
func TestListBackupsAllNamespacesPrefixPaging(t *testing.T) {
	ts := startServer(t, serverOptions{})
	ctx := context.Background()
	var want []string
	for _, x := range [][2]string{{"team", "a1"}, {"team", "a2"}, {"team-a", "b1"}, {"team-a", "b2"}} {
		b := newBackup(x[1])
		b.Namespace = x[0]
		b.Spec.IncludedNamespaces = []string{x[0]}
		if _, err := ts.Client.ArkV1().Backups(x[0]).Create(ctx, b, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		want = append(want, x[0]+"/"+x[1])
	}
	var got []string
	opts := metav1.ListOptions{Limit: 1}
	for page := 0; page < 10; page++ {
		list, err := ts.Client.ArkV1().Backups("").List(ctx, opts)
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range list.Items {
			got = append(got, b.Namespace+"/"+b.Name)
		}
		if list.Continue == "" {
			break
		}
		opts.Continue = list.Continue
	}
	expectNames(t, "all namespaces, one per page", got, want...)
}
