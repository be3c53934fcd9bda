package cli

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/arkproject/ark/pkg/version"
)

// statusServer answers every request with the given API Status.
func statusServer(t *testing.T, code int, reason metav1.StatusReason, message, details string) string {
	t.Helper()
	_, kc := apiServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		fmt.Fprintf(w, `{"kind":"Status","apiVersion":"v1","status":"Failure","message":%q,"reason":%q,"code":%d%s}`, message, reason, code, details)
	})
	return kc
}

// Main is what the binary runs: an API error becomes "Error: " and an
// explanation on stderr, and exit code 1, whichever path (table, typed
// client, subresource) the command took.
func TestMainExplainsAPIErrors(t *testing.T) {
	for _, tc := range []struct {
		name    string
		code    int
		reason  metav1.StatusReason
		message string
		details string
		args    []string
		want    []string
	}{
		{
			name: "422 lists every invalid field", code: 422, reason: metav1.StatusReasonInvalid,
			message: `Backup.ark.heptio.com "neg" is invalid: [spec.ttl: Invalid value: "-1h0m0s": must not be negative, spec.includedNamespaces[0]: Invalid value: "A": bad]`,
			details: `,"details":{"name":"neg","group":"ark.heptio.com","kind":"Backup","causes":[{"reason":"FieldValueInvalid","message":"Invalid value: \"-1h0m0s\": must not be negative","field":"spec.ttl"},{"reason":"FieldValueInvalid","message":"Invalid value: \"A\": bad","field":"spec.includedNamespaces[0]"}]}`,
			args:    []string{"backup", "create", "neg"},
			want:    []string{`Error: the Backup "neg" is invalid:`, "\n  spec.ttl: Invalid value: \"-1h0m0s\": must not be negative", "\n  spec.includedNamespaces[0]: Invalid value: \"A\": bad"},
		},
		{
			name: "403 names the missing permission (table request)", code: 403, reason: metav1.StatusReasonForbidden,
			message: `backups.ark.heptio.com is forbidden: User "nobody" cannot list resource "backups" in API group "ark.heptio.com" in the namespace "heptio-ark"`,
			args:    []string{"backup", "get"},
			want:    []string{`User "nobody" cannot list resource "backups" in API group "ark.heptio.com"`, "ark-namespace-user"},
		},
		{
			name: "403 on create", code: 403, reason: metav1.StatusReasonForbidden,
			message: `restores.ark.heptio.com is forbidden: User "nobody" cannot create resource "restores"`,
			args:    []string{"restore", "create", "r", "--from-backup", "b"},
			want:    []string{`cannot create resource "restores"`},
		},
		{
			name: "503 says the bucket is unreachable", code: 503, reason: metav1.StatusReasonServiceUnavailable,
			message: `backup storage location "gs://bucket/prefix" is unreachable: dial tcp: connection refused`,
			args:    []string{"backup", "get", "-o", "yaml"},
			want:    []string{`backup storage location "gs://bucket/prefix" is unreachable`, "cannot reach its backup storage location"},
		},
		{
			name: "503 on logs", code: 503, reason: metav1.StatusReasonServiceUnavailable,
			message: `backup storage location "file:///x" is unreachable`,
			args:    []string{"backup", "logs", "b"},
			want:    []string{`backup storage location "file:///x" is unreachable`},
		},
		{
			name: "409 asks for another name", code: 409, reason: metav1.StatusReasonAlreadyExists,
			message: `backups.ark.heptio.com "b" already exists`,
			args:    []string{"backup", "create", "b"},
			want:    []string{`"b" already exists (choose another name)`},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			kc := statusServer(t, tc.code, tc.reason, tc.message, tc.details)
			var out, errOut bytes.Buffer
			code := Main(append([]string{"ark", "--kubeconfig", kc}, tc.args...), strings.NewReader(""), &out, &errOut)
			if code != 1 {
				t.Errorf("exit code %d, want 1", code)
			}
			for _, w := range tc.want {
				if !strings.Contains(errOut.String(), w) {
					t.Errorf("stderr lacks %q:\n%s", w, errOut.String())
				}
			}
			if !strings.HasPrefix(errOut.String(), "Error: ") {
				t.Errorf("stderr does not start with Error: %q", errOut.String())
			}
		})
	}
}

