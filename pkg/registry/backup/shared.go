package backup

import (
	"strconv"
	"unsafe"

	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"

	"github.com/arkproject/ark/pkg/apis/ark"
	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
)

// Shared lists and watches every visible backup for the controllers that
// run in this process, handing them the index's own objects rather than
// copies sent through the API: an informer fed from it holds a pointer per
// backup, where one fed through the loopback client would hold a second
// decoded copy of every record (about 1 KiB each, as much as the index).
//
// The objects are shared, so they are read-only, as every informer's
// objects already are to the controllers (they deep-copy before changing
// one); the index never changes an object it has published either, it
// replaces it. What the controllers see is what they would through the
// API as the server's own identity: the backups of visible namespaces, of
// every lifetime.
func (r *REST) Shared() cache.ListerWatcher { return sharedSource{r} }

type sharedSource struct{ r *REST }

var _ cache.ListerWatcher = sharedSource{}

// List returns the whole index in one page; the reflector asks for pages
// of 500, which would only cost it more calls on an in-memory list.
func (s sharedSource) List(metav1.ListOptions) (runtime.Object, error) {
	items, rev, _, _, err := s.r.ix.scan(nil, "", "", "", 0, s.visible)
	if err != nil {
		return nil, s.r.toAPIError("", err)
	}
	list := &metainternalversion.List{
		ListMeta: metav1.ListMeta{ResourceVersion: strconv.FormatUint(rev, 10)},
		Items:    make([]runtime.Object, len(items)),
	}
	for i, b := range items {
		list.Items[i] = sharedV1(b)
	}
	return list, nil
}

// Watch follows the index from a list's resourceVersion, with bookmarks.
func (s sharedSource) Watch(opts metav1.ListOptions) (watch.Interface, error) {
	w, _, err := s.r.ix.watch(watchOptions{
		resourceVersion: opts.ResourceVersion,
		bookmarks:       opts.AllowWatchBookmarks,
		filter:          s.visible,
		out:             func(b *ark.Backup) runtime.Object { return sharedV1(b) },
	})
	if err != nil {
		return nil, s.r.toAPIError("", err)
	}
	return w, nil
}

// IsWatchListSemanticsUnSupported keeps the reflector to list-then-watch:
// a streaming list would only replay the same pointers as events.
func (sharedSource) IsWatchListSemanticsUnSupported() bool { return true }

func (s sharedSource) visible(b *ark.Backup) bool { return s.r.visible(b.Namespace) }

// sharedV1 views an index object as the v1 Backup the controllers use,
// without copying it. conversion-gen found the two types identical in
// memory: it converts a BackupList's items by the same cast
// (Convert_ark_BackupList_To_v1_BackupList), and TestSharedIsTheIndexObject
// fails should the types ever diverge.
func sharedV1(b *ark.Backup) *arkv1.Backup {
	return (*arkv1.Backup)(unsafe.Pointer(b))
}
