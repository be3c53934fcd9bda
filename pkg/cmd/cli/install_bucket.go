package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/arkproject/ark/pkg/backupstore"
	"github.com/arkproject/ark/pkg/controllers/storagelocation"
	"github.com/arkproject/ark/pkg/objectstore"
	"github.com/arkproject/ark/pkg/provenance"
)

// bucketSample is how many backup records install reads to tell whose
// bucket it is: enough to find another cluster's backups among a few
// thousand, without reading them all.
const bucketSample = 200

// errNotCheckable says the location cannot be reached from this machine
// at all (a file:// path of the server's volume that is not here).
var errNotCheckable = errors.New("not reachable from this machine")

// bucketReport says what install found in the bucket.
type bucketReport struct {
	// Records is how many backup records were read; Sampled is set when
	// there were more.
	Records int
	Sampled bool
	// ByCluster counts them by the cluster whose Ark accepted them
	// ("" for records that name none).
	ByCluster map[string]int
}

// inspectBucket opens the location as the server will (with credential,
// else this machine's environment), lists it and reads up to bucketSample
// backup records, counting them by cluster. An error means the server
// could not use the location either, unless it is errNotCheckable.
func inspectBucket(ctx context.Context, location string, credential []byte) (*bucketReport, error) {
	spec, err := storagelocation.SpecFor(location)
	if err != nil {
		return nil, err
	}
	if spec.Provider == "file" {
		if _, err := os.Stat(spec.ObjectStorage.Bucket); err != nil {
			return nil, fmt.Errorf("%w: %s is a directory of the server's", errNotCheckable, spec.ObjectStorage.Bucket)
		}
	}
	store, err := storagelocation.OpenSpec(ctx, spec, credential)
	if err != nil {
		return nil, err
	}
	defer store.Close()
	r := &bucketReport{ByCluster: map[string]int{}}
	layout := backupstore.Layout{HomeNamespace: DefaultNamespace}
	for _, prefix := range layout.Prefixes() {
		opts := objectstore.ListOptions{Prefix: prefix, Name: backupstore.MetadataFile}
		for {
			page, err := store.List(ctx, opts)
			if err != nil {
				return nil, fmt.Errorf("listing %s: %w", store, err)
			}
			for _, o := range page.Objects {
				if _, ok := layout.ParseMetadataKey(o.Key); !ok {
					continue
				}
				if r.Records == bucketSample {
					r.Sampled = true
					return r, nil
				}
				data, _, err := objectstore.ReadAll(ctx, store, o.Key, 4<<20)
				if err != nil {
					return nil, fmt.Errorf("reading %s: %w", o.Key, err)
				}
				var record struct {
					Metadata struct {
						Annotations map[string]string `json:"annotations"`
					} `json:"metadata"`
				}
				if json.Unmarshal(data, &record) != nil {
					continue // not a record Ark would list either
				}
				r.Records++
				r.ByCluster[record.Metadata.Annotations[provenance.ClusterAnnotation]]++
			}
			if page.NextPageToken == "" {
				break
			}
			opts.PageToken = page.NextPageToken
		}
	}
	return r, nil
}

// others describes the records of clusters other than cluster, "" if none.
func (r *bucketReport) others(cluster string) string {
	var parts []string
	for c, n := range r.ByCluster {
		switch c {
		case cluster:
		case "":
			parts = append(parts, fmt.Sprintf("%d naming no cluster", n))
		default:
			parts = append(parts, fmt.Sprintf("%d of cluster %s", n, c))
		}
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}

// describe says whose the bucket is, for install's output.
func (r *bucketReport) describe(location, cluster string) string {
	more := ""
	if r.Sampled {
		more = " (the first " + fmt.Sprint(bucketSample) + " read)"
	}
	switch {
	case r.Records == 0:
		return fmt.Sprintf("Bucket %s is reachable and holds no backups.", location)
	case r.others(cluster) == "":
		return fmt.Sprintf("Bucket %s is reachable and holds %d backups of this cluster%s.", location, r.Records, more)
	default:
		return fmt.Sprintf("Bucket %s is reachable and holds %d backups%s: %d of this cluster, %s.", location, r.Records, more, r.ByCluster[cluster], r.others(cluster))
	}
}

// checkBucket is install's check of --backup-location before anything is
// applied: the bucket must be reachable with the credential the server
// will use, and hold no other cluster's backups unless sharing it is
// meant (shared). It returns what to print.
func checkBucket(ctx context.Context, location string, credential []byte, cluster string, shared bool) (string, error) {
	r, err := inspectBucket(ctx, location, credential)
	if errors.Is(err, errNotCheckable) {
		return fmt.Sprintf("Bucket %s not checked: %v.", location, err), nil
	}
	if err != nil {
		how := "with this machine's credentials (the environment)"
		if credential != nil {
			how = "with --secret-file"
		}
		return "", fmt.Errorf("--backup-location %s cannot be used %s: %w\n  (fix the location or the credential; if only the server can reach the bucket, e.g. through Workload Identity, pass --skip-bucket-check)", location, how, err)
	}
	if others := r.others(cluster); others != "" && !shared {
		return "", fmt.Errorf("--backup-location %s holds backups of another cluster's Ark (%s). This cluster's Ark would list and restore them but never run, expire or delete them. Give this cluster its own prefix (gs://bucket/cluster-name), or pass --shared-bucket to share it on purpose", location, others)
	}
	return r.describe(location, cluster), nil
}
