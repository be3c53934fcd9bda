package cli

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
	"github.com/arkproject/ark/pkg/apis/ark/validation"
)

func newRestoreCommand(env *Env) *cobra.Command {
	cmd := &cobra.Command{Use: "restore", Aliases: []string{"restores"}, Short: "Work with restores"}
	cmd.AddCommand(newRestoreCreate(env), newGet(env, "restores"), newDescribe(env, "restores"),
		newDelete(env, "restores"), newContent(env, "restore", "logs"), newContent(env, "restore", "results"))
	return cmd
}

// DefaultRestoreName is <backup>-<YYYYMMDDhhmmss>, the seed's default.
// A backup's name may be longer than a restore's may be (the bucket may hold
// one Ark did not create, and restores' file names are longer), so a long
// one is cut to keep the default a valid restore name, without the dots
// and dashes the cut may leave: "<name>.-<stamp>" is not a DNS subdomain.
func DefaultRestoreName(source string, now time.Time) string {
	stamp := now.UTC().Format("20060102150405")
	if max := validation.MaxRestoreNameLength() - len(stamp) - 1; len(source) > max {
		source = strings.TrimRight(source[:max], ".-")
	}
	return fmt.Sprintf("%s-%s", source, stamp)
}

func newRestoreCreate(env *Env) *cobra.Command {
	var flags filterFlags
	var fromBackup, fromSchedule, policy, modifierConfigMap string
	var mappings, statusInclude, statusExclude []string
	var restoreVolumes, preserveNodePorts, wait, preview bool
	cmd := &cobra.Command{
		Use:   "create [NAME] --from-backup [NAMESPACE/]BACKUP | --from-schedule [NAMESPACE/]SCHEDULE",
		Short: "Restore a backup",
		Example: `  ark restore create --from-backup nginx-backup
  ark restore create --from-backup full --namespace-mappings abc:def,123:456 --wait
  ark restore create -n shop-copy --from-backup shop/nightly --namespace-mappings shop:shop-copy
  ark restore create latest --from-schedule nightly --include-resources deployments,configmaps
  ark restore create --from-backup nightly --preview --wait   # what would it do? nothing is changed`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if (fromBackup == "") == (fromSchedule == "") {
				return fmt.Errorf("give exactly one of --from-backup and --from-schedule")
			}
			m, err := parseMappings(mappings)
			if err != nil {
				return err
			}
			sel, err := flags.labelSelector()
			if err != nil {
				return err
			}
			// NAMESPACE/NAME takes a backup (or schedule) of another namespace.
			var fromNamespace string
			for _, from := range []*string{&fromBackup, &fromSchedule} {
				if ns, n, ok := strings.Cut(*from, "/"); ok {
					fromNamespace, *from = ns, n
				}
			}
			name := DefaultRestoreName(fromBackup+fromSchedule, time.Now())
			if len(args) == 1 {
				name = args[0]
			}
			r := &arkv1.Restore{
				ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: env.Namespace()},
				Spec: arkv1.RestoreSpec{
					BackupName: fromBackup, ScheduleName: fromSchedule, BackupNamespace: fromNamespace,
					IncludedNamespaces: flags.includeNamespaces, ExcludedNamespaces: flags.excludeNamespaces,
					IncludedResources: flags.includeResources, ExcludedResources: flags.excludeResources,
					LabelSelector: sel, NamespaceMapping: m,
					IncludeClusterResources: flags.includeClusterResources.value,
					RestorePVs:              &restoreVolumes,
					ExistingResourcePolicy:  arkv1.ExistingResourcePolicy(policy),
					Preview:                 preview,
				},
			}
			// Sent only when given, so a restore without the flag leaves the
			// choice to each Service's annotation.
			if cmd.Flags().Changed("preserve-nodeports") {
				r.Spec.PreserveNodePorts = &preserveNodePorts
			}
			if len(statusInclude) > 0 {
				r.Spec.RestoreStatus = &arkv1.RestoreStatusSpec{IncludedResources: statusInclude, ExcludedResources: statusExclude}
			}
			if modifierConfigMap != "" {
				r.Spec.ResourceModifier = &arkv1.ResourceModifierReference{Kind: "ConfigMap", Name: modifierConfigMap}
			}
			client, err := env.Ark()
			if err != nil {
				return err
			}
			created, err := client.ArkV1().Restores(r.Namespace).Create(cmd.Context(), r, metav1.CreateOptions{})
			if err != nil {
				return err
			}
			fmt.Fprintf(env.Out, "Restore %q submitted.\n", created.Name)
			if !wait {
				fmt.Fprintf(env.Out, "Run `%[1]s restore describe %[2]s -n %[3]s` or `%[1]s restore results %[2]s -n %[3]s` for more.\n", env.Name, created.Name, created.Namespace)
				return nil
			}
			if err := waitRestore(cmd.Context(), env, created.Namespace, created.Name); err != nil || !preview {
				return err
			}
			done, err := client.ArkV1().Restores(created.Namespace).Get(cmd.Context(), created.Name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			fmt.Fprintf(env.Out, "Nothing was changed. A restore would: %s.\n", previewString(done.Status.Preview))
			return nil
		},
	}
	flags.add(cmd.Flags())
	cmd.Flags().StringVar(&fromBackup, "from-backup", "", "backup to restore; NAMESPACE/NAME for another namespace's")
	cmd.Flags().StringVar(&fromSchedule, "from-schedule", "", "restore the newest completed backup of this schedule; NAMESPACE/NAME for another namespace's")
	completeFlag(env, cmd, "from-backup", "backups")
	completeFlag(env, cmd, "from-schedule", "schedules")
	cmd.Flags().StringSliceVar(&mappings, "namespace-mappings", nil, "restore namespaces under other names: src:dst,src2:dst2")
	cmd.Flags().BoolVar(&restoreVolumes, "restore-volumes", true, "restore persistent volumes from their snapshots")
	cmd.Flags().BoolVar(&preserveNodePorts, "preserve-nodeports", false, "keep the node ports of restored services instead of letting the cluster assign new ones")
	cmd.Flags().StringVar(&policy, "existing-resource-policy", "none", "what to do with objects that exist: none (skip, warn) or update")
	cmd.Flags().BoolVarP(&wait, "wait", "w", false, "wait for the restore to finish, showing progress")
	cmd.Flags().StringSliceVar(&statusInclude, "status-include-resources", nil, "resources whose backed-up status is written back after they are created (e.g. widgets.example.com); * for all")
	cmd.Flags().StringSliceVar(&statusExclude, "status-exclude-resources", nil, "resources whose status is never restored")
	cmd.Flags().StringVar(&modifierConfigMap, "resource-modifier-configmap", "", "a ConfigMap in the restore's namespace with resource modifier rules that patch objects before they are created (see README)")
	cmd.Flags().BoolVar(&preview, "preview", false, "only preview: send every create and update with dryRun=All, so the API server checks them and nothing is changed, and report per item what a restore would do")
	return cmd
}

func waitRestore(ctx context.Context, env *Env, ns, name string) error {
	client, err := env.Ark()
	if err != nil {
		return err
	}
	return waitOperation(ctx, env, "restore", name,
		fmt.Sprintf("See `%[1]s restore describe %[2]s -n %[3]s` and `%[1]s restore results %[2]s -n %[3]s`.", env.Name, name, ns),
		func(ctx context.Context) (opStatus, error) {
			r, err := client.ArkV1().Restores(ns).Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return opStatus{}, err
			}
			return restoreStatus(r), nil
		})
}

// previewString says what a preview found, in one line.
func previewString(p *arkv1.RestorePreview) string {
	if p == nil {
		return "<not yet>"
	}
	return fmt.Sprintf("create %d, update %d, skip %d; %d would conflict, %d would be denied, %d would fail",
		p.WouldCreate, p.WouldUpdate, p.WouldSkip, p.WouldConflict, p.WouldBeDenied, p.WouldFail)
}
