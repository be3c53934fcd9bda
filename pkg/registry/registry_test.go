package registry

import (
	"context"
	"testing"

	"k8s.io/apiserver/pkg/authentication/user"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"

	"github.com/arkproject/ark/pkg/apis/ark"
	"github.com/arkproject/ark/pkg/apis/ark/validation"
)

// Only this process's loopback identity (name and UID) may pass on a
// requester; a client presenting the name alone is recorded as itself, and
// the loopback identity is never recorded.
func TestRequesterPassOnOnlyByLoopback(t *testing.T) {
	scope := validation.Scope{HomeNamespace: "heptio-ark", LoopbackUID: "f1e2d3"}
	admin := &ark.UserInfo{Username: "admin", Groups: []string{"system:masters"}}
	as := func(u user.Info) context.Context { return genericapirequest.WithUser(context.Background(), u) }
	loopback := &user.DefaultInfo{Name: user.APIServerUser, UID: "f1e2d3", Groups: []string{user.SystemPrivilegedGroup}}
	if got := Requester(as(loopback), scope, admin); got != admin {
		t.Errorf("loopback passing on: %+v", got)
	}
	if got := Requester(as(loopback), scope, nil); got != nil {
		t.Errorf("the loopback identity was recorded as a requester: %+v", got)
	}
	for _, impostor := range []*user.DefaultInfo{
		{Name: user.APIServerUser, Groups: []string{"tenants"}},
		{Name: user.APIServerUser, UID: "guessed", Groups: []string{"tenants"}},
	} {
		got := Requester(as(impostor), scope, admin)
		if got == nil || got.Username != user.APIServerUser || len(got.Groups) != 1 || got.Groups[0] != "tenants" {
			t.Errorf("%+v passed on %+v; want itself recorded", impostor, got)
		}
	}
	// Without a known loopback UID nobody passes anything on.
	if got := Requester(as(loopback), validation.Scope{}, admin); got == admin {
		t.Error("pass-on allowed with no loopback UID configured")
	}
	alice := &user.DefaultInfo{Name: "alice", UID: "a-1", Groups: []string{"devs"}, Extra: map[string][]string{"k": {"v"}}}
	got := Requester(as(alice), scope, admin)
	if got.Username != "alice" || got.UID != "a-1" || got.Groups[0] != "devs" || got.Extra["k"][0] != "v" {
		t.Errorf("alice recorded as %+v", got)
	}
}
