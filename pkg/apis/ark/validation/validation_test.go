package validation

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/arkproject/ark/pkg/apis/ark"
)

const (
	homeNS = "heptio-ark"
	teamA  = "team-a"
	teamB  = "team-b"
)

// testScope is the scope most tests run with: Ark's home namespace and a
// single known storage location.
var testScope = Scope{HomeNamespace: homeNS, Locations: testLocations{"default": false, "mounted": true}, PrimaryLocation: "default"}

// testLocations are served locations by name, true when ReadOnly.
type testLocations map[string]bool

func (l testLocations) Location(name string) (bool, bool) { ro, ok := l[name]; return ok, ro }

func (l testLocations) Names() []string { return slices.Sorted(maps.Keys(l)) }

// wantErr is one expected error: its type, its field path and, optionally, a
// substring its detail must contain.
type wantErr struct {
	typ    field.ErrorType
	field  string
	detail string
}

func (w wantErr) String() string {
	if w.detail == "" {
		return fmt.Sprintf("%s %s", w.typ, w.field)
	}
	return fmt.Sprintf("%s %s (detail containing %q)", w.typ, w.field, w.detail)
}

func (w wantErr) matches(e *field.Error) bool {
	return e.Type == w.typ && e.Field == w.field && strings.Contains(e.Detail, w.detail)
}

func invalid(f string) wantErr      { return wantErr{typ: field.ErrorTypeInvalid, field: f} }
func forbidden(f string) wantErr    { return wantErr{typ: field.ErrorTypeForbidden, field: f} }
func required(f string) wantErr     { return wantErr{typ: field.ErrorTypeRequired, field: f} }
func notSupported(f string) wantErr { return wantErr{typ: field.ErrorTypeNotSupported, field: f} }
func duplicate(f string) wantErr    { return wantErr{typ: field.ErrorTypeDuplicate, field: f} }

func (w wantErr) with(detail string) wantErr { w.detail = detail; return w }

// expectErrors checks that got holds exactly the expected errors, in any
// order, and prints the whole list when it does not.
func expectErrors(t *testing.T, got field.ErrorList, want ...wantErr) {
	t.Helper()
	remaining := append([]wantErr(nil), want...)
	var unexpected field.ErrorList
	for _, e := range got {
		matched := false
		for i, w := range remaining {
			if w.matches(e) {
				remaining = append(remaining[:i], remaining[i+1:]...)
				matched = true
				break
			}
		}
		if !matched {
			unexpected = append(unexpected, e)
		}
	}
	if len(unexpected) == 0 && len(remaining) == 0 {
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "got %d error(s):\n", len(got))
	for _, e := range got {
		fmt.Fprintf(&b, "  %s %s: detail=%q badValue=%#v\n", e.Type, e.Field, e.Detail, e.BadValue)
	}
	fmt.Fprintf(&b, "want %d error(s):\n", len(want))
	for _, w := range want {
		fmt.Fprintf(&b, "  %s\n", w)
	}
	for _, w := range remaining {
		fmt.Fprintf(&b, "missing: %s\n", w)
	}
	for _, e := range unexpected {
		fmt.Fprintf(&b, "unexpected: %s %s: %q\n", e.Type, e.Field, e.Detail)
	}
	t.Error(b.String())
}

func boolPtr(b bool) *bool { return &b }

func dur(d time.Duration) metav1.Duration { return metav1.Duration{Duration: d} }

func newBackup(ns string, mutate func(*ark.BackupSpec)) *ark.Backup {
	b := &ark.Backup{ObjectMeta: metav1.ObjectMeta{Name: "nightly", Namespace: ns}}
	if mutate != nil {
		mutate(&b.Spec)
	}
	return b
}

func newRestore(ns string, mutate func(*ark.RestoreSpec)) *ark.Restore {
	r := &ark.Restore{
		ObjectMeta: metav1.ObjectMeta{Name: "restore-1", Namespace: ns},
		Spec:       ark.RestoreSpec{BackupName: "nightly"},
	}
	if mutate != nil {
		mutate(&r.Spec)
	}
	return r
}

func newSchedule(ns string, mutate func(*ark.ScheduleSpec)) *ark.Schedule {
	s := &ark.Schedule{
		ObjectMeta: metav1.ObjectMeta{Name: "every-six-hours", Namespace: ns},
		Spec:       ark.ScheduleSpec{Schedule: "0 */6 * * *"},
	}
	if mutate != nil {
		mutate(&s.Spec)
	}
	return s
}

// validHookSpec is a hook specification with one valid pre and post hook.
func validHookSpec(name string) ark.BackupResourceHookSpec {
	return ark.BackupResourceHookSpec{
		Name:              name,
		IncludedResources: []string{"pods"},
		LabelSelector:     &metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}},
		PreHooks: []ark.BackupResourceHook{{Exec: &ark.ExecHook{
			Container: "db",
			Command:   []string{"/bin/fsfreeze", "--freeze", "/data"},
			OnError:   ark.HookErrorModeFail,
			Timeout:   dur(30 * time.Second),
		}}},
		PostHooks: []ark.BackupResourceHook{{Exec: &ark.ExecHook{
			Command: []string{"/bin/fsfreeze", "--unfreeze", "/data"},
			OnError: ark.HookErrorModeContinue,
		}}},
	}
}

// withHook sets a single hook specification built from validHookSpec and
// changed by mutate.
func withHook(mutate func(*ark.BackupResourceHookSpec)) func(*ark.BackupSpec) {
	return func(s *ark.BackupSpec) {
		h := validHookSpec("freeze")
		mutate(&h)
		s.Hooks.Resources = []ark.BackupResourceHookSpec{h}
	}
}

func badOperatorSelector() *metav1.LabelSelector {
	return &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
		{Key: "app", Operator: "Equals", Values: []string{"db"}},
	}}
}

