package storagelocation

import (
	"fmt"
	"net/url"
	"path"
	"strings"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
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
		spec.Config = queryConfig(u.Query())
	case "azure":
		// The query holds only the account and endpoint: the credential
		// comes from the server's environment and is never in the URL.
		spec.Provider = "azure"
		spec.ObjectStorage = arkv1.ObjectStorageLocation{Bucket: u.Host, Prefix: prefix}
		spec.Config = queryConfig(u.Query())
	default:
		return arkv1.BackupStorageLocationSpec{}, fmt.Errorf("backup location: unsupported scheme %q (want file, gs, s3 or azure)", u.Scheme)
	}
	return spec, nil
}

// queryConfig is a location URL's query as a spec's config: the last value
// of each parameter, or nil without any.
func queryConfig(q url.Values) map[string]string {
	var config map[string]string
	for k, v := range q {
		if config == nil {
			config = map[string]string{}
		}
		config[k] = v[len(v)-1]
	}
	return config
}
