// Package validation checks Ark objects at the API boundary, so that a bad
// spec is refused with a 422 naming the field instead of failing later in a
// controller.
package validation

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/sets"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/arkproject/ark/pkg/apis/ark"
)

// Scope tells validation where Ark's home namespace is and which storage
// locations exist. Objects in the home namespace belong to administrators and
// may cover the whole cluster; everywhere else they are confined to their own
// namespace, which is what lets namespace users back up and restore
// themselves without cluster-wide rights.
type Scope struct {
	HomeNamespace string
	// Locations, when set, says which backup storage locations exist:
	// a new backup (or a schedule) must name one that may be written.
	Locations LocationLookup
	// PrimaryLocation names the location given by --backup-location.
	PrimaryLocation string
	// LoopbackUID is the UID of this server's own loopback identity (random
	// per process and never sent to anyone): the one identity allowed to
	// pass on a requester it was given, as the schedule controller does.
	// Empty allows no one.
	LoopbackUID string
	// Tenant bounds what objects outside the home namespace may ask for.
	Tenant TenantLimits
	// ClusterScoped, when set, reports whether a resource name a user
	// wrote stands for a cluster-scoped resource of the cluster: outside
	// the home namespace, naming one is refused.
	ClusterScoped func(resource string) bool
	// UnknownResource, when set, says why a resource name a user wrote in
	// a filter names nothing the cluster serves (with a "did you mean"),
	// or "" when it does: a typo must be refused, not back up nothing.
	UnknownResource func(resource string) string
}

// LocationLookup tells validation about backup storage locations.
type LocationLookup interface {
	// Location says whether a location of the name is served, and whether
	// it is ReadOnly.
	Location(name string) (exists, readOnly bool)
	// Names returns the names of the served locations.
	Names() []string
}

// TenantLimits bound the backups, restores and schedules of namespaces
// other than the home namespace, so that one tenant cannot hold Ark's
// workers or its bucket for as long as they like. Zero means no bound.
type TenantLimits struct {
	// MaxHookTimeout bounds a hook's timeout.
	MaxHookTimeout time.Duration
	// MinScheduleInterval bounds how often a schedule may back up.
	MinScheduleInterval time.Duration
	// MaxTTL bounds how long a backup is kept.
	MaxTTL time.Duration
}

// DefaultTenantLimits are the bounds of ark-apiserver's defaults.
var DefaultTenantLimits = TenantLimits{MaxHookTimeout: 10 * time.Minute, MinScheduleInterval: 15 * time.Minute, MaxTTL: 90 * 24 * time.Hour}

func (s Scope) confined(ns string) bool { return ns != "" && ns != s.HomeNamespace }

// ValidateBackup validates a new Backup.
func ValidateBackup(b *ark.Backup, scope Scope) field.ErrorList {
	allErrs := apimachineryvalidation.ValidateObjectMeta(&b.ObjectMeta, true, apimachineryvalidation.NameIsDNSSubdomain, field.NewPath("metadata"))
	allErrs = append(allErrs, backupNameTooLong(b.Name)...)
	allErrs = append(allErrs, ValidateBackupSpec(&b.Spec, b.Namespace, scope, field.NewPath("spec"))...)
	return allErrs
}

// ValidateBackupUpdate validates a change to a Backup's spec or metadata. The
// spec of a backup that has started is what was backed up: it cannot
// change, but for its retention (spec.ttl), which users extend or shorten
// as they do in Velero, until the backup is being deleted.
func ValidateBackupUpdate(b, old *ark.Backup, scope Scope) field.ErrorList {
	allErrs := apimachineryvalidation.ValidateObjectMetaUpdate(&b.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))
	// A backup lives where it was made: its location is checked on create
	// only, and it may still be updated (expired, deleted) while its
	// location is ReadOnly, as far as the location lets it.
	unplaced := scope
	unplaced.Locations = nil
	allErrs = append(allErrs, ValidateBackupSpec(&b.Spec, b.Namespace, unplaced, field.NewPath("spec"))...)
	if b.Spec.StorageLocation != old.Spec.StorageLocation {
		allErrs = append(allErrs, field.Forbidden(field.NewPath("spec", "storageLocation"), "a backup stays in the location it was created in"))
	}
	switch {
	case backupSpecMutable(old.Status.Phase), specEqual(b.Spec, old.Spec):
	case old.Status.Phase == ark.BackupPhaseDeleting:
		allErrs = append(allErrs, field.Forbidden(field.NewPath("spec"), "may not change once the backup is Deleting"))
	case !OnlyTTLChanged(&b.Spec, &old.Spec):
		allErrs = append(allErrs, field.Forbidden(field.NewPath("spec"), fmt.Sprintf("may not change once the backup is %s, but for spec.ttl (how long it is kept)", old.Status.Phase)))
	}
	return allErrs
}

