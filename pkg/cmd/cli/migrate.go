package cli

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"reflect"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"

	"github.com/arkproject/ark/pkg/apis/ark"
	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
	"github.com/arkproject/ark/pkg/apis/ark/validation"
	"github.com/arkproject/ark/pkg/generated/clientset/versioned"
	"github.com/arkproject/ark/pkg/objectstore"
)

// migrateSource is an installation migrate reads: the group of its CRDs and
// the namespace its objects are in by default.
type migrateSource struct {
	name, title, group, namespace string
	// velero: Velero's bucket format differs from Ark's, and its objects
	// carry fields (credentials, restic) Heptio Ark's do not.
	velero bool
}

var migrateSources = map[string]migrateSource{
	"heptio-ark": {name: "heptio-ark", title: "Heptio Ark", group: "ark.heptio.com", namespace: "heptio-ark"},
	"velero":     {name: "velero", title: "Velero", group: "velero.io", namespace: "velero", velero: true},
}

func (s migrateSource) gvr(resource string) schema.GroupVersionResource {
	return schema.GroupVersionResource{Group: s.group, Version: "v1", Resource: resource}
}

// AnnotationMigratedFrom is set on every object migrate creates, naming the
// object it was translated from, so that its origin stays visible.
const AnnotationMigratedFrom = "ark.heptio.com/migrated-from"

// migrationPlan is what migrate creates, and what it could not translate.
// It is what --save-plan writes and --plan reads: Heptio Ark's objects
// must be read before Ark's APIService hides them, and created after.
type migrationPlan struct {
	// Source is "heptio-ark" or "velero"; SourceNamespace where it was read.
	Source          string `json:"source"`
	SourceNamespace string `json:"sourceNamespace"`
	// Namespace is where the Ark objects are created.
	Namespace               string                         `json:"namespace"`
	BackupStorageLocations  []arkv1.BackupStorageLocation  `json:"backupStorageLocations,omitempty"`
	VolumeSnapshotLocations []arkv1.VolumeSnapshotLocation `json:"volumeSnapshotLocations,omitempty"`
	Schedules               []arkv1.Schedule               `json:"schedules,omitempty"`
	// Notes are what could not be translated, item by item.
	Notes []migrateNote `json:"notes,omitempty"`
}

// migrateNote is one thing migrate could not translate as it was.
type migrateNote struct {
	// Object is the source object: "schedule/daily".
	Object string `json:"object"`
	// Field is the source field, empty for the object as a whole.
	Field string `json:"field,omitempty"`
	// Skipped says the whole object is not migrated.
	Skipped bool   `json:"skipped,omitempty"`
	Reason  string `json:"reason"`
}

func (n migrateNote) String() string {
	switch {
	case n.Skipped:
		return fmt.Sprintf("%s: not migrated: %s", n.Object, n.Reason)
	case n.Field != "":
		return fmt.Sprintf("%s: %s: %s", n.Object, n.Field, n.Reason)
	}
	return fmt.Sprintf("%s: %s", n.Object, n.Reason)
}

// notes collects the notes of one object.
type notes struct {
	object string
	list   *[]migrateNote
}

func (n notes) field(f, reason string) {
	*n.list = append(*n.list, migrateNote{Object: n.object, Field: f, Reason: reason})
}

func (n notes) skip(reason string) {
	*n.list = append(*n.list, migrateNote{Object: n.object, Skipped: true, Reason: reason})
}

func (p *migrationPlan) notesFor(kind, name string) notes {
	return notes{object: kind + "/" + name, list: &p.Notes}
}

// fieldTree is the fields Ark has of an old object: a nil value takes the
// field as it is, a fieldTree descends into an object, a listOf into each
// item of a list. Everything else is reported (unless empty) and dropped.
type fieldTree map[string]any

type listOf struct{ item fieldTree }

var execHookFields = fieldTree{"exec": fieldTree{"container": nil, "command": nil, "onError": nil, "timeout": nil}}

var backupSpecFields = fieldTree{
	"includedNamespaces": nil, "excludedNamespaces": nil, "includedResources": nil, "excludedResources": nil,
	"labelSelector": nil, "includeClusterResources": nil, "snapshotVolumes": nil, "ttl": nil,
	"storageLocation": nil, "volumeSnapshotLocations": nil,
	"hooks": fieldTree{"resources": listOf{fieldTree{
		"name": nil, "includedNamespaces": nil, "excludedNamespaces": nil, "includedResources": nil,
		"excludedResources": nil, "labelSelector": nil,
		"hooks": listOf{execHookFields}, "pre": listOf{execHookFields}, "post": listOf{execHookFields},
	}}},
}

var scheduleSpecFields = fieldTree{"schedule": nil, "template": backupSpecFields, "paused": nil}

// droppedReasons say why a field Ark lacks matters, by its name; other
// fields get a generic reason.
var droppedReasons = map[string]string{
	"useOwnerReferencesInBackup": "Ark's backups are not owned by their schedule: deleting the schedule keeps its backups",
	"defaultVolumesToRestic":     "Ark has no restic (file-system) backup of pod volumes: volumes are snapshotted by kind (CSI, GCE persistent disk, hostPath)",
	"defaultVolumesToFsBackup":   "Ark has no file-system backup of pod volumes: volumes are snapshotted by kind (CSI, GCE persistent disk, hostPath)",
	"snapshotMoveData":           "Ark does not move snapshot data",
	"orderedResources":           "Ark backs up items in its own order",
	"skipImmediately":            "Ark schedules first run at their next tick",
	"backupSyncPeriod":           "Ark polls every location at its own period",
	"validationFrequency":        "Ark checks every location at its own period",
	"resticRepoPrefix":           "Ark has no restic repositories",
}

