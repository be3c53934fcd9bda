// Package cli is the ark command line. It talks to Ark's API through the
// kubeconfig, with kubectl's conventions: --kubeconfig, --context, -n, -o.
package cli

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/arkproject/ark/pkg/generated/clientset/versioned"
)

// DefaultNamespace is Ark's home namespace, used when neither -n nor the
// kubeconfig names one... for the kubeconfig's namespace "default" too.
const DefaultNamespace = "heptio-ark"

// Env is what commands share: streams and clients made from the flags.
type Env struct {
	In       io.Reader
	Out, Err io.Writer
	// Name is how the user invoked us ("ark" or "kubectl ark"), for hints.
	Name  string
	flags *genericclioptions.ConfigFlags
	// for tests
	ark  versioned.Interface
	kube kubernetes.Interface
	dyn  dynamic.Interface
}

// RESTConfig returns the client configuration from kubeconfig and flags.
func (e *Env) RESTConfig() (*rest.Config, error) {
	cfg, err := e.flags.ToRESTConfig()
	if err != nil {
		return nil, err
	}
	cfg.QPS, cfg.Burst = 50, 100
	return cfg, nil
}

// Ark returns the Ark clientset.
func (e *Env) Ark() (versioned.Interface, error) {
	if e.ark != nil {
		return e.ark, nil
	}
	cfg, err := e.RESTConfig()
	if err != nil {
		return nil, err
	}
	return versioned.NewForConfig(cfg)
}

// Kube returns the Kubernetes clientset.
func (e *Env) Kube() (kubernetes.Interface, error) {
	if e.kube != nil {
		return e.kube, nil
	}
	cfg, err := e.RESTConfig()
	if err != nil {
		return nil, err
	}
	return kubernetes.NewForConfig(cfg)
}

// dynamicClient returns the dynamic client of tests, else Dynamic's.
func (e *Env) dynamicClient() (dynamic.Interface, error) {
	if e.dyn != nil {
		return e.dyn, nil
	}
	return e.Dynamic()
}

// Dynamic returns a dynamic client.
func (e *Env) Dynamic() (dynamic.Interface, error) {
	cfg, err := e.RESTConfig()
	if err != nil {
		return nil, err
	}
	return dynamic.NewForConfig(cfg)
}

// Namespace is -n, else Ark's home namespace. (The kubeconfig's namespace
// is usually "default", where Ark objects rarely live.)
func (e *Env) Namespace() string {
	if e.flags.Namespace != nil && *e.flags.Namespace != "" {
		return *e.flags.Namespace
	}
	return DefaultNamespace
}

// NewRootCommand builds the ark command tree.
func NewRootCommand(name string, in io.Reader, out, errOut io.Writer) (*cobra.Command, *Env) {
	env := &Env{In: in, Out: out, Err: errOut, Name: name, flags: genericclioptions.NewConfigFlags(true)}
	root := &cobra.Command{
		Use:   "ark",
		Short: "Back up and restore Kubernetes clusters",
		// cobra names a command by the first word of Use; the display name
		// lets help say "kubectl ark backup ..." when run as a plugin.
		Annotations:   map[string]string{cobra.CommandDisplayNameAnnotation: name},
		Long:          "ark backs up Kubernetes objects and persistent volumes to object storage, restores all or part of a backup\n(optionally into other namespaces), and takes backups on schedules. It talks to Ark's API through your kubeconfig.",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(in)
	root.SetOut(out)
	root.SetErr(errOut)
	env.flags.AddFlags(root.PersistentFlags())
	root.AddCommand(
		newBackupCommand(env),
		newRestoreCommand(env),
		newScheduleCommand(env),
		newLocationCommand(env),
		newSnapshotLocationCommand(env),
		newVersionCommand(env),
		newInstallCommand(env),
		newDebugCommand(env),
		newUninstallCommand(env),
		newMigrateCommand(env),
	)
	root.AddCommand(newVerbCommands(env)...)
	return root, env
}

// Main runs the command line and returns the exit code.
func Main(args []string, in io.Reader, out, errOut io.Writer) int {
	name := "ark"
	if base := filepath.Base(args[0]); strings.HasPrefix(base, "kubectl-") {
		name = "kubectl " + strings.TrimPrefix(base, "kubectl-")
	}
	root, _ := NewRootCommand(name, in, out, errOut)
	root.SetArgs(args[1:])
	if err := root.Execute(); err != nil {
		var exit *exitError
		if errors.As(err, &exit) {
			if exit.msg != "" {
				fmt.Fprintln(errOut, exit.msg)
			}
			return exit.code
		}
		fmt.Fprintln(errOut, "Error:", explain(err))
		return 1
	}
	return 0
}

// exitError ends the command with a code (e.g. a waited-for backup failed).
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }
