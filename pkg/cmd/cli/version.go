package cli

import (
	"context"
	"fmt"
	"io"
	"slices"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
	"github.com/arkproject/ark/pkg/version"
)

// serverStatusResource answers which build of Ark serves the API.
const serverStatusResource = "serverstatusrequests"

// serverBuildUnknown starts the line that says why the server's build is
// not known; ark debug looks for it to list what it could not collect.
const serverBuildUnknown = "Server: ark version unknown: "

func newVersionCommand(env *Env) *cobra.Command {
	var clientOnly bool
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Show the client version, the server version and what the server serves",
		Long: `Show the client version, the Kubernetes version, whether Ark's API is served, and the
version of the Ark server that serves it. The server's version is asked for with a
ServerStatusRequest created in the namespace of -n (default heptio-ark): the server
answers it and stores nothing. Whoever may create serverstatusrequests there may ask
(Kubernetes' view, edit and admin roles, and Ark's roles, grant it).`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return printVersions(cmd.Context(), env, env.Out, clientOnly)
		},
	}
	cmd.Flags().BoolVar(&clientOnly, "client", false, "only the client version")
	return cmd
}

// printVersions writes what `ark version` prints to w; ark debug writes the
// same into its bundle's version.txt.
func printVersions(ctx context.Context, env *Env, w io.Writer, clientOnly bool) error {
	fmt.Fprintf(w, "Client: ark %s (API %s)\n", version.Get(), arkv1.SchemeGroupVersion)
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
	fmt.Fprintf(w, "Kubernetes: %s\n", v.GitVersion)
	served, err := kube.Discovery().ServerResourcesForGroupVersion(arkv1.SchemeGroupVersion.String())
	if err != nil {
		fmt.Fprintf(w, "Server: %s is not served: %v\n", arkv1.SchemeGroupVersion, err)
		return &exitError{code: 1}
	}
	status := "served"
	if dyn, err := env.Dynamic(); err == nil {
		if svc, err := dyn.Resource(apiServiceGVR).Get(ctx, arkAPIService, metav1.GetOptions{}); err == nil {
			status = fmt.Sprintf("served by APIService v1.ark.heptio.com (%s)", conditionStatus(svc.Object, "Available"))
		}
	}
	fmt.Fprintf(w, "Server: %s %s\n", arkv1.SchemeGroupVersion, status)
	return serverBuild(ctx, env, w, served)
}

// serverBuild prints the build of the Ark server, which it learns by
// creating a ServerStatusRequest: kube-apiserver answers /version itself,
// so Ark's version can only come through Ark's group. A server older than
// the resource and a user who may not create it still get the rest of the
// output and exit 0; any other failure is an error.
func serverBuild(ctx context.Context, env *Env, w io.Writer, served *metav1.APIResourceList) error {
	const unknown = serverBuildUnknown
	if !servesVerb(served, serverStatusResource, "create") {
		fmt.Fprintln(w, unknown+"this Ark server does not serve serverstatusrequests (it is older than this client)")
		return nil
	}
	client, err := env.Ark()
	if err != nil {
		return err
	}
	ns := env.Namespace()
	answer, err := client.ArkV1().ServerStatusRequests(ns).Create(ctx, &arkv1.ServerStatusRequest{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "ark-version-"},
	}, metav1.CreateOptions{})
	switch {
	case apierrors.IsForbidden(err):
		fmt.Fprintf(w, "%syou may not create serverstatusrequests in namespace %q (name one where you may with -n; Kubernetes' view, edit and admin roles grant it)\n", unknown, ns)
		return nil
	case apierrors.IsMethodNotSupported(err):
		fmt.Fprintln(w, unknown+"this Ark server does not answer serverstatusrequests (it is older than this client)")
		return nil
	case err != nil:
		fmt.Fprintln(w, unknown+explain(err))
		return &exitError{code: 1}
	case answer.Status.Phase != arkv1.ServerStatusRequestPhaseProcessed:
		fmt.Fprintf(w, "%sthe server did not process the request (phase %q)\n", unknown, answer.Status.Phase)
		return &exitError{code: 1}
	}
	s := answer.Status
	fmt.Fprintf(w, "Server: ark %s\n", version.Info{Version: s.ServerVersion, Commit: s.Commit, GoVersion: s.GoVersion, Platform: s.Platform})
	return nil
}

// servesVerb reports whether discovery lists verb on resource.
func servesVerb(list *metav1.APIResourceList, resource, verb string) bool {
	if list == nil {
		return false
	}
	for _, r := range list.APIResources {
		if r.Name == resource {
			return slices.Contains(r.Verbs, verb)
		}
	}
	return false
}

func conditionStatus(obj map[string]any, condType string) string {
	status, _, _ := condition(obj, condType)
	return condType + "=" + status
}
