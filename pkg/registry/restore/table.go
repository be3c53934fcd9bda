package restore

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
	{Name: "Name", Type: "string", Format: "name", Description: "Name of the restore"},
	{Name: "Backup", Type: "string", Description: "The backup restored from"},
	{Name: "Status", Type: "string", Description: "Phase of the restore, with progress while it runs"},
	{Name: "Warnings", Type: "integer", Description: "Warnings during the restore"},
	{Name: "Errors", Type: "integer", Description: "Errors during the restore"},
	{Name: "Created", Type: "string", Description: "When the restore was created"},
	{Name: "Age", Type: "string", Priority: 1, Description: "How long ago the restore was created"},
}

type tableConvertor struct{}

// ConvertToTable prints restores the way `ark restore get` does.
func (tableConvertor) ConvertToTable(ctx context.Context, obj runtime.Object, tableOptions runtime.Object) (*metav1.Table, error) {
	now := time.Now()
	return registry.Table(obj, tableOptions, columns, func(o runtime.Object) ([]interface{}, error) {
		r, ok := o.(*ark.Restore)
		if !ok {
			return nil, fmt.Errorf("cannot print %T as a restore", o)
		}
		backup := r.Spec.BackupName
		if r.Status.BackupName != "" {
			backup = r.Status.BackupName
		} else if backup == "" {
			backup = "schedule/" + r.Spec.ScheduleName
		}
		if r.Spec.BackupNamespace != "" && r.Spec.BackupNamespace != r.Namespace {
			backup = r.Spec.BackupNamespace + "/" + backup
		}
		return []interface{}{
			r.Name, backup, registry.ProgressPhase(string(r.Status.Phase), r.Status.Progress),
			int64(r.Status.Warnings), int64(r.Status.Errors),
			registry.Timestamp(&r.CreationTimestamp), registry.Ago(&r.CreationTimestamp, now),
		}, nil
	})
}