// OnlyTTLChanged reports whether two specs of one backup differ in nothing
// but their TTL (and so their requester, which a spec change re-records).
func OnlyTTLChanged(spec, old *ark.BackupSpec) bool {
	a, b := *spec, *old
	a.TTL, a.Requester = b.TTL, b.Requester
	return specEqual(a, b) && spec.TTL != old.TTL
}

// ValidateBackupSpec validates a BackupSpec, of a Backup or of a Schedule's template.
func ValidateBackupSpec(spec *ark.BackupSpec, ns string, scope Scope, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	allErrs = append(allErrs, validateNamespaceFilters(spec.IncludedNamespaces, spec.ExcludedNamespaces, fldPath)...)
	allErrs = append(allErrs, validateResourceFilters(spec.IncludedResources, spec.ExcludedResources, scope, fldPath)...)
	allErrs = append(allErrs, labelSelector(spec.LabelSelector, fldPath.Child("labelSelector"))...)
	if spec.TTL.Duration < 0 {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("ttl"), spec.TTL.Duration.String(), "must not be negative"))
	}
	allErrs = append(allErrs, validateStorageLocation(spec.StorageLocation, scope, fldPath.Child("storageLocation"))...)
	allErrs = append(allErrs, validateHooks(&spec.Hooks, scope, fldPath.Child("hooks"))...)
	allErrs = append(allErrs, validateSnapshotLocationNames(spec.VolumeSnapshotLocations, fldPath.Child("volumeSnapshotLocations"))...)
	allErrs = append(allErrs, validateOrderedResources(spec.OrderedResources, fldPath.Child("orderedResources"))...)
	if scope.confined(ns) {
		if len(spec.IncludedNamespaces) == 0 {
			// Empty means every namespace; the API server fills in the
			// object's own namespace on create and update.
			allErrs = append(allErrs, field.Required(fldPath.Child("includedNamespaces"), fmt.Sprintf("an object in namespace %q must name the namespaces it includes (only %q is allowed)", ns, ns)))
		}
		allErrs = append(allErrs, confineNamespaces(spec.IncludedNamespaces, ns, nil, fldPath.Child("includedNamespaces"))...)
		if spec.IncludeClusterResources != nil && *spec.IncludeClusterResources {
			allErrs = append(allErrs, field.Forbidden(fldPath.Child("includeClusterResources"), clusterForbidden(ns, scope)))
		}
		for i, h := range spec.Hooks.Resources {
			allErrs = append(allErrs, confineNamespaces(h.IncludedNamespaces, ns, nil, fldPath.Child("hooks", "resources").Index(i).Child("includedNamespaces"))...)
		}
		allErrs = append(allErrs, tenantBounds(spec, ns, scope.Tenant, fldPath)...)
		allErrs = append(allErrs, noClusterScoped(spec.IncludedResources, ns, scope, fldPath.Child("includedResources"))...)
	}
	return allErrs
}

// validateSnapshotLocationNames checks the names a backup gives its volume
// snapshot locations; whether they exist, and their providers, are checked
// when the backup starts (locations come and go, as storage locations do).
func validateSnapshotLocationNames(names []string, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	seen := sets.New[string]()
	for i, n := range names {
		for _, msg := range apimachineryvalidation.NameIsDNSSubdomain(n, false) {
			allErrs = append(allErrs, field.Invalid(fldPath.Index(i), n, msg))
		}
		if seen.Has(n) {
			allErrs = append(allErrs, field.Duplicate(fldPath.Index(i), n))
		}
		seen.Insert(n)
	}
	return allErrs
}

