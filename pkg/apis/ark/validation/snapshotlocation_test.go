package validation

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/arkproject/ark/pkg/apis/ark"
)

func newSnapshotLocation(ns, name string, mutate func(*ark.VolumeSnapshotLocationSpec)) *ark.VolumeSnapshotLocation {
	l := &ark.VolumeSnapshotLocation{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: ark.VolumeSnapshotLocationSpec{
			Provider: "gcp",
			Config:   map[string]string{"project": "my-project", "snapshotLocation": "europe-west1"},
		},
	}
	if mutate != nil {
		mutate(&l.Spec)
	}
	return l
}

func TestValidateVolumeSnapshotLocation(t *testing.T) {
	tests := []struct {
		name   string
		ns     string
		mutate func(*ark.VolumeSnapshotLocationSpec)
		want   []wantErr
	}{
		{name: "valid gcp", ns: homeNS},
		{name: "valid gcp without config", ns: homeNS, mutate: func(s *ark.VolumeSnapshotLocationSpec) { s.Config = nil }},
		{name: "valid gcp with credential", ns: homeNS, mutate: func(s *ark.VolumeSnapshotLocationSpec) {
			s.Credential = &ark.SecretKeyReference{Name: "gcp-creds", Key: "service-account.json"}
		}},
		{name: "valid csi", ns: homeNS, mutate: func(s *ark.VolumeSnapshotLocationSpec) {
			s.Provider, s.Config = "csi", map[string]string{"volumeSnapshotClass": "csi-hostpath-snapclass"}
		}},
		{name: "valid hostpath", ns: homeNS, mutate: func(s *ark.VolumeSnapshotLocationSpec) { s.Provider, s.Config = "hostpath", nil }},
		{name: "outside the home namespace", ns: teamA,
			want: []wantErr{invalid("metadata.namespace").with(`volume snapshot locations live in Ark's home namespace "heptio-ark"`)}},
		{name: "no provider", ns: homeNS, mutate: func(s *ark.VolumeSnapshotLocationSpec) { s.Provider, s.Config = "", nil },
			want: []wantErr{required("spec.provider").with("csi, gcp, hostpath")}},
		{name: "Heptio Ark's aws", ns: homeNS, mutate: func(s *ark.VolumeSnapshotLocationSpec) {
			s.Provider, s.Config = "aws", map[string]string{"region": "us-east-1"}
		}, want: []wantErr{notSupported("spec.provider")}},
		{name: "Heptio Ark's azure", ns: homeNS, mutate: func(s *ark.VolumeSnapshotLocationSpec) {
			s.Provider = "azure"
			s.Credential = &ark.SecretKeyReference{Name: "azure", Key: "cloud"}
		}, want: []wantErr{notSupported("spec.provider")}},
		{name: "provider in another case", ns: homeNS, mutate: func(s *ark.VolumeSnapshotLocationSpec) { s.Provider = "GCP" },
			want: []wantErr{notSupported("spec.provider")}},
		{name: "unknown gcp key", ns: homeNS, mutate: func(s *ark.VolumeSnapshotLocationSpec) { s.Config["region"] = "us-east1" },
			want: []wantErr{notSupported("spec.config[region]")}},
		{name: "misspelt gcp key", ns: homeNS, mutate: func(s *ark.VolumeSnapshotLocationSpec) {
			s.Config = map[string]string{"snapshotlocation": "eu"}
		}, want: []wantErr{notSupported("spec.config[snapshotlocation]")}},
		{name: "empty gcp value", ns: homeNS, mutate: func(s *ark.VolumeSnapshotLocationSpec) { s.Config["project"] = " " },
			want: []wantErr{invalid("spec.config[project]").with("must not be empty")}},
		{name: "gcp key on csi", ns: homeNS, mutate: func(s *ark.VolumeSnapshotLocationSpec) { s.Provider = "csi" },
			want: []wantErr{notSupported("spec.config[project]"), notSupported("spec.config[snapshotLocation]")}},
		{name: "bad snapshot class", ns: homeNS, mutate: func(s *ark.VolumeSnapshotLocationSpec) {
			s.Provider, s.Config = "csi", map[string]string{"volumeSnapshotClass": "Not_A_Name"}
		}, want: []wantErr{invalid("spec.config[volumeSnapshotClass]")}},
		{name: "config on hostpath", ns: homeNS, mutate: func(s *ark.VolumeSnapshotLocationSpec) {
			s.Provider, s.Config = "hostpath", map[string]string{"path": "/var/lib"}
		}, want: []wantErr{invalid("spec.config[path]").with("takes no config")}},
		{name: "empty config key", ns: homeNS, mutate: func(s *ark.VolumeSnapshotLocationSpec) { s.Config = map[string]string{"": "v"} },
			want: []wantErr{invalid("spec.config").with("must not be empty")}},
		{name: "credential on csi", ns: homeNS, mutate: func(s *ark.VolumeSnapshotLocationSpec) {
			s.Provider, s.Config = "csi", nil
			s.Credential = &ark.SecretKeyReference{Name: "c", Key: "k"}
		}, want: []wantErr{forbidden("spec.credential").with("as the backup's requester")}},
		{name: "credential on hostpath", ns: homeNS, mutate: func(s *ark.VolumeSnapshotLocationSpec) {
			s.Provider, s.Config = "hostpath", nil
			s.Credential = &ark.SecretKeyReference{Name: "c", Key: "k"}
		}, want: []wantErr{forbidden("spec.credential").with("backup's bucket")}},
		{name: "credential without name and key", ns: homeNS, mutate: func(s *ark.VolumeSnapshotLocationSpec) { s.Credential = &ark.SecretKeyReference{} },
			want: []wantErr{required("spec.credential.name"), required("spec.credential.key")}},
		{name: "credential with bad key", ns: homeNS, mutate: func(s *ark.VolumeSnapshotLocationSpec) {
			s.Credential = &ark.SecretKeyReference{Name: "creds", Key: "a/b"}
		}, want: []wantErr{invalid("spec.credential.key")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			expectErrors(t, ValidateVolumeSnapshotLocation(newSnapshotLocation(tt.ns, "gcp-eu", tt.mutate), testScope), tt.want...)
		})
	}
}

