package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
	"github.com/arkproject/ark/pkg/generated/clientset/versioned/fake"
)

func getFixtures() *fake.Clientset {
	b := completedBackup()
	b.CreationTimestamp = metav1.NewTime(describeNow.Add(-2 * time.Hour))
	b.UID = "6f1c2f0e-0000-4000-8000-000000000001"
	return fake.NewSimpleClientset(
		b,
		&arkv1.Backup{ObjectMeta: metav1.ObjectMeta{Name: "other", Namespace: DefaultNamespace, Labels: map[string]string{"app": "other"}}},
		&arkv1.Backup{ObjectMeta: metav1.ObjectMeta{Name: "elsewhere", Namespace: "team-a"}},
		&arkv1.Restore{ObjectMeta: metav1.ObjectMeta{Name: "r", Namespace: DefaultNamespace}, Spec: arkv1.RestoreSpec{BackupName: "nginx-backup"}},
		&arkv1.Schedule{ObjectMeta: metav1.ObjectMeta{Name: "s", Namespace: DefaultNamespace}, Spec: arkv1.ScheduleSpec{Schedule: "@daily"}},
	)
}

func TestGetBackupYAMLAndJSON(t *testing.T) {
	for _, format := range []string{"yaml", "json"} {
		t.Run(format, func(t *testing.T) {
			r := mustRun(t, getFixtures(), nil, "backup", "get", "nginx-backup", "-o", format)
			golden(t, "get-backup."+format, []byte(r.out))
			// Whatever the format, it reads back as the same Backup with
			// apiVersion and kind.
			var got arkv1.Backup
			if err := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(r.out), 4096).Decode(&got); err != nil {
				t.Fatal(err)
			}
			if got.APIVersion != "ark.heptio.com/v1" || got.Kind != "Backup" {
				t.Errorf("apiVersion %q kind %q", got.APIVersion, got.Kind)
			}
			want := completedBackup()
			if got.Name != want.Name || !got.Status.Expiration.Equal(want.Status.Expiration) || got.Spec.Requester.Username != want.Spec.Requester.Username || len(got.Spec.Hooks.Resources) != 2 {
				t.Errorf("round trip lost data: %+v", got)
			}
		})
	}
}

// decodeAll reads one YAML or JSON document: an object, or a v1 List of
// them (then it returns the items), as kubectl prints.
func decodeAll(t *testing.T, s string) (objs []metav1.PartialObjectMetadata, isList bool) {
	t.Helper()
	dec := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(s), 4096)
	var doc struct {
		metav1.PartialObjectMetadata `json:",inline"`
		Items                        []metav1.PartialObjectMetadata `json:"items"`
	}
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("decoding %q: %v", s, err)
	}
	var rest map[string]any
	if err := dec.Decode(&rest); err != io.EOF {
		t.Fatalf("more than one document (%v): %q", err, s)
	}
	if doc.Kind == "List" {
		if doc.APIVersion != "v1" {
			t.Errorf("List apiVersion %q", doc.APIVersion)
		}
		return doc.Items, true
	}
	return []metav1.PartialObjectMetadata{doc.PartialObjectMetadata}, false
}

func TestGetListsEveryKind(t *testing.T) {
	for _, tc := range []struct {
		args  []string
		kind  string
		names []string
	}{
		{[]string{"backup", "get"}, "Backup", []string{"nginx-backup", "other"}},
		{[]string{"backup", "get", "-A"}, "Backup", []string{"nginx-backup", "other", "elsewhere"}},
		{[]string{"backup", "get", "-l", "app=other"}, "Backup", []string{"other"}},
		{[]string{"backup", "get", "-n", "team-a"}, "Backup", []string{"elsewhere"}},
		{[]string{"backup", "get", "other", "nginx-backup"}, "Backup", []string{"other", "nginx-backup"}},
		{[]string{"restore", "get"}, "Restore", []string{"r"}},
		{[]string{"restore", "get", "r"}, "Restore", []string{"r"}},
		{[]string{"schedule", "get"}, "Schedule", []string{"s"}},
		{[]string{"schedule", "get", "s"}, "Schedule", []string{"s"}},
		{[]string{"schedule", "get", "-n", "empty"}, "Schedule", nil}, // an empty List
	} {
		for _, format := range []string{"yaml", "json"} {
			t.Run(strings.Join(tc.args, " ")+" -o "+format, func(t *testing.T) {
				r := mustRun(t, getFixtures(), nil, append(tc.args, "-o", format)...)
				objs, isList := decodeAll(t, r.out)
				// one name prints the object, anything else a List
				if single := len(tc.args) == 3 && !strings.HasPrefix(tc.args[2], "-"); isList == single {
					t.Errorf("List = %v for %v", isList, tc.args)
				}
				var names []string
				for _, o := range objs {
					if o.APIVersion != "ark.heptio.com/v1" || o.Kind != tc.kind {
						t.Errorf("%s: apiVersion %q kind %q", o.Name, o.APIVersion, o.Kind)
					}
					names = append(names, o.Name)
				}
				// lists come back in the tracker's order: compare as sets
				if len(tc.args) == 2 || strings.HasPrefix(tc.args[2], "-") {
					assertEqual(t, "names", sortedCopy(names), sortedCopy(tc.names))
				} else {
					assertEqual(t, "names", names, tc.names)
				}
			})
		}
	}
}

