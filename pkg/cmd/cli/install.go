package cli

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/restmapper"

	"github.com/arkproject/ark/artifacts"
	"github.com/arkproject/ark/pkg/controllers/storagelocation"
	"github.com/arkproject/ark/pkg/provenance"
	"github.com/arkproject/ark/pkg/version"
)

var apiServiceGVR = schema.GroupVersionResource{Group: "apiregistration.k8s.io", Version: "v1", Resource: "apiservices"}

// checkBackupLocationURL refuses an --backup-location the server could
// not serve (a scheme it does not know, no bucket, a relative file:// path,
// an unknown option), with the server's own reading of it.
func checkBackupLocationURL(location string) error {
	if _, err := storagelocation.SpecFor(location); err != nil {
		return fmt.Errorf("--backup-location: %w\n  (give a URL such as gs://bucket/prefix, s3://bucket/prefix?region=eu-west-1, azure://container/prefix?storageAccount=NAME or file:///var/lib/ark/bucket)", err)
	}
	return nil
}

// installManifests returns artifacts/*.yaml with the user's settings
// applied: the image, the location, the CA bundle the APIService trusts
// (nil leaves the placeholder), and the generated documents, each put in
// name order among the files as if it were one (e.g. "35-tls.yaml").
func installManifests(image, location, credential string, caBundle []byte, generated map[string]string) (string, error) {
	entries, err := fs.ReadDir(artifacts.Manifests, ".")
	if err != nil {
		return "", err
	}
	docs := map[string]string{}
	for _, e := range entries {
		data, err := fs.ReadFile(artifacts.Manifests, e.Name())
		if err != nil {
			return "", err
		}
		docs[e.Name()] = string(data)
	}
	for name, doc := range generated {
		docs[name] = doc
	}
	names := make([]string, 0, len(docs))
	for n := range docs {
		names = append(names, n)
	}
	sort.Strings(names)
	var out strings.Builder
	for _, n := range names {
		if out.Len() > 0 {
			out.WriteString("---\n")
		}
		out.WriteString(docs[n])
	}
	s := out.String()
	if image != "" {
		s = strings.ReplaceAll(s, "ghcr.io/arkproject/ark-apiserver:v0.1.0", image)
	}
	const locationArg = "--backup-location=gs://my-ark-bucket/cluster-1"
	if credential != "" {
		// A line of its own after the location's, indented as it is.
		lines := strings.SplitAfter(s, "\n")
		for i, line := range lines {
			if indent, _, ok := strings.Cut(line, "- "+locationArg); ok {
				lines[i] = line + indent + "- --backup-location-credential=" + credential + "\n"
			}
		}
		s = strings.Join(lines, "")
	}
	if location != "" {
		s = strings.ReplaceAll(s, locationArg, "--backup-location="+location)
	}
	if caBundle != nil {
		s = strings.ReplaceAll(s, "UmVwbGFjZSB3aXRoIHRoZSBiYXNlNjQgUEVNIG9mIHlvdXIgQ0EK", base64.StdEncoding.EncodeToString(caBundle))
	}
	return s, nil
}

// The Secret install keeps --secret-file in, as Velero's install names it.
const (
	credentialSecretName = "cloud-credentials"
	credentialSecretKey  = "cloud"
)

