package cli

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
)

// apiFailure is a route's answer that is an API Status error.
type apiFailure struct {
	code    int
	reason  metav1.StatusReason
	message string
}

func forbidden(what string) apiFailure {
	return apiFailure{403, metav1.StatusReasonForbidden, what + ` is forbidden: User "viewer" cannot do it`}
}

// withWarning is a route's answer sent with a Warning header, as Ark sends
// one with a list of backups that lacks an unavailable location's.
type withWarning struct {
	warning string
	answer  any
}

// followForever answers a log request as the server follows a running
// backup's log: what it has, then nothing until the client goes.
type followForever string

// debugServer is a kube-apiserver for ark debug. Its routes answer by path,
// plus the query parameters that select (labelSelector, fieldSelector,
// container, previous): an object or list as JSON, a string as text, an
// apiFailure as a Status. The version requests go to a versionServer;
// anything else is 404, as a missing object is.
type debugServer struct {
	t        *testing.T
	routes   map[string]any
	version  *versionServer
	logLines string

	mu        sync.Mutex
	unrouted  []string
	tailLines []string
}

func (s *debugServer) serveHTTP(w http.ResponseWriter, r *http.Request) {
	key := r.URL.Path
	q := url.Values{}
	for _, p := range []string{"labelSelector", "fieldSelector", "container", "previous"} {
		if v := r.URL.Query().Get(p); v != "" {
			q.Set(p, v)
		}
	}
	if len(q) > 0 {
		key += "?" + q.Encode()
	}
	if strings.HasSuffix(r.URL.Path, "/log") {
		s.mu.Lock()
		s.tailLines = append(s.tailLines, r.URL.Query().Get("tailLines"))
		s.mu.Unlock()
	}
	answer, ok := s.routes[key]
	switch {
	case ok && r.Method == http.MethodGet:
	case r.URL.Path == "/version", r.URL.Path == "/apis/ark.heptio.com/v1", r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/serverstatusrequests"):
		s.version.serveHTTP(s.t)(w, r)
		return
	default:
		s.mu.Lock()
		s.unrouted = append(s.unrouted, r.Method+" "+key)
		s.mu.Unlock()
		answer = apiFailure{404, metav1.StatusReasonNotFound, fmt.Sprintf("%s not found", r.URL.Path)}
	}
	if ww, ok := answer.(withWarning); ok {
		w.Header().Add("Warning", fmt.Sprintf("299 - %q", ww.warning))
		answer = ww.answer
	}
	switch a := answer.(type) {
	case apiFailure:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(a.code)
		fmt.Fprintf(w, `{"kind":"Status","apiVersion":"v1","status":"Failure","message":%q,"reason":%q,"code":%d}`, a.message, a.reason, a.code)
	case string:
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, a)
	case followForever:
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, string(a))
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	default:
		w.Header().Set("Content-Type", "application/json")
		if err := json.NewEncoder(w).Encode(a); err != nil {
			s.t.Errorf("encoding the answer to %s: %v", key, err)
		}
	}
}

// runDebugAgainst runs `ark debug args...` against routes and returns the
// exit code, what it printed, and the bundle's files by name (nil when no
// bundle was written).
func runDebugAgainst(t *testing.T, routes map[string]any, ssr func(http.ResponseWriter, *arkv1.ServerStatusRequest), args ...string) (*debugServer, int, string, map[string]string) {
	t.Helper()
	ds := &debugServer{t: t, routes: routes, version: &versionServer{ssr: true, answer: ssr}}
	_, kc := apiServer(t, ds.serveHTTP)
	output := filepath.Join(t.TempDir(), "bundle.tar.gz")
	var out, errOut bytes.Buffer
	code := Main(append([]string{"ark", "--kubeconfig", kc, "debug", "--output", output}, args...), strings.NewReader(""), &out, &errOut)
	return ds, code, out.String() + errOut.String(), readBundle(t, output)
}

