package controllers

import (
	"context"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
	"github.com/arkproject/ark/pkg/generated/clientset/versioned/fake"
)

// In process, every controller's backup informer lists and watches what
// it is given (the API's index), not Ark's API through the client, and
// holds the very objects it was given: the server keeps one copy of each
// backup, not two. Without it, the client's backups are what they see.
func TestControllersShareTheGivenBackups(t *testing.T) {
	backup := func(name string) *arkv1.Backup {
		return &arkv1.Backup{ObjectMeta: metav1.ObjectMeta{Namespace: "ark", Name: name, ResourceVersion: "1"}}
	}
	client := fake.NewSimpleClientset(backup("through-the-client"))
	fromIndex := backup("from-the-index")
	shared := listThenWatch{&cache.ListWatch{
		ListWithContextFunc: func(context.Context, metav1.ListOptions) (runtime.Object, error) {
			return &arkv1.BackupList{ListMeta: metav1.ListMeta{ResourceVersion: "1"}, Items: []arkv1.Backup{*fromIndex}}, nil
		},
		WatchFuncWithContext: func(context.Context, metav1.ListOptions) (watch.Interface, error) {
			return watch.NewFake(), nil
		},
	}}
	for _, tc := range []struct {
		name   string
		given  cache.ListerWatcher
		listed string
	}{
		{"given the index", shared, "from-the-index"},
		{"given nothing", nil, "through-the-client"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			factory := informerFactory(client, tc.given)
			// What the backup, schedule and GC controllers each ask for.
			first, second := factory.Ark().V1().Backups(), factory.Ark().V1().Backups()
			if first.Informer().GetIndexer() != second.Informer().GetIndexer() {
				t.Fatal("two controllers got two backup informers")
			}
			factory.Start(ctx.Done())
			if !cache.WaitForCacheSync(ctx.Done(), first.Informer().HasSynced) {
				t.Fatal("the backup informer did not sync")
			}
			got, err := second.Lister().List(labels.Everything())
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 1 || got[0].Name != tc.listed {
				names := []string{}
				for _, b := range got {
					names = append(names, b.Name)
				}
				t.Fatalf("the controllers see %v, want [%s]", names, tc.listed)
			}
		})
	}
}

// listThenWatch keeps the reflector to a list, then a watch, as the API's
// index asks (backup.REST.Shared).
type listThenWatch struct{ *cache.ListWatch }

func (listThenWatch) IsWatchListSemanticsUnSupported() bool { return true }
