package v1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// +genclient
// +genclient:onlyVerbs=create
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// ServerStatusRequest asks the Ark server which build it runs, as Velero's
// ServerStatusRequest does. It is served create-only and never stored, like
// authentication.k8s.io's TokenReview: the response to a create is the
// object with its status filled in, and there is nothing to get, list,
// watch or delete afterwards. It exists because an aggregated API server's
// own /version is out of reach through kube-apiserver, which answers
// /version itself; a resource of Ark's group is routed to Ark and checked
// by Kubernetes RBAC like any other.
//
// It is namespaced, as Velero's is, so that users who may create it in
// their own namespace can ask without any cluster-wide right.
type ServerStatusRequest struct {
	metav1.TypeMeta `json:",inline"`
	// Standard object metadata. A name is optional (nothing is stored
	// under it); generateName is honoured.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec is empty: the request has nothing to say but that it is made.
	// +optional
	Spec ServerStatusRequestSpec `json:"spec,omitempty"`
	// Status is the server's answer; whatever a client sends is replaced.
	// +optional
	Status ServerStatusRequestStatus `json:"status,omitempty"`
}

// ServerStatusRequestSpec is the (empty) request.
type ServerStatusRequestSpec struct{}

// ServerStatusRequestPhase says whether the server answered the request.
// Velero also has "New", for a stored request its controller has not
// processed yet; an Ark request is answered in the create itself, so it
// has only Processed.
type ServerStatusRequestPhase string

const (
	// ServerStatusRequestPhaseProcessed is a request the server answered.
	ServerStatusRequestPhaseProcessed ServerStatusRequestPhase = "Processed"
)

// ServerStatusRequestStatus is the build of the server that answered: what
// `ark-apiserver --version` prints, and nothing of its configuration.
type ServerStatusRequestStatus struct {
	// Phase is Processed in every answer.
	// +optional
	Phase ServerStatusRequestPhase `json:"phase,omitempty"`
	// ProcessedTimestamp is when the server answered.
	// +optional
	ProcessedTimestamp *metav1.Time `json:"processedTimestamp,omitempty"`
	// ServerVersion is the server's release (a git tag, or "dev" for a
	// build without one).
	// +optional
	ServerVersion string `json:"serverVersion,omitempty"`
	// Commit is the source commit the server was built from, when known.
	// +optional
	Commit string `json:"commit,omitempty"`
	// GoVersion is the Go release the server was built with.
	// +optional
	GoVersion string `json:"goVersion,omitempty"`
	// Platform is the server's operating system and architecture, as
	// GOOS/GOARCH.
	// +optional
	Platform string `json:"platform,omitempty"`
}