// validateOrderedResources checks the shape of orderedResources: a resource
// name for each key, and for each value a comma-separated list of
// "namespace/name" or "name", each once. Whether a resource is served, and
// namespaced, is known only to the backup, which warns about what does not
// fit the cluster.
func validateOrderedResources(ordered map[string]string, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	for _, key := range sets.List(sets.KeySet(ordered)) {
		value := ordered[key]
		if key == "" || strings.ContainsAny(key, " \t,;=/*") {
			allErrs = append(allErrs, field.Invalid(fldPath.Key(key), key, `must be a resource name such as "pods" or "deployments.apps"`))
		}
		seen := sets.New[string]()
		for _, entry := range strings.Split(value, ",") {
			ns, name, namespaced := strings.Cut(entry, "/")
			if !namespaced {
				ns, name = "", entry
			}
			switch {
			case name == "" || (namespaced && ns == "") || strings.ContainsAny(entry, " \t;=") || strings.Contains(name, "/"):
				allErrs = append(allErrs, field.Invalid(fldPath.Key(key), value, fmt.Sprintf(`%q is not "namespace/name" or "name": give a comma-separated list of them`, entry)))
			case seen.Has(entry):
				allErrs = append(allErrs, field.Invalid(fldPath.Key(key), value, fmt.Sprintf("%q is named twice", entry)))
			}
			seen.Insert(entry)
		}
	}
	return allErrs
}

// noClusterScoped refuses cluster-scoped resources in a confined object's
// included resources: it covers its own namespace only.
func noClusterScoped(included []string, ns string, scope Scope, fldPath *field.Path) field.ErrorList {
	if scope.ClusterScoped == nil {
		return nil
	}
	var allErrs field.ErrorList
	for i, r := range included {
		if scope.ClusterScoped(r) {
			allErrs = append(allErrs, field.Forbidden(fldPath.Index(i), fmt.Sprintf("%q is cluster-scoped; an object in namespace %q covers only that namespace (cluster-scoped resources need the %q namespace)", r, ns, scope.HomeNamespace)))
		}
	}
	return allErrs
}

// tenantBounds applies scope.Tenant to a backup spec of a confined namespace.
func tenantBounds(spec *ark.BackupSpec, ns string, limits TenantLimits, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if limits.MaxTTL > 0 && spec.TTL.Duration > limits.MaxTTL {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("ttl"), spec.TTL.Duration.String(), fmt.Sprintf("a backup in namespace %q may be kept at most %s", ns, limits.MaxTTL)))
	}
	if limits.MaxHookTimeout > 0 {
		for i, h := range spec.Hooks.Resources {
			p := fldPath.Child("hooks", "resources").Index(i)
			for phase, list := range map[string][]ark.BackupResourceHook{"pre": h.PreHooks, "post": h.PostHooks} {
				for j, hook := range list {
					if hook.Exec != nil && hook.Exec.Timeout.Duration > limits.MaxHookTimeout {
						allErrs = append(allErrs, field.Invalid(p.Child(phase).Index(j).Child("exec", "timeout"), hook.Exec.Timeout.Duration.String(), fmt.Sprintf("a hook of a backup in namespace %q may run at most %s", ns, limits.MaxHookTimeout)))
					}
				}
			}
		}
	}
	return allErrs
}

func clusterForbidden(ns string, scope Scope) string {
	return fmt.Sprintf("cluster-scoped resources may only be included by objects in the %q namespace, not %q", scope.HomeNamespace, ns)
}

// confineNamespaces checks that a confined object only reaches its own
// namespace (or source namespaces that are mapped into it).
func confineNamespaces(included []string, ns string, mapped map[string]string, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	for i, n := range included {
		if n == ns {
			continue
		}
		if _, ok := mapped[n]; ok {
			continue
		}
		allErrs = append(allErrs, field.Forbidden(fldPath.Index(i), fmt.Sprintf("an object in namespace %q may only include namespace %q, not %q", ns, ns, n)))
	}
	return allErrs
}

func validateNamespaceFilters(included, excluded []string, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	check := func(list []string, p *field.Path) {
		for i, n := range list {
			if n == "*" {
				continue
			}
			for _, msg := range utilvalidation.IsDNS1123Label(n) {
				allErrs = append(allErrs, field.Invalid(p.Index(i), n, msg))
			}
		}
	}
	check(included, fldPath.Child("includedNamespaces"))
	check(excluded, fldPath.Child("excludedNamespaces"))
	allErrs = append(allErrs, validateIncludeExclude(included, excluded, fldPath.Child("includedNamespaces"), fldPath.Child("excludedNamespaces"))...)
	return allErrs
}

