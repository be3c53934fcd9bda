package cli

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
)

// locationsResource is the API resource of backup storage locations, the
// objects of `ark backup-location`.
const locationsResource = "backupstoragelocations"

// snapshotLocationsResource is the API resource of volume snapshot
// locations, the objects of `ark snapshot-location`.
const snapshotLocationsResource = "volumesnapshotlocations"

// nounOf is how messages name one object of resource: "backup", "backup
// storage location".
func nounOf(resource string) string {
	switch resource {
	case locationsResource:
		return "backup storage location"
	case snapshotLocationsResource:
		return "volume snapshot location"
	}
	return strings.TrimSuffix(resource, "s")
}

// pluralOf is how messages name several objects of resource.
func pluralOf(resource string) string { return nounOf(resource) + "s" }

// kindOf is the API kind of resource's objects.
func kindOf(resource string) string {
	return map[string]string{"backups": "Backup", "restores": "Restore", "schedules": "Schedule", locationsResource: "BackupStorageLocation", snapshotLocationsResource: "VolumeSnapshotLocation"}[resource]
}

// getObjects reads the named objects, or lists them, for YAML and JSON output.
func getObjects(ctx context.Context, env *Env, resource string, names []string, o getOptions) ([]runtime.Object, error) {
	client, err := env.Ark()
	if err != nil {
		return nil, err
	}
	ns := env.Namespace()
	if o.allNamespaces {
		ns = ""
	}
	opts := metav1.ListOptions{LabelSelector: o.selector}
	switch resource {
	case "backups":
		c := client.ArkV1().Backups(ns)
		return getOrList(ctx, names, c.Get, func() ([]arkv1.Backup, error) {
			l, err := c.List(ctx, opts)
			if err != nil {
				return nil, err
			}
			return l.Items, nil
		})
	case "restores":
		c := client.ArkV1().Restores(ns)
		return getOrList(ctx, names, c.Get, func() ([]arkv1.Restore, error) {
			l, err := c.List(ctx, opts)
			if err != nil {
				return nil, err
			}
			return l.Items, nil
		})
	case "schedules":
		c := client.ArkV1().Schedules(ns)
		return getOrList(ctx, names, c.Get, func() ([]arkv1.Schedule, error) {
			l, err := c.List(ctx, opts)
			if err != nil {
				return nil, err
			}
			return l.Items, nil
		})
	case locationsResource:
		c := client.ArkV1().BackupStorageLocations(ns)
		return getOrList(ctx, names, c.Get, func() ([]arkv1.BackupStorageLocation, error) {
			l, err := c.List(ctx, opts)
			if err != nil {
				return nil, err
			}
			return l.Items, nil
		})
	case snapshotLocationsResource:
		c := client.ArkV1().VolumeSnapshotLocations(ns)
		return getOrList(ctx, names, c.Get, func() ([]arkv1.VolumeSnapshotLocation, error) {
			l, err := c.List(ctx, opts)
			if err != nil {
				return nil, err
			}
			return l.Items, nil
		})
	}
	return nil, fmt.Errorf("unknown resource %q", resource)
}

// getOrList gets each of names in order, or lists when there are none.
func getOrList[T any, PT interface {
	*T
	runtime.Object
}](ctx context.Context, names []string, get func(context.Context, string, metav1.GetOptions) (PT, error), list func() ([]T, error)) ([]runtime.Object, error) {
	var out []runtime.Object
	if len(names) == 0 {
		items, err := list()
		if err != nil {
			return nil, err
		}
		for i := range items {
			out = append(out, PT(&items[i]))
		}
	}
	for _, n := range names {
		obj, err := get(ctx, n, metav1.GetOptions{})
		if err != nil {
			return nil, err
		}
		out = append(out, obj)
	}
	return out, nil
}

