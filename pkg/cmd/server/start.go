// Package server is the ark-apiserver command: flags, their validation, and
// the translation into an apiserver.Config.
package server

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	x509request "k8s.io/apiserver/pkg/authentication/request/x509"
	"k8s.io/apiserver/pkg/authorization/authorizerfactory"
	"k8s.io/apiserver/pkg/endpoints/openapi"
	genericapiserver "k8s.io/apiserver/pkg/server"
	"k8s.io/apiserver/pkg/server/dynamiccertificates"
	genericoptions "k8s.io/apiserver/pkg/server/options"
	"k8s.io/apiserver/pkg/util/compatibility"
	utilfeature "k8s.io/apiserver/pkg/util/feature"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/klog/v2"
	netutils "k8s.io/utils/net"

	"github.com/arkproject/ark/pkg/apis/ark"
	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
	"github.com/arkproject/ark/pkg/apis/ark/validation"
	"github.com/arkproject/ark/pkg/apiserver"
	"github.com/arkproject/ark/pkg/controllers"
	"github.com/arkproject/ark/pkg/controllers/storagelocation"
	"github.com/arkproject/ark/pkg/embeddedetcd"
	generatedopenapi "github.com/arkproject/ark/pkg/generated/openapi"
	"github.com/arkproject/ark/pkg/objectstore"
	"github.com/arkproject/ark/pkg/provenance"
	restorestorage "github.com/arkproject/ark/pkg/registry/restore"
	"github.com/arkproject/ark/pkg/requester"
	"github.com/arkproject/ark/pkg/resourcescope"
	"github.com/arkproject/ark/pkg/standalone"
	"github.com/arkproject/ark/pkg/version"
)

const etcdPathPrefix = "/registry/ark.heptio.com"

// Options are ark-apiserver's flags.
type Options struct {
	RecommendedOptions *genericoptions.RecommendedOptions

	// HomeNamespace is where administrators' backups and restores live.
	HomeNamespace string
	// DataDir holds the embedded etcd, the default bucket and standalone certificates.
	DataDir string
	// BackupLocation is the bucket URL: file:///path, gs://bucket/prefix,
	// s3://bucket/prefix[?options] or azure://container/prefix[?options].
	BackupLocation string
	// BucketPollInterval is how often the bucket is listed for outside changes.
	BucketPollInterval time.Duration
	// Standalone serves without a kube-apiserver.
	Standalone bool
	// AlternateDNS are extra names for the self-signed serving certificate.
	AlternateDNS []string
	// EtcdUnsafeNoFsync speeds up the embedded etcd for tests.
	EtcdUnsafeNoFsync bool
	// BackupStore, when set, is used instead of opening BackupLocation; tests
	// inject stores this way.
	BackupStore objectstore.Store
	// Controllers runs the backup controller (aggregated mode only).
	Controllers bool
	// LeaderElect and LeaderElectionNamespace make replicas take turns.
	LeaderElect             bool
	LeaderElectionNamespace string
	// BackupWorkers is how many backups run at once.
	BackupWorkers int
	// GCEProject turns on GCE persistent disk snapshots.
	GCEProject string
	// GCInterval is how often backups are checked for expiry.
	GCInterval time.Duration
	// HostPathRestoreDirs bounds where hostPath/local volume data is restored.
	HostPathRestoreDirs []string
	// ClaimBindTimeout is how long a restore waits for its claims to bind.
	ClaimBindTimeout time.Duration
	// ProvenanceSecret is the namespace/name of the Secret that holds the
	// key this API signs the Backups it accepts with.
	ProvenanceSecret string
	// ServingCertSecret is the namespace/name of the Secret the serving
	// certificate is mounted from, and ServingCASecret the name of the
	// Secret beside it holding the CA that signed it: when both are set,
	// the controllers renew the certificate before it expires.
	ServingCertSecret, ServingCASecret string
	// ShutdownWatchTerminationGracePeriod is how long a stopping server
	// waits for its open watches to end, once it has told them to.
	ShutdownWatchTerminationGracePeriod time.Duration
	// BackupLocationCredential, when set, is the name/key of the Secret
	// in the home namespace holding BackupLocation's credential, read as
	// every location's spec.credential is (an AWS credentials file, a GCP
	// service account key, Azure's lines), instead of the environment.
	BackupLocationCredential string
	// BackupLocationKeySecret, when set, names the Secret in the home
	// namespace holding BackupLocation's encryption keys.
	BackupLocationKeySecret string
	// TenantLimits bound the objects of namespaces other than the home one.
	TenantLimits validation.TenantLimits
	// NamespaceConcurrency bounds the backups (and restores) one such
	// namespace runs at once.
	NamespaceConcurrency int
	// AbandonedAfter is when a crash's partial uploads and restore scratch
	// directories count as abandoned; 0 never removes them.
	AbandonedAfter time.Duration

	Out, ErrOut io.Writer
	flags       *pflag.FlagSet
	pki         *standalone.PKI
	// embeddedEtcd is set by Complete when no --etcd-servers were given.
	embeddedEtcd bool
}

