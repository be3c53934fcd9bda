package cli

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/duration"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
	"github.com/arkproject/ark/pkg/controllers/schedule"
	"github.com/arkproject/ark/pkg/provenance"
)

// describer writes "Key:  value" lines, indented by section.
type describer struct {
	w      io.Writer
	indent string
}

func (d *describer) line(key string, value any) {
	fmt.Fprintf(d.w, "%s%-26s %v\n", d.indent, key+":", value)
}

func (d *describer) section(title string, fn func()) {
	fmt.Fprintf(d.w, "%s%s:\n", d.indent, title)
	outer := d.indent
	d.indent += "  "
	fn()
	d.indent = outer
}

func listOr(l []string, none string) string {
	if len(l) == 0 {
		return none
	}
	return strings.Join(l, ", ")
}

func selectorString(s *metav1.LabelSelector) string {
	if s == nil {
		return "<none>"
	}
	sel, err := metav1.LabelSelectorAsSelector(s)
	if err != nil {
		return "<invalid>"
	}
	return sel.String()
}

func optBool(b *bool, unset string) string {
	if b == nil {
		return unset
	}
	return fmt.Sprint(*b)
}

func timeOr(t *metav1.Time, none string) string {
	if t == nil || t.IsZero() {
		return none
	}
	return t.UTC().Format(time.RFC3339)
}

func progressString(p *arkv1.Progress) string {
	if p == nil {
		return "<none>"
	}
	return fmt.Sprintf("%d of %d items", p.ItemsDone, p.TotalItems)
}

func (d *describer) backupSpec(s arkv1.BackupSpec) {
	d.line("Included namespaces", listOr(s.IncludedNamespaces, "*"))
	d.line("Excluded namespaces", listOr(s.ExcludedNamespaces, "<none>"))
	d.line("Included resources", listOr(s.IncludedResources, "*"))
	d.line("Excluded resources", listOr(s.ExcludedResources, "<none>"))
	if len(s.OrderedResources) > 0 {
		// In the flag's syntax, so it can be copied into another backup.
		d.line("Ordered resources", pairsString(s.OrderedResources, "=", ";"))
	}
	d.line("Label selector", selectorString(s.LabelSelector))
	d.line("Cluster resources", optBool(s.IncludeClusterResources, "auto"))
	d.line("Snapshot volumes", optBool(s.SnapshotVolumes, "true"))
	d.line("TTL", s.TTL.Duration)
	d.line("Storage location", s.StorageLocation)
	d.line("Snapshot locations", listOr(s.VolumeSnapshotLocations, "<the server's snapshotters>"))
	if len(s.Hooks.Resources) > 0 {
		d.section("Hooks", func() {
			for _, h := range s.Hooks.Resources {
				d.line(h.Name, fmt.Sprintf("%d pre, %d post; namespaces %s; selector %s", len(h.PreHooks), len(h.PostHooks), listOr(h.IncludedNamespaces, "*"), selectorString(h.LabelSelector)))
			}
		})
	}
	if s.Requester != nil {
		d.line("Requested by", s.Requester.Username)
	}
}

func describeBackup(w io.Writer, b *arkv1.Backup, now time.Time) {
	d := &describer{w: w}
	d.line("Name", b.Name)
	d.line("Namespace", b.Namespace)
	d.line("Labels", pairsString(b.Labels, "=", ","))
	// Which cluster's Ark runs, expires and deletes it (see ark backup adopt).
	if c := b.Annotations[provenance.ClusterAnnotation]; c != "" {
		d.line("Cluster", c)
	}
	if from := b.Annotations[arkv1.AnnotationAdoptedFrom]; from != "" {
		d.line("Adopted from", from)
	}
	d.line("Phase", phaseOr(string(b.Status.Phase)))
	if b.Status.FailureReason != "" {
		d.line("Failure reason", b.Status.FailureReason)
	}
	for _, v := range b.Status.ValidationErrors {
		d.line("Validation error", v)
	}
	d.section("Spec", func() { d.backupSpec(b.Spec) })
	d.section("Status", func() {
		d.line("Started", timeOr(b.Status.StartTimestamp, "<not yet>"))
		d.line("Completed", timeOr(b.Status.CompletionTimestamp, "<not yet>"))
		exp := timeOr(b.Status.Expiration, "<not set>")
		if b.Status.Expiration != nil && b.Status.Expiration.After(now) {
			exp += " (in " + duration.HumanDuration(b.Status.Expiration.Sub(now)) + ")"
		}
		d.line("Expires", exp)
		d.line("Progress", progressString(b.Status.Progress))
		d.line("Warnings", b.Status.Warnings)
		d.line("Errors", b.Status.Errors)
		d.line("Volume snapshots", fmt.Sprintf("%d of %d completed", b.Status.VolumeSnapshotsCompleted, b.Status.VolumeSnapshotsAttempted))
		if id := b.Status.EncryptionKeyID; id != "" {
			if c := meta.FindStatusCondition(b.Status.Conditions, arkv1.BackupConditionEncryptionKeyAvailable); c != nil && c.Status == metav1.ConditionFalse {
				id += " (not held by this server: " + c.Message + ")"
			}
			d.line("Encryption key", id)
		}
	})
}

