package storagelocation

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
	"github.com/arkproject/ark/pkg/generated/clientset/versioned/fake"
)

const home = "heptio-ark"

func TestSpecFor(t *testing.T) {
	rw := arkv1.BackupStorageLocationAccessModeReadWrite
	tests := []struct {
		url  string
		want arkv1.BackupStorageLocationSpec
	}{
		{"file:///var/lib/ark/bucket/", arkv1.BackupStorageLocationSpec{Provider: "file", ObjectStorage: arkv1.ObjectStorageLocation{Bucket: "/var/lib/ark/bucket"}, AccessMode: rw, Default: true}},
		{"gs://backups", arkv1.BackupStorageLocationSpec{Provider: "gcp", ObjectStorage: arkv1.ObjectStorageLocation{Bucket: "backups"}, AccessMode: rw, Default: true}},
		{"gs://backups/cluster-1/", arkv1.BackupStorageLocationSpec{Provider: "gcp", ObjectStorage: arkv1.ObjectStorageLocation{Bucket: "backups", Prefix: "cluster-1"}, AccessMode: rw, Default: true}},
		{"s3://backups/a/b?region=eu-west-1&forcePathStyle=true", arkv1.BackupStorageLocationSpec{
			Provider: "aws", ObjectStorage: arkv1.ObjectStorageLocation{Bucket: "backups", Prefix: "a/b"},
			Config: map[string]string{"region": "eu-west-1", "forcePathStyle": "true"}, AccessMode: rw, Default: true,
		}},
		{"azure://backups/cluster-1?account=ark&endpoint=http://127.0.0.1:10000/ark", arkv1.BackupStorageLocationSpec{
			Provider: "azure", ObjectStorage: arkv1.ObjectStorageLocation{Bucket: "backups", Prefix: "cluster-1"},
			Config: map[string]string{"account": "ark", "endpoint": "http://127.0.0.1:10000/ark"}, AccessMode: rw, Default: true,
		}},
	}
	for _, tt := range tests {
		got, err := SpecFor(tt.url)
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("SpecFor(%q) = %+v, %v; want %+v", tt.url, got, err, tt.want)
		}
	}
	if _, err := SpecFor("ftp://x"); err == nil {
		t.Error("SpecFor(ftp://x) succeeded")
	}
}

func newController(obs *Observation, objects ...*arkv1.BackupStorageLocation) (*Controller, *fake.Clientset) {
	client := fake.NewSimpleClientset()
	for _, o := range objects {
		_ = client.Tracker().Add(o)
	}
	spec, _ := SpecFor("file:///bucket")
	return &Controller{
		Client: client, Namespace: home, Name: "default", Spec: spec,
		Observe: func() Observation { return *obs }, Interval: time.Second,
	}, client
}

func get(t *testing.T, client *fake.Clientset, name string) *arkv1.BackupStorageLocation {
	t.Helper()
	l, err := client.ArkV1().BackupStorageLocations(home).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestSyncCreatesServedLocationAndReportsIt(t *testing.T) {
	synced := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	obs := &Observation{LastSynced: synced, Backups: 3}
	other := &arkv1.BackupStorageLocation{ObjectMeta: metav1.ObjectMeta{Name: "secondary", Namespace: home}, Spec: arkv1.BackupStorageLocationSpec{Provider: "gcp"}}
	c, client := newController(obs, other)
	if err := c.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	l := get(t, client, "default")
	if !l.Spec.Default || l.Spec.Provider != "file" || l.Spec.ObjectStorage.Bucket != "/bucket" {
		t.Errorf("served spec = %+v", l.Spec)
	}
	if l.Status.Phase != arkv1.BackupStorageLocationPhaseAvailable || l.Status.BackupCount != 3 || l.Status.Message != "" ||
		l.Status.LastSyncedTime == nil || !l.Status.LastSyncedTime.Equal(&metav1.Time{Time: synced}) {
		t.Errorf("served status = %+v", l.Status)
	}
	if s := get(t, client, "secondary").Status; s.Phase != arkv1.BackupStorageLocationPhaseUnavailable || s.Message != NotServed {
		t.Errorf("other status = %+v", s)
	}

	// The bucket stops answering: the last success stays, the error shows.
	obs.Err = errors.New("bucket unreachable")
	if err := c.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	l = get(t, client, "default")
	if l.Status.Phase != arkv1.BackupStorageLocationPhaseUnavailable || l.Status.Message != "bucket unreachable" || l.Status.LastSyncedTime == nil {
		t.Errorf("status after failure = %+v", l.Status)
	}
}

func TestSyncLeavesAnEditedServedLocationAlone(t *testing.T) {
	edited := &arkv1.BackupStorageLocation{
		ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: home},
		Spec:       arkv1.BackupStorageLocationSpec{Provider: "file", ObjectStorage: arkv1.ObjectStorageLocation{Bucket: "/elsewhere"}, AccessMode: arkv1.BackupStorageLocationAccessModeReadOnly},
	}
	c, client := newController(&Observation{LastSynced: time.Now()}, edited)
	if err := c.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	if l := get(t, client, "default"); !reflect.DeepEqual(l.Spec, edited.Spec) {
		t.Errorf("spec overwritten: %+v", l.Spec)
	}
}

func TestStale(t *testing.T) {
	c := &Controller{}
	at := func(d time.Duration) *metav1.Time { t := metav1.NewTime(time.Unix(1000, 0).Add(d)); return &t }
	avail := arkv1.BackupStorageLocationPhaseAvailable
	tests := []struct {
		name       string
		have, want arkv1.BackupStorageLocationStatus
		stale      bool
	}{
		{"same", arkv1.BackupStorageLocationStatus{Phase: avail, LastSyncedTime: at(0)}, arkv1.BackupStorageLocationStatus{Phase: avail, LastSyncedTime: at(0)}, false},
		{"newer sync within a minute", arkv1.BackupStorageLocationStatus{Phase: avail, LastSyncedTime: at(0)}, arkv1.BackupStorageLocationStatus{Phase: avail, LastSyncedTime: at(30 * time.Second)}, false},
		{"newer sync after a minute", arkv1.BackupStorageLocationStatus{Phase: avail, LastSyncedTime: at(0)}, arkv1.BackupStorageLocationStatus{Phase: avail, LastSyncedTime: at(time.Minute)}, true},
		{"first sync", arkv1.BackupStorageLocationStatus{Phase: avail}, arkv1.BackupStorageLocationStatus{Phase: avail, LastSyncedTime: at(0)}, true},
		{"count changed", arkv1.BackupStorageLocationStatus{Phase: avail, LastSyncedTime: at(0)}, arkv1.BackupStorageLocationStatus{Phase: avail, BackupCount: 1, LastSyncedTime: at(1)}, true},
		{"empty", arkv1.BackupStorageLocationStatus{}, arkv1.BackupStorageLocationStatus{Phase: avail}, true},
	}
	for _, tt := range tests {
		if got := c.stale(tt.have, tt.want); got != tt.stale {
			t.Errorf("%s: stale = %v, want %v", tt.name, got, tt.stale)
		}
	}
}
