package backup

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/arkproject/ark/pkg/apis/ark"
	"github.com/arkproject/ark/pkg/registry"
)

var columns = []metav1.TableColumnDefinition{
	{Name: "Name", Type: "string", Format: "name", Description: "Name of the backup"},
	{Name: "Status", Type: "string", Description: "Phase of the backup, with progress while it runs, and whether its encryption key is missing"},
	{Name: "Errors", Type: "integer", Description: "Errors during the backup"},
	{Name: "Warnings", Type: "integer", Description: "Warnings during the backup"},
	{Name: "Created", Type: "string", Description: "When the backup was created"},
	{Name: "Expires", Type: "string", Description: "Time left before the backup expires"},
	{Name: "Storage Location", Type: "string", Description: "Backup storage location holding the backup"},
	{Name: "Selector", Type: "string", Description: "Label selector of the backed-up objects"},
	{Name: "Owner", Type: "string", Priority: 1, Description: "The cluster whose Ark runs, expires and deletes the backup: this, another cluster's ID, velero (a Velero server's, read from a format: velero location), or unverified (a record no cluster's Ark here accepted; adopt it to manage it)"},
}

// ConvertToTable prints backups the way `ark backup get` does.
func (r *REST) ConvertToTable(ctx context.Context, obj runtime.Object, tableOptions runtime.Object) (*metav1.Table, error) {
	now := r.clock.Now()
	return registry.Table(obj, tableOptions, columns, func(o runtime.Object) ([]interface{}, error) {
		b, ok := o.(*ark.Backup)
		if !ok {
			return nil, fmt.Errorf("cannot print %T as a backup", o)
		}
		status := registry.ProgressPhase(string(b.Status.Phase), b.Status.Progress)
		if c := meta.FindStatusCondition(b.Status.Conditions, ark.BackupConditionEncryptionKeyAvailable); c != nil && c.Status == metav1.ConditionFalse {
			status += fmt.Sprintf(" (key %s not held)", b.Status.EncryptionKeyID)
		}
		return []interface{}{
			b.Name, status,
			int64(b.Status.Errors), int64(b.Status.Warnings),
			registry.Timestamp(&b.CreationTimestamp), registry.Until(b.Status.Expiration, now),
			b.Spec.StorageLocation, selector(b.Spec.LabelSelector), r.owner(b),
		}, nil
	})
}

func selector(s *metav1.LabelSelector) string {
	if s == nil {
		return "<none>"
	}
	sel, err := metav1.LabelSelectorAsSelector(s)
	if err != nil || sel.Empty() {
		return "<none>"
	}
	return sel.String()
}