func TestValidateBackup(t *testing.T) {
	const hook0 = "spec.hooks.resources[0]"
	tests := []struct {
		name   string
		backup *ark.Backup
		scope  *Scope // testScope when nil
		want   []wantErr
	}{
		{
			name:   "minimal backup in the home namespace",
			backup: newBackup(homeNS, nil),
		},
		{
			name: "fully populated valid backup",
			backup: newBackup(homeNS, func(s *ark.BackupSpec) {
				s.IncludedNamespaces = []string{"ns1", "ns2"}
				s.ExcludedNamespaces = []string{"ns3"}
				s.IncludedResources = []string{"deployments.apps", "pods", "pvc"}
				s.ExcludedResources = []string{"secrets"}
				s.LabelSelector = &metav1.LabelSelector{
					MatchLabels: map[string]string{"app": "web"},
					MatchExpressions: []metav1.LabelSelectorRequirement{
						{Key: "tier", Operator: metav1.LabelSelectorOpIn, Values: []string{"front", "back"}},
						{Key: "canary", Operator: metav1.LabelSelectorOpDoesNotExist},
					},
				}
				s.IncludeClusterResources = boolPtr(true)
				s.SnapshotVolumes = boolPtr(false)
				s.TTL = dur(720 * time.Hour)
				s.StorageLocation = "default"
				s.Hooks.Resources = []ark.BackupResourceHookSpec{validHookSpec("freeze"), validHookSpec("flush")}
			}),
		},
		{
			name: "all namespaces with exclusions",
			backup: newBackup(homeNS, func(s *ark.BackupSpec) {
				s.IncludedNamespaces = []string{"*"}
				s.ExcludedNamespaces = []string{"kube-system"}
				s.IncludedResources = []string{"*"}
				s.ExcludedResources = []string{"events"}
			}),
		},
		{
			name:   "zero TTL is allowed",
			backup: newBackup(homeNS, func(s *ark.BackupSpec) { s.TTL = dur(0) }),
		},
		{
			name:   "negative TTL",
			backup: newBackup(homeNS, func(s *ark.BackupSpec) { s.TTL = dur(-time.Hour) }),
			want:   []wantErr{invalid("spec.ttl").with("must not be negative")},
		},
		{
			name:   "bad label selector operator",
			backup: newBackup(homeNS, func(s *ark.BackupSpec) { s.LabelSelector = badOperatorSelector() }),
			want:   []wantErr{invalid("spec.labelSelector.matchExpressions[0].operator")},
		},
		{
			name: "label selector In without values",
			backup: newBackup(homeNS, func(s *ark.BackupSpec) {
				s.LabelSelector = &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
					{Key: "app", Operator: metav1.LabelSelectorOpIn},
				}}
			}),
			want: []wantErr{required("spec.labelSelector.matchExpressions[0].values")},
		},
		{
			name:   "star mixed with other included namespaces",
			backup: newBackup(homeNS, func(s *ark.BackupSpec) { s.IncludedNamespaces = []string{"*", "ns1"} }),
			want:   []wantErr{invalid("spec.includedNamespaces").with(`"*" may not be combined`)},
		},
		{
			name:   "repeated star alone is fine",
			backup: newBackup(homeNS, func(s *ark.BackupSpec) { s.IncludedNamespaces = []string{"*", "*"} }),
		},
		{
			name: "namespace both included and excluded",
			backup: newBackup(homeNS, func(s *ark.BackupSpec) {
				s.IncludedNamespaces = []string{"ns1", "ns2"}
				s.ExcludedNamespaces = []string{"ns3", "ns2"}
			}),
			want: []wantErr{invalid("spec.excludedNamespaces[1]").with("is also included")},
		},
		{
			name:   "excluded star namespace",
			backup: newBackup(homeNS, func(s *ark.BackupSpec) { s.ExcludedNamespaces = []string{"*"} }),
			want:   []wantErr{invalid("spec.excludedNamespaces[0]").with(`"*" may not be excluded`)},
		},
		{
			name: "invalid namespace names",
			backup: newBackup(homeNS, func(s *ark.BackupSpec) {
				s.IncludedNamespaces = []string{"ok", "Team_A", ""}
				s.ExcludedNamespaces = []string{"-bad"}
			}),
			want: []wantErr{
				invalid("spec.includedNamespaces[1]"),
				invalid("spec.includedNamespaces[2]"),
				invalid("spec.excludedNamespaces[0]"),
			},
		},
		{
			name: "namespace name longer than 63 characters",
			backup: newBackup(homeNS, func(s *ark.BackupSpec) {
				s.IncludedNamespaces = []string{strings.Repeat("a", 64)}
			}),
			want: []wantErr{invalid("spec.includedNamespaces[0]")},
		},
		{
			name: "invalid resource names",
			backup: newBackup(homeNS, func(s *ark.BackupSpec) {
				s.IncludedResources = []string{"apps/deployments", "pods", "persistent volumes"}
				s.ExcludedResources = []string{"", "a,b"}
			}),
			want: []wantErr{
				invalid("spec.includedResources[0]"),
				invalid("spec.includedResources[2]"),
				invalid("spec.excludedResources[0]"),
				invalid("spec.excludedResources[1]"),
			},
		},
		{
			name: "resource star mixed, star excluded, and resource included and excluded",
			backup: newBackup(homeNS, func(s *ark.BackupSpec) {
				s.IncludedResources = []string{"pods", "*"}
				s.ExcludedResources = []string{"*", "pods"}
			}),
			want: []wantErr{
				invalid("spec.includedResources").with(`"*" may not be combined`),
				invalid("spec.excludedResources[0]").with(`"*" may not be excluded`),
				invalid("spec.excludedResources[1]").with("is also included"),
			},
		},
		{
			name:   "known storage location",
			backup: newBackup(homeNS, func(s *ark.BackupSpec) { s.StorageLocation = "default" }),
		},
		{
			name:   "unknown storage location",
			backup: newBackup(homeNS, func(s *ark.BackupSpec) { s.StorageLocation = "aws-west" }),
			want:   []wantErr{notSupported("spec.storageLocation")},
		},
		{
			name:   "a ReadOnly storage location",
			backup: newBackup(homeNS, func(s *ark.BackupSpec) { s.StorageLocation = "mounted" }),
			want:   []wantErr{forbidden("spec.storageLocation").with("ReadOnly")},
		},
		{
			name:   "any storage location when the scope lists none",
			backup: newBackup(homeNS, func(s *ark.BackupSpec) { s.StorageLocation = "aws-west" }),
			scope:  &Scope{HomeNamespace: homeNS},
		},
		{
			name:   "hook without a name",
			backup: newBackup(homeNS, withHook(func(h *ark.BackupResourceHookSpec) { h.Name = "" })),
			want:   []wantErr{required(hook0 + ".name")},
		},
		{
			name: "duplicate hook names",
			backup: newBackup(homeNS, func(s *ark.BackupSpec) {
				s.Hooks.Resources = []ark.BackupResourceHookSpec{validHookSpec("a"), validHookSpec("b"), validHookSpec("a")}
			}),
			want: []wantErr{duplicate("spec.hooks.resources[2].name")},
		},
		{
			name: "two unnamed hooks are each required, not duplicates",
			backup: newBackup(homeNS, func(s *ark.BackupSpec) {
				s.Hooks.Resources = []ark.BackupResourceHookSpec{validHookSpec(""), validHookSpec("")}
			}),
			want: []wantErr{required("spec.hooks.resources[0].name"), required("spec.hooks.resources[1].name")},
		},
		{
			name: "hook without exec",
			backup: newBackup(homeNS, withHook(func(h *ark.BackupResourceHookSpec) {
				h.PreHooks = append(h.PreHooks, ark.BackupResourceHook{})
				h.PostHooks = []ark.BackupResourceHook{{}}
			})),
			want: []wantErr{required(hook0 + ".pre[1].exec"), required(hook0 + ".post[0].exec")},
		},
		{
			name: "hook with an empty command",
			backup: newBackup(homeNS, withHook(func(h *ark.BackupResourceHookSpec) {
				h.PreHooks[0].Exec.Command = nil
				h.PostHooks[0].Exec.Command = []string{}
			})),
			want: []wantErr{required(hook0 + ".pre[0].exec.command"), required(hook0 + ".post[0].exec.command")},
		},
		{
			name: "hook with an unknown onError",
			backup: newBackup(homeNS, withHook(func(h *ark.BackupResourceHookSpec) {
				h.PreHooks[0].Exec.OnError = "Ignore"
			})),
			want: []wantErr{notSupported(hook0 + ".pre[0].exec.onError")},
		},
		{
			name: "onError is case sensitive",
			backup: newBackup(homeNS, withHook(func(h *ark.BackupResourceHookSpec) {
				h.PostHooks[0].Exec.OnError = "continue"
			})),
			want: []wantErr{notSupported(hook0 + ".post[0].exec.onError")},
		},
		{
			name: "hook with a negative timeout",
			backup: newBackup(homeNS, withHook(func(h *ark.BackupResourceHookSpec) {
				h.PreHooks[0].Exec.Timeout = dur(-time.Second)
			})),
			want: []wantErr{invalid(hook0 + ".pre[0].exec.timeout")},
		},
		{
			name: "hook with a bad container name",
			backup: newBackup(homeNS, withHook(func(h *ark.BackupResourceHookSpec) {
				h.PreHooks[0].Exec.Container = "My_Container"
			})),
			want: []wantErr{invalid(hook0 + ".pre[0].exec.container")},
		},
		{
			name: "hook with bad filters and selector",
			backup: newBackup(homeNS, withHook(func(h *ark.BackupResourceHookSpec) {
				h.IncludedNamespaces = []string{"Bad_NS"}
				h.ExcludedNamespaces = []string{"*"}
				h.IncludedResources = []string{"pods/exec"}
				h.LabelSelector = badOperatorSelector()
			})),
			want: []wantErr{
				invalid(hook0 + ".includedNamespaces[0]"),
				invalid(hook0 + ".excludedNamespaces[0]"),
				invalid(hook0 + ".includedResources[0]"),
				invalid(hook0 + ".labelSelector.matchExpressions[0].operator"),
			},
		},
		{
			name: "several errors at once",
			backup: newBackup(homeNS, func(s *ark.BackupSpec) {
				s.TTL = dur(-time.Minute)
				s.StorageLocation = "nope"
				s.IncludedResources = []string{"a b"}
				s.Hooks.Resources = []ark.BackupResourceHookSpec{{PreHooks: []ark.BackupResourceHook{{}}}}
			}),
			want: []wantErr{
				invalid("spec.ttl"),
				notSupported("spec.storageLocation"),
				invalid("spec.includedResources[0]"),
				required(hook0 + ".name"),
				required(hook0 + ".pre[0].exec"),
			},
		},
		{
			name:   "missing name",
			backup: &ark.Backup{ObjectMeta: metav1.ObjectMeta{Namespace: homeNS}},
			want:   []wantErr{required("metadata.name")},
		},
		{
			// The API server generates the name before it validates.
			name:   "generated name",
			backup: &ark.Backup{ObjectMeta: metav1.ObjectMeta{GenerateName: "nightly-", Name: "nightly-x7k2p", Namespace: homeNS}},
		},
		{
			name:   "invalid generateName",
			backup: &ark.Backup{ObjectMeta: metav1.ObjectMeta{GenerateName: "Nightly_", Name: "nightly-x7k2p", Namespace: homeNS}},
			want:   []wantErr{invalid("metadata.generateName")},
		},
		{
			name:   "invalid name",
			backup: &ark.Backup{ObjectMeta: metav1.ObjectMeta{Name: "Nightly_Backup", Namespace: homeNS}},
			want:   []wantErr{invalid("metadata.name")},
		},
		{
			name:   "missing namespace",
			backup: &ark.Backup{ObjectMeta: metav1.ObjectMeta{Name: "nightly"}},
			want:   []wantErr{required("metadata.namespace")},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			scope := testScope
			if tc.scope != nil {
				scope = *tc.scope
			}
			expectErrors(t, ValidateBackup(tc.backup, scope), tc.want...)
		})
	}
}

