package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
	"github.com/arkproject/ark/pkg/provenance"
)

// newBackupAdopt takes over backups this cluster's Ark did not accept: a
// lost cluster's, found in a shared bucket after a disaster, or an earlier
// Ark's. Each one is a request to backups/adopt, so RBAC decides who may
// and the audit log says who did.
func newBackupAdopt(env *Env) *cobra.Command {
	var all, confirm bool
	var from string
	cmd := &cobra.Command{
		Use:               "adopt NAME... | --all [--from-cluster ID]",
		ValidArgsFunction: completeArgs(env, "backups"),
		Short:             "Take over backups another cluster's Ark made",
		Long: `Take over backups this cluster's Ark did not accept, so that this cluster
expires and deletes them from now on: those of a cluster that is gone
(disaster recovery from a shared bucket), or records an earlier Ark wrote.
The cluster they came from is recorded in the ark.heptio.com/adopted-from
annotation. Adopted backups never run here: one still New becomes
FailedValidation, one InProgress Failed.

Never adopt the backups of a cluster that still runs Ark on this bucket:
both would then expire and delete them. Every backup can be restored
without adopting it.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			switch {
			case len(args) > 0 && all:
				return fmt.Errorf("give names or --all, not both")
			case len(args) == 0 && !all:
				return fmt.Errorf("name the backups to adopt, or use --all")
			}
			client, err := env.Ark()
			if err != nil {
				return err
			}
			ns := env.Namespace()
			backups := client.ArkV1().Backups(ns)
			var todo []arkv1.Backup
			if all {
				list, err := backups.List(cmd.Context(), metav1.ListOptions{})
				if err != nil {
					return err
				}
				for _, b := range list.Items {
					if b.Status.Phase == arkv1.BackupPhaseCorrupt {
						fmt.Fprintf(env.Out, "Backup %q is Corrupt and cannot be adopted (delete it instead): %s\n", b.Name, b.Status.FailureReason)
						continue
					}
					if from != "" && origin(&b) != from {
						continue
					}
					todo = append(todo, b)
				}
			} else {
				for _, name := range args {
					b, err := backups.Get(cmd.Context(), name, metav1.GetOptions{})
					if err != nil {
						return err
					}
					todo = append(todo, *b)
				}
			}
			if len(todo) == 0 {
				fmt.Fprintf(env.Out, "No backups to adopt in namespace %s.\n", ns)
				return nil
			}
			names := make([]string, 0, len(todo))
			for _, b := range todo {
				names = append(names, b.Name)
			}
			if !confirm && !ask(env, fmt.Sprintf("Adopt backups %s in namespace %s, so this cluster expires and deletes them? [y/N] ", strings.Join(names, ", "), ns)) {
				fmt.Fprintln(env.Out, "Nothing adopted.")
				return nil
			}
			adopted := 0
			for i := range todo {
				b := &todo[i]
				got, err := backups.Adopt(cmd.Context(), b.Name, &arkv1.Backup{ObjectMeta: metav1.ObjectMeta{Name: b.Name, Namespace: ns, ResourceVersion: b.ResourceVersion}}, metav1.UpdateOptions{})
				if err != nil {
					return fmt.Errorf("adopting backup %q: %w", b.Name, err)
				}
				if got.ResourceVersion == b.ResourceVersion {
					fmt.Fprintf(env.Out, "Backup %q is already this cluster's.\n", b.Name)
					continue
				}
				adopted++
				fmt.Fprintf(env.Out, "Backup %q adopted from cluster %s; it is %s.\n", b.Name, got.Annotations[arkv1.AnnotationAdoptedFrom], phaseOf(got))
			}
			fmt.Fprintf(env.Out, "%d backup(s) adopted.\n", adopted)
			return nil
		},
	}
	cmd.Flags().BoolVar(&all, "all", false, "adopt every backup of the namespace this cluster's Ark did not accept")
	cmd.Flags().StringVar(&from, "from-cluster", "", "with --all, only the backups of this cluster ID (\"unsigned\" for records naming none)")
	cmd.Flags().BoolVar(&confirm, "confirm", false, "do not ask for confirmation")
	return cmd
}

// origin is the cluster a backup names, or "unsigned".
func origin(b *arkv1.Backup) string {
	if c := b.Annotations[provenance.ClusterAnnotation]; c != "" {
		return c
	}
	return "unsigned"
}

func phaseOf(b *arkv1.Backup) string {
	if b.Status.Phase == "" {
		return string(arkv1.BackupPhaseNew)
	}
	return string(b.Status.Phase)
}
