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
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"k8s.io/client-go/tools/record"
	"k8s.io/klog/v2"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
	"github.com/arkproject/ark/pkg/apis/ark/validation"
	"github.com/arkproject/ark/pkg/backup"
	"github.com/arkproject/ark/pkg/backupstore"
	"github.com/arkproject/ark/pkg/backupstore/encryption"
	backupcontroller "github.com/arkproject/ark/pkg/controllers/backup"
	"github.com/arkproject/ark/pkg/controllers/fairshare"
	"github.com/arkproject/ark/pkg/controllers/gc"
	restorecontroller "github.com/arkproject/ark/pkg/controllers/restore"
	schedulecontroller "github.com/arkproject/ark/pkg/controllers/schedule"
	"github.com/arkproject/ark/pkg/controllers/servingcert"
	"github.com/arkproject/ark/pkg/generated/clientset/versioned"
	arkscheme "github.com/arkproject/ark/pkg/generated/clientset/versioned/scheme"
	"github.com/arkproject/ark/pkg/generated/informers/externalversions"
	"github.com/arkproject/ark/pkg/hooks"
	"github.com/arkproject/ark/pkg/locations"
	"github.com/arkproject/ark/pkg/metrics"
	"github.com/arkproject/ark/pkg/objectstore"
	"github.com/arkproject/ark/pkg/provenance"
	"github.com/arkproject/ark/pkg/requester"
	"github.com/arkproject/ark/pkg/resourcescope"
	"github.com/arkproject/ark/pkg/restore"
	"github.com/arkproject/ark/pkg/snapshot"
)

// Config is what the controllers need.
type Config struct {
	// Ark reaches Ark's own API; nil means the server's loopback client.
	Ark *rest.Config
	// Backups, when set, is where the controllers' informer lists and
	// watches backups instead of through Ark: in process, the API's own
	// index (backup.REST.Shared), so that the server holds one copy of
	// every backup record rather than two.
	Backups cache.ListerWatcher
	// Kube reaches the cluster being backed up.
	Kube *rest.Config
	// Locations are the backup storage locations: each backup is written
	// to, restored from and deleted in the one it names.
	Locations *locations.Set
	// LeaderElect turns on leader election on a Lease in LeaseNamespace.
	LeaderElect    bool
	LeaseNamespace string
	// Workers is how many backups may run at once, and how many restores.
	Workers int
	// PerNamespace bounds the backups (and restores) one namespace other
	// than the home namespace runs at once; 0 means 1. All such
	// namespaces together leave one worker to the home namespace.
	PerNamespace int
	// TenantLimits bound the backups of namespaces other than the home
	// namespace: checked again as each starts, and MaxHookTimeout caps the
	// hooks of pod annotations too, which a namespace's users write.
	TenantLimits validation.TenantLimits
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
	// ClaimBindTimeout is how long a restore waits for its claims to bind.
	ClaimBindTimeout time.Duration
	// Signer verifies that a backup was accepted by this cluster's API
	// before it runs; backups of other clusters are left alone.
	Signer *provenance.Signer
	// ServingCert, when set, names the Secrets of the server's serving
	// certificate and its CA: the certificate is renewed before it expires.
	ServingCert *ServingCert
}