func TestValidateBackupConfinement(t *testing.T) {
	tests := []struct {
		name   string
		backup *ark.Backup
		want   []wantErr
	}{
		{
			name:   "including another namespace",
			backup: newBackup(teamA, func(s *ark.BackupSpec) { s.IncludedNamespaces = []string{teamB} }),
			want:   []wantErr{forbidden("spec.includedNamespaces[0]").with(`not "team-b"`)},
		},
		{
			name:   "including its own namespace",
			backup: newBackup(teamA, func(s *ark.BackupSpec) { s.IncludedNamespaces = []string{teamA} }),
		},
		{
			name:   "including its own and another namespace",
			backup: newBackup(teamA, func(s *ark.BackupSpec) { s.IncludedNamespaces = []string{teamA, teamB, "kube-system"} }),
			want:   []wantErr{forbidden("spec.includedNamespaces[1]"), forbidden("spec.includedNamespaces[2]")},
		},
		{
			name:   "including all namespaces with star",
			backup: newBackup(teamA, func(s *ark.BackupSpec) { s.IncludedNamespaces = []string{"*"} }),
			want:   []wantErr{forbidden("spec.includedNamespaces[0]")},
		},
		{
			name:   "including the home namespace",
			backup: newBackup(teamA, func(s *ark.BackupSpec) { s.IncludedNamespaces = []string{homeNS} }),
			want:   []wantErr{forbidden("spec.includedNamespaces[0]")},
		},
		{
			name: "excluding other namespaces is harmless",
			backup: newBackup(teamA, func(s *ark.BackupSpec) {
				s.IncludedNamespaces = []string{teamA}
				s.ExcludedNamespaces = []string{teamB}
			}),
		},
		{
			name: "cluster resources outside the home namespace",
			backup: newBackup(teamA, func(s *ark.BackupSpec) {
				s.IncludedNamespaces = []string{teamA}
				s.IncludeClusterResources = boolPtr(true)
			}),
			want: []wantErr{forbidden("spec.includeClusterResources").with(`"heptio-ark"`)},
		},
		{
			name: "cluster resources explicitly off outside the home namespace",
			backup: newBackup(teamA, func(s *ark.BackupSpec) {
				s.IncludedNamespaces = []string{teamA}
				s.IncludeClusterResources = boolPtr(false)
			}),
		},
		{
			name:   "cluster resources in the home namespace",
			backup: newBackup(homeNS, func(s *ark.BackupSpec) { s.IncludeClusterResources = boolPtr(true) }),
		},
		{
			name: "home namespace may include any namespace",
			backup: newBackup(homeNS, func(s *ark.BackupSpec) {
				s.IncludedNamespaces = []string{teamA, teamB, "kube-system"}
			}),
		},
		{
			name: "hook reaching another namespace",
			backup: newBackup(teamA, func(s *ark.BackupSpec) {
				s.IncludedNamespaces = []string{teamA}
				withHook(func(h *ark.BackupResourceHookSpec) { h.IncludedNamespaces = []string{teamA, teamB} })(s)
			}),
			want: []wantErr{forbidden("spec.hooks.resources[0].includedNamespaces[1]")},
		},
		{
			name: "hook in its own namespace",
			backup: newBackup(teamA, func(s *ark.BackupSpec) {
				s.IncludedNamespaces = []string{teamA}
				withHook(func(h *ark.BackupResourceHookSpec) { h.IncludedNamespaces = []string{teamA} })(s)
			}),
		},
		{
			name: "hook reaching another namespace from the home namespace",
			backup: newBackup(homeNS, withHook(func(h *ark.BackupResourceHookSpec) {
				h.IncludedNamespaces = []string{teamB}
			})),
		},
		{
			name: "confinement and format errors together",
			backup: newBackup(teamA, func(s *ark.BackupSpec) {
				s.IncludedNamespaces = []string{"Bad_NS"}
				s.IncludeClusterResources = boolPtr(true)
			}),
			want: []wantErr{
				invalid("spec.includedNamespaces[0]"),
				forbidden("spec.includedNamespaces[0]"),
				forbidden("spec.includeClusterResources"),
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			expectErrors(t, ValidateBackup(tc.backup, testScope), tc.want...)
		})
	}
}

// storedBackup is a backup as read back from storage: it has a resource
// version, which ValidateObjectMetaUpdate requires of the new object.
func storedBackup(ns string, phase ark.BackupPhase) *ark.Backup {
	b := newBackup(ns, func(s *ark.BackupSpec) {
		s.IncludedNamespaces = []string{ns}
		s.TTL = dur(720 * time.Hour)
		s.StorageLocation = "default"
	})
	b.ResourceVersion = "7"
	b.Generation = 1
	b.Status.Phase = phase
	return b
}

