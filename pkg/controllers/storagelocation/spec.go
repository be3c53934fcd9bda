package storagelocation

import (
	"context"
	"fmt"
	"net/url"
	"path"
	"strings"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
	"github.com/arkproject/ark/pkg/objectstore"
)

// SpecFor describes a --backup-location URL as a location's spec, so the
// bucket the server serves can be read the way any location is. It does not
// open the bucket; objectstore.Open decides whether the URL works.
func SpecFor(location string) (arkv1.BackupStorageLocationSpec, error) {
	u, err := url.Parse(location)
	if err != nil {
		return arkv1.BackupStorageLocationSpec{}, fmt.Errorf("parsing backup location: %w", err)
	}
	spec := arkv1.BackupStorageLocationSpec{
		AccessMode: arkv1.BackupStorageLocationAccessModeReadWrite,
		Default:    true,
	}
	prefix := strings.Trim(u.Path, "/")
	switch u.Scheme {
	case "file":
		spec.Provider = "file"
		spec.ObjectStorage.Bucket = path.Clean(u.Path)
	case "gs":
		spec.Provider = "gcp"
		spec.ObjectStorage = arkv1.ObjectStorageLocation{Bucket: u.Host, Prefix: prefix}
	case "s3":
		spec.Provider = "aws"
		spec.ObjectStorage = arkv1.ObjectStorageLocation{Bucket: u.Host, Prefix: prefix}
		for k, v := range u.Query() {
			if spec.Config == nil {
				spec.Config = map[string]string{}
			}
			spec.Config[k] = v[len(v)-1]
		}
	default:
		return arkv1.BackupStorageLocationSpec{}, fmt.Errorf("backup location: unsupported scheme %q (want file, gs or s3)", u.Scheme)
	}
	return spec, nil
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
