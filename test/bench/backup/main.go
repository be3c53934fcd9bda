// Command bench-backup measures a backup the way a user sees it: through the
// local cluster (etcd, kube-apiserver, and ark-apiserver as its own process
// behind the aggregator). It creates N config maps of 1 KiB each, times a
// plain paginated LIST of them (the floor: a backup cannot read the objects
// faster), then times Ark backups of their namespace and the ark-apiserver
// process's resident memory, which is what a node or an OOM killer sees —
// unlike the Go heap that the package's micro-benchmark reports. The
// baseline is client-go's typed clientset with its defaults (JSON into Go
// structs), what any tool reading the objects would use; the same LIST
// through the dynamic client, decoded into unstructured objects, is shown
// beside it: Ark's backup decoded pages that way until it read them as raw
// JSON (pkg/backup/rawlist.go), and the line shows what that saves.
// `make bench-backup`; issue #15 sets the goals it prints.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
	"github.com/arkproject/ark/pkg/backup"
	"github.com/arkproject/ark/pkg/backupstore/encryption"
	"github.com/arkproject/ark/pkg/generated/clientset/versioned"
	"github.com/arkproject/ark/test/bench/proc"
	"github.com/arkproject/ark/test/localcluster"
)

// Goals from issue #15.
const (
	goalRatio       = 1.3
	goalPeakMiB     = 300
	goalOverIdleMiB = 50
)

const namespace = "bench-backup"

func main() {
	n := flag.Int("n", 30000, "config maps to back up")
	reps := flag.Int("reps", 3, "repetitions of the LIST and the backup; medians are reported")
	workers := flag.Int("workers", 16, "parallel creates while setting up")
	root := flag.String("repo", ".", "root of the Ark checkout")
	flag.StringVar(&arkBinary, "ark-apiserver", "", "the ark-apiserver binary to measure (default: bin/ark-apiserver of the checkout), e.g. a build of an earlier commit, to compare")
	flag.BoolVar(&keep, "keep", false, "keep the cluster's directory (logs: ark-apiserver.log has the controller's timings) and print where it is")
	flag.BoolVar(&encrypt, "encrypt", false, "also back up into an encrypted location (a second file bucket with a key Secret) in every repetition, and report encrypted/plaintext time and peak RSS (issue #19's goals: at most 1.10x, no more memory)")
	flag.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of ark-apiserver during the first backup to this file (go tool pprof)")
	flag.Parse()
	if err := run(*root, *n, *reps, *workers); err != nil {
		fmt.Fprintln(os.Stderr, "bench-backup:", err)
		os.Exit(1)
	}
}

var (
	cpuProfile, arkBinary string
	keep, encrypt         bool
)

// sealedLocation is the encrypted location -encrypt backs up into.
const sealedLocation = "sealed"

// rep is one repetition's measurements.
type rep struct {
	// list is the baseline (typed client); dynList the dynamic client's;
	// plainList the typed client's without gzip, as Ark's backup reads.
	list, dynList, plainList time.Duration
	// wall is from the Backup's create to a watch seeing it Completed;
	// status is CompletionTimestamp - StartTimestamp (whole seconds).
	wall, status time.Duration
	items        int
	hwm          int64 // ark-apiserver's peak RSS during the backup, bytes
	// sealedWall and sealedHWM are the same for the encrypted backup.
	sealedWall time.Duration
	sealedHWM  int64
}