func TestMainPluginName(t *testing.T) {
	for _, tc := range []struct{ argv0, want string }{
		{"/usr/local/bin/kubectl-ark", "kubectl ark backup [command]"},
		{"ark", "ark backup [command]"},
	} {
		var out, errOut bytes.Buffer
		if code := Main([]string{tc.argv0, "backup", "--help"}, strings.NewReader(""), &out, &errOut); code != 0 {
			t.Fatalf("%s: exit %d: %s", tc.argv0, code, errOut.String())
		}
		if !strings.Contains(out.String(), tc.want) {
			t.Errorf("%s: help lacks %q:\n%s", tc.argv0, tc.want, out.String())
		}
	}
}

func TestCompletion(t *testing.T) {
	r := mustRun(t, nil, nil, "completion", "bash")
	if !strings.Contains(r.out, "__start_ark") {
		t.Errorf("bash completion has no __start_ark:\n%.300s", r.out)
	}
	// Dynamic completion of a backup name asks the server: the hidden
	// __complete command must at least offer the subcommands.
	r = mustRun(t, nil, nil, "__complete", "backup", "")
	for _, sub := range []string{"create", "get", "describe", "delete", "logs", "download"} {
		if !strings.Contains(r.out, sub) {
			t.Errorf("completion of `ark backup` lacks %q:\n%s", sub, r.out)
		}
	}
}

func TestVersionClientOnly(t *testing.T) {
	oldVersion, oldCommit := version.Version, version.Commit
	version.Version, version.Commit = "v9.9.9-test", "0123abc"
	defer func() { version.Version, version.Commit = oldVersion, oldCommit }()
	r := mustRun(t, nil, nil, "version", "--client")
	want := fmt.Sprintf("Client: ark v9.9.9-test (commit 0123abc), %s, %s/%s (API ark.heptio.com/v1)\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
	if r.out != want {
		t.Errorf("stdout %q", r.out)
	}
}

func TestVersionServerNotServing(t *testing.T) {
	_, kc := apiServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/version":
			io.WriteString(w, `{"gitVersion":"v1.37.2"}`)
		default:
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, `{"kind":"Status","apiVersion":"v1","status":"Failure","message":"the server could not find the requested resource","reason":"NotFound","code":404}`)
		}
	})
	var out, errOut bytes.Buffer
	code := Main([]string{"ark", "--kubeconfig", kc, "version"}, strings.NewReader(""), &out, &errOut)
	if code != 1 {
		t.Errorf("exit %d, want 1 when Ark is not served", code)
	}
	for _, w := range []string{"Kubernetes: v1.37.2", "Server: ark.heptio.com/v1 is not served"} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("stdout lacks %q:\n%s", w, out.String())
		}
	}
}

