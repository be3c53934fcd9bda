package snapshot

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"

	"google.golang.org/api/compute/v1"
	"google.golang.org/api/googleapi"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/arkproject/ark/pkg/backupstore"
)

// GCEName is the name of the GCE persistent disk snapshotter.
const GCEName = "gce"

// gcePDDriver is the CSI driver of GCE persistent disks.
const gcePDDriver = "pd.csi.storage.gke.io"

// GCE snapshots Google Compute Engine persistent disks through the compute
// API: in-tree gcePersistentDisk volumes and pd.csi.storage.gke.io volumes.
type GCE struct {
	Service *compute.Service
	// Project is used when the volume does not name its project (in-tree disks).
	Project string
	// StorageLocations, when set, is where snapshots are stored (a volume
	// snapshot location's snapshotLocation, such as a region); empty means
	// GCE's default, the multi-region nearest the disk.
	StorageLocations []string
	// PollInterval and Timeout govern the wait for the snapshot operation.
	PollInterval time.Duration
	Timeout      time.Duration
}

var _ VolumeSnapshotter = &GCE{}

// Name returns "gce".
func (g *GCE) Name() string { return GCEName }

// Handles GCE persistent disks whose disk and zone can be determined.
func (g *GCE) Handles(pv *corev1.PersistentVolume) bool {
	_, _, _, err := g.disk(pv)
	return err == nil
}

// disk returns the project, zone and disk of a PV.
func (g *GCE) disk(pv *corev1.PersistentVolume) (project, zone, disk string, err error) {
	switch {
	case pv.Spec.CSI != nil && pv.Spec.CSI.Driver == gcePDDriver:
		// projects/<project>/zones/<zone>/disks/<disk>
		parts := strings.Split(pv.Spec.CSI.VolumeHandle, "/")
		if len(parts) == 6 && parts[0] == "projects" && parts[2] == "zones" && parts[4] == "disks" {
			return parts[1], parts[3], parts[5], nil
		}
		return "", "", "", fmt.Errorf("volume handle %q is not a zonal disk", pv.Spec.CSI.VolumeHandle)
	case pv.Spec.GCEPersistentDisk != nil:
		zone := pv.Labels["topology.kubernetes.io/zone"]
		if zone == "" {
			zone = pv.Labels["failure-domain.beta.kubernetes.io/zone"]
		}
		if zone == "" || g.Project == "" {
			return "", "", "", fmt.Errorf("GCE disk %s: zone label or project unknown", pv.Spec.GCEPersistentDisk.PDName)
		}
		return g.Project, zone, pv.Spec.GCEPersistentDisk.PDName, nil
	}
	return "", "", "", fmt.Errorf("not a GCE persistent disk")
}

var gceNameInvalid = regexp.MustCompile(`[^a-z0-9-]`)

// gceSnapshotName is a valid GCE resource name, unique per backup and volume.
func gceSnapshotName(backup, pv string) string {
	name := gceNameInvalid.ReplaceAllString(strings.ToLower("ark-"+backup+"-"+pv), "-")
	name = strings.TrimRight(name, "-")
	if len(name) <= 63 {
		return name
	}
	sum := sha256.Sum256([]byte(name))
	return strings.TrimRight(name[:52], "-") + "-" + hex.EncodeToString(sum[:])[:10]
}

// Snapshot creates a disk snapshot and waits for its operation to finish.
func (g *GCE) Snapshot(ctx context.Context, ref backupstore.Backup, pv *corev1.PersistentVolume) (Record, error) {
	backup := ref.Name
	project, zone, disk, err := g.disk(pv)
	rec := Record{VolumeID: fmt.Sprintf("projects/%s/zones/%s/disks/%s", project, zone, disk)}
	if err != nil {
		return rec, err
	}
	name := gceSnapshotName(backup, pv.Name)
	rec.SnapshotID = fmt.Sprintf("projects/%s/global/snapshots/%s", project, name)
	op, err := g.Service.Disks.CreateSnapshot(project, zone, disk, &compute.Snapshot{
		Name:             name,
		Description:      fmt.Sprintf("Ark backup %s of persistent volume %s", backup, pv.Name),
		Labels:           map[string]string{"ark-backup": gceLabel(backup)},
		StorageLocations: g.StorageLocations,
	}).Context(ctx).Do()
	if err != nil {
		return rec, fmt.Errorf("creating snapshot %s of disk %s: %w", name, rec.VolumeID, err)
	}
	err = g.wait(ctx, op, func(ctx context.Context, name string) (*compute.Operation, error) {
		return g.Service.ZoneOperations.Get(project, zone, name).Context(ctx).Do()
	})
	if err != nil {
		return rec, fmt.Errorf("snapshot %s of disk %s: %w", name, rec.VolumeID, err)
	}
	if snap, err := g.Service.Snapshots.Get(project, name).Context(ctx).Do(); err == nil {
		rec.Size = snap.StorageBytes
	}
	return rec, nil
}

