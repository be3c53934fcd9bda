package restore

import (
	"context"
	"errors"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	clienttesting "k8s.io/client-go/testing"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
	"github.com/arkproject/ark/pkg/objectstore"
)

// failingStore fails writes of keys with a prefix, at NewWriter or at Close.
type failingStore struct {
	objectstore.Store
	prefix  string
	atClose bool
}

var errBucket = errors.New("bucket unavailable")

func (s failingStore) NewWriter(ctx context.Context, key string, cond objectstore.Conditions) (objectstore.Writer, error) {
	if !strings.HasPrefix(key, s.prefix) {
		return s.Store.NewWriter(ctx, key, cond)
	}
	if !s.atClose {
		return nil, errBucket
	}
	w, err := s.Store.NewWriter(ctx, key, cond)
	if err != nil {
		return nil, err
	}
	return failingWriter{w}, nil
}

type failingWriter struct{ objectstore.Writer }

func (w failingWriter) Close() error {
	w.Writer.Abort()
	return errBucket
}

func TestRunResultsNotWritable(t *testing.T) {
	f := newFixture(t)
	f.backup(namespaceItem("abc"), configMap("abc", "cm"))
	f.restorer.Store = failingStore{Store: f.store, prefix: "restores/"}
	_, err := f.restorer.Run(context.Background(), newRestore(), testBackup, nil)
	if !errors.Is(err, errBucket) {
		t.Fatalf("Run error = %v, want the bucket's", err)
	}
	// The results could not be recorded, so nothing was restored.
	noWrites(t, f)
	f.checkScratchEmpty()
}

func TestRunResultsNotCommitted(t *testing.T) {
	f := newFixture(t)
	f.backup(namespaceItem("abc"), configMap("abc", "cm"))
	f.restorer.Store = failingStore{Store: f.store, prefix: "restores/", atClose: true}
	_, err := f.restorer.Run(context.Background(), newRestore(), testBackup, nil)
	if !errors.Is(err, errBucket) {
		t.Fatalf("Run error = %v, want the bucket's", err)
	}
	f.checkScratchEmpty()
}

func TestRunNamespaceLookupFails(t *testing.T) {
	f := newFixture(t)
	f.dyn.PrependReactor("get", "namespaces", func(clienttesting.Action) (bool, runtime.Object, error) {
		return true, nil, errors.New("etcd timeout")
	})
	f.backup(configMap("abc", "cm"), secret("xyz", "s"))
	out := f.run(newRestore())
	doc := f.results(testRestore)
	checkSummary(t, doc, out)
	doc.want(t, "configmaps", "abc", "cm", ActionFailed, "namespace abc", "etcd timeout")
	doc.want(t, "secrets", "xyz", "s", ActionFailed, "namespace xyz", "etcd timeout")
	if n := len(f.createCalls()); n != 0 {
		t.Errorf("%d creates, want none: %v", n, f.createdKeys())
	}
}

// Names longer than a label value are cut and suffixed with a hash of the
// whole name, staying a valid and unique label value.
func TestRunLongNamesInLabels(t *testing.T) {
	f := newFixture(t)
	f.backup(namespaceItem("abc"), configMap("abc", "cm"))
	long := strings.Repeat("r", 70)
	f.run(newRestore(func(r *arkv1.Restore) { r.Name = long }))
	got := f.sent("configmaps abc/cm").GetLabels()[arkv1.LabelRestoreName]
	if len(got) > 63 || !strings.HasPrefix(got, long[:52]+"-") || got == labelValue(strings.Repeat("r", 71)) {
		t.Errorf("restore-name label = %q, want the name's first 52 characters and a hash", got)
	}
	if errs := validation.IsValidLabelValue(got); len(errs) != 0 {
		t.Errorf("restore-name label %q is invalid: %v", got, errs)
	}
	if doc := f.results(long); len(doc.Items) != 2 {
		t.Errorf("results under the long name: %v", doc.keys())
	}
}