func TestValidateBackupUpdate(t *testing.T) {
	changeTTL := func(b *ark.Backup) { b.Spec.TTL = dur(24 * time.Hour) }
	tests := []struct {
		name   string
		ns     string // homeNS when empty
		phase  ark.BackupPhase
		mutate func(*ark.Backup)
		want   []wantErr
	}{
		{name: "no change", phase: ark.BackupPhaseCompleted, mutate: func(*ark.Backup) {}},
		{name: "spec change without a phase", phase: "", mutate: changeTTL},
		{name: "spec change while New", phase: ark.BackupPhaseNew, mutate: changeTTL},
		{name: "retention change while InProgress", phase: ark.BackupPhaseInProgress, mutate: changeTTL},
		{name: "retention change when Completed", phase: ark.BackupPhaseCompleted, mutate: changeTTL},
		{name: "retention change when PartiallyFailed", phase: ark.BackupPhasePartiallyFailed, mutate: changeTTL},
		{
			name: "retention change when Deleting", phase: ark.BackupPhaseDeleting, mutate: changeTTL,
			want: []wantErr{forbidden("spec").with("Deleting")},
		},
		{
			name: "spec change while InProgress", phase: ark.BackupPhaseInProgress,
			mutate: func(b *ark.Backup) { b.Spec.ExcludedResources = []string{"secrets"} },
			want:   []wantErr{forbidden("spec").with("InProgress")},
		},
		{
			name: "spec change with the retention when Completed", phase: ark.BackupPhaseCompleted,
			mutate: func(b *ark.Backup) { changeTTL(b); b.Spec.ExcludedResources = []string{"secrets"} },
			want:   []wantErr{forbidden("spec").with("Completed")},
		},
		{
			name: "spec change when Failed", phase: ark.BackupPhaseFailed,
			mutate: func(b *ark.Backup) { b.Spec.Hooks.Resources = []ark.BackupResourceHookSpec{validHookSpec("x")} },
			want:   []wantErr{forbidden("spec")},
		},
		{
			name: "label change when Completed", phase: ark.BackupPhaseCompleted,
			mutate: func(b *ark.Backup) { b.Labels = map[string]string{"keep": "forever"} },
		},
		{
			name: "annotation change while InProgress", phase: ark.BackupPhaseInProgress,
			mutate: func(b *ark.Backup) { b.Annotations = map[string]string{"note": "x"} },
		},
		{
			name: "empty slice instead of nil is not a change", phase: ark.BackupPhaseCompleted,
			mutate: func(b *ark.Backup) { b.Spec.ExcludedNamespaces = []string{} },
		},
		{
			name: "invalid spec while New", phase: ark.BackupPhaseNew,
			mutate: func(b *ark.Backup) { b.Spec.TTL = dur(-time.Hour) },
			want:   []wantErr{invalid("spec.ttl")},
		},
		{
			name: "invalid retention when Completed", phase: ark.BackupPhaseCompleted,
			mutate: func(b *ark.Backup) { b.Spec.TTL = dur(-time.Hour) },
			want:   []wantErr{invalid("spec.ttl")},
		},
		{
			name: "confined backup widened while New", ns: teamA, phase: ark.BackupPhaseNew,
			mutate: func(b *ark.Backup) { b.Spec.IncludedNamespaces = []string{teamA, teamB} },
			want:   []wantErr{forbidden("spec.includedNamespaces[1]")},
		},
		{
			name: "missing resource version", phase: ark.BackupPhaseNew,
			mutate: func(b *ark.Backup) { b.ResourceVersion = "" },
			want:   []wantErr{invalid("metadata.resourceVersion")},
		},
		{
			name: "renaming", phase: ark.BackupPhaseNew,
			mutate: func(b *ark.Backup) { b.Name = "other" },
			want:   []wantErr{invalid("metadata.name")},
		},
		{
			name: "invalid label", phase: ark.BackupPhaseCompleted,
			mutate: func(b *ark.Backup) { b.Labels = map[string]string{"bad key!": "v"} },
			want:   []wantErr{invalid("metadata.labels")},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ns := tc.ns
			if ns == "" {
				ns = homeNS
			}
			old := storedBackup(ns, tc.phase)
			b := old.DeepCopy()
			tc.mutate(b)
			expectErrors(t, ValidateBackupUpdate(b, old, testScope), tc.want...)
		})
	}
}

func TestValidateRestore(t *testing.T) {
	tests := []struct {
		name    string
		restore *ark.Restore
		want    []wantErr
	}{
		{
			name:    "minimal restore from a backup",
			restore: newRestore(homeNS, nil),
		},
		{
			name: "restore from a schedule",
			restore: newRestore(homeNS, func(s *ark.RestoreSpec) {
				s.BackupName = ""
				s.ScheduleName = "daily"
			}),
		},
		{
			name: "fully populated valid restore",
			restore: newRestore(homeNS, func(s *ark.RestoreSpec) {
				s.IncludedNamespaces = []string{"abc", "123"}
				s.ExcludedNamespaces = []string{"kube-system"}
				s.IncludedResources = []string{"deployments.apps", "configmaps"}
				s.ExcludedResources = []string{"events"}
				s.NamespaceMapping = map[string]string{"abc": "def", "123": "456"}
				s.LabelSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}
				s.IncludeClusterResources = boolPtr(true)
				s.RestorePVs = boolPtr(false)
				s.ExistingResourcePolicy = ark.ExistingResourcePolicyUpdate
			}),
		},
		{
			name:    "existingResourcePolicy none",
			restore: newRestore(homeNS, func(s *ark.RestoreSpec) { s.ExistingResourcePolicy = ark.ExistingResourcePolicyNone }),
		},
		{
			name: "restore hooks",
			restore: newRestore(homeNS, func(s *ark.RestoreSpec) {
				s.Hooks.Resources = []ark.RestoreResourceHookSpec{{Name: "h", PostHooks: []ark.RestoreResourceHook{
					{Init: &ark.InitRestoreHook{InitContainers: []runtime.RawExtension{{Raw: []byte(`{"name":"i","image":"busybox","command":["true"]}`)}}}},
					{Exec: &ark.ExecRestoreHook{Command: []string{"true"}, OnError: ark.HookErrorModeFail}},
				}}}
			}),
		},
		{
			name: "restore hooks that are malformed",
			restore: newRestore(homeNS, func(s *ark.RestoreSpec) {
				s.Hooks.Resources = []ark.RestoreResourceHookSpec{{Name: "h", PostHooks: []ark.RestoreResourceHook{
					{},
					{Init: &ark.InitRestoreHook{InitContainers: []runtime.RawExtension{{Raw: []byte(`{"name":"i","image":"busybox","comand":["true"]}`)}}}},
					{Init: &ark.InitRestoreHook{InitContainers: []runtime.RawExtension{{Raw: []byte(`{"name":"i"}`)}}}},
					{Exec: &ark.ExecRestoreHook{OnError: "Maybe", WaitTimeout: metav1.Duration{Duration: -time.Second}}},
				}}, {PostHooks: []ark.RestoreResourceHook{{Init: &ark.InitRestoreHook{}}}}}
			}),
			want: []wantErr{
				invalid("spec.hooks.resources[0].postHooks[0]").with("exactly one of exec and init"),
				invalid("spec.hooks.resources[0].postHooks[1].init.initContainers").with(`unknown field "comand"`),
				invalid("spec.hooks.resources[0].postHooks[2].init.initContainers").with("needs a name and an image"),
				required("spec.hooks.resources[0].postHooks[3].exec.command"),
				notSupported("spec.hooks.resources[0].postHooks[3].exec.onError"),
				invalid("spec.hooks.resources[0].postHooks[3].exec.waitTimeout"),
				required("spec.hooks.resources[1].name"),
				required("spec.hooks.resources[1].postHooks[0].init.initContainers"),
			},
		},
		{
			name: "resource modifier ConfigMap",
			restore: newRestore(homeNS, func(s *ark.RestoreSpec) {
				s.ResourceModifier = &ark.ResourceModifierReference{Kind: "ConfigMap", Name: "mods"}
			}),
		},
		{
			name: "resource modifier of another kind, group, or no name",
			restore: newRestore(homeNS, func(s *ark.RestoreSpec) {
				s.ResourceModifier = &ark.ResourceModifierReference{APIGroup: "apps", Kind: "Secret"}
			}),
			want: []wantErr{invalid("spec.resourceModifier.apiGroup"), notSupported("spec.resourceModifier.kind"), required("spec.resourceModifier.name")},
		},
		{
			name: "resource modifier with an invalid name",
			restore: newRestore(homeNS, func(s *ark.RestoreSpec) {
				s.ResourceModifier = &ark.ResourceModifierReference{Kind: "ConfigMap", Name: "Bad_Name"}
			}),
			want: []wantErr{invalid("spec.resourceModifier.name")},
		},
		{
			name:    "both backupName and scheduleName",
			restore: newRestore(homeNS, func(s *ark.RestoreSpec) { s.ScheduleName = "daily" }),
			want:    []wantErr{invalid("spec.scheduleName").with("backupName")},
		},
		{
			name:    "neither backupName nor scheduleName",
			restore: newRestore(homeNS, func(s *ark.RestoreSpec) { s.BackupName = "" }),
			want:    []wantErr{required("spec.backupName")},
		},
		{
			name:    "invalid backupName",
			restore: newRestore(homeNS, func(s *ark.RestoreSpec) { s.BackupName = "Nightly_Backup" }),
			want:    []wantErr{invalid("spec.backupName")},
		},
		{
			name: "invalid scheduleName",
			restore: newRestore(homeNS, func(s *ark.RestoreSpec) {
				s.BackupName = ""
				s.ScheduleName = "daily/backup"
			}),
			want: []wantErr{invalid("spec.scheduleName")},
		},
		{
			name: "both names set, one of them invalid",
			restore: newRestore(homeNS, func(s *ark.RestoreSpec) {
				s.BackupName = "Bad_Name"
				s.ScheduleName = "daily"
			}),
			want: []wantErr{invalid("spec.scheduleName"), invalid("spec.backupName")},
		},
		{
			name:    "unknown existingResourcePolicy",
			restore: newRestore(homeNS, func(s *ark.RestoreSpec) { s.ExistingResourcePolicy = "overwrite" }),
			want:    []wantErr{notSupported("spec.existingResourcePolicy")},
		},
		{
			name:    "existingResourcePolicy is case sensitive",
			restore: newRestore(homeNS, func(s *ark.RestoreSpec) { s.ExistingResourcePolicy = "Update" }),
			want:    []wantErr{notSupported("spec.existingResourcePolicy")},
		},
		{
			name: "invalid namespace filters",
			restore: newRestore(homeNS, func(s *ark.RestoreSpec) {
				s.IncludedNamespaces = []string{"*", "abc"}
				s.ExcludedNamespaces = []string{"Bad_NS", "*"}
			}),
			want: []wantErr{
				invalid("spec.includedNamespaces"),
				invalid("spec.excludedNamespaces[0]"),
				invalid("spec.excludedNamespaces[1]"),
			},
		},
		{
			name: "invalid resource filters",
			restore: newRestore(homeNS, func(s *ark.RestoreSpec) {
				s.IncludedResources = []string{"pods/log", "pods"}
				s.ExcludedResources = []string{"pods"}
			}),
			want: []wantErr{invalid("spec.includedResources[0]"), invalid("spec.excludedResources[0]")},
		},
		{
			name:    "bad label selector",
			restore: newRestore(homeNS, func(s *ark.RestoreSpec) { s.LabelSelector = badOperatorSelector() }),
			want:    []wantErr{invalid("spec.labelSelector.matchExpressions[0].operator")},
		},
		{
			name: "namespaceMapping with invalid names",
			restore: newRestore(homeNS, func(s *ark.RestoreSpec) {
				s.NamespaceMapping = map[string]string{"Bad_Src": "ok", "abc": "Bad_Dst"}
			}),
			want: []wantErr{
				invalid("spec.namespaceMapping[Bad_Src]").with("source namespace"),
				invalid("spec.namespaceMapping[abc]"),
			},
		},
		{
			name: "namespaceMapping with empty target",
			restore: newRestore(homeNS, func(s *ark.RestoreSpec) {
				s.NamespaceMapping = map[string]string{"abc": ""}
			}),
			want: []wantErr{invalid("spec.namespaceMapping[abc]")},
		},
		{
			name: "two sources mapped to the same target",
			restore: newRestore(homeNS, func(s *ark.RestoreSpec) {
				s.NamespaceMapping = map[string]string{"def": "target", "abc": "target", "ghi": "other"}
			}),
			// Sources are visited in sorted order, so the second one, "def", is reported.
			want: []wantErr{invalid("spec.namespaceMapping[def]").with(`is also the target of "abc"`)},
		},
		{
			name: "three sources mapped to the same target",
			restore: newRestore(homeNS, func(s *ark.RestoreSpec) {
				s.NamespaceMapping = map[string]string{"a": "t", "b": "t", "c": "t"}
			}),
			want: []wantErr{invalid("spec.namespaceMapping[b]"), invalid("spec.namespaceMapping[c]")},
		},
		{
			name:    "missing name",
			restore: &ark.Restore{ObjectMeta: metav1.ObjectMeta{Namespace: homeNS}, Spec: ark.RestoreSpec{BackupName: "nightly"}},
			want:    []wantErr{required("metadata.name")},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			expectErrors(t, ValidateRestore(tc.restore, testScope), tc.want...)
		})
	}
}

