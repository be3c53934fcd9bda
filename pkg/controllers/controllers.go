// Package controllers starts Ark's controllers inside ark-apiserver, under
// leader election so that only one replica acts at a time.
package controllers

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/google/uuid"
	"google.golang.org/api/compute/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"k8s.io/client-go/tools/record"
	"k8s.io/klog/v2"

	"github.com/arkproject/ark/pkg/backup"
	backupcontroller "github.com/arkproject/ark/pkg/controllers/backup"
	"github.com/arkproject/ark/pkg/controllers/gc"
	restorecontroller "github.com/arkproject/ark/pkg/controllers/restore"
	schedulecontroller "github.com/arkproject/ark/pkg/controllers/schedule"
	"github.com/arkproject/ark/pkg/generated/clientset/versioned"
	arkscheme "github.com/arkproject/ark/pkg/generated/clientset/versioned/scheme"
	"github.com/arkproject/ark/pkg/generated/informers/externalversions"
	"github.com/arkproject/ark/pkg/hooks"
	"github.com/arkproject/ark/pkg/objectstore"
	"github.com/arkproject/ark/pkg/restore"
	"github.com/arkproject/ark/pkg/snapshot"
)

// Config is what the controllers need.
type Config struct {
	// Ark reaches Ark's own API; nil means the server's loopback client.
	Ark *rest.Config
	// Kube reaches the cluster being backed up.
	Kube *rest.Config
	// Store is the backup storage location.
	Store objectstore.Store
	// LeaderElect turns on leader election on a Lease in LeaseNamespace.
	LeaderElect    bool
	LeaseNamespace string
	// Workers is how many backups may run at once.
	Workers int
	// GCInterval is how often backups are checked for expiry; 0 is a minute.
	GCInterval time.Duration
	// HomeNamespace is where restores may create cluster-scoped objects.
	HomeNamespace string
	// GCEProject, when set, turns on GCE persistent disk snapshots (with
	// Application Default Credentials) for disks that name no project.
	GCEProject string
	// HostPathRestoreDirs, when set, are the only directories restores
	// write hostPath and local volume data under.
	HostPathRestoreDirs []string
}

// Run runs the controllers until ctx ends, as leader when LeaderElect is set.
func Run(ctx context.Context, cfg Config) error {
	ark, err := versioned.NewForConfig(cfg.Ark)
	if err != nil {
		return err
	}
	// A backup makes a LIST and a SubjectAccessReview per resource and page,
	// a restore a create per object: client-go's default of 5 requests per
	// second would dominate their time. The API server's priority and
	// fairness still protects the cluster.
	kubeConfig := rest.CopyConfig(cfg.Kube)
	kubeConfig.QPS, kubeConfig.Burst = 2000, 4000
	kube, err := kubernetes.NewForConfig(kubeConfig)
	if err != nil {
		return err
	}
	dyn, err := dynamic.NewForConfig(kubeConfig)
	if err != nil {
		return err
	}
	disc := memory.NewMemCacheClient(kube.Discovery())
	snapshotters := []snapshot.VolumeSnapshotter{&snapshot.CSI{Dynamic: dyn}}
	var gce *snapshot.GCE
	if cfg.GCEProject != "" {
		svc, err := compute.NewService(ctx)
		if err != nil {
			return fmt.Errorf("GCE snapshots: %w", err)
		}
		gce = &snapshot.GCE{Service: svc, Project: cfg.GCEProject}
		snapshotters = append(snapshotters, gce)
	}
	// hostPath and local volumes are archived into the bucket.
	snapshotters = append(snapshotters, &snapshot.HostPath{Store: cfg.Store})
	run := func(ctx context.Context) {
		factory := externalversions.NewSharedInformerFactory(ark, 0)
		backups := backupcontroller.New(ark, factory.Ark().V1().Backups(), func() backupcontroller.Engine {
			// Fresh per backup: resources may have changed, and access
			// decisions belong to one requester.
			disc.Invalidate()
			return &backup.Backupper{
				Discovery:    discovery.DiscoveryInterface(disc),
				Dynamic:      dyn,
				Access:       &backup.SubjectAccessReviews{Client: kube.AuthorizationV1().SubjectAccessReviews()},
				Store:        cfg.Store,
				Hooks:        &hooks.PodExec{Config: kubeConfig, Client: kube},
				Snapshotters: snapshotters,
			}
		})
		restores := restorecontroller.New(ark, factory.Ark().V1().Restores(), func() restorecontroller.Engine {
			disc.Invalidate()
			return &restore.Restorer{
				Discovery:     discovery.DiscoveryInterface(disc),
				Dynamic:       dyn,
				Access:        &backup.SubjectAccessReviews{Client: kube.AuthorizationV1().SubjectAccessReviews()},
				Store:         cfg.Store,
				HomeNamespace: cfg.HomeNamespace,
				HostPath:      &snapshot.HostPath{Store: cfg.Store, RestoreDirs: cfg.HostPathRestoreDirs},
			}
		})
		schedules := schedulecontroller.New(ark, factory.Ark().V1().Schedules(), factory.Ark().V1().Backups(), nil)
		broadcaster := record.NewBroadcaster(record.WithContext(ctx))
		broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: kube.CoreV1().Events("")})
		defer broadcaster.Shutdown()
		recorder := broadcaster.NewRecorder(arkscheme.Scheme, corev1.EventSource{Component: "ark-gc"})
		clusterID := ""
		if ns, err := kube.CoreV1().Namespaces().Get(ctx, metav1.NamespaceSystem, metav1.GetOptions{}); err == nil {
			clusterID = string(ns.UID)
		} else {
			klog.ErrorS(err, "Reading the cluster's identity; the backup storage location's owner is not checked")
		}
		collector := gc.New(ark, factory.Ark().V1().Backups(), cfg.Store, dyn, recorder, clusterID)
		if cfg.GCInterval > 0 {
			collector.Interval = cfg.GCInterval
		}
		if gce != nil {
			collector.GCE = gce
		}
		factory.Start(ctx.Done())
		go collector.Run(ctx)
		go restores.Run(ctx, max(cfg.Workers, 1))
		go schedules.Run(ctx, 1)
		backups.Run(ctx, max(cfg.Workers, 1))
	}
	if !cfg.LeaderElect {
		run(ctx)
		return nil
	}
	host, _ := os.Hostname()
	lock := &resourcelock.LeaseLock{
		LeaseMeta:  metav1.ObjectMeta{Name: "ark-controllers", Namespace: cfg.LeaseNamespace},
		Client:     kube.CoordinationV1(),
		LockConfig: resourcelock.ResourceLockConfig{Identity: fmt.Sprintf("%s_%s", host, uuid.NewString())},
	}
	leaderelection.RunOrDie(ctx, leaderelection.LeaderElectionConfig{
		Lock:            lock,
		ReleaseOnCancel: true,
		LeaseDuration:   15 * time.Second,
		RenewDeadline:   10 * time.Second,
		RetryPeriod:     2 * time.Second,
		Name:            "ark-controllers",
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: run,
			OnStoppedLeading: func() { klog.InfoS("No longer leading Ark's controllers") },
			OnNewLeader: func(id string) {
				klog.InfoS("Ark controllers leader", "identity", id)
			},
		},
	})
	return nil
}
