package backup

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
)

// RawLister lists one page of a resource and returns the API server's JSON
// as it came. A Backupper whose Dynamic client also implements it (the
// requester's clients do, see pkg/requester) reads its LISTs this way:
// decoding every page into unstructured maps was about half of a backup's
// CPU, and most items only need their name and namespace read and their
// managed fields cut out before they go into the tarball.
type RawLister interface {
	ListRaw(ctx context.Context, gvr schema.GroupVersionResource, namespace string, opts metav1.ListOptions) ([]byte, error)
}

// rawList is a LIST response with its items left as JSON.
type rawList struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Continue           string `json:"continue"`
		RemainingItemCount *int64 `json:"remainingItemCount"`
	} `json:"metadata"`
	Items []json.RawMessage `json:"items"`
}

// decodesFully are the resources whose items the backupper reads beyond
// their name (hook annotations and containers, volume bindings, definitions)
// or changes beyond their managed fields (a node's status): their items are
// still decoded into unstructured objects.
var decodesFully = map[string]bool{
	"pods":                   true,
	"persistentvolumes":      true,
	"persistentvolumeclaims": true,
	"nodes":                  true,
	crdResource:              true,
}

// rawItems prepares a raw page's items as the tarball stores them. The bytes
// are the API server's, so each must be a JSON object with an object as its
// metadata and strings as its name and namespace; one that is not is
// reported as that item's error, and the rest of the page is still backed up.
//
// A LIST's items come without apiVersion and kind, which the list carries
// for all of them (as the dynamic client does, each gets the list's
// apiVersion and its kind less "List"): the restore side needs them in every
// item.
func rawItems(res resource, raw []json.RawMessage, apiVersion, listKind string) ([]unstructured.Unstructured, []encodedItem) {
	kind := strings.TrimSuffix(listKind, "List")
	items := make([]unstructured.Unstructured, len(raw))
	encoded := make([]encodedItem, len(raw))
	full := decodesFully[res.GroupResource()]
	for i, data := range raw {
		if full {
			if err := json.Unmarshal(data, &items[i].Object); err != nil || items[i].Object == nil {
				items[i].Object = map[string]any{}
				encoded[i].err = fmt.Errorf("item %d of the page is not a JSON object: %v", i, err)
				continue
			}
			if items[i].GetAPIVersion() == "" {
				items[i].SetAPIVersion(apiVersion)
			}
			if items[i].GetKind() == "" {
				items[i].SetKind(kind)
			}
			encoded[i] = encode(res, &items[i])
			continue
		}
		m, trimmed, err := trimItem(data, apiVersion, kind)
		// Only what the filters and write read: name, namespace and the
		// exclude label.
		meta := map[string]any{"name": m.name}
		if m.namespace != "" {
			meta["namespace"] = m.namespace
		}
		if m.excluded {
			meta["labels"] = map[string]any{arkv1.LabelExcludeFromBackup: "true"}
		}
		items[i].Object = map[string]any{"metadata": meta}
		if err != nil {
			encoded[i].err = fmt.Errorf("item %d of the page: %w", i, err)
			continue
		}
		encoded[i].data = trimmed
	}
	return items, encoded
}

var errNotObject = errors.New("not a JSON object")

// itemMeta is what trimItem reads of an item's metadata.
type itemMeta struct {
	name, namespace string
	// excluded is set when the item is labelled
	// arkv1.LabelExcludeFromBackup=true.
	excluded bool
}

// excludeKey is the exclude label's key as it appears in an item's JSON:
// the API server writes label keys without escapes.
var excludeKey = []byte(`"` + arkv1.LabelExcludeFromBackup + `"`)

