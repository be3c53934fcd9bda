// Package apiserver assembles Ark's aggregated API server: the scheme, the
// ark.heptio.com/v1 group and its storage (backups in the bucket, restores,
// schedules and backup storage locations in etcd, server status requests
// answered and never stored).
package apiserver

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/runtime/serializer/json"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"
	genericapiserver "k8s.io/apiserver/pkg/server"
	"k8s.io/klog/v2"

	"github.com/arkproject/ark/pkg/apis/ark"
	"github.com/arkproject/ark/pkg/apis/ark/install"
	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
	"github.com/arkproject/ark/pkg/apis/ark/validation"
	"github.com/arkproject/ark/pkg/backupstore"
	"github.com/arkproject/ark/pkg/controllers"
	"github.com/arkproject/ark/pkg/controllers/storagelocation"
	"github.com/arkproject/ark/pkg/generated/clientset/versioned"
	"github.com/arkproject/ark/pkg/janitor"
	"github.com/arkproject/ark/pkg/locations"
	"github.com/arkproject/ark/pkg/metrics"
	"github.com/arkproject/ark/pkg/objectstore"
	"github.com/arkproject/ark/pkg/provenance"
	backupstorage "github.com/arkproject/ark/pkg/registry/backup"
	locationstorage "github.com/arkproject/ark/pkg/registry/backupstoragelocation"
	deletebackuprequeststorage "github.com/arkproject/ark/pkg/registry/deletebackuprequest"
	downloadrequeststorage "github.com/arkproject/ark/pkg/registry/downloadrequest"
	restorestorage "github.com/arkproject/ark/pkg/registry/restore"
	schedulestorage "github.com/arkproject/ark/pkg/registry/schedule"
	serverstatusstorage "github.com/arkproject/ark/pkg/registry/serverstatusrequest"
	snapshotlocationstorage "github.com/arkproject/ark/pkg/registry/volumesnapshotlocation"
)

var (
	// Scheme holds Ark's types and the meta types the server needs.
	Scheme = runtime.NewScheme()
	// Codecs serializes Scheme's types.
	Codecs = serializer.NewCodecFactory(Scheme)
)

func init() {
	install.Install(Scheme)
	metav1.AddToGroupVersion(Scheme, schema.GroupVersion{Version: "v1"})
	unversioned := schema.GroupVersion{Group: "", Version: "v1"}
	Scheme.AddUnversionedTypes(unversioned,
		&metav1.Status{},
		&metav1.APIVersions{},
		&metav1.APIGroupList{},
		&metav1.APIGroup{},
		&metav1.APIResourceList{},
	)
}

// BucketCodec writes Backups into the bucket as indented ark.heptio.com/v1
// JSON (readable with any tool) and reads any served version back as the
// internal type, defaults applied.
func BucketCodec() runtime.Codec {
	pretty := json.NewSerializerWithOptions(json.DefaultMetaFactory, Scheme, Scheme, json.SerializerOptions{Pretty: true})
	return Codecs.CodecForVersions(pretty, Codecs.UniversalDeserializer(), arkv1.SchemeGroupVersion, ark.SchemeGroupVersion)
}

// withoutProtobuf serves Ark's group as JSON, YAML and CBOR only. Ark's types
// have no protobuf marshalling; offering protobuf anyway makes clients that
// prefer it (kube-controller-manager's metadata clients: the namespace
// controller, the garbage collector) get encoding errors instead of JSON, and
// namespace deletion never finishes.
type withoutProtobuf struct {
	runtime.NegotiatedSerializer
}

// SupportedMediaTypes drops protobuf from the negotiable media types.
func (s withoutProtobuf) SupportedMediaTypes() []runtime.SerializerInfo {
	var out []runtime.SerializerInfo
	for _, info := range s.NegotiatedSerializer.SupportedMediaTypes() {
		if info.MediaType != runtime.ContentTypeProtobuf {
			out = append(out, info)
		}
	}
	return out
}

