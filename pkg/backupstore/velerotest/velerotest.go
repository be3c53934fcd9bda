// Package velerotest writes Velero-format backups into a bucket, laid out
// as Velero's published backup file format documentation describes them
// (backups/<name>/velero-backup.json, <name>.tar.gz with metadata/version
// and resources/..., and the logs, resource list, results and volume
// snapshot files beside them), for the tests of Ark's Velero reader.
package velerotest

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"path"
	"strings"
	"testing"
	"time"

	"github.com/arkproject/ark/pkg/backupstore"
	"github.com/arkproject/ark/pkg/backupstore/backupstoretest"
	"github.com/arkproject/ark/pkg/objectstore"
)

// Entry is one extra tar entry, for hostile tarballs.
type Entry struct {
	Name string
	Body string
	// Type is a tar type flag; zero is a regular file.
	Type byte
	Link string
}

// Backup describes the Velero backup to write: a backup of one namespace
// holding a Deployment, two ConfigMaps, a Secret, a PVC bound to a PV
// (snapshotted by Velero), a CRD and one of its custom resources.
type Backup struct {
	// Name is the backup's name.
	Name string
	// Namespace is the namespace backed up.
	Namespace string
	// APIGroupVersions writes format 1.1.0 (Velero 1.4 and later): each
	// resource in its classic folder and in its group's
	// "<version>-preferredversion" folder, and the custom resource also
	// under another version. Otherwise format 1 (Velero 1.0 to 1.3).
	APIGroupVersions bool
	// Phase is the record's status.phase; empty is Completed.
	Phase string
	// Volume is the PV's name; empty is "<namespace>-data".
	Volume string
	// CSI says Velero's CSI support snapshotted the volume: the claim is
	// labelled velero.io/volume-snapshot-name and the tarball holds the
	// VolumeSnapshot and its VolumeSnapshotContent, and no volume
	// snapshotter's snapshot is recorded.
	CSI bool
	// Extra entries are appended to the tarball.
	Extra []Entry
}

// SnapshotName is the VolumeSnapshot of a CSI backup.
func (b Backup) SnapshotName() string { return "velero-data-" + b.Name }

// ContentName is the VolumeSnapshotContent of a CSI backup.
func (b Backup) ContentName() string { return "snapcontent-" + b.Name }

// VolumeName is the name of the backup's persistent volume.
func (b Backup) VolumeName() string {
	if b.Volume != "" {
		return b.Volume
	}
	return b.Namespace + "-data"
}

// Item is one backed-up object.
type Item struct {
	// Resource is "<resource>.<group>" as in the tarball.
	Resource string
	// Versions are the API versions the item is stored under, the first
	// the preferred one: its object is stored with each version.
	Versions []string
	Object   map[string]any
}

// Namespace and Name of the item.
func (it Item) Namespace() string {
	ns, _ := it.Object["metadata"].(map[string]any)["namespace"].(string)
	return ns
}

// Name of the item.
func (it Item) Name() string { return it.Object["metadata"].(map[string]any)["name"].(string) }

func obj(apiVersion, kind, ns, name string, more map[string]any) map[string]any {
	meta := map[string]any{"name": name, "uid": "velero-uid-" + name, "resourceVersion": "42",
		"creationTimestamp": "2026-01-01T00:00:00Z", "labels": map[string]any{"app": "shop", "velero.io/backup-name": "x"}}
	if ns != "" {
		meta["namespace"] = ns
	}
	o := map[string]any{"apiVersion": apiVersion, "kind": kind, "metadata": meta}
	for k, v := range more {
		o[k] = v
	}
	return o
}