func newInstallCommand(env *Env) *cobra.Command {
	var dryRun, image, location, caBundle, secretFile string
	var skipBucketCheck, sharedBucket bool
	var waitFor time.Duration
	cmd := &cobra.Command{
		Use:   "install",
		Short: "Install Ark into a cluster (or print the manifests with --dry-run)",
		Long: `install applies Ark's manifests (artifacts/): the ark-system and heptio-ark namespaces, RBAC,
the user roles, the Service, the StatefulSet (one replica, its embedded etcd on a PersistentVolume)
and the APIService.

ark-apiserver's serving certificate and the CA the APIService trusts are generated, kept in the
Secrets ark-system/ark-apiserver-tls and ark-system/ark-apiserver-ca: the serving certificate is
valid for a year and renewed when under a third of that is left (by ark-apiserver itself, and by
running install again), the CA for ten years. Running install again keeps what is still good. With
--ca-bundle-file the certificate is yours instead: create the Secret ark-system/ark-apiserver-tls
(tls.crt, tls.key) for ark-apiserver.ark-system.svc, signed by the CA in that file.

--backup-location is checked before anything is printed or applied. At start the server creates the
BackupStorageLocation "default" in heptio-ark from it (see ark backup-location); it is not among the
manifests, since the API that serves it is the one being installed.

--secret-file is the credential of --backup-location, as a location's spec.credential takes it (an
AWS shared credentials file, a GCP service account key, Azure's KEY=VALUE lines); it is kept in the
Secret heptio-ark/cloud-credentials (key "cloud") and the server opens the bucket with it
(--backup-location-credential). Without it the server uses its environment (e.g. Workload Identity).

Before anything is applied, install opens the bucket with that credential (or, without one, this
machine's environment) and reads its backup records: it must be reachable, and hold no backups of
another cluster's Ark unless --shared-bucket says sharing it is meant. --skip-bucket-check skips
this, for a bucket only the server can reach. A file:// location is checked only if its directory
is on this machine.

--wait waits until the APIService is Available, that is until kube-apiserver reaches ark-apiserver
and trusts its certificate, and says why not if it is not within the time given.

--dry-run (or --dry-run=client) prints the manifests, with freshly generated certificates (it does
not read the cluster); --dry-run=server sends them to the cluster for validation and admission
without persisting anything, as kubectl does.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			// Before anything is printed or applied: a location the server
			// cannot use would only fail when ark-apiserver starts.
			if cmd.Flags().Changed("backup-location") {
				if err := checkBackupLocationURL(location); err != nil {
					return err
				}
			}
			if err := checkDryRun(dryRun); err != nil {
				return err
			}
			if location == "" && dryRun != "client" {
				return errors.New("--backup-location is required to install: the bucket backups go to (--dry-run prints the manifests with a placeholder)")
			}
			if image == "" {
				image = version.Image()
				if image == "" && dryRun != "client" {
					return errors.New("--image is required: this ark is a development build, and no published image matches it (make image builds one)")
				}
			}
			generated := map[string]string{}
			var credential []byte
			credentialRef := ""
			if secretFile != "" {
				if location == "" {
					return errors.New("--secret-file is the credential of --backup-location: give both")
				}
				var err error
				if credential, err = os.ReadFile(secretFile); err != nil {
					return fmt.Errorf("--secret-file: %w", err)
				}
				doc, err := credentialSecret(credential)
				if err != nil {
					return err
				}
				generated["15-cloud-credentials.yaml"] = doc
				credentialRef = credentialSecretName + "/" + credentialSecretKey
			}
			// A client dry run reads nothing: not the cluster, not the bucket.
			var kube kubernetes.Interface
			if dryRun != "client" {
				var err error
				if kube, err = env.Kube(); err != nil {
					return err
				}
				if !skipBucketCheck {
					cluster, err := provenance.ClusterID(cmd.Context(), kube)
					if err != nil {
						return fmt.Errorf("identifying this cluster (the UID of namespace kube-system), to tell its backups from others': %w", err)
					}
					report, err := checkBucket(cmd.Context(), location, credential, cluster, sharedBucket)
					if err != nil {
						return err
					}
					fmt.Fprintln(env.Out, report)
				}
			}
			var bundle []byte
			if caBundle != "" {
				var err error
				if bundle, err = os.ReadFile(caBundle); err != nil {
					return fmt.Errorf("--ca-bundle-file: %w", err)
				}
			} else {
				pki, err := servingPKI(cmd.Context(), kube, time.Now())
				if err != nil {
					return err
				}
				if dryRun != "client" {
					fmt.Fprintf(env.Out, "%s\n", pki.describe())
				}
				docs, err := pki.manifests()
				if err != nil {
					return err
				}
				for name, doc := range docs {
					generated[name] = doc
				}
				bundle = pki.Bundle
			}
			manifests, err := installManifests(image, location, credentialRef, bundle, generated)
			if err != nil {
				return err
			}
			if dryRun == "client" {
				_, err := io.WriteString(env.Out, manifests)
				return err
			}
			if err := apply(cmd, env, manifests, dryRun == "server"); err != nil {
				return err
			}
			if waitFor > 0 && dryRun == "none" {
				return waitAvailable(cmd.Context(), env, waitFor)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&dryRun, "dry-run", "none", `"client" (or just --dry-run) prints the manifests, "server" validates them on the cluster without persisting`)
	cmd.Flags().Lookup("dry-run").NoOptDefVal = "client"
	cmd.Flags().StringVar(&image, "image", "", "ark-apiserver image (default: "+version.ImageRepository+":<this client's version>)")
	cmd.Flags().StringVar(&location, "backup-location", "", "backup storage location, e.g. gs://bucket/prefix or s3://bucket/prefix?region=eu-west-1")
	cmd.Flags().StringVar(&caBundle, "ca-bundle-file", "", "PEM file of the CA that signed ark-apiserver's serving certificate, when you provide the certificate (Secret ark-system/ark-apiserver-tls); without it one is generated")
	cmd.Flags().StringVar(&secretFile, "secret-file", "", "file holding the credential of --backup-location (AWS shared credentials file, GCP service account key, Azure KEY=VALUE lines), kept in Secret heptio-ark/cloud-credentials")
	cmd.Flags().BoolVar(&skipBucketCheck, "skip-bucket-check", false, "do not open the bucket from here before installing (for a bucket only the server can reach)")
	cmd.Flags().BoolVar(&sharedBucket, "shared-bucket", false, "install even though the bucket holds another cluster's backups: they are listed and restorable here, never run, expired or deleted")
	cmd.Flags().DurationVar(&waitFor, "wait", 0, "wait up to this long until the APIService is Available (e.g. --wait=5m); 0 does not wait")
	cmd.Flags().Lookup("wait").NoOptDefVal = "5m"
	return cmd
}

// waitAvailable waits until kube-apiserver reports Ark's APIService
// Available, printing its condition as it changes, and fails with the last
// reason if it is not within timeout.
func waitAvailable(ctx context.Context, env *Env, timeout time.Duration) error {
	dyn, err := env.Dynamic()
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Out, "Waiting up to %s for APIService v1.ark.heptio.com to be Available...\n", timeout)
	var last string
	err = wait.PollUntilContextTimeout(ctx, 2*time.Second, timeout, true, func(ctx context.Context) (bool, error) {
		svc, err := dyn.Resource(apiServiceGVR).Get(ctx, arkAPIService, metav1.GetOptions{})
		if err != nil {
			last = err.Error()
			return false, nil
		}
		status, reason, message := condition(svc.Object, "Available")
		if now := fmt.Sprintf("Available=%s %s: %s", status, reason, message); now != last {
			last = now
			if status != "True" {
				fmt.Fprintf(env.Out, "  %s\n", now)
			}
		}
		return status == "True", nil
	})
	if err != nil {
		return fmt.Errorf("APIService v1.ark.heptio.com is not Available after %s: %s (kubectl -n ark-system logs statefulset/ark-apiserver says more)", timeout, last)
	}
	fmt.Fprintln(env.Out, "APIService v1.ark.heptio.com is Available: Ark is served.")
	return nil
}

// automanagedLabel marks the APIServices kube-apiserver makes for the
// groups of CRDs; its autoregister controller sets their spec back to the
// CRDs' whenever it changes.
const automanagedLabel = "kube-aggregator.kubernetes.io/automanaged"

// releaseAutomanaged takes the APIService name out of kube-apiserver's
// hands before it is applied. On a cluster that ran Heptio Ark, whose CRDs
// share the group ark.heptio.com, kube-apiserver made v1.ark.heptio.com for
// those CRDs and would turn Ark's APIService back into it at once: without
// its label it leaves it alone, and the CRDs' objects stay stored, hidden,
// for ark migrate to have read before (see ark migrate --save-plan).
func releaseAutomanaged(ctx context.Context, out io.Writer, ri dynamic.NamespaceableResourceInterface, name string) error {
	svc, err := ri.Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading APIService %s: %w", name, err)
	}
	if _, ok := svc.GetLabels()[automanagedLabel]; !ok {
		return nil
	}
	patch := []byte(`{"metadata":{"labels":{"` + automanagedLabel + `":null}}}`)
	if _, err := ri.Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{FieldManager: "ark-install"}); err != nil {
		return fmt.Errorf("taking APIService %s over from kube-apiserver, which made it for CRDs of the same group (Heptio Ark's?): %w", name, err)
	}
	fmt.Fprintf(out, "apiservice/%s was kube-apiserver's, for CRDs of the same group (Heptio Ark's?): taken over; their objects stay stored, hidden (ark migrate --help)\n", name)
	return nil
}

// checkDryRun refuses a --dry-run other than kubectl's.
func checkDryRun(dryRun string) error {
	switch dryRun {
	case "client", "none", "server":
		return nil
	}
	return fmt.Errorf(`--dry-run must be "none", "client" or "server", not %q`, dryRun)
}

// dynamicMapper returns a dynamic client and a mapper from kinds to its
// resources, through the cluster's discovery: what install and uninstall
// act on the manifests' objects with.
func (e *Env) dynamicMapper() (dynamic.Interface, meta.RESTMapper, error) {
	kube, err := e.Kube()
	if err != nil {
		return nil, nil, err
	}
	dyn, err := e.Dynamic()
	if err != nil {
		return nil, nil, err
	}
	return dyn, restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(kube.Discovery())), nil
}

// apply server-side applies every document, as `kubectl apply --server-side`
// would; with serverDryRun the API server validates and admits each one but
// persists nothing.
func apply(cmd *cobra.Command, env *Env, manifests string, serverDryRun bool) error {
	dyn, mapper, err := env.dynamicMapper()
	if err != nil {
		return err
	}
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader([]byte(manifests)), 4096)
	for {
		var obj unstructured.Unstructured
		if err := dec.Decode(&obj.Object); err == io.EOF {
			return nil
		} else if err != nil {
			return err
		}
		if len(obj.Object) == 0 {
			continue
		}
		gvk := obj.GroupVersionKind()
		m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			return fmt.Errorf("%s %s: %w", gvk.Kind, obj.GetName(), err)
		}
		data, err := obj.MarshalJSON()
		if err != nil {
			return err
		}
		ri := dyn.Resource(m.Resource)
		if gvk.Kind == "APIService" && !serverDryRun {
			if err := releaseAutomanaged(cmd.Context(), env.Out, ri, obj.GetName()); err != nil {
				return err
			}
		}
		force := true
		opts := metav1.PatchOptions{FieldManager: "ark-install", Force: &force}
		suffix := ""
		if serverDryRun {
			opts.DryRun = []string{metav1.DryRunAll}
			suffix = " (server dry run)"
		}
		if obj.GetNamespace() != "" {
			_, err = ri.Namespace(obj.GetNamespace()).Patch(cmd.Context(), obj.GetName(), types.ApplyPatchType, data, opts)
		} else {
			_, err = ri.Patch(cmd.Context(), obj.GetName(), types.ApplyPatchType, data, opts)
		}
		if err != nil {
			return fmt.Errorf("applying %s %s: %w", gvk.Kind, obj.GetName(), err)
		}
		fmt.Fprintf(env.Out, "%s/%s applied%s\n", strings.ToLower(gvk.Kind), obj.GetName(), suffix)
	}
}