func TestValidateRestoreConfinement(t *testing.T) {
	tests := []struct {
		name    string
		restore *ark.Restore
		want    []wantErr
	}{
		{
			name:    "restoring its own namespace",
			restore: newRestore(teamA, func(s *ark.RestoreSpec) { s.IncludedNamespaces = []string{teamA} }),
		},
		{
			name:    "restoring another namespace in place",
			restore: newRestore(teamA, func(s *ark.RestoreSpec) { s.IncludedNamespaces = []string{teamB} }),
			want:    []wantErr{forbidden("spec.includedNamespaces[0]")},
		},
		{
			name:    "restoring star",
			restore: newRestore(teamA, func(s *ark.RestoreSpec) { s.IncludedNamespaces = []string{"*"} }),
			want:    []wantErr{forbidden("spec.includedNamespaces[0]")},
		},
		{
			name: "mapping into another namespace",
			restore: newRestore(teamA, func(s *ark.RestoreSpec) {
				s.NamespaceMapping = map[string]string{"abc": teamB}
			}),
			want: []wantErr{forbidden("spec.namespaceMapping[abc]").with(`not "team-b"`)},
		},
		{
			name: "mapping into its own namespace",
			restore: newRestore(teamA, func(s *ark.RestoreSpec) {
				s.NamespaceMapping = map[string]string{"abc": teamA}
			}),
		},
		{
			name: "including a source namespace mapped into its own namespace",
			restore: newRestore(teamA, func(s *ark.RestoreSpec) {
				s.IncludedNamespaces = []string{"abc", teamA}
				s.NamespaceMapping = map[string]string{"abc": teamA}
			}),
		},
		{
			name: "including a source namespace mapped elsewhere",
			restore: newRestore(teamA, func(s *ark.RestoreSpec) {
				s.IncludedNamespaces = []string{"abc"}
				s.NamespaceMapping = map[string]string{"abc": teamB}
			}),
			// The inclusion is allowed because abc is mapped; the mapping itself is refused.
			want: []wantErr{forbidden("spec.namespaceMapping[abc]")},
		},
		{
			name: "including an unmapped source namespace",
			restore: newRestore(teamA, func(s *ark.RestoreSpec) {
				s.IncludedNamespaces = []string{"abc", "xyz"}
				s.NamespaceMapping = map[string]string{"abc": teamA}
			}),
			want: []wantErr{forbidden("spec.includedNamespaces[1]")},
		},
		{
			name: "several sources mapped into its own namespace are not duplicates",
			restore: newRestore(teamA, func(s *ark.RestoreSpec) {
				s.NamespaceMapping = map[string]string{"abc": teamA, "def": teamA}
			}),
		},
		{
			name:    "cluster resources outside the home namespace",
			restore: newRestore(teamA, func(s *ark.RestoreSpec) { s.IncludeClusterResources = boolPtr(true) }),
			want:    []wantErr{forbidden("spec.includeClusterResources")},
		},
		{
			name:    "cluster resources explicitly off outside the home namespace",
			restore: newRestore(teamA, func(s *ark.RestoreSpec) { s.IncludeClusterResources = boolPtr(false) }),
		},
		{
			name: "home namespace maps anywhere and restores cluster resources",
			restore: newRestore(homeNS, func(s *ark.RestoreSpec) {
				s.IncludedNamespaces = []string{teamA, teamB}
				s.NamespaceMapping = map[string]string{teamA: teamB + "-copy"}
				s.IncludeClusterResources = boolPtr(true)
			}),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			expectErrors(t, ValidateRestore(tc.restore, testScope), tc.want...)
		})
	}
}

func TestValidateRestoreUpdate(t *testing.T) {
	changePolicy := func(r *ark.Restore) { r.Spec.ExistingResourcePolicy = ark.ExistingResourcePolicyUpdate }
	tests := []struct {
		name   string
		phase  ark.RestorePhase
		mutate func(*ark.Restore)
		want   []wantErr
	}{
		{name: "spec change without a phase", phase: "", mutate: changePolicy},
		{name: "spec change while New", phase: ark.RestorePhaseNew, mutate: changePolicy},
		{
			name: "spec change while InProgress", phase: ark.RestorePhaseInProgress, mutate: changePolicy,
			want: []wantErr{forbidden("spec").with("InProgress")},
		},
		{
			name: "spec change when Completed", phase: ark.RestorePhaseCompleted, mutate: changePolicy,
			want: []wantErr{forbidden("spec")},
		},
		{
			name: "label change when Completed", phase: ark.RestorePhaseCompleted,
			mutate: func(r *ark.Restore) { r.Labels = map[string]string{"a": "b"} },
		},
		{
			name: "invalid spec while New", phase: ark.RestorePhaseNew,
			mutate: func(r *ark.Restore) { r.Spec.BackupName = "" },
			want:   []wantErr{required("spec.backupName")},
		},
		{
			name: "missing resource version", phase: ark.RestorePhaseNew,
			mutate: func(r *ark.Restore) { r.ResourceVersion = "" },
			want:   []wantErr{invalid("metadata.resourceVersion")},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			old := newRestore(homeNS, nil)
			old.ResourceVersion = "3"
			old.Status.Phase = tc.phase
			r := old.DeepCopy()
			tc.mutate(r)
			expectErrors(t, ValidateRestoreUpdate(r, old, testScope), tc.want...)
		})
	}
}

