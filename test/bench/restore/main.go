// Command bench-restore measures a restore through the whole stack: it
// starts the local cluster, creates N config maps with a plain client, backs
// them up with Ark, then, -reps times, creates N config maps with a plain
// 16-worker client (the baseline: what any tool needs at least) and restores
// the backup with Ark, each into a fresh namespace, and previews the same
// restore (spec.preview: every create a dry run) into an empty namespace.
// It prints every run, the median objects per second of each, the ratio of
// Ark's median time to the plain client's, and of the preview's to the
// restore's. `make bench-restore N=... REPS=...`.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
	"github.com/arkproject/ark/pkg/generated/clientset/versioned"
	"github.com/arkproject/ark/test/bench/proc"
	"github.com/arkproject/ark/test/localcluster"
)

// goal is the ratio of a restore's time to the plain client's that issue #15
// asks for.
const goal = 1.1

// valueBytes is the size of each config map's value: random bytes, hex
// encoded, so that neither the backup's gzip nor etcd's storage can shrink
// it to nothing.
const valueBytes = 1024

func main() {
	n := flag.Int("n", 10000, "objects to restore")
	reps := flag.Int("reps", 3, "repetitions of the plain client and of the restore")
	workers := flag.Int("workers", 16, "parallel creates of the plain-client baseline (the restorer's default)")
	root := flag.String("repo", ".", "root of the Ark checkout")
	flag.StringVar(&profileDir, "profile-dir", "", "write CPU profiles of ark-apiserver and kube-apiserver during the first plain run and the first restore here")
	flag.Parse()
	if *n < 1 || *reps < 1 || *workers < 1 {
		fmt.Fprintln(os.Stderr, "bench-restore: -n, -reps and -workers must be at least 1")
		os.Exit(2)
	}
	if err := run(*root, *n, *reps, *workers); err != nil {
		fmt.Fprintln(os.Stderr, "bench-restore:", err)
		os.Exit(1)
	}
}

// profileDir, when set, is where the CPU profiles of the first plain run
// and the first restore go.
var profileDir string

// profileSeconds is how long a run's profile lasts: the same span for the
// plain client and the restore, so that their profiles compare, and shorter
// than either takes at about 1,000 objects a second.
func profileSeconds(n int) int {
	return max(1, n/1000*3/4)
}

// servers are the processes whose CPU time each run reports: on one
// machine, what Ark burns is taken from the API server and etcd.
var servers = []string{"ark-apiserver", "kube-apiserver", "etcd"}

// bench is the cluster and clients the runs share.
type bench struct {
	cluster *localcluster.Cluster
	kube    kubernetes.Interface
	ark     versioned.Interface
	n       int
	workers int
}

