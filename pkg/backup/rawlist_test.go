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
		m, out, err := trimItem([]byte(tc.in), "", "")
		if err != nil {
			t.Errorf("%s: %v", tc.in, err)
			continue
		}
		if string(out) != tc.want || m.name != tc.name || m.namespace != tc.ns || m.excluded {
			t.Errorf("%s: got %s (%+v), want %s (%q, %q)", tc.in, out, m, tc.want, tc.name, tc.ns)
		}
		if !json.Valid(out) {
			t.Errorf("%s: invalid output %s", tc.in, out)
		}
	}
	// A LIST's items lack apiVersion and kind: they go first.
	if _, out, err := trimItem([]byte(` {"metadata":{"managedFields":[],"name":"a"},"kind":"K"}`), "v1", "X"); err != nil || string(out) != ` {"apiVersion":"v1","metadata":{"name":"a"},"kind":"K"}` {
		t.Errorf("adding apiVersion: %s, %v", out, err)
	}
	// The exclude label is read; other labels, and the label set to
	// anything but "true", are not an exclusion.
	for in, want := range map[string]bool{
		`{"metadata":{"name":"a","labels":{"ark.heptio.com/exclude-from-backup":"true","x":"y"}}}`:     true,
		`{"metadata":{"labels":{"ark.heptio.com/exclude-from-backup":"false"},"name":"a"}}`:            false,
		`{"metadata":{"name":"a","labels":{"app":"ark.heptio.com/exclude-from-backup"}}}`:              false,
		`{"metadata":{"name":"a","labels":{"x":"y"}},"spec":{"ark.heptio.com/exclude-from-backup":1}}`: false,
	} {
		m, out, err := trimItem([]byte(in), "", "")
		if err != nil || m.excluded != want || m.name != "a" || string(out) != in {
			t.Errorf("%s: %+v %s %v, want excluded=%v", in, m, out, err, want)
		}
	}
	for _, bad := range []string{
		`[]`, `"x"`, `{}`, `{"metadata":[]}`, `{"metadata":{"name":1}}`,
		`{"metadata":{"name":"a","namespace":{}}}`, `{"metadata":{"namespace":"n"}}`,
		`{"metadata":{"name":"a"},"metadata":{"name":"b"}}`,
		`{"metadata":{"name":"a"}} {}`, `{"metadata":{"name":"a"`,
	} {
		if _, _, err := trimItem([]byte(bad), "v1", "X"); err == nil {
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