// NewOptions returns the defaults.
func NewOptions(out, errOut io.Writer) *Options {
	o := &Options{
		RecommendedOptions: genericoptions.NewRecommendedOptions(
			etcdPathPrefix,
			apiserver.Codecs.LegacyCodec(arkv1.SchemeGroupVersion),
		),
		HomeNamespace:           "heptio-ark",
		DataDir:                 filepath.Join("_output", "data"),
		BucketPollInterval:      5 * time.Second,
		Controllers:             true,
		LeaderElect:             true,
		LeaderElectionNamespace: "ark-system",
		BackupWorkers:           4,
		GCInterval:              time.Minute,
		ProvenanceSecret:        "ark-system/ark-provenance",
		// Watches end as soon as they are told to: this bounds the wait.
		ShutdownWatchTerminationGracePeriod: 5 * time.Second,
		TenantLimits:                        validation.DefaultTenantLimits,
		NamespaceConcurrency:                1,
		AbandonedAfter:                      time.Hour,
		ClaimBindTimeout:                    2 * time.Minute,
		Out:                                 out,
		ErrOut:                              errOut,
	}
	o.RecommendedOptions.Etcd.StorageConfig.EncodeVersioner = runtime.NewMultiGroupVersioner(arkv1.SchemeGroupVersion, schema.GroupKind{Group: ark.GroupName})
	o.RecommendedOptions.SecureServing.BindPort = 8443
	return o
}

// NewCommand returns the ark-apiserver command.
func NewCommand(ctx context.Context, o *Options) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "ark-apiserver",
		Short: "Serve Ark's API: backups from the bucket, restores and schedules from etcd",
		Long: `ark-apiserver serves the ark.heptio.com API. Backups are read from and
written to the backup storage location itself; restores and schedules are kept
in etcd (an embedded one unless --etcd-servers is given). Without --standalone
it runs as an aggregated API server behind kube-apiserver.`,
		SilenceUsage: true,
		Version:      version.Get().String(),
		RunE: func(c *cobra.Command, args []string) error {
			if err := o.Complete(); err != nil {
				return err
			}
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(c.Context())
		},
	}
	cmd.SetContext(ctx)
	o.AddFlags(cmd.Flags())
	return cmd
}