// wait polls a compute operation (with get) until it is DONE, and returns
// its error, if any.
func (g *GCE) wait(ctx context.Context, op *compute.Operation, get func(context.Context, string) (*compute.Operation, error)) error {
	interval, timeout := g.PollInterval, g.Timeout
	if interval == 0 {
		interval = 2 * time.Second
	}
	if timeout == 0 {
		timeout = 30 * time.Minute
	}
	return wait.PollUntilContextTimeout(ctx, interval, timeout, true, func(ctx context.Context) (bool, error) {
		if op.Status != "DONE" {
			var err error
			if op, err = get(ctx, op.Name); err != nil {
				return false, err
			}
		}
		if op.Status != "DONE" {
			return false, nil
		}
		if op.Error != nil && len(op.Error.Errors) > 0 {
			return false, fmt.Errorf("%s: %s", op.Error.Errors[0].Code, op.Error.Errors[0].Message)
		}
		return true, nil
	})
}

// gceLabel is the value of the ark-backup label of backup's snapshots.
func gceLabel(backup string) string {
	return gceNameInvalid.ReplaceAllString(strings.ToLower(backup), "-")
}

// parseSnapshotID splits projects/PROJECT/global/snapshots/NAME.
func parseSnapshotID(id string) (project, name string, err error) {
	parts := strings.Split(id, "/")
	if len(parts) != 5 || parts[0] != "projects" || parts[2] != "global" || parts[3] != "snapshots" || parts[1] == "" || parts[4] == "" {
		return "", "", fmt.Errorf("GCE snapshot ID %q is not projects/PROJECT/global/snapshots/NAME", id)
	}
	return parts[1], parts[4], nil
}

// Made checks that the disk snapshot rec names is one Ark took for the
// backup named backup: its ark-backup label says so. Records come from the
// bucket, so a record naming any other snapshot in the project must not get
// it deleted. A snapshot already gone passes.
func (g *GCE) Made(ctx context.Context, backup string, rec Record) error {
	project, name, err := parseSnapshotID(rec.SnapshotID)
	if err != nil {
		return err
	}
	snap, err := g.Service.Snapshots.Get(project, name).Context(ctx).Do()
	if isNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading GCE snapshot %s: %w", rec.SnapshotID, err)
	}
	if got, want := snap.Labels["ark-backup"], gceLabel(backup); got != want {
		return fmt.Errorf("GCE snapshot %s is labelled ark-backup=%q, not %q: Ark did not take it for this backup", rec.SnapshotID, got, want)
	}
	return nil
}

// Delete deletes the disk snapshot of rec (projects/P/global/snapshots/N)
// and waits for the deletion to finish; one already gone is not an error,
// so a deletion interrupted and retried completes.
func (g *GCE) Delete(ctx context.Context, rec Record) error {
	project, name, err := parseSnapshotID(rec.SnapshotID)
	if err != nil {
		return err
	}
	op, err := g.Service.Snapshots.Delete(project, name).Context(ctx).Do()
	if isNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("deleting GCE snapshot %s: %w", rec.SnapshotID, err)
	}
	err = g.wait(ctx, op, func(ctx context.Context, name string) (*compute.Operation, error) {
		return g.Service.GlobalOperations.Get(project, name).Context(ctx).Do()
	})
	if err != nil {
		return fmt.Errorf("deleting GCE snapshot %s: %w", rec.SnapshotID, err)
	}
	return nil
}

func isNotFound(err error) bool {
	var gerr *googleapi.Error
	return errors.As(err, &gerr) && gerr.Code == http.StatusNotFound
}