// ExtraConfig is Ark's own configuration.
type ExtraConfig struct {
	// HomeNamespace holds the administrators' backups and restores.
	HomeNamespace string
	// TenantLimits bound the objects of every other namespace.
	TenantLimits validation.TenantLimits
	// ClusterScoped tells cluster-scoped resource names (nil in standalone
	// mode, which knows no cluster).
	ClusterScoped func(string) bool
	// UnknownResource says why a filter's resource name names nothing the
	// cluster serves, or "" (nil in standalone mode: every name passes).
	UnknownResource func(string) string
	// BackupStore is the backup storage location and LocationName its name.
	BackupStore  objectstore.Store
	LocationName string
	// LocationURL is the --backup-location URL BackupStore was opened
	// from: the served location's object is created from it when missing.
	LocationURL string
	// LocationCredential, when set, is the Secret key BackupStore was
	// opened with, named in the served location's object.
	LocationCredential *arkv1.SecretKeyReference
	// LocationKeySecret, when set, names the Secret of the served
	// location's encryption keys (--backup-location-encryption-key-secret).
	LocationKeySecret string
	// Secret reads one key of a Secret of the home namespace: the
	// credentials of backup storage locations. Nil in standalone mode.
	Secret storagelocation.SecretReader
	// KeySecret reads the whole of a Secret of the home namespace: a
	// location's encryption keys. Nil refuses encrypted locations.
	KeySecret storagelocation.KeySecretReader
	// BucketPollInterval is how often the bucket is listed for outside changes.
	BucketPollInterval time.Duration
	// NamespaceVisible hides the backups of terminating or absent namespaces;
	// nil shows every namespace (standalone mode has no namespaces).
	NamespaceVisible func(string) bool
	// NamespaceTerminating asks the cluster whether a namespace is being
	// deleted; nil in standalone mode.
	NamespaceTerminating func(context.Context, string) (bool, error)
	// Signer signs the Backups this API accepts; nil in standalone mode,
	// which runs no controllers.
	Signer *provenance.Signer
	// NamespaceUID asks the cluster for a namespace's UID, and
	// CurrentNamespaceUID a cache; with both, backups belong to their
	// namespace's lifetime, not its name. Nil in standalone mode.
	NamespaceUID        func(context.Context, string) (string, error)
	CurrentNamespaceUID func(string) string
	// AbandonedAfter, when positive, runs the janitor (package janitor):
	// partial uploads and restore scratch directories left untouched and
	// unheld for that long are removed.
	AbandonedAfter time.Duration
	// ConfigMapAs reads a ConfigMap's data as a user: the resource modifier
	// rules a restore names, checked when it is created. Nil in standalone
	// mode.
	ConfigMapAs restorestorage.ConfigMapLookup
	// Controllers, when set, runs Ark's controllers once the server serves.
	Controllers *controllers.Config
}

// Config is the whole server configuration.
type Config struct {
	GenericConfig *genericapiserver.RecommendedConfig
	ExtraConfig   ExtraConfig
}

// ArkServer is the running server.
type ArkServer struct {
	GenericAPIServer *genericapiserver.GenericAPIServer
	// Backups is the bucket-backed storage, exposed for tests that change the
	// bucket behind the server's back and wait for the next poll.
	Backups *backupstorage.REST
	// Locations are the storage locations served.
	Locations *locations.Set
}

type completedConfig struct {
	GenericConfig genericapiserver.CompletedConfig
	ExtraConfig   *ExtraConfig
}

// CompletedConfig is a Config with every default filled in.
type CompletedConfig struct {
	*completedConfig
}

// Complete fills in defaults.
func (cfg *Config) Complete() CompletedConfig {
	if cfg.ExtraConfig.LocationName == "" {
		cfg.ExtraConfig.LocationName = arkv1.DefaultStorageLocation
	}
	if cfg.ExtraConfig.BucketPollInterval <= 0 {
		cfg.ExtraConfig.BucketPollInterval = 5 * time.Second
	}
	return CompletedConfig{&completedConfig{cfg.GenericConfig.Complete(), &cfg.ExtraConfig}}
}

