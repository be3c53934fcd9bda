package cli

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
)

// optionalBool is a boolean flag that can also be unset: the API tells
// "not said" from "false" for includeClusterResources.
type optionalBool struct {
	value *bool
}

func (o *optionalBool) String() string {
	if o.value == nil {
		return "auto"
	}
	return strconv.FormatBool(*o.value)
}

func (o *optionalBool) Set(s string) error {
	if s == "auto" { // what String prints for unset, so it reads back
		o.value = nil
		return nil
	}
	v, err := strconv.ParseBool(s)
	if err != nil {
		return fmt.Errorf("want true, false or auto: %w", err)
	}
	o.value = &v
	return nil
}

func (o *optionalBool) Type() string     { return "bool" }
func (o *optionalBool) IsBoolFlag() bool { return true }

// filterFlags are the selection flags backups, schedules and restores share.
type filterFlags struct {
	includeNamespaces, excludeNamespaces []string
	includeResources, excludeResources   []string
	selector                             string
	includeClusterResources              optionalBool
}

func (f *filterFlags) add(fs *pflag.FlagSet) {
	fs.StringSliceVar(&f.includeNamespaces, "include-namespaces", nil, "namespaces to include (comma-separated; * for all)")
	fs.StringSliceVar(&f.excludeNamespaces, "exclude-namespaces", nil, "namespaces to exclude")
	fs.StringSliceVar(&f.includeResources, "include-resources", nil, "resources to include, as kubectl names them (pods, deploy, deployments.apps; * for all)")
	fs.StringSliceVar(&f.excludeResources, "exclude-resources", nil, "resources to exclude")
	fs.StringVarP(&f.selector, "selector", "l", "", "only objects matching this label selector")
	// pflag ignores IsBoolFlag: without NoOptDefVal a bare
	// --include-cluster-resources would demand (or swallow) the next argument.
	fs.VarPF(&f.includeClusterResources, "include-cluster-resources", "", "include cluster-scoped resources: true, false, or auto (those related to the included namespaced ones; all of them for a whole-cluster backup)").NoOptDefVal = "true"
}

func (f *filterFlags) labelSelector() (*metav1.LabelSelector, error) {
	if f.selector == "" {
		return nil, nil
	}
	// As metav1.ParseToLabelSelector, but "key!=value" (which kubectl's -l
	// takes and ParseToLabelSelector rejects) becomes "key notin (value)".
	reqs, err := labels.ParseToRequirements(f.selector)
	if err != nil {
		return nil, fmt.Errorf("--selector: %w", err)
	}
	sel := &metav1.LabelSelector{MatchLabels: map[string]string{}, MatchExpressions: []metav1.LabelSelectorRequirement{}}
	for _, r := range reqs {
		var op metav1.LabelSelectorOperator
		switch r.Operator() {
		case selection.Equals, selection.DoubleEquals:
			sel.MatchLabels[r.Key()] = r.Values().List()[0]
			continue
		case selection.In:
			op = metav1.LabelSelectorOpIn
		case selection.NotIn, selection.NotEquals:
			op = metav1.LabelSelectorOpNotIn
		case selection.Exists:
			op = metav1.LabelSelectorOpExists
		case selection.DoesNotExist:
			op = metav1.LabelSelectorOpDoesNotExist
		default:
			return nil, fmt.Errorf("--selector: %q is not supported in label selectors", r.Operator())
		}
		sel.MatchExpressions = append(sel.MatchExpressions, metav1.LabelSelectorRequirement{Key: r.Key(), Operator: op, Values: r.Values().List()})
	}
	return sel, nil
}

// backupFlags are the flags of a backup spec (backup create, schedule create).
type backupFlags struct {
	filterFlags
	snapshotVolumes bool
	ttl             time.Duration
	storageLocation string
	// snapshotLocations are volume snapshot locations (Heptio Ark's flag).
	snapshotLocations []string
	// orderedResources is --ordered-resources, as Velero spells it.
	orderedResources string
}

func (b *backupFlags) add(fs *pflag.FlagSet) {
	b.filterFlags.add(fs)
	fs.BoolVar(&b.snapshotVolumes, "snapshot-volumes", true, "take snapshots of persistent volumes (--snapshot-volumes=false to skip)")
	fs.DurationVar(&b.ttl, "ttl", arkv1.DefaultBackupTTL, "how long the backup is kept")
	fs.StringVar(&b.storageLocation, "storage-location", "", "backup storage location (default: the server's)")
	fs.StringVar(&b.orderedResources, "ordered-resources", "", `items to back up first, in this order: "pods=ns1/a,ns1/b;persistentvolumes=pv-1" ("name" for cluster-scoped resources)`)
	fs.StringSliceVar(&b.snapshotLocations, "volume-snapshot-locations", nil, "volume snapshot locations whose snapshotters and settings the volume snapshots use, at most one per provider (default: every snapshotter of the server)")
}

func (b *backupFlags) spec() (arkv1.BackupSpec, error) {
	sel, err := b.labelSelector()
	if err != nil {
		return arkv1.BackupSpec{}, err
	}
	ordered, err := parseOrderedResources(b.orderedResources)
	if err != nil {
		return arkv1.BackupSpec{}, err
	}
	snap := b.snapshotVolumes
	return arkv1.BackupSpec{
		OrderedResources:        ordered,
		IncludedNamespaces:      b.includeNamespaces,
		ExcludedNamespaces:      b.excludeNamespaces,
		IncludedResources:       b.includeResources,
		ExcludedResources:       b.excludeResources,
		LabelSelector:           sel,
		IncludeClusterResources: b.includeClusterResources.value,
		SnapshotVolumes:         &snap,
		TTL:                     metav1.Duration{Duration: b.ttl},
		StorageLocation:         b.storageLocation,
		VolumeSnapshotLocations: b.snapshotLocations,
	}, nil
}

// parseOrderedResources reads --ordered-resources
// "pods=ns1/a,ns1/b;persistentvolumes=pv-1". The server checks the entries;
// this only splits them, refusing what it cannot split.
func parseOrderedResources(flag string) (map[string]string, error) {
	if flag == "" {
		return nil, nil
	}
	out := map[string]string{}
	for _, part := range strings.Split(flag, ";") {
		res, items, ok := strings.Cut(part, "=")
		if !ok || res == "" || items == "" {
			return nil, fmt.Errorf("--ordered-resources: %q is not resource=namespace/name,...", part)
		}
		if _, dup := out[res]; dup {
			return nil, fmt.Errorf("--ordered-resources: %q is given twice", res)
		}
		out[res] = items
	}
	return out, nil
}

// parseMappings reads --namespace-mappings abc:def,123:456.
func parseMappings(pairs []string) (map[string]string, error) {
	if len(pairs) == 0 {
		return nil, nil
	}
	out := map[string]string{}
	for _, p := range pairs {
		src, dst, ok := strings.Cut(p, ":")
		if !ok || src == "" || dst == "" {
			return nil, fmt.Errorf("--namespace-mappings: %q is not source:target", p)
		}
		if _, dup := out[src]; dup {
			return nil, fmt.Errorf("--namespace-mappings: %q is mapped twice", src)
		}
		out[src] = dst
	}
	return out, nil
}
