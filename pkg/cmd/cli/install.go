package cli

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/restmapper"

	"github.com/arkproject/ark/artifacts"
	"github.com/arkproject/ark/pkg/controllers/storagelocation"
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

// installManifests returns artifacts/*.yaml with the user's settings applied.
func installManifests(image, location, caBundleFile string) (string, error) {
	entries, err := fs.ReadDir(artifacts.Manifests, ".")
	if err != nil {
		return "", err
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	var out strings.Builder
	for _, n := range names {
		data, err := fs.ReadFile(artifacts.Manifests, n)
		if err != nil {
			return "", err
		}
		if out.Len() > 0 {
			out.WriteString("---\n")
		}
		out.Write(data)
	}
	s := out.String()
	if image != "" {
		s = strings.ReplaceAll(s, "ghcr.io/arkproject/ark-apiserver:v0.1.0", image)
	}
	if location != "" {
		s = strings.ReplaceAll(s, "--backup-location=gs://my-ark-bucket/cluster-1", "--backup-location="+location)
	}
	if caBundleFile != "" {
		ca, err := os.ReadFile(caBundleFile)
		if err != nil {
			return "", fmt.Errorf("--ca-bundle-file: %w", err)
		}
		s = strings.ReplaceAll(s, "UmVwbGFjZSB3aXRoIHRoZSBiYXNlNjQgUEVNIG9mIHlvdXIgQ0EK", base64.StdEncoding.EncodeToString(ca))
	}
	return s, nil
}

func newInstallCommand(env *Env) *cobra.Command {
	var dryRun, image, location, caBundle string
	cmd := &cobra.Command{
		Use:   "install",
		Short: "Install Ark into a cluster (or print the manifests with --dry-run)",
		Long: `install applies Ark's manifests (artifacts/): the ark-system and heptio-ark namespaces, RBAC,
the user roles, the Service, the StatefulSet (one replica, its embedded etcd on a PersistentVolume)
and the APIService. The serving certificate is yours to
provide (Secret ark-system/ark-apiserver-tls), with its CA given by --ca-bundle-file.

--backup-location is checked before anything is printed or applied. At start the server creates the
BackupStorageLocation "default" in heptio-ark from it (see ark backup-location); it is not among the
manifests, since the API that serves it is the one being installed.

--dry-run (or --dry-run=client) prints the manifests; --dry-run=server sends them to the cluster
for validation and admission without persisting anything, as kubectl does.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			// Before anything is printed or applied: a location the server
			// cannot use would only fail when ark-apiserver starts.
			if cmd.Flags().Changed("backup-location") {
				if err := checkBackupLocationURL(location); err != nil {
					return err
				}
			}
			manifests, err := installManifests(image, location, caBundle)
			if err != nil {
				return err
			}
			switch dryRun {
			case "client":
				_, err := io.WriteString(env.Out, manifests)
				return err
			case "none", "server":
			default:
				return fmt.Errorf(`--dry-run must be "none", "client" or "server", not %q`, dryRun)
			}
			if caBundle == "" {
				return fmt.Errorf("--ca-bundle-file is required to install: the APIService must trust ark-apiserver's serving certificate (see --help; --dry-run prints the manifests)")
			}
			return apply(cmd, env, manifests, dryRun == "server")
		},
	}
	cmd.Flags().StringVar(&dryRun, "dry-run", "none", `"client" (or just --dry-run) prints the manifests, "server" validates them on the cluster without persisting`)
	cmd.Flags().Lookup("dry-run").NoOptDefVal = "client"
	cmd.Flags().StringVar(&image, "image", "", "ark-apiserver image")
	cmd.Flags().StringVar(&location, "backup-location", "", "backup storage location, e.g. gs://bucket/prefix or s3://bucket/prefix?region=eu-west-1")
	cmd.Flags().StringVar(&caBundle, "ca-bundle-file", "", "PEM file of the CA that signed ark-apiserver's serving certificate")
	return cmd
}

// apply server-side applies every document, as `kubectl apply --server-side`
// would; with serverDryRun the API server validates and admits each one but
// persists nothing.
func apply(cmd *cobra.Command, env *Env, manifests string, serverDryRun bool) error {
	kube, err := env.Kube()
	if err != nil {
		return err
	}
	dyn, err := env.Dynamic()
	if err != nil {
		return err
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(kube.Discovery()))
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
