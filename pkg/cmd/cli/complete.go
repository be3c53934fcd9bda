package cli

import (
	"slices"
	"strings"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// completeNames completes the names of the namespace's backups, restores or
// schedules (resource), for `ark backup describe <TAB>` and the like. Names
// already on the command line are not offered again. If the server cannot
// be asked, nothing is offered, as kubectl does.
func completeNames(env *Env, resource string) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		objs, err := getObjects(cmd.Context(), env, resource, nil, getOptions{})
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var out []cobra.Completion
		for _, obj := range objs {
			name := obj.(metav1.Object).GetName()
			if strings.HasPrefix(name, toComplete) && !slices.Contains(args, name) {
				out = append(out, name)
			}
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}

// completeArgs is completeNames for a command's arguments: nothing once the
// command takes no more of them (`ark backup logs NAME <TAB>`).
func completeArgs(env *Env, resource string) cobra.CompletionFunc {
	names := completeNames(env, resource)
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if cmd.Args != nil && cmd.Args(cmd, append(args, toComplete)) != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return names(cmd, args, toComplete)
	}
}

// completeFlag completes a flag's value with names of resource.
func completeFlag(env *Env, cmd *cobra.Command, flag, resource string) {
	// the error only says the flag does not exist: a bug caught by the tests
	_ = cmd.RegisterFlagCompletionFunc(flag, completeNames(env, resource))
}
