package backup

import (
	"context"
	"errors"
	"reflect"
	"testing"

	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
)

// fakeSAR answers SubjectAccessReviews with respond and records them.
type fakeSAR struct {
	reviews []*authorizationv1.SubjectAccessReview
	respond func(*authorizationv1.SubjectAccessReview) (authorizationv1.SubjectAccessReviewStatus, error)
}

func (f *fakeSAR) Create(_ context.Context, r *authorizationv1.SubjectAccessReview, _ metav1.CreateOptions) (*authorizationv1.SubjectAccessReview, error) {
	f.reviews = append(f.reviews, r.DeepCopy())
	status, err := f.respond(r)
	if err != nil {
		return nil, err
	}
	out := r.DeepCopy()
	out.Status = status
	return out, nil
}

func TestSubjectAccessReviewRequest(t *testing.T) {
	sar := &fakeSAR{respond: func(*authorizationv1.SubjectAccessReview) (authorizationv1.SubjectAccessReviewStatus, error) {
		return authorizationv1.SubjectAccessReviewStatus{Allowed: true}, nil
	}}
	c := &SubjectAccessReviews{Client: sar}
	user := &arkv1.UserInfo{Username: "alice", UID: "u-1", Groups: []string{"devs"}, Extra: map[string]arkv1.ExtraValue{"scopes": {"a", "b"}}}
	allowed, reason, err := c.CanList(context.Background(), user, schema.GroupResource{Group: "apps", Resource: "deployments"}, "app")
	if !allowed || reason != "" || err != nil {
		t.Fatalf("CanList = %v, %q, %v", allowed, reason, err)
	}
	if len(sar.reviews) != 1 {
		t.Fatalf("%d reviews", len(sar.reviews))
	}
	want := authorizationv1.SubjectAccessReviewSpec{
		User: "alice", UID: "u-1", Groups: []string{"devs"},
		Extra: map[string]authorizationv1.ExtraValue{"scopes": {"a", "b"}},
		ResourceAttributes: &authorizationv1.ResourceAttributes{
			Verb: "list", Group: "apps", Resource: "deployments", Namespace: "app",
		},
	}
	if got := sar.reviews[0].Spec; !reflect.DeepEqual(got, want) {
		t.Errorf("review spec\n got %+v\nwant %+v", got, want)
	}
}

func TestSubjectAccessReviewDecisions(t *testing.T) {
	for _, tc := range []struct {
		name       string
		status     authorizationv1.SubjectAccessReviewStatus
		allowed    bool
		wantReason string
	}{
		{name: "allowed", status: authorizationv1.SubjectAccessReviewStatus{Allowed: true}, allowed: true},
		{name: "allowed and denied", status: authorizationv1.SubjectAccessReviewStatus{Allowed: true, Denied: true, Reason: "deny rule"}, wantReason: "deny rule"},
		{name: "denied with reason", status: authorizationv1.SubjectAccessReviewStatus{Denied: true, Reason: "policy says no"}, wantReason: "policy says no"},
		{name: "no opinion", status: authorizationv1.SubjectAccessReviewStatus{}, wantReason: "no RBAC rule allows it"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sar := &fakeSAR{respond: func(*authorizationv1.SubjectAccessReview) (authorizationv1.SubjectAccessReviewStatus, error) {
				return tc.status, nil
			}}
			c := &SubjectAccessReviews{Client: sar}
			allowed, reason, err := c.CanList(context.Background(), &arkv1.UserInfo{Username: "bob"}, schema.GroupResource{Resource: "secrets"}, "")
			if err != nil || allowed != tc.allowed || reason != tc.wantReason {
				t.Errorf("CanList = %v, %q, %v; want %v, %q", allowed, reason, err, tc.allowed, tc.wantReason)
			}
			if ra := sar.reviews[0].Spec.ResourceAttributes; ra.Namespace != "" || ra.Group != "" || ra.Resource != "secrets" {
				t.Errorf("attributes %+v", ra)
			}
		})
	}
}

// Answers are remembered per user, resource and namespace; failures are not.
func TestSubjectAccessReviewCache(t *testing.T) {
	fail := true
	sar := &fakeSAR{respond: func(r *authorizationv1.SubjectAccessReview) (authorizationv1.SubjectAccessReviewStatus, error) {
		if fail && r.Spec.ResourceAttributes.Resource == "pods" {
			return authorizationv1.SubjectAccessReviewStatus{}, errors.New("authorizer down")
		}
		return authorizationv1.SubjectAccessReviewStatus{Allowed: r.Spec.ResourceAttributes.Namespace == "app"}, nil
	}}
	c := &SubjectAccessReviews{Client: sar}
	ctx := context.Background()
	alice, bob := &arkv1.UserInfo{Username: "alice"}, &arkv1.UserInfo{Username: "bob"}
	cm := schema.GroupResource{Resource: "configmaps"}
	check := func(user *arkv1.UserInfo, gr schema.GroupResource, ns string, want bool, wantReviews int) {
		t.Helper()
		allowed, _, err := c.CanList(ctx, user, gr, ns)
		if err != nil || allowed != want {
			t.Errorf("CanList(%s, %s, %q) = %v, %v; want %v", user.Username, gr, ns, allowed, err, want)
		}
		if len(sar.reviews) != wantReviews {
			t.Errorf("after CanList(%s, %s, %q): %d reviews, want %d", user.Username, gr, ns, len(sar.reviews), wantReviews)
		}
	}
	check(alice, cm, "app", true, 1)
	check(alice, cm, "app", true, 1)
	check(alice, cm, "other", false, 2)
	check(alice, cm, "other", false, 2)
	check(bob, cm, "app", true, 3)
	check(alice, schema.GroupResource{Group: "apps", Resource: "configmaps"}, "app", true, 4)

	pods := schema.GroupResource{Resource: "pods"}
	if _, _, err := c.CanList(ctx, alice, pods, "app"); err == nil {
		t.Fatal("want the authorizer's error")
	}
	fail = false
	check(alice, pods, "app", true, 6)
}
