package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
	"github.com/arkproject/ark/pkg/generated/clientset/versioned/fake"
)

func testSnapshotLocation(name string) *arkv1.VolumeSnapshotLocation {
	return &arkv1.VolumeSnapshotLocation{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: DefaultNamespace},
		Spec:       arkv1.VolumeSnapshotLocationSpec{Provider: "csi"},
	}
}

func getSnapshotLocation(t *testing.T, c *fake.Clientset, ns, name string) *arkv1.VolumeSnapshotLocation {
	t.Helper()
	l, err := c.ArkV1().VolumeSnapshotLocations(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("reading back snapshot location %s/%s: %v", ns, name, err)
	}
	return l
}

func TestSnapshotLocationCreateEveryFlag(t *testing.T) {
	c := fake.NewSimpleClientset()
	r := mustRun(t, c, nil, "snapshot-location", "create", "gcp-eu", "--provider", "gcp",
		"--config", "project=my-project", "--config", "snapshotLocation=europe-west1",
		"--credential", "gcp-creds=cloud", "--labels", "team=platform")
	if got := verbs(c); strings.Join(got, ",") != "create volumesnapshotlocations" {
		t.Errorf("actions = %v, want one create", got)
	}
	l := getSnapshotLocation(t, c, DefaultNamespace, "gcp-eu")
	assertEqual(t, "spec", l.Spec, arkv1.VolumeSnapshotLocationSpec{
		Provider:   "gcp",
		Config:     map[string]string{"project": "my-project", "snapshotLocation": "europe-west1"},
		Credential: &arkv1.SecretKeyReference{Name: "gcp-creds", Key: "cloud"},
	})
	assertEqual(t, "labels", l.Labels, map[string]string{"team": "platform"})
	if !strings.HasPrefix(r.out, "Volume snapshot location \"gcp-eu\" created.\nNothing acts on volume snapshot locations yet") {
		t.Errorf("stdout = %q", r.out)
	}
}

func TestSnapshotLocationCreateDefaults(t *testing.T) {
	c := fake.NewSimpleClientset()
	mustRun(t, c, nil, "snapshot-location", "create", "local", "--provider", "hostpath")
	l := getSnapshotLocation(t, c, DefaultNamespace, "local")
	assertEqual(t, "spec", l.Spec, arkv1.VolumeSnapshotLocationSpec{Provider: "hostpath"})
	if l.Labels != nil {
		t.Errorf("labels %v, want none", l.Labels)
	}
	// -n is Ark's home namespace; the short and verb-first forms are the same command.
	c = fake.NewSimpleClientset()
	mustRun(t, c, nil, "-n", "ark-home", "vsl", "create", "x", "--provider", "csi", "--config", "volumeSnapshotClass=snap")
	if l := getSnapshotLocation(t, c, "ark-home", "x"); l.Spec.Config["volumeSnapshotClass"] != "snap" {
		t.Errorf("config %v", l.Spec.Config)
	}
	mustRun(t, c, nil, "create", "snapshot-location", "y", "--provider", "csi")
	mustRun(t, c, nil, "create", "vsl", "z", "--provider", "csi")
	getSnapshotLocation(t, c, DefaultNamespace, "y")
	getSnapshotLocation(t, c, DefaultNamespace, "z")
}

