package validation

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/arkproject/ark/pkg/apis/ark"
)

func newLocation(ns, name string, mutate func(*ark.BackupStorageLocationSpec)) *ark.BackupStorageLocation {
	l := &ark.BackupStorageLocation{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: ark.BackupStorageLocationSpec{
			Provider:      "aws",
			ObjectStorage: ark.ObjectStorageLocation{Bucket: "ark-backups", Prefix: "cluster-1"},
			AccessMode:    ark.BackupStorageLocationAccessModeReadWrite,
		},
	}
	if mutate != nil {
		mutate(&l.Spec)
	}
	return l
}

func TestValidateBackupStorageLocation(t *testing.T) {
	tests := []struct {
		name   string
		ns     string
		loc    string
		mutate func(*ark.BackupStorageLocationSpec)
		want   []wantErr
	}{
		{name: "valid aws", ns: homeNS, loc: "secondary"},
		{name: "valid file", ns: homeNS, loc: "secondary", mutate: func(s *ark.BackupStorageLocationSpec) {
			s.Provider, s.ObjectStorage = "file", ark.ObjectStorageLocation{Bucket: "/var/lib/ark/bucket"}
		}},
		{name: "valid gcp read-only with credential and config", ns: homeNS, loc: "secondary", mutate: func(s *ark.BackupStorageLocationSpec) {
			s.Provider = "gcp"
			s.AccessMode = ark.BackupStorageLocationAccessModeReadOnly
			s.Credential = &ark.SecretKeyReference{Name: "gcs-key", Key: "service-account.json"}
			s.Config = map[string]string{"project": "p"}
		}},
		{name: "valid azure", ns: homeNS, loc: "secondary", mutate: func(s *ark.BackupStorageLocationSpec) {
			s.Provider = "azure"
			s.Config = map[string]string{"account": "ark", "endpoint": "http://127.0.0.1:10000/ark"}
		}},
		{name: "default on the served location", ns: homeNS, loc: "default", mutate: func(s *ark.BackupStorageLocationSpec) { s.Default = true }},
		{name: "the flag's location read-only", ns: homeNS, loc: "default", mutate: func(s *ark.BackupStorageLocationSpec) {
			s.AccessMode = ark.BackupStorageLocationAccessModeReadOnly
		}},
		{name: "the flag's location with a credential", ns: homeNS, loc: "default", mutate: func(s *ark.BackupStorageLocationSpec) {
			s.Credential = &ark.SecretKeyReference{Name: "k", Key: "k"}
		}, want: []wantErr{forbidden("spec.credential").with("--backup-location")}},
		{name: "velero read-only", ns: homeNS, loc: "velero", mutate: func(s *ark.BackupStorageLocationSpec) {
			s.Format, s.AccessMode = ark.BackupStorageLocationFormatVelero, ark.BackupStorageLocationAccessModeReadOnly
		}},
		{name: "velero read-write", ns: homeNS, loc: "velero", mutate: func(s *ark.BackupStorageLocationSpec) {
			s.Format = ark.BackupStorageLocationFormatVelero
		}, want: []wantErr{invalid("spec.accessMode").with("must be ReadOnly")}},
		{name: "velero default", ns: homeNS, loc: "velero", mutate: func(s *ark.BackupStorageLocationSpec) {
			s.Format, s.AccessMode, s.Default = ark.BackupStorageLocationFormatVelero, ark.BackupStorageLocationAccessModeReadOnly, true
		}, want: []wantErr{invalid("spec.default").with("cannot be the default")}},
		{name: "velero on the flag's location", ns: homeNS, loc: "default", mutate: func(s *ark.BackupStorageLocationSpec) {
			s.Format, s.AccessMode = ark.BackupStorageLocationFormatVelero, ark.BackupStorageLocationAccessModeReadOnly
		}, want: []wantErr{forbidden("spec.format").with("--backup-location")}},
		{name: "unknown format", ns: homeNS, loc: "x", mutate: func(s *ark.BackupStorageLocationSpec) { s.Format = "restic" },
			want: []wantErr{notSupported("spec.format")}},
		{name: "default elsewhere", ns: homeNS, loc: "secondary", mutate: func(s *ark.BackupStorageLocationSpec) { s.Default = true }},
		{name: "outside the home namespace", ns: teamA, loc: "mine",
			want: []wantErr{invalid("metadata.namespace").with(`home namespace "heptio-ark"`)}},
		{name: "no provider", ns: homeNS, loc: "x", mutate: func(s *ark.BackupStorageLocationSpec) { s.Provider = "" },
			want: []wantErr{required("spec.provider")}},
		{name: "unknown provider", ns: homeNS, loc: "x", mutate: func(s *ark.BackupStorageLocationSpec) { s.Provider = "ftp" },
			want: []wantErr{notSupported("spec.provider")}},
		{name: "no bucket", ns: homeNS, loc: "x", mutate: func(s *ark.BackupStorageLocationSpec) { s.ObjectStorage.Bucket = "" },
			want: []wantErr{required("spec.objectStorage.bucket")}},
		{name: "bucket with a path", ns: homeNS, loc: "x", mutate: func(s *ark.BackupStorageLocationSpec) { s.ObjectStorage.Bucket = "b/p" },
			want: []wantErr{invalid("spec.objectStorage.bucket").with("objectStorage.prefix")}},
		{name: "relative file bucket", ns: homeNS, loc: "x", mutate: func(s *ark.BackupStorageLocationSpec) {
			s.Provider, s.ObjectStorage.Bucket = "file", "var/ark"
		}, want: []wantErr{invalid("spec.objectStorage.bucket").with("absolute")}},
		{name: "unclean file bucket", ns: homeNS, loc: "x", mutate: func(s *ark.BackupStorageLocationSpec) {
			s.Provider, s.ObjectStorage.Bucket = "file", "/var/../etc"
		}, want: []wantErr{invalid("spec.objectStorage.bucket")}},
		{name: "prefix with leading slash", ns: homeNS, loc: "x", mutate: func(s *ark.BackupStorageLocationSpec) { s.ObjectStorage.Prefix = "/ark" },
			want: []wantErr{invalid("spec.objectStorage.prefix").with("'/'")}},
		{name: "prefix with dot-dot", ns: homeNS, loc: "x", mutate: func(s *ark.BackupStorageLocationSpec) { s.ObjectStorage.Prefix = "ark/../other" },
			want: []wantErr{invalid("spec.objectStorage.prefix").with("'..'")}},
		{name: "prefix with empty segment", ns: homeNS, loc: "x", mutate: func(s *ark.BackupStorageLocationSpec) { s.ObjectStorage.Prefix = "a//b" },
			want: []wantErr{invalid("spec.objectStorage.prefix")}},
		{name: "prefix with trailing slash", ns: homeNS, loc: "x", mutate: func(s *ark.BackupStorageLocationSpec) { s.ObjectStorage.Prefix = "a/b/" }},
		{name: "bad access mode", ns: homeNS, loc: "x", mutate: func(s *ark.BackupStorageLocationSpec) { s.AccessMode = "WriteOnly" },
			want: []wantErr{notSupported("spec.accessMode")}},
		{name: "credential without name and key", ns: homeNS, loc: "x", mutate: func(s *ark.BackupStorageLocationSpec) { s.Credential = &ark.SecretKeyReference{} },
			want: []wantErr{required("spec.credential.name"), required("spec.credential.key")}},
		{name: "credential with bad key", ns: homeNS, loc: "x", mutate: func(s *ark.BackupStorageLocationSpec) {
			s.Credential = &ark.SecretKeyReference{Name: "creds", Key: "a/b"}
		}, want: []wantErr{invalid("spec.credential.key")}},
		{name: "empty config key", ns: homeNS, loc: "x", mutate: func(s *ark.BackupStorageLocationSpec) { s.Config = map[string]string{"": "v"} },
			want: []wantErr{invalid("spec.config")}},
		{name: "encrypted", ns: homeNS, loc: "default", mutate: func(s *ark.BackupStorageLocationSpec) {
			s.Encryption = &ark.BackupStorageLocationEncryption{KeySecret: "ark-keys"}
		}},
		{name: "encryption without a Secret", ns: homeNS, loc: "x", mutate: func(s *ark.BackupStorageLocationSpec) {
			s.Encryption = &ark.BackupStorageLocationEncryption{}
		}, want: []wantErr{required("spec.encryption.keySecret")}},
		{name: "encryption with a bad Secret name", ns: homeNS, loc: "x", mutate: func(s *ark.BackupStorageLocationSpec) {
			s.Encryption = &ark.BackupStorageLocationEncryption{KeySecret: "Keys/1"}
		}, want: []wantErr{invalid("spec.encryption.keySecret")}},
		{name: "encrypted velero bucket", ns: homeNS, loc: "velero", mutate: func(s *ark.BackupStorageLocationSpec) {
			s.Format, s.AccessMode = ark.BackupStorageLocationFormatVelero, ark.BackupStorageLocationAccessModeReadOnly
			s.Encryption = &ark.BackupStorageLocationEncryption{KeySecret: "ark-keys"}
		}, want: []wantErr{forbidden("spec.encryption").with("not encrypted")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			expectErrors(t, ValidateBackupStorageLocation(newLocation(tt.ns, tt.loc, tt.mutate), testScope), tt.want...)
		})
	}
}

