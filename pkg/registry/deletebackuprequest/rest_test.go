package deletebackuprequest

import (
	"context"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/authentication/user"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/arkproject/ark/pkg/apis/ark"
)

type deleted struct {
	namespace, name string
	options         *metav1.DeleteOptions
}

func testREST(may bool, err error) (*REST, *[]deleted) {
	var calls []deleted
	return NewREST(func(ctx context.Context, namespace, name string) bool { return may },
		func(ctx context.Context, name string, options *metav1.DeleteOptions) (runtime.Object, bool, error) {
			ns, _ := genericapirequest.NamespaceFrom(ctx)
			calls = append(calls, deleted{ns, name, options})
			return &ark.Backup{}, false, err
		}), &calls
}

func ctxIn(ns string) context.Context {
	return genericapirequest.WithNamespace(genericapirequest.WithUser(context.Background(), &user.DefaultInfo{Name: "jane"}), ns)
}

// What Heptio Ark's `ark backup delete nightly` sends: generateName, the
// name and UID labels, spec.backupName. The backup is deleted with its
// UID as a precondition, and the answer is Processed.
func TestCreateDeletesTheBackup(t *testing.T) {
	r, calls := testREST(true, nil)
	req := &ark.DeleteBackupRequest{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "nightly-", Labels: map[string]string{"ark.heptio.com/backup-name": "nightly", "ark.heptio.com/backup-uid": "0b4f"}},
		Spec:       ark.DeleteBackupRequestSpec{BackupName: "nightly"},
	}
	admitted := 0
	obj, err := r.Create(ctxIn("heptio-ark"), req, func(context.Context, runtime.Object) error { admitted++; return nil }, &metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
	if err != nil {
		t.Fatal(err)
	}
	got := obj.(*ark.DeleteBackupRequest)
	if got.Status.Phase != ark.DeleteBackupRequestPhaseProcessed || len(got.Name) <= len("nightly-") {
		t.Errorf("answer %+v", got)
	}
	if admitted != 1 || len(*calls) != 1 {
		t.Fatalf("admission ran %d times, delete %d times; want 1 and 1", admitted, len(*calls))
	}
	c := (*calls)[0]
	if c.namespace != "heptio-ark" || c.name != "nightly" || c.options.Preconditions == nil || *c.options.Preconditions.UID != "0b4f" {
		t.Errorf("deleted %+v", c)
	}
	if len(c.options.DryRun) != 1 {
		t.Errorf("a dry run was not passed on: %+v", c.options)
	}
}

func TestCreateRefuses(t *testing.T) {
	good := func() *ark.DeleteBackupRequest {
		return &ark.DeleteBackupRequest{Spec: ark.DeleteBackupRequestSpec{BackupName: "nightly"}}
	}
	notFound := apierrors.NewNotFound(ark.Resource("backups"), "nightly")
	for _, tc := range []struct {
		name    string
		may     bool
		delErr  error
		req     *ark.DeleteBackupRequest
		check   func(error) bool
		deletes int
	}{
		{"no right to delete the backup", false, nil, good(), apierrors.IsForbidden, 0},
		{"no such backup", true, notFound, good(), apierrors.IsNotFound, 1},
		{"no backup named", true, nil, &ark.DeleteBackupRequest{}, apierrors.IsInvalid, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, calls := testREST(tc.may, tc.delErr)
			_, err := r.Create(ctxIn("team-a"), tc.req, nil, &metav1.CreateOptions{})
			if !tc.check(err) {
				t.Errorf("error %v", err)
			}
			if len(*calls) != tc.deletes {
				t.Errorf("%d deletes, want %d", len(*calls), tc.deletes)
			}
		})
	}
}

// Nothing is stored: a list is empty, and there is no get, watch, update
// or delete for anyone to use.
func TestNothingIsKept(t *testing.T) {
	var s rest.Storage = NewREST(nil, nil)
	obj, err := s.(rest.Lister).List(ctxIn("team-a"), nil)
	if err != nil || len(obj.(*ark.DeleteBackupRequestList).Items) != 0 {
		t.Errorf("list %v, %v", obj, err)
	}
	for verb, ok := range map[string]bool{
		"get": implements[rest.Getter](s), "watch": implements[rest.Watcher](s),
		"update": implements[rest.Updater](s), "delete": implements[rest.GracefulDeleter](s),
	} {
		if ok {
			t.Errorf("deletebackuprequests serve %s", verb)
		}
	}
}

func implements[T any](s rest.Storage) bool { _, ok := s.(T); return ok }
