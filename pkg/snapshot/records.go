package snapshot

import (
	"context"
	"errors"

	"github.com/arkproject/ark/pkg/backupstore"
)

// MaxRecordsSize caps a backup's volume-snapshots file, gzipped and
// inflated: a record is a few hundred bytes, so 16 MiB holds tens of
// thousands of volumes, and the whole file is held in memory.
const MaxRecordsSize = 16 << 20

// ReadRecords reads a backup's volume-snapshot records, checked against
// its manifest (see backupstore.Files). A backup whose manifest lists no
// such file, and that has none, took no snapshots.
func ReadRecords(ctx context.Context, files *backupstore.Files) ([]Record, error) {
	var records []Record
	err := files.ReadGzipJSON(ctx, files.Backup().VolumeSnapshotsKey(), MaxRecordsSize, &records)
	if errors.Is(err, backupstore.ErrAbsent) {
		return nil, nil
	}
	return records, err
}