// AddFlags registers the flags.
func (o *Options) AddFlags(fs *pflag.FlagSet) {
	o.flags = fs
	o.RecommendedOptions.AddFlags(fs)
	fs.StringVar(&o.HomeNamespace, "namespace", o.HomeNamespace, "Ark's home namespace: backups and restores here may cover the whole cluster; elsewhere they are confined to their own namespace.")
	fs.StringVar(&o.DataDir, "data-dir", o.DataDir, "Directory for the embedded etcd, the default file bucket and standalone certificates.")
	fs.StringVar(&o.BackupLocation, "backup-location", o.BackupLocation, "Backup storage location URL: file:///path, gs://bucket[/prefix][?pubsubSubscription=projects/P/subscriptions/ID], s3://bucket[/prefix][?region=R&s3Url=URL&s3ForcePathStyle=true] (S3 credentials from the AWS environment) or azure://container[/prefix][?storageAccount=NAME&storageAccountURI=URL] (Azure credential from AZURE_STORAGE_KEY, AZURE_STORAGE_SAS_TOKEN or AZURE_STORAGE_CONNECTION_STRING). Default: file://<data-dir>/bucket.")
	fs.DurationVar(&o.ShutdownWatchTerminationGracePeriod, "shutdown-watch-termination-grace-period", o.ShutdownWatchTerminationGracePeriod, "When stopping, every open watch (of backups, restores, schedules, locations) is ended, so clients re-list from another replica, and the server waits up to this long for them to be gone. 0 ends no watch: a stop then waits for them up to the 60 s request timeout.")
	fs.StringVar(&o.BackupLocationKeySecret, "backup-location-encryption-key-secret", o.BackupLocationKeySecret, "name of the Secret in the home namespace (--namespace) holding --backup-location's encryption keys, as a location's spec.encryption.keySecret names them: its entry \"active\" names the key new backups are encrypted with, every other entry is a 32-byte key (raw or base64) by its ID. Empty writes plaintext unless the location's object asks for encryption.")
	fs.StringVar(&o.BackupLocationCredential, "backup-location-credential", o.BackupLocationCredential, "name/key of the Secret in the home namespace (--namespace) holding --backup-location's credential, in the form a location's spec.credential takes (an AWS shared credentials file, a GCP service account key, or Azure's KEY=VALUE lines), instead of the server's environment. Read at start; the location's object names it too.")
	fs.DurationVar(&o.BucketPollInterval, "bucket-poll-interval", o.BucketPollInterval, "How often the bucket is listed, so backups written or removed by others appear in list and watch.")
	fs.BoolVar(&o.Standalone, "standalone", o.Standalone, "Serve without kube-apiserver: accept client certificates from a CA in the data directory, allow every authenticated user, and write <data-dir>/kubeconfig.")
	fs.StringSliceVar(&o.AlternateDNS, "alternate-dns", o.AlternateDNS, "Extra DNS names for the generated serving certificate.")
	fs.BoolVar(&o.Controllers, "controllers", o.Controllers, "Run Ark's controllers (backups) in this process. Needs a cluster: ignored with --standalone.")
	fs.BoolVar(&o.LeaderElect, "leader-elect", o.LeaderElect, "Elect one replica to run the controllers, through a Lease.")
	fs.StringVar(&o.LeaderElectionNamespace, "leader-election-namespace", o.LeaderElectionNamespace, "Namespace of the controllers' Lease.")
	fs.IntVar(&o.BackupWorkers, "backup-workers", o.BackupWorkers, "How many backups may run at the same time, and how many restores.")
	fs.DurationVar(&o.GCInterval, "gc-interval", o.GCInterval, "How often backups are checked for expiry.")
	fs.DurationVar(&o.AbandonedAfter, "abandoned-after", o.AbandonedAfter, "Remove partial uploads of a file bucket and restore scratch directories that a crashed server left, once untouched (and held by no process) for this long; 0 never removes them.")
	fs.DurationVar(&o.ClaimBindTimeout, "restore-claim-bind-timeout", o.ClaimBindTimeout, "How long a restore waits for the persistent volume claims it restored to bind; a claim still unbound then is an error of the restore (PartiallyFailed), with why. 0 does not wait.")
	fs.StringSliceVar(&o.HostPathRestoreDirs, "hostpath-restore-dirs", o.HostPathRestoreDirs, "Directories under which restores may write hostPath and local volume data (the path comes from the backup's PersistentVolume). Empty allows any.")
	fs.StringVar(&o.ServingCertSecret, "serving-cert-secret", o.ServingCertSecret, "namespace/name of the kubernetes.io/tls Secret the serving certificate (--tls-cert-file) is mounted from. With --serving-ca-secret, the replica running the controllers renews the certificate from that CA when less than a third of its lifetime is left (as `ark install` sets up); the mounted files are reloaded when the kubelet updates them.")
	fs.StringVar(&o.ServingCASecret, "serving-ca-secret", o.ServingCASecret, "name of the kubernetes.io/tls Secret, beside --serving-cert-secret, holding the CA that signs the serving certificate (see --serving-cert-secret).")
	fs.StringVar(&o.ProvenanceSecret, "provenance-secret", o.ProvenanceSecret, "namespace/name of the Secret holding the key Ark signs the Backups its API accepts with (created if absent). Only signed Backups run: one written straight into the bucket never does. Replicas of one cluster share it.")
	fs.DurationVar(&o.TenantLimits.MaxHookTimeout, "tenant-max-hook-timeout", o.TenantLimits.MaxHookTimeout, "Longest timeout (and, for restore hooks, wait) a hook of a backup or restore outside the home namespace may have (spec hooks are refused with 422, pod annotation hooks are cut to it). 0 means no bound.")
	fs.DurationVar(&o.TenantLimits.MinScheduleInterval, "tenant-min-schedule-interval", o.TenantLimits.MinScheduleInterval, "Shortest interval a schedule outside the home namespace may back up at (422 otherwise). 0 means no bound.")
	fs.DurationVar(&o.TenantLimits.MaxTTL, "tenant-max-ttl", o.TenantLimits.MaxTTL, "Longest TTL a backup outside the home namespace may have (422 otherwise). 0 means no bound.")
	fs.IntVar(&o.NamespaceConcurrency, "namespace-concurrency", o.NamespaceConcurrency, "How many backups, and how many restores, one namespace other than the home namespace may run at once; all of them together leave one worker to the home namespace.")
	fs.StringVar(&o.GCEProject, "gce-project", o.GCEProject, "Snapshot GCE persistent disks through the compute API (Application Default Credentials); the project of in-tree disks.")
	fs.BoolVar(&o.EtcdUnsafeNoFsync, "embedded-etcd-unsafe-no-fsync", o.EtcdUnsafeNoFsync, "Skip fsync in the embedded etcd. Faster, loses data on power failure: for tests only.")
}