// New builds the server and installs the ark.heptio.com API group.
func (c completedConfig) New() (*ArkServer, error) {
	if c.ExtraConfig.BackupStore == nil {
		return nil, fmt.Errorf("no backup storage location configured")
	}
	generic, err := c.GenericConfig.New("ark-apiserver", genericapiserver.NewEmptyDelegate())
	if err != nil {
		return nil, err
	}
	// Ark's own series join the generic ones on /metrics.
	metrics.Register()
	// The loopback identity is the only one trusted to pass on a requester
	// (see registry.Requester); completing the config installed it.
	loopback, err := loopbackUID(c.GenericConfig)
	if err != nil {
		return nil, fmt.Errorf("identifying the server's own loopback client: %w", err)
	}
	// The flag's location is served from the start; the others join as
	// the storage location controller opens them from their objects.
	locs := locations.NewSet(&locations.Location{Name: c.ExtraConfig.LocationName, Store: c.ExtraConfig.BackupStore, Primary: true})
	scope := validation.Scope{HomeNamespace: c.ExtraConfig.HomeNamespace, Locations: locs, PrimaryLocation: c.ExtraConfig.LocationName, LoopbackUID: loopback, Tenant: c.ExtraConfig.TenantLimits, ClusterScoped: c.ExtraConfig.ClusterScoped, UnknownResource: c.ExtraConfig.UnknownResource}

	layout := backupstore.Layout{HomeNamespace: scope.HomeNamespace}
	schedules, scheduleStatus, err := schedulestorage.NewREST(Scheme, c.GenericConfig.RESTOptionsGetter, scope)
	if err != nil {
		return nil, fmt.Errorf("creating schedule storage: %w", err)
	}
	backups, backupStatus := backupstorage.NewREST(Scheme, backupstorage.Options{
		Locations:            locs,
		Codec:                BucketCodec(),
		Scope:                scope,
		PollInterval:         c.ExtraConfig.BucketPollInterval,
		NamespaceVisible:     c.ExtraConfig.NamespaceVisible,
		NamespaceTerminating: c.ExtraConfig.NamespaceTerminating,
		Signer:               c.ExtraConfig.Signer,
		Lifetimes:            c.lifetimes(),
	})
	restores, restoreStatus, err := restorestorage.NewREST(Scheme, c.GenericConfig.RESTOptionsGetter, scope, c.restoreDoor(backups))
	if err != nil {
		return nil, fmt.Errorf("creating restore storage: %w", err)
	}
	var mayReadSecret func(context.Context, string) bool
	if c.ExtraConfig.Secret != nil { // a server that reads Secrets checks their authors may
		mayReadSecret = func(ctx context.Context, name string) bool {
			return c.allowed(ctx, authorizer.AttributesRecord{Verb: "get", APIVersion: "v1", Resource: "secrets", Namespace: scope.HomeNamespace, Name: name})
		}
	}
	locations, locationStatus, err := locationstorage.NewREST(Scheme, c.GenericConfig.RESTOptionsGetter, scope, mayReadSecret)
	if err != nil {
		return nil, fmt.Errorf("creating backup storage location storage: %w", err)
	}
	// Snapshot locations are only kept: nothing acts on them yet (their
	// status stays empty), so no controller is started for them.
	snapshotLocations, snapshotLocationStatus, err := snapshotlocationstorage.NewREST(Scheme, c.GenericConfig.RESTOptionsGetter, scope)
	if err != nil {
		return nil, fmt.Errorf("creating volume snapshot location storage: %w", err)
	}
	servedSpec, err := storagelocation.SpecFor(c.ExtraConfig.LocationURL)
	if err != nil {
		return nil, err
	}
	servedSpec.Credential = c.ExtraConfig.LocationCredential
	if name := c.ExtraConfig.LocationKeySecret; name != "" {
		servedSpec.Encryption = &arkv1.BackupStorageLocationEncryption{KeySecret: name}
	}

	group := genericapiserver.NewDefaultAPIGroupInfo(ark.GroupName, Scheme, metav1.ParameterCodec, Codecs)
	group.NegotiatedSerializer = withoutProtobuf{Codecs}
	group.VersionedResourcesStorageMap[arkv1.SchemeGroupVersion.Version] = map[string]rest.Storage{
		"backups":          backups,
		"backups/status":   backupStatus,
		"backups/download": backupstorage.NewDownloadREST(backups),
		"backups/logs":     backupstorage.NewLogsREST(backups),
		"backups/contents": backupstorage.NewContentsREST(backups),
		"backups/adopt":    backupstorage.NewAdoptREST(backups),
		"restores":         restores,
		"restores/status":  restoreStatus,
		"restores/logs":    restorestorage.NewLogsREST(restores, locs, layout),
		"restores/results": restorestorage.NewResultsREST(restores, locs, layout),
		"schedules":        schedules,
		"schedules/status": scheduleStatus,

		"backupstoragelocations":        locations,
		"backupstoragelocations/status": locationStatus,

		"volumesnapshotlocations":        snapshotLocations,
		"volumesnapshotlocations/status": snapshotLocationStatus,

		// Create-only and never stored: `ark version` learns the server's
		// build from it (kube-apiserver answers /version itself).
		"serverstatusrequests": serverstatusstorage.NewREST(),

		// Heptio Ark's client: `ark backup delete` deletes through a
		// DeleteBackupRequest, answered in its create with the rights of
		// `kubectl delete backup`; DownloadRequests are refused with what
		// to use instead (see package downloadrequest for why).
		"deletebackuprequests": deletebackuprequeststorage.NewREST(func(ctx context.Context, namespace, name string) bool {
			return c.allowed(ctx, authorizer.AttributesRecord{Verb: "delete", APIGroup: ark.GroupName, APIVersion: arkv1.SchemeGroupVersion.Version,
				Resource: "backups", Namespace: namespace, Name: name})
		}, func(ctx context.Context, name string, options *metav1.DeleteOptions) (runtime.Object, bool, error) {
			return backups.Delete(ctx, name, nil, options)
		}),
		"downloadrequests": downloadrequeststorage.NewREST(),
	}
	if err := generic.InstallAPIGroup(&group); err != nil {
		return nil, err
	}
	// Every replica reports what its own poller sees; they poll the same
	// bucket, so they agree but for the moment of their polls. Standalone
	// servers run it too: it needs no cluster.
	generic.AddPostStartHookOrDie("start-ark-storage-locations", func(hook genericapiserver.PostStartHookContext) error {
		client, err := versioned.NewForConfig(hook.LoopbackClientConfig)
		if err != nil {
			return err
		}
		c := &storagelocation.Controller{
			Client: client, Namespace: c.ExtraConfig.HomeNamespace,
			Name: c.ExtraConfig.LocationName, Spec: servedSpec, Store: c.ExtraConfig.BackupStore,
			Locations: locs, Open: storagelocation.OpenSpec, Secret: c.ExtraConfig.Secret, KeySecret: c.ExtraConfig.KeySecret,
			Mine: func(b *arkv1.Backup) bool {
				s := c.ExtraConfig.Signer
				return s == nil || (!s.Foreign(b.Annotations) && s.Verify(b) == nil)
			},
			Observe: func(location string) storagelocation.Observation {
				h := backups.Health(location)
				return storagelocation.Observation{LastSynced: h.LastSynced, Backups: h.Backups, Shadowed: h.Shadowed, Err: h.Err, ByKey: h.ByKey}
			},
			Interval: c.ExtraConfig.BucketPollInterval,
		}
		go c.Run(hook.Context)
		return nil
	})
	if after := c.ExtraConfig.AbandonedAfter; after > 0 {
		generic.AddPostStartHookOrDie("start-ark-janitor", func(hook genericapiserver.PostStartHookContext) error {
			// Every ReadWrite location's uploads are this server's litter;
			// a ReadOnly location's are someone else's.
			go janitor.Janitor{Stores: locs.WritableStores, OlderThan: after}.Run(hook.Context)
			return nil
		})
	}
	if cc := c.ExtraConfig.Controllers; cc != nil {
		generic.AddPostStartHookOrDie("start-ark-controllers", func(hook genericapiserver.PostStartHookContext) error {
			cfg := *cc
			cfg.Locations = locs
			if cfg.Ark == nil {
				cfg.Ark = hook.LoopbackClientConfig
				cfg.Backups = backups.Shared()
			}
			go func() {
				if err := controllers.Run(hook.Context, cfg); err != nil {
					klog.ErrorS(err, "Ark controllers stopped")
				}
			}()
			return nil
		})
	}
	return &ArkServer{GenericAPIServer: generic, Backups: backups, Locations: locs}, nil
}

