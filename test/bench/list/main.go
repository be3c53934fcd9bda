// Command bench-list measures what a bucket full of backups costs the
// server a user runs: it starts the local cluster (`make run`'s: etcd,
// kube-apiserver, ark-apiserver behind it as an APIService, a file bucket),
// writes N completed backups with all seven files each straight into the
// bucket, as years of schedules leave them, restarts ark-apiserver and
// prints
//   - the load time, from the start of the process to the first full answer;
//   - the latency of a first page of 500 (kubectl's chunk size) through
//     kube-apiserver, and of a whole `kubectl get backups`;
//   - ark-apiserver's CPU time per poll while idle, and the share of a core;
//   - its resident memory per backup (VmRSS loaded minus VmRSS empty);
//   - how long a backup written by someone else takes to show in a watch.
//
// `make bench-list N=10000|100000`.
package main

import (
	"context"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/rest"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
	"github.com/arkproject/ark/pkg/backupstore"
	"github.com/arkproject/ark/pkg/generated/clientset/versioned"
	"github.com/arkproject/ark/pkg/objectstore"
	"github.com/arkproject/ark/test/bench/proc"
	"github.com/arkproject/ark/test/localcluster"
)

func main() {
	n := flag.Int("n", 10000, "backups in the bucket")
	poll := flag.Duration("poll", 5*time.Second, "ark-apiserver's --bucket-poll-interval")
	idle := flag.Duration("idle", time.Minute, "how long idle CPU is measured (with events, the bucket is listed every 12 poll intervals: a minute)")
	samples := flag.Int("freshness-samples", 5, "backups written behind the server's back, to time until a watch shows them")
	root := flag.String("repo", ".", "root of the Ark checkout")
	flag.StringVar(&profileDir, "profile-dir", "", "write ark-apiserver's CPU profile while idle and heap profile once loaded here")
	flag.Parse()
	if profileDir != "" {
		if err := os.MkdirAll(profileDir, 0o755); err != nil {
			fmt.Fprintln(os.Stderr, "bench-list:", err)
			os.Exit(1)
		}
	}
	if err := run(*root, *n, *poll, *idle, *samples); err != nil {
		fmt.Fprintln(os.Stderr, "bench-list:", err)
		os.Exit(1)
	}
}

const pageSize = 500 // kubectl get's --chunk-size

var profileDir string

