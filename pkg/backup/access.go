package backup

import (
	"context"
	"fmt"
	"sync"

	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	authorizationclient "k8s.io/client-go/kubernetes/typed/authorization/v1"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
)

// AccessChecker answers whether the user who asked for a backup may list a
// resource, so a backup never contains what its creator could not read.
type AccessChecker interface {
	CanList(ctx context.Context, user *arkv1.UserInfo, gr schema.GroupResource, namespace string) (allowed bool, reason string, err error)
}

// SubjectAccessReviews checks with the cluster's authorizer, remembering each
// answer for the life of the checker (one backup).
type SubjectAccessReviews struct {
	Client authorizationclient.SubjectAccessReviewInterface

	mu    sync.Mutex
	cache map[string]decision
}

type decision struct {
	allowed bool
	reason  string
}

var _ AccessChecker = &SubjectAccessReviews{}

var _ ExecAccessChecker = &SubjectAccessReviews{}

// CanList asks whether user may list gr in namespace ("" is cluster-wide).
func (s *SubjectAccessReviews) CanList(ctx context.Context, user *arkv1.UserInfo, gr schema.GroupResource, namespace string) (bool, string, error) {
	return s.check(ctx, user, authorizationv1.ResourceAttributes{Verb: "list", Group: gr.Group, Resource: gr.Resource, Namespace: namespace})
}

// CanCreate asks whether user may create gr in namespace ("" is
// cluster-scoped), as restores do.
func (s *SubjectAccessReviews) CanCreate(ctx context.Context, user *arkv1.UserInfo, gr schema.GroupResource, namespace string) (bool, string, error) {
	return s.check(ctx, user, authorizationv1.ResourceAttributes{Verb: "create", Group: gr.Group, Resource: gr.Resource, Namespace: namespace})
}

// CanUpdate asks whether user may update gr in namespace, as restores with
// the update policy do to existing objects.
func (s *SubjectAccessReviews) CanUpdate(ctx context.Context, user *arkv1.UserInfo, gr schema.GroupResource, namespace string) (bool, string, error) {
	return s.check(ctx, user, authorizationv1.ResourceAttributes{Verb: "update", Group: gr.Group, Resource: gr.Resource, Namespace: namespace})
}

// CanDownload asks whether user may download the backups of namespace, as
// a restore of another namespace's backup needs.
func (s *SubjectAccessReviews) CanDownload(ctx context.Context, user *arkv1.UserInfo, namespace string) (bool, string, error) {
	return s.check(ctx, user, authorizationv1.ResourceAttributes{Verb: "get", Group: arkGroup, Resource: "backups", Subresource: "download", Namespace: namespace})
}

// CanExec asks whether user may exec into pods in namespace, as hooks do.
func (s *SubjectAccessReviews) CanExec(ctx context.Context, user *arkv1.UserInfo, namespace string) (bool, string, error) {
	return s.check(ctx, user, authorizationv1.ResourceAttributes{Verb: "create", Resource: "pods", Subresource: "exec", Namespace: namespace})
}

func (s *SubjectAccessReviews) check(ctx context.Context, user *arkv1.UserInfo, attrs authorizationv1.ResourceAttributes) (bool, string, error) {
	key := fmt.Sprintf("%s|%s|%s|%s|%s|%s", user.Username, attrs.Verb, attrs.Group, attrs.Resource, attrs.Subresource, attrs.Namespace)
	s.mu.Lock()
	if d, ok := s.cache[key]; ok {
		s.mu.Unlock()
		return d.allowed, d.reason, nil
	}
	s.mu.Unlock()
	extra := map[string]authorizationv1.ExtraValue{}
	for k, v := range user.Extra {
		extra[k] = authorizationv1.ExtraValue(v)
	}
	review := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		User: user.Username, UID: user.UID, Groups: user.Groups, Extra: extra,
		ResourceAttributes: &attrs,
	}}
	resp, err := s.Client.Create(ctx, review, metav1.CreateOptions{})
	if err != nil {
		return false, "", err
	}
	d := decision{allowed: resp.Status.Allowed && !resp.Status.Denied, reason: resp.Status.Reason}
	if d.reason == "" && !d.allowed {
		d.reason = "no RBAC rule allows it"
	}
	s.mu.Lock()
	if s.cache == nil {
		s.cache = map[string]decision{}
	}
	s.cache[key] = d
	s.mu.Unlock()
	return d.allowed, d.reason, nil
}
