package backup

import (
	"context"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/storage"
	"k8s.io/apiserver/pkg/warning"

	"github.com/arkproject/ark/pkg/apis/ark"
)

// predicate builds the selection of a list or watch; nil selectors select everything.
func predicate(options *metainternalversion.ListOptions) storage.SelectionPredicate {
	label, field := labels.Everything(), fields.Everything()
	if options != nil {
		if options.LabelSelector != nil {
			label = options.LabelSelector
		}
		if options.FieldSelector != nil {
			field = options.FieldSelector
		}
	}
	return Match(label, field)
}

// filter selects the backups of the request's namespace that are visible and
// match; which lifetimes of a namespace the user sees is List's and Watch's
// to add.
func (r *REST) filter(ctx context.Context, options *metainternalversion.ListOptions) func(*ark.Backup) bool {
	ns, _ := genericapirequest.NamespaceFrom(ctx)
	pred := predicate(options)
	return func(b *ark.Backup) bool {
		if ns != "" && b.Namespace != ns {
			return false
		}
		if !r.visible(b.Namespace) {
			return false
		}
		ok, err := pred.Matches(b)
		return err == nil && ok
	}
}

// pickLocations returns which locations a list or watch is about: the one
// its field selector names in spec.storageLocation, or all (nil).
func pickLocations(options *metainternalversion.ListOptions) func(string) bool {
	if options == nil || options.FieldSelector == nil {
		return nil
	}
	if name, ok := options.FieldSelector.RequiresExactMatch("spec.storageLocation"); ok {
		return func(loc string) bool { return loc == name }
	}
	return nil
}

// warnIncomplete tells the client (kubectl prints it) which locations a
// list or watch is missing because their buckets do not answer.
func warnIncomplete(ctx context.Context, down []error) {
	for _, err := range down {
		warning.AddWarning(ctx, "", fmt.Sprintf("the backups of a location are missing from this answer: %v", err))
	}
}

// List serves backups from the index: no per-backup read. When no selected
// location answers it is a 503 rather than an empty list; when only some
// do, it is their backups with a Warning naming each location that does
// not, so that a partial list never looks complete, while one broken
// location (a mounted bucket of another cluster, say) does not take every
// other location's backups away from users and controllers.
func (r *REST) List(ctx context.Context, options *metainternalversion.ListOptions) (runtime.Object, error) {
	var afterNS, afterName string
	limit := 0
	if options != nil {
		if options.Continue != "" {
			after, err := decodeContinue(options.Continue)
			if err != nil {
				return nil, apierrors.NewBadRequest(err.Error())
			}
			afterNS, afterName, _ = strings.Cut(after, "\x00")
		}
		if options.Limit > 0 {
			limit = int(options.Limit)
		}
	}
	ns, _ := genericapirequest.NamespaceFrom(ctx)
	pick, selected := pickLocations(options), r.filter(ctx, options)
	// The namespace's lifetimes are checked outside the index's lock,
	// asking the authorizer only if a backup of an earlier lifetime of its
	// namespace is among them; what it hides is made up from further on.
	sees := r.lifetimeView(ctx, false)
	var (
		items []*ark.Backup
		rev   uint64
		rest  int
		more  bool
	)
	for first := true; ; first = false {
		want := 0
		if limit > 0 {
			want = limit - len(items) + 1 // one more: is there a next page?
		}
		batch, brev, down, brest, err := r.ix.scan(pick, ns, afterNS, afterName, want, selected)
		if err != nil {
			return nil, r.toAPIError("", err)
		}
		if first {
			rev = brev
			warnIncomplete(ctx, down)
		}
		rest = brest
		for _, b := range batch {
			if sees(b) {
				items = append(items, b)
			}
		}
		if want == 0 || len(batch) < want {
			break // the end
		}
		if len(items) > limit {
			more = true
			break
		}
		last := batch[len(batch)-1]
		afterNS, afterName = last.Namespace, last.Name
	}
	list := &ark.BackupList{ListMeta: metav1.ListMeta{ResourceVersion: strconv.FormatUint(rev, 10)}}
	if more {
		// The one read ahead is left for the next page.
		rest++
		items = items[:limit]
		list.Continue = encodeContinue(itemKey(items[limit-1]))
		// As kube-apiserver's, only without selectors: counting what
		// selectors match would cost a look at every backup left.
		if (options.LabelSelector == nil || options.LabelSelector.Empty()) && (options.FieldSelector == nil || options.FieldSelector.Empty()) {
			remaining := int64(rest)
			list.RemainingItemCount = &remaining
		}
	}
	list.Items = make([]ark.Backup, 0, len(items))
	for _, b := range items {
		list.Items = append(list.Items, *b.DeepCopy())
	}
	return list, nil
}

// itemKey orders backups as the index sorts them, by namespace then name:
// NUL sorts before every character a name may hold.
func itemKey(b *ark.Backup) string { return b.Namespace + "\x00" + b.Name }

func encodeContinue(key string) string {
	return base64.RawURLEncoding.EncodeToString([]byte("v2:" + key))
}

func decodeContinue(token string) (string, error) {
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || !strings.HasPrefix(string(raw), "v2:") {
		return "", fmt.Errorf("invalid continue token %q", token)
	}
	return strings.TrimPrefix(string(raw), "v2:"), nil
}

// Watch streams changes from the index: initial events, resumption within
// the event window, bookmarks, and selector-aware ADDED/DELETED transitions.
func (r *REST) Watch(ctx context.Context, options *metainternalversion.ListOptions) (watch.Interface, error) {
	selected, sameLifetime := r.filter(ctx, options), r.lifetimeView(ctx, true)
	opts := watchOptions{filter: func(b *ark.Backup) bool { return selected(b) && sameLifetime(b) }}
	if options != nil {
		opts.resourceVersion = options.ResourceVersion
		opts.sendInitialEvents = options.SendInitialEvents != nil && *options.SendInitialEvents
		opts.bookmarks = options.AllowWatchBookmarks
	}
	opts.pick = pickLocations(options)
	w, down, err := r.ix.watch(opts)
	if err != nil {
		return nil, r.toAPIError("", err)
	}
	warnIncomplete(ctx, down)
	return w, nil
}

// encode serializes a backup for the bucket. The resourceVersion is not