// emptyValue says whether v carries nothing (null, "", false, 0, {}, []),
// so that dropping it loses nothing and needs no note.
func emptyValue(v any) bool {
	if v == nil {
		return true
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Map, reflect.Slice, reflect.String:
		return rv.Len() == 0
	}
	return rv.IsZero()
}

// prune returns obj with only the fields of tree, noting each other
// non-empty field (at path) it drops.
func prune(obj map[string]any, tree fieldTree, path string, n notes) map[string]any {
	out := map[string]any{}
	for _, k := range slices.Sorted(maps.Keys(obj)) {
		v := obj[k]
		sub, known := tree[k]
		p := path + "." + k
		switch {
		case !known:
			if !emptyValue(v) {
				reason := droppedReasons[k]
				if reason == "" {
					reason = "Ark has no such field"
				}
				n.field(p, fmt.Sprintf("dropped (was %s): %s", shortJSON(v), reason))
			}
		case sub == nil:
			out[k] = v
		default:
			switch s := sub.(type) {
			case fieldTree:
				if m, ok := v.(map[string]any); ok {
					out[k] = prune(m, s, p, n)
				} else {
					out[k] = v // a type error is the decoder's to report
				}
			case listOf:
				items, ok := v.([]any)
				if !ok {
					out[k] = v
					break
				}
				var kept []any
				for i, item := range items {
					if m, ok := item.(map[string]any); ok {
						kept = append(kept, prune(m, s.item, fmt.Sprintf("%s[%d]", p, i), n))
					} else {
						kept = append(kept, item)
					}
				}
				out[k] = kept
			}
		}
	}
	return out
}

// shortJSON renders a dropped value for a note, cut to a line's length.
func shortJSON(v any) string {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	if s := string(data); len(s) <= 60 {
		return s
	}
	return string(data[:57]) + "..."
}

// migratedMeta is the metadata of the Ark object made from u: its name and
// labels, in the target namespace, with where it came from.
func migratedMeta(src migrateSource, kind string, u *unstructured.Unstructured, namespace string) metav1.ObjectMeta {
	return metav1.ObjectMeta{
		Name:        u.GetName(),
		Namespace:   namespace,
		Labels:      u.GetLabels(),
		Annotations: map[string]string{AnnotationMigratedFrom: fmt.Sprintf("%s/v1 %s %s/%s", src.group, kind, u.GetNamespace(), u.GetName())},
	}
}

// normalizeProvider reads a provider as Ark names it: Velero's plugins name
// theirs "velero.io/aws".
func normalizeProvider(p string) string { return strings.TrimPrefix(p, "velero.io/") }

// fieldErrors renders validation errors for a note.
func fieldErrors(errs field.ErrorList) string {
	var msgs []string
	for _, e := range errs {
		msgs = append(msgs, e.Error())
	}
	return strings.Join(msgs, "; ")
}