// restoreDoor lets restore creation check the backup it names, as the
// requester sees it, when the requester may read it.
func (c completedConfig) restoreDoor(backups *backupstorage.REST) *restorestorage.Door {
	return &restorestorage.Door{
		Backups: func(ctx context.Context, namespace, name string) (*ark.Backup, error) {
			obj, err := backups.Get(genericapirequest.WithNamespace(ctx, namespace), name, &metav1.GetOptions{})
			if err != nil {
				return nil, err
			}
			b, ok := obj.(*ark.Backup)
			if !ok {
				return nil, fmt.Errorf("backup storage returned %T", obj)
			}
			return b, nil
		},
		MayRead: func(ctx context.Context, namespace, name string) bool {
			return c.allowed(ctx, authorizer.AttributesRecord{Verb: "get", APIGroup: ark.GroupName, APIVersion: arkv1.SchemeGroupVersion.Version,
				Resource: "backups", Namespace: namespace, Name: name})
		},
		ConfigMap: c.ExtraConfig.ConfigMapAs,
	}
}

// lifetimes ties backups to their namespace's lifetime; administrators —
// whoever may list the home namespace's backups — see every lifetime.
func (c completedConfig) lifetimes() *backupstorage.Lifetimes {
	if c.ExtraConfig.NamespaceUID == nil || c.ExtraConfig.CurrentNamespaceUID == nil {
		return nil
	}
	home := c.ExtraConfig.HomeNamespace
	return &backupstorage.Lifetimes{
		NamespaceUID: c.ExtraConfig.NamespaceUID,
		CurrentUID:   c.ExtraConfig.CurrentNamespaceUID,
		Administrator: func(ctx context.Context) bool {
			return c.allowed(ctx, authorizer.AttributesRecord{Verb: "list", APIGroup: ark.GroupName, APIVersion: arkv1.SchemeGroupVersion.Version,
				Resource: "backups", Namespace: home})
		},
	}
}

