package integration

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
	"github.com/arkproject/ark/pkg/version"
)

// A ServerStatusRequest is answered through the real generic API server
// with the running build, and never stored: create is its only verb, and
// every other one is refused.
func TestServerStatusRequest(t *testing.T) {
	ts := startServer(t, serverOptions{})
	ctx := context.Background()

	// The answer is the build at the time of the request, not one captured
	// at start: set Ark's version as the linker would.
	oldVersion, oldCommit := version.Version, version.Commit
	version.Version, version.Commit = "v9.9.9-integration", "fedcba9"
	t.Cleanup(func() { version.Version, version.Commit = oldVersion, oldCommit })
	want := version.Get()

	ssrs := ts.Client.ArkV1().ServerStatusRequests(home)
	answer, err := ssrs.Create(ctx, &arkv1.ServerStatusRequest{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "ark-version-"},
		Status:     arkv1.ServerStatusRequestStatus{ServerVersion: "v0.0.1-claimed"},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s := answer.Status
	if s.Phase != arkv1.ServerStatusRequestPhaseProcessed || s.ServerVersion != want.Version || s.Commit != want.Commit ||
		s.GoVersion != want.GoVersion || s.Platform != want.Platform || s.ProcessedTimestamp == nil {
		t.Errorf("status %+v, want the build %+v", s, want)
	}
	if s.ServerVersion != "v9.9.9-integration" {
		t.Errorf("serverVersion %q is not the running build's", s.ServerVersion)
	}
	if !strings.HasPrefix(answer.Name, "ark-version-") || answer.Namespace != home || answer.ResourceVersion != "" || answer.UID != "" || len(answer.ManagedFields) != 0 {
		t.Errorf("metadata %+v: want a generated name in %s and nothing only a stored object has", answer.ObjectMeta, home)
	}

	// A dry run is answered the same way; so is a request without a name.
	if dry, err := ssrs.Create(ctx, &arkv1.ServerStatusRequest{}, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}); err != nil || dry.Status.ServerVersion != want.Version {
		t.Errorf("dry run: %+v, %v", dry, err)
	}
	// The object's namespace must be the request's.
	if _, err := ssrs.Create(ctx, &arkv1.ServerStatusRequest{ObjectMeta: metav1.ObjectMeta{Name: "x", Namespace: "elsewhere"}}, metav1.CreateOptions{}); !apierrors.IsBadRequest(err) {
		t.Errorf("a request for another namespace: %v, want a 400", err)
	}
	if _, err := ssrs.Create(ctx, &arkv1.ServerStatusRequest{ObjectMeta: metav1.ObjectMeta{Name: "Not_A_Name"}}, metav1.CreateOptions{}); !apierrors.IsInvalid(err) {
		t.Errorf("an invalid name: %v, want a 422", err)
	}

	// Nothing else is served: list, watch and deletecollection in a
	// namespace are 405 MethodNotAllowed (only POST is routed to the
	// collection), the collection across namespaces and get, update and
	// delete of a name are 404 (nothing is routed there at all), so nothing
	// can be read back under the name just answered.
	rc := ts.Client.ArkV1().RESTClient()
	for _, tc := range []struct {
		what  string
		err   error
		check func(error) bool
	}{
		{"list", rc.Get().Namespace(home).Resource("serverstatusrequests").Do(ctx).Error(), apierrors.IsMethodNotSupported},
		{"watch", rc.Get().Namespace(home).Resource("serverstatusrequests").Param("watch", "true").Do(ctx).Error(), apierrors.IsMethodNotSupported},
		{"list in every namespace", rc.Get().Resource("serverstatusrequests").Do(ctx).Error(), apierrors.IsNotFound},
		{"deletecollection", rc.Delete().Namespace(home).Resource("serverstatusrequests").Do(ctx).Error(), apierrors.IsMethodNotSupported},
		{"get", rc.Get().Namespace(home).Resource("serverstatusrequests").Name(answer.Name).Do(ctx).Error(), apierrors.IsNotFound},
		{"update", rc.Put().Namespace(home).Resource("serverstatusrequests").Name(answer.Name).Body(answer).Do(ctx).Error(), apierrors.IsNotFound},
		{"delete", rc.Delete().Namespace(home).Resource("serverstatusrequests").Name(answer.Name).Do(ctx).Error(), apierrors.IsNotFound},
	} {
		if tc.err == nil || !tc.check(tc.err) {
			t.Errorf("%s of serverstatusrequests: %v, want it refused", tc.what, tc.err)
		}
	}

	// Discovery lists create only (so the namespace controller, the garbage
	// collector and backups, which need list or delete, pass it by).
	res, err := ts.Client.Discovery().ServerResourcesForGroupVersion(arkv1.SchemeGroupVersion.String())
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(res.APIResources, func(r metav1.APIResource) bool { return r.Name == "serverstatusrequests" })
	if i < 0 {
		t.Fatalf("discovery lacks serverstatusrequests: %+v", res.APIResources)
	}
	if r := res.APIResources[i]; r.Kind != "ServerStatusRequest" || !r.Namespaced || r.SingularName != "serverstatusrequest" || !slices.Equal([]string(r.Verbs), []string{"create"}) {
		t.Errorf("discovery: %+v", r)
	}

	// kubectl explain and server-side apply read the OpenAPI models.
	if code, body := ts.rawGet(ctx, "/openapi/v3/apis/ark.heptio.com/v1"); code != http.StatusOK ||
		!strings.Contains(string(body), "com.heptio.ark.v1.ServerStatusRequestStatus") || !strings.Contains(string(body), "serverVersion") {
		t.Errorf("OpenAPI v3 of ark.heptio.com/v1: %d, ServerStatusRequestStatus missing or undocumented", code)
	}
}