// Items are what the backup holds.
func (b Backup) Items() []Item {
	ns, pv := b.Namespace, b.VolumeName()
	items := []Item{
		{"namespaces", []string{"v1"}, obj("v1", "Namespace", "", ns, nil)},
		{"deployments.apps", []string{"v1"}, obj("apps/v1", "Deployment", ns, "web", map[string]any{"spec": map[string]any{
			"replicas": 0,
			"selector": map[string]any{"matchLabels": map[string]any{"app": "web"}},
			"template": map[string]any{
				"metadata": map[string]any{"labels": map[string]any{"app": "web"}},
				"spec":     map[string]any{"containers": []any{map[string]any{"name": "web", "image": "registry.k8s.io/pause:3.9"}}},
			},
		}})},
		{"configmaps", []string{"v1"}, obj("v1", "ConfigMap", ns, "settings", map[string]any{"data": map[string]any{"color": "blue"}})},
		{"configmaps", []string{"v1"}, obj("v1", "ConfigMap", ns, "flags", map[string]any{"data": map[string]any{"beta": "true"}})},
		{"secrets", []string{"v1"}, obj("v1", "Secret", ns, "db-creds", map[string]any{"type": "Opaque", "data": map[string]any{"password": "aHVudGVyMg=="}})},
		{"persistentvolumes", []string{"v1"}, obj("v1", "PersistentVolume", "", pv, map[string]any{"spec": map[string]any{
			"capacity":                      map[string]any{"storage": "1Gi"},
			"accessModes":                   []any{"ReadWriteOnce"},
			"persistentVolumeReclaimPolicy": "Retain",
			"storageClassName":              "manual",
			"hostPath":                      map[string]any{"path": "/tmp/ark-velero-" + pv},
			"claimRef":                      map[string]any{"kind": "PersistentVolumeClaim", "namespace": ns, "name": "data", "uid": "velero-uid-data", "apiVersion": "v1"},
		}})},
		{"persistentvolumeclaims", []string{"v1"}, obj("v1", "PersistentVolumeClaim", ns, "data", map[string]any{"spec": map[string]any{
			"accessModes":      []any{"ReadWriteOnce"},
			"resources":        map[string]any{"requests": map[string]any{"storage": "1Gi"}},
			"storageClassName": "manual",
			"volumeName":       pv,
		}})},
	}
	if b.CSI {
		pvc := items[len(items)-1].Object
		pvc["metadata"].(map[string]any)["labels"].(map[string]any)["velero.io/volume-snapshot-name"] = b.SnapshotName()
		items = append(items,
			Item{"volumesnapshots.snapshot.storage.k8s.io", []string{"v1"}, obj("snapshot.storage.k8s.io/v1", "VolumeSnapshot", ns, b.SnapshotName(), map[string]any{
				"spec":   map[string]any{"source": map[string]any{"persistentVolumeClaimName": "data"}, "volumeSnapshotClassName": "csi-snapclass"},
				"status": map[string]any{"boundVolumeSnapshotContentName": b.ContentName(), "readyToUse": true},
			})},
			Item{"volumesnapshotcontents.snapshot.storage.k8s.io", []string{"v1"}, obj("snapshot.storage.k8s.io/v1", "VolumeSnapshotContent", "", b.ContentName(), map[string]any{
				"spec": map[string]any{"driver": "hostpath.csi.k8s.io", "deletionPolicy": "Delete",
					"source":            map[string]any{"volumeHandle": "vol-" + pv},
					"volumeSnapshotRef": map[string]any{"kind": "VolumeSnapshot", "namespace": ns, "name": b.SnapshotName(), "uid": "velero-uid-vs"}},
				"status": map[string]any{"snapshotHandle": "snap-handle-" + b.Name, "readyToUse": true},
			})})
	}
	return append(items, []Item{
		{"customresourcedefinitions.apiextensions.k8s.io", []string{"v1", "v1beta1"}, obj("apiextensions.k8s.io/v1", "CustomResourceDefinition", "", "widgets.example.com", map[string]any{"spec": map[string]any{
			"group": "example.com",
			"names": map[string]any{"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"},
			"scope": "Namespaced",
			"versions": []any{map[string]any{"name": "v1", "served": true, "storage": true,
				"schema": map[string]any{"openAPIV3Schema": map[string]any{"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}},
		}})},
		{"widgets.example.com", []string{"v1", "v1beta1"}, obj("example.com/v1", "Widget", ns, "gizmo", map[string]any{"spec": map[string]any{"size": 3}})},
	}...)
}

// Write puts the backup's files into store under backups/<name>/.
func Write(t testing.TB, store objectstore.Store, b Backup) {
	t.Helper()
	ref := backupstore.Layout{Format: backupstore.FormatVelero}.Backup("", b.Name)
	items := b.Items()
	format := "1"
	if b.APIGroupVersions {
		format = "1.1.0"
	}
	phase := b.Phase
	if phase == "" {
		phase = "Completed"
	}
	record := map[string]any{
		"kind": "Backup", "apiVersion": "velero.io/v1",
		"metadata": map[string]any{
			"name": b.Name, "namespace": "velero", "uid": "uid-" + b.Name, "resourceVersion": "337075",
			"creationTimestamp": "2026-01-01T00:00:00Z",
			"labels":            map[string]any{"velero.io/schedule-name": "nightly", "velero.io/storage-location": "default"},
		},
		"spec": map[string]any{
			"includedNamespaces": []any{b.Namespace}, "excludedNamespaces": nil,
			"includedResources": []any{"*"}, "excludedResources": nil, "labelSelector": nil,
			"snapshotVolumes": true, "ttl": "720h0m0s", "storageLocation": "default",
			"volumeSnapshotLocations": []any{"default"},
		},
		"status": map[string]any{
			"version": 1, "formatVersion": format, "phase": phase,
			"expiration": "2026-01-31T00:00:00Z", "startTimestamp": "2026-01-01T00:00:00Z", "completionTimestamp": "2026-01-01T00:00:05Z",
			"volumeSnapshotsAttempted": 1, "volumeSnapshotsCompleted": 1,
			"warnings": 1, "errors": 0,
			"progress": map[string]any{"totalItems": len(items), "itemsBackedUp": len(items)},
		},
	}
	backupstoretest.Put(t, store, ref.MetadataKey(), mustJSON(t, record))
	backupstoretest.Put(t, store, ref.TarballKey(), Tarball(t, b))
	backupstoretest.Put(t, store, ref.LogsKey(), backupstoretest.Gzip(t, []byte(fmt.Sprintf("time=\"2026-01-01T00:00:00Z\" level=info msg=\"Backing up namespace %s\" backup=velero/%s\n", b.Namespace, b.Name))))
	list := map[string][]string{}
	for _, it := range items {
		gvk := it.Object["apiVersion"].(string) + "/" + it.Object["kind"].(string)
		id := it.Name()
		if it.Namespace() != "" {
			id = it.Namespace() + "/" + id
		}
		list[gvk] = append(list[gvk], id)
	}
	backupstoretest.Put(t, store, ref.ResourceListKey(), backupstoretest.Gzip(t, mustJSON(t, list)))
	backupstoretest.Put(t, store, ref.ResultsKey(), backupstoretest.Gzip(t, mustJSON(t, map[string]any{
		"warnings": map[string]any{"namespaces": map[string]any{b.Namespace: []any{"a warning from Velero"}}},
		"errors":   map[string]any{},
	})))
	// Velero writes the volume's name under "PersistentVolumeName": its
	// struct tag lacks quotes, so the field's own name is the key.
	if b.CSI {
		return // Velero records CSI snapshots in the tarball, not as a snapshotter's
	}
	backupstoretest.Put(t, store, ref.VolumeSnapshotsKey(), backupstoretest.Gzip(t, mustJSON(t, []any{map[string]any{
		"spec": map[string]any{"backupName": b.Name, "backupUID": "uid-" + b.Name, "location": "default",
			"PersistentVolumeName": b.VolumeName(), "providerVolumeID": "vol-0123", "volumeType": "gp2"},
		"status": map[string]any{"providerSnapshotID": "snap-0456", "phase": "Completed"},
	}})))
}

// Tarball is the backup's <name>.tar.gz.
func Tarball(t testing.TB, b Backup) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	mod := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	dirs := map[string]bool{}
	write := func(e Entry) {
		typ := e.Type
		if typ == 0 {
			typ = tar.TypeReg
		}
		hdr := &tar.Header{Name: e.Name, Mode: 0o644, ModTime: mod, Typeflag: typ, Linkname: e.Link}
		if typ == tar.TypeReg {
			hdr.Size = int64(len(e.Body))
		}
		if typ == tar.TypeDir {
			hdr.Mode = 0o755
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if hdr.Size > 0 {
			if _, err := tw.Write([]byte(e.Body)); err != nil {
				t.Fatal(err)
			}
		}
	}
	version := "1"
	if b.APIGroupVersions {
		version = "1.1.0"
	}
	put := func(name string, body []byte) {
		for _, d := range parents(name) {
			if !dirs[d] {
				dirs[d] = true
				write(Entry{Name: d + "/", Type: tar.TypeDir})
			}
		}
		write(Entry{Name: name, Body: string(body)})
	}
	put("metadata/version", []byte(version+"\n"))
	for _, it := range b.Items() {
		scope := "cluster"
		if ns := it.Namespace(); ns != "" {
			scope = "namespaces/" + ns
		}
		file := "/" + scope + "/" + it.Name() + ".json"
		put("resources/"+it.Resource+file, mustJSON(t, it.Object))
		if !b.APIGroupVersions {
			continue
		}
		for i, v := range it.Versions {
			o := copyObject(it.Object)
			group, _, found := strings.Cut(o["apiVersion"].(string), "/")
			if found {
				o["apiVersion"] = group + "/" + v
			} else {
				o["apiVersion"] = v
			}
			dir := v
			if i == 0 {
				dir += "-preferredversion"
			} else {
				// Another version's copy differs, as a conversion would
				// make it: what is restored must be the preferred one.
				o["metadata"].(map[string]any)["annotations"] = map[string]any{"from": v}
			}
			put("resources/"+it.Resource+"/"+dir+file, mustJSON(t, o))
		}
	}
	for _, e := range b.Extra {
		write(e)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// parents returns the folders of a file's path, outermost first.
func parents(name string) []string {
	var out []string
	for d := path.Dir(name); d != "."; d = path.Dir(d) {
		out = append([]string{d}, out...)
	}
	return out
}

func copyObject(o map[string]any) map[string]any {
	var out map[string]any
	data, _ := json.Marshal(o)
	_ = json.Unmarshal(data, &out)
	return out
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