func run(root string, n, reps, workers int) error {
	ctx := context.Background()
	work, err := os.MkdirTemp("", "ark-bench-restore-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	opts, err := localcluster.DefaultOptions(root, filepath.Join(work, "cluster"))
	if err != nil {
		return err
	}
	opts.BucketPollInterval = time.Second
	fmt.Printf("starting the local cluster...\n")
	c, err := localcluster.Start(ctx, opts)
	if err != nil {
		return err
	}
	defer c.Stop()
	cfg := rest.CopyConfig(c.Config)
	cfg.QPS, cfg.Burst = 2000, 4000
	b := &bench{cluster: c, n: n, workers: workers}
	if b.kube, err = kubernetes.NewForConfig(cfg); err != nil {
		return err
	}
	if b.ark, err = versioned.NewForConfig(cfg); err != nil {
		return err
	}

	fmt.Printf("creating %d config maps of %d random bytes (hex) to back up...\n", n, valueBytes)
	if _, err := b.plain(ctx, "bench-src"); err != nil {
		return err
	}
	fmt.Printf("backing them up...\n")
	backupTime, err := b.backup(ctx)
	if err != nil {
		return err
	}
	fmt.Printf("backup: %.2fs, %.0f objects/s (one run, not a goal)\n\n", backupTime.Seconds(), float64(n)/backupTime.Seconds())

	// The two alternate, and which goes first alternates too, so that a
	// machine getting busier or etcd growing weighs on both alike.
	var plainTimes, arkTimes, previewTimes []time.Duration
	for i := 1; i <= reps; i++ {
		steps := []func() error{
			func() error {
				cpu0 := b.cpu()
				var profiled chan error
				if profileDir != "" && i == 1 {
					// The plain client's profile is the baseline the
					// restore's is read against.
					profiled = make(chan error, 1)
					go func() {
						profiled <- b.profile(ctx, profileSeconds(b.n), profileDir, "plain")
					}()
				}
				d, err := b.plain(ctx, fmt.Sprintf("bench-plain-%d", i))
				if err != nil {
					return err
				}
				if profiled != nil {
					if err := <-profiled; err != nil {
						return err
					}
				}
				plainTimes = append(plainTimes, d)
				b.report("plain", i, d, cpu0)
				return nil
			},
			func() error {
				cpu0 := b.cpu()
				var profiled chan error
				if profileDir != "" && i == 1 {
					profiled = make(chan error, 1)
					go func() {
						profiled <- b.profile(ctx, profileSeconds(b.n), profileDir, "restore")
					}()
				}
				d, err := b.restore(ctx, i, false)
				if err != nil {
					return err
				}
				if profiled != nil {
					if err := <-profiled; err != nil {
						return err
					}
				}
				arkTimes = append(arkTimes, d)
				b.report("ark", i, d, cpu0)
				return nil
			},
			func() error {
				cpu0 := b.cpu()
				d, err := b.restore(ctx, i, true)
				if err != nil {
					return err
				}
				previewTimes = append(previewTimes, d)
				b.report("preview", i, d, cpu0)
				return nil
			},
		}
		if i%2 == 0 {
			slices.Reverse(steps)
		}
		for _, step := range steps {
			if err := step(); err != nil {
				return err
			}
		}
	}

	plainMed, arkMed := median(plainTimes), median(arkTimes)
	ratio := arkMed.Seconds() / plainMed.Seconds()
	verdict := "meets"
	if ratio > goal {
		verdict = "misses"
	}
	fmt.Printf("\nmedian of %d, %d objects:\n", reps, n)
	fmt.Printf("plain client:  %8.2fs  %8.0f objects/s  (%d parallel creates)\n", plainMed.Seconds(), float64(n)/plainMed.Seconds(), workers)
	fmt.Printf("ark restore:   %8.2fs  %8.0f objects/s  (Restore created to Completed seen)\n", arkMed.Seconds(), float64(n)/arkMed.Seconds())
	fmt.Printf("ratio ark/plain time: %.2fx  (goal: <= %.1fx; %s it)\n", ratio, goal, verdict)
	previewMed := median(previewTimes)
	previewVerdict := "meets"
	if previewMed > arkMed {
		previewVerdict = "misses"
	}
	fmt.Printf("ark preview:   %8.2fs  %8.0f objects/s  (every create a dry run; Restore created to Previewed seen)\n", previewMed.Seconds(), float64(n)/previewMed.Seconds())
	fmt.Printf("ratio preview/restore time: %.2fx  (goal: <= 1.0x; %s it)\n", previewMed.Seconds()/arkMed.Seconds(), previewVerdict)
	fmt.Print(`
What the figures leave out:
  - one machine, shared: the API server, etcd, Ark and this client compete
    for it, and whatever else runs on it weighs on every run; compare runs
    taken together, not across machines or days.
  - config maps only, in one namespace: no ordering across kinds, no custom
    resources, no volume data, no owner references, no existing objects.
  - the restore's time includes reading and unpacking the backup and writing
    its results and log, which the plain client has no equivalent of; it is
    the time until Completed is seen (polled every 50ms), which excludes the
    removal of the unpacked backup, done after Completed is written.
  - namespaces are not deleted between runs (deleting would load the cluster
    during the next one): etcd grows by N objects per run.
`)
	return nil
}

func (b *bench) report(what string, rep int, d time.Duration, cpu0 map[string]time.Duration) {
	cpu1 := b.cpu()
	used := ""
	for _, s := range servers {
		used += fmt.Sprintf("  %s %.1fs", s, (cpu1[s] - cpu0[s]).Seconds())
	}
	fmt.Printf("run %d %-7s  %8.2fs  %8.0f objects/s   CPU:%s\n", rep, what, d.Seconds(), float64(b.n)/d.Seconds(), used)
}

// cpu reads the CPU time each of the servers has used so far; one that
// cannot be read counts as zero.
func (b *bench) cpu() map[string]time.Duration {
	out := map[string]time.Duration{}
	for _, s := range servers {
		if pid, err := b.cluster.PID(s); err == nil {
			out[s], _ = proc.CPUTime(pid)
		}
	}
	return out
}

// profile writes the CPU profiles of ark-apiserver and kube-apiserver over
// the next seconds into dir, their names starting with prefix: where a
// restore's time goes is as much in kube-apiserver (impersonation, admission,
// etcd writes) as in Ark.
func (b *bench) profile(ctx context.Context, seconds int, dir, prefix string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	errs := make(chan error, 2)
	go func() {
		errs <- proc.Profile(ctx, b.cluster.Config, fmt.Sprintf("https://127.0.0.1:%d", b.cluster.ArkPort), "profile", seconds, filepath.Join(dir, prefix+"-ark-apiserver-cpu.pprof"))
	}()
	go func() {
		errs <- proc.Profile(ctx, b.cluster.Config, b.cluster.Config.Host, "profile", seconds, filepath.Join(dir, prefix+"-kube-apiserver-cpu.pprof"))
	}()
	return errors.Join(<-errs, <-errs)
}

// plain creates the namespace ns and n config maps in it with workers
// parallel creates, and returns how long the config maps took.
func (b *bench) plain(ctx context.Context, ns string) (time.Duration, error) {
	if _, err := b.kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		return 0, fmt.Errorf("creating namespace %s: %w", ns, err)
	}
	start := time.Now()
	jobs := make(chan int)
	errs := make(chan error, b.workers)
	var wg sync.WaitGroup
	for range b.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			raw := make([]byte, valueBytes/2)
			for i := range jobs {
				_, _ = rand.Read(raw)
				cm := &corev1.ConfigMap{
					ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("cm-%06d", i), Labels: map[string]string{"app": "bench"}},
					Data:       map[string]string{"value": hex.EncodeToString(raw)},
				}
				if _, err := b.kube.CoreV1().ConfigMaps(ns).Create(ctx, cm, metav1.CreateOptions{}); err != nil {
					errs <- fmt.Errorf("creating config map %s/%s: %w", ns, cm.Name, err)
					for range jobs { // let the others finish
					}
					return
				}
			}
		}()
	}
	for i := range b.n {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	select {
	case err := <-errs:
		return 0, err
	default:
	}
	return time.Since(start), nil
}

