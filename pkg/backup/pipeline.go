package backup

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
)

// A backup is a pipeline so that it takes about as long as its LISTs: while
// one page is written into the tarball (whose gzip compresses blocks in
// parallel, see tarball.go), the next is encoded as JSON and the one after
// it is being listed, and the resources that come next are checked and have
// their first page listed. The tarball is still written by one goroutine in
// the order the resources and pages come in, so its content and order do not
// depend on timing, and everything that reads or changes the backup's state
// (filters, hooks, snapshots, progress, the log) happens there too.
//
// Memory is bounded by a fixed number of pages, whatever the cluster's size:
// for the resource being written, one being listed, one being encoded,
// pagesAhead waiting and one being written; for each of at most listAhead
// resources after it, its first page. Only the resource being written lists
// more than one page.
const (
	pagesAhead = 1
	listAhead  = 4
)

// listRequest is one paginated LIST a backup makes.
type listRequest struct {
	res           resource
	ns, selector  string
	groupResource string
}

func newListRequest(res resource, ns, selector string) listRequest {
	return listRequest{res: res, ns: ns, selector: selector, groupResource: res.GroupResource()}
}

type listKey struct{ gr, ns, selector string }

func (l listRequest) key() listKey { return listKey{l.groupResource, l.ns, l.selector} }

// listing is one LIST running ahead of the tarball's writer: the
// requester's access check, then its pages, listed and encoded.
type listing struct {
	// checked is closed once allowed, reason and accessErr are set.
	checked   chan struct{}
	allowed   bool
	reason    string
	accessErr error
	// promoted is closed when the writer reaches this listing: until then
	// only its first page is listed, so that waiting listings hold little.
	promoted chan struct{}
	// pages is closed after the last page, a page with an error, or when
	// the backup is cancelled.
	pages chan listedPage
}

// listedPage is one LIST response with its items encoded.
type listedPage struct {
	// items are the page's objects; from a RawLister, only those of
	// decodesFully carry more than their name and namespace.
	items []unstructured.Unstructured
	// raw are the items' JSON from a RawLister, until they are encoded.
	raw       []json.RawMessage
	remaining *int64
	// apiVersion and kind are a raw page's, which its items lack.
	apiVersion, kind string
	// encoded are the items' JSON, by index.
	encoded []encodedItem
	// err is the LIST's failure; no page follows it.
	err error
	// last is set on the page without a continue token.
	last bool
}

// encodedItem is an item as the tarball stores it, or why it cannot be.
type encodedItem struct {
	data []byte
	err  error
}

// lister starts the backup's LISTs ahead of the writer, in the order the
// writer will want them (its plan), at most listAhead at a time.
type lister struct {
	run *run
	ctx context.Context
	wg  sync.WaitGroup

	plan  []listRequest
	next  int
	ahead map[listKey]*listing
	taken map[listKey]bool
}

// newLister returns a lister whose goroutines stop when ctx is done; wait
// for them with wg after cancelling it.
func newLister(ctx context.Context, r *run, plan []listRequest) *lister {
	return &lister{run: r, ctx: ctx, plan: plan, ahead: map[listKey]*listing{}, taken: map[listKey]bool{}}
}

// take returns the listing of req, started ahead or now.
func (p *lister) take(req listRequest) *listing {
	k := req.key()
	p.taken[k] = true
	if l, ok := p.ahead[k]; ok {
		delete(p.ahead, k)
		return l
	}
	return p.start(req)
}

// fill starts planned listings until listAhead wait for the writer.
func (p *lister) fill() {
	for p.next < len(p.plan) && len(p.ahead) < listAhead {
		req := p.plan[p.next]
		p.next++
		if k := req.key(); !p.taken[k] && p.ahead[k] == nil {
			p.ahead[k] = p.start(req)
		}
	}
}

// start runs one listing: a goroutine lists pages, another encodes them.
func (p *lister) start(req listRequest) *listing {
	l := &listing{checked: make(chan struct{}), promoted: make(chan struct{}), pages: make(chan listedPage, pagesAhead)}
	listed := make(chan listedPage)
	p.wg.Add(2)
	go func() {
		defer p.wg.Done()
		defer close(listed)
		p.list(req, l, listed)
	}()
	go func() {
		defer p.wg.Done()
		defer close(l.pages)
		for page := range listed {
			if page.raw != nil {
				page.items, page.encoded = rawItems(req.res, page.raw, page.apiVersion, page.kind)
				page.raw = nil
			} else if page.items != nil {
				page.encoded = encodeItems(req.res, page.items)
			}
			select {
			case l.pages <- page:
			case <-p.ctx.Done():
				return
			}
		}
	}()
	return l
}

// list checks the requester's access, then lists req's pages into out: the
// first at once, the others once the writer has reached the listing.
func (p *lister) list(req listRequest, l *listing, out chan<- listedPage) {
	r := p.run
	l.allowed, l.reason, l.accessErr = r.Access.CanList(p.ctx, r.backup.Spec.Requester, req.res.gvr.GroupResource(), req.ns)
	close(l.checked)
	if l.accessErr != nil || !l.allowed {
		return
	}
	pageSize := r.PageSize
	if pageSize == 0 {
		pageSize = DefaultPageSize
	}
	opts := metav1.ListOptions{Limit: pageSize, LabelSelector: req.selector}
	for first := true; ; first = false {
		if !first {
			select {
			case <-l.promoted:
			case <-p.ctx.Done():
				return
			}
		}
		page, cont := p.listPage(req, opts)
		select {
		case out <- page:
		case <-p.ctx.Done():
			return
		}
		if page.err != nil || page.last {
			return
		}
		opts.Continue = cont
	}
}

// listPage lists one page, as raw JSON when the client can.
func (p *lister) listPage(req listRequest, opts metav1.ListOptions) (listedPage, string) {
	if raw, ok := p.run.Dynamic.(RawLister); ok {
		ns := ""
		if req.res.namespaced {
			ns = req.ns
		}
		body, err := raw.ListRaw(p.ctx, req.res.gvr, ns, opts)
		if err != nil {
			return listedPage{err: err}, ""
		}
		var list rawList
		if err := json.Unmarshal(body, &list); err != nil {
			return listedPage{err: fmt.Errorf("reading the LIST response: %w", err)}, ""
		}
		if list.Items == nil {
			list.Items = []json.RawMessage{}
		}
		c := list.Metadata.Continue
		return listedPage{raw: list.Items, remaining: list.Metadata.RemainingItemCount, apiVersion: list.APIVersion, kind: list.Kind, last: c == ""}, c
	}
	client := p.run.Dynamic.Resource(req.res.gvr)
	var lister dynamic.ResourceInterface = client
	if req.res.namespaced {
		lister = client.Namespace(req.ns)
	}
	list, err := lister.List(p.ctx, opts)
	if err != nil {
		return listedPage{err: err}, ""
	}
	items := list.Items
	if items == nil {
		items = []unstructured.Unstructured{}
	}
	c := list.GetContinue()
	return listedPage{items: items, remaining: list.GetRemainingItemCount(), last: c == ""}, c
}

// encodeItems prepares and encodes a page's items as the tarball stores them.
func encodeItems(res resource, items []unstructured.Unstructured) []encodedItem {
	out := make([]encodedItem, len(items))
	for i := range items {
		out[i] = encode(res, &items[i])
	}
	return out
}

func encode(res resource, item *unstructured.Unstructured) encodedItem {
	prepare(res, item)
	data, err := json.Marshal(item.Object)
	return encodedItem{data: data, err: err}
}
