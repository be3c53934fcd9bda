package integration

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
	"github.com/arkproject/ark/pkg/backupstore"
	"github.com/arkproject/ark/pkg/objectstore"
)

// benchBackups is how many backups the list benchmark puts in the bucket;
// ARK_BENCH_BACKUPS overrides it.
func benchBackups() int {
	if n, err := strconv.Atoi(os.Getenv("ARK_BENCH_BACKUPS")); err == nil && n > 0 {
		return n
	}
	return 10000
}

// seedBucket writes n completed backups with all seven files each straight
// into the bucket, as a long-lived cluster's bucket would hold them.
func seedBucket(b *testing.B, s objectstore.Store, n int) {
	b.Helper()
	jobs := make(chan int)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				name := fmt.Sprintf("daily-%05d", i)
				body := fmt.Sprintf(`{"apiVersion":"ark.heptio.com/v1","kind":"Backup","metadata":{"name":%q,"namespace":"heptio-ark","uid":"00000000-0000-4000-8000-%012d","creationTimestamp":"2026-01-01T00:00:00Z","labels":{"ark.heptio.com/schedule-name":"daily"}},"spec":{"includedNamespaces":["*"],"ttl":"720h0m0s","storageLocation":"default"},"status":{"phase":"Completed","version":1,"startTimestamp":"2026-01-01T00:00:00Z","completionTimestamp":"2026-01-01T00:05:00Z","expiration":"2026-01-31T00:00:00Z","progress":{"totalItems":812,"itemsDone":812}}}`, name, i)
				ref := backupstore.Layout{HomeNamespace: home}.Backup(home, name)
				files := map[string]string{ref.MetadataKey(): body}
				// A backup's six other files, which a poll must not cost.
				for _, key := range []string{ref.TarballKey(), ref.LogsKey(), ref.ResourceListKey(), ref.VolumeSnapshotsKey(), ref.ResultsKey(), ref.ManifestKey()} {
					files[key] = "not read by a list"
				}
				for key, data := range files {
					if _, err := objectstore.PutBytes(context.Background(), s, key, []byte(data), objectstore.Conditions{}); err != nil {
						mu.Lock()
						if firstErr == nil {
							firstErr = err
						}
						mu.Unlock()
					}
				}
			}
		}()
	}
	for i := range n {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	if firstErr != nil {
		b.Fatal(firstErr)
	}
}

// BenchmarkListBackups lists every backup of a bucket holding benchBackups()
// of them through an in-process API server (HTTPS, JSON, the generated
// client's REST client) on every backend. It leaves out kube-apiserver's
// proxy and kubectl's paging, which `make bench-list` measures on the
// file bucket. The list is served from the
// server's index, so its cost must not depend on how slow the bucket is.
// Allocations are the client's and the server's together (both in-process).
// It also reports how long the server took to load the bucket at start.
func BenchmarkListBackups(b *testing.B) {
	n := benchBackups()
	for _, kind := range []string{"file", "gcs", "s3", "azure"} {
		b.Run(fmt.Sprintf("%s/%d", kind, n), func(b *testing.B) {
			var store objectstore.Store
			switch kind {
			case "gcs":
				store, _ = gcsStore(b)
			case "s3":
				store, _ = s3Store(b)
			case "azure":
				store, _ = azureStore(b)
			default:
				s, err := objectstore.NewFileStore(b.TempDir())
				if err != nil {
					b.Fatal(err)
				}
				store = s
			}
			seedBucket(b, store, n)
			start := time.Now()
			ts := startServer(b, serverOptions{store: store, pollInterval: 5 * time.Second})
			loaded := time.Since(start)

			rc := ts.Client.ArkV1().RESTClient()
			ctx := context.Background()
			list := func() int {
				var out arkv1.BackupList
				if err := rc.Get().Namespace(home).Resource("backups").Do(ctx).Into(&out); err != nil {
					b.Fatal(err)
				}
				return len(out.Items)
			}
			if got := list(); got != n {
				b.Fatalf("listed %d backups, want %d", got, n)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				list()
			}
			b.StopTimer()
			b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/list")
			b.ReportMetric(loaded.Seconds(), "s-to-load-bucket")

			// One page of 500, as a paginating client (kubectl --chunk-size) sees it.
			pageStart := time.Now()
			page, err := ts.Client.ArkV1().Backups(home).List(ctx, metav1.ListOptions{Limit: 500})
			if err != nil || len(page.Items) != 500 {
				b.Fatalf("page: %v (%d items)", err, len(page.Items))
			}
			b.ReportMetric(float64(time.Since(pageStart).Microseconds())/1000, "ms/page-of-500")
		})
	}
}