// backup backs up the config maps of bench-src.
func (b *bench) backup(ctx context.Context) (time.Duration, error) {
	backups := b.ark.ArkV1().Backups(localcluster.HomeNamespace)
	backup := &arkv1.Backup{ObjectMeta: metav1.ObjectMeta{Name: "bench", Namespace: localcluster.HomeNamespace},
		Spec: arkv1.BackupSpec{IncludedNamespaces: []string{"bench-src"}, IncludedResources: []string{"configmaps"}, LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "bench"}}}}
	start := time.Now()
	if _, err := backups.Create(ctx, backup, metav1.CreateOptions{}); err != nil {
		return 0, err
	}
	err := waitFor(ctx, func() (bool, error) {
		b, err := backups.Get(ctx, "bench", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		if b.Status.Phase == arkv1.BackupPhaseFailed || b.Status.Phase == arkv1.BackupPhasePartiallyFailed {
			return false, fmt.Errorf("backup %s: %s", b.Status.Phase, b.Status.FailureReason)
		}
		return b.Status.Phase == arkv1.BackupPhaseCompleted, nil
	})
	return time.Since(start), err
}

// restore restores the backup into bench-ark-<rep>, a namespace the restore
// creates, and returns the time from creating the Restore to seeing it
// Completed, after checking that every config map is there.
// restore restores the backup into a new namespace and checks every config
// map is there; with preview, it previews a restore into an existing empty
// namespace (into a missing one, a preview could not dry-run the items) and
// checks every item would be created and none was.
func (b *bench) restore(ctx context.Context, rep int, preview bool) (time.Duration, error) {
	name, target := fmt.Sprintf("bench-%d", rep), fmt.Sprintf("bench-ark-%d", rep)
	want := arkv1.RestorePhaseCompleted
	if preview {
		name, target, want = fmt.Sprintf("bench-preview-%d", rep), fmt.Sprintf("bench-preview-%d", rep), arkv1.RestorePhasePreviewed
		if _, err := b.kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: target}}, metav1.CreateOptions{}); err != nil {
			return 0, err
		}
	}
	restores := b.ark.ArkV1().Restores(localcluster.HomeNamespace)
	restore := &arkv1.Restore{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: localcluster.HomeNamespace},
		Spec: arkv1.RestoreSpec{BackupName: "bench", NamespaceMapping: map[string]string{"bench-src": target}, Preview: preview}}
	start := time.Now()
	if _, err := restores.Create(ctx, restore, metav1.CreateOptions{}); err != nil {
		return 0, err
	}
	var done, wouldCreate int
	// When the controller took it up, when its first item was done (the
	// unpacking is before) and when its last was: where a restore's time
	// goes besides the creates, seen as a user polling it would.
	var started, firstItem, lastItem time.Duration
	if err := waitFor(ctx, func() (bool, error) {
		r, err := restores.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		if started == 0 && r.Status.Phase != "" && r.Status.Phase != arkv1.RestorePhaseNew {
			started = time.Since(start)
		}
		if p := r.Status.Progress; p != nil {
			if firstItem == 0 && p.ItemsDone > 0 {
				firstItem = time.Since(start)
			}
			if lastItem == 0 && p.TotalItems > 0 && p.ItemsDone >= p.TotalItems {
				lastItem = time.Since(start)
			}
		}
		switch r.Status.Phase {
		case want:
			if r.Status.Progress != nil {
				done = r.Status.Progress.ItemsDone
			}
			if p := r.Status.Preview; p != nil {
				wouldCreate = p.WouldCreate
			}
			return true, nil
		case arkv1.RestorePhaseCompleted, arkv1.RestorePhasePreviewed, arkv1.RestorePhaseFailed, arkv1.RestorePhasePartiallyFailed, arkv1.RestorePhaseFailedValidation:
			return false, fmt.Errorf("restore %s: %s %s %v", name, r.Status.Phase, r.Status.FailureReason, r.Status.ValidationErrors)
		}
		return false, nil
	}); err != nil {
		return 0, err
	}
	took := time.Since(start)
	if lastItem == 0 {
		lastItem = took
	}
	fmt.Printf("        restore %s: taken up after %.2fs, first item done after %.2fs, last after %.2fs, %s seen after %.2fs (polled every %s)\n",
		name, started.Seconds(), firstItem.Seconds(), lastItem.Seconds(), want, took.Seconds(), pollEvery)
	got, err := b.kube.CoreV1().ConfigMaps(target).List(ctx, metav1.ListOptions{LabelSelector: arkv1.LabelRestoreName + "=" + name})
	if err != nil {
		return 0, err
	}
	if preview {
		if len(got.Items) != 0 || wouldCreate != b.n || done != b.n {
			return 0, fmt.Errorf("preview %s: %d items done, %d would be created, %d config maps created in %s", name, done, wouldCreate, len(got.Items), target)
		}
		return took, nil
	}
	if len(got.Items) != b.n || done != b.n {
		return 0, fmt.Errorf("restore %s: %d items done, %d of %d config maps found in %s", name, done, len(got.Items), b.n, target)
	}
	return took, nil
}

// median is the middle duration (the mean of the two middle ones for an
// even count).
func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// waitFor polls check every 50ms for up to 30 minutes.
// pollEvery is how often a restore's status is read while waiting.
const pollEvery = 50 * time.Millisecond

func waitFor(ctx context.Context, check func() (bool, error)) error {
	deadline := time.Now().Add(30 * time.Minute)
	for time.Now().Before(deadline) {
		ok, err := check()
		if err != nil || ok {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(pollEvery):
		}
	}
	return fmt.Errorf("timed out")
}