// newDescribe shows backups, restores, schedules, backup storage
// locations or volume snapshot locations in detail, one after the other as they are read; for a finished
// backup or restore with warnings or errors, those are read from its log. A backup's --details adds what it
// holds, from backups/contents.
func newDescribe(env *Env, resource string) *cobra.Command {
	var details bool
	cmd := &cobra.Command{
		Use:               "describe NAME...",
		ValidArgsFunction: completeArgs(env, resource),
		Short:             "Show a " + nounOf(resource) + " in detail",
		Args:              cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			for i, name := range args {
				objs, err := getObjects(cmd.Context(), env, resource, []string{name}, getOptions{})
				if err != nil {
					return err
				}
				if i > 0 {
					fmt.Fprintln(env.Out)
				}
				var st opStatus
				var backup *arkv1.Backup
				switch obj := objs[0].(type) {
				case *arkv1.Backup:
					describeBackup(env.Out, obj, time.Now())
					st, backup = backupStatus(obj), obj
				case *arkv1.Restore:
					describeRestore(env.Out, obj)
					st = restoreStatus(obj)
				case *arkv1.Schedule:
					describeSchedule(env.Out, obj, time.Now())
					continue
				case *arkv1.BackupStorageLocation:
					describeLocation(env.Out, obj, time.Now())
					continue
				case *arkv1.VolumeSnapshotLocation:
					describeSnapshotLocation(env.Out, obj)
					continue
				}
				if st.hasLog() && st.warnings+st.errors > 0 {
					describeProblems(cmd.Context(), env, resource, name)
				}
				switch {
				case backup == nil:
				case details:
					describeContents(cmd.Context(), env, backup)
				case hasContents(backup):
					fmt.Fprintf(env.Out, "\nResource list and volume snapshots: %s backup describe %s -n %s --details\n", env.Name, name, env.Namespace())
				}
			}
			return nil
		},
	}
	if resource == "backups" {
		cmd.Flags().BoolVar(&details, "details", false, "also show what the backup holds: its items by resource and its volume snapshots")
	}
	return cmd
}

// opStatus is what the command line reads of a backup's or a restore's
// status; their phases share names.
type opStatus struct {
	phase            string
	progress         *arkv1.Progress
	warnings, errors int
	failureReason    string
	validationErrors []string
}

func backupStatus(b *arkv1.Backup) opStatus {
	s := b.Status
	return opStatus{string(s.Phase), s.Progress, s.Warnings, s.Errors, s.FailureReason, s.ValidationErrors}
}

func restoreStatus(r *arkv1.Restore) opStatus {
	s := r.Status
	return opStatus{string(s.Phase), s.Progress, s.Warnings, s.Errors, s.FailureReason, s.ValidationErrors}
}

// finished says whether the operation has ended, one way or another.
func (s opStatus) finished() bool {
	switch s.phase {
	case "Completed", "PartiallyFailed", "Failed", "FailedValidation", "Previewed":
		return true
	}
	return false
}

// hasLog says whether the operation ended after running, with a log.
func (s opStatus) hasLog() bool { return s.finished() && s.phase != "FailedValidation" }

// waitOperation waits for a backup or restore (kind) to finish, showing
// progress, then prints its outcome; a failed one fails the command.
// more names the commands that tell more.
func waitOperation(ctx context.Context, env *Env, kind, name, more string, get func(context.Context) (opStatus, error)) error {
	var last opStatus
	phase, err := waitFor(ctx, env.Err, kind+" "+name, func(ctx context.Context) (string, *arkv1.Progress, bool, error) {
		st, err := get(ctx)
		if err != nil {
			return "", nil, false, err
		}
		last = st
		return st.phase, st.progress, st.finished(), nil
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Out, "%s%s %q %s: %d items, %d warnings, %d errors.\n", strings.ToUpper(kind[:1]), kind[1:], name, phase, progressDone(last.progress), last.warnings, last.errors)
	return outcome(kind, name, phase, last.failureReason, last.validationErrors, more)
}
