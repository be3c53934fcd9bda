package backup

import (
	"fmt"
	"reflect"
	"testing"
	"unsafe"

	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/arkproject/ark/pkg/apis/ark"
)

// scheduled is a backup as a schedule writes them: everything but its
// name, UID, signature and times is the same from one to the next.
func scheduled(name string) *ark.Backup {
	t := metav1.Now()
	yes := true
	return &ark.Backup{
		ObjectMeta: metav1.ObjectMeta{
			// Namespaces and values built, as decoding builds them,
			// rather than constants the compiler shares already.
			Name: name, Namespace: string([]byte("team-a")), UID: types.UID("uid-" + name),
			Labels:      map[string]string{"ark.heptio.com/schedule-name": "daily"},
			Annotations: map[string]string{"ark.heptio.com/cluster": string([]byte("c1")), "ark.heptio.com/provenance": "v1:" + name},
		},
		Spec: ark.BackupSpec{
			IncludedNamespaces: []string{"team-a"},
			ExcludedResources:  []string{"events", "events.events.k8s.io"},
			SnapshotVolumes:    &yes,
			StorageLocation:    "default",
			Requester:          &ark.UserInfo{Username: "system:serviceaccount:heptio-ark:ark-scheduler", Groups: []string{"system:serviceaccounts", "system:authenticated"}},
		},
		Status: ark.BackupStatus{Phase: ark.BackupPhaseCompleted, StartTimestamp: &t},
	}
}

func mapPtr(m map[string]string) uintptr { return reflect.ValueOf(m).Pointer() }

// What two backups have in common is held once, what is their own stays
// theirs, and neither changes what the backup says.
func TestShareRepeats(t *testing.T) {
	var table shareTable
	a, b := scheduled("daily-1"), scheduled("daily-2")
	wantA, wantB := a.DeepCopy(), b.DeepCopy()
	table.shareRepeats(a)
	table.shareRepeats(b)
	for _, c := range []struct {
		got, want *ark.Backup
	}{{a, wantA}, {b, wantB}} {
		if !apiequality.Semantic.DeepEqual(c.got, c.want) {
			t.Errorf("sharing changed backup %s:\n got %#v\nwant %#v", c.want.Name, c.got, c.want)
		}
	}
	if mapPtr(a.Labels) != mapPtr(b.Labels) {
		t.Error("equal labels are not shared")
	}
	if mapPtr(a.Annotations) == mapPtr(b.Annotations) {
		t.Error("annotations, which differ, are shared")
	}
	if a.Spec.Requester != b.Spec.Requester {
		t.Error("equal requesters are not shared")
	}
	if &a.Spec.ExcludedResources[0] != &b.Spec.ExcludedResources[0] || &a.Spec.IncludedNamespaces[0] != &b.Spec.IncludedNamespaces[0] {
		t.Error("equal lists are not shared")
	}
	if a.Spec.SnapshotVolumes != b.Spec.SnapshotVolumes {
		t.Error("equal flags are not shared")
	}
	if unsafeData(a.Namespace) != unsafeData(b.Namespace) || unsafeData(a.Annotations["ark.heptio.com/cluster"]) != unsafeData(b.Annotations["ark.heptio.com/cluster"]) {
		t.Error("equal namespaces are not shared")
	}

	// An append to a shared list is the appender's alone.
	grown := append(a.Spec.ExcludedResources, "secrets")
	grown[0] = "changed"
	if b.Spec.ExcludedResources[0] != "events" || len(b.Spec.ExcludedResources) != 2 {
		t.Errorf("an append to one backup's list changed another's: %v", b.Spec.ExcludedResources)
	}
	// A copy, as every writer makes, is its own.
	c := a.DeepCopy()
	c.Labels["ark.heptio.com/schedule-name"] = "weekly"
	*c.Spec.SnapshotVolumes = false
	if b.Labels["ark.heptio.com/schedule-name"] != "daily" || !*b.Spec.SnapshotVolumes {
		t.Error("changing a deep copy changed another backup")
	}
}

func unsafeData(s string) *byte { return unsafe.StringData(s) }

// The table stays bounded however many values never repeat.
func TestShareTableBounded(t *testing.T) {
	var table shareTable
	for i := range 3 * shareTableSize {
		b := scheduled(fmt.Sprintf("b-%d", i))
		b.Labels = map[string]string{"unique": fmt.Sprint(i)}
		table.shareRepeats(b)
		if table.size > shareTableSize {
			t.Fatalf("the table holds %d values, more than %d", table.size, shareTableSize)
		}
	}
	total := len(table.strs) + len(table.lists) + len(table.maps) + len(table.users)
	if total != table.size || total == 0 {
		t.Errorf("the table holds %d values and counts %d", total, table.size)
	}
}

// A schedule's backups, whose signatures differ, fill the table with what
// they share only, so it does not start over every few thousand backups.
func TestShareTableKeepsWhatRepeats(t *testing.T) {
	var table shareTable
	for i := range 1000 {
		table.shareRepeats(scheduled(fmt.Sprintf("daily-%04d", i)))
	}
	if table.size > 20 {
		t.Errorf("the table holds %d values after 1000 backups of one schedule; their signatures should not be in it", table.size)
	}
}
