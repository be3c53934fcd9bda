package cli

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// newBackupSetTTL changes how long a backup is kept, the one thing of a
// finished backup's spec that may change; its expiration follows from when
// it started.
func newBackupSetTTL(env *Env) *cobra.Command {
	return &cobra.Command{
		Use:               "set-ttl NAME DURATION",
		ValidArgsFunction: completeArgs(env, "backups"),
		Short:             "Change how long a backup is kept (e.g. 720h)",
		Args:              cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			ttl, err := time.ParseDuration(args[1])
			if err != nil || ttl < 0 {
				return fmt.Errorf("DURATION %q: want a duration such as 720h or 90m", args[1])
			}
			client, err := env.Ark()
			if err != nil {
				return err
			}
			patch, _ := json.Marshal(map[string]any{"spec": map[string]any{"ttl": metav1.Duration{Duration: ttl}}})
			b, err := client.ArkV1().Backups(env.Namespace()).Patch(cmd.Context(), args[0], types.MergePatchType, patch, metav1.PatchOptions{})
			if err != nil {
				return err
			}
			if b.Status.Expiration != nil {
				fmt.Fprintf(env.Out, "Backup %q is kept for %s: it expires at %s.\n", b.Name, ttl, b.Status.Expiration.UTC().Format(time.RFC3339))
			} else {
				fmt.Fprintf(env.Out, "Backup %q is kept for %s once it has run.\n", b.Name, ttl)
			}
			return nil
		},
	}
}