func sortedCopy(s []string) []string {
	out := append([]string(nil), s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

func TestGetErrors(t *testing.T) {
	c := getFixtures()
	wantErr(t, c, []string{"backup", "get", "nope", "-o", "yaml"}, `"nope" not found`)
	for _, args := range [][]string{
		{"backup", "get", "nginx-backup", "-o", "xml"},
		{"backup", "get", "-o", "wide"},
		{"schedule", "get", "-n", "empty", "-o", "jsonpath"}, // nothing to print
	} {
		wantErr(t, c, args, "unknown output format", "want table, yaml or json")
	}
	if err := printObject(io.Discard, completedBackup(), "Backup", "toml"); err == nil || !strings.Contains(err.Error(), `"toml"`) {
		t.Errorf("printObject toml: %v", err)
	}
}

// tableServer serves Ark's list and get endpoints as Tables, recording requests.
type tableServer struct {
	t        *testing.T
	requests []*http.Request
	tables   map[string]*metav1.Table // by URL path
}

func (s *tableServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.requests = append(s.requests, r)
	w.Header().Set("Content-Type", "application/json")
	table, ok := s.tables[r.URL.Path]
	if !ok {
		w.WriteHeader(http.StatusNotFound)
		st := apierrors.NewNotFound(arkv1.Resource("backups"), filepath.Base(r.URL.Path)).Status()
		st.Kind, st.APIVersion = "Status", "v1"
		if err := json.NewEncoder(w).Encode(st); err != nil {
			s.t.Error(err)
		}
		return
	}
	if err := json.NewEncoder(w).Encode(table); err != nil {
		s.t.Error(err)
	}
}

// row is a table row whose object is the PartialObjectMetadata the server
// sends by default (includeObject=Metadata).
func row(ns, name string, cells ...any) metav1.TableRow {
	raw := fmt.Sprintf(`{"kind":"PartialObjectMetadata","apiVersion":"meta.k8s.io/v1","metadata":{"name":%q,"namespace":%q}}`, name, ns)
	return metav1.TableRow{Cells: append([]any{name}, cells...), Object: runtime.RawExtension{Raw: []byte(raw)}}
}

var backupColumns = []metav1.TableColumnDefinition{
	{Name: "Name", Type: "string", Format: "name"},
	{Name: "Status", Type: "string"},
	{Name: "Errors", Type: "integer"},
	{Name: "Storage Location", Type: "string"},
	{Name: "Hidden", Type: "string", Priority: 1},
}

func TestGetTable(t *testing.T) {
	const base = "/apis/ark.heptio.com/v1"
	srv := &tableServer{t: t, tables: map[string]*metav1.Table{
		base + "/namespaces/heptio-ark/backups": {
			TypeMeta:          metav1.TypeMeta{Kind: "Table", APIVersion: "meta.k8s.io/v1"},
			ColumnDefinitions: backupColumns,
			Rows:              []metav1.TableRow{row("heptio-ark", "nginx-backup", "Completed", int64(0), "default", "x"), row("heptio-ark", "b2", "InProgress 3/10", int64(1), "secondary", "x")},
		},
		base + "/namespaces/heptio-ark/backups/b2": {
			TypeMeta:          metav1.TypeMeta{Kind: "Table", APIVersion: "meta.k8s.io/v1"},
			ColumnDefinitions: backupColumns,
			Rows:              []metav1.TableRow{row("heptio-ark", "b2", "InProgress 3/10", int64(1), "secondary", "x")},
		},
		base + "/namespaces/heptio-ark/backups/nginx-backup": {
			TypeMeta:          metav1.TypeMeta{Kind: "Table", APIVersion: "meta.k8s.io/v1"},
			ColumnDefinitions: backupColumns,
			Rows:              []metav1.TableRow{row("heptio-ark", "nginx-backup", "Completed", int64(0), "default", "x")},
		},
		base + "/backups": {
			TypeMeta:          metav1.TypeMeta{Kind: "Table", APIVersion: "meta.k8s.io/v1"},
			ColumnDefinitions: backupColumns,
			Rows:              []metav1.TableRow{row("heptio-ark", "nginx-backup", "Completed", int64(0), "default", "x"), row("team-a", "mine", "New", int64(0), "default", "x")},
		},
		base + "/namespaces/empty/restores": {
			TypeMeta:          metav1.TypeMeta{Kind: "Table", APIVersion: "meta.k8s.io/v1"},
			ColumnDefinitions: backupColumns,
		},
	}}
	_, kc := apiServer(t, srv.ServeHTTP)

	r := mustRun(t, nil, nil, "--kubeconfig", kc, "backup", "get")
	golden(t, "get-backups-table.txt", []byte(r.out))
	req := srv.requests[0]
	if accept := req.Header.Get("Accept"); !strings.HasPrefix(accept, "application/json;as=Table;v=v1;g=meta.k8s.io") {
		t.Errorf("Accept %q, want a Table", accept)
	}

	srv.requests = nil
	r = mustRun(t, nil, nil, "--kubeconfig", kc, "backup", "get", "-A", "-l", "app=web")
	golden(t, "get-backups-table-all-namespaces.txt", []byte(r.out))
	if len(srv.requests) != 1 || srv.requests[0].URL.Path != base+"/backups" || srv.requests[0].URL.Query().Get("labelSelector") != "app=web" {
		t.Errorf("requests: %v", srv.requests[0].URL)
	}

	r = mustRun(t, nil, nil, "--kubeconfig", kc, "backup", "get", "nginx-backup", "b2", "--no-headers")
	// (column padding is the printer's business: compare the cells)
	var cells [][]string
	for _, l := range strings.Split(strings.TrimSuffix(r.out, "\n"), "\n") {
		cells = append(cells, strings.Fields(l))
	}
	assertEqual(t, "two names, no headers", cells, [][]string{
		{"nginx-backup", "Completed", "0", "default"},
		{"b2", "InProgress", "3/10", "1", "secondary"},
	})

	r = mustRun(t, nil, nil, "--kubeconfig", kc, "restore", "get", "-n", "empty")
	if r.out != "" || r.err != "No restores found in namespace empty.\n" {
		t.Errorf("empty list: stdout %q stderr %q", r.out, r.err)
	}

	r = wantErr(t, nil, []string{"--kubeconfig", kc, "backup", "get", "nginx-backup", "nope"}, `backups.ark.heptio.com "nope" not found`)
	if r.out != "" {
		t.Errorf("printed %q before failing", r.out)
	}
}

func TestBackupLogsAndDownload(t *testing.T) {
	_, kc := apiServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/apis/ark.heptio.com/v1/namespaces/heptio-ark/backups/b/logs":
			io.WriteString(w, "line 1\nline 2\n")
		case "/apis/ark.heptio.com/v1/namespaces/team-a/restores/r/results":
			io.WriteString(w, `{"warnings":{}}`)
		case "/apis/ark.heptio.com/v1/namespaces/heptio-ark/backups/b/download":
			io.WriteString(w, "tarball")
		default:
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, `{"kind":"Status","apiVersion":"v1","status":"Failure","message":"not here","reason":"NotFound","code":404}`)
		}
	})
	if r := mustRun(t, nil, nil, "--kubeconfig", kc, "backup", "logs", "b"); r.out != "line 1\nline 2\n" {
		t.Errorf("logs: %q", r.out)
	}
	if r := mustRun(t, nil, nil, "--kubeconfig", kc, "restore", "results", "r", "-n", "team-a"); r.out != `{"warnings":{}}` {
		t.Errorf("results: %q", r.out)
	}
	wantErr(t, nil, []string{"--kubeconfig", kc, "backup", "logs", "missing"}, "not here")

	file := filepath.Join(t.TempDir(), "b.tar.gz")
	r := mustRun(t, nil, nil, "--kubeconfig", kc, "backup", "download", "b", "-o", file)
	if data, err := os.ReadFile(file); err != nil || string(data) != "tarball" {
		t.Errorf("downloaded %q, %v", data, err)
	}
	if !strings.Contains(r.out, "(7 bytes)") {
		t.Errorf("stdout %q", r.out)
	}
	wantErr(t, nil, []string{"--kubeconfig", kc, "backup", "download", "b", "-o", file}, "--force")
	mustRun(t, nil, nil, "--kubeconfig", kc, "backup", "download", "b", "-o", file, "--force")
	wantErr(t, nil, []string{"--kubeconfig", kc, "backup", "download", "missing", "-o", file + "2"}, "not here")
	if _, err := os.Stat(file + "2"); !os.IsNotExist(err) {
		t.Errorf("a failed download left %s: %v", file+"2", err)
	}
}

// printObject must not change what it prints but the type fields.
func TestPrintObjectJSONIsIndented(t *testing.T) {
	var buf bytes.Buffer
	if err := printObject(&buf, &arkv1.Schedule{ObjectMeta: metav1.ObjectMeta{Name: "s"}, Spec: arkv1.ScheduleSpec{Schedule: "@daily"}}, "Schedule", "json"); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(buf.String(), "{\n  \"kind\": \"Schedule\",\n  \"apiVersion\": \"ark.heptio.com/v1\",") || !strings.HasSuffix(buf.String(), "}\n") {
		t.Errorf("json:\n%s", buf.String())
	}
}
