package integration

import (
	"context"
	"strconv"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
	"github.com/arkproject/ark/pkg/generated/informers/externalversions"
)

func expectEvent(t *testing.T, w watch.Interface, typ watch.EventType, name string) *arkv1.Backup {
	t.Helper()
	for {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				t.Fatalf("watch closed while waiting for %s %s", typ, name)
			}
			if ev.Type == watch.Bookmark {
				continue
			}
			b, ok := ev.Object.(*arkv1.Backup)
			if !ok {
				t.Fatalf("event %s carries %T: %+v", ev.Type, ev.Object, ev.Object)
			}
			if ev.Type != typ || b.Name != name {
				t.Fatalf("got %s %s, want %s %s", ev.Type, b.Name, typ, name)
			}
			return b
		case <-time.After(20 * time.Second):
			t.Fatalf("no %s event for %s", typ, name)
		}
	}
}

func TestBackupWatch(t *testing.T) {
	bucketKinds(t, func(t *testing.T, ts *testServer) {
		ctx := context.Background()
		backups := ts.Client.ArkV1().Backups(home)
		if _, err := backups.Create(ctx, newBackup("a"), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		list, err := backups.List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		// Watch from the list's resourceVersion: only later changes.
		w, err := backups.Watch(ctx, metav1.ListOptions{ResourceVersion: list.ResourceVersion})
		if err != nil {
			t.Fatal(err)
		}
		defer w.Stop()
		b, err := backups.Create(ctx, newBackup("b"), metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		expectEvent(t, w, watch.Added, "b")
		if _, err := backups.Patch(ctx, "b", types.MergePatchType, []byte(`{"metadata":{"labels":{"x":"1"}}}`), metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
		mod := expectEvent(t, w, watch.Modified, "b")
		if mod.Labels["x"] != "1" {
			t.Errorf("modified event carries %v", mod.Labels)
		}
		if err := backups.Delete(ctx, "b", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		if del := expectEvent(t, w, watch.Modified, "b"); del.Status.Phase != arkv1.BackupPhaseDeleting {
			t.Errorf("delete shows as phase %s", del.Status.Phase)
		}

		// Resuming from an object's resourceVersion replays what followed it.
		w2, err := backups.Watch(ctx, metav1.ListOptions{ResourceVersion: b.ResourceVersion})
		if err != nil {
			t.Fatal(err)
		}
		defer w2.Stop()
		expectEvent(t, w2, watch.Modified, "b")

		// A label selector turns transitions into ADDED/DELETED for the watcher.
		w3, err := backups.Watch(ctx, metav1.ListOptions{LabelSelector: "stage=prod", ResourceVersion: "0"})
		if err != nil {
			t.Fatal(err)
		}
		defer w3.Stop()
		if _, err := backups.Patch(ctx, "a", types.MergePatchType, []byte(`{"metadata":{"labels":{"stage":"prod"}}}`), metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
		expectEvent(t, w3, watch.Added, "a")
		if _, err := backups.Patch(ctx, "a", types.MergePatchType, []byte(`{"metadata":{"labels":{"stage":"dev"}}}`), metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
		expectEvent(t, w3, watch.Deleted, "a")

		// A resourceVersion outside the server's window (here: one it never
		// handed out) is 410 Gone, so the client lists again.
		later, err := strconv.ParseUint(list.ResourceVersion, 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		_, err = backups.Watch(ctx, metav1.ListOptions{ResourceVersion: strconv.FormatUint(later+1e12, 10)})
		if !apierrors.IsResourceExpired(err) && !apierrors.IsGone(err) {
			t.Errorf("watch from an unknown resourceVersion: got %v, want 410", err)
		}
	})
}

// The streaming list (sendInitialEvents) gives the state then a bookmark
// marking its end; client-go informers use it and must sync and follow.
func TestBackupInformer(t *testing.T) {
	ts := startServer(t, serverOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	backups := ts.Client.ArkV1().Backups(home)
	for _, n := range []string{"one", "two"} {
		if _, err := backups.Create(ctx, newBackup(n), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}

	w, err := backups.Watch(ctx, metav1.ListOptions{SendInitialEvents: ptr(true), AllowWatchBookmarks: true,
		ResourceVersionMatch: metav1.ResourceVersionMatchNotOlderThan})
	if err != nil {
		t.Fatal(err)
	}
	expectEvent(t, w, watch.Added, "one")
	expectEvent(t, w, watch.Added, "two")
	select {
	case ev := <-w.ResultChan():
		b, _ := ev.Object.(*arkv1.Backup)
		if ev.Type != watch.Bookmark || b == nil || b.Annotations[metav1.InitialEventsAnnotationKey] != "true" || b.ResourceVersion == "" {
			t.Errorf("after the initial events: %s %+v", ev.Type, ev.Object)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no initial-events-end bookmark")
	}
	w.Stop()

	factory := externalversions.NewSharedInformerFactoryWithOptions(ts.Client, 0, externalversions.WithNamespace(home))
	informer := factory.Ark().V1().Backups()
	added := make(chan string, 10)
	informer.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{AddFunc: func(obj interface{}) { added <- obj.(*arkv1.Backup).Name }})
	factory.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), informer.Informer().HasSynced) {
		t.Fatal("informer did not sync")
	}
	if n := len(informer.Informer().GetStore().List()); n != 2 {
		t.Errorf("informer cache holds %d backups, want 2", n)
	}
	if _, err := backups.Create(ctx, newBackup("three"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(20 * time.Second)
	for {
		select {
		case n := <-added:
			if n == "three" {
				return
			}
		case <-deadline:
			t.Fatal("informer did not see a new backup")
		}
	}
}