func run(root string, n int, poll, idle time.Duration, samples int) error {
	ctx := context.Background()
	work, err := os.MkdirTemp("", "ark-bench-list-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	opts, err := localcluster.DefaultOptions(root, filepath.Join(work, "cluster"))
	if err != nil {
		return err
	}
	opts.BucketPollInterval = poll
	fmt.Printf("starting the local cluster...\n")
	c, err := localcluster.Start(ctx, opts)
	if err != nil {
		return err
	}
	defer c.Stop()
	cfg := rest.CopyConfig(c.Config)
	cfg.QPS, cfg.Burst = 1000, 1000
	ark, err := versioned.NewForConfig(cfg)
	if err != nil {
		return err
	}
	backups := ark.ArkV1().Backups(localcluster.HomeNamespace)

	// Empty: the server's memory without backups.
	pid, err := c.ArkPID()
	if err != nil {
		return err
	}
	emptyRSS, err := proc.SettledRSS(pid)
	if err != nil {
		return err
	}
	arkHost := fmt.Sprintf("https://127.0.0.1:%d", c.ArkPort)
	emptyHeap, err := proc.LiveHeap(ctx, c.Config, arkHost)
	if err != nil {
		return err
	}
	c.StopArk()

	fmt.Printf("writing %d backups of seven files each into the bucket...\n", n)
	start := time.Now()
	if err := seed(c.BucketDir, n); err != nil {
		return err
	}
	fmt.Printf("  written in %.1fs\n", time.Since(start).Seconds())

	// Load: from the start of ark-apiserver to a complete first page.
	start = time.Now()
	if err := c.StartArk(ctx); err != nil {
		return err
	}
	var load time.Duration
	for {
		l, err := backups.List(ctx, metav1.ListOptions{Limit: pageSize})
		if err == nil && len(l.Items)+int(remaining(l)) == n {
			load = time.Since(start)
			break
		}
		if time.Since(start) > 10*time.Minute {
			return fmt.Errorf("the backups did not load in 10 minutes (last: %v)", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if pid, err = c.ArkPID(); err != nil {
		return err
	}

	// First pages, as kubectl asks for them, and a whole kubectl get.
	var firsts []time.Duration
	for range 20 {
		t := time.Now()
		if _, err := backups.List(ctx, metav1.ListOptions{Limit: pageSize}); err != nil {
			return err
		}
		firsts = append(firsts, time.Since(t))
	}
	var gets []time.Duration
	for range 3 {
		t := time.Now()
		out, err := c.Kubectl(ctx, nil, "get", "backups", "-n", localcluster.HomeNamespace, fmt.Sprintf("--chunk-size=%d", pageSize), "--no-headers")
		if err != nil {
			return fmt.Errorf("kubectl get backups: %v: %s", err, out)
		}
		gets = append(gets, time.Since(t))
		if lines := strings.Count(string(out), "\n"); lines != n && n > 0 { // none: "No resources found"
			return fmt.Errorf("kubectl get backups printed %d lines, want %d", lines, n)
		}
	}

	// Idle: CPU per poll, once the load's garbage is collected and the
	// watchers that lost the server while it was stopped are back:
	// kube-controller-manager's informers come back after a backoff of
	// their own and are sent every backup again, a cost of the restart,
	// not of being idle.
	watchStart := time.Now()
	for {
		w, err := proc.Watches(ctx, c.Config, arkHost, "backups")
		if err != nil {
			return err
		}
		if w > 0 || time.Since(watchStart) > 3*time.Minute {
			fmt.Printf("  %d watches of backups served (%.0fs after the first pages)\n", w, time.Since(watchStart).Seconds())
			break
		}
		time.Sleep(time.Second)
	}
	time.Sleep(2 * poll)
	cpu0, err := proc.CPUTime(pid)
	if err != nil {
		return err
	}
	if profileDir != "" {
		if err := proc.Profile(ctx, c.Config, arkHost, "profile", int(idle.Seconds()), filepath.Join(profileDir, "idle-cpu.pprof")); err != nil {
			return err
		}
	} else {
		time.Sleep(idle)
	}
	cpu1, err := proc.CPUTime(pid)
	if err != nil {
		return err
	}
	intervals := float64(idle) / float64(poll)
	perInterval := time.Duration(float64(cpu1-cpu0) / intervals)
	share := 100 * float64(cpu1-cpu0) / float64(idle)

	loadedRSS, err := proc.SettledRSS(pid)
	if err != nil {
		return err
	}
	perBackup := float64(loadedRSS-emptyRSS) / float64(n)
	// After the RSS: it forces a collection, which the RSS should not see.
	loadedHeap, err := proc.LiveHeap(ctx, c.Config, arkHost)
	if err != nil {
		return err
	}
	heapPerBackup := float64(loadedHeap.Live-emptyHeap.Live) / float64(n)
	if profileDir != "" {
		if err := proc.Profile(ctx, c.Config, arkHost, "heap", 0, filepath.Join(profileDir, "loaded-heap.pprof")); err != nil {
			return err
		}
	}

	// Freshness: another writer's backup, seen through a watch.
	var fresh []time.Duration
	for i := range samples {
		time.Sleep(time.Duration(rand.Int64N(int64(poll)))) // a random phase of the poll
		d, err := timeToWatch(ctx, backups, c.BucketDir, fmt.Sprintf("fresh-%d", i))
		if err != nil {
			return err
		}
		fresh = append(fresh, d)
	}

	goal := func(ok bool) string {
		if ok {
			return "met"
		}
		return "NOT met"
	}
	fmt.Printf("\n%d backups (7 files each, %d files), file bucket, poll every %s, through kube-apiserver:\n", n, 7*n, poll)
	fmt.Printf("  load (process start to a full first page): %8.2fs\n", load.Seconds())
	fmt.Printf("  first page of %d (median of 20):           %8.1fms  p95 %.1fms  (goal <= 1 s at 100k) %s\n", pageSize, ms(median(firsts)), ms(pct(firsts, 95)), goal(pct(firsts, 95) <= time.Second))
	fmt.Printf("  kubectl get backups, all %d (median of 3):  %8.2fs\n", n, median(gets).Seconds())
	fmt.Printf("  idle CPU per poll interval (%.0fs measured):  %8.1fms  %.2f%% of a core  (goal <= 2%%) %s\n", idle.Seconds(), ms(perInterval), share, goal(share <= 2))
	fmt.Printf("  RSS: empty %s, loaded %s: %.2f KiB per backup  (goal <= 3 KiB) %s\n", mib(emptyRSS), mib(loadedRSS), perBackup/1024, goal(perBackup <= 3*1024))
	fmt.Printf("    live Go heap: empty %s, loaded %s: %.2f KiB per backup; RSS grows %.1f times as much\n", mib(emptyHeap.Live), mib(loadedHeap.Live), heapPerBackup/1024, perBackup/heapPerBackup)
	fmt.Printf("    loaded, after a collection: next collection at %s of heap; %s of free heap not yet returned to the system; %s obtained from it in all\n", mib(loadedHeap.Goal), mib(loadedHeap.Free), mib(loadedHeap.Sys))
	// Between collections the heap grows to its goal (twice the live heap
	// at the default GOGC) before it is collected: the bound a longer idle
	// than this one approaches, where the RSS above is one moment of it.
	fmt.Printf("    the heap goal (what the heap may grow to between collections) grows by %.2f KiB per backup\n", float64(loadedHeap.Goal-emptyHeap.Goal)/float64(n)/1024)
	// inotify watches every folder of a local file bucket of up to
	// MaxWatchedDirectories folders; in a larger one, the folders new
	// backups go to. These samples are new backups: they arrive by events
	// either way, so the goal is on the 95th percentile.
	how := "p95 <= 1 s: inotify"
	if n+samples >= objectstore.MaxWatchedDirectories {
		how += fmt.Sprintf(", of new backups only: with more than %d folders, a rewrite of an older backup's record is found by a listing (every %s, or less often when a listing takes over a fiftieth of that)", objectstore.MaxWatchedDirectories, poll)
	}
	limit, judged := time.Second, pct(fresh, 95)
	fmt.Printf("  a backup written by another writer shows in a watch after: median %.2fs, p95 %.2fs, max %.2fs of %d  (goal %s) %s\n",
		median(fresh).Seconds(), pct(fresh, 95).Seconds(), slices.Max(fresh).Seconds(), len(fresh), how, goal(judged <= limit))
	sorted := slices.Clone(fresh)
	slices.Sort(sorted)
	fmt.Printf("    each, sorted: %v\n", sorted)
	fmt.Printf("\nLeft out: the bucket is a local file system; GCS, S3 and Azure add their own list latency (see `make bench`). RSS includes the Go runtime's free heap and garbage (the live heap line says how much of it is kept); the in-process controllers share the API's copy of every backup; the CPU share is measured on a machine shared with whatever else runs.\n")
	return nil
}

// seed writes n completed backups with their seven files into the bucket
// directory, as a file store holds them.
func seed(bucket string, n int) error {
	layout := backupstore.Layout{HomeNamespace: localcluster.HomeNamespace}
	jobs := make(chan int)
	errs := make(chan error, 16)
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				if err := writeBackup(bucket, layout.Backup(localcluster.HomeNamespace, fmt.Sprintf("daily-%06d", i))); err != nil {
					select {
					case errs <- err:
					default:
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
	select {
	case err := <-errs:
		return err
	default:
		return nil
	}
}

func writeBackup(bucket string, b backupstore.Backup) error {
	if err := os.MkdirAll(filepath.Join(bucket, b.Dir()), 0o755); err != nil {
		return err
	}
	for _, key := range []string{b.TarballKey(), b.LogsKey(), b.ResourceListKey(), b.VolumeSnapshotsKey(), b.ResultsKey(), b.ManifestKey()} {
		if err := os.WriteFile(filepath.Join(bucket, key), []byte("not read by a list"), 0o644); err != nil {
			return err
		}
	}
	return writeRecord(bucket, b)
}

// writeRecord writes a completed backup's record the way a schedule's
// backups look, atomically (rename), as another server would: with the
// labels, origin annotations and requester a record written by Ark has.
func writeRecord(bucket string, b backupstore.Backup) error {
	body := fmt.Sprintf(`{"apiVersion":"ark.heptio.com/v1","kind":"Backup","metadata":{"name":%q,"namespace":%q,"uid":"%s","creationTimestamp":"2026-12-01T00:00:00Z","labels":{"ark.heptio.com/schedule-name":"daily"},"annotations":{"ark.heptio.com/cluster":"0f6c2a1e-5d3b-4c7a-9e21-7b8d4f0a6c35","ark.heptio.com/provenance":"v1:%s"}},"spec":{"includedNamespaces":["*"],"excludedResources":["events","events.events.k8s.io"],"ttl":"87600h0m0s","storageLocation":"default","requester":{"username":"system:serviceaccount:heptio-ark:ark-scheduler","groups":["system:serviceaccounts","system:serviceaccounts:heptio-ark","system:authenticated"]}},"status":{"phase":"Completed","version":1,"startTimestamp":"2026-12-01T00:00:00Z","completionTimestamp":"2026-12-01T00:05:00Z","expiration":"2036-12-01T00:00:00Z","progress":{"totalItems":812,"itemsDone":812}}}`,
		b.Name, b.Namespace, fmt.Sprintf("00000000-0000-4000-8000-%012x", rand.Int64N(1<<48)), signature())
	tmp := filepath.Join(bucket, b.Dir(), ".bench-tmp")
	if err := os.WriteFile(tmp, []byte(body), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(bucket, b.MetadataKey()))
}

// signature stands for a record's provenance signature, which differs for
// every backup, so that no two records share it as they do their labels.
func signature() string {
	var mac [32]byte
	for i := range mac {
		mac[i] = byte(rand.IntN(256))
	}
	return base64.RawStdEncoding.EncodeToString(mac[:])
}

// timeToWatch writes a backup behind the server's back and returns how long
// a watch through kube-apiserver took to show it.
func timeToWatch(ctx context.Context, backups interface {
	List(context.Context, metav1.ListOptions) (*arkv1.BackupList, error)
	Watch(context.Context, metav1.ListOptions) (watch.Interface, error)
}, bucket, name string) (time.Duration, error) {
	l, err := backups.List(ctx, metav1.ListOptions{Limit: 1})
	if err != nil {
		return 0, err
	}
	w, err := backups.Watch(ctx, metav1.ListOptions{ResourceVersion: l.ResourceVersion, FieldSelector: "metadata.name=" + name})
	if err != nil {
		return 0, err
	}
	defer w.Stop()
	b := backupstore.Layout{HomeNamespace: localcluster.HomeNamespace}.Backup(localcluster.HomeNamespace, name)
	start := time.Now()
	if err := writeBackup(bucket, b); err != nil {
		return 0, err
	}
	timeout := time.After(5 * time.Minute) // a huge polled bucket is listed less often
	for {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				return 0, errors.New("the watch ended")
			}
			if o, isBackup := ev.Object.(*arkv1.Backup); isBackup && ev.Type == watch.Added && o.Name == name {
				return time.Since(start), nil
			}
		case <-timeout:
			return 0, fmt.Errorf("backup %s did not show in a watch within 5 minutes", name)
		}
	}
}

func remaining(l *arkv1.BackupList) int64 {
	if l.RemainingItemCount == nil {
		return 0
	}
	return *l.RemainingItemCount
}

func median(ds []time.Duration) time.Duration { return pct(ds, 50) }

func pct(ds []time.Duration, p int) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[(len(s)-1)*p/100]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func mib(b int64) string { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) }