// allowed asks the server's authorizer whether the request's user may do
// what attrs says (a resource request); no user or no authorizer is no.
func (c completedConfig) allowed(ctx context.Context, attrs authorizer.AttributesRecord) bool {
	u, ok := genericapirequest.UserFrom(ctx)
	authz := c.GenericConfig.Authorization.Authorizer
	if !ok || authz == nil {
		return false
	}
	attrs.User, attrs.ResourceRequest = u, true
	decision, _, err := authz.Authorize(ctx, attrs)
	return err == nil && decision == authorizer.DecisionAllow
}

// loopbackUID authenticates the server's loopback token the way a request
// carrying it is authenticated, and returns the identity's UID: a random
// value per process that no client outside the process can present.
func loopbackUID(c genericapiserver.CompletedConfig) (string, error) {
	if c.LoopbackClientConfig == nil || c.LoopbackClientConfig.BearerToken == "" || c.Authentication.Authenticator == nil {
		return "", errors.New("the server has no loopback token")
	}
	req, err := http.NewRequest(http.MethodGet, "/", nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "Bearer "+c.LoopbackClientConfig.BearerToken)
	resp, ok, err := c.Authentication.Authenticator.AuthenticateRequest(req)
	if err != nil || !ok {
		return "", fmt.Errorf("the loopback token does not authenticate: %v", err)
	}
	if resp.User.GetName() != user.APIServerUser || resp.User.GetUID() == "" {
		return "", fmt.Errorf("the loopback token authenticates as %q (uid %q)", resp.User.GetName(), resp.User.GetUID())
	}
	return resp.User.GetUID(), nil
}
