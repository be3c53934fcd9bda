package storagelocation

import (
	"context"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
	"github.com/arkproject/ark/pkg/objectstore"
)

// SpecFor describes a --backup-location URL as a location's spec, so the
// bucket the server serves can be read the way any location is. It does not
// open the bucket. The URL is read by objectstore.ParseLocationURL, so the
// spec's config holds the normalized names (s3Url, s3ForcePathStyle, ...)
// whichever the URL used.
func SpecFor(location string) (arkv1.BackupStorageLocationSpec, error) {
	c, err := objectstore.ParseLocationURL(location)
	if err != nil {
		return arkv1.BackupStorageLocationSpec{}, err
	}
	return arkv1.BackupStorageLocationSpec{
		Provider:      c.Provider,
		ObjectStorage: arkv1.ObjectStorageLocation{Bucket: c.Bucket, Prefix: c.Prefix},
		Config:        c.Config,
		AccessMode:    arkv1.BackupStorageLocationAccessModeReadWrite,
		Default:       true,
	}, nil
}

// OpenSpec opens the store of a location from its spec and credential: the
// Opener of every location but the one given by --backup-location.
func OpenSpec(ctx context.Context, spec arkv1.BackupStorageLocationSpec, credential []byte) (objectstore.Store, error) {
	return objectstore.OpenLocation(ctx, objectstore.LocationConfig{
		Provider:   spec.Provider,
		Bucket:     spec.ObjectStorage.Bucket,
		Prefix:     spec.ObjectStorage.Prefix,
		Config:     spec.Config,
		Credential: credential,
	})
}
