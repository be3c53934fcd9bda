// Command ark-localcluster is `make run`: it brings up a local Kubernetes
// control plane with Ark registered as an aggregated API server, prints how
// to use it, and stops everything on Ctrl-C.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/arkproject/ark/test/localcluster"
)

func main() {
	root := flag.String("repo", ".", "root of the Ark checkout")
	dir := flag.String("dir", filepath.Join("_output", "local"), "directory for the cluster's PKI, logs, data and bucket")
	poll := flag.Duration("bucket-poll-interval", 5*time.Second, "ark-apiserver's --bucket-poll-interval")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	opts, err := localcluster.DefaultOptions(*root, *dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	opts.BucketPollInterval = *poll
	opts.Log = os.Stdout
	started := time.Now()
	c, err := localcluster.Start(ctx, opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, "local cluster failed:", err)
		os.Exit(1)
	}
	kubectlDir, _ := filepath.Abs(filepath.Dir(c.KubectlPath()))
	cliDir, _ := filepath.Abs(filepath.Join(*root, "bin"))
	fmt.Printf(`
Ark is up (%s): kube-apiserver %s, APIService %s Available.
Pods run on the fake node %s; a command exec'd in one (a backup hook) runs
on this machine, in %s.

  export PATH=%s:%s:$PATH KUBECONFIG=%s
  kubectl get apiservice %s
  kubectl create deployment web --image=nginx --replicas=2 && kubectl rollout status deployment/web
  kubectl run hello --image=busybox \
    --annotations='pre.hook.backup.ark.heptio.com/command=["/bin/sh","-c","echo hello | tee hooked.txt"]'
  kubectl wait --for=condition=Ready pod/hello
  ark backup create first --include-namespaces default --wait
  ark backup logs first         # ... pre hook annotation in pod default/hello printed "hello"
  cat %s
  ark backup get && ark backup describe first
  kubectl get backups -n %s        # or: kubectl ark backup get

Bucket: %s    Logs: %s
Ctrl-C stops every process started here.
`, time.Since(started).Round(time.Second), c.Server, localcluster.APIService, localcluster.NodeName, c.ExecDir(),
		cliDir, kubectlDir, c.Kubeconfig, localcluster.APIService, filepath.Join(c.ExecDir(), "hooked.txt"),
		localcluster.HomeNamespace, c.BucketDir, c.LogDir())
	if n, err := c.ForeignBackups(ctx); err == nil && n > 0 {
		fmt.Printf(`%d backup(s) in the bucket were made by another cluster's Ark (an earlier make run
that kept no identity, or an older Ark): they can be restored, but this cluster
expires and deletes them only once adopted:
  ark backup adopt --all -n %s      (and -n NS for other namespaces)
`, n, localcluster.HomeNamespace)
	}
	<-ctx.Done()
	fmt.Println("\n>> stopping")
	c.Stop()
}
