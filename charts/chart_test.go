package charts

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"helm.sh/helm/v4/pkg/chart/common"
	"helm.sh/helm/v4/pkg/chart/common/util"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	"helm.sh/helm/v4/pkg/engine"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/dynamic"
	dynamicfake "k8s.io/client-go/dynamic/fake"

	"github.com/arkproject/ark/pkg/certs"
	"github.com/arkproject/ark/pkg/cmd/server"
)

const (
	chartDir = "ark"
	location = "gs://my-ark-bucket/cluster-1" // the artifacts' placeholder
)

// servingHosts are the names kube-apiserver reaches ark-apiserver by.
var servingHosts = []string{"ark-apiserver.ark-system.svc", "ark-apiserver.ark-system.svc.cluster.local"}

// objects are a rendering's documents.
type objects []*unstructured.Unstructured

func decode(t *testing.T, manifest string) objects {
	t.Helper()
	var out objects
	dec := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(manifest), 4096)
	for {
		obj := &unstructured.Unstructured{}
		if err := dec.Decode(&obj.Object); err == io.EOF {
			return out
		} else if err != nil {
			t.Fatalf("decoding the manifest: %v\n%s", err, manifest)
		}
		if len(obj.Object) > 0 {
			out = append(out, obj)
		}
	}
}

// get returns the object of that kind, namespace and name, nil if none.
func (objs objects) get(kind, namespace, name string) *unstructured.Unstructured {
	for _, o := range objs {
		if o.GetKind() == kind && o.GetNamespace() == namespace && o.GetName() == name {
			return o
		}
	}
	return nil
}

func (objs objects) must(t *testing.T, kind, namespace, name string) *unstructured.Unstructured {
	t.Helper()
	o := objs.get(kind, namespace, name)
	if o == nil {
		t.Fatalf("no %s %s/%s among %v", kind, namespace, name, objs)
	}
	return o
}

func (objs objects) String() string {
	var names []string
	for _, o := range objs {
		names = append(names, o.GetKind()+" "+o.GetNamespace()+"/"+o.GetName())
	}
	return strings.Join(names, ", ")
}

// render renders the chart as a release in namespace "default".
func render(t *testing.T, values map[string]any) (objects, *Rendered) {
	t.Helper()
	r, err := Render(chartDir, "default", values)
	if err != nil {
		t.Fatalf("rendering with %v: %v", values, err)
	}
	return decode(t, r.Manifest), r
}

func nested(t *testing.T, obj map[string]any, path ...string) any {
	t.Helper()
	v, ok, err := unstructured.NestedFieldNoCopy(obj, path...)
	if err != nil || !ok {
		t.Fatalf("%v has no %s (%v)", obj["metadata"], strings.Join(path, "."), err)
	}
	return v
}

// container returns the ark-apiserver container of a workload.
func container(t *testing.T, workload *unstructured.Unstructured) map[string]any {
	t.Helper()
	for _, c := range nested(t, workload.Object, "spec", "template", "spec", "containers").([]any) {
		if c := c.(map[string]any); c["name"] == "ark-apiserver" {
			return c
		}
	}
	t.Fatalf("%s %s has no ark-apiserver container", workload.GetKind(), workload.GetName())
	return nil
}

func args(t *testing.T, workload *unstructured.Unstructured) []string {
	t.Helper()
	var out []string
	for _, a := range container(t, workload)["args"].([]any) {
		out = append(out, a.(string))
	}
	return out
}

// checkServerFlags parses the arguments as ark-apiserver does: a renamed
// flag, or a value the flag refuses, would only show as a pod in
// CrashLoopBackOff on a real cluster (artifacts/args_test.go checks the
// artifacts' the same way).
func checkServerFlags(t *testing.T, args []string) {
	t.Helper()
	cmd := server.NewCommand(context.Background(), server.NewOptions(io.Discard, io.Discard))
	if err := cmd.ParseFlags(args); err != nil {
		t.Errorf("ark-apiserver refuses the chart's arguments %q: %v", args, err)
	}
}

// artifacts returns the objects of artifacts/ files matching pattern.
func artifacts(t *testing.T, pattern string) objects {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("..", "artifacts", pattern))
	if err != nil || len(files) == 0 {
		t.Fatalf("no artifacts/%s: %v", pattern, err)
	}
	var out objects
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, decode(t, string(data))...)
	}
	return out
}

func appVersion(t *testing.T) string {
	t.Helper()
	ch, err := loader.Load(chartDir)
	if err != nil {
		t.Fatal(err)
	}
	if ch.Metadata.AppVersion == "" {
		t.Fatal("Chart.yaml has no appVersion")
	}
	return ch.Metadata.AppVersion
}

