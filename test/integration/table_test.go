package integration

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
)

// tableAccept is what kubectl get sends.
const tableAccept = "application/json;as=Table;v=v1;g=meta.k8s.io"

const apiPrefix = "/apis/ark.heptio.com/v1/namespaces/"

// getTable fetches a path as a Table and fails unless it is one.
func getTable(t *testing.T, ts *testServer, path string) *metav1.Table {
	t.Helper()
	code, body := ts.request(context.Background(), http.MethodGet, path, tableAccept)
	if code != http.StatusOK {
		t.Fatalf("GET %s as Table: %d %s", path, code, body)
	}
	var table metav1.Table
	if err := json.Unmarshal(body, &table); err != nil {
		t.Fatalf("GET %s: not a Table: %v\n%s", path, err, body)
	}
	if table.Kind != "Table" || table.APIVersion != "meta.k8s.io/v1" {
		t.Fatalf("GET %s: got %s %s, want meta.k8s.io/v1 Table", path, table.APIVersion, table.Kind)
	}
	return &table
}

// columnIndex checks that the priority-0 columns are exactly want (compared
// case-insensitively, in order) and returns the index of each column by its
// upper-case name.
func columnIndex(t *testing.T, table *metav1.Table, want ...string) map[string]int {
	t.Helper()
	var got []string
	idx := map[string]int{}
	for i, c := range table.ColumnDefinitions {
		idx[strings.ToUpper(c.Name)] = i
		if c.Priority == 0 {
			got = append(got, strings.ToUpper(c.Name))
		}
	}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("columns %q, want %q", got, want)
	}
	return idx
}

// row returns the cells of the row whose first cell is name.
func row(t *testing.T, table *metav1.Table, name string) []interface{} {
	t.Helper()
	for _, r := range table.Rows {
		if len(r.Cells) != len(table.ColumnDefinitions) {
			t.Fatalf("row %v has %d cells for %d columns", r.Cells, len(r.Cells), len(table.ColumnDefinitions))
		}
		if r.Cells[0] == name {
			return r.Cells
		}
	}
	t.Fatalf("no row for %s in %+v", name, table.Rows)
	return nil
}

// cell compares a cell with the JSON form of want (numbers decode as float64).
func cell(t *testing.T, cells []interface{}, idx map[string]int, column string, want interface{}) {
	t.Helper()
	i, ok := idx[column]
	if !ok {
		t.Fatalf("no column %s", column)
	}
	if n, isInt := want.(int); isInt {
		want = float64(n)
	}
	if cells[i] != want {
		t.Errorf("%s cell of %v = %#v, want %#v", column, cells[0], cells[i], want)
	}
}

// rowObject decodes the object embedded in a row.
func rowObject(t *testing.T, r metav1.TableRow) map[string]interface{} {
	t.Helper()
	if len(r.Object.Raw) == 0 {
		return nil
	}
	var m map[string]interface{}
	if err := json.Unmarshal(r.Object.Raw, &m); err != nil {
		t.Fatalf("row object: %v\n%s", err, r.Object.Raw)
	}
	return m
}

