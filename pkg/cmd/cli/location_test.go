package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	kubefake "k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
	"github.com/arkproject/ark/pkg/generated/clientset/versioned/fake"
)

// testLocation is a plain ReadWrite location in the home namespace.
func testLocation(name string) *arkv1.BackupStorageLocation {
	return &arkv1.BackupStorageLocation{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: DefaultNamespace},
		Spec: arkv1.BackupStorageLocationSpec{
			Provider:      "aws",
			ObjectStorage: arkv1.ObjectStorageLocation{Bucket: "ark-" + name},
			AccessMode:    arkv1.BackupStorageLocationAccessModeReadWrite,
		},
	}
}

func getLocation(t *testing.T, c *fake.Clientset, ns, name string) *arkv1.BackupStorageLocation {
	t.Helper()
	l, err := c.ArkV1().BackupStorageLocations(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("reading back location %s/%s: %v", ns, name, err)
	}
	return l
}

func TestLocationCreateEveryFlag(t *testing.T) {
	c := fake.NewSimpleClientset()
	r := mustRun(t, c, nil, "backup-location", "create", "minio",
		"--provider", "aws", "--bucket", "ark", "--prefix", "cluster-1",
		"--config", "region=minio,endpoint=http://minio:9000", "--config", "forcePathStyle=true",
		"--credential", "minio-creds=cloud", "--access-mode", "ReadOnly", "--default",
		"--labels", "team=platform")
	if got := verbs(c); strings.Join(got, ",") != "create backupstoragelocations" {
		t.Errorf("actions = %v, want one create", got)
	}
	l := getLocation(t, c, DefaultNamespace, "minio")
	assertEqual(t, "spec", l.Spec, arkv1.BackupStorageLocationSpec{
		Provider:      "aws",
		ObjectStorage: arkv1.ObjectStorageLocation{Bucket: "ark", Prefix: "cluster-1"},
		Config:        map[string]string{"region": "minio", "endpoint": "http://minio:9000", "forcePathStyle": "true"},
		Credential:    &arkv1.SecretKeyReference{Name: "minio-creds", Key: "cloud"},
		AccessMode:    arkv1.BackupStorageLocationAccessModeReadOnly,
		Default:       true,
	})
	assertEqual(t, "labels", l.Labels, map[string]string{"team": "platform"})
	if want := "Backup storage location \"minio\" created.\nRun `ark backup-location describe minio -n heptio-ark` to see whether Ark reaches its bucket.\n"; r.out != want {
		t.Errorf("stdout = %q, want %q", r.out, want)
	}
}

func TestLocationCreateDefaults(t *testing.T) {
	c := fake.NewSimpleClientset()
	mustRun(t, c, nil, "backup-location", "create", "plain", "--provider", "gcp", "--bucket", "b")
	l := getLocation(t, c, DefaultNamespace, "plain")
	assertEqual(t, "spec", l.Spec, arkv1.BackupStorageLocationSpec{
		Provider:      "gcp",
		ObjectStorage: arkv1.ObjectStorageLocation{Bucket: "b"},
		AccessMode:    arkv1.BackupStorageLocationAccessModeReadWrite,
	})
	if l.Labels != nil {
		t.Errorf("labels %v, want none", l.Labels)
	}

	// -n is Ark's home namespace, as for every command; the access mode is
	// read in any case; the short and verb-first forms are the same command.
	c = fake.NewSimpleClientset()
	mustRun(t, c, nil, "-n", "ark-home", "bsl", "create", "x", "--provider", "file", "--bucket", "/srv/ark", "--access-mode", "readonly")
	if l := getLocation(t, c, "ark-home", "x"); l.Spec.AccessMode != arkv1.BackupStorageLocationAccessModeReadOnly {
		t.Errorf("access mode %q", l.Spec.AccessMode)
	}
	mustRun(t, c, nil, "create", "backup-location", "y", "--provider", "file", "--bucket", "/srv/ark2")
	getLocation(t, c, DefaultNamespace, "y")
}

