package cli

import (
	"strings"

	"github.com/spf13/cobra"
)

// newVerbCommands gives kubectl's word order (`ark get backups`, `ark
// describe backup NAME`) beside ark's own (`ark backup get`), as Velero
// does. Each is the same command, built afresh (a cobra command has one
// parent) and renamed after its noun.
func newVerbCommands(env *Env) []*cobra.Command {
	type noun struct {
		singular string
		build    map[string]func() *cobra.Command
		aliases  []string // besides the singular and plural
	}
	nouns := []noun{
		{"backup", map[string]func() *cobra.Command{
			"create":   func() *cobra.Command { return newBackupCreate(env) },
			"get":      func() *cobra.Command { return newGet(env, "backups") },
			"describe": func() *cobra.Command { return newDescribe(env, "backups") },
			"delete":   func() *cobra.Command { return newDelete(env, "backups") },
		}, nil},
		{"restore", map[string]func() *cobra.Command{
			"create":   func() *cobra.Command { return newRestoreCreate(env) },
			"get":      func() *cobra.Command { return newGet(env, "restores") },
			"describe": func() *cobra.Command { return newDescribe(env, "restores") },
			"delete":   func() *cobra.Command { return newDelete(env, "restores") },
		}, nil},
		{"schedule", map[string]func() *cobra.Command{
			"create":   func() *cobra.Command { return newScheduleCreate(env) },
			"get":      func() *cobra.Command { return newGet(env, "schedules") },
			"describe": func() *cobra.Command { return newDescribe(env, "schedules") },
			"delete":   func() *cobra.Command { return newDelete(env, "schedules") },
		}, nil},
		{"backup-location", map[string]func() *cobra.Command{
			"create":   func() *cobra.Command { return newLocationCreate(env) },
			"get":      func() *cobra.Command { return newGet(env, locationsResource) },
			"describe": func() *cobra.Command { return newDescribe(env, locationsResource) },
			"delete":   func() *cobra.Command { return newDelete(env, locationsResource) },
		}, []string{"bsl"}},
		{"snapshot-location", map[string]func() *cobra.Command{
			"create":   func() *cobra.Command { return newSnapshotLocationCreate(env) },
			"get":      func() *cobra.Command { return newGet(env, snapshotLocationsResource) },
			"describe": func() *cobra.Command { return newDescribe(env, snapshotLocationsResource) },
			"delete":   func() *cobra.Command { return newDelete(env, snapshotLocationsResource) },
		}, []string{"vsl"}},
	}
	var out []*cobra.Command
	for _, verb := range []string{"create", "get", "describe", "delete"} {
		parent := &cobra.Command{
			Use:   verb,
			Short: strings.ToUpper(verb[:1]) + verb[1:] + " backups, restores, schedules, backup or snapshot locations (as `ark backup " + verb + "`, ...)",
		}
		for _, n := range nouns {
			cmd := n.build[verb]()
			_, rest, _ := strings.Cut(cmd.Use, " ")
			cmd.Use = strings.TrimSpace(n.singular + " " + rest)
			cmd.Aliases = []string{n.singular + "s"}
			if verb == "get" { // `ark get backups` is the usual form
				cmd.Use = strings.TrimSpace(n.singular + "s " + rest)
				cmd.Aliases = []string{n.singular}
			}
			cmd.Aliases = append(cmd.Aliases, n.aliases...)
			parent.AddCommand(cmd)
		}
		out = append(out, parent)
	}
	return out
}