func TestValidateSchedule(t *testing.T) {
	tests := []struct {
		name     string
		schedule *ark.Schedule
		want     []wantErr
	}{
		{name: "valid schedule", schedule: newSchedule(homeNS, nil)},
		{
			name:     "empty schedule",
			schedule: newSchedule(homeNS, func(s *ark.ScheduleSpec) { s.Schedule = "" }),
			want:     []wantErr{required("spec.schedule")},
		},
		{
			name: "template errors are reported under spec.template",
			schedule: newSchedule(homeNS, func(s *ark.ScheduleSpec) {
				s.Template.TTL = dur(-time.Hour)
				s.Template.StorageLocation = "elsewhere"
				s.Template.IncludedNamespaces = []string{"*", "abc"}
				s.Template.LabelSelector = badOperatorSelector()
				s.Template.Hooks.Resources = []ark.BackupResourceHookSpec{{PreHooks: []ark.BackupResourceHook{{Exec: &ark.ExecHook{}}}}}
			}),
			want: []wantErr{
				invalid("spec.template.ttl"),
				notSupported("spec.template.storageLocation"),
				invalid("spec.template.includedNamespaces"),
				invalid("spec.template.labelSelector.matchExpressions[0].operator"),
				required("spec.template.hooks.resources[0].name"),
				required("spec.template.hooks.resources[0].pre[0].exec.command"),
			},
		},
		{
			name: "schedule and template errors together",
			schedule: newSchedule(homeNS, func(s *ark.ScheduleSpec) {
				s.Schedule = "nope"
				s.Template.TTL = dur(-time.Hour)
			}),
			want: []wantErr{invalid("spec.schedule"), invalid("spec.template.ttl")},
		},
		{
			name: "confined template reaching another namespace",
			schedule: newSchedule(teamA, func(s *ark.ScheduleSpec) {
				s.Template.IncludedNamespaces = []string{teamB}
				s.Template.IncludeClusterResources = boolPtr(true)
			}),
			want: []wantErr{
				forbidden("spec.template.includedNamespaces[0]"),
				forbidden("spec.template.includeClusterResources"),
			},
		},
		{
			name: "confined template in its own namespace",
			schedule: newSchedule(teamA, func(s *ark.ScheduleSpec) {
				s.Template.IncludedNamespaces = []string{teamA}
			}),
		},
		{
			name:     "paused schedule is still validated",
			schedule: newSchedule(homeNS, func(s *ark.ScheduleSpec) { s.Paused = true; s.Schedule = "" }),
			want:     []wantErr{required("spec.schedule")},
		},
		{
			name:     "missing namespace",
			schedule: &ark.Schedule{ObjectMeta: metav1.ObjectMeta{Name: "s"}, Spec: ark.ScheduleSpec{Schedule: "@daily"}},
			want:     []wantErr{required("metadata.namespace")},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			expectErrors(t, ValidateSchedule(tc.schedule, testScope), tc.want...)
		})
	}
}

func TestValidateScheduleCronExpressions(t *testing.T) {
	valid := []string{
		"0 */6 * * *",
		"*/15 * * * *",
		"0 3 * * 1-5",
		"0 0 1 jan,jul *",
		"@every 6h",
		"@every 90m",
		"@daily",
		"@hourly",
		"@weekly",
		"@monthly",
		"@yearly",
		"@midnight",
		"CRON_TZ=Europe/Berlin 0 3 * * *",
		"TZ=UTC 30 2 * * *",
		"CRON_TZ=America/New_York @daily",
	}
	for _, expr := range valid {
		t.Run("valid "+expr, func(t *testing.T) {
			s := newSchedule(homeNS, func(s *ark.ScheduleSpec) { s.Schedule = expr })
			expectErrors(t, ValidateSchedule(s, testScope))
		})
	}

	invalidExprs := []string{
		"61 * * * *",
		"not a cron",
		"* * * *",     // four fields
		"0 0 * * * *", // six fields: seconds are not part of the standard format
		"0 24 * * *",
		"0 0 32 * *",
		"0 0 * 13 *",
		"0 0 * * 8",
		"*/0 * * * *",
		"5-1 * * * *",
		"@every",
		"@every six hours",
		"@sometimes",
		"CRON_TZ=Mars/Olympus_Mons 0 3 * * *",
	}
	for _, expr := range invalidExprs {
		t.Run("invalid "+expr, func(t *testing.T) {
			s := newSchedule(homeNS, func(s *ark.ScheduleSpec) { s.Schedule = expr })
			expectErrors(t, ValidateSchedule(s, testScope), invalid("spec.schedule").with("invalid cron expression"))
		})
	}
}

func TestValidateScheduleUpdate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*ark.Schedule)
		want   []wantErr
	}{
		{name: "new cron expression", mutate: func(s *ark.Schedule) { s.Spec.Schedule = "@daily" }},
		{name: "pause", mutate: func(s *ark.Schedule) { s.Spec.Paused = true }},
		{
			name:   "invalid cron expression",
			mutate: func(s *ark.Schedule) { s.Spec.Schedule = "61 * * * *" },
			want:   []wantErr{invalid("spec.schedule")},
		},
		{
			name:   "invalid template",
			mutate: func(s *ark.Schedule) { s.Spec.Template.ExcludedNamespaces = []string{"*"} },
			want:   []wantErr{invalid("spec.template.excludedNamespaces[0]")},
		},
		{
			name:   "missing resource version",
			mutate: func(s *ark.Schedule) { s.ResourceVersion = "" },
			want:   []wantErr{invalid("metadata.resourceVersion")},
		},
		{
			name:   "moving namespace",
			mutate: func(s *ark.Schedule) { s.Namespace = teamA },
			// In team-a the template's empty namespace list (all namespaces) is refused too.
			want: []wantErr{invalid("metadata.namespace"), required("spec.template.includedNamespaces")},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			old := newSchedule(homeNS, nil)
			old.ResourceVersion = "12"
			old.Status.Phase = ark.SchedulePhaseEnabled
			s := old.DeepCopy()
			tc.mutate(s)
			expectErrors(t, ValidateScheduleUpdate(s, old, testScope), tc.want...)
		})
	}
}

func TestValidateBackupStatusUpdate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*ark.BackupStatus)
		want   []wantErr
	}{
		{
			name: "valid progress",
			mutate: func(s *ark.BackupStatus) {
				s.Phase = ark.BackupPhaseInProgress
				s.Progress = &ark.Progress{TotalItems: 10, ItemsDone: 3}
				s.Warnings = 2
				s.VolumeSnapshotsAttempted = 1
			},
		},
		{name: "nil progress", mutate: func(s *ark.BackupStatus) { s.Progress = nil }},
		{
			name:   "negative warnings",
			mutate: func(s *ark.BackupStatus) { s.Warnings = -1 },
			want:   []wantErr{invalid("status.warnings")},
		},
		{
			name:   "negative errors",
			mutate: func(s *ark.BackupStatus) { s.Errors = -1 },
			want:   []wantErr{invalid("status.errors")},
		},
		{
			name: "negative volume snapshot counts",
			mutate: func(s *ark.BackupStatus) {
				s.VolumeSnapshotsAttempted = -1
				s.VolumeSnapshotsCompleted = -2
			},
			want: []wantErr{invalid("status.volumeSnapshotsAttempted"), invalid("status.volumeSnapshotsCompleted")},
		},
		{
			name:   "negative progress",
			mutate: func(s *ark.BackupStatus) { s.Progress = &ark.Progress{TotalItems: -1, ItemsDone: -1} },
			want:   []wantErr{invalid("status.progress.totalItems"), invalid("status.progress.itemsDone")},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			old := storedBackup(homeNS, ark.BackupPhaseNew)
			b := old.DeepCopy()
			tc.mutate(&b.Status)
			expectErrors(t, ValidateBackupStatusUpdate(b, old), tc.want...)
		})
	}

	t.Run("missing resource version", func(t *testing.T) {
		old := storedBackup(homeNS, ark.BackupPhaseNew)
		b := old.DeepCopy()
		b.ResourceVersion = ""
		expectErrors(t, ValidateBackupStatusUpdate(b, old), invalid("metadata.resourceVersion"))
	})
}