func TestLint(t *testing.T) {
	// (Helm's lint leaves out what templates require, backupLocation here,
	// with a warning in the log: the defaults lint.)
	for name, values := range map[string]map[string]any{
		"defaults":     nil,
		"withLocation": {"backupLocation": location},
		"nonDefaults":  nonDefaultValues(t),
	} {
		t.Run(name, func(t *testing.T) {
			messages, err := Lint(chartDir, "default", values)
			for _, m := range messages {
				t.Log(m.Error()) // [INFO], [WARNING] or [ERROR]
			}
			if err != nil {
				t.Errorf("helm lint: %v", err)
			}
		})
	}
}

// The default rendering is artifacts/ with the bucket, the image of the
// chart's release and generated certificates: the same objects, with the
// same rules, specs and pod template.
func TestDefaultsAreTheArtifacts(t *testing.T) {
	objs, rendered := render(t, map[string]any{"backupLocation": location})
	for _, want := range artifacts(t, "*.yaml") {
		got := objs.get(want.GetKind(), want.GetNamespace(), want.GetName())
		if got == nil {
			t.Errorf("the chart lacks artifacts' %s %s/%s", want.GetKind(), want.GetNamespace(), want.GetName())
			continue
		}
		var fields []string
		switch want.GetKind() {
		case "ClusterRole", "Role":
			fields = []string{"rules"}
			if !reflect.DeepEqual(want.GetLabels(), withoutChartLabels(got.GetLabels())) {
				t.Errorf("%s %s: labels %v, artifacts have %v", want.GetKind(), want.GetName(), got.GetLabels(), want.GetLabels())
			}
		case "ClusterRoleBinding", "RoleBinding":
			fields = []string{"roleRef", "subjects"}
		case "Service":
			fields = []string{"spec"}
		case "APIService":
			unstructured.RemoveNestedField(want.Object, "spec", "caBundle") // a placeholder there
			got = got.DeepCopy()
			unstructured.RemoveNestedField(got.Object, "spec", "caBundle")
			fields = []string{"spec"}
		case "StatefulSet":
			// The image and location are placeholders in artifacts/.
			got = got.DeepCopy()
			c := container(t, got)
			if c["image"] != "ghcr.io/arkproject/ark-apiserver:"+appVersion(t) {
				t.Errorf("image %v, want the chart's appVersion %s", c["image"], appVersion(t))
			}
			delete(c, "image")
			delete(c, "imagePullPolicy")
			delete(container(t, want), "image")
			fields = []string{"spec"}
		case "Namespace", "ServiceAccount":
		default:
			t.Errorf("artifacts' %s %s is not compared", want.GetKind(), want.GetName())
		}
		for _, f := range fields {
			if d := diff(f, got.Object[f], want.Object[f]); d != "" {
				t.Errorf("%s %s/%s differs from artifacts': %s", want.GetKind(), want.GetNamespace(), want.GetName(), d)
			}
		}
	}

	sts := objs.must(t, "StatefulSet", "ark-system", "ark-apiserver")
	a := args(t, sts)
	for _, want := range []string{"--backup-location=" + location, "--serving-cert-secret=ark-system/ark-apiserver-tls", "--serving-ca-secret=ark-apiserver-ca"} {
		if !slices.Contains(a, want) {
			t.Errorf("args %q lack %s", a, want)
		}
	}
	if slices.ContainsFunc(a, func(s string) bool { return strings.HasPrefix(s, "--backup-location-credential") }) {
		t.Errorf("args %q name a credential, and none was given", a)
	}
	checkServerFlags(t, a)
	claims := nested(t, sts.Object, "spec", "volumeClaimTemplates").([]any)
	if len(claims) != 1 || nested(t, claims[0].(map[string]any), "metadata", "name") != "data" ||
		nested(t, claims[0].(map[string]any), "spec", "resources", "requests", "storage") != "1Gi" {
		t.Errorf("volumeClaimTemplates %v, want the claim data of 1Gi", claims)
	}
	if _, ok := claims[0].(map[string]any)["spec"].(map[string]any)["storageClassName"]; ok {
		t.Errorf("the claim names a StorageClass by default: %v", claims[0])
	}
	for _, absent := range []string{"Deployment", "ServiceMonitor", "PrometheusRule"} {
		for _, o := range objs {
			if o.GetKind() == absent {
				t.Errorf("rendered a %s by default", absent)
			}
		}
	}
	if objs.get("Secret", "heptio-ark", "cloud-credentials") != nil {
		t.Error("rendered a credential Secret without credentials")
	}
	for _, ns := range []string{"ark-system", "heptio-ark"} {
		if got := objs.must(t, "Namespace", "", ns).GetAnnotations()["helm.sh/resource-policy"]; got != "keep" {
			t.Errorf("namespace %s is deleted with the release (resource-policy %q)", ns, got)
		}
	}
	// Secrets before the workload that mounts them, the APIService last:
	// the order Helm installs in.
	var kinds []string
	for _, o := range objs {
		kinds = append(kinds, o.GetKind())
	}
	if i, j := slices.Index(kinds, "Secret"), slices.Index(kinds, "StatefulSet"); i < 0 || i > j || kinds[len(kinds)-1] != "APIService" {
		t.Errorf("install order %v", kinds)
	}

	ca, serving := checkGeneratedTLS(t, objs)
	if !strings.Contains(rendered.Notes, "kubectl wait --for=condition=Available apiservice/v1.ark.heptio.com") || !strings.Contains(rendered.Notes, location) {
		t.Errorf("NOTES:\n%s", rendered.Notes)
	}

	// The certificates are as `ark install` makes them, so a later install
	// keeps them, and the server's renewal can read them.
	kept, err := certs.EnsureServing(ca, serving, servingHosts, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(kept.Issued) != 0 {
		t.Errorf("ark install would replace the chart's %v", kept.Issued)
	}
	if !certs.RenewalDue(serving.Cert, time.Now().Add(250*24*time.Hour)) || certs.RenewalDue(serving.Cert, time.Now().Add(200*24*time.Hour)) {
		t.Errorf("the serving certificate is valid %v to %v, want a year (renewed after two thirds)", serving.Cert.NotBefore, serving.Cert.NotAfter)
	}
	if d := ca.Cert.NotAfter.Sub(ca.Cert.NotBefore); d < 3649*24*time.Hour {
		t.Errorf("the CA is valid for %v, want ten years", d)
	}
	if _, err := ca.Issue(certs.Options{CommonName: servingHosts[0], Hosts: servingHosts, Server: true}); err != nil {
		t.Errorf("the server could not renew the certificate with the chart's CA: %v", err)
	}
}

// diff says where got first differs from want ("" if nowhere), as a path
// and the two values there.
func diff(path string, got, want any) string {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			break
		}
		keys := map[string]bool{}
		for k := range w {
			keys[k] = true
		}
		for k := range g {
			keys[k] = true
		}
		for _, k := range slices.Sorted(maps.Keys(keys)) {
			if d := diff(path+"."+k, g[k], w[k]); d != "" {
				return d
			}
		}
		return ""
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			break
		}
		for i := range w {
			if d := diff(fmt.Sprintf("%s[%d]", path, i), g[i], w[i]); d != "" {
				return d
			}
		}
		return ""
	}
	if reflect.DeepEqual(got, want) {
		return ""
	}
	return fmt.Sprintf("%s is %v, want %v", path, got, want)
}

