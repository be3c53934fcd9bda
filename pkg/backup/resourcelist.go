package backup

import (
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
)

// resourceList streams <backup>-resource-list.json.gz as it goes:
// {"deployments.apps": ["ns/name", ...], "namespaces": ["name", ...], ...}.
// Resources arrive one after another, so the JSON object can be written
// without holding the list in memory.
type resourceList struct {
	gz      *gzip.Writer
	current string
	first   bool
	err     error
}

func newResourceList(w io.Writer) *resourceList {
	l := &resourceList{gz: gzip.NewWriter(w), first: true}
	l.printf("{")
	return l
}

func (l *resourceList) printf(format string, args ...any) {
	if l.err == nil {
		_, l.err = fmt.Fprintf(l.gz, format, args...)
	}
}

func (l *resourceList) add(groupResource, namespace, name string) error {
	if groupResource != l.current {
		if l.current != "" {
			l.printf("]")
		}
		if !l.first {
			l.printf(",")
		}
		key, _ := json.Marshal(groupResource)
		l.printf("\n%s:[", key)
		l.current, l.first = groupResource, false
	} else {
		l.printf(",")
	}
	id := name
	if namespace != "" {
		id = namespace + "/" + name
	}
	v, _ := json.Marshal(id)
	l.printf("%s", v)
	return l.err
}

func (l *resourceList) close() error {
	if l.current != "" {
		l.printf("]")
	}
	l.printf("\n}\n")
	if l.err != nil {
		return l.err
	}
	return l.gz.Close()
}

// gzipJSON writes one gzipped JSON document.
type gzipJSON struct{ w io.Writer }

func newGzipJSON(w io.Writer) gzipJSON { return gzipJSON{w} }

func (g gzipJSON) write(v any) error {
	gz := gzip.NewWriter(g.w)
	enc := json.NewEncoder(gz)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return err
	}
	return gz.Close()
}
