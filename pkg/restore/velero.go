package restore

import (
	"context"
	"fmt"
	"strings"

	"github.com/arkproject/ark/pkg/backupstore"
	"github.com/arkproject/ark/pkg/objectstore"
)

// veleroVolumes are the volumes a Velero backup saved outside its tarball
// (its volume snapshotters' snapshots, its file-system backups of pod
// volumes). Ark restores the objects, not that data: each persistent
// volume and pod concerned is reported with a warning saying so.
type veleroVolumes struct {
	byPV  map[string]backupstore.VeleroVolume
	byPod map[string][]backupstore.VeleroVolume // "ns/pod"
}

// loadVeleroVolumes reads a Velero backup's volume lists.
func loadVeleroVolumes(ctx context.Context, store objectstore.Store, ref backupstore.Backup) (*veleroVolumes, error) {
	files, err := backupstore.OpenFiles(ctx, store, ref)
	if err != nil {
		return nil, err
	}
	list, err := backupstore.VeleroVolumes(ctx, files)
	if err != nil {
		return nil, fmt.Errorf("reading the Velero backup's volume snapshots: %w", err)
	}
	out := &veleroVolumes{byPV: map[string]backupstore.VeleroVolume{}, byPod: map[string][]backupstore.VeleroVolume{}}
	for _, v := range list {
		switch {
		case v.PersistentVolume != "":
			out.byPV[v.PersistentVolume] = v
		case v.Pod != "":
			key := v.Namespace + "/" + v.Pod
			out.byPod[key] = append(out.byPod[key], v)
		}
	}
	return out, nil
}

// warning says which of an item's volumes' data is not restored, or "".
// Items are matched by their name in the backup.
func (v *veleroVolumes) warning(res ItemResult) string {
	switch res.Resource {
	case "persistentvolumes":
		if s, ok := v.byPV[res.Name]; ok {
			return "volume data not restored: " + describeVelero(s)
		}
	case "pods":
		ns := res.Namespace
		if res.SourceNamespace != "" {
			ns = res.SourceNamespace
		}
		var parts []string
		for _, s := range v.byPod[ns+"/"+res.Name] {
			parts = append(parts, describeVelero(s))
		}
		if len(parts) > 0 {
			return "volume data not restored: " + strings.Join(parts, "; ")
		}
	}
	return ""
}

// describeVelero says what Velero saved of a volume and why Ark does not
// restore it.
func describeVelero(v backupstore.VeleroVolume) string {
	what := "Velero snapshot"
	if v.Kind != "snapshot" {
		what = "Velero file-system backup (" + v.Location + ")"
	}
	id := v.SnapshotID
	if id == "" {
		id = "with no ID"
	}
	msg := fmt.Sprintf("%s %s of %s", what, id, v.Where())
	if v.Phase != "" {
		msg += fmt.Sprintf(" (phase %s)", v.Phase)
	}
	if v.Kind == "snapshot" && v.Location != "" {
		msg += fmt.Sprintf(" in Velero volume snapshot location %q", v.Location)
	}
	return msg + " is kept by Velero's plugins, which Ark does not run: restore the data with Velero, or from the provider's snapshot"
}