func TestValidateRestoreStatusUpdate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*ark.RestoreStatus)
		want   []wantErr
	}{
		{
			name: "valid status",
			mutate: func(s *ark.RestoreStatus) {
				s.Phase = ark.RestorePhaseCompleted
				s.Progress = &ark.Progress{TotalItems: 5, ItemsDone: 5}
			},
		},
		{
			name:   "negative warnings and errors",
			mutate: func(s *ark.RestoreStatus) { s.Warnings = -3; s.Errors = -1 },
			want:   []wantErr{invalid("status.warnings"), invalid("status.errors")},
		},
		{
			name:   "negative progress",
			mutate: func(s *ark.RestoreStatus) { s.Progress = &ark.Progress{ItemsDone: -1} },
			want:   []wantErr{invalid("status.progress.itemsDone")},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			old := newRestore(homeNS, nil)
			old.ResourceVersion = "3"
			r := old.DeepCopy()
			tc.mutate(&r.Status)
			expectErrors(t, ValidateRestoreStatusUpdate(r, old), tc.want...)
		})
	}
}

func TestValidateScheduleStatusUpdate(t *testing.T) {
	old := newSchedule(homeNS, nil)
	old.ResourceVersion = "12"

	s := old.DeepCopy()
	s.Status.Phase = ark.SchedulePhaseEnabled
	s.Status.LastBackupName = "every-six-hours-20240101000000"
	expectErrors(t, ValidateScheduleStatusUpdate(s, old))

	s = old.DeepCopy()
	s.ResourceVersion = ""
	expectErrors(t, ValidateScheduleStatusUpdate(s, old), invalid("metadata.resourceVersion"))
}

func TestParseCron(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatalf("loading Europe/Berlin: %v", err)
	}
	from := time.Date(2024, time.January, 1, 1, 30, 0, 0, time.UTC)
	tests := []struct {
		expr string
		from time.Time
		want time.Time
	}{
		{"@every 6h", time.Date(2024, time.January, 1, 0, 0, 0, 0, time.UTC), time.Date(2024, time.January, 1, 6, 0, 0, 0, time.UTC)},
		{"@every 6h", from, from.Add(6 * time.Hour)},
		// @every counts from whole seconds.
		{"@every 6h", from.Add(500 * time.Millisecond), from.Add(6 * time.Hour)},
		{"0 */6 * * *", from, time.Date(2024, time.January, 1, 6, 0, 0, 0, time.UTC)},
		{"@daily", from, time.Date(2024, time.January, 2, 0, 0, 0, 0, time.UTC)},
		// 03:00 in Berlin in winter (CET, UTC+1) is 02:00 UTC.
		{"CRON_TZ=Europe/Berlin 0 3 * * *", from, time.Date(2024, time.January, 1, 3, 0, 0, 0, berlin)},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%s from %s", tc.expr, tc.from.Format(time.RFC3339Nano)), func(t *testing.T) {
			s, err := ParseCron(tc.expr)
			if err != nil {
				t.Fatalf("ParseCron(%q): %v", tc.expr, err)
			}
			if got := s.Next(tc.from); !got.Equal(tc.want) {
				t.Errorf("ParseCron(%q).Next(%s) = %s, want %s", tc.expr, tc.from, got, tc.want)
			}
		})
	}

	t.Run("error", func(t *testing.T) {
		s, err := ParseCron("61 * * * *")
		if err == nil {
			t.Fatalf("ParseCron(%q) = %v, want an error", "61 * * * *", s)
		}
		if !strings.HasPrefix(err.Error(), "invalid cron expression: ") {
			t.Errorf("error %q does not start with %q", err, "invalid cron expression: ")
		}
	})
}

// A CRON_TZ= or TZ= prefix that is not followed by a space makes
// robfig/cron v3.0.1 slice spec[eq+1:-1] and panic; ParseCron must turn that
// into an error, never crash the server on user input.
func TestCronTimezoneWithoutScheduleIsInvalid(t *testing.T) {
	for _, expr := range []string{"CRON_TZ=Europe/Berlin", "TZ=UTC"} {
		t.Run(expr, func(t *testing.T) {
			var errs field.ErrorList
			panicked := func() (p any) {
				defer func() { p = recover() }()
				errs = ValidateSchedule(newSchedule(homeNS, func(s *ark.ScheduleSpec) { s.Schedule = expr }), testScope)
				return nil
			}()
			if panicked != nil {
				t.Fatalf("ValidateSchedule with schedule %q panics (%v) instead of reporting spec.schedule Invalid", expr, panicked)
			}
			expectErrors(t, errs, invalid("spec.schedule"))
		})
	}
}

// An empty includedNamespaces means every namespace, so outside the home
// namespace validation refuses it (the strategies fill in the object's own
// namespace before validating); otherwise an update of a New backup, or a
// schedule's template, could cover the whole cluster from team-a.
func TestConfinedEmptyIncludedNamespaces(t *testing.T) {
	t.Run("backup update", func(t *testing.T) {
		old := storedBackup(teamA, ark.BackupPhaseNew)
		b := old.DeepCopy()
		b.Spec.IncludedNamespaces = nil
		errs := ValidateBackupUpdate(b, old, testScope)
		if len(errs) == 0 {
			t.Fatal("ValidateBackupUpdate accepts a backup in team-a whose includedNamespaces was emptied (meaning all namespaces)")
		}
		expectErrorsUnder(t, errs, "spec.includedNamespaces")
	})
	t.Run("schedule template", func(t *testing.T) {
		errs := ValidateSchedule(newSchedule(teamA, nil), testScope)
		if len(errs) == 0 {
			t.Fatal("ValidateSchedule accepts a schedule in team-a whose template has no includedNamespaces (meaning all namespaces)")
		}
		expectErrorsUnder(t, errs, "spec.template.includedNamespaces")
	})
}

// expectErrorsUnder checks that every error is about prefix or a field under it.
func expectErrorsUnder(t *testing.T, errs field.ErrorList, prefix string) {
	t.Helper()
	for _, e := range errs {
		if e.Field != prefix && !strings.HasPrefix(e.Field, prefix+"[") && !strings.HasPrefix(e.Field, prefix+".") {
			t.Errorf("unexpected error %s %s: %s (want only errors under %s)", e.Type, e.Field, e.Detail, prefix)
		}
	}
}

