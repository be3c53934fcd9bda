package restore

import (
	"context"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
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
	table := &metav1.Table{}
	if opt, ok := tableOptions.(*metav1.TableOptions); !ok || !opt.NoHeaders {
		table.ColumnDefinitions = columns
	}
	var items []ark.Restore
	switch o := obj.(type) {
	case *ark.Restore:
		items = []ark.Restore{*o}
	case *ark.RestoreList:
		items = o.Items
		table.ResourceVersion, table.Continue, table.RemainingItemCount = o.ResourceVersion, o.Continue, o.RemainingItemCount
	default:
		return nil, fmt.Errorf("cannot print %T as a restore table", obj)
	}
	if m, err := meta.ListAccessor(obj); err == nil {
		table.SelfLink = m.GetSelfLink()
	}
	now := time.Now()
	for i := range items {
		r := &items[i]
		backup := r.Spec.BackupName
		if r.Status.BackupName != "" {
			backup = r.Status.BackupName
		} else if backup == "" {
			backup = "schedule/" + r.Spec.ScheduleName
		}
		table.Rows = append(table.Rows, metav1.TableRow{
			Cells: []interface{}{
				r.Name, backup, registry.ProgressPhase(string(r.Status.Phase), r.Status.Progress),
				int64(r.Status.Warnings), int64(r.Status.Errors),
				registry.Timestamp(&r.CreationTimestamp), registry.Ago(&r.CreationTimestamp, now),
			},
			Object: runtime.RawExtension{Object: r},
		})
	}
	return table, nil
}
