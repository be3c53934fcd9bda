package cli

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
	"github.com/arkproject/ark/pkg/controllers/schedule"
)

func newBackupCommand(env *Env) *cobra.Command {
	cmd := &cobra.Command{Use: "backup", Aliases: []string{"backups"}, Short: "Work with backups"}
	cmd.AddCommand(newBackupCreate(env), newGet(env, "backups"), newDescribe(env, "backups"),
		newDelete(env, "backups"), newContent(env, "backup", "logs"), newBackupDownload(env), newBackupAdopt(env), newBackupSetTTL(env))
	return cmd
}

func newBackupCreate(env *Env) *cobra.Command {
	var flags backupFlags
	var fromSchedule string
	var wait bool
	cmd := &cobra.Command{
		Use:   "create NAME",
		Short: "Create a backup",
		Example: `  ark backup create nginx-backup --include-namespaces nginx-example
  ark backup create full --snapshot-volumes=false --ttl 24h0m0s --wait
  ark backup create --from-schedule nightly`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			client, err := env.Ark()
			if err != nil {
				return err
			}
			b := &arkv1.Backup{ObjectMeta: metav1.ObjectMeta{Namespace: env.Namespace()}}
			if fromSchedule != "" {
				s, err := client.ArkV1().Schedules(env.Namespace()).Get(ctx, fromSchedule, metav1.GetOptions{})
				if err != nil {
					return err
				}
				b.Spec = s.Spec.Template
				b.Labels = map[string]string{arkv1.LabelScheduleName: s.Name}
				b.Name = schedule.BackupName(s.Name, time.Now())
			} else {
				if b.Spec, err = flags.spec(); err != nil {
					return err
				}
			}
			if len(args) == 1 {
				b.Name = args[0]
			}
			if b.Name == "" {
				return fmt.Errorf("a backup needs a name: ark backup create NAME")
			}
			if fromSchedule == "" {
				if err := checkLocation(ctx, env, client, b.Spec.StorageLocation); err != nil {
					return err
				}
			}
			created, err := client.ArkV1().Backups(b.Namespace).Create(ctx, b, metav1.CreateOptions{})
			if err != nil {
				return err
			}
			fmt.Fprintf(env.Out, "Backup %q submitted.\n", created.Name)
			if !wait {
				fmt.Fprintf(env.Out, "Run `%[1]s backup describe %[2]s -n %[3]s` or `%[1]s backup logs %[2]s -n %[3]s` for more.\n", env.Name, created.Name, created.Namespace)
				return nil
			}
			return waitBackup(ctx, env, created.Namespace, created.Name)
		},
	}
	flags.add(cmd.Flags())
	cmd.Flags().StringVar(&fromSchedule, "from-schedule", "", "take the backup now with this schedule's template")
	completeFlag(env, cmd, "from-schedule", "schedules")
	completeFlag(env, cmd, "storage-location", locationsResource)
	completeFlag(env, cmd, "volume-snapshot-locations", snapshotLocationsResource)
	cmd.Flags().BoolVarP(&wait, "wait", "w", false, "wait for the backup to finish, showing progress")
	return cmd
}

func waitBackup(ctx context.Context, env *Env, ns, name string) error {
	client, err := env.Ark()
	if err != nil {
		return err
	}
	return waitOperation(ctx, env, "backup", name,
		fmt.Sprintf("See `%[1]s backup describe %[2]s -n %[3]s` and `%[1]s backup logs %[2]s -n %[3]s`.", env.Name, name, ns),
		func(ctx context.Context) (opStatus, error) {
			b, err := client.ArkV1().Backups(ns).Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return opStatus{}, err
			}
			return backupStatus(b), nil
		})
}

func progressDone(p *arkv1.Progress) int {
	if p == nil {
		return 0
	}
	return p.ItemsDone
}

// newGet lists or gets backups, restores, schedules, backup storage
// locations or volume snapshot locations as a table, YAML or JSON.
func newGet(env *Env, resource string) *cobra.Command {
	var o getOptions
	cmd := &cobra.Command{
		Use:               "get [NAME...]",
		ValidArgsFunction: completeArgs(env, resource),
		Short:             "List " + pluralOf(resource),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			switch o.output {
			case "table", "":
				return printTable(ctx, env, resource, args, o)
			case "yaml", "json":
			default: // even when there is nothing to print
				return fmt.Errorf("unknown output format %q (want table, yaml or json)", o.output)
			}
			objs, err := getObjects(ctx, env, resource, args, o)
			if err != nil {
				return err
			}
			kind := kindOf(resource)
			// As kubectl: one named object prints as itself, anything else
			// (a listing, several names) as one List document.
			if len(args) == 1 {
				return printObject(env.Out, objs[0], kind, o.output)
			}
			return printList(env.Out, objs, kind, o.output)
		},
	}
	o.add(cmd.Flags())
	return cmd
}

