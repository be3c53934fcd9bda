package cli

import (
	"fmt"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
	"github.com/arkproject/ark/pkg/version"
)

func newVersionCommand(env *Env) *cobra.Command {
	var clientOnly bool
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Show the client version and what the server serves",
		RunE: func(cmd *cobra.Command, args []string) error {
			fmt.Fprintf(env.Out, "Client: ark %s (API %s)\n", version.Get(), arkv1.SchemeGroupVersion)
			if clientOnly {
				return nil
			}
			kube, err := env.Kube()
			if err != nil {
				return err
			}
			v, err := kube.Discovery().ServerVersion()
			if err != nil {
				return err
			}
			fmt.Fprintf(env.Out, "Kubernetes: %s\n", v.GitVersion)
			_, err = kube.Discovery().ServerResourcesForGroupVersion(arkv1.SchemeGroupVersion.String())
			if err != nil {
				fmt.Fprintf(env.Out, "Server: %s is not served: %v\n", arkv1.SchemeGroupVersion, err)
				return &exitError{code: 1}
			}
			status := "served"
			if dyn, err := env.Dynamic(); err == nil {
				if svc, err := dyn.Resource(apiServiceGVR).Get(cmd.Context(), "v1.ark.heptio.com", metav1.GetOptions{}); err == nil {
					status = fmt.Sprintf("served by APIService v1.ark.heptio.com (%s)", conditionStatus(svc.Object, "Available"))
				}
			}
			fmt.Fprintf(env.Out, "Server: %s %s\n", arkv1.SchemeGroupVersion, status)
			return nil
		},
	}
	cmd.Flags().BoolVar(&clientOnly, "client", false, "only the client version")
	return cmd
}

func conditionStatus(obj map[string]any, condType string) string {
	status, _ := obj["status"].(map[string]any)
	conds, _ := status["conditions"].([]any)
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if m["type"] == condType {
			return fmt.Sprintf("%s=%v", condType, m["status"])
		}
	}
	return condType + "=Unknown"
}