// The refusal of an unsupported provider lists the supported ones, so a
// Heptio Ark manifest's author sees what to write instead.
func TestVolumeSnapshotLocationProviderMessage(t *testing.T) {
	errs := ValidateVolumeSnapshotLocation(newSnapshotLocation(homeNS, "x", func(s *ark.VolumeSnapshotLocationSpec) { s.Provider, s.Config = "aws", nil }), testScope)
	if len(errs) != 1 || !strings.Contains(errs.ToAggregate().Error(), `supported values: "csi", "gcp", "hostpath"`) {
		t.Errorf("errors = %v", errs)
	}
	if got := strings.Join(SnapshotProviders(), ","); got != "csi,gcp,hostpath" {
		t.Errorf("SnapshotProviders() = %s", got)
	}
}

func TestValidateVolumeSnapshotLocationUpdate(t *testing.T) {
	old := newSnapshotLocation(homeNS, "gcp-eu", nil)
	old.ResourceVersion = "1"
	l := old.DeepCopy()
	l.Spec.Config["project"] = "other"
	l.Spec.Credential = &ark.SecretKeyReference{Name: "gcp", Key: "key.json"}
	expectErrors(t, ValidateVolumeSnapshotLocationUpdate(l, old))
	l.Spec.Provider = "hostpath"
	expectErrors(t, ValidateVolumeSnapshotLocationUpdate(l, old),
		invalid("spec.config[project]"), invalid("spec.config[snapshotLocation]"), forbidden("spec.credential"))
	l = old.DeepCopy()
	l.Namespace = teamA
	if errs := ValidateVolumeSnapshotLocationUpdate(l, old); len(errs) == 0 || errs[0].Type != field.ErrorTypeInvalid {
		t.Errorf("moving namespaces: %v", errs)
	}
}

func TestValidateVolumeSnapshotLocationStatusUpdate(t *testing.T) {
	old := newSnapshotLocation(homeNS, "gcp-eu", nil)
	old.ResourceVersion = "1"
	l := old.DeepCopy()
	l.Status = ark.VolumeSnapshotLocationStatus{Phase: ark.VolumeSnapshotLocationPhaseUnavailable, Message: "project not found"}
	expectErrors(t, ValidateVolumeSnapshotLocationStatusUpdate(l, old))
	l.Status.Phase = "Ready"
	expectErrors(t, ValidateVolumeSnapshotLocationStatusUpdate(l, old), notSupported("status.phase"))
}
