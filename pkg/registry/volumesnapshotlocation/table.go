package volumesnapshotlocation

import (
	"context"
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/arkproject/ark/pkg/apis/ark"
	"github.com/arkproject/ark/pkg/registry"
)

var columns = []metav1.TableColumnDefinition{
	{Name: "Name", Type: "string", Format: "name", Description: "Name of the location"},
	{Name: "Provider", Type: "string", Description: "Snapshotter the location is for: csi, gcp or hostpath"},
	{Name: "Phase", Type: "string", Description: "Whether the location can be used; Unknown while nothing acts on locations"},
	{Name: "Age", Type: "string", Description: "How long ago the location was created"},
	{Name: "Message", Type: "string", Priority: 1, Description: "Why the location is unavailable"},
}

type tableConvertor struct{}

// ConvertToTable prints locations as `kubectl get vsl` shows them. No
// controller writes their status yet, so the phase is Unknown.
func (tableConvertor) ConvertToTable(ctx context.Context, obj runtime.Object, tableOptions runtime.Object) (*metav1.Table, error) {
	now := time.Now()
	return registry.Table(obj, tableOptions, columns, func(o runtime.Object) ([]interface{}, error) {
		l, ok := o.(*ark.VolumeSnapshotLocation)
		if !ok {
			return nil, fmt.Errorf("cannot print %T as a volume snapshot location", o)
		}
		phase := string(l.Status.Phase)
		if phase == "" {
			phase = "Unknown"
		}
		return []interface{}{l.Name, l.Spec.Provider, phase, registry.Ago(&l.CreationTimestamp, now), l.Status.Message}, nil
	})
}
