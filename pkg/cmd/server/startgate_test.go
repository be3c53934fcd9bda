package server

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"k8s.io/apiserver/pkg/authentication/authenticator"
	"k8s.io/apiserver/pkg/authentication/user"
)

// fakeAuthn stands in for delegated authentication before and after its
// request-header part takes effect; like the real one it removes the
// header it used.
type fakeAuthn struct{ ready bool }

func (f *fakeAuthn) AuthenticateRequest(r *http.Request) (*authenticator.Response, bool, error) {
	name := user.Anonymous
	if f.ready && r.Header.Get("X-Remote-User") != "" {
		name = r.Header.Get("X-Remote-User")
		r.Header.Del("X-Remote-User")
	}
	return &authenticator.Response{User: &user.DefaultInfo{Name: name}}, true, nil
}

func TestAuthStartGate(t *testing.T) {
	authn := &fakeAuthn{}
	var seen []string
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = append(seen, r.Header.Get("X-Remote-User"))
	})
	gate := newAuthStartGate(next, authn, nil, time.Now())
	do := func(remoteUser string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodGet, "/apis/ark.heptio.com/v1/namespaces/heptio-ark/backups", nil)
		if remoteUser != "" {
			r.Header.Set("X-Remote-User", remoteUser)
		}
		w := httptest.NewRecorder()
		gate.ServeHTTP(w, r)
		return w
	}

	// Not ready: a proxied request waits with a 503 and Retry-After...
	if w := do("alice"); w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") != "1" {
		t.Errorf("proxied request before authentication is ready: %d %q", w.Code, w.Header().Get("Retry-After"))
	}
	// ...a direct one (a probe, a token) passes.
	if w := do(""); w.Code != http.StatusOK {
		t.Errorf("unproxied request: %d", w.Code)
	}
	// Ready: passes, with its header intact for the real chain.
	authn.ready = true
	if w := do("alice"); w.Code != http.StatusOK {
		t.Errorf("proxied request once ready: %d", w.Code)
	}
	if len(seen) != 2 || seen[1] != "alice" {
		t.Errorf("the chain saw %q, want the header kept", seen)
	}
	// Open for good: not even asked again.
	authn.ready = false
	if w := do("bob"); w.Code != http.StatusOK {
		t.Errorf("after opening: %d", w.Code)
	}

	// The window ends: a forged header cannot hold the server back.
	late := newAuthStartGate(next, &fakeAuthn{}, nil, time.Now().Add(-authStartWindow-time.Second))
	w := httptest.NewRecorder()
	r := httptest.NewRequest(http.MethodGet, "/apis/ark.heptio.com/v1", nil)
	r.Header.Set("X-Remote-User", "mallory")
	late.ServeHTTP(w, r)
	if w.Code != http.StatusOK {
		t.Errorf("after the window: %d", w.Code)
	}
}