// newDelete deletes backups, restores, schedules, backup storage
// locations or volume snapshot locations (resource), asking first.
func newDelete(env *Env, resource string) *cobra.Command {
	var confirm, all bool
	var selector string
	noun, plural := nounOf(resource), pluralOf(resource)
	cmd := &cobra.Command{
		Use:               "delete NAME... | --all | -l SELECTOR",
		ValidArgsFunction: completeArgs(env, resource),
		Short:             "Delete " + plural,
		Long:              "Delete " + plural + " by name, or every one in the namespace matching --selector, or --all of them.",
		RunE: func(cmd *cobra.Command, args []string) error {
			switch {
			case len(args) > 0 && (all || selector != ""):
				return fmt.Errorf("give names, or --all or --selector, not both")
			case len(args) == 0 && !all && selector == "":
				return fmt.Errorf("name the %s to delete, or use --all or --selector", plural)
			}
			if _, err := labels.Parse(selector); err != nil {
				return fmt.Errorf("--selector: %w", err)
			}
			client, err := env.Ark()
			if err != nil {
				return err
			}
			if len(args) == 0 {
				objs, err := getObjects(cmd.Context(), env, resource, nil, getOptions{selector: selector})
				if err != nil {
					return err
				}
				for _, obj := range objs {
					args = append(args, obj.(metav1.Object).GetName())
				}
				if len(args) == 0 {
					fmt.Fprintf(env.Out, "No %s to delete in namespace %s.\n", plural, env.Namespace())
					return nil
				}
			}
			question := fmt.Sprintf("Delete %s %s in namespace %s? [y/N] ", noun, strings.Join(args, ", "), env.Namespace())
			if resource == locationsResource {
				question = fmt.Sprintf("Delete %s %s in namespace %s (the objects only: nothing in a bucket is deleted)? [y/N] ", noun, strings.Join(args, ", "), env.Namespace())
			}
			if !confirm && !ask(env, question) {
				fmt.Fprintln(env.Out, "Nothing deleted.")
				return nil
			}
			for _, name := range args {
				var err error
				switch resource {
				case "backups":
					err = client.ArkV1().Backups(env.Namespace()).Delete(cmd.Context(), name, metav1.DeleteOptions{})
				case "restores":
					err = client.ArkV1().Restores(env.Namespace()).Delete(cmd.Context(), name, metav1.DeleteOptions{})
				case "schedules":
					err = client.ArkV1().Schedules(env.Namespace()).Delete(cmd.Context(), name, metav1.DeleteOptions{})
				case locationsResource:
					err = client.ArkV1().BackupStorageLocations(env.Namespace()).Delete(cmd.Context(), name, metav1.DeleteOptions{})
				case snapshotLocationsResource:
					err = client.ArkV1().VolumeSnapshotLocations(env.Namespace()).Delete(cmd.Context(), name, metav1.DeleteOptions{})
				}
				if err != nil {
					return err
				}
				switch resource {
				case "backups":
					fmt.Fprintf(env.Out, "Backup %q is being deleted: its volume snapshots, files and restores are removed in the background.\n", name)
				case locationsResource:
					fmt.Fprintf(env.Out, "Backup storage location %q deleted; nothing in its bucket was deleted.\n", name)
				default:
					fmt.Fprintf(env.Out, "%s %q deleted.\n", strings.ToUpper(noun[:1])+noun[1:], name)
				}
			}
			return nil
		},
	}
	if resource == locationsResource {
		cmd.Long += "\n\nDeleting a location deletes only the object: nothing in its bucket is deleted, neither the backups\nstored there nor any other file; create the location again to use them. (The location the server\nserves, from --backup-location, is created again by the server at its next poll.)"
	}
	if resource == snapshotLocationsResource {
		cmd.Long += "\n\nDeleting a location deletes only the object: no volume snapshot is deleted (a backup's snapshots go\nwith the backup)."
	}
	cmd.Flags().BoolVar(&all, "all", false, "delete every "+noun+" in the namespace")
	cmd.Flags().StringVarP(&selector, "selector", "l", "", "delete the "+plural+" matching this label selector")
	cmd.Flags().BoolVar(&confirm, "confirm", false, "do not ask for confirmation")
	return cmd
}

// ask reads a yes from the input.
func ask(env *Env, question string) bool {
	fmt.Fprint(env.Out, question)
	line, _ := bufio.NewReader(env.In).ReadString('\n')
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return true
	}
	return false
}

// newContent streams a subresource (logs, results) to the output.
func newContent(env *Env, kind, sub string) *cobra.Command {
	return &cobra.Command{
		Use:               sub + " NAME",
		ValidArgsFunction: completeArgs(env, kind+"s"),
		Short:             fmt.Sprintf("Show the %s of a %s", sub, kind),
		Args:              cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			rc, err := stream(cmd.Context(), env, kind+"s", args[0], sub)
			if err != nil {
				return err
			}
			defer rc.Close()
			_, err = io.Copy(env.Out, rc)
			return err
		},
	}
}

func newBackupDownload(env *Env) *cobra.Command {
	var output string
	var force bool
	cmd := &cobra.Command{
		Use:               "download NAME",
		ValidArgsFunction: completeArgs(env, "backups"),
		Short:             "Download a backup's contents as NAME-data.tar.gz",
		Args:              cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			if output == "" {
				output = name + "-data.tar.gz"
			}
			flags := os.O_WRONLY | os.O_CREATE | os.O_EXCL
			if force {
				flags = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
			}
			rc, err := stream(cmd.Context(), env, "backups", name, "download")
			if err != nil {
				return err
			}
			defer rc.Close()
			f, err := os.OpenFile(output, flags, 0o600)
			if err != nil {
				return fmt.Errorf("%w (use --force to overwrite)", err)
			}
			n, err := io.Copy(f, rc)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				os.Remove(output)
				return err
			}
			fmt.Fprintf(env.Out, "Backup %q downloaded to %s (%d bytes).\n", name, output, n)
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "file to write (default NAME-data.tar.gz)")
	cmd.Flags().BoolVar(&force, "force", false, "overwrite the file if it exists")
	return cmd
}

// stream opens a subresource of an object as a byte stream.
func stream(ctx context.Context, env *Env, resource, name, sub string) (io.ReadCloser, error) {
	client, err := env.Ark()
	if err != nil {
		return nil, err
	}
	return client.ArkV1().RESTClient().Get().Namespace(env.Namespace()).Resource(resource).Name(name).SubResource(sub).Stream(ctx)
}