func TestTableBackups(t *testing.T) {
	ts := startServer(t, serverOptions{})
	ctx := context.Background()
	backups := ts.Client.ArkV1().Backups(home)
	web := newBackup("web")
	web.Spec.LabelSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}
	created, err := backups.Create(ctx, web, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := backups.Create(ctx, newBackup("all"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	table := getTable(t, ts, apiPrefix+home+"/backups")
	idx := columnIndex(t, table, "NAME", "STATUS", "ERRORS", "WARNINGS", "CREATED", "EXPIRES", "STORAGE LOCATION", "SELECTOR")
	if len(table.Rows) != 2 {
		t.Fatalf("%d rows, want 2", len(table.Rows))
	}
	if table.ResourceVersion == "" {
		t.Errorf("table has no resourceVersion")
	}
	cells := row(t, table, "web")
	cell(t, cells, idx, "STATUS", "New")
	cell(t, cells, idx, "ERRORS", 0)
	cell(t, cells, idx, "WARNINGS", 0)
	cell(t, cells, idx, "CREATED", created.CreationTimestamp.UTC().Format("2006-01-02 15:04:05 -0700 MST"))
	cell(t, cells, idx, "EXPIRES", "<none>")
	cell(t, cells, idx, "STORAGE LOCATION", "default")
	cell(t, cells, idx, "SELECTOR", "app=web")
	cell(t, row(t, table, "all"), idx, "SELECTOR", "<none>")

	// By default each row carries the object's metadata.
	for _, r := range table.Rows {
		obj := rowObject(t, r)
		md, _ := obj["metadata"].(map[string]interface{})
		if obj["kind"] != "PartialObjectMetadata" || md["name"] != r.Cells[0] || md["namespace"] != home {
			t.Errorf("row object of %v: %v", r.Cells[0], obj)
		}
	}

	// includeObject=None: no objects; includeObject=Object: the whole backup.
	none := getTable(t, ts, apiPrefix+home+"/backups?includeObject=None")
	if len(none.Rows) != 2 {
		t.Fatalf("includeObject=None: %d rows, want 2", len(none.Rows))
	}
	for _, r := range none.Rows {
		if obj := rowObject(t, r); obj != nil {
			t.Errorf("includeObject=None row carries %v", obj)
		}
	}
	full := getTable(t, ts, apiPrefix+home+"/backups?includeObject=Object")
	for _, r := range full.Rows {
		obj := rowObject(t, r)
		spec, _ := obj["spec"].(map[string]interface{})
		if obj["kind"] != "Backup" || obj["apiVersion"] != "ark.heptio.com/v1" || spec["storageLocation"] != "default" {
			t.Errorf("includeObject=Object row of %v: %v", r.Cells[0], obj)
		}
	}
	if code, body := ts.request(ctx, http.MethodGet, apiPrefix+home+"/backups?includeObject=Everything", tableAccept); code != http.StatusBadRequest {
		t.Errorf("includeObject=Everything: %d %s, want 400", code, body)
	}

	// kubectl get backups --all-namespaces.
	team := newBackup("team-web")
	team.Namespace = "team-a"
	team.Spec.IncludedNamespaces = []string{"team-a"}
	if _, err := ts.Client.ArkV1().Backups("team-a").Create(ctx, team, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	everywhere := getTable(t, ts, "/apis/ark.heptio.com/v1/backups")
	if len(everywhere.Rows) != 3 {
		t.Errorf("all namespaces: %d rows, want 3", len(everywhere.Rows))
	}
	if md, _ := rowObject(t, everywhere.Rows[2])["metadata"].(map[string]interface{}); md["namespace"] != "team-a" || md["name"] != "team-web" {
		t.Errorf("last row of all namespaces: %v", md)
	}
	if n := len(getTable(t, ts, apiPrefix+home+"/backups").Rows); n != 2 {
		t.Errorf("namespace %s: %d rows, want 2", home, n)
	}

	// A label selector narrows the rows.
	if sel := getTable(t, ts, apiPrefix+home+"/backups?labelSelector=app%3Dweb,tier%3Dgold"); len(sel.Rows) != 0 {
		t.Errorf("selector matching nothing: %d rows", len(sel.Rows))
	}

	// A single backup, as a one-row table; while it runs the status shows progress.
	created.Status.Phase = arkv1.BackupPhaseInProgress
	created.Status.Progress = &arkv1.Progress{TotalItems: 10, ItemsDone: 3}
	created.Status.Warnings, created.Status.Errors = 4, 1
	expiration := metav1.NewTime(time.Now().Add(50 * time.Hour))
	created.Status.Expiration = &expiration
	if _, err := backups.UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	one := getTable(t, ts, apiPrefix+home+"/backups/web")
	idx = columnIndex(t, one, "NAME", "STATUS", "ERRORS", "WARNINGS", "CREATED", "EXPIRES", "STORAGE LOCATION", "SELECTOR")
	if len(one.Rows) != 1 {
		t.Fatalf("single backup: %d rows, want 1", len(one.Rows))
	}
	cells = row(t, one, "web")
	cell(t, cells, idx, "STATUS", "InProgress (3/10)")
	cell(t, cells, idx, "ERRORS", 1)
	cell(t, cells, idx, "WARNINGS", 4)
	// 50h from now, less the time the request took: 2 days and 1 hour.
	cell(t, cells, idx, "EXPIRES", "2d1h")
	if obj := rowObject(t, one.Rows[0]); obj["kind"] != "PartialObjectMetadata" {
		t.Errorf("single-object row carries %v", obj)
	}
	// The list shows the same.
	cell(t, row(t, getTable(t, ts, apiPrefix+home+"/backups"), "web"), idx, "STATUS", "InProgress (3/10)")

	// Paging shows in the table's metadata.
	page := getTable(t, ts, apiPrefix+home+"/backups?limit=1")
	if len(page.Rows) != 1 || page.Continue == "" || page.RemainingItemCount == nil || *page.RemainingItemCount != 1 {
		t.Errorf("first page of 1: %d rows, continue %q, remaining %v", len(page.Rows), page.Continue, page.RemainingItemCount)
	}

	if code, body := ts.request(ctx, http.MethodGet, apiPrefix+home+"/backups/missing", tableAccept); code != http.StatusNotFound {
		t.Errorf("missing backup as Table: %d %s", code, body)
	}
}

func TestTableRestores(t *testing.T) {
	ts := startServer(t, serverOptions{})
	ctx := context.Background()
	restores := ts.Client.ArkV1().Restores(home)
	finishedBackup(t, ts, home, "nightly", arkv1.BackupPhaseCompleted)
	r, err := restores.Create(ctx, newRestore("from-nightly", "nightly"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sched := newRestore("from-daily", "")
	sched.Spec.ScheduleName = "daily"
	if _, err := restores.Create(ctx, sched, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	table := getTable(t, ts, apiPrefix+home+"/restores")
	idx := columnIndex(t, table, "NAME", "BACKUP", "STATUS", "WARNINGS", "ERRORS", "CREATED")
	if len(table.Rows) != 2 {
		t.Fatalf("%d rows, want 2", len(table.Rows))
	}
	cells := row(t, table, "from-nightly")
	cell(t, cells, idx, "BACKUP", "nightly")
	cell(t, cells, idx, "STATUS", "New")
	cell(t, cells, idx, "WARNINGS", 0)
	cell(t, cells, idx, "ERRORS", 0)
	cell(t, cells, idx, "CREATED", r.CreationTimestamp.UTC().Format("2006-01-02 15:04:05 -0700 MST"))
	cell(t, row(t, table, "from-daily"), idx, "BACKUP", "schedule/daily")

	// Running: progress in the status, counts in their columns, and the
	// backup the controller resolved.
	r.Status.Phase = arkv1.RestorePhaseInProgress
	r.Status.Progress = &arkv1.Progress{TotalItems: 10, ItemsDone: 3}
	r.Status.Warnings, r.Status.Errors = 5, 2
	if _, err := restores.UpdateStatus(ctx, r, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	d, err := restores.Get(ctx, "from-daily", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	d.Status.Phase = arkv1.RestorePhaseCompleted
	d.Status.BackupName = "daily-20250301"
	d.Status.Progress = &arkv1.Progress{TotalItems: 10, ItemsDone: 10}
	if _, err := restores.UpdateStatus(ctx, d, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	one := getTable(t, ts, apiPrefix+home+"/restores/from-nightly")
	idx = columnIndex(t, one, "NAME", "BACKUP", "STATUS", "WARNINGS", "ERRORS", "CREATED")
	if len(one.Rows) != 1 {
		t.Fatalf("single restore: %d rows", len(one.Rows))
	}
	cells = row(t, one, "from-nightly")
	cell(t, cells, idx, "STATUS", "InProgress (3/10)")
	cell(t, cells, idx, "WARNINGS", 5)
	cell(t, cells, idx, "ERRORS", 2)
	done := row(t, getTable(t, ts, apiPrefix+home+"/restores"), "from-daily")
	cell(t, done, idx, "STATUS", "Completed")
	cell(t, done, idx, "BACKUP", "daily-20250301")

	none := getTable(t, ts, apiPrefix+home+"/restores?includeObject=None")
	for _, row := range none.Rows {
		if obj := rowObject(t, row); obj != nil {
			t.Errorf("includeObject=None row carries %v", obj)
		}
	}
}

func TestTableSchedules(t *testing.T) {
	ts := startServer(t, serverOptions{})
	ctx := context.Background()
	schedules := ts.Client.ArkV1().Schedules(home)
	s, err := schedules.Create(ctx, newSchedule("every-6h", "0 */6 * * *"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p := newSchedule("paused", "@daily")
	p.Spec.Paused = true
	if _, err := schedules.Create(ctx, p, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	table := getTable(t, ts, apiPrefix+home+"/schedules")
	idx := columnIndex(t, table, "NAME", "STATUS", "SCHEDULE", "LAST BACKUP", "PAUSED")
	if len(table.Rows) != 2 {
		t.Fatalf("%d rows, want 2", len(table.Rows))
	}
	cells := row(t, table, "every-6h")
	cell(t, cells, idx, "STATUS", "New")
	cell(t, cells, idx, "SCHEDULE", "0 */6 * * *")
	cell(t, cells, idx, "LAST BACKUP", "<none>")
	cell(t, cells, idx, "PAUSED", false)
	cell(t, row(t, table, "paused"), idx, "PAUSED", true)
	cell(t, row(t, table, "paused"), idx, "SCHEDULE", "@daily")

	last := metav1.NewTime(time.Now().Add(-26*time.Hour - 10*time.Minute))
	s.Status.Phase = arkv1.SchedulePhaseEnabled
	s.Status.LastBackup = &last
	if _, err := schedules.UpdateStatus(ctx, s, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	one := getTable(t, ts, apiPrefix+home+"/schedules/every-6h")
	idx = columnIndex(t, one, "NAME", "STATUS", "SCHEDULE", "LAST BACKUP", "PAUSED")
	if len(one.Rows) != 1 {
		t.Fatalf("single schedule: %d rows", len(one.Rows))
	}
	cells = row(t, one, "every-6h")
	cell(t, cells, idx, "STATUS", "Enabled")
	cell(t, cells, idx, "LAST BACKUP", "26h ago")
}

// Clients that prefer protobuf (kube-controller-manager's metadata clients,
// which delete namespaces and collect garbage) must get JSON, not an encoding
// error: Ark's types have no protobuf form.
func TestProtobufPreferringClientsGetJSON(t *testing.T) {
	ts := startServer(t, serverOptions{})
	ctx := context.Background()
	if _, err := ts.Client.ArkV1().Backups(home).Create(ctx, newBackup("pb"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{
		"/apis/ark.heptio.com/v1/namespaces/heptio-ark/backups",
		"/apis/ark.heptio.com/v1/namespaces/heptio-ark/restores",
		"/apis/ark.heptio.com/v1/namespaces/heptio-ark/schedules",
		"/apis/ark.heptio.com/v1/namespaces/heptio-ark/backups/pb",
	} {
		code, body := ts.request(ctx, http.MethodGet, path, "application/vnd.kubernetes.protobuf, application/json")
		if code != http.StatusOK || !strings.HasPrefix(strings.TrimSpace(string(body)), "{") {
			t.Errorf("GET %s preferring protobuf: %d %.200s", path, code, body)
		}
	}
}
