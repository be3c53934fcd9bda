package storagelocation

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
	"github.com/arkproject/ark/pkg/backupstore"
	"github.com/arkproject/ark/pkg/backupstore/encryption"
	"github.com/arkproject/ark/pkg/generated/clientset/versioned/fake"
	"github.com/arkproject/ark/pkg/locations"
	"github.com/arkproject/ark/pkg/objectstore"
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
		// The old query names are normalized to Heptio Ark's.
		{"s3://backups/a/b?region=eu-west-1&forcePathStyle=true&endpoint=https://minio.example:9000", arkv1.BackupStorageLocationSpec{
			Provider: "aws", ObjectStorage: arkv1.ObjectStorageLocation{Bucket: "backups", Prefix: "a/b"},
			Config: map[string]string{"region": "eu-west-1", "s3ForcePathStyle": "true", "s3Url": "https://minio.example:9000"}, AccessMode: rw, Default: true,
		}},
		{"azure://backups/cluster-1?account=ark&endpoint=http://127.0.0.1:10000/ark", arkv1.BackupStorageLocationSpec{
			Provider: "azure", ObjectStorage: arkv1.ObjectStorageLocation{Bucket: "backups", Prefix: "cluster-1"},
			Config: map[string]string{"storageAccount": "ark", "storageAccountURI": "http://127.0.0.1:10000/ark"}, AccessMode: rw, Default: true,
		}},
	}
	for _, tt := range tests {
		got, err := SpecFor(tt.url)
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("SpecFor(%q) = %+v, %v; want %+v", tt.url, got, err, tt.want)
		}
	}
	for _, bad := range []string{"ftp://x", "azure://", "s3://backups?regoin=eu-west-1", "gs://backups?x=y", "azure://c?sig=abc"} {
		if _, err := SpecFor(bad); err == nil {
			t.Errorf("SpecFor(%s) succeeded", bad)
		}
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
		Observe: func(string) Observation { return *obs }, Interval: time.Second,
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
	c, client := newController(obs)
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

// Every location object is served: opened with the credential its Secret
// holds, served as unavailable (with the reason) while it cannot be opened,
// opened again when the Secret changes, kept ReadOnly as its object says,
// and no longer served once its object is gone.
func TestSyncServesEveryLocation(t *testing.T) {
	primary, err := objectstore.NewFileStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ro := &arkv1.BackupStorageLocation{ObjectMeta: metav1.ObjectMeta{Name: "mounted", Namespace: home}, Spec: arkv1.BackupStorageLocationSpec{
		Provider: "file", ObjectStorage: arkv1.ObjectStorageLocation{Bucket: t.TempDir()},
		AccessMode: arkv1.BackupStorageLocationAccessModeReadOnly,
	}}
	s3 := &arkv1.BackupStorageLocation{ObjectMeta: metav1.ObjectMeta{Name: "s3", Namespace: home}, Spec: arkv1.BackupStorageLocationSpec{
		Provider: "aws", ObjectStorage: arkv1.ObjectStorageLocation{Bucket: "b"},
		Credential: &arkv1.SecretKeyReference{Name: "s3-creds", Key: "cloud"},
		AccessMode: arkv1.BackupStorageLocationAccessModeReadWrite, Default: true,
	}}
	c, client := newController(&Observation{LastSynced: time.Now()}, ro, s3)
	c.Store = primary
	c.Locations = locations.NewSet()
	secret := map[string]string{}
	c.Secret = func(_ context.Context, name, key string) ([]byte, error) {
		v, ok := secret[name+"/"+key]
		if !ok {
			return nil, fmt.Errorf("secrets %q not found", name)
		}
		return []byte(v), nil
	}
	var opened []string
	c.Open = func(_ context.Context, spec arkv1.BackupStorageLocationSpec, credential []byte) (objectstore.Store, error) {
		opened = append(opened, spec.Provider+":"+string(credential))
		if spec.Provider == "aws" && string(credential) != "good" {
			return nil, errors.New("InvalidAccessKeyId")
		}
		return objectstore.NewFileStore(t.TempDir())
	}
	c.Observe = func(name string) Observation {
		l, err := c.Locations.Get(name)
		if err == nil && l.Err != nil {
			return Observation{Err: l.Err}
		}
		return Observation{LastSynced: time.Now(), Backups: 1}
	}
	ctx := context.Background()
	sync := func() {
		t.Helper()
		if err := c.Sync(ctx); err != nil {
			t.Fatal(err)
		}
	}

	sync()
	if got := c.Locations.Names(); !reflect.DeepEqual(got, []string{"default", "mounted", "s3"}) {
		t.Fatalf("served %v", got)
	}
	if l, _ := c.Locations.Get("mounted"); !l.ReadOnly || l.Store == nil {
		t.Errorf("mounted = %+v", l)
	}
	l, _ := c.Locations.Get("s3")
	if l.Err == nil || !strings.Contains(l.Err.Error(), `s3-creds key "cloud"`) {
		t.Errorf("s3 without its Secret: %v", l.Err)
	}
	if st := get(t, client, "s3").Status; st.Phase != arkv1.BackupStorageLocationPhaseUnavailable || !strings.Contains(st.Message, "s3-creds") {
		t.Errorf("s3 status without its Secret = %+v", st)
	}
	if d, _ := c.Locations.Default(); d.Name != "s3" {
		t.Errorf("default = %s, want s3 (marked default)", d.Name)
	}

	secret["s3-creds/cloud"] = "bad"
	sync()
	if l, _ := c.Locations.Get("s3"); l.Err == nil || !strings.Contains(l.Err.Error(), "InvalidAccessKeyId") {
		t.Errorf("s3 with a wrong key: %v", l.Err)
	}
	n := len(opened)
	sync()
	if len(opened) != n+1 {
		t.Errorf("a location that failed to open was not tried again: %v", opened[n:])
	}
	secret["s3-creds/cloud"] = "good"
	sync()
	if l, _ := c.Locations.Get("s3"); l.Err != nil || l.Store == nil {
		t.Errorf("s3 after the Secret was fixed: %+v", l)
	}
	n = len(opened)
	sync()
	if len(opened) != n {
		t.Errorf("an unchanged location that works was opened again: %v", opened[n:])
	}
	if st := get(t, client, "s3").Status; st.Phase != arkv1.BackupStorageLocationPhaseAvailable {
		t.Errorf("s3 status after the Secret was fixed = %+v", st)
	}

	if err := client.ArkV1().BackupStorageLocations(home).Delete(ctx, "mounted", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	sync()
	if got := c.Locations.Names(); !reflect.DeepEqual(got, []string{"default", "s3"}) {
		t.Errorf("served after deleting mounted: %v", got)
	}
	if l, _ := c.Locations.Get("default"); !l.Primary || l.Store != primary {
		t.Errorf("primary = %+v", l)
	}
}

// Rotation, as the controller runs it: the served location's key Secret
// gains an active k2; the controller re-wraps the backup under k1 (only
// its key file), records k2 in it, leaves another cluster's backup alone,
// and reports the keys and counts in the location's status; a key Secret
// that cannot be read makes the location unavailable, never plaintext.
func TestSyncRewrapsUnderTheActiveKey(t *testing.T) {
	ctx := context.Background()
	store, err := objectstore.NewFileStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	secret := map[string][]byte{encryption.ActiveField: []byte("k1"), "k1": encryption.NewKey()}
	k1, err := encryption.ParseSecret(secret)
	if err != nil {
		t.Fatal(err)
	}
	backups := map[string]*arkv1.Backup{}
	for _, name := range []string{"mine", "theirs"} {
		ref := backupstore.Layout{HomeNamespace: home, Keys: k1}.Backup(home, name)
		if _, err := ref.StartEncryption(ctx, store); err != nil {
			t.Fatal(err)
		}
		backups[name] = &arkv1.Backup{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: home},
			Spec:       arkv1.BackupSpec{StorageLocation: "default"},
			Status:     arkv1.BackupStatus{Phase: arkv1.BackupPhaseCompleted, EncryptionKeyID: "k1"},
		}
	}
	obs := &Observation{Backups: 2, ByKey: map[string]int{"k1": 2}}
	c, client := newController(obs, &arkv1.BackupStorageLocation{
		ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: home},
		Spec: arkv1.BackupStorageLocationSpec{Provider: "file", ObjectStorage: arkv1.ObjectStorageLocation{Bucket: "/bucket"},
			AccessMode: arkv1.BackupStorageLocationAccessModeReadWrite, Encryption: &arkv1.BackupStorageLocationEncryption{KeySecret: "keys"}},
	})
	for _, b := range backups {
		_ = client.Tracker().Add(b)
	}
	c.Store, c.Locations = store, locations.NewSet()
	var secretErr error
	c.KeySecret = func(_ context.Context, name string) (map[string][]byte, error) {
		if name != "keys" {
			return nil, fmt.Errorf("unexpected Secret %q", name)
		}
		return secret, secretErr
	}
	c.Mine = func(b *arkv1.Backup) bool { return b.Name == "mine" }

	if err := c.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if l, _ := c.Locations.Get("default"); l == nil || l.Keys == nil || l.Keys.ActiveID() != "k1" || l.Err != nil {
		t.Fatalf("served location: %+v", l)
	}
	if e := get(t, client, "default").Status.Encryption; e == nil || e.ActiveKeyID != "k1" || e.BackupsByKey["k1"] != 2 {
		t.Fatalf("status before rotation: %+v", e)
	}

	secret["k2"], secret[encryption.ActiveField] = encryption.NewKey(), []byte("k2")
	if err := c.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	keyOf := func(name string) string {
		id, err := backupstore.Layout{HomeNamespace: home}.Backup(home, name).KeyID(ctx, store)
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	if got := keyOf("mine"); got != "k2" {
		t.Errorf("this cluster's backup's key file names %q after rotation, want k2", got)
	}
	if got := keyOf("theirs"); got != "k1" {
		t.Errorf("another cluster's backup was re-wrapped: its key file names %q", got)
	}
	for name, want := range map[string]string{"mine": "k2", "theirs": "k1"} {
		b, err := client.ArkV1().Backups(home).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if b.Status.EncryptionKeyID != want {
			t.Errorf("backup %s records key %q, want %q", name, b.Status.EncryptionKeyID, want)
		}
	}

	// k1 removed while "theirs" still names it: counted, and said.
	delete(secret, "k1")
	obs.ByKey = map[string]int{"k1": 1, "k2": 1}
	if err := c.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	st := get(t, client, "default").Status
	if st.Encryption == nil || st.Encryption.UnreadableBackups != 1 || !strings.Contains(st.Message, "1 backups cannot be restored") || !strings.Contains(st.Message, "(k1)") {
		t.Errorf("status with a key missing: %+v", st)
	}

	secretErr = errors.New("secrets \"keys\" not found")
	if err := c.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if l, _ := c.Locations.Get("default"); l == nil || l.Err == nil || !strings.Contains(l.Err.Error(), "not found") {
		t.Fatalf("a location whose key Secret cannot be read is served: %+v", l)
	}
	if _, err := func() (objectstore.Store, error) { l, _ := c.Locations.Get("default"); return l.Writable() }(); err == nil {
		t.Error("a location whose key Secret cannot be read is writable")
	}
}