func TestLocationCreateErrors(t *testing.T) {
	base := []string{"backup-location", "create", "x", "--provider", "aws", "--bucket", "b"}
	for _, tc := range []struct {
		name    string
		args    []string
		substrs []string
	}{
		{"no provider", []string{"backup-location", "create", "x", "--bucket", "b"}, []string{"--provider is required"}},
		{"no bucket", []string{"backup-location", "create", "x", "--provider", "aws"}, []string{"--bucket is required"}},
		{"no name", []string{"backup-location", "create", "--provider", "aws", "--bucket", "b"}, []string{"accepts 1 arg"}},
		{"credential without key", append(base, "--credential", "creds"), []string{`--credential: "creds" is not SECRET=KEY`}},
		{"credential without name", append(base, "--credential", "=cloud"), []string{`--credential: "=cloud" is not SECRET=KEY`}},
		{"credential with empty key", append(base, "--credential", "creds="), []string{`--credential: "creds=" is not SECRET=KEY`}},
		{"credential with two =", append(base, "--credential", "a=b=c"), []string{`--credential: "a=b=c" is not SECRET=KEY`}},
		{"config without =", append(base, "--config", "region"), []string{`--config: "region" is not key=value`}},
		{"config without key", append(base, "--config", "=eu"), []string{`--config: "=eu" has no key`}},
		{"config without value", append(base, "--config", "region="), []string{`--config: "region=" has no value`}},
		{"config key twice", append(base, "--config", "region=a,region=b"), []string{`--config: "region" is given twice`}},
		{"labels without =", append(base, "--labels", "team"), []string{`--labels: "team" is not key=value`}},
		{"access mode", append(base, "--access-mode", "WriteOnly"), []string{`--access-mode: "WriteOnly" is neither ReadWrite nor ReadOnly`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := fake.NewSimpleClientset()
			wantErr(t, c, tc.args, tc.substrs...)
			if len(c.Actions()) != 0 {
				t.Errorf("actions %v, want none", verbs(c))
			}
		})
	}
	// The server's refusal is shown as the others are.
	c := fake.NewSimpleClientset(testLocation("x"))
	wantErr(t, c, base, `"x" already exists`)
}

func fullLocation() *arkv1.BackupStorageLocation {
	l := testLocation("eu")
	l.Labels = map[string]string{"team": "platform"}
	l.Spec.ObjectStorage.Prefix = "cluster-1"
	l.Spec.Config = map[string]string{"region": "eu-west-1", "endpoint": "https://s3.eu.example"}
	l.Spec.Credential = &arkv1.SecretKeyReference{Name: "eu-creds", Key: "cloud"}
	l.Spec.AccessMode = arkv1.BackupStorageLocationAccessModeReadOnly
	l.Spec.Default = true
	l.Status = arkv1.BackupStorageLocationStatus{
		Phase:          arkv1.BackupStorageLocationPhaseUnavailable,
		LastSyncedTime: at(-3 * time.Minute),
		BackupCount:    12,
		Message:        "listing bucket: 403 Forbidden",
	}
	return l
}

func TestDescribeLocation(t *testing.T) {
	var buf bytes.Buffer
	describeLocation(&buf, fullLocation(), describeNow)
	golden(t, "describe-location.golden", buf.Bytes())

	buf.Reset()
	describeLocation(&buf, testLocation("new"), describeNow)
	golden(t, "describe-location-new.golden", buf.Bytes())
}

// describe shows which Secret key holds the credentials, and never what it
// holds: it does not even read the Secret.
func TestLocationDescribeShowsNoSecret(t *testing.T) {
	const secretValue = "aws_secret_access_key=DO-NOT-PRINT"
	kube := kubefake.NewSimpleClientset(&corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "eu-creds", Namespace: DefaultNamespace},
		Data:       map[string][]byte{"cloud": []byte(secretValue)},
	})
	c := fake.NewSimpleClientset(fullLocation(), testLocation("other"))
	var out, errOut bytes.Buffer
	root, env := NewRootCommand("ark", strings.NewReader(""), &out, &errOut)
	env.ark, env.kube = c, kube
	root.SetArgs([]string{"backup-location", "describe", "eu", "other"})
	if err := root.ExecuteContext(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"Name:                      eu\n",
		"Phase:                     Unavailable\n",
		"  Credential:                key \"cloud\" of Secret \"eu-creds\"\n",
		"  Config:                    endpoint=https://s3.eu.example, region=eu-west-1\n",
		"  Access mode:               ReadOnly\n",
		"  Default:                   true\n",
		"  Backups:                   12\n",
		"  Message:                   listing bucket: 403 Forbidden\n",
		"\n\nName:                      other\n",
		"  Credential:                <none> (the server's own)\n",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("describe lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "DO-NOT-PRINT") {
		t.Errorf("describe printed the secret:\n%s", out.String())
	}
	if len(kube.Actions()) != 0 {
		t.Errorf("describe read from Kubernetes: %v", kube.Actions())
	}
	wantErr(t, c, []string{"backup-location", "describe", "missing"}, `"missing" not found`)
}