// trimItem reads an item's metadata.name, metadata.namespace and exclude
// label and returns its JSON without metadata.managedFields, the rest byte
// for byte as the API server wrote it: what the backup stores is then what
// a LIST returned, less what a restore must not see.
//
// An item without apiVersion or kind gets the ones given, first in the
// object.
func trimItem(data []byte, apiVersion, kind string) (meta itemMeta, out []byte, err error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := expectDelim(dec, '{'); err != nil {
		return itemMeta{}, nil, err
	}
	cutFrom, cutTo := -1, -1
	sawMeta, sawAPIVersion, sawKind := false, false, false
	for dec.More() {
		key, err := objectKey(dec)
		if err != nil {
			return itemMeta{}, nil, err
		}
		sawAPIVersion = sawAPIVersion || key == "apiVersion"
		sawKind = sawKind || key == "kind"
		if key != "metadata" || sawMeta {
			if key == "metadata" {
				return itemMeta{}, nil, errors.New("metadata appears twice")
			}
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return itemMeta{}, nil, err
			}
			continue
		}
		sawMeta = true
		if err := expectDelim(dec, '{'); err != nil {
			return itemMeta{}, nil, fmt.Errorf("metadata: %w", err)
		}
		first := true
		for dec.More() {
			before := int(dec.InputOffset())
			key, err := objectKey(dec)
			if err != nil {
				return itemMeta{}, nil, err
			}
			switch key {
			case "name", "namespace":
				var s string
				if err := dec.Decode(&s); err != nil {
					return itemMeta{}, nil, fmt.Errorf("metadata.%s: %w", key, err)
				}
				if key == "name" {
					meta.name = s
				} else {
					meta.namespace = s
				}
			case "labels":
				var labels json.RawMessage
				if err := dec.Decode(&labels); err != nil {
					return itemMeta{}, nil, err
				}
				// Only labels that name the exclude label are decoded:
				// almost no item has it, and decoding was most of a
				// backup's CPU.
				if bytes.Contains(labels, excludeKey) {
					var m map[string]string
					if err := json.Unmarshal(labels, &m); err != nil {
						return itemMeta{}, nil, fmt.Errorf("metadata.labels: %w", err)
					}
					meta.excluded = m[arkv1.LabelExcludeFromBackup] == "true"
				}
			case "managedFields":
				var skip json.RawMessage
				if err := dec.Decode(&skip); err != nil {
					return itemMeta{}, nil, err
				}
				if cutFrom >= 0 {
					return itemMeta{}, nil, errors.New("metadata.managedFields appears twice")
				}
				// Not first: the cut starts at the comma before the key.
				// First: it ends after the comma that follows, if any.
				cutFrom, cutTo = before, int(dec.InputOffset())
				if first {
					rest := bytes.TrimLeft(data[cutTo:], " \t\r\n")
					if len(rest) > 0 && rest[0] == ',' {
						cutTo = len(data) - len(rest) + 1
					}
				}
			default:
				var skip json.RawMessage
				if err := dec.Decode(&skip); err != nil {
					return itemMeta{}, nil, err
				}
			}
			first = false
		}
		if err := expectDelim(dec, '}'); err != nil {
			return itemMeta{}, nil, err
		}
	}
	if err := expectDelim(dec, '}'); err != nil {
		return itemMeta{}, nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return itemMeta{}, nil, errors.New("data follows the object")
	}
	if !sawMeta {
		return itemMeta{}, nil, errors.New("the item has no metadata")
	}
	if meta.name == "" {
		return itemMeta{}, nil, errors.New("the item has no name")
	}
	var head []byte
	if !sawAPIVersion && apiVersion != "" {
		head = appendField(head, "apiVersion", apiVersion)
	}
	if !sawKind && kind != "" {
		head = appendField(head, "kind", kind)
	}
	if cutFrom < 0 && head == nil {
		return meta, data, nil
	}
	if cutFrom < 0 {
		cutFrom, cutTo = len(data), len(data)
	}
	// data starts with '{' (after any whitespace): the new fields go right
	// after it, each followed by a comma, since metadata follows.
	open := bytes.IndexByte(data, '{') + 1
	out = make([]byte, 0, len(data)+len(head)-(cutTo-cutFrom))
	out = append(append(append(out, data[:open]...), head...), data[open:cutFrom]...)
	out = append(out, data[cutTo:]...)
	return meta, out, nil
}

// appendField appends "key":value, with value as a JSON string.
func appendField(b []byte, key, value string) []byte {
	v, _ := json.Marshal(value) // a string always encodes
	b = append(append(append(b, '"'), key...), `":`...)
	return append(append(b, v...), ',')
}

func expectDelim(dec *json.Decoder, d json.Delim) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if tok != d {
		if d == '{' {
			return errNotObject
		}
		return fmt.Errorf("want %q, got %v", d, tok)
	}
	return nil
}

func objectKey(dec *json.Decoder) (string, error) {
	tok, err := dec.Token()
	if err != nil {
		return "", err
	}
	key, ok := tok.(string)
	if !ok {
		return "", fmt.Errorf("want an object key, got %v", tok)
	}
	return key, nil
}