func validateResourceFilters(included, excluded []string, scope Scope, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	check := func(list []string, p *field.Path) {
		for i, r := range list {
			if r == "*" {
				continue
			}
			if r == "" || strings.ContainsAny(r, " /,") {
				allErrs = append(allErrs, field.Invalid(p.Index(i), r, "must be a resource name such as \"deployments\" or \"deployments.apps\""))
			} else if scope.UnknownResource != nil {
				if why := scope.UnknownResource(r); why != "" {
					allErrs = append(allErrs, field.Invalid(p.Index(i), r, why))
				}
			}
		}
	}
	check(included, fldPath.Child("includedResources"))
	check(excluded, fldPath.Child("excludedResources"))
	allErrs = append(allErrs, validateIncludeExclude(included, excluded, fldPath.Child("includedResources"), fldPath.Child("excludedResources"))...)
	return allErrs
}

// validateIncludeExclude refuses filters that contradict themselves: "*"
// mixed with names, "*" excluded, or a name both included and excluded.
func validateIncludeExclude(included, excluded []string, incPath, excPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	inc := sets.New(included...)
	if inc.Has("*") && inc.Len() > 1 {
		allErrs = append(allErrs, field.Invalid(incPath, included, "\"*\" may not be combined with other entries"))
	}
	for i, e := range excluded {
		if e == "*" {
			allErrs = append(allErrs, field.Invalid(excPath.Index(i), e, "\"*\" may not be excluded"))
		} else if inc.Has(e) {
			allErrs = append(allErrs, field.Invalid(excPath.Index(i), e, "is also included"))
		}
	}
	return allErrs
}

// hookSelection is what backup and restore hook specifications share: a
// name unique among them, and the filters that select pods.
type hookSelection struct {
	name                                   string
	includedNamespaces, excludedNamespaces []string
	includedResources, excludedResources   []string
	labelSelector                          *metav1.LabelSelector
}

func (h hookSelection) validate(names sets.Set[string], scope Scope, p *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if h.name == "" {
		allErrs = append(allErrs, field.Required(p.Child("name"), ""))
	} else if names.Has(h.name) {
		allErrs = append(allErrs, field.Duplicate(p.Child("name"), h.name))
	}
	names.Insert(h.name)
	allErrs = append(allErrs, validateNamespaceFilters(h.includedNamespaces, h.excludedNamespaces, p)...)
	allErrs = append(allErrs, validateResourceFilters(h.includedResources, h.excludedResources, scope, p)...)
	return append(allErrs, labelSelector(h.labelSelector, p.Child("labelSelector"))...)
}

func validateHooks(hooks *ark.BackupHooks, scope Scope, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	names := sets.New[string]()
	for i, h := range hooks.Resources {
		p := fldPath.Child("resources").Index(i)
		allErrs = append(allErrs, hookSelection{h.Name, h.IncludedNamespaces, h.ExcludedNamespaces, h.IncludedResources, h.ExcludedResources, h.LabelSelector}.validate(names, scope, p)...)
		if len(h.Hooks) > 0 {
			// Defaulting moved a lone alias to pre; what is left was set with pre.
			allErrs = append(allErrs, field.Forbidden(p.Child("hooks"), "hooks is the deprecated name of pre: set one of them, not both"))
		}
		for j, hook := range h.PreHooks {
			allErrs = append(allErrs, validateExecHook(hook.Exec, p.Child("pre").Index(j).Child("exec"))...)
		}
		for j, hook := range h.PostHooks {
			allErrs = append(allErrs, validateExecHook(hook.Exec, p.Child("post").Index(j).Child("exec"))...)
		}
	}
	return allErrs
}

func validateExecHook(e *ark.ExecHook, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if e == nil {
		return append(allErrs, field.Required(fldPath, "exec is the only hook kind"))
	}
	if len(e.Command) == 0 {
		allErrs = append(allErrs, field.Required(fldPath.Child("command"), ""))
	}
	switch e.OnError {
	case "", ark.HookErrorModeContinue, ark.HookErrorModeFail:
	default:
		allErrs = append(allErrs, field.NotSupported(fldPath.Child("onError"), e.OnError, []ark.HookErrorMode{ark.HookErrorModeContinue, ark.HookErrorModeFail}))
	}
	if e.Timeout.Duration < 0 {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("timeout"), e.Timeout.Duration.String(), "must not be negative"))
	}
	if e.Container != "" {
		for _, msg := range utilvalidation.IsDNS1123Label(e.Container) {
			allErrs = append(allErrs, field.Invalid(fldPath.Child("container"), e.Container, msg))
		}
	}
	return allErrs
}