func TestLocationGet(t *testing.T) {
	c := fake.NewSimpleClientset(fullLocation(), testLocation("other"))
	r := mustRun(t, c, nil, "backup-location", "get", "eu", "-o", "yaml")
	objs, isList := decodeAll(t, r.out)
	if isList || len(objs) != 1 || objs[0].Kind != "BackupStorageLocation" || objs[0].APIVersion != "ark.heptio.com/v1" || objs[0].Name != "eu" {
		t.Errorf("get eu -o yaml: %+v (list %v)", objs, isList)
	}
	if !strings.Contains(r.out, "  credential:\n    key: cloud\n    name: eu-creds\n") {
		t.Errorf("yaml lacks the credential reference:\n%s", r.out)
	}
	for _, args := range [][]string{
		{"backup-location", "get", "-o", "json"},
		{"bsl", "get", "-o", "json"},
		{"get", "backup-locations", "-o", "json"},
		{"get", "bsl", "-o", "json"},
	} {
		objs, isList := decodeAll(t, mustRun(t, c, nil, args...).out)
		var names []string
		for _, o := range objs {
			names = append(names, o.Name)
		}
		if !isList || strings.Join(sortedCopy(names), ",") != "eu,other" {
			t.Errorf("%v: %v (list %v)", args, names, isList)
		}
	}

	// The table is the server's, read from the home namespace.
	const base = "/apis/ark.heptio.com/v1/namespaces/heptio-ark/backupstoragelocations"
	cols := []metav1.TableColumnDefinition{{Name: "Name", Type: "string", Format: "name"}, {Name: "Provider", Type: "string"}, {Name: "Phase", Type: "string"}}
	srv := &tableServer{t: t, tables: map[string]*metav1.Table{
		base: {
			TypeMeta:          metav1.TypeMeta{Kind: "Table", APIVersion: "meta.k8s.io/v1"},
			ColumnDefinitions: cols,
			Rows:              []metav1.TableRow{row("heptio-ark", "default", "file", "Available"), row("heptio-ark", "eu", "aws", "Unavailable")},
		},
		"/apis/ark.heptio.com/v1/namespaces/empty/backupstoragelocations": {
			TypeMeta:          metav1.TypeMeta{Kind: "Table", APIVersion: "meta.k8s.io/v1"},
			ColumnDefinitions: cols,
		},
	}}
	_, kc := apiServer(t, srv.ServeHTTP)
	r = mustRun(t, nil, nil, "--kubeconfig", kc, "backup-location", "get")
	var cells [][]string
	for _, l := range strings.Split(strings.TrimSuffix(r.out, "\n"), "\n") {
		cells = append(cells, strings.Fields(l))
	}
	assertEqual(t, "table", cells, [][]string{{"NAME", "PROVIDER", "PHASE"}, {"default", "file", "Available"}, {"eu", "aws", "Unavailable"}})
	if len(srv.requests) != 1 || srv.requests[0].URL.Path != base {
		t.Errorf("requests %v", srv.requests)
	}
	r = mustRun(t, nil, nil, "--kubeconfig", kc, "backup-location", "get", "-n", "empty")
	if r.out != "" || r.err != "No backup storage locations found in namespace empty.\n" {
		t.Errorf("empty: stdout %q stderr %q", r.out, r.err)
	}
}

