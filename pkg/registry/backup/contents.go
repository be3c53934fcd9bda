package backup

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/klog/v2"

	"github.com/arkproject/ark/pkg/apis/ark"
	"github.com/arkproject/ark/pkg/backupstore"
	"github.com/arkproject/ark/pkg/backupstore/encryption"
	"github.com/arkproject/ark/pkg/snapshot"
)

// ContentsREST serves backups/contents: what a finished backup holds (see
// ark.BackupContents), read from its resource list and volume-snapshot
// records. The bucket is input, not authority: both files are read only
// once they match the backup's manifest, and within a size limit, so a
// tampered or huge file is a clear error, never a wrong answer or an
// exhausted server. It is its own RBAC target, granted where
// backups/download is: the names of what was backed up are contents too.
// (ContentREST, by contrast, streams one file as it is.)
type ContentsREST struct {
	r *REST
}

var (
	_ rest.Getter               = &ContentsREST{}
	_ rest.Storage              = &ContentsREST{}
	_ rest.SingularNameProvider = &ContentsREST{}
)

// NewContentsREST returns the storage of backups/contents.
func NewContentsREST(r *REST) *ContentsREST { return &ContentsREST{r: r} }

// New returns an empty BackupContents, the kind the subresource serves.
func (c *ContentsREST) New() runtime.Object { return &ark.BackupContents{} }

// Destroy does nothing: the main storage owns the bucket.
func (c *ContentsREST) Destroy() {}

// GetSingularName names the subresource's object, as for every subresource
// of backups.
func (c *ContentsREST) GetSingularName() string { return "backup" }

// Get reads what the backup holds.
func (c *ContentsREST) Get(ctx context.Context, name string, _ *metav1.GetOptions) (runtime.Object, error) {
	b, _, loc, err := c.r.loadInNamespace(ctx, name)
	if err != nil {
		return nil, err
	}
	if err := hasContents(b); err != nil {
		return nil, err
	}
	store, err := loc.Readable()
	if err != nil {
		return nil, c.r.toAPIError(name, unavailable(loc, err))
	}
	files, err := backupstore.OpenFiles(ctx, store, c.r.refIn(loc, b.Namespace, b.Name))
	if err != nil {
		return nil, c.readError(b, err)
	}
	list, err := files.ResourceList(ctx)
	if err != nil {
		return nil, c.readError(b, err)
	}
	if !files.Verified() {
		// A Velero backup: its resource list is by group/version/kind
		// ("apps/v1/Deployment"), shown as Velero wrote it, and its
		// volumes are Velero's.
		volumes, err := backupstore.VeleroVolumes(ctx, files)
		if err != nil {
			return nil, c.readError(b, err)
		}
		return contentsOf(b, list, veleroRecords(volumes)), nil
	}
	records, err := snapshot.ReadRecords(ctx, files)
	if err != nil {
		return nil, c.readError(b, err)
	}
	return contentsOf(b, list, records), nil
}

// hasContents refuses, with 409 and the reason, a backup whose files say
// nothing (yet) about what it holds.
func hasContents(b *ark.Backup) error {
	var why string
	switch b.Status.Phase {
	case ark.BackupPhaseCompleted, ark.BackupPhasePartiallyFailed:
		return nil
	case ark.BackupPhaseNew, "":
		why = "is New: its contents are known once it completes"
	case ark.BackupPhaseInProgress:
		why = "is InProgress: its contents are known once it completes"
	case ark.BackupPhaseFailed:
		why = "is Failed: a failed backup keeps no contents (see its status.failureReason)"
	case ark.BackupPhaseFailedValidation:
		why = "is FailedValidation: it never ran, so it holds nothing"
	case ark.BackupPhaseDeleting:
		why = "is Deleting: its files are being removed"
	case ark.BackupPhaseCorrupt:
		why = "is Corrupt: its record cannot be trusted, so none of its files is read: " + b.Status.FailureReason
	default:
		why = fmt.Sprintf("is %s", b.Status.Phase)
	}
	return &apierrors.StatusError{ErrStatus: metav1.Status{
		Status:  metav1.StatusFailure,
		Code:    http.StatusConflict,
		Reason:  metav1.StatusReasonConflict,
		Message: fmt.Sprintf("backup %q %s", b.Name, why),
		Details: &metav1.StatusDetails{Group: ark.GroupName, Kind: "backups", Name: b.Name},
	}}
}

// readError is the API's answer to a failed read of a backup's files: a
// file that does not match the manifest (or is too large, or absent when
// the backup must have it) is a 500 naming the file; anything else is the
// bucket's failure (503).
func (c *ContentsREST) readError(b *ark.Backup, err error) error {
	switch {
	case errors.Is(err, encryption.ErrKeyNotHeld):
		return c.r.toAPIError(b.Name, err)
	case errors.Is(err, backupstore.ErrCorrupt), errors.Is(err, backupstore.ErrTooLarge), errors.Is(err, backupstore.ErrAbsent):
		klog.ErrorS(err, "Backup contents cannot be read", "backup", klog.KObj(b))
		return apierrors.NewInternalError(err)
	default:
		return c.r.toAPIError(b.Name, err)
	}
}

// contentsOf is what the API shows of a backup's resource list and
// snapshot records: sorted, so that the answer does not depend on the
// order the engine found things in.
func contentsOf(b *ark.Backup, list map[string][]string, records []snapshot.Record) *ark.BackupContents {
	out := &ark.BackupContents{ObjectMeta: metav1.ObjectMeta{Name: b.Name, Namespace: b.Namespace, UID: b.UID}}
	for resource, items := range list {
		sorted := append([]string{}, items...)
		sort.Strings(sorted)
		out.Resources = append(out.Resources, ark.BackupResourceItems{Resource: resource, Items: sorted})
	}
	sort.Slice(out.Resources, func(i, j int) bool { return out.Resources[i].Resource < out.Resources[j].Resource })
	for _, r := range records {
		out.VolumeSnapshots = append(out.VolumeSnapshots, ark.BackupVolumeSnapshot{
			PersistentVolume: r.PersistentVolume, Snapshotter: r.Snapshotter, VolumeID: r.VolumeID,
			SnapshotID: r.SnapshotID, Size: r.Size, Phase: r.Phase, Error: r.Error,
		})
	}
	sort.SliceStable(out.VolumeSnapshots, func(i, j int) bool {
		return out.VolumeSnapshots[i].PersistentVolume < out.VolumeSnapshots[j].PersistentVolume
	})
	return out
}

// veleroRecords shows the volumes a Velero backup saved outside its
// tarball as snapshot records: the snapshotter says it is Velero's
// ("velero/<location>" for a snapshot, "velero/<uploader>" for a pod
// volume's file-system backup), which Ark does not restore.
func veleroRecords(volumes []backupstore.VeleroVolume) []snapshot.Record {
	out := make([]snapshot.Record, 0, len(volumes))
	for _, v := range volumes {
		pv := v.PersistentVolume
		if pv == "" {
			pv = v.Where()
		}
		out = append(out, snapshot.Record{PersistentVolume: pv, Snapshotter: "velero/" + v.Location, VolumeID: v.VolumeID, SnapshotID: v.SnapshotID, Phase: v.Phase})
	}
	return out
}
