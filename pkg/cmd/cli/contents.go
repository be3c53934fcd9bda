package cli

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"unicode"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
)

// hasContents says whether backups/contents can answer for b: only a
// finished backup that kept its files.
func hasContents(b *arkv1.Backup) bool {
	return b.Status.Phase == arkv1.BackupPhaseCompleted || b.Status.Phase == arkv1.BackupPhasePartiallyFailed
}

// describeContents prints what a backup holds, from backups/contents.
// Describe still shows the backup when its contents cannot be read (not
// finished, not permitted, the bucket down): it says why instead.
func describeContents(ctx context.Context, env *Env, b *arkv1.Backup) {
	client, err := env.Ark()
	if err == nil {
		var c *arkv1.BackupContents
		if c, err = client.ArkV1().Backups(b.Namespace).Contents(ctx, b.Name, metav1.GetOptions{}); err == nil {
			printContents(env.Out, c)
			return
		}
	}
	fmt.Fprintf(env.Out, "\nResource List: cannot read the backup's contents: %s\n", explain(err))
}

// printContents writes the Resource List (items grouped by resource) and
// the Volume Snapshots, as Velero's describe --details does.
func printContents(w io.Writer, c *arkv1.BackupContents) {
	d := &describer{w: w}
	fmt.Fprintln(w)
	if len(c.Resources) == 0 {
		d.line("Resource List", "<none>")
	} else {
		d.section("Resource List", func() {
			for _, r := range c.Resources {
				d.section(printable(r.Resource), func() {
					for _, item := range r.Items {
						fmt.Fprintf(w, "%s- %s\n", d.indent, printable(item))
					}
				})
			}
		})
	}
	fmt.Fprintln(w)
	if len(c.VolumeSnapshots) == 0 {
		d.line("Volume Snapshots", "<none included>")
		return
	}
	d.section("Volume Snapshots", func() {
		for _, s := range c.VolumeSnapshots {
			d.section(printable(s.PersistentVolume), func() {
				d.line("Snapshotter", printable(s.Snapshotter))
				d.line("Volume ID", printable(orNone(s.VolumeID)))
				d.line("Snapshot ID", printable(orNone(s.SnapshotID)))
				if s.Size > 0 {
					d.line("Size", fmt.Sprintf("%d bytes", s.Size))
				}
				d.line("Phase", printable(s.Phase))
				if s.Error != "" {
					d.line("Error", printable(s.Error))
				}
			})
		}
	})
}

func orNone(s string) string {
	if s == "" {
		return "<none>"
	}
	return s
}

// printable quotes a string read from the bucket that holds anything a
// terminal could take for a control sequence or that hides its end, so
// that what a backup's files say can never rewrite the screen.
func printable(s string) string {
	for _, r := range s {
		if !unicode.IsPrint(r) || r == unicode.ReplacementChar {
			return strconv.Quote(s)
		}
	}
	return s
}