// Complete fills in defaults that depend on other flags.
func (o *Options) Complete() error {
	abs, err := filepath.Abs(o.DataDir)
	if err != nil {
		return err
	}
	o.DataDir = abs
	o.embeddedEtcd = len(o.RecommendedOptions.Etcd.StorageConfig.Transport.ServerList) == 0
	if o.BackupLocation == "" {
		o.BackupLocation = "file://" + filepath.Join(o.DataDir, "bucket")
	}
	if o.RecommendedOptions.SecureServing.ServerCert.CertDirectory == "" || o.RecommendedOptions.SecureServing.ServerCert.CertDirectory == "apiserver.local.config/certificates" {
		o.RecommendedOptions.SecureServing.ServerCert.CertDirectory = filepath.Join(o.DataDir, "certs")
	}
	if o.Standalone {
		// Standalone is for one machine: stay on loopback unless told otherwise.
		if o.flags == nil || !o.flags.Changed("bind-address") {
			o.RecommendedOptions.SecureServing.BindAddress = netutils.ParseIPSloppy("127.0.0.1")
		}
		o.RecommendedOptions.Authentication = nil
		o.RecommendedOptions.Authorization = nil
		o.RecommendedOptions.CoreAPI = nil
		o.RecommendedOptions.Admission = nil
		o.RecommendedOptions.Features.EnablePriorityAndFairness = false
	}
	return nil
}