// validateRestoreHooks checks a restore's hooks as validateHooks does a
// backup's; an init hook's containers must decode as containers.
func validateRestoreHooks(hooks *ark.RestoreHooks, scope Scope, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	names := sets.New[string]()
	for i, h := range hooks.Resources {
		p := fldPath.Child("resources").Index(i)
		allErrs = append(allErrs, hookSelection{h.Name, h.IncludedNamespaces, h.ExcludedNamespaces, h.IncludedResources, h.ExcludedResources, h.LabelSelector}.validate(names, scope, p)...)
		for j, hook := range h.PostHooks {
			hp := p.Child("postHooks").Index(j)
			switch {
			case (hook.Exec == nil) == (hook.Init == nil):
				allErrs = append(allErrs, field.Invalid(hp, "", "set exactly one of exec and init"))
			case hook.Exec != nil:
				e := hook.Exec
				allErrs = append(allErrs, validateExecHook(&ark.ExecHook{Container: e.Container, Command: e.Command, OnError: e.OnError, Timeout: e.ExecTimeout}, hp.Child("exec"))...)
				if e.WaitTimeout.Duration < 0 {
					allErrs = append(allErrs, field.Invalid(hp.Child("exec", "waitTimeout"), e.WaitTimeout.Duration.String(), "must not be negative"))
				}
			default:
				if len(hook.Init.InitContainers) == 0 {
					allErrs = append(allErrs, field.Required(hp.Child("init", "initContainers"), ""))
				}
				if _, err := ark.DecodeContainers(hook.Init.InitContainers); err != nil {
					allErrs = append(allErrs, field.Invalid(hp.Child("init", "initContainers"), "", err.Error()))
				}
			}
		}
	}
	return allErrs
}

// ValidateRestore validates a new Restore.
func ValidateRestore(r *ark.Restore, scope Scope) field.ErrorList {
	allErrs := apimachineryvalidation.ValidateObjectMeta(&r.ObjectMeta, true, apimachineryvalidation.NameIsDNSSubdomain, field.NewPath("metadata"))
	allErrs = append(allErrs, restoreNameTooLong(r.Name)...)
	allErrs = append(allErrs, ValidateRestoreSpec(&r.Spec, r.Namespace, scope, field.NewPath("spec"))...)
	return allErrs
}

// ValidateRestoreUpdate validates a change to a Restore; like a backup's, its
// spec is frozen once the restore has started.
func ValidateRestoreUpdate(r, old *ark.Restore, scope Scope) field.ErrorList {
	allErrs := apimachineryvalidation.ValidateObjectMetaUpdate(&r.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))
	spec := r.Spec
	if ResolvedFromSchedule(old) && spec.BackupName == old.Spec.BackupName {
		// The server recorded the schedule's backup in backupName, as
		// Heptio Ark did; the restore still names its schedule.
		spec.BackupName = ""
	}
	allErrs = append(allErrs, ValidateRestoreSpec(&spec, r.Namespace, scope, field.NewPath("spec"))...)
	if !restoreSpecMutable(old.Status.Phase) && !specEqual(r.Spec, old.Spec) {
		allErrs = append(allErrs, field.Forbidden(field.NewPath("spec"), fmt.Sprintf("may not change once the restore is %s", old.Status.Phase)))
	}
	return allErrs
}

// ResolvedFromSchedule says whether r restores from a schedule whose backup
// the server has chosen and recorded in spec.backupName.
func ResolvedFromSchedule(r *ark.Restore) bool {
	return r.Spec.ScheduleName != "" && r.Spec.BackupName != "" && r.Spec.BackupName == r.Status.BackupName
}