func TestLocationSet(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want func(*arkv1.BackupStorageLocationSpec)
	}{
		{"config merges; key= removes", []string{"--config", "region=eu-central-1,endpoint=,forcePathStyle=true"}, func(s *arkv1.BackupStorageLocationSpec) {
			s.Config = map[string]string{"region": "eu-central-1", "forcePathStyle": "true"}
		}},
		{"removing every key", []string{"--config", "region=,endpoint="}, func(s *arkv1.BackupStorageLocationSpec) { s.Config = nil }},
		{"default off", []string{"--default=false"}, func(s *arkv1.BackupStorageLocationSpec) { s.Default = false }},
		{"credential", []string{"--credential", "new-creds=key2"}, func(s *arkv1.BackupStorageLocationSpec) {
			s.Credential = &arkv1.SecretKeyReference{Name: "new-creds", Key: "key2"}
		}},
		{"credential cleared", []string{"--credential="}, func(s *arkv1.BackupStorageLocationSpec) { s.Credential = nil }},
		{"access mode", []string{"--access-mode", "ReadWrite"}, func(s *arkv1.BackupStorageLocationSpec) {
			s.AccessMode = arkv1.BackupStorageLocationAccessModeReadWrite
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := fake.NewSimpleClientset(fullLocation())
			r := mustRun(t, c, nil, append([]string{"backup-location", "set", "eu"}, tc.args...)...)
			if r.out != "Backup storage location \"eu\" updated.\n" {
				t.Errorf("stdout %q", r.out)
			}
			l := getLocation(t, c, DefaultNamespace, "eu")
			want := fullLocation()
			tc.want(&want.Spec)
			assertEqual(t, "spec", l.Spec, want.Spec)
			assertEqual(t, "status", l.Status, want.Status)
			assertEqual(t, "labels", l.Labels, want.Labels)
		})
	}

	// --default on a location that is not the default yet, and back.
	c := fake.NewSimpleClientset(testLocation("secondary"))
	mustRun(t, c, nil, "backup-location", "set", "secondary", "--default")
	if !getLocation(t, c, DefaultNamespace, "secondary").Spec.Default {
		t.Errorf("--default did not make it the default")
	}
	if r := mustRun(t, c, nil, "backup-location", "set", "secondary", "--default"); r.out != "Backup storage location \"secondary\" unchanged.\n" {
		t.Errorf("a second --default: %q", r.out)
	}
	mustRun(t, c, nil, "bsl", "set", "secondary", "--default=false")
	if getLocation(t, c, DefaultNamespace, "secondary").Spec.Default {
		t.Errorf("--default=false left it the default")
	}
	if n := len(actionsWithVerb(c, "update")); n != 2 {
		t.Errorf("%d updates, want 2 (none when nothing changes)", n)
	}

	for _, tc := range []struct {
		args    []string
		substrs []string
	}{
		{[]string{"eu"}, []string{"nothing to change"}},
		{[]string{"eu", "--config", "region"}, []string{`--config: "region" is not key=value`}},
		{[]string{"eu", "--credential", "nokey"}, []string{`--credential: "nokey" is not SECRET=KEY`}},
		{[]string{"eu", "--access-mode", "rw"}, []string{`--access-mode: "rw" is neither`}},
		{[]string{"eu", "--access-mode="}, []string{`--access-mode: "" is neither`}},
		{[]string{"missing", "--default"}, []string{`"missing" not found`}},
	} {
		c := fake.NewSimpleClientset(fullLocation())
		wantErr(t, c, append([]string{"backup-location", "set"}, tc.args...), tc.substrs...)
		if n := len(actionsWithVerb(c, "update")); n != 0 {
			t.Errorf("%v: %d updates", tc.args, n)
		}
	}

	// A conflict (someone else's write) is retried on the new version.
	c = fake.NewSimpleClientset(fullLocation())
	conflicts := 0
	c.PrependReactor("update", "backupstoragelocations", func(a clienttesting.Action) (bool, runtime.Object, error) {
		if conflicts++; conflicts == 1 {
			return true, nil, apierrors.NewConflict(arkv1.Resource("backupstoragelocations"), "eu", errors.New("the object has been modified"))
		}
		return false, nil, nil
	})
	mustRun(t, c, nil, "backup-location", "set", "eu", "--default=false")
	if conflicts != 2 || getLocation(t, c, DefaultNamespace, "eu").Spec.Default {
		t.Errorf("conflict not retried: %d updates", conflicts)
	}
}