// Validate checks the flags.
func (o *Options) Validate() error {
	var errs []error
	if o.embeddedEtcd {
		// The embedded etcd's address is known only once it runs; validate
		// the other etcd flags with a stand-in.
		servers := &o.RecommendedOptions.Etcd.StorageConfig.Transport.ServerList
		*servers = []string{"http://127.0.0.1:2379"}
		defer func() { *servers = nil }()
	}
	errs = append(errs, o.RecommendedOptions.Validate()...)
	if o.HomeNamespace == "" {
		errs = append(errs, fmt.Errorf("--namespace must not be empty"))
	}
	if o.ShutdownWatchTerminationGracePeriod < 0 {
		errs = append(errs, fmt.Errorf("--shutdown-watch-termination-grace-period must not be negative, not %s", o.ShutdownWatchTerminationGracePeriod))
	}
	if o.BackupLocationCredential != "" {
		if name, key, ok := strings.Cut(o.BackupLocationCredential, "/"); !ok || name == "" || key == "" {
			errs = append(errs, fmt.Errorf("--backup-location-credential must be name/key, not %q", o.BackupLocationCredential))
		}
		if o.Standalone {
			errs = append(errs, errors.New("--backup-location-credential reads a Secret of the cluster: not with --standalone"))
		}
	}
	if o.BackupLocationKeySecret != "" {
		if msgs := utilvalidation.IsDNS1123Subdomain(o.BackupLocationKeySecret); len(msgs) > 0 {
			errs = append(errs, fmt.Errorf("--backup-location-encryption-key-secret %q is not a Secret's name: %s", o.BackupLocationKeySecret, strings.Join(msgs, "; ")))
		}
		if o.Standalone {
			errs = append(errs, errors.New("--backup-location-encryption-key-secret reads a Secret of the cluster: not with --standalone"))
		}
	}
	if o.ServingCertSecret != "" || o.ServingCASecret != "" {
		if ns, name, ok := strings.Cut(o.ServingCertSecret, "/"); !ok || ns == "" || name == "" || o.ServingCASecret == "" {
			errs = append(errs, fmt.Errorf("--serving-cert-secret (namespace/name, not %q) and --serving-ca-secret (%q) go together", o.ServingCertSecret, o.ServingCASecret))
		}
	}
	if ns, name, ok := strings.Cut(o.ProvenanceSecret, "/"); !ok || ns == "" || name == "" {
		errs = append(errs, fmt.Errorf("--provenance-secret must be namespace/name, not %q", o.ProvenanceSecret))
	}
	if o.NamespaceConcurrency < 1 {
		errs = append(errs, fmt.Errorf("--namespace-concurrency must be at least 1"))
	}
	if l := o.TenantLimits; l.MaxHookTimeout < 0 || l.MinScheduleInterval < 0 || l.MaxTTL < 0 {
		errs = append(errs, fmt.Errorf("--tenant-max-hook-timeout, --tenant-min-schedule-interval and --tenant-max-ttl must not be negative"))
	}
	if o.BucketPollInterval < 100*time.Millisecond {
		errs = append(errs, fmt.Errorf("--bucket-poll-interval must be at least 100ms"))
	}
	return utilerrors.NewAggregate(errs)
}