func run(root string, n, reps, workers int) error {
	ctx := context.Background()
	work, err := os.MkdirTemp("", "ark-bench-backup-")
	if err != nil {
		return err
	}
	if keep {
		defer fmt.Printf("kept %s\n", work)
	} else {
		defer os.RemoveAll(work)
	}
	opts, err := localcluster.DefaultOptions(root, filepath.Join(work, "cluster"))
	if err != nil {
		return err
	}
	opts.BucketPollInterval = time.Second
	if arkBinary != "" {
		opts.ArkAPIServer = arkBinary
	}
	fmt.Printf("starting the local cluster...\n")
	c, err := localcluster.Start(ctx, opts)
	if err != nil {
		return err
	}
	defer c.Stop()
	cfg := rest.CopyConfig(c.Config)
	cfg.QPS, cfg.Burst = 2000, 4000
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return err
	}
	// Ark's backup asks kube-apiserver not to gzip its pages
	// (pkg/requester): the same LIST without gzip is shown too, so the
	// ratio is not flattered by a baseline that pays for compression.
	plainCfg := rest.CopyConfig(cfg)
	plainCfg.DisableCompression = true
	kubePlain, err := kubernetes.NewForConfig(plainCfg)
	if err != nil {
		return err
	}
	ark, err := versioned.NewForConfig(cfg)
	if err != nil {
		return err
	}
	pid, err := c.ArkPID()
	if err != nil {
		return err
	}

	if encrypt {
		if err := createSealedLocation(ctx, kube, ark, filepath.Join(work, "sealed-bucket")); err != nil {
			return err
		}
	}
	fmt.Printf("creating %d config maps of 1 KiB in %s...\n", n, namespace)
	start := time.Now()
	if err := populate(ctx, kube, n, workers); err != nil {
		return err
	}
	fmt.Printf("created in %.1fs\n", time.Since(start).Seconds())

	// Quiet: the creates' watch events have reached every informer and
	// ark-apiserver's memory has settled before its idle size is read.
	idle, err := proc.SettledRSS(pid)
	if err != nil {
		return err
	}
	fmt.Printf("ark-apiserver (pid %d) idle VmRSS: %s\n", pid, mib(idle))

	// A first, untimed LIST opens the connections and warms
	// kube-apiserver's and etcd's caches, as the backups that follow find
	// them; otherwise the first repetition's baseline is the slowest.
	if _, _, err := listTyped(ctx, kube); err != nil {
		return fmt.Errorf("raw LIST: %w", err)
	}
	var results []rep
	for i := range reps {
		var r rep
		if r.list, r.items, err = listTyped(ctx, kube); err != nil {
			return fmt.Errorf("raw LIST: %w", err)
		}
		// n and the namespace's kube-root-ca.crt
		if r.items < n {
			return fmt.Errorf("raw LIST returned %d config maps, want at least %d", r.items, n)
		}
		if r.plainList, _, err = listTyped(ctx, kubePlain); err != nil {
			return fmt.Errorf("raw LIST without gzip: %w", err)
		}
		if r.dynList, err = listDynamic(ctx, dyn); err != nil {
			return fmt.Errorf("dynamic LIST: %w", err)
		}
		if err := proc.ResetPeak(pid); err != nil {
			return err
		}
		name := fmt.Sprintf("bench-%d", i)
		var profiled chan error
		if i == 0 && cpuProfile != "" {
			profiled = make(chan error, 1)
			go func() {
				profiled <- proc.Profile(ctx, c.Config, fmt.Sprintf("https://127.0.0.1:%d", c.ArkPort), "profile", 8, cpuProfile)
			}()
		}
		b, wall, err := backupAndWait(ctx, ark, name, "")
		if err != nil {
			return err
		}
		if profiled != nil {
			if err := <-profiled; err != nil {
				return err
			}
		}
		r.wall = wall
		r.status = b.Status.CompletionTimestamp.Sub(b.Status.StartTimestamp.Time)
		if r.hwm, err = proc.Status(pid, "VmHWM"); err != nil {
			return err
		}
		items := 0
		if b.Status.Progress != nil {
			items = b.Status.Progress.ItemsDone
		}
		fmt.Printf("rep %d: LIST %.2fs (no gzip %.2fs, dynamic %.2fs)  backup %.2fs wall, %.0fs by status (%s .. %s), %d items  VmHWM %s\n",
			i+1, r.list.Seconds(), r.plainList.Seconds(), r.dynList.Seconds(), r.wall.Seconds(), r.status.Seconds(),
			b.Status.StartTimestamp.UTC().Format(time.TimeOnly), b.Status.CompletionTimestamp.UTC().Format(time.TimeOnly), items, mib(r.hwm))
		if items < n {
			return fmt.Errorf("backup %s holds %d items, want at least %d", name, items, n)
		}
		if encrypt {
			if err := proc.ResetPeak(pid); err != nil {
				return err
			}
			sb, sealedWall, err := backupAndWait(ctx, ark, name+"-sealed", sealedLocation)
			if err != nil {
				return err
			}
			if sb.Status.EncryptionKeyID == "" {
				return fmt.Errorf("backup %s-sealed is not encrypted", name)
			}
			r.sealedWall = sealedWall
			if r.sealedHWM, err = proc.Status(pid, "VmHWM"); err != nil {
				return err
			}
			fmt.Printf("       encrypted backup %.2fs wall (%.2fx), VmHWM %s\n", sealedWall.Seconds(), sealedWall.Seconds()/r.wall.Seconds(), mib(r.sealedHWM))
		}
		results = append(results, r)
	}

	list := median(results, func(r rep) time.Duration { return r.list })
	dynList := median(results, func(r rep) time.Duration { return r.dynList })
	plainList := median(results, func(r rep) time.Duration { return r.plainList })
	wall := median(results, func(r rep) time.Duration { return r.wall })
	status := median(results, func(r rep) time.Duration { return r.status })
	var hwm int64
	for _, r := range results {
		hwm = max(hwm, r.hwm)
	}
	ratio := wall.Seconds() / list.Seconds()
	fmt.Printf("\nconfig maps: %d of 1 KiB in one namespace, page size %d, %d reps (medians)\n", n, backup.DefaultPageSize, reps)
	fmt.Printf("raw LIST (typed client):   %7.2fs  %8.0f objects/s  (the baseline)\n", list.Seconds(), float64(n)/list.Seconds())
	fmt.Printf("raw LIST (typed, no gzip): %7.2fs  %8.0f objects/s  (as Ark's backup asks for pages; backup/this %.2f)\n", plainList.Seconds(), float64(n)/plainList.Seconds(), wall.Seconds()/plainList.Seconds())
	fmt.Printf("raw LIST (dynamic client): %7.2fs  %8.0f objects/s  (JSON into unstructured, as Ark once decoded; backup/this %.2f)\n", dynList.Seconds(), float64(n)/dynList.Seconds(), wall.Seconds()/dynList.Seconds())
	fmt.Printf("backup (create→Completed): %7.2fs  %8.0f objects/s  (status timestamps: %.0fs)\n", wall.Seconds(), float64(n)/wall.Seconds(), status.Seconds())
	fmt.Printf("ratio backup/LIST:         %7.2f   (goal <= %.1f) %s\n", ratio, goalRatio, verdict(ratio <= goalRatio))
	fmt.Printf("ark-apiserver VmHWM:       %7s  (goal <= %d MiB) %s  (highest of the reps)\n", mib(hwm), goalPeakMiB, verdict(hwm <= goalPeakMiB<<20))
	fmt.Printf("VmHWM - idle VmRSS:        %7s  (goal <= %d MiB) %s\n", mib(hwm-idle), goalOverIdleMiB, verdict(hwm-idle <= goalOverIdleMiB<<20))
	if encrypt {
		sealedWall := median(results, func(r rep) time.Duration { return r.sealedWall })
		var sealedHWM int64
		for _, r := range results {
			sealedHWM = max(sealedHWM, r.sealedHWM)
		}
		sealedRatio := sealedWall.Seconds() / wall.Seconds()
		fmt.Printf("encrypted backup:          %7.2fs  %8.0f objects/s  (into location %q)\n", sealedWall.Seconds(), float64(n)/sealedWall.Seconds(), sealedLocation)
		fmt.Printf("ratio encrypted/plaintext: %7.2f   (goal <= 1.10) %s\n", sealedRatio, verdict(sealedRatio <= 1.10))
		fmt.Printf("encrypted VmHWM:           %7s  (plaintext %s; goal: no more) %s\n", mib(sealedHWM), mib(hwm), verdict(sealedHWM <= hwm+(hwm/20)))
	}
	fmt.Printf(`
What these figures leave out:
  - The LIST runs in this process; the backup runs in ark-apiserver, which
    also discovers resources, checks the requester's rights, and lists every
    other resource of the namespace (all empty here), as the requester.
  - The backup's wall time includes the controller noticing the Backup and
    its status writes; the status timestamps have whole-second resolution.
  - The bucket is a local directory: no network upload.
  - Memory is ark-apiserver's only (kube-apiserver and etcd are not
    counted); VmHWM is reset before each backup (/proc/<pid>/clear_refs).
  - One namespace of one kind of small object; the machine is shared, so
    repeat a figure before trusting a difference of a few percent.
`)
	return nil
}

