package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/dynamic"
)

// uninstallTarget is one object uninstall removes.
type uninstallTarget struct {
	gvk             schema.GroupVersionKind
	namespace, name string
}

func (t uninstallTarget) String() string {
	if t.namespace == "" {
		return fmt.Sprintf("%s/%s", lower(t.gvk.Kind), t.name)
	}
	return fmt.Sprintf("%s/%s -n %s", lower(t.gvk.Kind), t.name, t.namespace)
}

func lower(s string) string { return strings.ToLower(s) }

var (
	secretGVK    = schema.GroupVersionKind{Version: "v1", Kind: "Secret"}
	claimGVK     = schema.GroupVersionKind{Version: "v1", Kind: "PersistentVolumeClaim"}
	namespaceGVK = schema.GroupVersionKind{Version: "v1", Kind: "Namespace"}
)

// uninstallTargets lists what install made, in the order it is removed:
// first the APIService, so that nothing serves Ark's API while the rest
// goes (a namespace deleted later must not reach Ark's backups, whose
// deletion would remove them from the bucket); then the rest in the
// reverse of the order it was applied. Namespaces, the cluster's Ark
// identity (ark-provenance, which signed its backups) and the claim of the
// embedded etcd (Schedules, Restores, locations) are kept unless purge.
func uninstallTargets(purge bool) ([]uninstallTarget, error) {
	manifests, err := installManifests("", "", "", nil, nil)
	if err != nil {
		return nil, err
	}
	var applied []uninstallTarget
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader([]byte(manifests)), 4096)
	for {
		var obj unstructured.Unstructured
		if err := dec.Decode(&obj.Object); err == io.EOF {
			break
		} else if err != nil {
			return nil, err
		}
		if len(obj.Object) == 0 {
			continue
		}
		applied = append(applied, uninstallTarget{obj.GroupVersionKind(), obj.GetNamespace(), obj.GetName()})
	}
	// The Secrets install generates (certificates, --secret-file).
	applied = append(applied,
		uninstallTarget{secretGVK, installNamespace, caSecretName},
		uninstallTarget{secretGVK, installNamespace, servingSecretName},
		uninstallTarget{secretGVK, DefaultNamespace, credentialSecretName},
	)
	var first, rest, namespaces []uninstallTarget
	for i := len(applied) - 1; i >= 0; i-- {
		t := applied[i]
		switch {
		case t.gvk.Kind == "APIService":
			first = append(first, t)
		case t.gvk.Kind == "Namespace":
			namespaces = append(namespaces, t)
		default:
			rest = append(rest, t)
		}
	}
	out := append(first, rest...)
	if purge {
		out = append(out,
			uninstallTarget{secretGVK, installNamespace, "ark-provenance"},
			uninstallTarget{claimGVK, installNamespace, "data-ark-apiserver-0"},
		)
		out = append(out, namespaces...)
	}
	return out, nil
}

func newUninstallCommand(env *Env) *cobra.Command {
	var dryRun string
	var purge bool
	cmd := &cobra.Command{
		Use:   "uninstall",
		Short: "Remove what ark install made; the bucket and its backups are never touched",
		Long: `uninstall removes what install applied: first the APIService (from then on nothing serves Ark's
API, so nothing can delete a backup), then the StatefulSet, Service, RBAC, user roles and the Secrets
install generated (certificates, cloud-credentials).

It keeps, unless --purge: the namespaces ark-system and heptio-ark, the Secret ark-system/ark-provenance
(this cluster's Ark identity: the key its backups are signed with, so that a new install runs, expires
and deletes them as its own) and the claim data-ark-apiserver-0 (the embedded etcd: Schedules,
Restores, locations). --purge removes those too.

The bucket is never touched, with or without --purge: its backups stay, and an install pointed at it
finds them again.

--dry-run (or --dry-run=client) lists what would be removed; --dry-run=server has the cluster check
each deletion without doing it.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkDryRun(dryRun); err != nil {
				return err
			}
			targets, err := uninstallTargets(purge)
			if err != nil {
				return err
			}
			if dryRun == "client" {
				for _, t := range targets {
					fmt.Fprintf(env.Out, "%s would be deleted\n", t)
				}
				return nil
			}
			dyn, mapper, err := env.dynamicMapper()
			if err != nil {
				return err
			}
			if err := uninstall(cmd.Context(), env.Out, dyn, mapper, targets, dryRun == "server"); err != nil {
				return err
			}
			if !purge {
				fmt.Fprintf(env.Out, "Kept the namespaces, Secret %s/ark-provenance and claim %s/data-ark-apiserver-0 (--purge removes them).\n", installNamespace, installNamespace)
			}
			fmt.Fprintln(env.Out, "The bucket was not touched: its backups remain, and an install pointed at it finds them.")
			return nil
		},
	}
	cmd.Flags().StringVar(&dryRun, "dry-run", "none", `"client" (or just --dry-run) lists what would be removed, "server" has the cluster check each deletion without doing it`)
	cmd.Flags().Lookup("dry-run").NoOptDefVal = "client"
	cmd.Flags().BoolVar(&purge, "purge", false, "also remove the namespaces, this cluster's Ark identity (ark-provenance) and the embedded etcd's claim")
	return cmd
}

// uninstall deletes targets in order, reporting each; missing ones (or
// kinds the cluster does not serve) are skipped. The APIService must go
// first: if its deletion fails, nothing else is deleted.
func uninstall(ctx context.Context, out io.Writer, dyn dynamic.Interface, mapper meta.RESTMapper, targets []uninstallTarget, serverDryRun bool) error {
	opts := metav1.DeleteOptions{}
	suffix := ""
	if serverDryRun {
		opts.DryRun = []string{metav1.DryRunAll}
		suffix = " (server dry run)"
	}
	policy := metav1.DeletePropagationForeground
	opts.PropagationPolicy = &policy
	var errs []error
	for i, t := range targets {
		m, err := mapper.RESTMapping(t.gvk.GroupKind(), t.gvk.Version)
		if meta.IsNoMatchError(err) {
			continue
		}
		if err != nil {
			return fmt.Errorf("%s: %w", t, err)
		}
		ri := dyn.Resource(m.Resource)
		if t.namespace != "" {
			err = ri.Namespace(t.namespace).Delete(ctx, t.name, opts)
		} else {
			err = ri.Delete(ctx, t.name, opts)
		}
		switch {
		case apierrors.IsNotFound(err):
			fmt.Fprintf(out, "%s not found\n", t)
		case err != nil && i == 0 && t.gvk.Kind == "APIService":
			return fmt.Errorf("deleting %s, which must go first (so that nothing serves Ark's API while the rest goes): %w; nothing else was deleted", t, err)
		case err != nil:
			errs = append(errs, fmt.Errorf("deleting %s: %w", t, err))
		default:
			fmt.Fprintf(out, "%s deleted%s\n", t, suffix)
		}
	}
	return errors.Join(errs...)
}