// ValidateRestoreSpec validates a RestoreSpec of a restore in namespace ns.
func ValidateRestoreSpec(spec *ark.RestoreSpec, ns string, scope Scope, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	switch {
	case spec.BackupName != "" && spec.ScheduleName != "":
		allErrs = append(allErrs, field.Invalid(fldPath.Child("scheduleName"), spec.ScheduleName, "may not be set together with backupName"))
	case spec.BackupName == "" && spec.ScheduleName == "":
		allErrs = append(allErrs, field.Required(fldPath.Child("backupName"), "one of backupName and scheduleName is required"))
	}
	for _, n := range []struct {
		name string
		path *field.Path
	}{{spec.BackupName, fldPath.Child("backupName")}, {spec.ScheduleName, fldPath.Child("scheduleName")}} {
		if n.name == "" {
			continue
		}
		for _, msg := range apimachineryvalidation.NameIsDNSSubdomain(n.name, false) {
			allErrs = append(allErrs, field.Invalid(n.path, n.name, msg))
		}
	}
	if spec.BackupNamespace != "" {
		for _, msg := range utilvalidation.IsDNS1123Label(spec.BackupNamespace) {
			allErrs = append(allErrs, field.Invalid(fldPath.Child("backupNamespace"), spec.BackupNamespace, msg))
		}
		if scope.confined(ns) && spec.BackupNamespace != ns && spec.NamespaceMapping[spec.BackupNamespace] != ns {
			allErrs = append(allErrs, field.Invalid(fldPath.Child("namespaceMapping"), spec.NamespaceMapping,
				fmt.Sprintf("a restore in namespace %q of a backup of namespace %q restores into %q: map %q to %q", ns, spec.BackupNamespace, ns, spec.BackupNamespace, ns)))
		}
	}
	allErrs = append(allErrs, validateNamespaceFilters(spec.IncludedNamespaces, spec.ExcludedNamespaces, fldPath)...)
	allErrs = append(allErrs, validateResourceFilters(spec.IncludedResources, spec.ExcludedResources, scope, fldPath)...)
	allErrs = append(allErrs, labelSelector(spec.LabelSelector, fldPath.Child("labelSelector"))...)
	mapPath := fldPath.Child("namespaceMapping")
	targets := map[string]string{}
	for _, src := range sortedKeys(spec.NamespaceMapping) {
		dst := spec.NamespaceMapping[src]
		for _, msg := range utilvalidation.IsDNS1123Label(src) {
			allErrs = append(allErrs, field.Invalid(mapPath.Key(src), src, "source namespace: "+msg))
		}
		for _, msg := range utilvalidation.IsDNS1123Label(dst) {
			allErrs = append(allErrs, field.Invalid(mapPath.Key(src), dst, msg))
		}
		if other, ok := targets[dst]; ok && !scope.confined(ns) {
			allErrs = append(allErrs, field.Invalid(mapPath.Key(src), dst, fmt.Sprintf("is also the target of %q", other)))
		}
		targets[dst] = src
		if scope.confined(ns) && dst != ns {
			allErrs = append(allErrs, field.Forbidden(mapPath.Key(src), fmt.Sprintf("a restore in namespace %q may only restore into %q, not %q", ns, ns, dst)))
		}
	}
	switch spec.ExistingResourcePolicy {
	case "", ark.ExistingResourcePolicyNone, ark.ExistingResourcePolicyUpdate:
	default:
		allErrs = append(allErrs, field.NotSupported(fldPath.Child("existingResourcePolicy"), spec.ExistingResourcePolicy,
			[]ark.ExistingResourcePolicy{ark.ExistingResourcePolicyNone, ark.ExistingResourcePolicyUpdate}))
	}
	allErrs = append(allErrs, validateRestoreHooks(&spec.Hooks, scope, fldPath.Child("hooks"))...)
	if rs := spec.RestoreStatus; rs != nil {
		allErrs = append(allErrs, validateResourceFilters(rs.IncludedResources, rs.ExcludedResources, scope, fldPath.Child("restoreStatus"))...)
	}
	if ref := spec.ResourceModifier; ref != nil {
		refPath := fldPath.Child("resourceModifier")
		if ref.APIGroup != "" {
			allErrs = append(allErrs, field.Invalid(refPath.Child("apiGroup"), ref.APIGroup, "must be empty: a ConfigMap is in the core group"))
		}
		if ref.Kind != "ConfigMap" {
			allErrs = append(allErrs, field.NotSupported(refPath.Child("kind"), ref.Kind, []string{"ConfigMap"}))
		}
		if ref.Name == "" {
			allErrs = append(allErrs, field.Required(refPath.Child("name"), "the ConfigMap, in the restore's namespace, that holds the rules"))
		}
		for _, msg := range apimachineryvalidation.NameIsDNSSubdomain(ref.Name, false) {
			if ref.Name != "" {
				allErrs = append(allErrs, field.Invalid(refPath.Child("name"), ref.Name, msg))
			}
		}
	}
	if scope.confined(ns) {
		allErrs = append(allErrs, noClusterScoped(spec.IncludedResources, ns, scope, fldPath.Child("includedResources"))...)
		allErrs = append(allErrs, confineNamespaces(spec.IncludedNamespaces, ns, spec.NamespaceMapping, fldPath.Child("includedNamespaces"))...)
		if limit := scope.Tenant.MaxHookTimeout; limit > 0 {
			for i, h := range spec.Hooks.Resources {
				for j, hook := range h.PostHooks {
					if hook.Exec == nil {
						continue
					}
					p := fldPath.Child("hooks", "resources").Index(i).Child("postHooks").Index(j).Child("exec")
					for name, d := range map[string]time.Duration{"execTimeout": hook.Exec.ExecTimeout.Duration, "waitTimeout": hook.Exec.WaitTimeout.Duration} {
						if d > limit {
							allErrs = append(allErrs, field.Invalid(p.Child(name), d.String(), fmt.Sprintf("a hook of a restore in namespace %q may wait or run at most %s", ns, limit)))
						}
					}
				}
			}
		}
		if spec.IncludeClusterResources != nil && *spec.IncludeClusterResources {
			allErrs = append(allErrs, field.Forbidden(fldPath.Child("includeClusterResources"), clusterForbidden(ns, scope)))
		}
	}
	return allErrs
}