// populate creates n config maps, each with 1 KiB of random hex so that
// the tarball's gzip does real work (repeated bytes compress to nothing).
func populate(ctx context.Context, kube kubernetes.Interface, n, workers int) error {
	if _, err := kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}, metav1.CreateOptions{}); err != nil {
		return err
	}
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(workers)
	for i := range n {
		g.Go(func() error {
			buf := make([]byte, 512)
			_, _ = rand.Read(buf)
			cm := &corev1.ConfigMap{
				ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("cm-%07d", i), Labels: map[string]string{"app": "bench"}},
				Data:       map[string]string{"value": hex.EncodeToString(buf)},
			}
			_, err := kube.CoreV1().ConfigMaps(namespace).Create(ctx, cm, metav1.CreateOptions{})
			return err
		})
	}
	return g.Wait()
}

// listTyped is the baseline: the paginated LIST a backup must do at least,
// with the backup's page size, through client-go's typed clientset with its
// defaults (JSON decoded into Go structs).
func listTyped(ctx context.Context, kube kubernetes.Interface) (time.Duration, int, error) {
	start := time.Now()
	opts := metav1.ListOptions{Limit: backup.DefaultPageSize}
	items := 0
	for {
		page, err := kube.CoreV1().ConfigMaps(namespace).List(ctx, opts)
		if err != nil {
			return 0, 0, err
		}
		items += len(page.Items)
		if opts.Continue = page.Continue; opts.Continue == "" {
			return time.Since(start), items, nil
		}
	}
}

