package schedule

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
	now := time.Now()
	return registry.Table(obj, tableOptions, columns, func(o runtime.Object) ([]interface{}, error) {
		s, ok := o.(*ark.Schedule)
		if !ok {
			return nil, fmt.Errorf("cannot print %T as a schedule", o)
		}
		phase := string(s.Status.Phase)
		if phase == "" {
			phase = string(ark.SchedulePhaseNew)
		}
		return []interface{}{
			s.Name, phase, s.Spec.Schedule, registry.Ago(s.Status.LastBackup, now), s.Spec.Paused,
			registry.Ago(&s.CreationTimestamp, now),
		}, nil
	})
}
