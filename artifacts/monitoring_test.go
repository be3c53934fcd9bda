package artifacts

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/arkproject/ark/pkg/objectstore/testserver"
)

// TestAlertingRules runs the alerts of monitoring/prometheusrule.yaml
// through Prometheus's own tools: promtool checks the rules, then evaluates
// them over the series of monitoring/prometheusrule_test.yaml and compares
// the alerts that fire, with their labels and rendered annotations.
func TestAlertingRules(t *testing.T) {
	promtool, err := testserver.Installed("_output/bin/promtool", "promtool")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal(err)
		}
		t.Skip(err)
	}

	// promtool reads a rule file, which is the PrometheusRule's spec.
	data, err := os.ReadFile("monitoring/prometheusrule.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var rule struct {
		Kind string         `json:"kind"`
		Spec map[string]any `json:"spec"`
	}
	if err := yaml.Unmarshal(data, &rule); err != nil {
		t.Fatalf("reading the PrometheusRule: %v", err)
	}
	if rule.Kind != "PrometheusRule" || rule.Spec["groups"] == nil {
		t.Fatalf("monitoring/prometheusrule.yaml is a %q with spec %v, want a PrometheusRule with groups", rule.Kind, rule.Spec)
	}
	rules, err := yaml.Marshal(rule.Spec)
	if err != nil {
		t.Fatal(err)
	}
	tests, err := os.ReadFile("monitoring/prometheusrule_test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for name, data := range map[string][]byte{"rules.yaml": rules, "rules_test.yaml": tests} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}

	for _, args := range [][]string{{"check", "rules", "rules.yaml"}, {"test", "rules", "rules_test.yaml"}} {
		cmd := exec.Command(promtool, args...)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("promtool %v: %v\n%s", args, err, out)
		}
		t.Logf("promtool %v:\n%s", args, out)
	}
}