// Config builds the server configuration, starting the embedded etcd when no
// --etcd-servers were given. The returned cleanup stops what Config started.
func (o *Options) Config(ctx context.Context) (*apiserver.Config, func(), error) {
	cleanup := func() {}
	if o.embeddedEtcd {
		e, err := embeddedetcd.Start(embeddedetcd.Options{Dir: filepath.Join(o.DataDir, "etcd"), UnsafeNoFsync: o.EtcdUnsafeNoFsync})
		if err != nil {
			return nil, nil, err
		}
		cleanup = e.Close
		o.RecommendedOptions.Etcd.StorageConfig.Transport.ServerList = []string{e.ClientURL}
	}
	fail := func(err error) (*apiserver.Config, func(), error) {
		cleanup()
		return nil, nil, err
	}

	var pki *standalone.PKI
	if o.Standalone {
		var err error
		hosts := append([]string{"localhost", "127.0.0.1"}, o.AlternateDNS...)
		if pki, err = standalone.EnsurePKI(filepath.Join(o.DataDir, "pki"), hosts); err != nil {
			return fail(err)
		}
		o.pki = pki
		o.RecommendedOptions.SecureServing.ServerCert.CertKey.CertFile = pki.ServingCertFile
		o.RecommendedOptions.SecureServing.ServerCert.CertKey.KeyFile = pki.ServingKeyFile
	} else if err := o.RecommendedOptions.SecureServing.MaybeDefaultWithSelfSignedCerts("localhost", o.AlternateDNS, []net.IP{netutils.ParseIPSloppy("127.0.0.1")}); err != nil {
		return fail(fmt.Errorf("creating self-signed serving certificate: %w", err))
	}

	serverConfig := genericapiserver.NewRecommendedConfig(apiserver.Codecs)
	namer := openapi.NewDefinitionNamer(apiserver.Scheme)
	serverConfig.OpenAPIConfig = genericapiserver.DefaultOpenAPIConfig(generatedopenapi.GetOpenAPIDefinitions, namer)
	serverConfig.OpenAPIConfig.Info.Title = "Ark"
	serverConfig.OpenAPIConfig.Info.Version = "v1"
	serverConfig.OpenAPIV3Config = genericapiserver.DefaultOpenAPIV3Config(generatedopenapi.GetOpenAPIDefinitions, namer)
	serverConfig.OpenAPIV3Config.Info.Title = "Ark"
	serverConfig.OpenAPIV3Config.Info.Version = "v1"
	serverConfig.FeatureGate = utilfeature.DefaultFeatureGate
	serverConfig.EffectiveVersion = compatibility.DefaultBuildEffectiveVersion()

	if err := o.RecommendedOptions.ApplyTo(serverConfig); err != nil {
		return fail(err)
	}
	// The API server libraries end a watch when the server begins to stop
	// only with a grace period set; without one, an open watch of backups
	// (which no storage shutdown ends, as the bucket has none) held every
	// stop for the HTTP server's 60 s shutdown timeout.
	serverConfig.ShutdownWatchTerminationGracePeriod = o.ShutdownWatchTerminationGracePeriod
	if pki != nil {
		if err := applyStandaloneAuth(serverConfig, pki); err != nil {
			return fail(err)
		}
	} else {
		var headers func() []string
		if rh := serverConfig.Authentication.RequestHeaderConfig; rh != nil && rh.UsernameHeaders != nil {
			headers = rh.UsernameHeaders.Value
		}
		authn, started := serverConfig.Authentication.Authenticator, time.Now()
		serverConfig.BuildHandlerChainFunc = func(h http.Handler, c *genericapiserver.Config) http.Handler {
			return newAuthStartGate(genericapiserver.DefaultBuildHandlerChain(h, c), authn, headers, started)
		}
	}

	store := o.BackupStore
	cleanupAll := cleanup
	var credentialRef *arkv1.SecretKeyReference
	if store == nil {
		var err error
		if store, credentialRef, err = o.openBackupLocation(ctx, serverConfig.ClientConfig); err != nil {
			return fail(err)
		}
		cleanupAll = func() { store.Close(); cleanup() }
	}

	extra := apiserver.ExtraConfig{
		TenantLimits:       o.TenantLimits,
		HomeNamespace:      o.HomeNamespace,
		BackupStore:        store,
		LocationURL:        o.BackupLocation,
		LocationCredential: credentialRef,
		LocationKeySecret:  o.BackupLocationKeySecret,
		BucketPollInterval: o.BucketPollInterval,
		AbandonedAfter:     o.AbandonedAfter,
	}
	if serverConfig.SharedInformerFactory != nil {
		namespaces := serverConfig.SharedInformerFactory.Core().V1().Namespaces()
		informer := namespaces.Informer() // registered now, started with the server
		extra.NamespaceVisible = namespaceVisible(namespaces.Lister(), informer.HasSynced)
		kube, err := kubernetes.NewForConfig(serverConfig.ClientConfig)
		if err != nil {
			cleanupAll()
			return nil, nil, err
		}
		extra.NamespaceTerminating = namespaceTerminating(kube)
		extra.ConfigMapAs = configMapAs(&requester.Factory{Base: serverConfig.ClientConfig})
		extra.Secret = secretReader(kube, o.HomeNamespace)
		extra.KeySecret = func(ctx context.Context, name string) (map[string][]byte, error) {
			s, err := kube.CoreV1().Secrets(o.HomeNamespace).Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return nil, err
			}
			return s.Data, nil
		}
		resources := resourcescope.New(kube.Discovery())
		extra.ClusterScoped, extra.UnknownResource = resources.ClusterScoped, resources.Unknown
		extra.NamespaceUID = func(ctx context.Context, name string) (string, error) {
			ns, err := kube.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return "", err
			}
			return string(ns.UID), nil
		}
		extra.CurrentNamespaceUID = func(name string) string {
			if ns, err := namespaces.Lister().Get(name); err == nil {
				return string(ns.UID)
			}
			return ""
		}
		if extra.Signer, err = o.clusterSigner(ctx, kube); err != nil {
			cleanupAll()
			return nil, nil, err
		}
		if o.Controllers {
			extra.Controllers = &controllers.Config{
				Kube:                serverConfig.ClientConfig,
				LeaderElect:         o.LeaderElect,
				LeaseNamespace:      o.LeaderElectionNamespace,
				Workers:             o.BackupWorkers,
				GCEProject:          o.GCEProject,
				HomeNamespace:       o.HomeNamespace,
				GCInterval:          o.GCInterval,
				HostPathRestoreDirs: o.HostPathRestoreDirs,
				ClaimBindTimeout:    o.ClaimBindTimeout,
				Signer:              extra.Signer,
				TenantLimits:        o.TenantLimits,
				PerNamespace:        o.NamespaceConcurrency,
			}
			if o.ServingCertSecret != "" {
				ns, name, _ := strings.Cut(o.ServingCertSecret, "/")
				extra.Controllers.ServingCert = &controllers.ServingCert{Namespace: ns, Secret: name, CASecret: o.ServingCASecret}
			}
		}
	}
	return &apiserver.Config{GenericConfig: serverConfig, ExtraConfig: extra}, cleanupAll, nil
}

