package integration

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
)

func newSnapshotLocation(name string) *arkv1.VolumeSnapshotLocation {
	return &arkv1.VolumeSnapshotLocation{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: home},
		Spec: arkv1.VolumeSnapshotLocationSpec{
			Provider:   "gcp",
			Config:     map[string]string{"project": "my-project", "snapshotLocation": "europe-west1"},
			Credential: &arkv1.SecretKeyReference{Name: "gcp-creds", Key: "cloud"},
		},
	}
}

// VolumeSnapshotLocations are kept, listed, selected and printed; nothing
// acts on them, so their status stays what a status write made it.
func TestSnapshotLocationCRUD(t *testing.T) {
	ts := startServer(t, serverOptions{})
	ctx := context.Background()
	vsls := ts.Client.ArkV1().VolumeSnapshotLocations(home)

	in := newSnapshotLocation("gcp-eu")
	in.Status.Phase = arkv1.VolumeSnapshotLocationPhaseAvailable
	created, err := vsls.Create(ctx, in, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if created.Status != (arkv1.VolumeSnapshotLocationStatus{}) || created.Generation != 1 {
		t.Errorf("create kept the client's status: %+v (generation %d)", created.Status, created.Generation)
	}
	if created.Spec.Credential == nil || *created.Spec.Credential != (arkv1.SecretKeyReference{Name: "gcp-creds", Key: "cloud"}) || created.Spec.Config["snapshotLocation"] != "europe-west1" {
		t.Errorf("created spec = %+v", created.Spec)
	}
	csi := &arkv1.VolumeSnapshotLocation{
		ObjectMeta: metav1.ObjectMeta{Name: "csi", Namespace: home},
		Spec:       arkv1.VolumeSnapshotLocationSpec{Provider: "csi", Config: map[string]string{"volumeSnapshotClass": "csi-snapclass"}},
	}
	if _, err := vsls.Create(ctx, csi, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := vsls.Create(ctx, &arkv1.VolumeSnapshotLocation{
		ObjectMeta: metav1.ObjectMeta{Name: "local", Namespace: home},
		Spec:       arkv1.VolumeSnapshotLocationSpec{Provider: "hostpath"},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	list, err := vsls.List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, l := range list.Items {
		names = append(names, l.Name)
	}
	if strings.Join(names, ",") != "csi,gcp-eu,local" {
		t.Errorf("listed %v", names)
	}
	for selector, want := range map[string]string{
		"metadata.name=gcp-eu": "gcp-eu",
		"spec.provider=csi":    "csi",
		"spec.provider!=gcp":   "csi,local",
		"status.phase=":        "csi,gcp-eu,local",
	} {
		l, err := vsls.List(ctx, metav1.ListOptions{FieldSelector: selector})
		if err != nil {
			t.Errorf("list by %s: %v", selector, err)
			continue
		}
		var got []string
		for _, i := range l.Items {
			got = append(got, i.Name)
		}
		if strings.Join(got, ",") != want {
			t.Errorf("list by %s: %v, want %s", selector, got, want)
		}
	}
	if _, err := vsls.List(ctx, metav1.ListOptions{FieldSelector: "spec.config.project=my-project"}); !apierrors.IsBadRequest(err) {
		t.Errorf("a field selector on an unselectable field: %v, want a 400", err)
	}

	table := getTable(t, ts, apiPrefix+home+"/volumesnapshotlocations")
	idx := columnIndex(t, table, "NAME", "PROVIDER", "PHASE", "AGE")
	cells := row(t, table, "gcp-eu")
	cell(t, cells, idx, "PROVIDER", "gcp")
	cell(t, cells, idx, "PHASE", "Unknown")
	cell(t, cells, idx, "MESSAGE", "")
	if age, _ := cells[idx["AGE"]].(string); !strings.HasSuffix(age, " ago") {
		t.Errorf("AGE cell %q", age)
	}
	cell(t, row(t, table, "local"), idx, "PROVIDER", "hostpath")
	one := getTable(t, ts, apiPrefix+home+"/volumesnapshotlocations/csi")
	if len(one.Rows) != 1 || one.Rows[0].Cells[0] != "csi" {
		t.Errorf("table of one: %+v", one.Rows)
	}

	// Discovery: short name vsl, category ark, and the status subresource.
	res, err := ts.Client.Discovery().ServerResourcesForGroupVersion(arkv1.SchemeGroupVersion.String())
	if err != nil {
		t.Fatal(err)
	}
	var found, status bool
	for _, r := range res.APIResources {
		switch r.Name {
		case "volumesnapshotlocations":
			found = true
			if r.Kind != "VolumeSnapshotLocation" || !r.Namespaced || !slices.Equal(r.ShortNames, []string{"vsl"}) || !slices.Equal(r.Categories, []string{"ark"}) {
				t.Errorf("discovery: %+v", r)
			}
		case "volumesnapshotlocations/status":
			status = true
		}
	}
	if !found || !status {
		t.Errorf("discovery lacks volumesnapshotlocations (%v) or its status (%v)", found, status)
	}

	// The OpenAPI v3 document, which kubectl explain reads, describes the kind.
	if code, body := ts.rawGet(ctx, "/openapi/v3/apis/ark.heptio.com/v1"); code != http.StatusOK ||
		!strings.Contains(string(body), "com.heptio.ark.v1.VolumeSnapshotLocationSpec") || !strings.Contains(string(body), "volumeSnapshotClass") {
		t.Errorf("OpenAPI v3 of ark.heptio.com/v1: %d, VolumeSnapshotLocationSpec missing or undocumented", code)
	}

	// A status write through the main resource is ignored, the spec change kept.
	l, err := vsls.Get(ctx, "gcp-eu", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	l.Status.Phase = arkv1.VolumeSnapshotLocationPhaseAvailable
	l.Spec.Config["project"] = "other-project"
	updated, err := vsls.Update(ctx, l, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if updated.Status.Phase != "" || updated.Spec.Config["project"] != "other-project" || updated.Generation != 2 {
		t.Errorf("update: status %+v, config %v, generation %d", updated.Status, updated.Spec.Config, updated.Generation)
	}
	// The status subresource writes status only, and checks the phase.
	updated.Status = arkv1.VolumeSnapshotLocationStatus{Phase: arkv1.VolumeSnapshotLocationPhaseUnavailable, Message: "no such project"}
	updated.Spec.Provider = "hostpath"
	st, err := vsls.UpdateStatus(ctx, updated, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if st.Status.Phase != arkv1.VolumeSnapshotLocationPhaseUnavailable || st.Spec.Provider != "gcp" || st.Generation != 2 {
		t.Errorf("status update: %+v, provider %q, generation %d", st.Status, st.Spec.Provider, st.Generation)
	}
	st.Status.Phase = "Ready"
	if _, err := vsls.UpdateStatus(ctx, st, metav1.UpdateOptions{}); !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "status.phase") {
		t.Errorf("status update with an unknown phase: %v", err)
	}
	// An update is validated as a create is.
	bad := st.DeepCopy()
	bad.Spec.Config["region"] = "us-east1"
	if _, err := vsls.Update(ctx, bad, metav1.UpdateOptions{}); !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "spec.config[region]") {
		t.Errorf("update with an unknown config key: %v", err)
	}

	if err := vsls.Delete(ctx, "gcp-eu", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := vsls.Get(ctx, "gcp-eu", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("get after delete: %v", err)
	}
}

func TestSnapshotLocationValidation(t *testing.T) {
	ts := startServer(t, serverOptions{})
	ctx := context.Background()
	tests := []struct {
		name   string
		ns     string
		mutate func(*arkv1.VolumeSnapshotLocation)
		want   []string
	}{
		{"outside the home namespace", "team-a", nil, []string{`volume snapshot locations live in Ark's home namespace "heptio-ark"`}},
		{"no provider", home, func(l *arkv1.VolumeSnapshotLocation) {
			l.Spec.Provider, l.Spec.Config, l.Spec.Credential = "", nil, nil
		}, []string{"spec.provider: Required value: one of csi, gcp, hostpath"}},
		{"Heptio Ark's aws", home, func(l *arkv1.VolumeSnapshotLocation) {
			l.Spec.Provider, l.Spec.Config = "aws", map[string]string{"region": "us-east-1"}
		}, []string{`spec.provider: Unsupported value: "aws": supported values: "csi", "gcp", "hostpath"`}},
		{"Heptio Ark's azure", home, func(l *arkv1.VolumeSnapshotLocation) { l.Spec.Provider, l.Spec.Config = "azure", nil },
			[]string{`spec.provider: Unsupported value: "azure"`}},
		{"unknown gcp key", home, func(l *arkv1.VolumeSnapshotLocation) { l.Spec.Config["zone"] = "europe-west1-b" },
			[]string{`spec.config[zone]: Unsupported value: "zone": supported values: "project", "snapshotLocation"`}},
		{"config on hostpath", home, func(l *arkv1.VolumeSnapshotLocation) {
			l.Spec.Provider, l.Spec.Config, l.Spec.Credential = "hostpath", map[string]string{"path": "/srv"}, nil
		}, []string{"spec.config[path]", "takes no config"}},
		{"credential on csi", home, func(l *arkv1.VolumeSnapshotLocation) { l.Spec.Provider, l.Spec.Config = "csi", nil },
			[]string{"spec.credential: Forbidden"}},
		{"credential without key", home, func(l *arkv1.VolumeSnapshotLocation) { l.Spec.Credential.Key = "" },
			[]string{"spec.credential.key: Required value"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newSnapshotLocation("bad")
			l.Namespace = tt.ns
			if tt.mutate != nil {
				tt.mutate(l)
			}
			_, err := ts.Client.ArkV1().VolumeSnapshotLocations(tt.ns).Create(ctx, l, metav1.CreateOptions{})
			if !apierrors.IsInvalid(err) {
				t.Fatalf("got %v, want a 422", err)
			}
			for _, want := range tt.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("422 %q lacks %q", err, want)
				}
			}
		})
	}
}