// ServingCert names the Secrets of Namespace that hold the serving
// certificate (Secret) and the CA that signs it (CASecret).
type ServingCert struct {
	Namespace, Secret, CASecret string
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
	// Everything done in the cluster for a user is done as that user: the
	// engines get clients that impersonate the requester (see package
	// requester). Ark's own clients do only Ark's bookkeeping: discovery,
	// access reviews, volume snapshot classes, namespace lookups.
	asUser := &requester.Factory{Base: kubeConfig}
	var gce *snapshot.GCE
	if cfg.GCEProject != "" {
		svc, err := compute.NewService(ctx)
		if err != nil {
			return fmt.Errorf("GCE snapshots: %w", err)
		}
		gce = &snapshot.GCE{Service: svc, Project: cfg.GCEProject}
	}
	server := func(user *requester.Clients, store objectstore.Store) snapshot.Server {
		// hostPath and local volumes are archived into the backup's bucket.
		return snapshot.Server{CSI: &snapshot.CSI{Dynamic: user.Dynamic, Classes: dyn}, GCE: gce, HostPath: &snapshot.HostPath{Store: store}}
	}
	run := func(ctx context.Context) {
		factory := informerFactory(ark, cfg.Backups)
		snapshotLocationInformer := factory.Ark().V1().VolumeSnapshotLocations()
		snapshotLocations := snapshotLocationInformer.Lister().VolumeSnapshotLocations(cfg.HomeNamespace)
		// resolveSnapshotLocations finds the volume snapshot locations a
		// backup names, and what makes them unusable for it.
		resolveSnapshotLocations := func(b *arkv1.Backup) ([]*arkv1.VolumeSnapshotLocation, []string) {
			return snapshot.ResolveLocations(snapshot.Server{GCE: gce}, b.Spec.VolumeSnapshotLocations, snapshotLocations.Get, b.Namespace != cfg.HomeNamespace)
		}
		snapshotters := func(b *arkv1.Backup, user *requester.Clients, store objectstore.Store) []snapshot.VolumeSnapshotter {
			if len(b.Spec.VolumeSnapshotLocations) == 0 {
				return server(user, store).All()
			}
			// Checked when the backup started (FailedValidation); a
			// location deleted since then snapshots nothing.
			locs, _ := resolveSnapshotLocations(b)
			return server(user, store).ForLocations(locs)
		}
		backups := backupcontroller.New(ark, factory.Ark().V1().Backups(), func() backupcontroller.Engine {
			// Fresh per backup: resources may have changed, and access
			// decisions belong to one requester.
			disc.Invalidate()
			return backupAs{factory: asUser, locations: cfg.Locations, engine: func(b *arkv1.Backup, user *requester.Clients, store objectstore.Store) *backup.Backupper {
				var maxHook time.Duration
				if b.Namespace != cfg.HomeNamespace {
					maxHook = cfg.TenantLimits.MaxHookTimeout
				}
				return &backup.Backupper{
					MaxHookTimeout: maxHook,
					Discovery:      discovery.DiscoveryInterface(disc),
					Dynamic:        user.Dynamic,
					Access:         &backup.SubjectAccessReviews{Client: kube.AuthorizationV1().SubjectAccessReviews()},
					Store:          store,
					Layout:         backupstore.Layout{HomeNamespace: cfg.HomeNamespace},
					Hooks:          &hooks.PodExec{Config: user.Config, Client: user.Kube},
					Snapshotters:   snapshotters(b, user, store),
				}
			}, home: cfg.HomeNamespace}
		})
		restores := restorecontroller.New(ark, factory.Ark().V1().Restores(), func() restorecontroller.Engine {
			disc.Invalidate()
			return restoreAs{factory: asUser, locations: cfg.Locations, engine: func(user *requester.Clients, store, files objectstore.Store) *restore.Restorer {
				return &restore.Restorer{
					Discovery:        discovery.DiscoveryInterface(disc),
					Dynamic:          user.Dynamic,
					Cluster:          dyn,
					Access:           &backup.SubjectAccessReviews{Client: kube.AuthorizationV1().SubjectAccessReviews()},
					Store:            store,
					FilesStore:       files,
					HomeNamespace:    cfg.HomeNamespace,
					HostPath:         &snapshot.HostPath{Store: store, RestoreDirs: cfg.HostPathRestoreDirs},
					ClaimBindTimeout: cfg.ClaimBindTimeout,
					Hooks:            &hooks.PodExec{Config: user.Config, Client: user.Kube},
				}
			}, tenantHookTimeout: cfg.TenantLimits.MaxHookTimeout, home: cfg.HomeNamespace}
		})
		scope := validation.Scope{HomeNamespace: cfg.HomeNamespace, Tenant: cfg.TenantLimits, ClusterScoped: resourcescope.New(kube.Discovery()).ClusterScoped}
		backups.Scope, restores.Scope = scope, scope
		backups.WaitFor = append(backups.WaitFor, snapshotLocationInformer.Informer().HasSynced)
		backups.CheckSnapshotLocations = func(b *arkv1.Backup) []string {
			_, problems := resolveSnapshotLocations(b)
			return problems
		}
		backups.Stores, backups.Layout = cfg.Locations.WritableStore, backupstore.Layout{HomeNamespace: cfg.HomeNamespace}
		backups.Keys = func(location string) *encryption.Keyring {
			if l, err := cfg.Locations.Resolve(location); err == nil {
				return l.Keys
			}
			return nil
		}
		workers := max(cfg.Workers, 1)
		backups.Slots = &fairshare.Slots{Home: cfg.HomeNamespace, Workers: workers, PerNamespace: cfg.PerNamespace}
		restores.Slots = &fairshare.Slots{Home: cfg.HomeNamespace, Workers: workers, PerNamespace: cfg.PerNamespace}
		restores.CanDownload = func(ctx context.Context, user *arkv1.UserInfo, ns string) (bool, string, error) {
			return (&backup.SubjectAccessReviews{Client: kube.AuthorizationV1().SubjectAccessReviews()}).CanDownload(ctx, user, ns)
		}
		restores.ArkAs = func(user *arkv1.UserInfo) (versioned.Interface, error) {
			impersonating, err := requester.Config(cfg.Ark, user)
			if err != nil {
				return nil, err
			}
			return versioned.NewForConfig(impersonating)
		}
		if cfg.Signer != nil {
			backups.Provenance = cfg.Signer
		}
		schedules := schedulecontroller.New(ark, factory.Ark().V1().Schedules(), factory.Ark().V1().Backups(), nil)
		metrics.ReportSchedules(schedules.States)
		broadcaster := record.NewBroadcaster(record.WithContext(ctx))
		broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: kube.CoreV1().Events("")})
		defer broadcaster.Shutdown()
		recorder := broadcaster.NewRecorder(arkscheme.Scheme, corev1.EventSource{Component: "ark-gc"})
		schedules.Recorder = broadcaster.NewRecorder(arkscheme.Scheme, corev1.EventSource{Component: "ark-schedule"})
		backups.Recorder = broadcaster.NewRecorder(arkscheme.Scheme, corev1.EventSource{Component: "ark-backup"})
		restores.Recorder = broadcaster.NewRecorder(arkscheme.Scheme, corev1.EventSource{Component: "ark-restore"})
		collector := gc.New(ark, factory.Ark().V1().Backups(), cfg.Locations, dyn, recorder)
		if cfg.Signer != nil {
			collector.Provenance = cfg.Signer
		}
		collector.Layout = backupstore.Layout{HomeNamespace: cfg.HomeNamespace}
		if cfg.GCInterval > 0 {
			collector.Interval = cfg.GCInterval
		}
		if gce != nil {
			collector.GCE = gce
		}
		factory.Start(ctx.Done())
		if sc := cfg.ServingCert; sc != nil {
			go (&servingcert.Renewer{Kube: kube, Namespace: sc.Namespace, Serving: sc.Secret, CA: sc.CASecret}).Run(ctx)
		}
		go collector.Run(ctx)
		go restores.Run(ctx, workers)
		go schedules.Run(ctx, 1)
		backups.Run(ctx, workers)
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