// ValidateSchedule validates a new Schedule.
func ValidateSchedule(s *ark.Schedule, scope Scope) field.ErrorList {
	allErrs := apimachineryvalidation.ValidateObjectMeta(&s.ObjectMeta, true, apimachineryvalidation.NameIsDNSSubdomain, field.NewPath("metadata"))
	allErrs = append(allErrs, scheduleNameTooLong(s.Name)...)
	allErrs = append(allErrs, ValidateScheduleSpec(&s.Spec, s.Namespace, scope, field.NewPath("spec"))...)
	return allErrs
}

// ValidateScheduleUpdate validates a change to a Schedule.
func ValidateScheduleUpdate(s, old *ark.Schedule, scope Scope) field.ErrorList {
	allErrs := apimachineryvalidation.ValidateObjectMetaUpdate(&s.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))
	allErrs = append(allErrs, ValidateScheduleSpec(&s.Spec, s.Namespace, scope, field.NewPath("spec"))...)
	return allErrs
}

// ValidateScheduleSpec checks the cron expression and the backup template.
func ValidateScheduleSpec(spec *ark.ScheduleSpec, ns string, scope Scope, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if spec.Schedule == "" {
		allErrs = append(allErrs, field.Required(fldPath.Child("schedule"), "a cron expression such as \"0 */6 * * *\" or \"@every 6h\""))
	} else if sched, err := ParseCron(spec.Schedule); err != nil {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("schedule"), spec.Schedule, err.Error()))
	} else if min := scope.Tenant.MinScheduleInterval; scope.confined(ns) && min > 0 {
		if gap := shortestInterval(sched); gap < min {
			allErrs = append(allErrs, field.Invalid(fldPath.Child("schedule"), spec.Schedule, fmt.Sprintf("a schedule in namespace %q may back up at most every %s, not every %s", ns, min, gap)))
		}
	}
	allErrs = append(allErrs, ValidateBackupSpec(&spec.Template, ns, scope, fldPath.Child("template"))...)
	return allErrs
}

// MinInterval is the shortest @every a schedule may use: shorter intervals
// would only queue backups behind each other.
const MinInterval = 10 * time.Second

// ParseCron parses a schedule as Ark runs it: five standard fields or a
// descriptor (@daily, @every 6h), optionally prefixed by CRON_TZ=<zone>.
func ParseCron(expr string) (s cron.Schedule, err error) {
	// robfig/cron v3.0.1 panics on a time-zone prefix with nothing after it
	// ("CRON_TZ=UTC"); user input must never crash the server.
	defer func() {
		if r := recover(); r != nil {
			s, err = nil, fmt.Errorf("invalid cron expression: %v", r)
		}
	}()
	s, err = cron.ParseStandard(expr)
	if err != nil {
		return nil, fmt.Errorf("invalid cron expression: %w", err)
	}
	if every, ok := s.(cron.ConstantDelaySchedule); ok && every.Delay < MinInterval {
		return nil, fmt.Errorf("invalid cron expression: an @every interval must be at least %s, not %s", MinInterval, every.Delay)
	}
	return s, nil
}

