package cli

import (
	"fmt"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
)

func newScheduleCommand(env *Env) *cobra.Command {
	cmd := &cobra.Command{Use: "schedule", Aliases: []string{"schedules"}, Short: "Work with schedules"}
	cmd.AddCommand(newScheduleCreate(env), newGet(env, "schedules"), newDescribe(env, "schedules"),
		newDelete(env, "schedules"), newPause(env, true), newPause(env, false))
	return cmd
}

func newScheduleCreate(env *Env) *cobra.Command {
	var flags backupFlags
	var schedule string
	var paused bool
	cmd := &cobra.Command{
		Use:   "create NAME --schedule CRON",
		Short: "Create a schedule of backups",
		Example: `  ark schedule create nightly --schedule "0 3 * * *" --include-namespaces shop --ttl 168h0m0s
  ark schedule create often --schedule "@every 6h" --snapshot-volumes=false --paused`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if schedule == "" {
				return fmt.Errorf("--schedule is required: a cron expression such as \"0 */6 * * *\" or \"@every 6h\"")
			}
			spec, err := flags.spec()
			if err != nil {
				return err
			}
			client, err := env.Ark()
			if err != nil {
				return err
			}
			if err := checkLocation(cmd.Context(), env, client, spec.StorageLocation); err != nil {
				return err
			}
			s := &arkv1.Schedule{
				ObjectMeta: metav1.ObjectMeta{Name: args[0], Namespace: env.Namespace()},
				Spec:       arkv1.ScheduleSpec{Schedule: schedule, Template: spec, Paused: paused},
			}
			if _, err := client.ArkV1().Schedules(s.Namespace).Create(cmd.Context(), s, metav1.CreateOptions{}); err != nil {
				return err
			}
			fmt.Fprintf(env.Out, "Schedule %q created", s.Name)
			if paused {
				fmt.Fprint(env.Out, " (paused)")
			}
			fmt.Fprintln(env.Out, ".")
			return nil
		},
	}
	flags.add(cmd.Flags())
	cmd.Flags().StringVar(&schedule, "schedule", "", "cron expression: five fields, @daily, @every 6h, optionally CRON_TZ=<zone> first")
	cmd.Flags().BoolVar(&paused, "paused", false, "create the schedule paused")
	completeFlag(env, cmd, "storage-location", locationsResource)
	completeFlag(env, cmd, "volume-snapshot-locations", snapshotLocationsResource)
	return cmd
}

func newPause(env *Env, pause bool) *cobra.Command {
	verb := "pause"
	if !pause {
		verb = "unpause"
	}
	return &cobra.Command{
		Use:               verb + " NAME...",
		ValidArgsFunction: completeArgs(env, "schedules"),
		Short:             verb + " schedules",
		Args:              cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			client, err := env.Ark()
			if err != nil {
				return err
			}
			patch := []byte(fmt.Sprintf(`{"spec":{"paused":%t}}`, pause))
			for _, name := range args {
				if _, err := client.ArkV1().Schedules(env.Namespace()).Patch(cmd.Context(), name, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
					return err
				}
				fmt.Fprintf(env.Out, "Schedule %q %sd.\n", name, verb)
			}
			return nil
		},
	}
}