func TestSnapshotLocationCreateErrors(t *testing.T) {
	base := []string{"snapshot-location", "create", "x", "--provider", "gcp"}
	for _, tc := range []struct {
		name    string
		args    []string
		substrs []string
	}{
		{"no provider", []string{"snapshot-location", "create", "x"}, []string{"--provider is required", "csi, gcp or hostpath"}},
		{"no name", []string{"snapshot-location", "create", "--provider", "gcp"}, []string{"accepts 1 arg"}},
		{"credential without key", append(base, "--credential", "creds"), []string{`--credential: "creds" is not SECRET=KEY`}},
		{"credential with empty key", append(base, "--credential", "creds="), []string{`--credential: "creds=" is not SECRET=KEY`}},
		{"config without =", append(base, "--config", "project"), []string{`--config: "project" is not key=value`}},
		{"config without value", append(base, "--config", "project="), []string{`--config: "project=" has no value`}},
		{"config key twice", append(base, "--config", "project=a,project=b"), []string{`--config: "project" is given twice`}},
		{"labels without =", append(base, "--labels", "team"), []string{`--labels: "team" is not key=value`}},
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
	c := fake.NewSimpleClientset(testSnapshotLocation("x"))
	wantErr(t, c, base, `"x" already exists`)
}

func TestSnapshotLocationGet(t *testing.T) {
	gcp := testSnapshotLocation("gcp-eu")
	gcp.Spec = arkv1.VolumeSnapshotLocationSpec{
		Provider:   "gcp",
		Config:     map[string]string{"project": "p"},
		Credential: &arkv1.SecretKeyReference{Name: "gcp-creds", Key: "cloud"},
	}
	c := fake.NewSimpleClientset(gcp, testSnapshotLocation("csi"))
	r := mustRun(t, c, nil, "snapshot-location", "get", "gcp-eu", "-o", "yaml")
	objs, isList := decodeAll(t, r.out)
	if isList || len(objs) != 1 || objs[0].Kind != "VolumeSnapshotLocation" || objs[0].APIVersion != "ark.heptio.com/v1" || objs[0].Name != "gcp-eu" {
		t.Errorf("get gcp-eu -o yaml: %+v (list %v)", objs, isList)
	}
	if !strings.Contains(r.out, "  credential:\n    key: cloud\n    name: gcp-creds\n") {
		t.Errorf("yaml lacks the credential reference:\n%s", r.out)
	}
	for _, args := range [][]string{
		{"snapshot-location", "get", "-o", "json"},
		{"vsl", "get", "-o", "json"},
		{"get", "snapshot-locations", "-o", "json"},
		{"get", "vsl", "-o", "json"},
	} {
		objs, isList := decodeAll(t, mustRun(t, c, nil, args...).out)
		var names []string
		for _, o := range objs {
			names = append(names, o.Name)
		}
		if !isList || strings.Join(sortedCopy(names), ",") != "csi,gcp-eu" {
			t.Errorf("%v: %v (list %v)", args, names, isList)
		}
	}

	// The table is the server's, read from the home namespace.
	const base = "/apis/ark.heptio.com/v1/namespaces/heptio-ark/volumesnapshotlocations"
	cols := []metav1.TableColumnDefinition{{Name: "Name", Type: "string", Format: "name"}, {Name: "Provider", Type: "string"}, {Name: "Phase", Type: "string"}}
	srv := &tableServer{t: t, tables: map[string]*metav1.Table{
		base: {
			TypeMeta:          metav1.TypeMeta{Kind: "Table", APIVersion: "meta.k8s.io/v1"},
			ColumnDefinitions: cols,
			Rows:              []metav1.TableRow{row("heptio-ark", "csi", "csi", "Unknown"), row("heptio-ark", "gcp-eu", "gcp", "Unknown")},
		},
		"/apis/ark.heptio.com/v1/namespaces/empty/volumesnapshotlocations": {
			TypeMeta:          metav1.TypeMeta{Kind: "Table", APIVersion: "meta.k8s.io/v1"},
			ColumnDefinitions: cols,
		},
	}}
	_, kc := apiServer(t, srv.ServeHTTP)
	r = mustRun(t, nil, nil, "--kubeconfig", kc, "snapshot-location", "get")
	var cells [][]string
	for _, l := range strings.Split(strings.TrimSuffix(r.out, "\n"), "\n") {
		cells = append(cells, strings.Fields(l))
	}
	assertEqual(t, "table", cells, [][]string{{"NAME", "PROVIDER", "PHASE"}, {"csi", "csi", "Unknown"}, {"gcp-eu", "gcp", "Unknown"}})
	if len(srv.requests) != 1 || srv.requests[0].URL.Path != base {
		t.Errorf("requests %v", srv.requests)
	}
	r = mustRun(t, nil, nil, "--kubeconfig", kc, "vsl", "get", "-n", "empty")
	if r.out != "" || r.err != "No volume snapshot locations found in namespace empty.\n" {
		t.Errorf("empty: stdout %q stderr %q", r.out, r.err)
	}
}

func TestSnapshotLocationDescribe(t *testing.T) {
	gcp := testSnapshotLocation("gcp-eu")
	gcp.Labels = map[string]string{"team": "platform"}
	gcp.Spec = arkv1.VolumeSnapshotLocationSpec{
		Provider:   "gcp",
		Config:     map[string]string{"project": "p", "snapshotLocation": "eu"},
		Credential: &arkv1.SecretKeyReference{Name: "gcp-creds", Key: "cloud"},
	}
	var buf bytes.Buffer
	describeSnapshotLocation(&buf, gcp)
	for _, want := range []string{"gcp-eu\n", "Phase:", "Unknown\n", "Provider:", "gcp\n", "project=p, snapshotLocation=eu\n", `key "cloud" of Secret "gcp-creds"`, "Nothing acts on volume snapshot locations yet"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("describe lacks %q:\n%s", want, buf.String())
		}
	}
	c := fake.NewSimpleClientset(gcp, testSnapshotLocation("csi"))
	out := mustRun(t, c, nil, "vsl", "describe", "gcp-eu", "csi").out
	if !strings.Contains(out, "<none> (the server's own)") || strings.Count(out, "Nothing acts on") != 2 {
		t.Errorf("describe of two:\n%s", out)
	}
	wantErr(t, c, []string{"snapshot-location", "describe", "missing"}, `"missing" not found`)
}