// Outside the home namespace a TTL, a hook timeout and a schedule's
// interval are bounded by the tenant limits; the home namespace is not.
func TestTenantLimits(t *testing.T) {
	scope := Scope{HomeNamespace: "heptio-ark", Tenant: DefaultTenantLimits}
	year := metav1.Duration{Duration: 8760 * time.Hour}
	spec := func() ark.BackupSpec {
		return ark.BackupSpec{
			IncludedNamespaces: []string{"team-a"},
			TTL:                metav1.Duration{Duration: 100 * 8760 * time.Hour},
			Hooks: ark.BackupHooks{Resources: []ark.BackupResourceHookSpec{{Name: "h",
				PreHooks:  []ark.BackupResourceHook{{Exec: &ark.ExecHook{Command: []string{"sleep"}, Timeout: year}}},
				PostHooks: []ark.BackupResourceHook{{Exec: &ark.ExecHook{Command: []string{"true"}, Timeout: metav1.Duration{Duration: time.Minute}}}},
			}}},
		}
	}
	s := spec()
	errs := ValidateBackupSpec(&s, "team-a", scope, field.NewPath("spec"))
	if len(errs) != 2 || errs[0].Field != "spec.ttl" || errs[1].Field != "spec.hooks.resources[0].pre[0].exec.timeout" {
		t.Errorf("tenant backup: %v", errs)
	}
	s = spec()
	s.IncludedNamespaces = []string{"heptio-ark"}
	if errs := ValidateBackupSpec(&s, "heptio-ark", scope, field.NewPath("spec")); len(errs) != 0 {
		t.Errorf("home namespace backup: %v", errs)
	}
	for expr, ok := range map[string]bool{"@every 10s": false, "*/5 * * * *": false, "@every 15m": true, "0 3 * * *": true, "@hourly": true, "CRON_TZ=Europe/Paris 30 2 * * *": true, "0,10 * * * *": false} {
		sched := &ark.ScheduleSpec{Schedule: expr, Template: ark.BackupSpec{IncludedNamespaces: []string{"team-a"}}}
		errs := ValidateScheduleSpec(sched, "team-a", scope, field.NewPath("spec"))
		if ok != (len(errs) == 0) {
			t.Errorf("tenant schedule %q: %v", expr, errs)
		}
		if !ok && (len(errs) != 1 || errs[0].Field != "spec.schedule" || !strings.Contains(errs[0].Detail, "at most every 15m0s")) {
			t.Errorf("tenant schedule %q: %v", expr, errs)
		}
		sched.Template.IncludedNamespaces = nil
		if errs := ValidateScheduleSpec(sched, "heptio-ark", scope, field.NewPath("spec")); len(errs) != 0 {
			t.Errorf("home schedule %q: %v", expr, errs)
		}
	}
}

// A confined backup or restore naming a cluster-scoped resource is refused.
func TestConfinedClusterScopedResources(t *testing.T) {
	scope := Scope{HomeNamespace: "heptio-ark", ClusterScoped: func(r string) bool { return r == "pv" || r == "clusterroles" }}
	b := &ark.BackupSpec{IncludedNamespaces: []string{"team-a"}, IncludedResources: []string{"configmaps", "pv", "clusterroles"}}
	errs := ValidateBackupSpec(b, "team-a", scope, field.NewPath("spec"))
	if len(errs) != 2 || errs[0].Field != "spec.includedResources[1]" || errs[1].Field != "spec.includedResources[2]" || errs[0].Type != field.ErrorTypeForbidden {
		t.Errorf("backup: %v", errs)
	}
	r := &ark.RestoreSpec{BackupName: "b", IncludedResources: []string{"pv"}}
	if errs := ValidateRestoreSpec(r, "team-a", scope, field.NewPath("spec")); len(errs) != 1 || errs[0].Field != "spec.includedResources[0]" {
		t.Errorf("restore: %v", errs)
	}
	b.IncludedNamespaces = nil
	if errs := ValidateBackupSpec(b, "heptio-ark", scope, field.NewPath("spec")); len(errs) != 0 {
		t.Errorf("home namespace: %v", errs)
	}
}

// A confined restore takes another namespace's backup only into its own
// namespace, through namespaceMapping.
func TestConfinedRestoreOfAnotherNamespacesBackup(t *testing.T) {
	scope := Scope{HomeNamespace: "heptio-ark"}
	ok := &ark.RestoreSpec{BackupName: "b", BackupNamespace: "team-a", NamespaceMapping: map[string]string{"team-a": "team-b"}}
	if errs := ValidateRestoreSpec(ok, "team-b", scope, field.NewPath("spec")); len(errs) != 0 {
		t.Errorf("mapped into its namespace: %v", errs)
	}
	unmapped := &ark.RestoreSpec{BackupName: "b", BackupNamespace: "team-a"}
	if errs := ValidateRestoreSpec(unmapped, "team-b", scope, field.NewPath("spec")); len(errs) != 1 || errs[0].Field != "spec.namespaceMapping" {
		t.Errorf("unmapped: %v", errs)
	}
	bad := &ark.RestoreSpec{BackupName: "b", BackupNamespace: "Team_A"}
	if errs := ValidateRestoreSpec(bad, "heptio-ark", scope, field.NewPath("spec")); len(errs) != 1 || errs[0].Field != "spec.backupNamespace" {
		t.Errorf("invalid namespace: %v", errs)
	}
}

// Filters naming nothing the cluster serves are refused in every spec that
// has them: a backup's, a restore's, a schedule's template and a hook's.
func TestUnknownResourcesAreRefused(t *testing.T) {
	scope := testScope
	scope.UnknownResource = func(r string) string {
		if r == "deploymnts" {
			return `did you mean "deployments"?`
		}
		return ""
	}
	backup := &ark.BackupSpec{IncludedResources: []string{"configmaps", "deploymnts"}, ExcludedResources: []string{"deploymnts"},
		Hooks: ark.BackupHooks{Resources: []ark.BackupResourceHookSpec{{Name: "h", IncludedResources: []string{"deploymnts"}}}}}
	errs := ValidateBackupSpec(backup, homeNS, scope, field.NewPath("spec"))
	var fields []string
	for _, e := range errs {
		if e.Type == field.ErrorTypeInvalid && strings.Contains(e.Detail, "did you mean") {
			fields = append(fields, e.Field)
		}
	}
	if want := "spec.includedResources[1] spec.excludedResources[0] spec.hooks.resources[0].includedResources[0]"; strings.Join(fields, " ") != want {
		t.Errorf("backup: got %v, want %s (all: %v)", fields, want, errs)
	}
	restore := &ark.RestoreSpec{BackupName: "b", ExcludedResources: []string{"deploymnts"}}
	if errs := ValidateRestoreSpec(restore, homeNS, scope, field.NewPath("spec")); len(errs) != 1 || errs[0].Field != "spec.excludedResources[0]" {
		t.Errorf("restore: %v", errs)
	}
	schedule := &ark.ScheduleSpec{Schedule: "@daily", Template: ark.BackupSpec{IncludedResources: []string{"deploymnts"}}}
	if errs := ValidateScheduleSpec(schedule, homeNS, scope, field.NewPath("spec")); len(errs) != 1 || errs[0].Field != "spec.template.includedResources[0]" {
		t.Errorf("schedule: %v", errs)
	}
}

// orderedResources takes resource names as keys and comma-separated
// "namespace/name" or "name" lists as values; anything else is refused
// with the entry it is about.
func TestOrderedResources(t *testing.T) {
	scope := Scope{HomeNamespace: "heptio-ark"}
	for _, tc := range []struct {
		ordered map[string]string
		want    string // "" when valid, else a part of the error
	}{
		{map[string]string{"pods": "ns1/a,ns1/b", "persistentvolumeclaims": "ns1/c", "persistentvolumes": "pv-1", "deployments.apps": "ns1/web"}, ""},
		{map[string]string{"pods": ""}, `"" is not "namespace/name"`},
		{map[string]string{"pods": "ns1/a,"}, `"" is not "namespace/name"`},
		{map[string]string{"pods": "/a"}, `"/a" is not`},
		{map[string]string{"pods": "ns1/"}, `"ns1/" is not`},
		{map[string]string{"pods": "a/b/c"}, `"a/b/c" is not`},
		{map[string]string{"pods": "ns1/a, ns1/b"}, `" ns1/b" is not`},
		{map[string]string{"pods": "ns1/a,ns1/a"}, `"ns1/a" is named twice`},
		{map[string]string{"": "a"}, "must be a resource name"},
		{map[string]string{"pods=ns1/a": "b"}, "must be a resource name"},
	} {
		s := ark.BackupSpec{OrderedResources: tc.ordered}
		errs := ValidateBackupSpec(&s, "heptio-ark", scope, field.NewPath("spec"))
		switch {
		case tc.want == "" && len(errs) != 0:
			t.Errorf("%v: %v", tc.ordered, errs)
		case tc.want != "" && (len(errs) != 1 || !strings.Contains(errs[0].Error(), tc.want) || !strings.HasPrefix(errs[0].Field, "spec.orderedResources[")):
			t.Errorf("%v: %v, want one error under spec.orderedResources saying %q", tc.ordered, errs, tc.want)
		}
	}
}
