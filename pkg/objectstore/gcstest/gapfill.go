package gcstest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// startProxy serves s.url: everything is passed to the fake, except that
// object listings are paged and deletes honour ifGenerationMatch.
func (s *Server) startProxy() error {
	target, err := url.Parse(s.fake.URL())
	if err != nil {
		return err
	}
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.Transport = http.DefaultTransport.(*http.Transport).Clone()
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodGet && isObjectList(r.URL.Path):
			s.listCalls.Add(1)
			s.pagedList(w, r, rp)
		case r.Method == http.MethodDelete && r.URL.Query().Get("ifGenerationMatch") != "":
			s.conditionalDelete(w, r, rp)
		default:
			rp.ServeHTTP(w, r)
		}
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("starting GCS proxy: %w", err)
	}
	s.url = "http://" + ln.Addr().String()
	s.proxy = &http.Server{Handler: mux}
	go s.proxy.Serve(ln)
	return nil
}

// isObjectList matches /storage/v1/b/<bucket>/o exactly.
func isObjectList(path string) bool {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	return len(parts) == 5 && parts[0] == "storage" && parts[1] == "v1" && parts[2] == "b" && parts[4] == "o"
}

type listResponse struct {
	Kind          string            `json:"kind"`
	Items         []json.RawMessage `json:"items"`
	Prefixes      []string          `json:"prefixes"`
	NextPageToken string            `json:"nextPageToken,omitempty"`
}

// pagedList fetches the whole listing from the fake and returns the page the
// client asked for; the token is the last name returned, as in GCS.
func (s *Server) pagedList(w http.ResponseWriter, r *http.Request, rp http.Handler) {
	q := r.URL.Query()
	max, _ := strconv.Atoi(q.Get("maxResults"))
	if max <= 0 || max > 1000 {
		max = 1000 // GCS's largest page, whatever is asked
	}
	token := q.Get("pageToken")
	match, err := globRegexp(q.Get("matchGlob"))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	q.Del("maxResults")
	q.Del("pageToken")
	q.Del("matchGlob")
	inner := r.Clone(r.Context())
	inner.URL.RawQuery = q.Encode()
	inner.RequestURI = ""
	rec := &recorder{header: http.Header{}, status: http.StatusOK}
	rp.ServeHTTP(rec, inner)
	if rec.status != http.StatusOK {
		copyHeader(w.Header(), rec.header)
		w.WriteHeader(rec.status)
		w.Write(rec.body.Bytes())
		return
	}
	var full listResponse
	if err := json.Unmarshal(rec.body.Bytes(), &full); err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	type entry struct {
		name   string
		item   json.RawMessage
		prefix bool
	}
	var entries []entry
	for _, it := range full.Items {
		var meta struct {
			Name string `json:"name"`
		}
		json.Unmarshal(it, &meta)
		if match != nil && !match.MatchString(meta.Name) {
			continue // filtered before paging, as GCS does
		}
		entries = append(entries, entry{name: meta.Name, item: it})
	}
	for _, p := range full.Prefixes {
		entries = append(entries, entry{name: p, prefix: true})
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].name < entries[j].name })
	out := listResponse{Kind: full.Kind, Items: []json.RawMessage{}}
	for _, e := range entries {
		if token != "" && e.name <= token {
			continue
		}
		if max > 0 && len(out.Items)+len(out.Prefixes) == max {
			out.NextPageToken = e.name
			break
		}
		if e.prefix {
			out.Prefixes = append(out.Prefixes, e.name)
		} else {
			out.Items = append(out.Items, e.item)
		}
	}
	// The token names the first entry of the next page; make it exclusive.
	if out.NextPageToken != "" {
		last := ""
		if n := len(out.Prefixes); n > 0 {
			last = out.Prefixes[n-1]
		}
		if n := len(out.Items); n > 0 {
			var meta struct {
				Name string `json:"name"`
			}
			json.Unmarshal(out.Items[n-1], &meta)
			if meta.Name > last {
				last = meta.Name
			}
		}
		out.NextPageToken = last
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(out)
}

// globRegexp translates a GCS match glob (nil for none) into a regular
// expression over whole object names: "**" matches anything, slashes
// included ("**/" also nothing), "*" anything within a segment, "?" one
// character within one; character classes and braces are not supported.
func globRegexp(glob string) (*regexp.Regexp, error) {
	if glob == "" {
		return nil, nil
	}
	if strings.ContainsAny(glob, "[]{}") {
		return nil, fmt.Errorf("matchGlob %q: character classes and braces are not emulated", glob)
	}
	var b strings.Builder
	b.WriteString("^")
	for i := 0; i < len(glob); i++ {
		switch {
		case strings.HasPrefix(glob[i:], "**/"):
			b.WriteString("(?:.*/)?")
			i += 2
		case strings.HasPrefix(glob[i:], "**"):
			b.WriteString(".*")
			i++
		case glob[i] == '*':
			b.WriteString("[^/]*")
		case glob[i] == '?':
			b.WriteString("[^/]")
		default:
			b.WriteString(regexp.QuoteMeta(glob[i : i+1]))
		}
	}
	b.WriteString("$")
	return regexp.Compile(b.String())
}

// conditionalDelete checks the object's generation before deleting it. Unlike
// GCS this is not atomic, which is fine for single-writer tests.
func (s *Server) conditionalDelete(w http.ResponseWriter, r *http.Request, rp http.Handler) {
	want := r.URL.Query().Get("ifGenerationMatch")
	get := r.Clone(r.Context())
	get.Method = http.MethodGet
	get.RequestURI = ""
	q := get.URL.Query()
	q.Del("ifGenerationMatch")
	get.URL.RawQuery = q.Encode()
	rec := &recorder{header: http.Header{}, status: http.StatusOK}
	rp.ServeHTTP(rec, get)
	if rec.status == http.StatusOK {
		var meta struct {
			Generation string `json:"generation"`
		}
		json.Unmarshal(rec.body.Bytes(), &meta)
		if meta.Generation != want {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusPreconditionFailed)
			io.WriteString(w, `{"error":{"code":412,"message":"conditionNotMet","errors":[{"reason":"conditionNotMet","message":"At least one of the pre-conditions you specified did not hold."}]}}`)
			return
		}
	}
	rp.ServeHTTP(w, r)
}

type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header         { return r.header }
func (r *recorder) Write(b []byte) (int, error) { return r.body.Write(b) }
func (r *recorder) WriteHeader(code int)        { r.status = code }

func copyHeader(dst, src http.Header) {
	for k, v := range src {
		dst[k] = v
	}
}
