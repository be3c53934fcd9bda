package snapshot

import (
	"fmt"
	"slices"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
)

// Server is the server's own set of snapshotters, each configured by its
// flags; nil members are snapshotters the server does not have (GCE
// without --gce-project).
type Server struct {
	CSI      *CSI
	GCE      *GCE
	HostPath *HostPath
}

// All returns every snapshotter the server has, for a backup that names
// no volume snapshot location: CSI first, then GCE, then hostPath.
func (s Server) All() []VolumeSnapshotter {
	var out []VolumeSnapshotter
	if s.CSI != nil {
		out = append(out, s.CSI)
	}
	if s.GCE != nil {
		out = append(out, s.GCE)
	}
	if s.HostPath != nil {
		out = append(out, s.HostPath)
	}
	return out
}

// ResolveLocations finds the volume snapshot locations a backup names (get
// reads one from Ark's home namespace) and says what makes any of them
// unusable for it, as FailedValidation messages: a missing location, two
// of one provider (a volume would not know which to use, as in Heptio
// Ark), a gcp location in a server without GCE snapshots or with a
// credential of its own (not supported yet: only the server's GCE
// credentials are used), or a gcp location for a backup outside the home
// namespace (its snapshots are made with Ark's cloud identity, not the
// requester's, which is the administrator's to spend).
func ResolveLocations(s Server, names []string, get func(name string) (*arkv1.VolumeSnapshotLocation, error), confined bool) ([]*arkv1.VolumeSnapshotLocation, []string) {
	var locs []*arkv1.VolumeSnapshotLocation
	var problems []string
	byProvider := map[string]string{}
	for i, name := range names {
		field := fmt.Sprintf("spec.volumeSnapshotLocations[%d]", i)
		loc, err := get(name)
		if apierrors.IsNotFound(err) {
			problems = append(problems, fmt.Sprintf("%s: volume snapshot location %q does not exist", field, name))
			continue
		}
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: reading volume snapshot location %q: %v", field, name, err))
			continue
		}
		p := loc.Spec.Provider
		if other, ok := byProvider[p]; ok {
			problems = append(problems, fmt.Sprintf("%s: locations %q and %q both have provider %s; a backup may use one location per provider", field, other, name, p))
			continue
		}
		byProvider[p] = name
		switch p {
		case "csi", "hostpath":
		case "gcp":
			switch {
			case confined:
				problems = append(problems, fmt.Sprintf("%s: location %q (gcp) snapshots with Ark's own cloud credentials; only backups in Ark's home namespace may use it", field, name))
			case s.GCE == nil:
				problems = append(problems, fmt.Sprintf("%s: location %q (gcp): this server takes no GCE snapshots (start it with --gce-project)", field, name))
			case loc.Spec.Credential != nil:
				problems = append(problems, fmt.Sprintf("%s: location %q (gcp) names a credential; Ark uses only the server's GCE credentials for now: remove spec.credential", field, name))
			}
		default:
			problems = append(problems, fmt.Sprintf("%s: location %q has provider %q, which Ark has no snapshotter for", field, name, p))
		}
		locs = append(locs, loc)
	}
	return locs, problems
}

// ForLocations returns the snapshotters of a backup that names the volume
// snapshot locations locs (already resolved without problems): one per
// location, configured by it, in the server's order. A volume none of them
// handles is not snapshotted.
func (s Server) ForLocations(locs []*arkv1.VolumeSnapshotLocation) []VolumeSnapshotter {
	var out []VolumeSnapshotter
	for _, p := range []string{"csi", "gcp", "hostpath"} {
		i := slices.IndexFunc(locs, func(l *arkv1.VolumeSnapshotLocation) bool { return l.Spec.Provider == p })
		if i < 0 {
			continue
		}
		cfg := locs[i].Spec.Config
		switch p {
		case "csi":
			if s.CSI != nil {
				c := *s.CSI
				c.Class = cfg["volumeSnapshotClass"]
				out = append(out, &c)
			}
		case "gcp":
			if s.GCE != nil {
				g := *s.GCE
				if v := cfg["project"]; v != "" {
					g.Project = v
				}
				if v := cfg["snapshotLocation"]; v != "" {
					g.StorageLocations = []string{v}
				}
				out = append(out, &g)
			}
		case "hostpath":
			if s.HostPath != nil {
				out = append(out, s.HostPath)
			}
		}
	}
	return out
}
