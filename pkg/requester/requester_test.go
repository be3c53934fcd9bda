package requester

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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
