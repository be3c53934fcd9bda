package validation

import (
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/arkproject/ark/pkg/apis/ark"
)

// ValidateServerStatusRequest validates a ServerStatusRequest as created,
// its generateName already turned into a name. Nothing is stored under the
// name, so none is required (as for a TokenReview); the metadata a request
// does carry must still be well formed, since it is echoed back and seen by
// admission and audit.
func ValidateServerStatusRequest(r *ark.ServerStatusRequest) field.ErrorList {
	meta := r.ObjectMeta
	if meta.Name == "" && meta.GenerateName == "" {
		meta.Name = "unnamed" // stands in for the name that is not required
	}
	return apimachineryvalidation.ValidateObjectMeta(&meta, true, apimachineryvalidation.NameIsDNSSubdomain, field.NewPath("metadata"))
}