func TestLocationDelete(t *testing.T) {
	c := fake.NewSimpleClientset(testLocation("a"), testLocation("b"))
	r := mustRun(t, c, strings.NewReader("n\n"), "backup-location", "delete", "a")
	if !strings.Contains(r.out, "Delete backup storage location a in namespace heptio-ark (the objects only: nothing in a bucket is deleted)? [y/N] ") || !strings.Contains(r.out, "Nothing deleted.") {
		t.Errorf("stdout %q", r.out)
	}
	r = mustRun(t, c, strings.NewReader("y\n"), "backup-location", "delete", "a")
	if !strings.Contains(r.out, "Backup storage location \"a\" deleted; nothing in its bucket was deleted.\n") {
		t.Errorf("stdout %q", r.out)
	}
	mustRun(t, c, nil, "delete", "backup-location", "b", "--confirm")
	if l, _ := c.ArkV1().BackupStorageLocations(DefaultNamespace).List(context.Background(), metav1.ListOptions{}); len(l.Items) != 0 {
		t.Errorf("left: %v", l.Items)
	}
	wantErr(t, c, []string{"backup-location", "delete"}, "name the backup storage locations to delete")
	wantErr(t, c, []string{"backup-location", "delete", "gone", "--confirm"}, `"gone" not found`)

	help := mustRun(t, nil, nil, "backup-location", "delete", "--help").out
	if !strings.Contains(help, "nothing in its bucket is deleted") {
		t.Errorf("help does not say the bucket is left alone:\n%s", help)
	}
}

// A backup or schedule naming a location that does not exist fails before
// anything is created, naming it; one the user may not read is the
// server's to judge.
func TestStorageLocationChecked(t *testing.T) {
	for _, args := range [][]string{
		{"backup", "create", "x", "--storage-location", "nope"},
		{"schedule", "create", "x", "--schedule", "@daily", "--storage-location", "nope"},
	} {
		c := fake.NewSimpleClientset(testLocation("default"))
		wantErr(t, c, args, `backup storage location "nope" not found in namespace heptio-ark`, "ark backup-location get")
		if n := len(actionsWithVerb(c, "create")); n != 0 {
			t.Errorf("%v: %d creates", args, n)
		}
	}

	// A tenant's backup: the location is in the home namespace.
	c := fake.NewSimpleClientset(testLocation("eu"))
	mustRun(t, c, nil, "-n", "team-a", "backup", "create", "x", "--storage-location", "eu")
	getBackup(t, c, "team-a", "x")
	wantErr(t, c, []string{"-n", "team-a", "backup", "create", "y", "--storage-location", "us"}, `"us" not found in namespace team-a or heptio-ark`)

	// Forbidden to read locations: the create goes on.
	c = fake.NewSimpleClientset()
	c.PrependReactor("get", "backupstoragelocations", func(a clienttesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(arkv1.Resource("backupstoragelocations"), "eu", errors.New("no"))
	})
	mustRun(t, c, nil, "backup", "create", "x", "--storage-location", "eu")
	mustRun(t, c, nil, "schedule", "create", "s", "--schedule", "@daily", "--storage-location", "eu")
	getBackup(t, c, DefaultNamespace, "x")
	getSchedule(t, c, "s")

	// No --storage-location: nothing to look up.
	c = fake.NewSimpleClientset()
	mustRun(t, c, nil, "backup", "create", "plain")
	if v := verbs(c); strings.Join(v, ",") != "create backups" {
		t.Errorf("actions %v", v)
	}
}

// install checks --backup-location before printing or applying anything.
func TestInstallBackupLocation(t *testing.T) {
	for _, loc := range []string{"s3://bucket/prefix?region=eu-west-1", "gs://bucket/cluster-1", "file:///var/lib/ark/bucket"} {
		r := mustRun(t, nil, nil, "install", "--dry-run", "--backup-location", loc)
		if !strings.Contains(r.out, "--backup-location="+loc+"\n") {
			t.Errorf("%s: not in the manifests", loc)
		}
	}
	for _, tc := range []struct{ loc, want string }{
		{"ftp://host/dir", `unsupported scheme "ftp"`},
		{"my-bucket/prefix", `unsupported scheme ""`},
		{"", `unsupported scheme ""`},
		{"gs:///prefix", "gs URLs must be gs://bucket"},
		{"file://var/lib/ark", "file URLs must be file:///absolute/path"},
	} {
		for _, args := range [][]string{
			{"install", "--dry-run", "--backup-location", tc.loc},
			{"install", "--backup-location", tc.loc}, // before the missing --ca-bundle-file
		} {
			r := wantErr(t, nil, args, "--backup-location", tc.want)
			if r.out != "" {
				t.Errorf("%v printed %q", args, r.out)
			}
		}
	}
}