// readBundle returns a bundle's regular files by name; every entry must be
// one, with a relative path that stays inside the directory it is
// unpacked in.
func readBundle(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("the bundle is not gzip: %v", err)
	}
	tr := tar.NewReader(gz)
	files := map[string]string{}
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return files
		}
		if err != nil {
			t.Fatalf("reading the bundle: %v", err)
		}
		if hdr.Typeflag != tar.TypeReg || filepath.IsAbs(hdr.Name) || strings.Contains(hdr.Name, "..") {
			t.Errorf("entry %q (type %c) is not a plain relative file", hdr.Name, hdr.Typeflag)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		if _, dup := files[hdr.Name]; dup {
			t.Errorf("entry %s written twice", hdr.Name)
		}
		files[hdr.Name] = string(data)
	}
}

func sortedNames(files map[string]string) []string {
	var names []string
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// list is an API list of items (JSON objects).
func list(kind string, items ...string) json.RawMessage {
	return json.RawMessage(fmt.Sprintf(`{"apiVersion":"v1","kind":%q,"metadata":{},"items":[%s]}`, kind, strings.Join(items, ",")))
}

// managed is metadata every object carries in the tests: managedFields and
// kubectl's last-applied-configuration, which must not reach the bundle.
const managed = `"managedFields":[{"manager":"kubectl","operation":"Apply","fieldsV1":{"f:spec":{}}}],"annotations":{"kubectl.kubernetes.io/last-applied-configuration":"{\"spec\":{\"config\":{\"storageAccountKey\":\"SECRET-last-applied\"}}}","keep":"me"}`

// everything is a cluster where the user may read all a bundle holds.
func everything() map[string]any {
	const ark = "/apis/ark.heptio.com/v1"
	backup := func(ns, name string) string {
		return fmt.Sprintf(`{"apiVersion":"ark.heptio.com/v1","kind":"Backup","metadata":{"name":%q,"namespace":%q,%s},"spec":{"includedNamespaces":["shop"]},"status":{"phase":"Completed"}}`, name, ns, managed)
	}
	restore := `{"apiVersion":"ark.heptio.com/v1","kind":"Restore","metadata":{"name":"r1","namespace":"heptio-ark"},"spec":{"backupName":"b1"},"status":{"phase":"Completed"}}`
	return map[string]any{
		ark + "/backups": withWarning{`the backups of a location are missing from this answer: backup storage location "old" (gs://old/) is unavailable`,
			list("BackupList", backup("heptio-ark", "b1"), backup("team-a", "b2"))},
		ark + "/restores":  list("RestoreList", restore),
		ark + "/schedules": list("ScheduleList"),
		ark + "/backupstoragelocations": list("BackupStorageLocationList", `{"apiVersion":"ark.heptio.com/v1","kind":"BackupStorageLocation","metadata":{"name":"default","namespace":"heptio-ark",`+managed+`},
			"spec":{"provider":"azure","objectStorage":{"bucket":"ark"},"credential":{"name":"azure-creds","key":"cloud"},
			"config":{"region":"eu-west-1","storageAccount":"arkstore","storageAccountKey":"SECRET-account-key","sasToken":"SECRET-sas","ConnectionString":"SECRET-conn","clientSecret":"SECRET-client","Password":"SECRET-password","apiTOKEN":"SECRET-token"}}}`),
		ark + "/volumesnapshotlocations": list("VolumeSnapshotLocationList", `{"apiVersion":"ark.heptio.com/v1","kind":"VolumeSnapshotLocation","metadata":{"name":"gce","namespace":"heptio-ark"},
			"spec":{"provider":"gcp","config":{"project":"p1","serviceAccountKey":"SECRET-vsl-key"}}}`),
		"/apis/apiregistration.k8s.io/v1/apiservices/v1.ark.heptio.com": json.RawMessage(`{"apiVersion":"apiregistration.k8s.io/v1","kind":"APIService","metadata":{"name":"v1.ark.heptio.com"},
			"spec":{"group":"ark.heptio.com","version":"v1","service":{"namespace":"ark-system","name":"ark-apiserver","port":443}},
			"status":{"conditions":[{"type":"Available","status":"True","reason":"Passed","message":"all checks passed","lastTransitionTime":"2026-01-02T03:04:05Z"}]}}`),
		"/apis/apps/v1/namespaces/ark-system/statefulsets/ark-apiserver": json.RawMessage(`{"apiVersion":"apps/v1","kind":"StatefulSet","metadata":{"name":"ark-apiserver","namespace":"ark-system",` + managed + `},
			"spec":{"template":{"spec":{"containers":[{"name":"ark-apiserver","env":[{"name":"AWS_SECRET_ACCESS_KEY","value":"SECRET-env"},{"name":"LOG_LEVEL","value":"debug"},{"name":"API_TOKEN","valueFrom":{"secretKeyRef":{"name":"t","key":"k"}}}]}]}}}}`),
		"/api/v1/namespaces/ark-system/services/ark-apiserver": json.RawMessage(`{"apiVersion":"v1","kind":"Service","metadata":{"name":"ark-apiserver","namespace":"ark-system"},"spec":{"type":"ClusterIP","ports":[{"port":443}]}}`),
		"/api/v1/namespaces/ark-system/pods?labelSelector=app.kubernetes.io%2Fname%3Dark-apiserver": list("PodList", `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"ark-apiserver-0","namespace":"ark-system"},
			"spec":{"initContainers":[{"name":"init"}],"containers":[{"name":"ark-apiserver","env":[{"name":"GITHUB_TOKEN","value":"SECRET-pod-env"}]}]},
			"status":{"initContainerStatuses":[{"name":"init","restartCount":0}],"containerStatuses":[{"name":"ark-apiserver","restartCount":2}]}}`),
		"/api/v1/namespaces/ark-system/pods/ark-apiserver-0/log?container=init":                        "init done\n",
		"/api/v1/namespaces/ark-system/pods/ark-apiserver-0/log?container=ark-apiserver":               "serving\n",
		"/api/v1/namespaces/ark-system/pods/ark-apiserver-0/log?container=ark-apiserver&previous=true": "panic: the previous run\n",
		"/api/v1/namespaces/ark-system/events":                                                         list("EventList", `{"apiVersion":"v1","kind":"Event","metadata":{"name":"ark-apiserver-0.1","namespace":"ark-system"},"reason":"BackOff","message":"Back-off restarting"}`),
		"/api/v1/events?fieldSelector=involvedObject.apiVersion%3Dark.heptio.com%2Fv1":                 list("EventList", `{"apiVersion":"v1","kind":"Event","metadata":{"name":"b1.1","namespace":"heptio-ark"},"reason":"Completed","involvedObject":{"apiVersion":"ark.heptio.com/v1","kind":"Backup","name":"b1"}}`),
		ark + "/namespaces/heptio-ark/backups/b1":                                                      json.RawMessage(backup("heptio-ark", "b1")),
		ark + "/namespaces/heptio-ark/backups/b1/logs":                                                 "t info starting backup heptio-ark/b1\n",
		ark + "/namespaces/heptio-ark/restores/r1":                                                     json.RawMessage(restore),
		ark + "/namespaces/heptio-ark/restores/r1/logs":                                                "t info restoring\n",
		ark + "/namespaces/heptio-ark/restores/r1/results":                                             `{"items":[{"name":"letters"}]}`,
	}
}

// A user who may read everything gets every part, each object as YAML in
// the layout of Ark's backups, with no credential in any file.
func TestDebugBundle(t *testing.T) {
	ds, code, out, files := runDebugAgainst(t, everything(), processed, "--backup", "b1", "--restore", "r1", "--log-lines", "300")
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	assertEqual(t, "files", sortedNames(files), []string{
		"logs/backups/heptio-ark/b1.log",
		"logs/pods/ark-system/ark-apiserver-0/ark-apiserver.log",
		"logs/pods/ark-system/ark-apiserver-0/ark-apiserver.previous.log",
		"logs/pods/ark-system/ark-apiserver-0/init.log",
		"logs/restores/heptio-ark/r1.log",
		"resources/apiservices.apiregistration.k8s.io/cluster/v1.ark.heptio.com.yaml",
		"resources/backups.ark.heptio.com/namespaces/heptio-ark/b1.yaml",
		"resources/backups.ark.heptio.com/namespaces/team-a/b2.yaml",
		"resources/backupstoragelocations.ark.heptio.com/namespaces/heptio-ark/default.yaml",
		"resources/events/namespaces/ark-system/ark-apiserver-0.1.yaml",
		"resources/events/namespaces/heptio-ark/b1.1.yaml",
		"resources/pods/namespaces/ark-system/ark-apiserver-0.yaml",
		"resources/restores.ark.heptio.com/namespaces/heptio-ark/r1.yaml",
		"resources/services/namespaces/ark-system/ark-apiserver.yaml",
		"resources/statefulsets.apps/namespaces/ark-system/ark-apiserver.yaml",
		"resources/volumesnapshotlocations.ark.heptio.com/namespaces/heptio-ark/gce.yaml",
		"results/restores/heptio-ark/r1.json",
		"summary.txt",
		"version.txt",
	})
	for name, data := range files {
		for _, leak := range []string{"SECRET-", "managedFields", "last-applied-configuration"} {
			if strings.Contains(data, leak) {
				t.Errorf("%s holds %q:\n%s", name, leak, data)
			}
		}
	}
	bsl := files["resources/backupstoragelocations.ark.heptio.com/namespaces/heptio-ark/default.yaml"]
	for _, want := range []string{"kind: BackupStorageLocation", "region: eu-west-1", "storageAccount: arkstore", "storageAccountKey: REDACTED", "sasToken: REDACTED", "ConnectionString: REDACTED", "keep: me", "name: azure-creds"} {
		if !strings.Contains(bsl, want) {
			t.Errorf("the location lacks %q:\n%s", want, bsl)
		}
	}
	if sts := files["resources/statefulsets.apps/namespaces/ark-system/ark-apiserver.yaml"]; !strings.Contains(sts, "value: debug") || !strings.Contains(sts, "secretKeyRef") {
		t.Errorf("the StatefulSet lost what is not a credential:\n%s", sts)
	}
	if got := files["logs/pods/ark-system/ark-apiserver-0/ark-apiserver.previous.log"]; got != "panic: the previous run\n" {
		t.Errorf("previous log %q", got)
	}
	assertEqual(t, "tailLines of the log requests", ds.tailLines, []string{"300", "300", "300"})
	if files["logs/backups/heptio-ark/b1.log"] != "t info starting backup heptio-ark/b1\n" || files["results/restores/heptio-ark/r1.json"] != `{"items":[{"name":"letters"}]}` {
		t.Errorf("backup log %q, restore results %q", files["logs/backups/heptio-ark/b1.log"], files["results/restores/heptio-ark/r1.json"])
	}
	version := files["version.txt"]
	for _, want := range []string{"Client: ark ", "Kubernetes: v1.37.2\n", "Server: ark v1.2.3 (commit 0123abc), go1.26.8, linux/arm64\n",
		"Service:   ark-system/ark-apiserver, port 443\n", "Condition: Available=True (Passed) since 2026-01-02T03:04:05Z: all checks passed\n"} {
		if !strings.Contains(version, want) {
			t.Errorf("version.txt lacks %q:\n%s", want, version)
		}
	}
	summary := files["summary.txt"]
	for _, want := range []string{
		"version.txt: client, Kubernetes and server (ark v1.2.3 (commit 0123abc), go1.26.8, linux/arm64) versions",
		"resources/backups.ark.heptio.com: 2 in all namespaces",
		"resources/schedules.ark.heptio.com: 0 in all namespaces",
		"resources/pods: 1 in ark-system (app.kubernetes.io/name=ark-apiserver)",
		"resources/events: 1 of Ark objects in all namespaces",
		"logs/backups/heptio-ark/b1.log: log of backup heptio-ark/b1",
		"results/restores/heptio-ark/r1.json: results of restore heptio-ark/r1",
		"\nNot collected: nothing\n",
		"\nNotes:\n  the API warned: the backups of a location are missing from this answer: backup storage location \"old\" (gs://old/) is unavailable\n",
	} {
		if !strings.Contains(summary, want) {
			t.Errorf("summary lacks %q:\n%s", want, summary)
		}
	}
	if !strings.Contains(out, "Wrote ") || !strings.Contains(out, "bundle.tar.gz (19 files, ") || !strings.Contains(out, summary) {
		t.Errorf("output does not name the file and show the summary:\n%s", out)
	}
	// Only the Deployment was not there: ark-apiserver is a StatefulSet.
	assertEqual(t, "requests answered 404", ds.unrouted, []string{"GET /apis/apps/v1/namespaces/ark-system/deployments/ark-apiserver"})
}

// A user who may read little still gets a bundle: each part refused is
// listed with its reason, and what was permitted is written.
func TestDebugPartialFailure(t *testing.T) {
	const ark = "/apis/ark.heptio.com/v1"
	routes := map[string]any{
		ark + "/backups":                                                 forbidden("backups.ark.heptio.com"),
		ark + "/namespaces/team-a/backups":                               list("BackupList", `{"apiVersion":"ark.heptio.com/v1","kind":"Backup","metadata":{"name":"mine","namespace":"team-a"}}`),
		ark + "/restores":                                                forbidden("restores.ark.heptio.com"),
		ark + "/namespaces/team-a/restores":                              forbidden("restores.ark.heptio.com"),
		ark + "/schedules":                                               apiFailure{503, metav1.StatusReasonServiceUnavailable, `backup storage location "default" is unreachable`},
		ark + "/backupstoragelocations":                                  forbidden("backupstoragelocations.ark.heptio.com"),
		ark + "/namespaces/team-a/backupstoragelocations":                forbidden("backupstoragelocations.ark.heptio.com"),
		ark + "/volumesnapshotlocations":                                 forbidden("volumesnapshotlocations.ark.heptio.com"),
		ark + "/namespaces/team-a/volumesnapshotlocations":               forbidden("volumesnapshotlocations.ark.heptio.com"),
		"/apis/apiregistration.k8s.io/v1/apiservices/v1.ark.heptio.com":  forbidden("apiservices.apiregistration.k8s.io"),
		"/apis/apps/v1/namespaces/ark-system/statefulsets/ark-apiserver": forbidden("statefulsets.apps"),
		"/apis/apps/v1/namespaces/ark-system/deployments/ark-apiserver":  forbidden("deployments.apps"),
		"/api/v1/namespaces/ark-system/services/ark-apiserver":           forbidden("services"),
		"/api/v1/namespaces/ark-system/pods?labelSelector=app.kubernetes.io%2Fname%3Dark-apiserver":      forbidden("pods"),
		"/api/v1/namespaces/ark-system/events":                                                           forbidden("events"),
		"/api/v1/events?fieldSelector=involvedObject.apiVersion%3Dark.heptio.com%2Fv1":                   forbidden("events"),
		"/api/v1/namespaces/team-a/events?fieldSelector=involvedObject.apiVersion%3Dark.heptio.com%2Fv1": list("EventList", `{"apiVersion":"v1","kind":"Event","metadata":{"name":"mine.1","namespace":"team-a"}}`),
		ark + "/namespaces/team-a/backups/mine":                                                          json.RawMessage(`{"apiVersion":"ark.heptio.com/v1","kind":"Backup","metadata":{"name":"mine","namespace":"team-a"},"status":{"phase":"Completed"}}`),
		ark + "/namespaces/team-a/backups/mine/logs":                                                     forbidden("backups.ark.heptio.com/logs"),
	}
	_, code, out, files := runDebugAgainst(t, routes, failing(403, metav1.StatusReasonForbidden, "serverstatusrequests is forbidden"), "-n", "team-a", "--backup", "mine")
	if code != 0 {
		t.Fatalf("exit %d; a bundle with parts missing is still a bundle:\n%s", code, out)
	}
	assertEqual(t, "files", sortedNames(files), []string{
		"resources/backups.ark.heptio.com/namespaces/team-a/mine.yaml",
		"resources/events/namespaces/team-a/mine.1.yaml",
		"summary.txt",
		"version.txt",
	})
	summary := files["summary.txt"]
	for _, want := range []string{
		"\nCollected:\n",
		"  resources/backups.ark.heptio.com: 1 in namespace team-a\n",
		"  resources/events: 1 of Ark objects in namespace team-a\n",
		"  backup team-a/mine (Completed)\n",
		"\nNot collected:\n",
		`  Ark server build: you may not create serverstatusrequests in namespace "team-a"`,
		"  APIService v1.ark.heptio.com: forbidden: apiservices.apiregistration.k8s.io is forbidden",
		"  backups in all namespaces: forbidden: backups.ark.heptio.com is forbidden",
		"  restores in all namespaces: forbidden: ",
		"  restores in namespace team-a: forbidden: ",
		`  schedules in all namespaces: unavailable: backup storage location "default" is unreachable`,
		"  backupstoragelocations in namespace team-a: forbidden: ",
		"  volumesnapshotlocations in namespace team-a: forbidden: ",
		"  statefulsets ark-system/ark-apiserver: forbidden: ",
		"  deployments ark-system/ark-apiserver: forbidden: ",
		"  service ark-system/ark-apiserver: forbidden: ",
		"  pods in ark-system: forbidden: ",
		"  events in namespace ark-system: forbidden: ",
		"  events of Ark objects in all namespaces: forbidden: ",
		"  log of backup team-a/mine: forbidden: backups.ark.heptio.com/logs is forbidden",
	} {
		if !strings.Contains(summary, want) {
			t.Errorf("summary lacks %q:\n%s", want, summary)
		}
	}
	if strings.Contains(summary, "does not run as pods") {
		t.Errorf("a user who may not list pods was told Ark runs no pods:\n%s", summary)
	}
	if !strings.Contains(files["version.txt"], "APIService v1.ark.heptio.com:\n  not read: forbidden") {
		t.Errorf("version.txt:\n%s", files["version.txt"])
	}
}

// When ark-apiserver is a local process behind an ExternalName Service, as
// under make run, the summary says why there are no server logs.
func TestDebugArkOutsideTheCluster(t *testing.T) {
	routes := map[string]any{
		"/apis/apiregistration.k8s.io/v1/apiservices/v1.ark.heptio.com": json.RawMessage(`{"apiVersion":"apiregistration.k8s.io/v1","kind":"APIService","metadata":{"name":"v1.ark.heptio.com"},
			"spec":{"service":{"namespace":"ark-system","name":"ark-apiserver","port":38443}},"status":{"conditions":[{"type":"Available","status":"True"}]}}`),
		"/api/v1/namespaces/ark-system/services/ark-apiserver":                                      json.RawMessage(`{"apiVersion":"v1","kind":"Service","metadata":{"name":"ark-apiserver","namespace":"ark-system"},"spec":{"type":"ExternalName","externalName":"localhost"}}`),
		"/api/v1/namespaces/ark-system/pods?labelSelector=app.kubernetes.io%2Fname%3Dark-apiserver": list("PodList"),
	}
	_, code, out, files := runDebugAgainst(t, routes, processed)
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	summary := files["summary.txt"]
	for _, want := range []string{
		"resources/pods: 0 in ark-system",
		"Ark does not run as pods: the APIService reaches it through the ExternalName Service ark-system/ark-apiserver (localhost), as under `make run`",
		"backups in all namespaces: not found: ",
	} {
		if !strings.Contains(summary, want) {
			t.Errorf("summary lacks %q:\n%s", want, summary)
		}
	}
}

// A kube-apiserver that cannot be reached still leaves a bundle with the
// client's version and the reason.
func TestDebugUnreachable(t *testing.T) {
	ts, kc := apiServer(t, func(http.ResponseWriter, *http.Request) {})
	ts.Close()
	output := filepath.Join(t.TempDir(), "b.tar.gz")
	var out, errOut bytes.Buffer
	if code := Main([]string{"ark", "--kubeconfig", kc, "debug", "-o", output}, strings.NewReader(""), &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s%s", code, out.String(), errOut.String())
	}
	files := readBundle(t, output)
	assertEqual(t, "files", sortedNames(files), []string{"summary.txt", "version.txt"})
	if !strings.HasPrefix(files["version.txt"], "Client: ark ") || !strings.Contains(files["summary.txt"], "kube-apiserver: failed: ") ||
		!strings.Contains(files["summary.txt"], "kube-apiserver could not be reached") {
		t.Errorf("version.txt:\n%s\nsummary.txt:\n%s", files["version.txt"], files["summary.txt"])
	}
}

// The command fails only when the file cannot be written, and does not
// overwrite one unless told to.
func TestDebugOutputFile(t *testing.T) {
	_, kc := apiServer(t, (&debugServer{t: t, routes: map[string]any{}, version: &versionServer{ssr: true, answer: processed}}).serveHTTP)
	debug := func(args ...string) (int, string) {
		var out, errOut bytes.Buffer
		code := Main(append([]string{"ark", "--kubeconfig", kc, "debug"}, args...), strings.NewReader(""), &out, &errOut)
		return code, out.String() + errOut.String()
	}
	dir := t.TempDir()
	if code, out := debug("-o", filepath.Join(dir, "missing", "b.tar.gz")); code != 1 || !strings.Contains(out, "Error: writing the bundle") {
		t.Errorf("into a missing directory: exit %d\n%s", code, out)
	}
	existing := filepath.Join(dir, "b.tar.gz")
	if err := os.WriteFile(existing, []byte("mine"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, out := debug("-o", existing); code != 1 || !strings.Contains(out, "exists (use --force to overwrite it)") {
		t.Errorf("over an existing file: exit %d\n%s", code, out)
	}
	if code, out := debug("-o", existing, "--force"); code != 0 || readBundle(t, existing)["version.txt"] == "" {
		t.Errorf("--force: exit %d\n%s", code, out)
	}
	if code, out := debug("-o", existing, "--force", "--log-lines", "0"); code != 1 || !strings.Contains(out, "--log-lines must be positive") {
		t.Errorf("--log-lines 0: exit %d\n%s", code, out)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("left behind in the directory: %v", entries)
	}

	// The default name is the UTC time, in the current directory.
	t.Chdir(dir)
	code, out := debug()
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, out)
	}
	matches, _ := filepath.Glob("ark-debug-*Z.tar.gz")
	if len(matches) != 1 || !strings.HasPrefix(out, "Wrote "+matches[0]+" (") {
		t.Errorf("default output %v; printed:\n%s", matches, out)
	}
	if _, err := time.Parse("ark-debug-20060102T150405Z.tar.gz", matches[0]); err != nil {
		t.Errorf("default name %q: %v", matches[0], err)
	}
}

// The log of a running backup, which the server follows until the backup
// ends, is taken as far as it has got.
func TestDebugRunningBackupLog(t *testing.T) {
	old := debugFollowLimit
	debugFollowLimit = 200 * time.Millisecond
	defer func() { debugFollowLimit = old }()
	const ark = "/apis/ark.heptio.com/v1/namespaces/heptio-ark/backups/"
	routes := map[string]any{
		ark + "running":      json.RawMessage(`{"apiVersion":"ark.heptio.com/v1","kind":"Backup","metadata":{"name":"running","namespace":"heptio-ark"},"status":{"phase":"InProgress"}}`),
		ark + "running/logs": followForever("t info starting backup heptio-ark/running\n"),
	}
	_, code, out, files := runDebugAgainst(t, routes, processed, "--backup", "running")
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	if got := files["logs/backups/heptio-ark/running.log"]; got != "t info starting backup heptio-ark/running\n" {
		t.Errorf("log %q", got)
	}
	if !strings.Contains(files["summary.txt"], "backup heptio-ark/running is still running: its log is what it had written after 200ms") {
		t.Errorf("summary:\n%s", files["summary.txt"])
	}
}

// redact keeps an object's shape and drops what is secret.
func TestRedact(t *testing.T) {
	var secret map[string]any
	if err := json.Unmarshal([]byte(`{"apiVersion":"v1","kind":"Secret","metadata":{"name":"creds","managedFields":[{}],"annotations":{"kubectl.kubernetes.io/last-applied-configuration":"{\"data\":{\"cloud\":\"U0VDUkVU\"}}"}},
		"type":"Opaque","data":{"cloud":"U0VDUkVU"},"stringData":{"cloud":"SECRET"}}`), &secret); err != nil {
		t.Fatal(err)
	}
	redact(secret)
	assertEqual(t, "Secret", secret, map[string]any{"apiVersion": "v1", "kind": "Secret", "metadata": map[string]any{"name": "creds"}, "type": "Opaque"})

	var loc map[string]any
	if err := json.Unmarshal([]byte(`{"kind":"BackupStorageLocation","spec":{"config":{"region":"r","accessKeyId":"x","SAS":"x","Secret_Thing":"x","connectionstring":"x","dbPassword":"x","oauthToken":"x","s3Url":"https://s3"}}}`), &loc); err != nil {
		t.Fatal(err)
	}
	redact(loc)
	assertEqual(t, "config", loc["spec"].(map[string]any)["config"], map[string]any{
		"region": "r", "s3Url": "https://s3",
		"accessKeyId": redacted, "SAS": redacted, "Secret_Thing": redacted, "connectionstring": redacted, "dbPassword": redacted, "oauthToken": redacted,
	})
}
