package e2e

import (
	"io"
	"path/filepath"
	"strings"
	"testing"

	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/arkproject/ark/charts"
)

// The Helm chart renders manifests this cluster accepts: `helm template`'s
// output (rendered with Helm's library, no helm binary) goes through
// `kubectl apply --dry-run=server`, so kube-apiserver validates and admits
// every object, the generated Secrets and the APIService with the chart's
// CA included, and persists none. Ark already runs here, as a process
// registered with its own APIService: objects that exist are
// "configured", the others "created", and the real APIService must not
// change.
func TestChartServerDryRun(t *testing.T) {
	chart := filepath.Join("..", "..", "charts", "ark") // tests run in their package folder
	apiService := func() string {
		return mustKubectl(t, "get", "apiservice", "v1.ark.heptio.com", "-o", "jsonpath={.spec.caBundle}/{.spec.service.name}/{.metadata.resourceVersion}")
	}
	before := apiService()

	for _, tc := range []struct {
		name     string
		values   map[string]any
		workload string
		want     []string
	}{{
		name:     "defaults",
		values:   map[string]any{"backupLocation": "gs://e2e-bucket/c1", "image": map[string]any{"repository": "registry.example/ark", "tag": "e2e"}},
		workload: "statefulset.apps/ark-apiserver",
		want:     []string{"secret/ark-apiserver-ca", "secret/ark-apiserver-tls", "namespace/heptio-ark", "clusterrole.rbac.authorization.k8s.io/ark-namespace-user"},
	}, {
		name: "external etcd, credential, the user's certificate",
		values: map[string]any{
			"backupLocation": "s3://e2e-bucket/c1?region=eu-west-1",
			"credentials":    map[string]any{"secretContents": "[default]\naws_access_key_id=AKIAE2E\naws_secret_access_key=e2e\n"},
			"etcd":           map[string]any{"external": map[string]any{"servers": []any{"https://etcd-0.etcd.example.svc:2379", "https://etcd-1.etcd.example.svc:2379"}}},
			"tls":            map[string]any{"caBundle": "-----BEGIN CERTIFICATE-----\nMIIBdummy\n-----END CERTIFICATE-----\n", "existingSecret": "my-serving-cert"},
		},
		workload: "deployment.apps/ark-apiserver",
		want:     []string{"secret/cloud-credentials"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := charts.Render(chart, "default", tc.values)
			if err != nil {
				t.Fatalf("rendering the chart: %v", err)
			}
			out, err := kubectlIn(t, r.Manifest, "apply", "--dry-run=server", "-f", "-")
			if err != nil {
				t.Fatalf("kubectl apply --dry-run=server: %v\n%s", err, out)
			}
			t.Logf("kubectl apply --dry-run=server:\n%s", out)
			for _, want := range append(tc.want, tc.workload, "apiservice.apiregistration.k8s.io/v1.ark.heptio.com", "service/ark-apiserver", "serviceaccount/ark-apiserver") {
				if !strings.Contains(out, want+" created (server dry run)") && !strings.Contains(out, want+" configured (server dry run)") {
					t.Errorf("kubectl apply output lacks %s created or configured (server dry run):\n%s", want, out)
				}
			}
			if got, want := strings.Count(out, "(server dry run)"), objectCount(t, r.Manifest); got != want {
				t.Errorf("kubectl applied %d objects of the %d rendered:\n%s", got, want, out)
			}
			kind, name, _ := strings.Cut(tc.workload, "/")
			if out, err := kubectl(t, "get", kind, name, "-n", "ark-system"); err == nil || !strings.Contains(out, "NotFound") {
				t.Errorf("a server dry run created the %s: %v\n%s", kind, err, out)
			}
		})
	}
	if out, err := kubectl(t, "get", "secret", "ark-apiserver-ca", "-n", "ark-system"); err == nil || !strings.Contains(out, "NotFound") {
		t.Errorf("a server dry run created the CA's Secret: %v\n%s", err, out)
	}
	if after := apiService(); after != before {
		t.Errorf("a server dry run changed the APIService: %q -> %q", before, after)
	}
}

// objectCount counts a manifest's objects.
func objectCount(t *testing.T, manifest string) int {
	t.Helper()
	n := 0
	dec := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(manifest), 4096)
	for {
		var obj map[string]any
		if err := dec.Decode(&obj); err == io.EOF {
			return n
		} else if err != nil {
			t.Fatalf("decoding the rendered manifest: %v", err)
		}
		if len(obj) > 0 {
			n++
		}
	}
}
