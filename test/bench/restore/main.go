// Command bench-restore measures a restore through the whole stack: it
// starts the local cluster, creates N config maps with a plain client
// (the baseline: what any tool needs at least), backs them up with Ark,
// restores them into another namespace, and prints objects per second and
// the ratio of the restore's time to the baseline's. `make bench-restore`.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
	"github.com/arkproject/ark/pkg/generated/clientset/versioned"
	"github.com/arkproject/ark/test/localcluster"
)

func main() {
	n := flag.Int("n", 10000, "objects to restore")
	workers := flag.Int("workers", 16, "parallel creates of the plain-client baseline (the restorer's default)")
	root := flag.String("repo", ".", "root of the Ark checkout")
	flag.Parse()
	if err := run(*root, *n, *workers); err != nil {
		fmt.Fprintln(os.Stderr, "bench-restore:", err)
		os.Exit(1)
	}
}

func run(root string, n, workers int) error {
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
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	ark, err := versioned.NewForConfig(cfg)
	if err != nil {
		return err
	}
	value := strings.Repeat("v", 256)

	// Baseline: a plain client creates the objects into a fresh namespace.
	for _, ns := range []string{"bench-src", "bench-plain"} {
		if _, err := kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
			return err
		}
	}
	create := func(ns string) (time.Duration, error) {
		start := time.Now()
		jobs := make(chan int)
		errs := make(chan error, workers)
		var wg sync.WaitGroup
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range jobs {
					cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("cm-%06d", i), Labels: map[string]string{"app": "bench"}}, Data: map[string]string{"value": value}}
					if _, err := kube.CoreV1().ConfigMaps(ns).Create(ctx, cm, metav1.CreateOptions{}); err != nil {
						select {
						case errs <- err:
						default:
						}
						return
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
			return 0, err
		default:
		}
		return time.Since(start), nil
	}
	if _, err := create("bench-src"); err != nil {
		return err
	}
	plain, err := create("bench-plain")
	if err != nil {
		return err
	}

	fmt.Printf("backing up %d config maps...\n", n)
	backup := &arkv1.Backup{ObjectMeta: metav1.ObjectMeta{Name: "bench", Namespace: localcluster.HomeNamespace},
		Spec: arkv1.BackupSpec{IncludedNamespaces: []string{"bench-src"}, IncludedResources: []string{"configmaps"}, LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "bench"}}}}
	start := time.Now()
	if _, err := ark.ArkV1().Backups(localcluster.HomeNamespace).Create(ctx, backup, metav1.CreateOptions{}); err != nil {
		return err
	}
	if err := waitFor(ctx, func() (bool, error) {
		b, err := ark.ArkV1().Backups(localcluster.HomeNamespace).Get(ctx, "bench", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		if b.Status.Phase == arkv1.BackupPhaseFailed || b.Status.Phase == arkv1.BackupPhasePartiallyFailed {
			return false, fmt.Errorf("backup %s: %s", b.Status.Phase, b.Status.FailureReason)
		}
		return b.Status.Phase == arkv1.BackupPhaseCompleted, nil
	}); err != nil {
		return err
	}
	backupTime := time.Since(start)

	fmt.Printf("restoring them into another namespace...\n")
	restore := &arkv1.Restore{ObjectMeta: metav1.ObjectMeta{Name: "bench", Namespace: localcluster.HomeNamespace},
		Spec: arkv1.RestoreSpec{BackupName: "bench", NamespaceMapping: map[string]string{"bench-src": "bench-dst"}}}
	start = time.Now()
	if _, err := ark.ArkV1().Restores(localcluster.HomeNamespace).Create(ctx, restore, metav1.CreateOptions{}); err != nil {
		return err
	}
	var restored int
	if err := waitFor(ctx, func() (bool, error) {
		r, err := ark.ArkV1().Restores(localcluster.HomeNamespace).Get(ctx, "bench", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		switch r.Status.Phase {
		case arkv1.RestorePhaseCompleted:
			if r.Status.Progress != nil {
				restored = r.Status.Progress.ItemsDone
			}
			return true, nil
		case arkv1.RestorePhaseFailed, arkv1.RestorePhasePartiallyFailed, arkv1.RestorePhaseFailedValidation:
			return false, fmt.Errorf("restore %s: %s %v", r.Status.Phase, r.Status.FailureReason, r.Status.ValidationErrors)
		}
		return false, nil
	}); err != nil {
		return err
	}
	restoreTime := time.Since(start)
	got, err := kube.CoreV1().ConfigMaps("bench-dst").List(ctx, metav1.ListOptions{LabelSelector: arkv1.LabelRestoreName + "=bench"})
	if err != nil {
		return err
	}
	fmt.Printf("\nobjects: %d (restored items %d, config maps found in bench-dst %d)\n", n, restored, len(got.Items))
	fmt.Printf("backup:            %8.2fs  %8.0f objects/s\n", backupTime.Seconds(), float64(n)/backupTime.Seconds())
	fmt.Printf("plain client:      %8.2fs  %8.0f objects/s  (%d parallel creates)\n", plain.Seconds(), float64(n)/plain.Seconds(), workers)
	fmt.Printf("restore (wall):    %8.2fs  %8.0f objects/s  (create to Completed)\n", restoreTime.Seconds(), float64(n)/restoreTime.Seconds())
	fmt.Printf("ratio restore/plain: %.2f   (targets: >= 500 objects/s, ratio <= 1.5)\n", restoreTime.Seconds()/plain.Seconds())
	if len(got.Items) != n {
		return fmt.Errorf("restored %d of %d config maps", len(got.Items), n)
	}
	return nil
}

// waitFor polls check every 100ms for up to 30 minutes.
func waitFor(ctx context.Context, check func() (bool, error)) error {
	deadline := time.Now().Add(30 * time.Minute)
	for time.Now().Before(deadline) {
		ok, err := check()
		if err != nil || ok {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("timed out")
}
