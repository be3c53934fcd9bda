package ark

import (
	"bytes"
	"encoding/json"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// DecodeContainers reads the containers of an init restore hook, which the
// API keeps as raw JSON (as Velero's does). Each must be a core/v1
// Container with a name and an image; unknown fields are refused rather
// than dropped, so a typo is an error on create, not a container that
// silently lacks what its author wrote.
func DecodeContainers(raw []runtime.RawExtension) ([]corev1.Container, error) {
	out := make([]corev1.Container, 0, len(raw))
	for i, r := range raw {
		var c corev1.Container
		dec := json.NewDecoder(bytes.NewReader(r.Raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&c); err != nil {
			return nil, fmt.Errorf("initContainers[%d] is not a container: %w", i, err)
		}
		if c.Name == "" || c.Image == "" {
			return nil, fmt.Errorf("initContainers[%d] needs a name and an image", i)
		}
		out = append(out, c)
	}
	return out, nil
}
