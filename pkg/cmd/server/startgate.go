package server

import (
	"net/http"
	"sync/atomic"
	"time"

	"k8s.io/apiserver/pkg/authentication/authenticator"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/klog/v2"
)

// authStartWindow is how long after start the gate may hold requests back.
const authStartWindow = 30 * time.Second

// authStartGate answers 503 with Retry-After, instead of a wrong 403, to
// requests the aggregator proxies while delegated authentication still
// takes them for system:anonymous. For about 100 ms after k8s.io/apiserver
// (v0.37.2) starts serving, its request-header authentication is not in
// effect yet: measured on the local cluster, a list through kube-apiserver
// right after a restart got "User system:anonymous cannot list". client-go
// and the aggregator retry a 503, so users see nothing.
//
// A proxied request is one carrying a username header (X-Remote-User). The
// first one that authenticates as somebody opens the gate for good, and so
// does the end of authStartWindow, so a forged header cannot hold the
// server back.
type authStartGate struct {
	next    http.Handler
	authn   authenticator.Request
	headers func() []string
	until   time.Time
	open    atomic.Bool
}

// newAuthStartGate gates next; usernameHeaders (nil: X-Remote-User) are the
// request-header authentication's, read per request as they may change.
func newAuthStartGate(next http.Handler, authn authenticator.Request, usernameHeaders func() []string, now time.Time) http.Handler {
	if authn == nil {
		return next
	}
	if usernameHeaders == nil {
		usernameHeaders = func() []string { return []string{"X-Remote-User"} }
	}
	return &authStartGate{next: next, authn: authn, headers: usernameHeaders, until: now.Add(authStartWindow)}
}

func (g *authStartGate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if g.open.Load() || !g.proxied(r) {
		g.next.ServeHTTP(w, r)
		return
	}
	if time.Now().After(g.until) {
		g.open.Store(true)
		g.next.ServeHTTP(w, r)
		return
	}
	// A clone: the request-header authenticator removes the headers it
	// used, and the real chain must see them.
	resp, ok, err := g.authn.AuthenticateRequest(r.Clone(r.Context()))
	if err == nil && ok && resp.User.GetName() != user.Anonymous {
		g.open.Store(true)
		klog.InfoS("Delegated authentication is in effect", "firstUser", resp.User.GetName())
		g.next.ServeHTTP(w, r)
		return
	}
	w.Header().Set("Retry-After", "1")
	http.Error(w, "ark-apiserver is starting: its delegated authentication is not ready yet", http.StatusServiceUnavailable)
}

func (g *authStartGate) proxied(r *http.Request) bool {
	for _, h := range g.headers() {
		if r.Header.Get(h) != "" {
			return true
		}
	}
	return false
}
