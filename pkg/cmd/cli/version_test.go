package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
)

// versionServer is a kube-apiserver for `ark version`: Kubernetes' version,
// Ark's group in discovery (with serverstatusrequests when ssr is set), the
// APIService, and serverstatusrequests answered by answer.
type versionServer struct {
	ssr    bool
	answer func(w http.ResponseWriter, sent *arkv1.ServerStatusRequest)

	mu   sync.Mutex
	sent []string // "namespace generateName" of each request created
}

func (s *versionServer) serveHTTP(t *testing.T) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		const ssrPrefix = "/apis/ark.heptio.com/v1/namespaces/"
		switch {
		case r.Method == http.MethodGet && r.URL.Path == "/version":
			io.WriteString(w, `{"gitVersion":"v1.37.2"}`)
		case r.Method == http.MethodGet && r.URL.Path == "/apis/ark.heptio.com/v1":
			list := metav1.APIResourceList{TypeMeta: metav1.TypeMeta{Kind: "APIResourceList", APIVersion: "v1"}, GroupVersion: "ark.heptio.com/v1",
				APIResources: []metav1.APIResource{{Name: "backups", Namespaced: true, Kind: "Backup", Verbs: metav1.Verbs{"create", "get", "list"}}}}
			if s.ssr {
				list.APIResources = append(list.APIResources, metav1.APIResource{Name: "serverstatusrequests", Namespaced: true, Kind: "ServerStatusRequest", Verbs: metav1.Verbs{"create"}})
			}
			json.NewEncoder(w).Encode(list)
		case r.Method == http.MethodGet && r.URL.Path == "/apis/apiregistration.k8s.io/v1/apiservices/v1.ark.heptio.com":
			io.WriteString(w, `{"apiVersion":"apiregistration.k8s.io/v1","kind":"APIService","metadata":{"name":"v1.ark.heptio.com"},"status":{"conditions":[{"type":"Available","status":"True"}]}}`)
		case r.Method == http.MethodPost && strings.HasPrefix(r.URL.Path, ssrPrefix) && strings.HasSuffix(r.URL.Path, "/serverstatusrequests"):
			ns := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, ssrPrefix), "/serverstatusrequests")
			var sent arkv1.ServerStatusRequest
			if err := json.NewDecoder(r.Body).Decode(&sent); err != nil {
				t.Errorf("request body: %v", err)
			}
			s.mu.Lock()
			s.sent = append(s.sent, ns+" "+sent.GenerateName)
			s.mu.Unlock()
			sent.Namespace = ns
			s.answer(w, &sent)
		default:
			t.Errorf("unexpected request %s %s", r.Method, r.URL.Path)
			w.WriteHeader(http.StatusNotFound)
		}
	}
}

// processed answers as an Ark server of build v1.2.3 does.
func processed(w http.ResponseWriter, sent *arkv1.ServerStatusRequest) {
	w.WriteHeader(http.StatusCreated)
	sent.APIVersion, sent.Kind = "ark.heptio.com/v1", "ServerStatusRequest"
	sent.Name = sent.GenerateName + "x7k2q"
	sent.Status = arkv1.ServerStatusRequestStatus{Phase: arkv1.ServerStatusRequestPhaseProcessed, ServerVersion: "v1.2.3", Commit: "0123abc", GoVersion: "go1.26.8", Platform: "linux/arm64"}
	json.NewEncoder(w).Encode(sent)
}

// failing answers with an API Status.
func failing(code int, reason metav1.StatusReason, message string) func(http.ResponseWriter, *arkv1.ServerStatusRequest) {
	return func(w http.ResponseWriter, _ *arkv1.ServerStatusRequest) {
		w.WriteHeader(code)
		fmt.Fprintf(w, `{"kind":"Status","apiVersion":"v1","status":"Failure","message":%q,"reason":%q,"code":%d}`, message, reason, code)
	}
}

