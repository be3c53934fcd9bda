package cli

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
)

// snapshotLocationNote says, wherever snapshot locations are created or
// described, that they are not acted on yet.
const snapshotLocationNote = "Nothing acts on volume snapshot locations yet: backups snapshot each volume by its kind (CSI\n" +
	"volumes through their VolumeSnapshotClass, GCE persistent disks when the server runs with\n" +
	"--gce-project, hostPath and local volumes into the backup's bucket)."

// newSnapshotLocationCommand is `ark snapshot-location`: the
// VolumeSnapshotLocations of Ark's home namespace (-n, default heptio-ark).
// As for backup locations, the command line only checks its flags' syntax;
// the providers and their config keys are the server's to judge.
func newSnapshotLocationCommand(env *Env) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "snapshot-location",
		Aliases: []string{"snapshot-locations", "vsl"},
		Short:   "Work with volume snapshot locations",
		Long: `A volume snapshot location says which snapshotter (csi, gcp or hostpath) volume snapshots are meant
to be taken with, and its settings: an object VolumeSnapshotLocation (short name vsl) in Ark's home
namespace, heptio-ark unless -n says otherwise. Locations name cloud projects and credential Secrets,
so they are administrators' business (ark-admin).

` + snapshotLocationNote,
	}
	cmd.AddCommand(newSnapshotLocationCreate(env), newGet(env, snapshotLocationsResource),
		newDescribe(env, snapshotLocationsResource), newDelete(env, snapshotLocationsResource))
	return cmd
}

func newSnapshotLocationCreate(env *Env) *cobra.Command {
	var provider, credential string
	var config, labelPairs []string
	cmd := &cobra.Command{
		Use:   "create NAME --provider PROVIDER",
		Short: "Create a volume snapshot location",
		Long: `Create a volume snapshot location in Ark's home namespace. The server checks what it says: the
provider (csi, gcp or hostpath; Heptio Ark's aws and azure are refused, Ark has no snapshotter for
them), the config keys the provider takes (gcp: project, snapshotLocation; csi: volumeSnapshotClass;
hostpath: none), and that a credential is only given to gcp.

` + snapshotLocationNote,
		Example: `  ark snapshot-location create gcp-eu --provider gcp --config project=my-project,snapshotLocation=europe-west1 --credential gcp-creds=cloud
  ark snapshot-location create csi --provider csi --config volumeSnapshotClass=csi-snapclass
  ark vsl create local --provider hostpath`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if provider == "" {
				return fmt.Errorf("--provider is required: the snapshotter (csi, gcp or hostpath)")
			}
			cfg, err := parseKeyValues("--config", config, false)
			if err != nil {
				return err
			}
			lbls, err := parseKeyValues("--labels", labelPairs, true)
			if err != nil {
				return err
			}
			l := &arkv1.VolumeSnapshotLocation{
				ObjectMeta: metav1.ObjectMeta{Name: args[0], Namespace: env.Namespace(), Labels: lbls},
				Spec:       arkv1.VolumeSnapshotLocationSpec{Provider: provider, Config: cfg},
			}
			if credential != "" {
				if l.Spec.Credential, err = parseCredential(credential); err != nil {
					return err
				}
			}
			client, err := env.Ark()
			if err != nil {
				return err
			}
			created, err := client.ArkV1().VolumeSnapshotLocations(l.Namespace).Create(cmd.Context(), l, metav1.CreateOptions{})
			if err != nil {
				return err
			}
			fmt.Fprintf(env.Out, "Volume snapshot location %q created.\n%s\n", created.Name, snapshotLocationNote)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&provider, "provider", "", "snapshotter: csi, gcp (GCE persistent disks) or hostpath (hostPath and local volumes)")
	f.StringSliceVar(&config, "config", nil, "provider settings as key=value,key2=value2 (gcp: project, snapshotLocation; csi: volumeSnapshotClass)")
	f.StringVar(&credential, "credential", "", "SECRET=KEY: the key of a Secret in Ark's home namespace holding the provider's credentials (gcp only; default: the server's own)")
	f.StringSliceVar(&labelPairs, "labels", nil, "labels of the location: key=value,key2=value2")
	return cmd
}

func describeSnapshotLocation(w io.Writer, l *arkv1.VolumeSnapshotLocation) {
	d := &describer{w: w}
	d.line("Name", l.Name)
	d.line("Namespace", l.Namespace)
	d.line("Labels", pairsString(l.Labels, "=", ","))
	phase := string(l.Status.Phase)
	if phase == "" {
		phase = "Unknown"
	}
	d.line("Phase", phase)
	d.section("Spec", func() {
		d.line("Provider", l.Spec.Provider)
		d.line("Config", pairsString(l.Spec.Config, "=", ", "))
		// Only the reference: the Secret is neither read nor shown.
		cred := "<none> (the server's own)"
		if c := l.Spec.Credential; c != nil {
			cred = fmt.Sprintf("key %q of Secret %q", c.Key, c.Name)
		}
		d.line("Credential", cred)
	})
	d.section("Status", func() {
		d.line("Message", orNone(printable(l.Status.Message)))
	})
	fmt.Fprintf(w, "\n%s\n", snapshotLocationNote)
}