// informerFactory returns the controllers' informers of Ark's objects,
// reached through ark, except the backups' when backups is set: registered
// first, its informer is the one every controller gets from the factory.
func informerFactory(ark versioned.Interface, backups cache.ListerWatcher) externalversions.SharedInformerFactory {
	factory := externalversions.NewSharedInformerFactory(ark, 0)
	if backups != nil {
		factory.InformerFor(&arkv1.Backup{}, func(versioned.Interface, time.Duration) cache.SharedIndexInformer {
			return cache.NewSharedIndexInformer(backups, &arkv1.Backup{}, 0, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
		})
	}
	return factory
}

// backupAs runs a backup engine whose cluster clients act as the backup's
// requester; a backup whose requester cannot be impersonated fails.
// It writes to the backup's location, which must be served and writable.
type backupAs struct {
	factory   *requester.Factory
	locations *locations.Set
	engine    func(*arkv1.Backup, *requester.Clients, objectstore.Store) *backup.Backupper
	home      string
}

func (e backupAs) Run(ctx context.Context, b *arkv1.Backup, progress backup.ProgressFunc) (backup.Outcome, error) {
	user, err := e.factory.For(b.Spec.Requester)
	if err != nil {
		return backup.Outcome{}, err
	}
	loc, err := e.locations.Resolve(b.Spec.StorageLocation)
	if err != nil {
		return backup.Outcome{}, err
	}
	store, err := loc.Writable()
	if err != nil {
		return backup.Outcome{}, err
	}
	engine := e.engine(b, user, store)
	// The location's layout carries its encryption keys.
	engine.Layout = loc.Layout(e.home)
	return engine.Run(ctx, b, progress)
}

// restoreAs runs a restore engine whose cluster clients act as the
// restore's requester. It reads the backup from its location and keeps
// the restore's files where locations.Set.ForRestoreFiles says.
type restoreAs struct {
	factory   *requester.Factory
	locations *locations.Set
	engine    func(user *requester.Clients, store, files objectstore.Store) *restore.Restorer
	// tenantHookTimeout bounds the restore hooks of restores outside home.
	tenantHookTimeout time.Duration
	home              string
}

func (e restoreAs) Run(ctx context.Context, r *arkv1.Restore, b *arkv1.Backup, progress restore.ProgressFunc) (restore.Outcome, error) {
	user, err := e.factory.For(r.Spec.Requester)
	if err != nil {
		return restore.Outcome{}, err
	}
	loc, err := e.locations.Resolve(b.Spec.StorageLocation)
	if err != nil {
		return restore.Outcome{}, err
	}
	store, err := loc.Readable()
	if err != nil {
		return restore.Outcome{}, err
	}
	filesLoc, err := e.locations.ForRestoreFiles(b.Spec.StorageLocation)
	if err != nil {
		return restore.Outcome{}, err
	}
	files, err := filesLoc.Writable()
	if err != nil {
		return restore.Outcome{}, err
	}
	engine := e.engine(user, store, files)
	engine.LegacySnapshots = b.Status.VolumeBackups
	engine.Unsigned = b.Annotations[provenance.ClusterAnnotation] == ""
	engine.Format = loc.Format
	engine.Keys, engine.FilesKeys = loc.Keys, filesLoc.Keys
	if r.Namespace != e.home {
		engine.MaxHookTimeout = e.tenantHookTimeout
	}
	return engine.Run(ctx, r, b.Name, progress)
}
