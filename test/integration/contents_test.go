package integration

import (
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
	"github.com/arkproject/ark/pkg/backupstore"
	"github.com/arkproject/ark/pkg/backupstore/backupstoretest"
	"github.com/arkproject/ark/pkg/snapshot"
)

// backups/contents serves a finished backup's resource list and snapshot
// records as ark.heptio.com/v1 BackupContents, through the clientset and
// as raw JSON; discovery and OpenAPI know it; an unfinished or tampered
// backup gets a clear error.
func TestBackupContents(t *testing.T) {
	bucketKinds(t, func(t *testing.T, ts *testServer) {
		ctx := context.Background()
		ref := backupstore.Home("from-elsewhere")
		writeBehindBack(t, ts.Store, ref.Name, foreignBackup)
		list := map[string][]string{"namespaces": {"shop"}, "configmaps": {"shop/b", "shop/a"}}
		backupstoretest.PutFiles(t, ts.Store, ref, map[string][]byte{
			ref.ResourceListKey(): backupstoretest.GzipJSON(t, list),
			ref.VolumeSnapshotsKey(): backupstoretest.GzipJSON(t, []snapshot.Record{
				{PersistentVolume: "pv-1", Snapshotter: "hostpath", VolumeID: "/data", SnapshotID: "backups/from-elsewhere/volumes/pv-1.tar.gz", Size: 10, Phase: "Completed"},
			}),
		})

		got, err := ts.Client.ArkV1().Backups(home).Contents(ctx, ref.Name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		want := []arkv1.BackupResourceItems{{Resource: "configmaps", Items: []string{"shop/a", "shop/b"}}, {Resource: "namespaces", Items: []string{"shop"}}}
		if got.Name != ref.Name || got.Namespace != home || !reflect.DeepEqual(got.Resources, want) || len(got.VolumeSnapshots) != 1 || got.VolumeSnapshots[0].SnapshotID != "backups/from-elsewhere/volumes/pv-1.tar.gz" {
			t.Errorf("contents: %+v", got)
		}

		// The wire format, as kubectl get --raw shows it.
		code, body := ts.rawGet(ctx, "/apis/ark.heptio.com/v1/namespaces/"+home+"/backups/from-elsewhere/contents")
		if code != http.StatusOK {
			t.Fatalf("raw get: %d %s", code, body)
		}
		var raw map[string]any
		if err := json.Unmarshal(body, &raw); err != nil {
			t.Fatal(err)
		}
		if raw["kind"] != "BackupContents" || raw["apiVersion"] != "ark.heptio.com/v1" {
			t.Errorf("raw contents are %v %v", raw["apiVersion"], raw["kind"])
		}
		for _, field := range []string{`"resource":"configmaps"`, `"items":["shop/a","shop/b"]`, `"persistentVolume":"pv-1"`, `"snapshotter":"hostpath"`, `"snapshotID":"backups/from-elsewhere/volumes/pv-1.tar.gz"`, `"size":10`, `"phase":"Completed"`} {
			if !strings.Contains(string(body), field) {
				t.Errorf("raw contents lack %s:\n%s", field, body)
			}
		}

		// Discovery lists the subresource with its kind; OpenAPI describes it.
		code, body = ts.rawGet(ctx, "/apis/ark.heptio.com/v1")
		var resources metav1.APIResourceList
		if err := json.Unmarshal(body, &resources); code != http.StatusOK || err != nil {
			t.Fatalf("discovery: %d %v", code, err)
		}
		found := false
		for _, r := range resources.APIResources {
			if r.Name == "backups/contents" {
				found = r.Kind == "BackupContents" && reflect.DeepEqual([]string(r.Verbs), []string{"get"})
			}
		}
		if !found {
			t.Errorf("discovery does not list backups/contents (kind BackupContents, get): %+v", resources.APIResources)
		}
		if code, body := ts.rawGet(ctx, "/openapi/v3/apis/ark.heptio.com/v1"); code != http.StatusOK || !strings.Contains(string(body), "com.heptio.ark.v1.BackupContents") {
			t.Errorf("OpenAPI v3: %d, mentions BackupContents: %v", code, strings.Contains(string(body), "com.heptio.ark.v1.BackupContents"))
		}

		// A backup still running has no contents yet.
		if _, err := ts.Client.ArkV1().Backups(home).Create(ctx, newBackup("running"), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		_, err = ts.Client.ArkV1().Backups(home).Contents(ctx, "running", metav1.GetOptions{})
		if !apierrors.IsConflict(err) || !strings.Contains(err.Error(), `backup "running" is New: its contents are known once it completes`) {
			t.Errorf("contents of a new backup: %v, want 409", err)
		}

		// A tampered resource list is a 500 that names the file.
		backupstoretest.Put(t, ts.Store, ref.ResourceListKey(), backupstoretest.GzipJSON(t, map[string][]string{"secrets": {"shop/x"}}))
		_, err = ts.Client.ArkV1().Backups(home).Contents(ctx, ref.Name, metav1.GetOptions{})
		if !apierrors.IsInternalError(err) || !strings.Contains(err.Error(), "from-elsewhere-resource-list.json.gz does not match its manifest") {
			t.Errorf("contents of a tampered backup: %v, want 500 naming the file", err)
		}
	})
}
