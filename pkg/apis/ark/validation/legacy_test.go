package validation

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/arkproject/ark/pkg/apis/ark"
)

// Heptio Ark's fields: the deprecated hooks alias may not be set with pre
// (defaulting moves a lone alias to pre before validation), and volume
// snapshot locations are names, each once.
func TestValidateHeptioArkFields(t *testing.T) {
	const hook0 = "spec.hooks.resources[0]"
	tests := []struct {
		name   string
		mutate func(*ark.BackupSpec)
		want   []wantErr
	}{
		{name: "snapshot locations", mutate: func(s *ark.BackupSpec) { s.VolumeSnapshotLocations = []string{"gcp-eu", "csi"} }},
		{
			name:   "a snapshot location twice",
			mutate: func(s *ark.BackupSpec) { s.VolumeSnapshotLocations = []string{"csi", "csi"} },
			want:   []wantErr{duplicate("spec.volumeSnapshotLocations[1]")},
		},
		{
			name:   "a snapshot location that is not a name",
			mutate: func(s *ark.BackupSpec) { s.VolumeSnapshotLocations = []string{"Not_A_Name"} },
			want:   []wantErr{invalid("spec.volumeSnapshotLocations[0]")},
		},
		{
			name: "hooks and pre together",
			mutate: func(s *ark.BackupSpec) {
				h := validHookSpec("freeze")
				h.Hooks = h.PreHooks
				s.Hooks.Resources = []ark.BackupResourceHookSpec{h}
			},
			want: []wantErr{forbidden(hook0 + ".hooks").with("deprecated name of pre")},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			expectErrors(t, ValidateBackup(newBackup(homeNS, tc.mutate), testScope), tc.want...)
		})
	}
}

// A restore from a schedule whose backup the server recorded in
// spec.backupName (as Heptio Ark did) stays valid through later updates,
// such as a label change; a client cannot set backupName with
// scheduleName itself.
func TestValidateRestoreResolvedFromSchedule(t *testing.T) {
	old := newRestore(homeNS, func(s *ark.RestoreSpec) { s.BackupName, s.ScheduleName = "", "daily" })
	old.ResourceVersion = "3"
	old.Status.Phase = ark.RestorePhaseCompleted
	old.Status.BackupName = "daily-20261204000000"
	old.Spec.BackupName = old.Status.BackupName
	if !ResolvedFromSchedule(old) {
		t.Fatal("not seen as resolved from its schedule")
	}
	r := old.DeepCopy()
	r.Labels = map[string]string{"a": "b"}
	expectErrors(t, ValidateRestoreUpdate(r, old, testScope))

	// Set by a client on create, both are refused as ever.
	created := newRestore(homeNS, func(s *ark.RestoreSpec) { s.BackupName, s.ScheduleName = "b", "daily" })
	expectErrors(t, ValidateRestore(created, testScope), invalid("spec.scheduleName"))

	// Nor may an update point the recorded name elsewhere.
	r = old.DeepCopy()
	old.Status.Phase = ark.RestorePhaseNew
	r.Spec.BackupName = "other"
	expectErrors(t, ValidateRestoreUpdate(r, old, testScope), invalid("spec.scheduleName"))
}

func TestValidateDeleteBackupRequest(t *testing.T) {
	for _, tc := range []struct {
		name string
		req  ark.DeleteBackupRequest
		want []wantErr
	}{
		{name: "as Heptio Ark's client sends it", req: ark.DeleteBackupRequest{
			ObjectMeta: metav1.ObjectMeta{Name: "nightly-x7k2p", Labels: map[string]string{LabelDeleteBackupName: "nightly", LabelDeleteBackupUID: "0b4f"}},
			Spec:       ark.DeleteBackupRequestSpec{BackupName: "nightly"}}},
		{name: "no backup", req: ark.DeleteBackupRequest{}, want: []wantErr{required("spec.backupName")}},
		{name: "not a name", req: ark.DeleteBackupRequest{Spec: ark.DeleteBackupRequestSpec{BackupName: "a/b"}}, want: []wantErr{invalid("spec.backupName")}},
		{name: "label names another backup", req: ark.DeleteBackupRequest{
			ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{LabelDeleteBackupName: "other"}},
			Spec:       ark.DeleteBackupRequestSpec{BackupName: "nightly"}},
			want: []wantErr{invalid("metadata.labels[ark.heptio.com/backup-name]")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.req.Namespace = homeNS
			expectErrors(t, ValidateDeleteBackupRequest(&tc.req), tc.want...)
		})
	}
}
