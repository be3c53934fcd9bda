package requester

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
)

// Every request of the clients carries the requester's identity in the
// impersonation headers kube-apiserver reads.
func TestClientsImpersonateTheRequester(t *testing.T) {
	var mu sync.Mutex
	var seen []http.Header
	var urls []string
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Header.Clone())
		urls = append(urls, r.URL.String())
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"apiVersion":"v1","kind":"ConfigMapList","metadata":{},"items":[]}`))
	}))
	defer srv.Close()
	user := &arkv1.UserInfo{
		Username: "alice", UID: "u-1", Groups: []string{"tenants", "system:authenticated"},
		Extra: map[string]arkv1.ExtraValue{"example.com/team": {"a", "b"}},
	}
	// TLS, as a real API server: client-go ignores DisableCompression on a
	// plain-HTTP transport.
	c, err := (&Factory{Base: &rest.Config{Host: srv.URL, TLSClientConfig: rest.TLSClientConfig{Insecure: true}}}).For(user)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := c.Dynamic.Resource(schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}).Namespace("a").List(ctx, metav1.ListOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Kube.CoreV1().ConfigMaps("a").List(ctx, metav1.ListOptions{}); err != nil {
		t.Fatal(err)
	}
	// The backup's raw LISTs go as the requester too.
	raw, ok := c.Dynamic.(interface {
		ListRaw(context.Context, schema.GroupVersionResource, string, metav1.ListOptions) ([]byte, error)
	})
	if !ok {
		t.Fatal("the requester's dynamic client cannot list raw pages")
	}
	body, err := raw.ListRaw(ctx, schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}, "a", metav1.ListOptions{Limit: 500, Continue: "tok", LabelSelector: "x=y"})
	if err != nil || !strings.Contains(string(body), "ConfigMapList") {
		t.Fatalf("ListRaw: %q, %v", body, err)
	}
	if got, want := urls[len(urls)-1], "/apis/apps/v1/namespaces/a/deployments?continue=tok&labelSelector=x%3Dy&limit=500"; got != want {
		t.Errorf("ListRaw requested %s, want %s", got, want)
	}
	if got := seen[len(seen)-1].Get("Accept-Encoding"); got != "" {
		t.Errorf("ListRaw asked for Accept-Encoding %q, want none (uncompressed pages)", got)
	}
	if len(seen) != 3 {
		t.Fatalf("%d requests", len(seen))
	}
	for i, h := range seen {
		if got := h.Get("Impersonate-User"); got != "alice" {
			t.Errorf("request %d: Impersonate-User %q", i, got)
		}
		if got := h.Get("Impersonate-Uid"); got != "u-1" {
			t.Errorf("request %d: Impersonate-Uid %q", i, got)
		}
		if got := strings.Join(h.Values("Impersonate-Group"), ","); got != "tenants,system:authenticated" {
			t.Errorf("request %d: Impersonate-Group %q", i, got)
		}
		if got := strings.Join(h.Values("Impersonate-Extra-Example.com%2fteam"), ","); got != "a,b" {
			t.Errorf("request %d: extra %q (headers %v)", i, got, h)
		}
	}
	if c.Config.Impersonate.UserName != "alice" {
		t.Errorf("config for exec streams: %+v", c.Config.Impersonate)
	}
}

// Without a requester there is no one to act as: never fall back to Ark's
// own rights.
func TestNoRequesterNoClients(t *testing.T) {
	f := &Factory{Base: &rest.Config{Host: "https://127.0.0.1:1"}}
	for _, u := range []*arkv1.UserInfo{nil, {}} {
		if _, err := f.For(u); err == nil {
			t.Errorf("clients for %+v", u)
		}
	}
	base := &rest.Config{Host: "https://127.0.0.1:1", Impersonate: rest.ImpersonationConfig{UserName: "someone"}}
	if _, err := (&Factory{Base: base}).For(&arkv1.UserInfo{Username: "alice"}); err == nil {
		t.Error("impersonation through an impersonation was allowed")
	}
}

// A restore's creates ask for the created object's metadata only, go as
// the requester, and read the UID from either answer a server may give;
// a refusal is the server's status error, as the dynamic client's is.
func TestCreateMetadataAsksForMetadataOnly(t *testing.T) {
	var mu sync.Mutex
	var got *http.Request
	var sent []byte
	answer := func(w http.ResponseWriter) {}
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		got, sent = r.Clone(context.Background()), body
		respond := answer
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		respond(w)
	}))
	defer srv.Close()
	c, err := (&Factory{Base: &rest.Config{Host: srv.URL, TLSClientConfig: rest.TLSClientConfig{Insecure: true}}}).For(&arkv1.UserInfo{Username: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	creator, ok := c.Dynamic.(interface {
		CreateMetadata(context.Context, schema.GroupVersionResource, string, *unstructured.Unstructured, metav1.CreateOptions) (*metav1.ObjectMeta, error)
	})
	if !ok {
		t.Fatal("the requester's dynamic client cannot create for metadata")
	}
	cm := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "tides"}, "data": map[string]any{"high": "06:12"}}}
	gvr := schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}
	ctx := context.Background()

	for _, tc := range []struct{ name, body string }{
		{"metadata only", `{"kind":"PartialObjectMetadata","apiVersion":"meta.k8s.io/v1","metadata":{"name":"tides","namespace":"harbour","uid":"u-42"}}`},
		{"whole object", `{"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"tides","namespace":"harbour","uid":"u-42"},"data":{"high":"06:12"}}`},
	} {
		mu.Lock()
		answer = func(w http.ResponseWriter) { w.WriteHeader(http.StatusCreated); io.WriteString(w, tc.body) }
		mu.Unlock()
		meta, err := creator.CreateMetadata(ctx, gvr, "harbour", cm, metav1.CreateOptions{FieldManager: "ark-restore"})
		if err != nil || meta.UID != "u-42" || meta.Name != "tides" || meta.Namespace != "harbour" {
			t.Fatalf("%s: %+v, %v", tc.name, meta, err)
		}
	}
	mu.Lock()
	if got.Method != http.MethodPost || got.URL.Path != "/api/v1/namespaces/harbour/configmaps" || got.URL.Query().Get("fieldManager") != "ark-restore" {
		t.Errorf("created with %s %s", got.Method, got.URL)
	}
	if accept := got.Header.Get("Accept"); !strings.HasPrefix(accept, "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1") {
		t.Errorf("Accept %q does not ask for the metadata first", accept)
	}
	if u := got.Header.Get("Impersonate-User"); u != "alice" {
		t.Errorf("created as %q, want alice", u)
	}
	if !strings.Contains(string(sent), `"high":"06:12"`) {
		t.Errorf("sent %s", sent)
	}
	answer = func(w http.ResponseWriter) {
		w.WriteHeader(http.StatusConflict)
		io.WriteString(w, `{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"AlreadyExists","code":409,"message":"configmaps \"tides\" already exists"}`)
	}
	mu.Unlock()
	if _, err := creator.CreateMetadata(ctx, gvr, "harbour", cm, metav1.CreateOptions{}); !apierrors.IsAlreadyExists(err) || !strings.Contains(err.Error(), `configmaps "tides" already exists`) {
		t.Errorf("a conflict gave %v, want the server's AlreadyExists", err)
	}
	// A refusal keeps Kubernetes' reason, as an RBAC escalation refusal's
	// text is what a restore's results report.
	mu.Lock()
	answer = func(w http.ResponseWriter) {
		w.WriteHeader(http.StatusForbidden)
		io.WriteString(w, `{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"Forbidden","code":403,"message":"rolebindings.rbac.authorization.k8s.io \"all\" is forbidden: user \"alice\" is attempting to grant RBAC permissions not currently held"}`)
	}
	mu.Unlock()
	_, err = creator.CreateMetadata(ctx, gvr, "harbour", cm, metav1.CreateOptions{})
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "attempting to grant RBAC permissions not currently held") {
		t.Errorf("a refusal gave %v, want the server's Forbidden with its message", err)
	}
	raw := c.Dynamic.(interface {
		ListRaw(context.Context, schema.GroupVersionResource, string, metav1.ListOptions) ([]byte, error)
	})
	if _, err := raw.ListRaw(ctx, gvr, "harbour", metav1.ListOptions{}); !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "not currently held") {
		t.Errorf("a refused list gave %v, want the server's Forbidden with its message", err)
	}
}