// install --dry-run prints every manifest in artifacts/ with the user's
// settings; a placeholder left behind would install a broken Ark.
func TestInstallDryRun(t *testing.T) {
	ca := filepath.Join(t.TempDir(), "ca.pem")
	caPEM := "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
	if err := os.WriteFile(ca, []byte(caPEM), 0o600); err != nil {
		t.Fatal(err)
	}
	r := mustRun(t, nil, nil, "install", "--dry-run", "--image", "registry.example/ark:v1", "--backup-location", "gs://prod-backups/c1", "--ca-bundle-file", ca)
	for _, placeholder := range []string{"ghcr.io/arkproject/ark-apiserver:v0.1.0", "my-ark-bucket", "UmVwbGFjZSB3aXRoIHRoZSBiYXNlNjQgUEVNIG9mIHlvdXIgQ0EK"} {
		if strings.Contains(r.out, placeholder) {
			t.Errorf("placeholder %q left in the manifests", placeholder)
		}
	}
	kinds := map[string]*unstructured.Unstructured{}
	dec := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(r.out), 4096)
	for {
		var obj unstructured.Unstructured
		if err := dec.Decode(&obj.Object); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("the manifests do not parse: %v", err)
		}
		if len(obj.Object) == 0 {
			continue
		}
		if obj.GetKind() == "" || obj.GetName() == "" {
			t.Errorf("a document without kind or name: %v", obj.Object)
		}
		kinds[obj.GetKind()+"/"+obj.GetName()] = &obj
	}
	dep := kinds["StatefulSet/ark-apiserver"]
	svc := kinds["APIService/v1.ark.heptio.com"]
	if dep == nil || svc == nil || kinds["Namespace/heptio-ark"] == nil || kinds["Namespace/ark-system"] == nil || kinds["ClusterRole/ark-namespace-user"] == nil {
		t.Fatalf("missing manifests; have %v", keys(kinds))
	}
	containers, _, _ := unstructured.NestedSlice(dep.Object, "spec", "template", "spec", "containers")
	c := containers[0].(map[string]any)
	if c["image"] != "registry.example/ark:v1" {
		t.Errorf("image %v", c["image"])
	}
	if args := fmt.Sprint(c["args"]); !strings.Contains(args, "--backup-location=gs://prod-backups/c1") {
		t.Errorf("args %s", args)
	}
	// The embedded etcd's data directory is on a claim of the StatefulSet's,
	// kept when the StatefulSet goes: Schedules and Restores survive a
	// restart, a reschedule and an uninstall.
	claims, _, _ := unstructured.NestedSlice(dep.Object, "spec", "volumeClaimTemplates")
	if len(claims) != 1 || fmt.Sprint(claims[0].(map[string]any)["metadata"]) != "map[name:data]" {
		t.Errorf("volumeClaimTemplates %v, want one named data", claims)
	}
	if args := fmt.Sprint(c["args"]); !strings.Contains(args, "--data-dir=/var/lib/ark") || !strings.Contains(fmt.Sprint(c["volumeMounts"]), "mountPath:/var/lib/ark name:data") {
		t.Errorf("the data directory is not the claim's: args %s, mounts %v", args, c["volumeMounts"])
	}
	if policy, _, _ := unstructured.NestedString(dep.Object, "spec", "persistentVolumeClaimRetentionPolicy", "whenDeleted"); policy != "Retain" {
		t.Errorf("persistentVolumeClaimRetentionPolicy.whenDeleted = %q, want Retain", policy)
	}
	if got, _, _ := unstructured.NestedString(svc.Object, "spec", "caBundle"); got != base64.StdEncoding.EncodeToString([]byte(caPEM)) {
		t.Errorf("caBundle %q", got)
	}

	// With a CA bundle of the user's, the certificate is theirs: install
	// generates no Secret.
	if kinds["Secret/ark-apiserver-tls"] != nil || kinds["Secret/ark-apiserver-ca"] != nil {
		t.Error("install generated certificate Secrets although given --ca-bundle-file")
	}
	wantErr(t, nil, []string{"install", "--dry-run=maybe"}, `--dry-run must be "none", "client" or "server", not "maybe"`)
	if r := mustRun(t, nil, nil, "install", "--dry-run=client"); !strings.Contains(r.out, "kind: APIService") || !strings.Contains(r.out, "name: ark-apiserver-tls") {
		t.Errorf("--dry-run=client does not print the manifests with the generated Secrets:\n%s", r.out)
	}
	wantErr(t, nil, []string{"install", "--dry-run", "--ca-bundle-file", filepath.Join(t.TempDir(), "missing")}, "--ca-bundle-file")
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// Names complete from the server: arguments and the flags that name a
// backup or schedule.
func TestCompleteNames(t *testing.T) {
	c := getFixtures()
	lines := func(args ...string) []string {
		t.Helper()
		r := mustRun(t, c, nil, append([]string{"__complete"}, args...)...)
		// the last line is cobra's ":<directive>"
		out := strings.Split(strings.TrimSpace(r.out), "\n")
		if last := out[len(out)-1]; last != ":4" {
			t.Errorf("%v: directive %q, want :4 (no file completion)", args, last)
		}
		return sortedCopy(out[:len(out)-1])
	}
	assertEqual(t, "backup describe", lines("backup", "describe", ""), []string{"nginx-backup", "other"})
	assertEqual(t, "prefix", lines("backup", "describe", "ng"), []string{"nginx-backup"})
	assertEqual(t, "already given", lines("backup", "delete", "other", ""), []string{"nginx-backup"})
	assertEqual(t, "another namespace", lines("backup", "get", "-n", "team-a", ""), []string{"elsewhere"})
	assertEqual(t, "logs takes one name", lines("backup", "logs", "other", ""), []string(nil))
	assertEqual(t, "restore create --from-backup", lines("restore", "create", "--from-backup", ""), []string{"nginx-backup", "other"})
	assertEqual(t, "--from-schedule", lines("backup", "create", "x", "--from-schedule", ""), []string{"s"})
	assertEqual(t, "schedule pause", lines("schedule", "pause", ""), []string{"s"})
	assertEqual(t, "verb first", lines("describe", "restore", ""), []string{"r"})
}