var configMaps = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}

// listDynamic is the same LIST through the dynamic client, decoded into
// unstructured objects as Ark's backup once did (it now reads most items as
// raw JSON): shown, not the baseline.
func listDynamic(ctx context.Context, dyn dynamic.Interface) (time.Duration, error) {
	start := time.Now()
	opts := metav1.ListOptions{Limit: backup.DefaultPageSize}
	for {
		page, err := dyn.Resource(configMaps).Namespace(namespace).List(ctx, opts)
		if err != nil {
			return 0, err
		}
		if opts.Continue = page.GetContinue(); opts.Continue == "" {
			return time.Since(start), nil
		}
	}
}

// backupAndWait creates a backup of the namespace and returns it as the
// watch first sees it Completed, with the time from the create to then.
func backupAndWait(ctx context.Context, ark versioned.Interface, name, location string) (*arkv1.Backup, time.Duration, error) {
	backups := ark.ArkV1().Backups(localcluster.HomeNamespace)
	w, err := backups.Watch(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, 0, err
	}
	defer w.Stop()
	start := time.Now()
	if _, err := backups.Create(ctx, &arkv1.Backup{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: localcluster.HomeNamespace},
		Spec:       arkv1.BackupSpec{IncludedNamespaces: []string{namespace}, StorageLocation: location},
	}, metav1.CreateOptions{}); err != nil {
		return nil, 0, err
	}
	timeout := time.After(30 * time.Minute)
	for {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				return nil, 0, fmt.Errorf("the watch of backup %s ended", name)
			}
			if ev.Type == watch.Error {
				return nil, 0, fmt.Errorf("watching backup %s: %v", name, ev.Object)
			}
			b, ok := ev.Object.(*arkv1.Backup)
			if !ok || b.Name != name {
				continue
			}
			switch b.Status.Phase {
			case arkv1.BackupPhaseCompleted:
				return b, time.Since(start), nil
			case arkv1.BackupPhaseFailed, arkv1.BackupPhasePartiallyFailed, arkv1.BackupPhaseFailedValidation:
				return nil, 0, fmt.Errorf("backup %s: %s %s %v", name, b.Status.Phase, b.Status.FailureReason, b.Status.ValidationErrors)
			}
		case <-timeout:
			return nil, 0, fmt.Errorf("backup %s did not complete in 30 minutes", name)
		}
	}
}

func median(rs []rep, f func(rep) time.Duration) time.Duration {
	ds := make([]time.Duration, len(rs))
	for i, r := range rs {
		ds[i] = f(r)
	}
	slices.Sort(ds)
	return ds[len(ds)/2]
}

func mib(b int64) string { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) }

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "NOT met"
}

// createSealedLocation makes a key Secret and an encrypted file location
// beside the cluster's own bucket, and waits until the server serves it
// with its key.
func createSealedLocation(ctx context.Context, kube kubernetes.Interface, ark versioned.Interface, dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if _, err := kube.CoreV1().Secrets(localcluster.HomeNamespace).Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "bench-keys"},
		Data:       map[string][]byte{encryption.ActiveField: []byte("k1"), "k1": encryption.NewKey()},
	}, metav1.CreateOptions{}); err != nil {
		return err
	}
	if _, err := ark.ArkV1().BackupStorageLocations(localcluster.HomeNamespace).Create(ctx, &arkv1.BackupStorageLocation{
		ObjectMeta: metav1.ObjectMeta{Name: sealedLocation},
		Spec: arkv1.BackupStorageLocationSpec{
			Provider: "file", ObjectStorage: arkv1.ObjectStorageLocation{Bucket: dir},
			AccessMode: arkv1.BackupStorageLocationAccessModeReadWrite,
			Encryption: &arkv1.BackupStorageLocationEncryption{KeySecret: "bench-keys"},
		},
	}, metav1.CreateOptions{}); err != nil {
		return err
	}
	deadline := time.Now().Add(time.Minute)
	for {
		l, err := ark.ArkV1().BackupStorageLocations(localcluster.HomeNamespace).Get(ctx, sealedLocation, metav1.GetOptions{})
		if err == nil && l.Status.Phase == arkv1.BackupStorageLocationPhaseAvailable && l.Status.Encryption != nil && l.Status.Encryption.ActiveKeyID == "k1" {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the encrypted location is not served after a minute: %+v %v", l, err)
		}
		time.Sleep(time.Second)
	}
}