// shortestInterval is the shortest time between two backups of a schedule,
// found over a year of its ticks (a cron schedule repeats within a year).
func shortestInterval(s cron.Schedule) time.Duration {
	if every, ok := s.(cron.ConstantDelaySchedule); ok {
		return every.Delay
	}
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	shortest := time.Duration(1<<63 - 1)
	prev := s.Next(start)
	for i := 0; i < 2000 && !prev.IsZero() && prev.Before(start.AddDate(1, 0, 0)); i++ {
		next := s.Next(prev)
		if next.IsZero() {
			break
		}
		shortest = min(shortest, next.Sub(prev))
		prev = next
	}
	return shortest
}

func labelSelector(sel *metav1.LabelSelector, fldPath *field.Path) field.ErrorList {
	if sel == nil {
		return nil
	}
	return metav1validation.ValidateLabelSelector(sel, metav1validation.LabelSelectorValidationOptions{}, fldPath)
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func specEqual(a, b any) bool { return apiequality.Semantic.DeepEqual(a, b) }

// ValidateBackupStatusUpdate validates a controller's status write.
func ValidateBackupStatusUpdate(b, old *ark.Backup) field.ErrorList {
	allErrs := apimachineryvalidation.ValidateObjectMetaUpdate(&b.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))
	p := field.NewPath("status")
	allErrs = append(allErrs, counts(p, map[string]int{
		"warnings": b.Status.Warnings, "errors": b.Status.Errors,
		"volumeSnapshotsAttempted": b.Status.VolumeSnapshotsAttempted,
		"volumeSnapshotsCompleted": b.Status.VolumeSnapshotsCompleted,
	})...)
	allErrs = append(allErrs, progress(b.Status.Progress, p.Child("progress"))...)
	return allErrs
}

// ValidateRestoreStatusUpdate validates a controller's status write.
func ValidateRestoreStatusUpdate(r, old *ark.Restore) field.ErrorList {
	allErrs := apimachineryvalidation.ValidateObjectMetaUpdate(&r.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))
	p := field.NewPath("status")
	allErrs = append(allErrs, counts(p, map[string]int{"warnings": r.Status.Warnings, "errors": r.Status.Errors})...)
	allErrs = append(allErrs, progress(r.Status.Progress, p.Child("progress"))...)
	return allErrs
}

// ValidateScheduleStatusUpdate validates a controller's status write.
func ValidateScheduleStatusUpdate(s, old *ark.Schedule) field.ErrorList {
	return apimachineryvalidation.ValidateObjectMetaUpdate(&s.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))
}

func counts(p *field.Path, values map[string]int) field.ErrorList {
	var allErrs field.ErrorList
	names := make([]string, 0, len(values))
	for k := range values {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if values[k] < 0 {
			allErrs = append(allErrs, field.Invalid(p.Child(k), values[k], "must not be negative"))
		}
	}
	return allErrs
}

func progress(pr *ark.Progress, p *field.Path) field.ErrorList {
	if pr == nil {
		return nil
	}
	var allErrs field.ErrorList
	if pr.TotalItems < 0 {
		allErrs = append(allErrs, field.Invalid(p.Child("totalItems"), pr.TotalItems, "must not be negative"))
	}
	if pr.ItemsDone < 0 {
		allErrs = append(allErrs, field.Invalid(p.Child("itemsDone"), pr.ItemsDone, "must not be negative"))
	}
	return allErrs
}

// A spec may change until the controller starts working on it; a spec the
// controller rejected may be corrected.
func backupSpecMutable(p ark.BackupPhase) bool {
	return p == "" || p == ark.BackupPhaseNew || p == ark.BackupPhaseFailedValidation
}

func restoreSpecMutable(p ark.RestorePhase) bool {
	return p == "" || p == ark.RestorePhaseNew || p == ark.RestorePhaseFailedValidation
}

// validateStorageLocation checks that a backup's location is served and may
// be written to; empty means the default location.
func validateStorageLocation(name string, scope Scope, p *field.Path) field.ErrorList {
	if name == "" || scope.Locations == nil {
		return nil
	}
	exists, readOnly := scope.Locations.Location(name)
	switch {
	case !exists:
		return field.ErrorList{field.NotSupported(p, name, scope.Locations.Names())}
	case readOnly:
		return field.ErrorList{field.Forbidden(p, fmt.Sprintf("backup storage location %q is ReadOnly: backups are restored from it, never written to it", name))}
	}
	return nil
}
