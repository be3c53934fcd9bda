package backup

import (
	"encoding/json"
	"testing"
)

// trimItem cuts metadata.managedFields wherever it is among the metadata's
// keys, leaves the other bytes as they came, and refuses what is not an
// object with a name.
func TestTrimItem(t *testing.T) {
	for _, tc := range []struct {
		in, want, name, ns string
	}{
		{`{"metadata":{"name":"a","namespace":"n"},"data":{"k":"v"}}`, `{"metadata":{"name":"a","namespace":"n"},"data":{"k":"v"}}`, "a", "n"},
		{`{"metadata":{"managedFields":[{"m":1}],"name":"a"}}`, `{"metadata":{"name":"a"}}`, "a", ""},
		{`{"metadata":{"name":"a","managedFields":[{"m":1}],"uid":"u"}}`, `{"metadata":{"name":"a","uid":"u"}}`, "a", ""},
		{`{"metadata":{"name":"a","managedFields":[]}}`, `{"metadata":{"name":"a"}}`, "a", ""},
		{"{ \"kind\" : \"X\",\n \"metadata\" : { \"managedFields\" : [ ] ,\n \"name\" : \"a\" } }", "{ \"kind\" : \"X\",\n \"metadata\" : { \n \"name\" : \"a\" } }", "a", ""},
		{`{"spec":{"metadata":{"managedFields":1}},"metadata":{"namespace":"n","name":"a","managedFields":null}}`, `{"spec":{"metadata":{"managedFields":1}},"metadata":{"namespace":"n","name":"a"}}`, "a", "n"},
	} {
		name, ns, out, err := trimItem([]byte(tc.in), "", "")
		if err != nil {
			t.Errorf("%s: %v", tc.in, err)
			continue
		}
		if string(out) != tc.want || name != tc.name || ns != tc.ns {
			t.Errorf("%s: got %s (%q, %q), want %s (%q, %q)", tc.in, out, name, ns, tc.want, tc.name, tc.ns)
		}
		if !json.Valid(out) {
			t.Errorf("%s: invalid output %s", tc.in, out)
		}
	}
	// A LIST's items lack apiVersion and kind: they go first.
	if _, _, out, err := trimItem([]byte(` {"metadata":{"managedFields":[],"name":"a"},"kind":"K"}`), "v1", "X"); err != nil || string(out) != ` {"apiVersion":"v1","metadata":{"name":"a"},"kind":"K"}` {
		t.Errorf("adding apiVersion: %s, %v", out, err)
	}
	for _, bad := range []string{
		`[]`, `"x"`, `{}`, `{"metadata":[]}`, `{"metadata":{"name":1}}`,
		`{"metadata":{"name":"a","namespace":{}}}`, `{"metadata":{"namespace":"n"}}`,
		`{"metadata":{"name":"a"},"metadata":{"name":"b"}}`,
		`{"metadata":{"name":"a"}} {}`, `{"metadata":{"name":"a"`,
	} {
		if _, _, _, err := trimItem([]byte(bad), "v1", "X"); err == nil {
			t.Errorf("%s: accepted", bad)
		}
	}
}

// An item the API server sent that is not a proper object is that item's
// error; the page's other items are still stored.
func TestRawItemsReportsBadItems(t *testing.T) {
	res := resource{}
	res.gvr.Resource = "configmaps"
	res.namespaced = true
	items, enc := rawItems(res, []json.RawMessage{
		json.RawMessage(`{"metadata":{"name":"a","namespace":"n","managedFields":[]}}`),
		json.RawMessage(`{"metadata":{"name":["x"]}}`),
	}, "v1", "ConfigMapList")
	if enc[0].err != nil || string(enc[0].data) != `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a","namespace":"n"}}` || items[0].GetName() != "a" || items[0].GetNamespace() != "n" {
		t.Errorf("good item: %s %v %v", enc[0].data, enc[0].err, items[0].Object)
	}
	if enc[1].err == nil {
		t.Errorf("bad item accepted: %s", enc[1].data)
	}
}
