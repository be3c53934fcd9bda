package cli

import (
	"errors"
	"fmt"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// explain turns an API error into what a user needs to read: each invalid
// field, the missing permission, or the unreachable bucket.
func explain(err error) string {
	var status apierrors.APIStatus
	if !errors.As(err, &status) {
		return err.Error()
	}
	s := status.Status()
	switch {
	case apierrors.IsInvalid(err):
		var b strings.Builder
		kind, name := "object", ""
		if s.Details != nil {
			kind, name = s.Details.Kind, s.Details.Name
		}
		fmt.Fprintf(&b, "the %s %q is invalid:", kind, name)
		if s.Details != nil && len(s.Details.Causes) > 0 {
			for _, c := range s.Details.Causes {
				fmt.Fprintf(&b, "\n  %s: %s", c.Field, c.Message)
			}
		} else {
			fmt.Fprintf(&b, " %s", s.Message)
		}
		return b.String()
	case apierrors.IsForbidden(err):
		return s.Message + "\n  (ask a cluster administrator for this permission; for backups and restores of one namespace, the ark-namespace-user role bound in it)"
	case apierrors.IsServiceUnavailable(err):
		return s.Message + "\n  (Ark cannot reach its backup storage location; backups cannot be read or written until it is back)"
	case apierrors.IsNotFound(err):
		return s.Message
	case apierrors.IsAlreadyExists(err):
		return s.Message + " (choose another name)"
	}
	return s.Message
}
