// Package registry holds what Ark's three resources share at the API
// boundary: recording who asked for an operation, the strategies' common
// answers, and table formatting.
package registry

import (
	"context"
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/duration"
	"k8s.io/apiserver/pkg/authentication/user"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"

	"github.com/arkproject/ark/pkg/apis/ark"
	"github.com/arkproject/ark/pkg/apis/ark/validation"
)

// Requester returns the user to record on a new or changed Backup, Restore
// or Schedule: the authenticated user of the request. Only Ark's own
// controllers may pass on a requester they were given, which is how a
// schedule's backups act with the rights of the schedule's creator. They are
// recognised by this process's loopback identity, name and UID, which no
// request from outside can carry (the name alone can be impersonated); and
// the loopback identity itself is never recorded, since acting as it would
// act as system:masters.
func Requester(ctx context.Context, scope validation.Scope, supplied *ark.UserInfo) *ark.UserInfo {
	u, ok := genericapirequest.UserFrom(ctx)
	if !ok {
		return nil
	}
	if IsLoopback(u, scope) {
		return supplied
	}
	info := &ark.UserInfo{Username: u.GetName(), UID: u.GetUID(), Groups: u.GetGroups()}
	if extra := u.GetExtra(); len(extra) > 0 {
		info.Extra = make(map[string]ark.ExtraValue, len(extra))
		for k, v := range extra {
			info.Extra[k] = append(ark.ExtraValue(nil), v...)
		}
	}
	return info
}

// IsLoopback reports whether u is this server's own loopback identity.
func IsLoopback(u user.Info, scope validation.Scope) bool {
	return u.GetName() == user.APIServerUser && scope.LoopbackUID != "" && u.GetUID() == scope.LoopbackUID
}

// ConfineToNamespace makes a backup spec outside the home namespace cover
// its own namespace when it names none: for a namespace user "everything"
// means their namespace. Validation refuses anything wider.
func ConfineToNamespace(spec *ark.BackupSpec, namespace string, scope validation.Scope) {
	if namespace != "" && namespace != scope.HomeNamespace && len(spec.IncludedNamespaces) == 0 {
		spec.IncludedNamespaces = []string{namespace}
	}
}

// Timestamp formats a time the way `ark ... get` prints it.
func Timestamp(t *metav1.Time) string {
	if t == nil || t.IsZero() {
		return "<none>"
	}
	return t.UTC().Format("2006-01-02 15:04:05 -0700 MST")
}

// Until formats the time left before t, "<none>" when unset.
func Until(t *metav1.Time, now time.Time) string {
	if t == nil || t.IsZero() {
		return "<none>"
	}
	d := t.Sub(now)
	if d < 0 {
		return "expired"
	}
	return duration.HumanDuration(d)
}

// Ago formats how long ago t was, "<none>" when unset.
func Ago(t *metav1.Time, now time.Time) string {
	if t == nil || t.IsZero() {
		return "<none>"
	}
	return duration.HumanDuration(now.Sub(t.Time)) + " ago"
}

// ProgressPhase shows a running operation's progress next to its phase.
func ProgressPhase(phase string, p *ark.Progress) string {
	if phase == "" {
		phase = "New"
	}
	if p == nil || p.TotalItems == 0 || phase != "InProgress" {
		return phase
	}
	return fmt.Sprintf("%s (%d/%d)", phase, p.ItemsDone, p.TotalItems)
}