// openBackupLocation opens --backup-location, with the credential of
// --backup-location-credential when given (returning its reference, for
// the location's object), else with the server's environment.
func (o *Options) openBackupLocation(ctx context.Context, kubeConfig *rest.Config) (objectstore.Store, *arkv1.SecretKeyReference, error) {
	if o.BackupLocationCredential == "" {
		store, err := objectstore.Open(ctx, o.BackupLocation)
		return store, nil, err
	}
	name, key, _ := strings.Cut(o.BackupLocationCredential, "/")
	kube, err := kubernetes.NewForConfig(kubeConfig)
	if err != nil {
		return nil, nil, err
	}
	credential, err := secretReader(kube, o.HomeNamespace)(ctx, name, key)
	if err != nil {
		return nil, nil, fmt.Errorf("--backup-location-credential: reading Secret %s/%s key %q: %w", o.HomeNamespace, name, key, err)
	}
	spec, err := storagelocation.SpecFor(o.BackupLocation)
	if err != nil {
		return nil, nil, err
	}
	store, err := storagelocation.OpenSpec(ctx, spec, credential)
	if err != nil {
		return nil, nil, err
	}
	return store, &arkv1.SecretKeyReference{Name: name, Key: key}, nil
}

// clusterSigner reads (or creates) the provenance key and identifies the
// cluster, so that this API's Backups can be told from any other record.
func (o *Options) clusterSigner(ctx context.Context, kube kubernetes.Interface) (*provenance.Signer, error) {
	ns, name, _ := strings.Cut(o.ProvenanceSecret, "/")
	id, err := provenance.IdentityFromSecret(ctx, kube, ns, name)
	if err != nil {
		return nil, fmt.Errorf("the cluster's Ark identity (--provenance-secret): %w", err)
	}
	klog.InfoS("Acting as this cluster's Ark", "cluster", id.Cluster, "secret", o.ProvenanceSecret)
	return provenance.NewSigner(id.Key, id.Cluster)
}

// applyStandaloneAuth authenticates clients by certificates from the
// standalone CA and lets every authenticated user do everything.
func applyStandaloneAuth(c *genericapiserver.RecommendedConfig, pki *standalone.PKI) error {
	ca, err := dynamiccertificates.NewStaticCAContent("ark-standalone-ca", pki.CACert)
	if err != nil {
		return err
	}
	if err := c.Authentication.ApplyClientCert(ca, c.SecureServing); err != nil {
		return err
	}
	opts := x509request.DefaultVerifyOptions()
	opts.Roots = pki.CAPool()
	opts.KeyUsages = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	c.Authentication.Authenticator = x509request.New(opts, x509request.CommonNameUserConversion)
	c.Authorization.Authorizer = authorizerfactory.NewAlwaysAllowAuthorizer()
	return nil
}