// The binary's exit code and message for a missing location.
func TestMainMissingLocation(t *testing.T) {
	_, kc := apiServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.Method != http.MethodGet {
			t.Errorf("%s %s sent", r.Method, r.URL.Path)
		}
		w.WriteHeader(http.StatusNotFound)
		st := apierrors.NewNotFound(arkv1.Resource("backupstoragelocations"), "nope").Status()
		st.Kind, st.APIVersion = "Status", "v1"
		if err := json.NewEncoder(w).Encode(st); err != nil {
			t.Error(err)
		}
	})
	var out, errOut bytes.Buffer
	if code := Main([]string{"ark", "--kubeconfig", kc, "backup", "create", "b", "--storage-location", "nope"}, strings.NewReader(""), &out, &errOut); code != 1 {
		t.Errorf("exit %d", code)
	}
	if !strings.HasPrefix(errOut.String(), `Error: --storage-location: backup storage location "nope" not found`) {
		t.Errorf("stderr %q", errOut.String())
	}
}

// --storage-location completes with the locations' names.
func TestCompleteStorageLocation(t *testing.T) {
	c := fake.NewSimpleClientset(testLocation("default"), testLocation("eu"))
	for _, args := range [][]string{
		{"__complete", "backup", "create", "x", "--storage-location", ""},
		{"__complete", "schedule", "create", "s", "--storage-location", ""},
		{"__complete", "backup-location", "describe", ""},
		{"__complete", "backup-location", "set", ""},
	} {
		if out := mustRun(t, c, nil, args...).out; out != "default\neu\n:4\n" {
			t.Errorf("%v: %q", args, out)
		}
	}
}

// A server that serves no locations (an older one) answers a bare 404: that
// says nothing about the location, and the backup is created.
func TestStorageLocationNotServed(t *testing.T) {
	var methods []string
	_, kc := apiServer(t, func(w http.ResponseWriter, r *http.Request) {
		methods = append(methods, r.Method+" "+r.URL.Path)
		w.Header().Set("Content-Type", "application/json")
		switch r.Method {
		case http.MethodPost:
			w.WriteHeader(http.StatusCreated)
			io.Copy(w, r.Body)
		default:
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, `{"kind":"Status","apiVersion":"v1","status":"Failure","message":"the server could not find the requested resource","reason":"NotFound","details":{},"code":404}`)
		}
	})
	mustRun(t, nil, nil, "--kubeconfig", kc, "backup", "create", "b", "--storage-location", "eu")
	assertEqual(t, "requests", methods, []string{
		"GET /apis/ark.heptio.com/v1/namespaces/heptio-ark/backupstoragelocations/eu",
		"POST /apis/ark.heptio.com/v1/namespaces/heptio-ark/backups",
	})
}

// --format velero makes a ReadOnly location of format velero.
func TestLocationCreateVelero(t *testing.T) {
	c := fake.NewSimpleClientset()
	mustRun(t, c, nil, "backup-location", "create", "velero", "--provider", "aws", "--bucket", "velero-backups", "--format", "velero")
	l := getLocation(t, c, DefaultNamespace, "velero")
	if l.Spec.Format != arkv1.BackupStorageLocationFormatVelero || l.Spec.AccessMode != arkv1.BackupStorageLocationAccessModeReadOnly {
		t.Errorf("spec = %+v, want a ReadOnly velero location", l.Spec)
	}
	if r := run(t, fake.NewSimpleClientset(), nil, "backup-location", "create", "x", "--provider", "aws", "--bucket", "b", "--format", "restic"); r.runErr == nil || !strings.Contains(r.runErr.Error(), "--format") {
		t.Errorf("an unknown format: %v", r.runErr)
	}
}
