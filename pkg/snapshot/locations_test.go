package snapshot

import (
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
)

func vsl(name, provider string, config map[string]string) *arkv1.VolumeSnapshotLocation {
	return &arkv1.VolumeSnapshotLocation{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: arkv1.VolumeSnapshotLocationSpec{Provider: provider, Config: config}}
}

func getter(locs ...*arkv1.VolumeSnapshotLocation) func(string) (*arkv1.VolumeSnapshotLocation, error) {
	return func(name string) (*arkv1.VolumeSnapshotLocation, error) {
		for _, l := range locs {
			if l.Name == name {
				return l, nil
			}
		}
		return nil, apierrors.NewNotFound(arkv1.Resource("volumesnapshotlocations"), name)
	}
}

// A backup's volume snapshot locations choose its snapshotters and their
// settings: csi's class, gcp's project and storage location; a provider
// not named snapshots nothing.
func TestForLocationsConfiguresTheNamedSnapshotters(t *testing.T) {
	server := Server{CSI: &CSI{}, GCE: &GCE{Project: "server-project"}, HostPath: &HostPath{}}
	get := getter(vsl("fast", "csi", map[string]string{"volumeSnapshotClass": "fast-snaps"}), vsl("eu", "gcp", map[string]string{"project": "p-eu", "snapshotLocation": "europe-west1"}), vsl("files", "hostpath", nil))

	locs, problems := ResolveLocations(server, []string{"eu", "fast"}, get, false)
	if len(problems) != 0 {
		t.Fatal(problems)
	}
	got := server.ForLocations(locs)
	if len(got) != 2 {
		t.Fatalf("%d snapshotters, want csi and gce", len(got))
	}
	if c := got[0].(*CSI); c.Class != "fast-snaps" || server.CSI.Class != "" {
		t.Errorf("csi class %q (server's now %q)", c.Class, server.CSI.Class)
	}
	if g := got[1].(*GCE); g.Project != "p-eu" || len(g.StorageLocations) != 1 || g.StorageLocations[0] != "europe-west1" || server.GCE.Project != "server-project" {
		t.Errorf("gce %+v (server's %+v)", g, server.GCE)
	}
	if n := len(server.All()); n != 3 {
		t.Errorf("the server has %d snapshotters, want 3", n)
	}
}

func TestResolveLocationsProblems(t *testing.T) {
	get := getter(vsl("csi-a", "csi", nil), vsl("csi-b", "csi", nil), vsl("eu", "gcp", nil), vsl("old", "aws", nil))
	withCred := vsl("eu-cred", "gcp", nil)
	withCred.Spec.Credential = &arkv1.SecretKeyReference{Name: "gcp", Key: "key"}
	getWith := func(name string) (*arkv1.VolumeSnapshotLocation, error) {
		if name == "eu-cred" {
			return withCred, nil
		}
		return get(name)
	}
	gce := Server{GCE: &GCE{}}
	for _, tc := range []struct {
		name     string
		server   Server
		names    []string
		confined bool
		want     string
	}{
		{"missing", gce, []string{"nope"}, false, `"nope" does not exist`},
		{"two of a provider", gce, []string{"csi-a", "csi-b"}, false, "both have provider csi"},
		{"gcp without GCE", Server{}, []string{"eu"}, false, "--gce-project"},
		{"gcp outside home", gce, []string{"eu"}, true, "only backups in Ark's home namespace"},
		{"gcp credential", gce, []string{"eu-cred"}, false, "remove spec.credential"},
		{"unknown provider", gce, []string{"old"}, false, `provider "aws"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, problems := ResolveLocations(tc.server, tc.names, getWith, tc.confined)
			if len(problems) != 1 || !strings.Contains(problems[0], tc.want) {
				t.Errorf("problems %q, want one with %q", problems, tc.want)
			}
		})
	}
	if _, problems := ResolveLocations(gce, []string{"csi-a"}, get, true); len(problems) != 0 {
		t.Errorf("a csi location outside the home namespace: %q", problems)
	}
}