// withoutChartLabels drops the labels the chart adds to every object.
func withoutChartLabels(labels map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range labels {
		if !strings.HasPrefix(k, "app.kubernetes.io/") && !strings.HasPrefix(k, "helm.sh/") {
			out[k] = v
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// secretData returns a Secret's decoded data.
func secretData(t *testing.T, s *unstructured.Unstructured) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for k, v := range nested(t, s.Object, "data").(map[string]any) {
		b, err := base64.StdEncoding.DecodeString(v.(string))
		if err != nil {
			t.Fatalf("Secret %s: %s: %v", s.GetName(), k, err)
		}
		out[k] = b
	}
	return out
}

// checkGeneratedTLS checks the generated Secrets and the APIService's
// caBundle as kube-apiserver uses them: the bundle verifies the serving
// certificate for the Service's names, and each Secret holds a certificate
// with its key. It returns the CA and the serving pair.
func checkGeneratedTLS(t *testing.T, objs objects) (ca, serving *certs.KeyPair) {
	t.Helper()
	caSecret := objs.must(t, "Secret", "ark-system", "ark-apiserver-ca")
	tlsSecret := objs.must(t, "Secret", "ark-system", "ark-apiserver-tls")
	for _, s := range []*unstructured.Unstructured{caSecret, tlsSecret} {
		if s.Object["type"] != "kubernetes.io/tls" {
			t.Errorf("Secret %s is of type %v", s.GetName(), s.Object["type"])
		}
		d := secretData(t, s)
		if _, err := tls.X509KeyPair(d["tls.crt"], d["tls.key"]); err != nil {
			t.Errorf("Secret %s: %v", s.GetName(), err)
		}
	}
	caData, tlsData := secretData(t, caSecret), secretData(t, tlsSecret)
	var err error
	if ca, err = certs.Parse(caData["tls.crt"], caData["tls.key"]); err != nil || !ca.Cert.IsCA {
		t.Fatalf("the CA's Secret: %v (IsCA %v)", err, ca != nil && ca.Cert.IsCA)
	}
	if serving, err = certs.Parse(tlsData["tls.crt"], tlsData["tls.key"]); err != nil {
		t.Fatalf("the serving certificate's Secret: %v", err)
	}

	bundle := apiServiceCABundle(t, objs)
	if string(tlsData["ca.crt"]) != string(bundle) {
		t.Errorf("ark-apiserver-tls's ca.crt is not the APIService's caBundle")
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(bundle) {
		t.Fatalf("the APIService's caBundle holds no PEM certificate:\n%s", bundle)
	}
	for _, host := range servingHosts {
		if _, err := serving.Cert.Verify(x509.VerifyOptions{Roots: roots, DNSName: host, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
			t.Errorf("kube-apiserver would refuse ark-apiserver's certificate for %s: %v", host, err)
		}
	}
	return ca, serving
}

func apiServiceCABundle(t *testing.T, objs objects) []byte {
	t.Helper()
	bundle, err := base64.StdEncoding.DecodeString(nested(t, objs.must(t, "APIService", "", "v1.ark.heptio.com").Object, "spec", "caBundle").(string))
	if err != nil {
		t.Fatalf("the APIService's caBundle: %v", err)
	}
	return bundle
}

// userCA is a CA of the user's, as cert-manager or a PKI team would give.
func userCA(t *testing.T) []byte {
	t.Helper()
	ca, err := certs.NewCA("my-ca")
	if err != nil {
		t.Fatal(err)
	}
	return ca.CertPEM
}

// nonDefaultValues set every part of the chart away from its defaults.
func nonDefaultValues(t *testing.T) map[string]any {
	return map[string]any{
		"backupLocation": "s3://ark-backups/prod?region=eu-west-1",
		"image":          map[string]any{"pullPolicy": "Always"},
		"credentials":    map[string]any{"secretContents": "[default]\naws_access_key_id=AKIA\naws_secret_access_key=secret\n"},
		"tls":            map[string]any{"caBundle": string(userCA(t)), "existingSecret": "my-serving-cert"},
		"etcd": map[string]any{"external": map[string]any{
			"servers": []any{"https://etcd-0.etcd.example.svc:2379", "https://etcd-1.etcd.example.svc:2379", "https://etcd-2.etcd.example.svc:2379"},
		}},
		"server": map[string]any{
			"bucketPollInterval":   "30s",
			"backupWorkers":        8,
			"namespaceConcurrency": 2,
			"gcInterval":           "5m",
			"tenantLimits":         map[string]any{"maxHookTimeout": "0", "minScheduleInterval": "1h", "maxTTL": "720h"},
			"extraArgs":            []any{"--restore-claim-bind-timeout=5m"},
		},
		"env":          []any{map[string]any{"name": "AWS_REGION", "value": "eu-west-1"}},
		"nodeSelector": map[string]any{"kubernetes.io/os": "linux"},
		"tolerations":  []any{map[string]any{"key": "dedicated", "operator": "Equal", "value": "infra", "effect": "NoSchedule"}},
		"resources":    map[string]any{"limits": map[string]any{"memory": "1Gi"}},
		"metrics": map[string]any{
			"serviceMonitor": map[string]any{"enabled": true, "labels": map[string]any{"release": "prometheus"}, "prometheusServiceAccount": map[string]any{"name": "prometheus-k8s", "namespace": "monitoring"}},
			"prometheusRule": map[string]any{"enabled": true},
		},
	}
}

func TestNonDefaultValues(t *testing.T) {
	values := nonDefaultValues(t)
	objs, rendered := render(t, values)

	// Several replicas against the external etcd: the Deployment of
	// examples/ha-external-etcd.yaml, and no StatefulSet or claim.
	if objs.get("StatefulSet", "ark-system", "ark-apiserver") != nil {
		t.Error("rendered the StatefulSet with an external etcd")
	}
	deploy := objs.must(t, "Deployment", "ark-system", "ark-apiserver")
	if r := nested(t, deploy.Object, "spec", "replicas"); fmt.Sprint(r) != "2" {
		t.Errorf("replicas %v, want 2", r)
	}
	example := artifacts(t, "examples/ha-external-etcd.yaml").must(t, "Deployment", "ark-system", "ark-apiserver")
	for _, f := range [][]string{{"spec", "template", "spec", "affinity"}, {"spec", "template", "metadata", "labels"}, {"spec", "selector"}} {
		if d := diff(strings.Join(f, "."), nested(t, deploy.Object, f...), nested(t, example.Object, f...)); d != "" {
			t.Errorf("the Deployment differs from examples/ha-external-etcd.yaml's: %s", d)
		}
	}
	c := container(t, deploy)
	if c["image"] != "ghcr.io/arkproject/ark-apiserver:"+appVersion(t) || c["imagePullPolicy"] != "Always" {
		t.Errorf("image %v (%v)", c["image"], c["imagePullPolicy"])
	}
	if !reflect.DeepEqual(c["volumeMounts"], container(t, example)["volumeMounts"]) {
		t.Errorf("volumeMounts %v, the example has %v", c["volumeMounts"], container(t, example)["volumeMounts"])
	}
	a := args(t, deploy)
	checkServerFlags(t, a)
	for _, want := range []string{
		"--backup-location=s3://ark-backups/prod?region=eu-west-1",
		"--backup-location-credential=cloud-credentials/cloud",
		"--etcd-servers=https://etcd-0.etcd.example.svc:2379,https://etcd-1.etcd.example.svc:2379,https://etcd-2.etcd.example.svc:2379",
		"--etcd-cafile=/etc/ark/etcd/ca.crt",
		"--bucket-poll-interval=30s",
		"--backup-workers=8",
		"--namespace-concurrency=2",
		"--gc-interval=5m",
		"--tenant-max-hook-timeout=0",
		"--tenant-min-schedule-interval=1h",
		"--tenant-max-ttl=720h",
		"--restore-claim-bind-timeout=5m",
	} {
		if !slices.Contains(a, want) {
			t.Errorf("args %q lack %s", a, want)
		}
	}
	// The user's certificate: nothing generated, nothing renewed.
	for _, a := range a {
		if strings.HasPrefix(a, "--serving-") {
			t.Errorf("args renew the user's certificate: %s", a)
		}
	}
	for _, name := range []string{"ark-apiserver-ca", "ark-apiserver-tls"} {
		if objs.get("Secret", "ark-system", name) != nil {
			t.Errorf("generated the Secret %s with tls.caBundle given", name)
		}
	}
	if got := apiServiceCABundle(t, objs); string(got) != values["tls"].(map[string]any)["caBundle"] {
		t.Errorf("the APIService trusts %q, not tls.caBundle", got)
	}
	volumes := nested(t, deploy.Object, "spec", "template", "spec", "volumes").([]any)
	if s := volumes[0].(map[string]any)["secret"].(map[string]any)["secretName"]; s != "my-serving-cert" {
		t.Errorf("the serving certificate is mounted from %v, want tls.existingSecret", s)
	}

	// The credential, in the Secret install keeps it in; a new one restarts
	// the server, which reads it at start.
	creds := objs.must(t, "Secret", "heptio-ark", "cloud-credentials")
	if got := string(secretData(t, creds)["cloud"]); got != values["credentials"].(map[string]any)["secretContents"] {
		t.Errorf("cloud-credentials holds %q", got)
	}
	if nested(t, deploy.Object, "spec", "template", "metadata", "annotations").(map[string]any)["checksum/credentials"] == nil {
		t.Error("the pod template has no checksum of the credential")
	}

	pod := nested(t, deploy.Object, "spec", "template", "spec").(map[string]any)
	for _, f := range []string{"nodeSelector", "tolerations"} {
		if !reflect.DeepEqual(pod[f], values[f]) {
			t.Errorf("%s %v, want %v", f, pod[f], values[f])
		}
	}
	// (Helm merges maps of values into the chart's: the default requests stay.)
	wantResources := map[string]any{"limits": map[string]any{"memory": "1Gi"}, "requests": map[string]any{"cpu": "100m", "memory": "256Mi"}}
	if !reflect.DeepEqual(c["env"], values["env"]) || !reflect.DeepEqual(c["resources"], wantResources) {
		t.Errorf("env %v, resources %v", c["env"], c["resources"])
	}

	// Monitoring: the objects of artifacts/monitoring, bound to Prometheus.
	mon := artifacts(t, "monitoring/*.yaml")
	rule := objs.must(t, "PrometheusRule", "ark-system", "ark")
	if d := diff("spec", rule.Object["spec"], mon.must(t, "PrometheusRule", "ark-system", "ark").Object["spec"]); d != "" {
		t.Errorf("the PrometheusRule differs from artifacts/monitoring/prometheusrule.yaml's (promtool tests that one; copy its spec into charts/ark/files/alerts.yaml): %s", d)
	}
	sm := objs.must(t, "ServiceMonitor", "ark-system", "ark-apiserver")
	if d := diff("spec", sm.Object["spec"], mon.must(t, "ServiceMonitor", "ark-system", "ark-apiserver").Object["spec"]); d != "" {
		t.Errorf("the ServiceMonitor differs from artifacts': %s", d)
	}
	if sm.GetLabels()["release"] != "prometheus" {
		t.Errorf("ServiceMonitor labels %v", sm.GetLabels())
	}
	// It selects the Service by its labels.
	svc := objs.must(t, "Service", "ark-system", "ark-apiserver")
	for k, v := range nested(t, sm.Object, "spec", "selector", "matchLabels").(map[string]any) {
		if svc.GetLabels()[k] != v {
			t.Errorf("the ServiceMonitor selects %s=%v, the Service is labeled %v", k, v, svc.GetLabels())
		}
	}
	if !reflect.DeepEqual(objs.must(t, "ClusterRole", "", "ark-metrics-reader").Object["rules"], mon.must(t, "ClusterRole", "", "ark-metrics-reader").Object["rules"]) {
		t.Error("ark-metrics-reader's rules differ from artifacts'")
	}
	binding := objs.must(t, "ClusterRoleBinding", "", "ark-metrics-reader")
	if s := nested(t, binding.Object, "subjects").([]any)[0].(map[string]any); s["name"] != "prometheus-k8s" || s["namespace"] != "monitoring" {
		t.Errorf("ark-metrics-reader is bound to %v", s)
	}
	if !strings.Contains(rendered.Notes, "2 replicas") || !strings.Contains(rendered.Notes, "heptio-ark/cloud-credentials, key cloud") {
		t.Errorf("NOTES:\n%s", rendered.Notes)
	}

	// More replicas, and no client certificate for the etcd.
	values["replicas"] = 3
	values["etcd"].(map[string]any)["external"].(map[string]any)["clientSecret"] = ""
	objs, _ = render(t, values)
	deploy = objs.must(t, "Deployment", "ark-system", "ark-apiserver")
	if r := nested(t, deploy.Object, "spec", "replicas"); fmt.Sprint(r) != "3" {
		t.Errorf("replicas %v, want 3", r)
	}
	a = args(t, deploy)
	checkServerFlags(t, a)
	if slices.ContainsFunc(a, func(s string) bool { return strings.HasPrefix(s, "--etcd-cafile") }) {
		t.Errorf("args %q name etcd client files, with no clientSecret", a)
	}
}

func TestValues(t *testing.T) {
	base := func(extra map[string]any) map[string]any {
		v := map[string]any{"backupLocation": location}
		for k, x := range extra {
			v[k] = x
		}
		return v
	}
	t.Run("existing credential Secret", func(t *testing.T) {
		objs, _ := render(t, base(map[string]any{"credentials": map[string]any{"existingSecret": "gcs-key", "existingSecretKey": "key.json"}}))
		a := args(t, objs.must(t, "StatefulSet", "ark-system", "ark-apiserver"))
		if !slices.Contains(a, "--backup-location-credential=gcs-key/key.json") {
			t.Errorf("args %q", a)
		}
		checkServerFlags(t, a)
		if objs.get("Secret", "heptio-ark", "cloud-credentials") != nil {
			t.Error("created cloud-credentials with an existing Secret named")
		}
	})
	t.Run("storage class", func(t *testing.T) {
		for class, want := range map[string]string{"fast-ssd": "fast-ssd", "-": ""} {
			objs, _ := render(t, base(map[string]any{"persistence": map[string]any{"storageClass": class, "size": "5Gi"}}))
			claim := nested(t, objs.must(t, "StatefulSet", "ark-system", "ark-apiserver").Object, "spec", "volumeClaimTemplates").([]any)[0].(map[string]any)
			if got := nested(t, claim, "spec", "storageClassName"); got != want {
				t.Errorf("storageClass %q: storageClassName %q, want %q", class, got, want)
			}
			if got := nested(t, claim, "spec", "resources", "requests", "storage"); got != "5Gi" {
				t.Errorf("size %v", got)
			}
		}
	})
	t.Run("image tag", func(t *testing.T) {
		objs, _ := render(t, base(map[string]any{"image": map[string]any{"repository": "registry.example/ark", "tag": "v9.9.9"}}))
		if got := container(t, objs.must(t, "StatefulSet", "ark-system", "ark-apiserver"))["image"]; got != "registry.example/ark:v9.9.9" {
			t.Errorf("image %v", got)
		}
	})
	t.Run("namespaces", func(t *testing.T) {
		// Installed into ark-system, which exists already.
		r, err := Render(chartDir, "ark-system", base(nil))
		if err != nil {
			t.Fatal(err)
		}
		objs := decode(t, r.Manifest)
		if objs.get("Namespace", "", "ark-system") != nil || objs.get("Namespace", "", "heptio-ark") == nil {
			t.Errorf("installed into ark-system, the chart renders %v", objs)
		}
		objs, _ = render(t, base(map[string]any{"namespaces": map[string]any{"create": false}}))
		for _, o := range objs {
			if o.GetKind() == "Namespace" {
				t.Errorf("namespaces.create=false renders namespace %s", o.GetName())
			}
		}
	})
	t.Run("user CA given base64", func(t *testing.T) {
		ca := userCA(t)
		objs, _ := render(t, base(map[string]any{"tls": map[string]any{"caBundle": base64.StdEncoding.EncodeToString(ca)}}))
		if got := apiServiceCABundle(t, objs); string(got) != string(ca) {
			t.Errorf("caBundle %q", got)
		}
	})

	for name, tc := range map[string]struct {
		values map[string]any
		want   string
	}{
		"no bucket":             {map[string]any{}, "backupLocation is required"},
		"not a bucket":          {base(map[string]any{"backupLocation": "https://example.com/bucket"}), "backupLocation"},
		"two credentials":       {base(map[string]any{"credentials": map[string]any{"secretContents": "x", "existingSecret": "y"}}), "not both"},
		"replicas of embedded":  {base(map[string]any{"replicas": 2}), "embedded etcd is not clustered"},
		"not a CA":              {base(map[string]any{"tls": map[string]any{"caBundle": "not a certificate"}}), "tls.caBundle"},
		"a misspelt value":      {base(map[string]any{"backupLocaton": location}), "backupLocaton"},
		"not a duration":        {base(map[string]any{"server": map[string]any{"gcInterval": "often"}}), "gcInterval"},
		"etcd without a scheme": {base(map[string]any{"etcd": map[string]any{"external": map[string]any{"servers": []any{"etcd:2379"}}}}), "servers"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Render(chartDir, "default", tc.values)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("rendering with %v: %v, want an error about %q", tc.values, err, tc.want)
			}
		})
	}
}

// secretsOnly serves lookups of Secrets from a fake cluster, as
// kube-apiserver would on `helm upgrade`.
type secretsOnly struct{ client dynamic.Interface }

func (s secretsOnly) GetClientFor(apiVersion, kind string) (dynamic.NamespaceableResourceInterface, bool, error) {
	return s.client.Resource(schema.GroupVersionResource{Version: "v1", Resource: "secrets"}), true, nil
}

// renderAgainst renders the chart's apiservice.yaml as `helm upgrade` would
// with these Secrets in the cluster.
func renderAgainst(t *testing.T, secrets ...*unstructured.Unstructured) objects {
	t.Helper()
	ch, err := loader.Load(chartDir)
	if err != nil {
		t.Fatal(err)
	}
	vals, err := util.ToRenderValuesWithSchemaValidation(ch, map[string]any{"backupLocation": location},
		common.ReleaseOptions{Name: "ark", Namespace: "default", Revision: 2, IsUpgrade: true}, common.DefaultCapabilities, false)
	if err != nil {
		t.Fatal(err)
	}
	objs := make([]runtime.Object, 0, len(secrets))
	for _, s := range secrets {
		objs = append(objs, s)
	}
	client := dynamicfake.NewSimpleDynamicClient(runtime.NewScheme(), objs...)
	out, err := engine.RenderWithClientProvider(ch, vals, secretsOnly{client})
	if err != nil {
		t.Fatal(err)
	}
	return decode(t, out["ark/templates/apiservice.yaml"])
}

// An upgrade keeps the certificates in the cluster (those of the previous
// release, renewed by the server or written by `ark install`), so that
// what kube-apiserver trusts does not change.
func TestUpgradeKeepsCertificates(t *testing.T) {
	first, _ := render(t, map[string]any{"backupLocation": location})
	caSecret := first.must(t, "Secret", "ark-system", "ark-apiserver-ca")
	tlsSecret := first.must(t, "Secret", "ark-system", "ark-apiserver-tls")

	again := renderAgainst(t, caSecret, tlsSecret)
	for _, s := range []*unstructured.Unstructured{caSecret, tlsSecret} {
		if got := again.must(t, "Secret", "ark-system", s.GetName()); !reflect.DeepEqual(got.Object["data"], s.Object["data"]) {
			t.Errorf("an upgrade changed Secret %s", s.GetName())
		}
	}
	if got, want := apiServiceCABundle(t, again), apiServiceCABundle(t, first); string(got) != string(want) {
		t.Error("an upgrade changed the APIService's caBundle")
	}

	// Only the CA left: a serving certificate is issued from it.
	again = renderAgainst(t, caSecret)
	ca, _ := checkGeneratedTLS(t, again)
	if want := secretData(t, caSecret)["tls.crt"]; string(ca.CertPEM) != string(want) {
		t.Error("a missing serving certificate replaced the CA")
	}

	// What `ark install` wrote, while it replaces its CA: the new CA and the
	// old stay trusted.
	// (A CA of 20 minutes, made an hour ago: still valid, due for renewal.)
	oldCA, err := certs.NewCAFor("ark-apiserver-ca@old", 20*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	pki, err := certs.EnsureServing(oldCA, nil, servingHosts, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(pki.Issued) != 2 || len(pemCerts(pki.Bundle)) != 2 {
		t.Fatalf("install replaced %v, bundle of %d", pki.Issued, len(pemCerts(pki.Bundle)))
	}
	installed := []*unstructured.Unstructured{
		tlsSecretObject("ark-apiserver-ca", pki.CA.CertPEM, pki.CA.KeyPEM, nil),
		tlsSecretObject("ark-apiserver-tls", pki.Server.CertPEM, pki.Server.KeyPEM, pki.Bundle),
	}
	again = renderAgainst(t, installed...)
	checkGeneratedTLS(t, again)
	if got := apiServiceCABundle(t, again); string(got) != string(pki.Bundle) {
		t.Errorf("the chart trusts %d certificates of install's bundle of 2", len(pemCerts(got)))
	}
	if got := secretData(t, again.must(t, "Secret", "ark-system", "ark-apiserver-tls"))["tls.crt"]; string(got) != string(pki.Server.CertPEM) {
		t.Error("the chart replaced install's serving certificate")
	}
}

func tlsSecretObject(name string, cert, key, ca []byte) *unstructured.Unstructured {
	data := map[string]any{"tls.crt": base64.StdEncoding.EncodeToString(cert), "tls.key": base64.StdEncoding.EncodeToString(key)}
	if ca != nil {
		data["ca.crt"] = base64.StdEncoding.EncodeToString(ca)
	}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
		"metadata": map[string]any{"name": name, "namespace": "ark-system"},
		"data":     data,
	}}
}

func pemCerts(data []byte) []*pem.Block {
	var out []*pem.Block
	for {
		var b *pem.Block
		if b, data = pem.Decode(data); b == nil {
			return out
		}
		out = append(out, b)
	}
}

// The packaged chart holds the chart's files (and no others), loads, and
// renders as the directory does; the same sources and date give the same
// archive.
func TestPackage(t *testing.T) {
	dir := t.TempDir()
	date := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	path, err := Package(chartDir, dir, "", date)
	if err != nil {
		t.Fatal(err)
	}
	ch, err := loader.Load(chartDir)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, "ark-"+ch.Metadata.Version+".tgz"); path != want {
		t.Errorf("packaged as %s, want %s", path, want)
	}
	packaged, err := loader.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range append(packaged.Raw, packaged.Templates...) {
		names = append(names, f.Name)
	}
	for _, want := range []string{"Chart.yaml", "values.yaml", "values.schema.json", "templates/NOTES.txt", "templates/statefulset.yaml", "files/alerts.yaml"} {
		if !slices.Contains(names, want) {
			t.Errorf("the archive lacks %s: %v", want, names)
		}
	}
	r, err := Render(path, "default", map[string]any{"backupLocation": location})
	if err != nil {
		t.Fatal(err)
	}
	if objs := decode(t, r.Manifest); objs.get("StatefulSet", "ark-system", "ark-apiserver") == nil {
		t.Errorf("the packaged chart renders %v", objs)
	}

	first, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Package(chartDir, dir, "", date); err != nil {
		t.Fatal(err)
	}
	if second, _ := os.ReadFile(path); string(first) != string(second) {
		t.Error("packaging the same chart twice gave two archives")
	}
}
