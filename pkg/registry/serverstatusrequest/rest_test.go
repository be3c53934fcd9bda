package serverstatusrequest

import (
	"context"
	"errors"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/authentication/user"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/arkproject/ark/pkg/apis/ark"
	"github.com/arkproject/ark/pkg/version"
)

var (
	testBuild = version.Info{Version: "v1.2.3", Commit: "0123abc", GoVersion: "go1.26.8", Platform: "linux/amd64"}
	testNow   = time.Date(2026, 12, 4, 8, 0, 0, 0, time.UTC)
)

func testREST() *REST {
	return &REST{build: func() version.Info { return testBuild }, now: func() time.Time { return testNow }}
}

func userCtx(namespace string) context.Context {
	ctx := genericapirequest.WithUser(context.Background(), &user.DefaultInfo{Name: "jane"})
	if namespace != "" {
		ctx = genericapirequest.WithNamespace(ctx, namespace)
	}
	return ctx
}

// The answer is the request with the server's build in its status; what
// the client claimed in status, and what only a stored object has, is gone.
func TestCreateAnswers(t *testing.T) {
	req := &ark.ServerStatusRequest{
		ObjectMeta: metav1.ObjectMeta{
			GenerateName: "ark-version-", Namespace: "team-a", Labels: map[string]string{"app": "cli"},
			ResourceVersion: "7", ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "ark", Operation: metav1.ManagedFieldsOperationUpdate, APIVersion: "ark.heptio.com/v1", FieldsType: "FieldsV1"}},
		},
		Status: ark.ServerStatusRequestStatus{ServerVersion: "v0.0.1-claimed", Platform: "plan9/386"},
	}
	validated := 0
	obj, err := testREST().Create(userCtx("team-a"), req, func(ctx context.Context, obj runtime.Object) error {
		validated++
		if got := obj.(*ark.ServerStatusRequest); got.Name == "" {
			t.Errorf("admission saw no name: %+v", got.ObjectMeta)
		}
		return nil
	}, &metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if validated != 1 {
		t.Errorf("validating admission ran %d times, want 1", validated)
	}
	got := obj.(*ark.ServerStatusRequest)
	if len(got.Name) != len("ark-version-")+5 || got.Name[:len("ark-version-")] != "ark-version-" {
		t.Errorf("name %q was not generated from ark-version-", got.Name)
	}
	if got.Namespace != "team-a" || got.Labels["app"] != "cli" {
		t.Errorf("metadata not kept: %+v", got.ObjectMeta)
	}
	if got.ResourceVersion != "" || got.ManagedFields != nil || got.UID != "" {
		t.Errorf("an unstored answer has a resourceVersion, uid or managed fields: %+v", got.ObjectMeta)
	}
	now := metav1.NewTime(testNow)
	want := ark.ServerStatusRequestStatus{
		Phase: ark.ServerStatusRequestPhaseProcessed, ProcessedTimestamp: &now,
		ServerVersion: "v1.2.3", Commit: "0123abc", GoVersion: "go1.26.8", Platform: "linux/amd64",
	}
	if got.Status.Phase != want.Phase || !got.Status.ProcessedTimestamp.Equal(want.ProcessedTimestamp) ||
		got.Status.ServerVersion != want.ServerVersion || got.Status.Commit != want.Commit ||
		got.Status.GoVersion != want.GoVersion || got.Status.Platform != want.Platform {
		t.Errorf("status %+v, want %+v", got.Status, want)
	}
	if !got.CreationTimestamp.Equal(&now) {
		t.Errorf("creationTimestamp %v, want %v", got.CreationTimestamp, now)
	}
	if req.Status.ServerVersion != "v0.0.1-claimed" {
		t.Errorf("the request object was changed in place: %+v", req.Status)
	}
}

// A name is optional: nothing is stored under it.
func TestCreateWithoutName(t *testing.T) {
	obj, err := testREST().Create(userCtx("heptio-ark"), &ark.ServerStatusRequest{}, nil, &metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := obj.(*ark.ServerStatusRequest); got.Name != "" || got.Status.ServerVersion != "v1.2.3" {
		t.Errorf("answer %+v", got)
	}
}

func TestCreateRefuses(t *testing.T) {
	denied := errors.New("denied by policy")
	for _, tc := range []struct {
		name      string
		ctx       context.Context
		obj       runtime.Object
		admission rest.ValidateObjectFunc
		check     func(error) bool
	}{
		{"no namespace", userCtx(""), &ark.ServerStatusRequest{}, nil, apierrors.IsBadRequest},
		{"another namespace", userCtx("team-a"), &ark.ServerStatusRequest{ObjectMeta: metav1.ObjectMeta{Name: "v", Namespace: "team-b"}}, nil, apierrors.IsBadRequest},
		{"not a ServerStatusRequest", userCtx("team-a"), &ark.Backup{}, nil, apierrors.IsBadRequest},
		{"bad name", userCtx("team-a"), &ark.ServerStatusRequest{ObjectMeta: metav1.ObjectMeta{Name: "Not_A_Name"}}, nil, apierrors.IsInvalid},
		{"bad label", userCtx("team-a"), &ark.ServerStatusRequest{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"a b": "c"}}}, nil, apierrors.IsInvalid},
		{"admission", userCtx("team-a"), &ark.ServerStatusRequest{}, func(context.Context, runtime.Object) error { return denied }, func(err error) bool { return errors.Is(err, denied) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			obj, err := testREST().Create(tc.ctx, tc.obj, tc.admission, &metav1.CreateOptions{})
			if err == nil || !tc.check(err) {
				t.Errorf("got %v, %v", obj, err)
			}
		})
	}
}

// Only create is served: the API server answers every other verb with 405
// and discovery lists only create. Implementing any of these would also
// make the namespace controller and the garbage collector visit it.
func TestCreateOnly(t *testing.T) {
	var s rest.Storage = NewREST()
	if _, ok := s.(rest.Getter); ok {
		t.Error("serverstatusrequests serve get")
	}
	if _, ok := s.(rest.Lister); ok {
		t.Error("serverstatusrequests serve list")
	}
	if _, ok := s.(rest.Watcher); ok {
		t.Error("serverstatusrequests serve watch")
	}
	if _, ok := s.(rest.Updater); ok {
		t.Error("serverstatusrequests serve update")
	}
	if _, ok := s.(rest.GracefulDeleter); ok {
		t.Error("serverstatusrequests serve delete")
	}
	if _, ok := s.(rest.CollectionDeleter); ok {
		t.Error("serverstatusrequests serve deletecollection")
	}
}

// The default build is this binary's, the one `ark-apiserver --version` prints.
func TestNewRESTReportsThisBuild(t *testing.T) {
	obj, err := NewREST().Create(userCtx("heptio-ark"), &ark.ServerStatusRequest{}, nil, &metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b := version.Get()
	if got := obj.(*ark.ServerStatusRequest).Status; got.ServerVersion != b.Version || got.GoVersion != b.GoVersion || got.Platform != b.Platform || got.Commit != b.Commit {
		t.Errorf("status %+v, want %+v", got, b)
	}
}
