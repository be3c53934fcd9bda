package ark

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// ServerStatusRequest asks the Ark server which build it runs. It is served
// create-only and never stored: the response to a create is the object with
// its status filled in (see the v1 type for why it exists).
type ServerStatusRequest struct {
	metav1.TypeMeta
	// Standard object metadata; a name is optional.
	metav1.ObjectMeta

	// Spec is empty.
	Spec ServerStatusRequestSpec
	// Status is the server's answer.
	Status ServerStatusRequestStatus
}

// ServerStatusRequestSpec is the (empty) request.
type ServerStatusRequestSpec struct{}

// ServerStatusRequestPhase says whether the server answered the request.
type ServerStatusRequestPhase string

const (
	// ServerStatusRequestPhaseProcessed is a request the server answered.
	ServerStatusRequestPhaseProcessed ServerStatusRequestPhase = "Processed"
)

// ServerStatusRequestStatus is the build of the server that answered, and
// nothing of its configuration.
type ServerStatusRequestStatus struct {
	// Phase is Processed in every answer.
	Phase ServerStatusRequestPhase
	// ProcessedTimestamp is when the server answered.
	ProcessedTimestamp *metav1.Time
	// ServerVersion is the server's release ("dev" for a build without one).
	ServerVersion string
	// Commit is the source commit the server was built from, when known.
	Commit string
	// GoVersion is the Go release the server was built with.
	GoVersion string
	// Platform is the server's GOOS/GOARCH.
	Platform string
}
