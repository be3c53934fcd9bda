package cli

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

func TestLabelSelector(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    *metav1.LabelSelector
		wantErr string
	}{
		{in: "", want: nil},
		{in: "app=web", want: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}, MatchExpressions: []metav1.LabelSelectorRequirement{}}},
		{in: "app==web,tier!=db,env in (prod,dev),!legacy,team", want: &metav1.LabelSelector{
			MatchLabels: map[string]string{"app": "web"},
			MatchExpressions: []metav1.LabelSelectorRequirement{
				// sorted by key, as labels.ParseToRequirements returns them
				{Key: "env", Operator: metav1.LabelSelectorOpIn, Values: []string{"dev", "prod"}},
				{Key: "legacy", Operator: metav1.LabelSelectorOpDoesNotExist, Values: []string{}},
				{Key: "team", Operator: metav1.LabelSelectorOpExists, Values: []string{}},
				{Key: "tier", Operator: metav1.LabelSelectorOpNotIn, Values: []string{"db"}},
			},
		}},
		{in: "env notin (a,b)", want: &metav1.LabelSelector{MatchLabels: map[string]string{}, MatchExpressions: []metav1.LabelSelectorRequirement{
			{Key: "env", Operator: metav1.LabelSelectorOpNotIn, Values: []string{"a", "b"}},
		}}},
		{in: "app in (web", wantErr: "--selector"},
		{in: "replicas>1", wantErr: `"gt" is not supported`},
		{in: "-bad-=x", wantErr: "--selector"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			f := filterFlags{selector: tc.in}
			got, err := f.labelSelector()
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			assertEqual(t, "selector", got, tc.want)
			if got == nil {
				return
			}
			// What the server will match is what kubectl -l would match.
			sel, err := metav1.LabelSelectorAsSelector(got)
			if err != nil {
				t.Fatal(err)
			}
			kubectl, _ := labels.Parse(tc.in)
			for _, l := range []labels.Set{
				{"app": "web", "env": "prod", "team": "x"},
				{"app": "web", "tier": "db", "env": "prod", "team": "x"},
				{"app": "web", "tier": "fe", "env": "dev", "team": "x"},
				{"app": "web", "env": "dev", "team": "x", "legacy": "y"},
				{"app": "web", "env": "a"},
				{"app": "api"},
			} {
				if sel.Matches(l) != kubectl.Matches(l) {
					t.Errorf("%v: selector %s matches %v, kubectl's %s matches %v", l, sel, sel.Matches(l), kubectl, kubectl.Matches(l))
				}
			}
		})
	}
}

func TestParseMappings(t *testing.T) {
	got, err := parseMappings([]string{"abc:def", "123:456"})
	if err != nil {
		t.Fatal(err)
	}
	assertEqual(t, "mappings", got, map[string]string{"abc": "def", "123": "456"})
	if got, err := parseMappings(nil); got != nil || err != nil {
		t.Errorf("parseMappings(nil) = %v, %v; want nil, nil", got, err)
	}
	for _, bad := range [][]string{{"abc"}, {"abc:"}, {":def"}, {"abc:def", "abc:ghi"}} {
		if m, err := parseMappings(bad); err == nil || !strings.Contains(err.Error(), "--namespace-mappings") {
			t.Errorf("parseMappings(%q) = %v, %v; want a --namespace-mappings error", bad, m, err)
		}
	}
}

func TestOptionalBool(t *testing.T) {
	var o optionalBool
	if o.String() != "auto" || o.Type() != "bool" || !o.IsBoolFlag() {
		t.Errorf("unset: String %q Type %q", o.String(), o.Type())
	}
	if err := o.Set("false"); err != nil || o.value == nil || *o.value || o.String() != "false" {
		t.Errorf("Set(false): %v, %v", err, o.String())
	}
	if err := o.Set("nope"); err == nil || !strings.Contains(err.Error(), "want true, false or auto") {
		t.Errorf("Set(nope): %v", err)
	}
	if err := o.Set("auto"); err != nil || o.value != nil || o.String() != "auto" {
		t.Errorf("Set(auto): %v, %v", err, o.String())
	}
}