// translateStorageLocation makes the Ark location of an old one, or nil
// (with the reason noted) if it has none.
func (p *migrationPlan) translateStorageLocation(src migrateSource, u *unstructured.Unstructured) *arkv1.BackupStorageLocation {
	name := u.GetName()
	if src.velero && name == arkv1.DefaultStorageLocation {
		// Every Velero has a "default"; Ark's is the location it was
		// installed with, of Ark's format. The notes (and --delete-old)
		// go by the name in Ark, so a renamed location is never taken
		// for one migrated whole.
		name = "velero-" + name
	}
	n := p.notesFor("backupstoragelocation", name)
	if name != u.GetName() {
		n.field("metadata.name", fmt.Sprintf("renamed from %s: Ark's location %q is the one it was installed with (--backup-location)", u.GetName(), arkv1.DefaultStorageLocation))
	}
	spec, _, _ := unstructured.NestedMap(u.Object, "spec")
	if spec == nil {
		n.skip("it has no spec")
		return nil
	}
	l := &arkv1.BackupStorageLocation{ObjectMeta: migratedMeta(src, "BackupStorageLocation", u, p.Namespace)}
	l.Name = name
	provider, _ := spec["provider"].(string)
	l.Spec.Provider = normalizeProvider(provider)
	if !slices.Contains(validation.Providers(), l.Spec.Provider) {
		n.skip(fmt.Sprintf("provider %q: Ark's locations are %s", provider, strings.Join(validation.Providers(), ", ")))
		return nil
	}
	store, _ := spec["objectStorage"].(map[string]any)
	l.Spec.ObjectStorage.Bucket, _ = store["bucket"].(string)
	l.Spec.ObjectStorage.Prefix, _ = store["prefix"].(string)
	l.Spec.Config = map[string]string{}
	config, _ := spec["config"].(map[string]any)
	for _, k := range slices.Sorted(maps.Keys(config)) {
		if emptyValue(config[k]) {
			continue // says nothing: dropping it loses nothing
		}
		v := fmt.Sprint(config[k])
		if err := objectstore.CheckLocationConfig(l.Spec.Provider, map[string]string{k: v}); err != nil {
			reason := err.Error()
			if r := droppedReasons[k]; r != "" {
				reason = r
			}
			n.field("spec.config."+k, fmt.Sprintf("dropped: %s", reason))
			continue
		}
		l.Spec.Config[k] = v
	}
	// Velero keeps an S3 endpoint's CA in the location (base64 of PEM);
	// Ark's aws provider takes the PEM as config.caCert.
	if ca, _ := store["caCert"].(string); ca != "" {
		pem, err := base64.StdEncoding.DecodeString(ca)
		switch {
		case err != nil:
			n.field("spec.objectStorage.caCert", "dropped: not base64: "+err.Error())
		case l.Spec.Provider != "aws":
			n.field("spec.objectStorage.caCert", "dropped: Ark takes a CA certificate for the aws provider only")
		case l.Spec.Config["caCert"] != "":
			n.field("spec.objectStorage.caCert", "dropped: config.caCert is set too, and kept")
		default:
			l.Spec.Config["caCert"] = string(pem)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(store)) {
		if k != "bucket" && k != "prefix" && k != "caCert" && !emptyValue(store[k]) {
			n.field("spec.objectStorage."+k, fmt.Sprintf("dropped (was %s): Ark has no such field", shortJSON(store[k])))
		}
	}
	if len(l.Spec.Config) == 0 {
		l.Spec.Config = nil
	}
	mode, _ := spec["accessMode"].(string)
	l.Spec.AccessMode = arkv1.BackupStorageLocationAccessMode(mode)
	if src.velero {
		// A format: velero location lists and restores the Velero
		// server's backups; it is ReadOnly: Ark writes no backups of its
		// own into Velero's bucket.
		if mode != string(arkv1.BackupStorageLocationAccessModeReadOnly) {
			n.field("spec.accessMode", "made ReadOnly: a format: velero location lists and restores Velero's backups, and Ark writes none of its own into Velero's bucket")
		}
		l.Spec.AccessMode = arkv1.BackupStorageLocationAccessModeReadOnly
		l.Spec.Format = arkv1.BackupStorageLocationFormatVelero

		if c, ok := spec["credential"].(map[string]any); ok && !emptyValue(c) {
			n.field("spec.credential", fmt.Sprintf("dropped (was Secret %s/%v key %v): Ark reads credentials from Secrets in %s only; copy the Secret there and set spec.credential (ark backup-location)", u.GetNamespace(), c["name"], c["key"], p.Namespace))
		}
		if d, _ := spec["default"].(bool); d {
			n.field("spec.default", "dropped: Ark's default location is the one it was installed with (--backup-location), and a ReadOnly location takes no backups")
		}
	}
	for _, k := range slices.Sorted(maps.Keys(spec)) {
		switch k {
		case "provider", "objectStorage", "config", "accessMode", "credential", "default":
			continue
		}
		if !emptyValue(spec[k]) {
			reason := droppedReasons[k]
			if reason == "" {
				reason = "Ark has no such field"
			}
			n.field("spec."+k, fmt.Sprintf("dropped (was %s): %s", shortJSON(spec[k]), reason))
		}
	}
	arkv1.SetObjectDefaults_BackupStorageLocation(l)
	var internal ark.BackupStorageLocationSpec
	if err := arkv1.Convert_v1_BackupStorageLocationSpec_To_ark_BackupStorageLocationSpec(&l.Spec, &internal, nil); err != nil {
		n.skip(err.Error())
		return nil
	}
	scope := validation.Scope{HomeNamespace: p.Namespace, PrimaryLocation: arkv1.DefaultStorageLocation}
	if errs := validation.ValidateBackupStorageLocationSpec(&internal, l.Name, scope, field.NewPath("spec")); len(errs) > 0 {
		n.skip("Ark would refuse it: " + fieldErrors(errs))
		return nil
	}
	if err := objectstore.CheckLocationConfig(l.Spec.Provider, l.Spec.Config); err != nil {
		n.skip("Ark would refuse its config: " + err.Error())
		return nil
	}
	return l
}

// snapshotterReasons say why Ark has no snapshotter of an old provider.
var snapshotterReasons = map[string]string{
	"aws":   "Ark has no EBS snapshotter",
	"azure": "Ark has no Azure disk snapshotter",
}

// translateSnapshotLocation makes the Ark location of an old one, or nil
// (with the reason noted) if it has none.
func (p *migrationPlan) translateSnapshotLocation(src migrateSource, u *unstructured.Unstructured) *arkv1.VolumeSnapshotLocation {
	n := p.notesFor("volumesnapshotlocation", u.GetName())
	spec, _, _ := unstructured.NestedMap(u.Object, "spec")
	l := &arkv1.VolumeSnapshotLocation{ObjectMeta: migratedMeta(src, "VolumeSnapshotLocation", u, p.Namespace)}
	provider, _ := spec["provider"].(string)
	l.Spec.Provider = normalizeProvider(provider)
	if !slices.Contains(validation.SnapshotProviders(), l.Spec.Provider) {
		reason := snapshotterReasons[l.Spec.Provider]
		if reason == "" {
			reason = "Ark has no such snapshotter"
		}
		n.skip(fmt.Sprintf("provider %q: %s (it has %s); backups naming this location snapshot no volume through it", provider, reason, strings.Join(validation.SnapshotProviders(), ", ")))
		return nil
	}
	config, _ := spec["config"].(map[string]any)
	for _, k := range slices.Sorted(maps.Keys(config)) {
		v := fmt.Sprint(config[k])
		one := ark.VolumeSnapshotLocationSpec{Provider: l.Spec.Provider, Config: map[string]string{k: v}}
		if errs := validation.ValidateVolumeSnapshotLocationSpec(&one, field.NewPath("spec")); len(errs) > 0 {
			n.field("spec.config."+k, "dropped: "+fieldErrors(errs))
			continue
		}
		if l.Spec.Config == nil {
			l.Spec.Config = map[string]string{}
		}
		l.Spec.Config[k] = v
	}
	for _, k := range slices.Sorted(maps.Keys(spec)) {
		if k != "provider" && k != "config" && !emptyValue(spec[k]) {
			reason := "Ark has no such field"
			if k == "credential" {
				reason = fmt.Sprintf("Ark reads credentials from Secrets in %s only; copy the Secret there and set spec.credential", p.Namespace)
			}
			n.field("spec."+k, fmt.Sprintf("dropped (was %s): %s", shortJSON(spec[k]), reason))
		}
	}
	var internal ark.VolumeSnapshotLocationSpec
	if err := arkv1.Convert_v1_VolumeSnapshotLocationSpec_To_ark_VolumeSnapshotLocationSpec(&l.Spec, &internal, nil); err != nil {
		n.skip(err.Error())
		return nil
	}
	if errs := validation.ValidateVolumeSnapshotLocationSpec(&internal, field.NewPath("spec")); len(errs) > 0 {
		n.skip("Ark would refuse it: " + fieldErrors(errs))
		return nil
	}
	return l
}

// translateSchedule makes the Ark schedule of an old one, or nil (with the
// reason noted) if it has none.
func (p *migrationPlan) translateSchedule(src migrateSource, u *unstructured.Unstructured) *arkv1.Schedule {
	n := p.notesFor("schedule", u.GetName())
	spec, _, _ := unstructured.NestedMap(u.Object, "spec")
	if spec == nil {
		n.skip("it has no spec")
		return nil
	}
	if v, ok := spec["useOwnerReferencesInBackup"].(bool); ok && !v {
		delete(spec, "useOwnerReferencesInBackup") // false is what Ark does
	}
	kept := prune(spec, scheduleSpecFields, "spec", n)
	s := &arkv1.Schedule{ObjectMeta: migratedMeta(src, "Schedule", u, p.Namespace)}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(kept, &s.Spec); err != nil {
		n.skip("its spec cannot be read: " + err.Error())
		return nil
	}
	arkv1.SetObjectDefaults_Schedule(s)
	var internal ark.Schedule
	if err := arkv1.Convert_v1_Schedule_To_ark_Schedule(s, &internal, nil); err != nil {
		n.skip(err.Error())
		return nil
	}
	if errs := validation.ValidateSchedule(&internal, validation.Scope{HomeNamespace: p.Namespace, Tenant: validation.DefaultTenantLimits}); len(errs) > 0 {
		n.skip("Ark would refuse it: " + fieldErrors(errs))
		return nil
	}
	return s
}

// checkReferences notes schedules naming locations that are not migrated,
// and moves those naming a Velero location (made ReadOnly) to Ark's
// default location, since a schedule may not write to a ReadOnly one.
func (p *migrationPlan) checkReferences(src migrateSource, skipped map[string]bool) {
	created := map[string]bool{}
	for _, l := range p.BackupStorageLocations {
		created[l.Name] = true
	}
	for i := range p.Schedules {
		s := &p.Schedules[i]
		n := p.notesFor("schedule", s.Name)
		t := &s.Spec.Template
		switch name := t.StorageLocation; {
		case name == "" || name == arkv1.DefaultStorageLocation:
			// Ark's own location has that name; an old one of that name
			// is kept out, as existing.
		case src.velero && created[name]:
			n.field("spec.template.storageLocation", fmt.Sprintf("cleared (was %q): that location is migrated ReadOnly, so this schedule's backups go to Ark's default location", name))
			t.StorageLocation = ""
		case skipped["backupstoragelocation/"+name]:
			n.field("spec.template.storageLocation", fmt.Sprintf("names %q, which is not migrated: its backups fail until a location of that name exists in Ark", name))
		}
		for _, name := range t.VolumeSnapshotLocations {
			if skipped["volumesnapshotlocation/"+name] {
				n.field("spec.template.volumeSnapshotLocations", fmt.Sprintf("names %q, which is not migrated: volumes only it would handle are not snapshotted", name))
			}
		}
	}
}

// buildPlan translates the old objects read from src.
func buildPlan(src migrateSource, sourceNS, namespace string, bsls, vsls, schedules []unstructured.Unstructured) *migrationPlan {
	p := &migrationPlan{Source: src.name, SourceNamespace: sourceNS, Namespace: namespace}
	skipped := map[string]bool{}
	mark := func(kind, name string) {
		for _, note := range p.Notes {
			if note.Skipped && note.Object == kind+"/"+name {
				skipped[note.Object] = true
			}
		}
	}
	for i := range bsls {
		if l := p.translateStorageLocation(src, &bsls[i]); l != nil {
			p.BackupStorageLocations = append(p.BackupStorageLocations, *l)
		}
		mark("backupstoragelocation", bsls[i].GetName())
	}
	for i := range vsls {
		if l := p.translateSnapshotLocation(src, &vsls[i]); l != nil {
			p.VolumeSnapshotLocations = append(p.VolumeSnapshotLocations, *l)
		}
		mark("volumesnapshotlocation", vsls[i].GetName())
	}
	for i := range schedules {
		if s := p.translateSchedule(src, &schedules[i]); s != nil {
			p.Schedules = append(p.Schedules, *s)
		}
	}
	p.checkReferences(src, skipped)
	// Notes grouped by object, in the order objects are listed.
	order := map[string]int{}
	for i, note := range p.Notes {
		if _, ok := order[note.Object]; !ok {
			order[note.Object] = i
		}
	}
	sort.SliceStable(p.Notes, func(i, j int) bool { return order[p.Notes[i].Object] < order[p.Notes[j].Object] })
	return p
}

// errHeptioArkHidden explains why Heptio Ark's objects cannot be read once
// Ark is installed.
var errHeptioArkHidden = errors.New(`APIService v1.ark.heptio.com routes to a server (Ark's): kube-apiserver sends the group ark.heptio.com to Ark, so Heptio Ark's objects (CRDs of the same group) cannot be read.
  Read them before installing Ark: ark migrate --from heptio-ark --save-plan plan.json, then ark install, then ark migrate --plan plan.json
  (or, on an installed Ark: save the APIService with kubectl get apiservice v1.ark.heptio.com -o yaml, delete it, run --save-plan, and apply it again)`)

// readOld lists the old installation's locations and schedules. A kind
// whose CRD is missing lists nothing; none of the three is an error.
func readOld(ctx context.Context, dyn dynamic.Interface, src migrateSource, ns string) (bsls, vsls, schedules []unstructured.Unstructured, err error) {
	if src.group == arkv1.SchemeGroupVersion.Group {
		// kube-apiserver makes an APIService of that name without a
		// service for CRDs ("Local"): one with a service is Ark's.
		svc, err := dyn.Resource(apiServiceGVR).Get(ctx, arkAPIService, metav1.GetOptions{})
		switch {
		case err == nil:
			if service, _, _ := unstructured.NestedMap(svc.Object, "spec", "service"); service != nil {
				return nil, nil, nil, errHeptioArkHidden
			}
		case !apierrors.IsNotFound(err):
			return nil, nil, nil, fmt.Errorf("checking that Ark's APIService %s does not hide Heptio Ark's objects: %w", arkAPIService, err)
		}
	}
	missing := 0
	list := func(resource string) []unstructured.Unstructured {
		if err != nil {
			return nil
		}
		l, lerr := dyn.Resource(src.gvr(resource)).Namespace(ns).List(ctx, metav1.ListOptions{})
		if apierrors.IsNotFound(lerr) {
			missing++
			return nil
		}
		if lerr != nil {
			err = fmt.Errorf("listing %s.%s in %s: %w", resource, src.group, ns, lerr)
			return nil
		}
		items := l.Items
		sort.Slice(items, func(i, j int) bool { return items[i].GetName() < items[j].GetName() })
		return items
	}
	bsls = list("backupstoragelocations")
	vsls = list("volumesnapshotlocations")
	schedules = list("schedules")
	if err == nil && missing == 3 {
		err = fmt.Errorf("the cluster serves none of schedules, backupstoragelocations and volumesnapshotlocations of %s/v1: is %s installed?", src.group, src.title)
	}
	return bsls, vsls, schedules, err
}

// checkArkServed refuses to create anything unless Ark serves its group:
// before ark install, or while kube-apiserver holds the APIService for
// Heptio Ark's CRDs, the objects would go into those CRDs instead.
func checkArkServed(ctx context.Context, dyn dynamic.Interface) error {
	svc, err := dyn.Resource(apiServiceGVR).Get(ctx, arkAPIService, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return fmt.Errorf("APIService %s does not exist: Ark is not installed (ark install --wait first)", arkAPIService)
	}
	if err != nil {
		return fmt.Errorf("checking that Ark serves its API (APIService %s): %w", arkAPIService, err)
	}
	if service, _, _ := unstructured.NestedMap(svc.Object, "spec", "service"); service == nil {
		return fmt.Errorf("APIService %s routes to CRDs (Heptio Ark's?), not to Ark: objects created now would go there. Install Ark first (ark install --wait takes the APIService over)", arkAPIService)
	}
	if status, reason, message := condition(svc.Object, "Available"); status != "True" {
		return fmt.Errorf("APIService %s is not Available (%s: %s): Ark does not serve its API yet", arkAPIService, reason, message)
	}
	return nil
}

// printPlan writes the plan for people: each object to create, and
// everything that could not be translated.
func printPlan(out io.Writer, p *migrationPlan, src migrateSource) {
	fmt.Fprintf(out, "Migration of %s (%s/v1 in namespace %s) into Ark (namespace %s):\n", src.title, src.group, p.SourceNamespace, p.Namespace)
	if len(p.BackupStorageLocations)+len(p.VolumeSnapshotLocations)+len(p.Schedules) == 0 {
		fmt.Fprintln(out, "  nothing to create")
	}
	for _, l := range p.BackupStorageLocations {
		where := l.Spec.ObjectStorage.Bucket
		if l.Spec.ObjectStorage.Prefix != "" {
			where += "/" + l.Spec.ObjectStorage.Prefix
		}
		fmt.Fprintf(out, "  backupstoragelocation/%s: %s %s, %s\n", l.Name, l.Spec.Provider, where, l.Spec.AccessMode)
	}
	for _, l := range p.VolumeSnapshotLocations {
		fmt.Fprintf(out, "  volumesnapshotlocation/%s: %s\n", l.Name, l.Spec.Provider)
	}
	for _, s := range p.Schedules {
		paused := ""
		if s.Spec.Paused {
			paused = ", paused"
		}
		fmt.Fprintf(out, "  schedule/%s: %q%s\n", s.Name, s.Spec.Schedule, paused)
	}
	if len(p.Notes) == 0 {
		fmt.Fprintln(out, "Everything translates.")
		return
	}
	fmt.Fprintf(out, "Not translated as it was (%d):\n", len(p.Notes))
	for _, n := range p.Notes {
		fmt.Fprintf(out, "  %s\n", n)
	}
}

// existingPlanned lists the planned objects Ark already has (by name).
func existingPlanned(ctx context.Context, client versioned.Interface, p *migrationPlan) []string {
	var found []string
	c := client.ArkV1()
	for _, l := range p.BackupStorageLocations {
		if _, err := c.BackupStorageLocations(p.Namespace).Get(ctx, l.Name, metav1.GetOptions{}); err == nil {
			found = append(found, "backupstoragelocation/"+l.Name)
		}
	}
	for _, l := range p.VolumeSnapshotLocations {
		if _, err := c.VolumeSnapshotLocations(p.Namespace).Get(ctx, l.Name, metav1.GetOptions{}); err == nil {
			found = append(found, "volumesnapshotlocation/"+l.Name)
		}
	}
	for _, s := range p.Schedules {
		if _, err := c.Schedules(p.Namespace).Get(ctx, s.Name, metav1.GetOptions{}); err == nil {
			found = append(found, "schedule/"+s.Name)
		}
	}
	return found
}

// createResult is what creating one planned object came to.
type createResult struct {
	kind, name string
	// created: made now; exists: an object of that name was there, and is
	// kept as it is.
	created, exists bool
	err             error
}

// createPlanned creates the plan's objects, locations first (schedules name
// them). An existing object of the same name is never overwritten.
func createPlanned(ctx context.Context, out io.Writer, client versioned.Interface, p *migrationPlan, dryRun bool) []createResult {
	var results []createResult
	opts := metav1.CreateOptions{FieldManager: "ark-migrate"}
	suffix := ""
	if dryRun {
		opts.DryRun = []string{metav1.DryRunAll}
		suffix = " (server dry run)"
	}
	do := func(kind, name string, create func() error) {
		r := createResult{kind: kind, name: name}
		err := create()
		switch {
		case err == nil:
			r.created = true
			fmt.Fprintf(out, "%s/%s created%s\n", kind, name, suffix)
		case apierrors.IsAlreadyExists(err):
			r.exists = true
			fmt.Fprintf(out, "%s/%s exists in %s: kept as it is, not overwritten\n", kind, name, p.Namespace)
		default:
			r.err = err
			fmt.Fprintf(out, "%s/%s not created: %s\n", kind, name, explain(err))
		}
		results = append(results, r)
	}
	for i := range p.BackupStorageLocations {
		l := p.BackupStorageLocations[i].DeepCopy()
		l.Namespace = p.Namespace // -n may have changed it since the plan was saved
		do("backupstoragelocation", l.Name, func() error {
			_, err := client.ArkV1().BackupStorageLocations(p.Namespace).Create(ctx, l, opts)
			return err
		})
	}
	for i := range p.VolumeSnapshotLocations {
		l := p.VolumeSnapshotLocations[i].DeepCopy()
		l.Namespace = p.Namespace // -n may have changed it since the plan was saved
		do("volumesnapshotlocation", l.Name, func() error {
			_, err := client.ArkV1().VolumeSnapshotLocations(p.Namespace).Create(ctx, l, opts)
			return err
		})
	}
	createdNow := map[string]bool{}
	for _, r := range results {
		if r.kind == "backupstoragelocation" && r.created {
			createdNow[r.name] = true
		}
	}
	for i := range p.Schedules {
		s := p.Schedules[i].DeepCopy()
		s.Namespace = p.Namespace // -n may have changed it since the plan was saved
		do("schedule", s.Name, func() error {
			_, err := client.ArkV1().Schedules(p.Namespace).Create(ctx, s, opts)
			// Ark refuses a schedule naming a location it does not serve
			// yet: one created a moment ago is served once its controller
			// has seen it.
			if !dryRun && createdNow[s.Spec.Template.StorageLocation] && invalidField(err, "spec.template.storageLocation") {
				_ = wait.PollUntilContextTimeout(ctx, time.Second, locationServedTimeout, false, func(ctx context.Context) (bool, error) {
					_, err = client.ArkV1().Schedules(p.Namespace).Create(ctx, s, opts)
					return !invalidField(err, "spec.template.storageLocation"), nil
				})
			}
			return err
		})
	}
	return results
}

// locationServedTimeout bounds the wait for a new location to be served.
var locationServedTimeout = 30 * time.Second

// invalidField says whether err is a 422 about the field.
func invalidField(err error, field string) bool {
	var status apierrors.APIStatus
	if !apierrors.IsInvalid(err) || !errors.As(err, &status) || status.Status().Details == nil {
		return false
	}
	for _, c := range status.Status().Details.Causes {
		if c.Field == field {
			return true
		}
	}
	return false
}

// deleteOld deletes the old objects whose Ark equivalent was created now
// and translated whole (no note). The rest stay, and are listed.
func deleteMigratedOld(ctx context.Context, out io.Writer, dyn dynamic.Interface, src migrateSource, p *migrationPlan, results []createResult) error {
	noted := map[string]bool{}
	for _, n := range p.Notes {
		noted[n.Object] = true
	}
	var errs []error
	var kept []string
	for _, r := range results {
		obj := r.kind + "/" + r.name
		if !r.created || noted[obj] {
			kept = append(kept, obj)
			continue
		}
		err := dyn.Resource(src.gvr(r.kind+"s")).Namespace(p.SourceNamespace).Delete(ctx, r.name, metav1.DeleteOptions{})
		switch {
		case err == nil:
			fmt.Fprintf(out, "%s.%s/%s -n %s deleted\n", r.kind, src.group, r.name, p.SourceNamespace)
		case apierrors.IsNotFound(err):
		default:
			errs = append(errs, fmt.Errorf("deleting %s.%s/%s: %w", r.kind, src.group, r.name, err))
		}
	}
	for _, n := range p.Notes {
		if n.Skipped {
			kept = append(kept, n.Object)
		}
	}
	if len(kept) > 0 {
		slices.Sort(kept)
		fmt.Fprintf(out, "Kept in %s (not migrated now, or not translated whole): %s\n", src.group, strings.Join(slices.Compact(kept), ", "))
	}
	return errors.Join(errs...)
}

// cleanupHint says how to remove the old objects once the user is content.
func cleanupHint(out io.Writer, src migrateSource, p *migrationPlan) {
	if src.velero {
		fmt.Fprintf(out, "Nothing of Velero was removed. Once you are content: ark migrate --from velero --delete-old (deletes what migrated whole), or kubectl -n %s delete schedules.velero.io,backupstoragelocations.velero.io,volumesnapshotlocations.velero.io NAME...\n", p.SourceNamespace)
		return
	}
	fmt.Fprintln(out, "Nothing of Heptio Ark was removed. Its objects are hidden behind Ark's APIService but still stored; once you are content, remove them with its CRDs:")
	fmt.Fprintln(out, "  kubectl delete crd schedules.ark.heptio.com backupstoragelocations.ark.heptio.com volumesnapshotlocations.ark.heptio.com")
	// kube-aggregator fetches an APIService's OpenAPI when it is created (and
	// after failed fetches), not when one it made for CRDs is taken over.
	fmt.Fprintln(out, "Then create Ark's APIService afresh, so kube-apiserver serves Ark's OpenAPI (kubectl explain); it does not fetch it for the APIService it made for those CRDs and ark install took over:")
	fmt.Fprintln(out, "  kubectl get apiservice v1.ark.heptio.com -o json | kubectl replace --force -f -")
}

func newMigrateCommand(env *Env) *cobra.Command {
	var from, fromNamespace, savePlan, planFile, dryRun string
	var deleteOld bool
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Create Ark's schedules and locations from a Heptio Ark or Velero installation's",
		Long: `migrate reads the Schedules, BackupStorageLocations and VolumeSnapshotLocations of a Heptio Ark
(--from heptio-ark: CRDs of ark.heptio.com, namespace heptio-ark) or Velero (--from velero: CRDs of
velero.io, namespace velero) installation, and creates their Ark equivalents in Ark's home namespace
(-n, default heptio-ark). It lists each thing it could not translate and why: fields Ark lacks
(restic, owner references, ordered resources...), config keys and providers Ark does not have
(aws and azure volume snapshots), credentials that name Secrets outside Ark's namespace. An object
Ark would refuse is not created; an Ark object of the same name is kept as it is, never overwritten.
It removes nothing unless --delete-old says so.

Velero's locations are created with format: velero, ReadOnly: Ark lists and restores the Velero
server's backups from them and writes none of its own into Velero's bucket. Schedules that named
them back up to Ark's default location.

Heptio Ark's CRDs share their group with Ark's API: once Ark is installed its APIService hides them.
So read them first, into a plan file, and create from it after installing:

  ark migrate --from heptio-ark --save-plan plan.json
  kubectl -n heptio-ark scale deployment/ark --replicas=0    # Heptio Ark's server must not act on Ark's API
  ark install --backup-location ... --wait                  # takes the APIService over from the CRDs
  ark migrate --plan plan.json

Velero's can be read at any time: ark migrate --from velero.

--dry-run (or --dry-run=client) prints the plan and creates nothing; --dry-run=server also has Ark
check each object without creating it.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkDryRun(dryRun); err != nil {
				return err
			}
			ctx := cmd.Context()
			var p *migrationPlan
			var src migrateSource
			var dyn dynamic.Interface
			switch {
			case planFile != "" && (from != "" || savePlan != "" || fromNamespace != ""):
				return errors.New("--plan creates what a saved plan holds: --from, --from-namespace and --save-plan read an installation instead")
			case planFile != "":
				if deleteOld {
					return errors.New("--delete-old needs the old objects read in the same run (--from); for a saved plan, see the commands printed after creating")
				}
				data, err := os.ReadFile(planFile)
				if err != nil {
					return fmt.Errorf("--plan: %w", err)
				}
				p = &migrationPlan{}
				if err := json.Unmarshal(data, p); err != nil {
					return fmt.Errorf("--plan %s: not a plan saved by ark migrate --save-plan: %w", planFile, err)
				}
				var ok bool
				if src, ok = migrateSources[p.Source]; !ok {
					return fmt.Errorf("--plan %s: unknown source %q", planFile, p.Source)
				}
				if cmd.Flags().Changed("namespace") {
					p.Namespace = env.Namespace()
				}
			case from == "":
				return errors.New("--from is required: heptio-ark or velero (or --plan FILE, saved by --save-plan)")
			default:
				var ok bool
				if src, ok = migrateSources[from]; !ok {
					return fmt.Errorf(`--from must be "heptio-ark" or "velero", not %q`, from)
				}
				if savePlan == "" && dryRun == "none" && !src.velero {
					return errors.New("--from heptio-ark reads objects that Ark's APIService hides once installed, so they cannot be created in the same run: give --save-plan FILE before ark install, then ark migrate --plan FILE after it (--dry-run shows the plan)")
				}
				if deleteOld && (savePlan != "" || dryRun != "none" || !src.velero) {
					return errors.New("--delete-old deletes the old objects once their Ark equivalents are created: it works with --from velero only, without --dry-run or --save-plan")
				}
				if fromNamespace == "" {
					fromNamespace = src.namespace
				}
				var err error
				if dyn, err = env.dynamicClient(); err != nil {
					return err
				}
				bsls, vsls, schedules, err := readOld(ctx, dyn, src, fromNamespace)
				if err != nil {
					return err
				}
				p = buildPlan(src, fromNamespace, env.Namespace(), bsls, vsls, schedules)
			}
			printPlan(env.Out, p, src)
			if savePlan != "" {
				data, err := json.MarshalIndent(p, "", "  ")
				if err != nil {
					return err
				}
				if err := os.WriteFile(savePlan, append(data, '\n'), 0o600); err != nil {
					return fmt.Errorf("--save-plan: %w", err)
				}
				fmt.Fprintf(env.Out, "Plan saved to %s; nothing was created. After ark install: ark migrate --plan %s\n", savePlan, savePlan)
				return nil
			}
			if dryRun == "client" {
				// Say which already exist when Ark can be asked; before
				// install (Heptio Ark) it cannot, and that is no error.
				if dyn == nil {
					dyn, _ = env.dynamicClient()
				}
				if dyn != nil && checkArkServed(ctx, dyn) == nil {
					if client, err := env.Ark(); err == nil {
						for _, obj := range existingPlanned(ctx, client, p) {
							fmt.Fprintf(env.Out, "%s exists in %s: would be kept as it is, not overwritten\n", obj, p.Namespace)
						}
					}
				}
				fmt.Fprintln(env.Out, "Dry run: nothing was created.")
				return nil
			}
			if dyn == nil {
				var err error
				if dyn, err = env.dynamicClient(); err != nil {
					return err
				}
			}
			if err := checkArkServed(ctx, dyn); err != nil {
				return err
			}
			client, err := env.Ark()
			if err != nil {
				return err
			}
			results := createPlanned(ctx, env.Out, client, p, dryRun == "server")
			failed := 0
			for _, r := range results {
				if r.err != nil {
					failed++
				}
			}
			if dryRun == "server" {
				if failed > 0 {
					return &exitError{code: 1, msg: fmt.Sprintf("%d object(s) would not be created", failed)}
				}
				return nil
			}
			if failed > 0 {
				return &exitError{code: 1, msg: fmt.Sprintf("%d object(s) not created; nothing old was removed", failed)}
			}
			if deleteOld {
				return deleteMigratedOld(ctx, env.Out, dyn, src, p, results)
			}
			cleanupHint(env.Out, src, p)
			return nil
		},
	}
	cmd.Flags().StringVar(&from, "from", "", `the installation to read: "heptio-ark" (ark.heptio.com CRDs) or "velero" (velero.io CRDs)`)
	cmd.Flags().StringVar(&fromNamespace, "from-namespace", "", "the namespace of the installation's objects (default heptio-ark for Heptio Ark, velero for Velero); Ark's are created in -n")
	cmd.Flags().StringVar(&savePlan, "save-plan", "", "write the plan to this file and create nothing (for Heptio Ark: before ark install)")
	cmd.Flags().StringVar(&planFile, "plan", "", "create what a plan saved by --save-plan holds")
	cmd.Flags().StringVar(&dryRun, "dry-run", "none", `"client" (or just --dry-run) prints the plan, "server" has Ark check each object without creating it`)
	cmd.Flags().Lookup("dry-run").NoOptDefVal = "client"
	cmd.Flags().BoolVar(&deleteOld, "delete-old", false, "after every object is created, delete the old objects that were translated whole (--from velero only)")
	return cmd
}