func TestSnapshotLocationDelete(t *testing.T) {
	c := fake.NewSimpleClientset(testSnapshotLocation("a"), testSnapshotLocation("b"), testLocation("a"))
	r := mustRun(t, c, strings.NewReader("n\n"), "snapshot-location", "delete", "a")
	if !strings.Contains(r.out, "Delete volume snapshot location a in namespace heptio-ark? [y/N] ") || !strings.Contains(r.out, "Nothing deleted.") {
		t.Errorf("stdout %q", r.out)
	}
	r = mustRun(t, c, strings.NewReader("y\n"), "vsl", "delete", "a")
	if !strings.Contains(r.out, "Volume snapshot location \"a\" deleted.\n") {
		t.Errorf("stdout %q", r.out)
	}
	mustRun(t, c, nil, "delete", "snapshot-location", "b", "--confirm")
	if l, _ := c.ArkV1().VolumeSnapshotLocations(DefaultNamespace).List(context.Background(), metav1.ListOptions{}); len(l.Items) != 0 {
		t.Errorf("left: %v", l.Items)
	}
	// The backup storage location of the same name is another object.
	getLocation(t, c, DefaultNamespace, "a")
	wantErr(t, c, []string{"snapshot-location", "delete"}, "name the volume snapshot locations to delete")
	wantErr(t, c, []string{"snapshot-location", "delete", "gone", "--confirm"}, `"gone" not found`)

	help := mustRun(t, nil, nil, "snapshot-location", "delete", "--help").out
	if !strings.Contains(help, "no volume snapshot is deleted") {
		t.Errorf("help does not say snapshots are left alone:\n%s", help)
	}
}

// Names complete from the home namespace's snapshot locations.
func TestCompleteSnapshotLocation(t *testing.T) {
	c := fake.NewSimpleClientset(testSnapshotLocation("csi"), testSnapshotLocation("gcp-eu"))
	for _, args := range [][]string{
		{"__complete", "snapshot-location", "describe", ""},
		{"__complete", "vsl", "delete", ""},
		{"__complete", "get", "vsl", ""},
	} {
		if out := mustRun(t, c, nil, args...).out; out != "csi\ngcp-eu\n:4\n" {
			t.Errorf("%v: %q", args, out)
		}
	}
}