func describeRestore(w io.Writer, r *arkv1.Restore) {
	d := &describer{w: w}
	d.line("Name", r.Name)
	d.line("Namespace", r.Namespace)
	d.line("Phase", phaseOr(string(r.Status.Phase)))
	if r.Status.FailureReason != "" {
		d.line("Failure reason", r.Status.FailureReason)
	}
	for _, v := range r.Status.ValidationErrors {
		d.line("Validation error", v)
	}
	d.section("Spec", func() {
		src := r.Spec.BackupName
		if src == "" {
			src = "newest completed backup of schedule " + r.Spec.ScheduleName
		}
		d.line("Backup", src)
		d.line("Included namespaces", listOr(r.Spec.IncludedNamespaces, "*"))
		d.line("Excluded namespaces", listOr(r.Spec.ExcludedNamespaces, "<none>"))
		d.line("Included resources", listOr(r.Spec.IncludedResources, "*"))
		d.line("Excluded resources", listOr(r.Spec.ExcludedResources, "<none>"))
		d.line("Label selector", selectorString(r.Spec.LabelSelector))
		d.line("Namespace mappings", pairsString(r.Spec.NamespaceMapping, ":", ", "))
		d.line("Cluster resources", optBool(r.Spec.IncludeClusterResources, "auto"))
		d.line("Restore volumes", optBool(r.Spec.RestorePVs, "true"))
		if r.Spec.PreserveNodePorts != nil {
			d.line("Preserve node ports", *r.Spec.PreserveNodePorts)
		}
		d.line("Existing resources", r.Spec.ExistingResourcePolicy)
		if r.Spec.Preview {
			d.line("Preview", "true (nothing is changed)")
		}
		if rs := r.Spec.RestoreStatus; rs != nil {
			d.line("Status restored for", listOr(rs.IncludedResources, "<none>"))
			if len(rs.ExcludedResources) > 0 {
				d.line("Status not restored for", listOr(rs.ExcludedResources, "<none>"))
			}
		}
		if n := len(r.Spec.Hooks.Resources); n > 0 {
			d.line("Hooks", fmt.Sprintf("%d hook specifications (results list each exec hook's outcome)", n))
		}
		if m := r.Spec.ResourceModifier; m != nil {
			d.line("Resource modifiers", m.Kind+"/"+m.Name)
		}
		if r.Spec.Requester != nil {
			d.line("Requested by", r.Spec.Requester.Username)
		}
	})
	d.section("Status", func() {
		d.line("Restored from", phaseOrNone(r.Status.BackupName))
		d.line("Started", timeOr(r.Status.StartTimestamp, "<not yet>"))
		d.line("Completed", timeOr(r.Status.CompletionTimestamp, "<not yet>"))
		d.line("Progress", progressString(r.Status.Progress))
		d.line("Warnings", r.Status.Warnings)
		d.line("Errors", r.Status.Errors)
		if p := r.Status.Preview; p != nil {
			d.line("Would create", p.WouldCreate)
			d.line("Would update", p.WouldUpdate)
			d.line("Would skip", p.WouldSkip)
			d.line("Would conflict", p.WouldConflict)
			d.line("Would be denied", p.WouldBeDenied)
			d.line("Would fail", p.WouldFail)
		}
	})
	fmt.Fprintf(w, "\nPer-item results: ark restore results %s -n %s\n", r.Name, r.Namespace)
}

func describeSchedule(w io.Writer, s *arkv1.Schedule, now time.Time) {
	d := &describer{w: w}
	d.line("Name", s.Name)
	d.line("Namespace", s.Namespace)
	d.line("Phase", phaseOr(string(s.Status.Phase)))
	for _, v := range s.Status.ValidationErrors {
		d.line("Validation error", v)
	}
	d.line("Schedule", s.Spec.Schedule)
	d.line("Paused", s.Spec.Paused)
	last := timeOr(s.Status.LastBackup, "<never>")
	if s.Status.LastBackupName != "" {
		last += " (" + s.Status.LastBackupName + ")"
	}
	d.line("Last backup", last)
	if f := s.Status.LastFailure; f != nil {
		d.line("Last failure", f.Time.UTC().Format(time.RFC3339)+": "+f.Reason)
	}
	switch next := schedule.NextBackup(s, now); {
	case s.Spec.Paused:
		d.line("Next backup", "<paused>")
	case next.IsZero():
		d.line("Next backup", "<none>")
	case !next.After(now):
		d.line("Next backup", "due now")
	default:
		d.line("Next backup", next.UTC().Format(time.RFC3339)+" (in "+duration.HumanDuration(next.Sub(now))+")")
	}
	d.section("Backup template", func() { d.backupSpec(s.Spec.Template) })
}

func phaseOr(p string) string {
	if p == "" {
		return "New"
	}
	return p
}

func phaseOrNone(s string) string {
	if s == "" {
		return "<not yet>"
	}
	return s
}

// pairsString prints a map sorted, as k<kv>v joined by sep, or <none>.
func pairsString(m map[string]string, kv, sep string) string {
	if len(m) == 0 {
		return "<none>"
	}
	var out []string
	for k, v := range m {
		out = append(out, k+kv+v)
	}
	sort.Strings(out)
	return strings.Join(out, sep)
}
