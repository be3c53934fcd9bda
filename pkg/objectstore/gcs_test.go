package objectstore_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/arkproject/ark/pkg/objectstore"
	"github.com/arkproject/ark/pkg/objectstore/gcstest"
	"github.com/arkproject/ark/pkg/objectstore/objectstoretest"
)

// The GCS backend runs the same suite with the real client over HTTP against
// fake-gcs-server, with and without a prefix inside the bucket.
func TestGCSStoreConformance(t *testing.T) {
	srv, err := gcstest.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	var n atomic.Int32
	for _, prefix := range []string{"", "ark/cluster-a"} {
		// The prefix and its slash are part of every object name and count
		// toward GCS's limit on its length.
		var opts objectstoretest.Options
		if prefix != "" {
			opts.KeyPrefixBytes = len(prefix) + 1
		}
		t.Run("prefix="+prefix, func(t *testing.T) {
			objectstoretest.RunWith(t, func(t *testing.T) objectstore.Store {
				bucket := fmt.Sprintf("bucket-%d", n.Add(1))
				srv.CreateBucket(bucket)
				s, err := srv.NewStore(context.Background(), bucket, prefix)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { s.Close() })
				return s
			}, opts)
		})
	}
}
