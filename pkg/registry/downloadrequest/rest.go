// Package downloadrequest answers Heptio Ark's DownloadRequests with a
// refusal that says what to use instead.
//
// Heptio Ark served `ark backup logs`, `ark backup download`, `ark restore
// logs` and the warnings of `ark restore describe` by writing a pre-signed
// URL of the bucket into a DownloadRequest's status: a bearer URL that
// anyone holding it could use for ten minutes, that RBAC never sees again
// and audit never records, and that Heptio Ark's client fetched without any
// credentials. Ark serves the same files through subresources instead
// (backups/logs, backups/download, backups/contents, restores/logs,
// restores/results), each read checked by RBAC as the user reading it and
// streamed through kube-apiserver. A DownloadRequest cannot be answered
// that way: the old client fetches the URL with a bare HTTP client, so any
// URL that worked for it would be a bearer URL again. Every create is
// therefore refused with 405 MethodNotAllowed and a message naming the
// subresource and the `ark` command (of Ark's client) that serve the file.
package downloadrequest

import (
	"context"
	"fmt"
	"net/http"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/arkproject/ark/pkg/apis/ark"
)

// REST refuses every DownloadRequest.
type REST struct{}

var _ interface {
	rest.Creater
	rest.Scoper
	rest.Storage
	rest.SingularNameProvider
} = &REST{}

// NewREST returns the storage of downloadrequests.
func NewREST() *REST { return &REST{} }

// New returns an empty DownloadRequest.
func (*REST) New() runtime.Object { return &ark.DownloadRequest{} }

// Destroy does nothing.
func (*REST) Destroy() {}

// NamespaceScoped is true, as in Heptio Ark.
func (*REST) NamespaceScoped() bool { return true }

// GetSingularName is the resource's singular name.
func (*REST) GetSingularName() string { return "downloadrequest" }

// Create refuses the request, naming what serves the file it asks for.
func (*REST) Create(ctx context.Context, obj runtime.Object, _ rest.ValidateObjectFunc, _ *metav1.CreateOptions) (runtime.Object, error) {
	req, ok := obj.(*ark.DownloadRequest)
	if !ok {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("not a DownloadRequest: %T", obj))
	}
	namespace, _ := genericapirequest.NamespaceFrom(ctx)
	return nil, Refusal(namespace, req.Spec.Target)
}

// Refusal is the error a DownloadRequest for target in namespace gets.
func Refusal(namespace string, target ark.DownloadTarget) *apierrors.StatusError {
	name := target.Name
	if name == "" {
		name = "NAME"
	}
	if namespace == "" {
		namespace = "NAMESPACE"
	}
	var resource, sub, command string
	switch target.Kind {
	case ark.DownloadTargetKindBackupLog:
		resource, sub, command = "backups", "logs", "ark backup logs "+name
	case ark.DownloadTargetKindBackupContents:
		resource, sub, command = "backups", "download", "ark backup download "+name
	case ark.DownloadTargetKindBackupVolumeSnapshots:
		resource, sub, command = "backups", "contents", "ark backup describe --details "+name
	case ark.DownloadTargetKindRestoreLog:
		resource, sub, command = "restores", "logs", "ark restore logs "+name
	case ark.DownloadTargetKindRestoreResults:
		resource, sub, command = "restores", "results", "ark restore results "+name
	}
	msg := "DownloadRequests are not served: Ark does not hand out pre-signed bucket URLs, which anyone holding them could use past RBAC and audit. "
	if resource == "" {
		msg += fmt.Sprintf("Ark serves backup and restore files as subresources read with your own credentials: backups/logs, backups/download, backups/contents, restores/logs and restores/results (unknown target kind %q)", target.Kind)
	} else {
		msg += fmt.Sprintf("Use Ark's client, `%s -n %s`, or the %s/%s subresource: kubectl get --raw /apis/%s/v1/namespaces/%s/%s/%s/%s",
			command, namespace, resource, sub, ark.GroupName, namespace, resource, name, sub)
	}
	return &apierrors.StatusError{ErrStatus: metav1.Status{
		Status:  metav1.StatusFailure,
		Code:    http.StatusMethodNotAllowed,
		Reason:  metav1.StatusReasonMethodNotAllowed,
		Message: msg,
		Details: &metav1.StatusDetails{Group: ark.GroupName, Kind: "downloadrequests", Name: target.Name},
	}}
}
