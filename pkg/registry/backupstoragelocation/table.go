package backupstoragelocation

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
	{Name: "Provider", Type: "string", Description: "Kind of object store: file, gcp or aws"},
	{Name: "Bucket/Prefix", Type: "string", Description: "Bucket and the prefix within it"},
	{Name: "Phase", Type: "string", Description: "Whether the bucket answered the latest poll"},
	{Name: "Last Synced", Type: "string", Description: "How long ago the bucket was last listed successfully"},
	{Name: "Backups", Type: "integer", Description: "Backups served from the location"},
	{Name: "Access Mode", Type: "string", Description: "ReadWrite or ReadOnly"},
	{Name: "Default", Type: "boolean", Description: "Whether backups that name no location go here"},
	{Name: "Message", Type: "string", Priority: 1, Description: "Why the location is unavailable"},
	{Name: "Age", Type: "string", Priority: 1, Description: "How long ago the location was created"},
	{Name: "Format", Type: "string", Priority: 1, Description: "ark, or velero for a bucket a Velero server wrote (only read)"},
}

type tableConvertor struct{}

// ConvertToTable prints locations the way `velero backup-location get` does,
// with the status Ark observes.
func (tableConvertor) ConvertToTable(ctx context.Context, obj runtime.Object, tableOptions runtime.Object) (*metav1.Table, error) {
	now := time.Now()
	return registry.Table(obj, tableOptions, columns, func(o runtime.Object) ([]interface{}, error) {
		l, ok := o.(*ark.BackupStorageLocation)
		if !ok {
			return nil, fmt.Errorf("cannot print %T as a backup storage location", o)
		}
		phase := string(l.Status.Phase)
		if phase == "" {
			phase = "Unknown"
		}
		where := l.Spec.ObjectStorage.Bucket
		if p := l.Spec.ObjectStorage.Prefix; p != "" {
			where += "/" + p
		}
		return []interface{}{
			l.Name, l.Spec.Provider, where, phase, registry.Ago(l.Status.LastSyncedTime, now),
			int64(l.Status.BackupCount), string(l.Spec.AccessMode), l.Spec.Default,
			l.Status.Message, registry.Ago(&l.CreationTimestamp, now), formatOf(l),
		}, nil
	})
}

// formatOf is a location's format; Ark's when unset.
func formatOf(l *ark.BackupStorageLocation) string {
	if l.Spec.Format == "" {
		return string(ark.BackupStorageLocationFormatArk)
	}
	return string(l.Spec.Format)
}
