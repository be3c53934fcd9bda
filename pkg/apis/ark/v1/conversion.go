package v1

import (
	"fmt"

	"k8s.io/apimachinery/pkg/runtime"
)

// Field selectors each kind serves beyond metadata.name and metadata.namespace.
var selectableFields = map[string][]string{
	"Backup":                 {"status.phase", "spec.storageLocation", "spec.scheduleName"},
	"Restore":                {"status.phase", "spec.backupName"},
	"Schedule":               {"status.phase"},
	"BackupStorageLocation":  {"status.phase", "spec.provider"},
	"VolumeSnapshotLocation": {"status.phase", "spec.provider"},
}

// addFieldLabelConversions lets field selectors name these fields; the API
// server refuses any field a kind has not declared here.
func addFieldLabelConversions(scheme *runtime.Scheme) error {
	for kind, extra := range selectableFields {
		allowed := map[string]bool{"metadata.name": true, "metadata.namespace": true}
		for _, f := range extra {
			allowed[f] = true
		}
		err := scheme.AddFieldLabelConversionFunc(SchemeGroupVersion.WithKind(kind), func(label, value string) (string, string, error) {
			if !allowed[label] {
				return "", "", fmt.Errorf("field label not supported for %s: %s", kind, label)
			}
			return label, value, nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}
