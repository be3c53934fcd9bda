package schedule

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
	{Name: "Name", Type: "string", Format: "name", Description: "Name of the schedule"},
	{Name: "Status", Type: "string", Description: "Phase of the schedule"},
	{Name: "Schedule", Type: "string", Description: "Cron expression of the schedule"},
	{Name: "Last Backup", Type: "string", Description: "How long ago the schedule last created a backup"},
	{Name: "Paused", Type: "boolean", Description: "Whether the schedule is paused"},
	{Name: "Age", Type: "string", Priority: 1, Description: "How long ago the schedule was created"},
}

type tableConvertor struct{}

// ConvertToTable prints schedules the way `ark schedule get` does.
func (tableConvertor) ConvertToTable(ctx context.Context, obj runtime.Object, tableOptions runtime.Object) (*metav1.Table, error) {
	table := &metav1.Table{}
	if opt, ok := tableOptions.(*metav1.TableOptions); !ok || !opt.NoHeaders {
		table.ColumnDefinitions = columns
	}
	var items []ark.Schedule
	switch o := obj.(type) {
	case *ark.Schedule:
		items = []ark.Schedule{*o}
	case *ark.ScheduleList:
		items = o.Items
		table.ResourceVersion, table.Continue, table.RemainingItemCount = o.ResourceVersion, o.Continue, o.RemainingItemCount
	default:
		return nil, fmt.Errorf("cannot print %T as a schedule table", obj)
	}
	if m, err := meta.ListAccessor(obj); err == nil {
		table.SelfLink = m.GetSelfLink()
	}
	now := time.Now()
	for i := range items {
		s := &items[i]
		phase := string(s.Status.Phase)
		if phase == "" {
			phase = string(ark.SchedulePhaseNew)
		}
		table.Rows = append(table.Rows, metav1.TableRow{
			Cells: []interface{}{
				s.Name, phase, s.Spec.Schedule, registry.Ago(s.Status.LastBackup, now), s.Spec.Paused,
				registry.Ago(&s.CreationTimestamp, now),
			},
			Object: runtime.RawExtension{Object: s},
		})
	}
	return table, nil
}
