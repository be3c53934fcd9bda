// Package serverstatusrequest answers ServerStatusRequests: which build of
// Ark serves the API. It is the Kubernetes-native way for a client to learn
// an aggregated API server's version, whose own /version kube-apiserver
// answers in its place. Requests are answered in the create and never
// stored, like TokenReviews, so there is nothing to get, list, watch or
// delete, nothing for the namespace controller or the garbage collector to
// clean up, and nothing for a backup to pick up.
package serverstatusrequest

import (
	"context"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/klog/v2"

	"github.com/arkproject/ark/pkg/apis/ark"
	"github.com/arkproject/ark/pkg/apis/ark/validation"
	"github.com/arkproject/ark/pkg/registry"
	"github.com/arkproject/ark/pkg/version"
)

// REST serves the create of serverstatusrequests, and nothing else: the
// API server then answers every other verb with 405 MethodNotAllowed and
// discovery lists only "create".
type REST struct {
	// build is what the answer reports: version.Get, or a test's.
	build func() version.Info
	now   func() time.Time
}

var _ interface {
	rest.Creater
	rest.Scoper
	rest.Storage
	rest.SingularNameProvider
} = &REST{}

// NewREST returns the storage of serverstatusrequests, answering with this
// binary's build.
func NewREST() *REST { return &REST{build: version.Get, now: time.Now} }

// New returns an empty ServerStatusRequest, the kind the resource serves.
func (*REST) New() runtime.Object { return &ark.ServerStatusRequest{} }

// Destroy does nothing: there is no store behind the resource.
func (*REST) Destroy() {}

// NamespaceScoped is true, as for Velero's: a user with the right in one
// namespace can ask there, without any cluster-wide right.
func (*REST) NamespaceScoped() bool { return true }

// GetSingularName is the resource's singular name.
func (*REST) GetSingularName() string { return "serverstatusrequest" }

// Create answers the request: it returns it with the server's build in its
// status. Validation and validating admission run as for a stored object
// (so policies and webhooks see the request); a dry run is answered the
// same way, since nothing is written either way.
func (r *REST) Create(ctx context.Context, obj runtime.Object, createValidation rest.ValidateObjectFunc, options *metav1.CreateOptions) (runtime.Object, error) {
	req, ok := obj.(*ark.ServerStatusRequest)
	if !ok {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("not a ServerStatusRequest: %T", obj))
	}
	validate := func() field.ErrorList { return validation.ValidateServerStatusRequest(req) }
	if _, err := registry.PrepareRequest(ctx, req, "serverstatusrequests", "ServerStatusRequest", validate, createValidation); err != nil {
		return nil, err
	}

	now := metav1.NewTime(r.now())
	b := r.build()
	out := req.DeepCopy()
	// Nothing is stored, so nothing owns fields of it and it has no
	// resourceVersion or uid to report; the timestamp says when it was answered.
	out.ManagedFields, out.ResourceVersion, out.UID = nil, "", ""
	out.CreationTimestamp = now
	out.Status = ark.ServerStatusRequestStatus{
		Phase:              ark.ServerStatusRequestPhaseProcessed,
		ProcessedTimestamp: &now,
		ServerVersion:      b.Version,
		Commit:             b.Commit,
		GoVersion:          b.GoVersion,
		Platform:           b.Platform,
	}
	user := ""
	if u, ok := genericapirequest.UserFrom(ctx); ok {
		user = u.GetName()
	}
	klog.V(4).InfoS("Answered a server status request", "request", klog.KObj(out), "user", user, "version", b.Version)
	return out, nil
}