// ark version asks the server's build with a ServerStatusRequest in the
// namespace of -n (default: the home namespace) and prints it after what it
// printed before; a server too old to answer, or a user who may not ask,
// still gets the rest, and only an unexpected failure is an error.
func TestVersionServer(t *testing.T) {
	const servedLine = "Server: ark.heptio.com/v1 served by APIService v1.ark.heptio.com (Available=True)\n"
	for _, tc := range []struct {
		name     string
		ssr      bool
		answer   func(http.ResponseWriter, *arkv1.ServerStatusRequest)
		args     []string
		wantLast string
		wantSent []string
		wantCode int
	}{
		{
			name: "answered", ssr: true, answer: processed,
			wantLast: "Server: ark v1.2.3 (commit 0123abc), go1.26.8, linux/arm64\n",
			wantSent: []string{"heptio-ark ark-version-"},
		},
		{
			name: "in the namespace of -n", ssr: true, answer: processed, args: []string{"-n", "team-a"},
			wantLast: "Server: ark v1.2.3 (commit 0123abc), go1.26.8, linux/arm64\n",
			wantSent: []string{"team-a ark-version-"},
		},
		{
			name: "forbidden", ssr: true,
			answer:   failing(403, metav1.StatusReasonForbidden, `serverstatusrequests.ark.heptio.com is forbidden: User "nobody" cannot create resource "serverstatusrequests"`),
			wantLast: `Server: ark version unknown: you may not create serverstatusrequests in namespace "heptio-ark" (name one where you may with -n; Kubernetes' view, edit and admin roles grant it)` + "\n",
			wantSent: []string{"heptio-ark ark-version-"},
		},
		{
			name:     "a server older than serverstatusrequests",
			wantLast: "Server: ark version unknown: this Ark server does not serve serverstatusrequests (it is older than this client)\n",
		},
		{
			name: "create not allowed", ssr: true,
			answer:   failing(405, metav1.StatusReasonMethodNotAllowed, `create is not supported on resources of kind "serverstatusrequests.ark.heptio.com"`),
			wantLast: "Server: ark version unknown: this Ark server does not answer serverstatusrequests (it is older than this client)\n",
			wantSent: []string{"heptio-ark ark-version-"},
		},
		{
			name: "the namespace does not exist", ssr: true, args: []string{"-n", "gone"},
			answer:   failing(404, metav1.StatusReasonNotFound, `namespaces "gone" not found`),
			wantLast: "Server: ark version unknown: namespaces \"gone\" not found\n",
			wantSent: []string{"gone ark-version-"}, wantCode: 1,
		},
		{
			name: "not processed", ssr: true,
			answer: func(w http.ResponseWriter, sent *arkv1.ServerStatusRequest) {
				w.WriteHeader(http.StatusCreated)
				json.NewEncoder(w).Encode(sent)
			},
			wantLast: "Server: ark version unknown: the server did not process the request (phase \"\")\n",
			wantSent: []string{"heptio-ark ark-version-"}, wantCode: 1,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			vs := &versionServer{ssr: tc.ssr, answer: tc.answer}
			_, kc := apiServer(t, vs.serveHTTP(t))
			var out, errOut bytes.Buffer
			code := Main(append([]string{"ark", "--kubeconfig", kc, "version"}, tc.args...), strings.NewReader(""), &out, &errOut)
			if code != tc.wantCode {
				t.Errorf("exit %d, want %d; stderr: %s", code, tc.wantCode, errOut.String())
			}
			lines := strings.SplitAfter(out.String(), "\n")
			if len(lines) != 5 || lines[4] != "" {
				t.Fatalf("stdout is not four lines:\n%s", out.String())
			}
			if !strings.HasPrefix(lines[0], "Client: ark ") || lines[1] != "Kubernetes: v1.37.2\n" || lines[2] != servedLine {
				t.Errorf("the lines before the server's version changed:\n%s", out.String())
			}
			if lines[3] != tc.wantLast {
				t.Errorf("last line\n %q, want\n %q", lines[3], tc.wantLast)
			}
			assertEqual(t, "requests created (namespace generateName)", vs.sent, tc.wantSent)
		})
	}
}