// namespaceVisible reports whether a namespace's backups are shown: not while
// it is terminating or absent, so that the namespace controller finds nothing
// to delete and the bucket keeps the backups. Until the namespace informer has
// synced, every namespace is shown.
func namespaceVisible(lister corelisters.NamespaceLister, synced func() bool) func(string) bool {
	return func(name string) bool {
		if !synced() {
			return true
		}
		ns, err := lister.Get(name)
		if apierrors.IsNotFound(err) {
			return false
		}
		if err != nil {
			return true
		}
		return ns.Status.Phase != corev1.NamespaceTerminating && ns.DeletionTimestamp == nil
	}
}

// NewServer builds the server from completed and validated options; in
// standalone mode it also writes the admin kubeconfig. The cleanup stops the
// embedded etcd and closes the bucket once the server has stopped.
func (o *Options) NewServer(ctx context.Context) (*apiserver.ArkServer, func(), error) {
	config, cleanup, err := o.Config(ctx)
	if err != nil {
		return nil, nil, err
	}
	server, err := config.Complete().New()
	if err != nil {
		cleanup()
		return nil, nil, err
	}
	if o.Standalone {
		if err := o.writeStandaloneKubeconfig(); err != nil {
			cleanup()
			return nil, nil, err
		}
	}
	return server, cleanup, nil
}

// KubeconfigPath is where standalone mode writes the admin kubeconfig.
func (o *Options) KubeconfigPath() string { return filepath.Join(o.DataDir, "kubeconfig") }

// namespaceTerminating reads a namespace from kube-apiserver: gone or
// terminating means its backups must not be deleted.
func namespaceTerminating(kube kubernetes.Interface) func(context.Context, string) (bool, error) {
	return func(ctx context.Context, name string) (bool, error) {
		ns, err := kube.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return true, nil
		}
		if err != nil {
			return false, err
		}
		return ns.Status.Phase == corev1.NamespaceTerminating || ns.DeletionTimestamp != nil, nil
	}
}

// Run serves until ctx ends.
func (o *Options) Run(ctx context.Context) error {
	server, cleanup, err := o.NewServer(ctx)
	if err != nil {
		return err
	}
	defer cleanup()
	klog.InfoS("Serving Ark API", "backupLocation", o.BackupLocation, "homeNamespace", o.HomeNamespace, "standalone", o.Standalone)
	return server.GenericAPIServer.PrepareRun().RunWithContext(ctx)
}

func (o *Options) writeStandaloneKubeconfig() error {
	host := "127.0.0.1"
	if ip := o.RecommendedOptions.SecureServing.BindAddress; ip != nil && !ip.IsUnspecified() {
		host = ip.String()
	}
	server := "https://" + net.JoinHostPort(host, strconv.Itoa(o.RecommendedOptions.SecureServing.BindPort))
	path := o.KubeconfigPath()
	if err := o.pki.WriteKubeconfig(path, server, o.HomeNamespace); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	fmt.Fprintf(o.Out, "Standalone Ark API at %s\n  export KUBECONFIG=%s\n  kubectl get backups -n %s\n", server, path, o.HomeNamespace)
	return nil
}

// secretReader reads the credentials of backup storage locations: one key
// of a Secret of the home namespace, as Ark's own identity.
func secretReader(kube kubernetes.Interface, namespace string) func(context.Context, string, string) ([]byte, error) {
	return func(ctx context.Context, name, key string) ([]byte, error) {
		s, err := kube.CoreV1().Secrets(namespace).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return nil, err
		}
		data, ok := s.Data[key]
		if !ok {
			return nil, fmt.Errorf("the Secret has no key %q", key)
		}
		return data, nil
	}
}

// configMapAs reads ConfigMaps as the user who asks (a restore's requester),
// never with Ark's own rights: naming a ConfigMap in a restore must not
// let anyone read one they could not.
func configMapAs(f *requester.Factory) restorestorage.ConfigMapLookup {
	return func(ctx context.Context, user *ark.UserInfo, namespace, name string) (map[string]string, error) {
		var u arkv1.UserInfo
		if err := arkv1.Convert_ark_UserInfo_To_v1_UserInfo(user, &u, nil); err != nil {
			return nil, err
		}
		clients, err := f.For(&u)
		if err != nil {
			return nil, err
		}
		cm, err := clients.Kube.CoreV1().ConfigMaps(namespace).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return nil, err
		}
		return cm.Data, nil
	}
}