func TestValidateBackupStorageLocationUpdate(t *testing.T) {
	old := newLocation(homeNS, "secondary", nil)
	old.ResourceVersion = "1"
	l := old.DeepCopy()
	l.Spec.AccessMode = ark.BackupStorageLocationAccessModeReadOnly
	expectErrors(t, ValidateBackupStorageLocationUpdate(l, old, testScope))
	l.Spec.Default = true
	expectErrors(t, ValidateBackupStorageLocationUpdate(l, old, testScope))
	l.Spec.Credential = &ark.SecretKeyReference{Name: "s3", Key: "cloud"}
	expectErrors(t, ValidateBackupStorageLocationUpdate(l, old, testScope))
}

func TestValidateBackupStorageLocationStatusUpdate(t *testing.T) {
	old := newLocation(homeNS, "default", nil)
	old.ResourceVersion = "1"
	l := old.DeepCopy()
	l.Status = ark.BackupStorageLocationStatus{Phase: ark.BackupStorageLocationPhaseAvailable, BackupCount: 3}
	expectErrors(t, ValidateBackupStorageLocationStatusUpdate(l, old))
	l.Status = ark.BackupStorageLocationStatus{Phase: "Lost", BackupCount: -1}
	expectErrors(t, ValidateBackupStorageLocationStatusUpdate(l, old),
		notSupported("status.phase"), invalid("status.backupCount"))
}
