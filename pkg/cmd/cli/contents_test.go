package cli

import (
	"bytes"
	"errors"
	"net/http"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clienttesting "k8s.io/client-go/testing"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
	"github.com/arkproject/ark/pkg/generated/clientset/versioned/fake"
)

func sampleContents() *arkv1.BackupContents {
	return &arkv1.BackupContents{
		ObjectMeta: metav1.ObjectMeta{Name: "nginx-backup", Namespace: "heptio-ark"},
		Resources: []arkv1.BackupResourceItems{
			{Resource: "configmaps", Items: []string{"nginx-example/kube-root-ca.crt", "nginx-example/nginx-conf", "nginx-example/\x1b[2Jgotcha"}},
			{Resource: "deployments.apps", Items: []string{"nginx-example/nginx-deployment"}},
			{Resource: "namespaces", Items: []string{"nginx-example"}},
			{Resource: "persistentvolumes", Items: []string{"pv-logs"}},
		},
		VolumeSnapshots: []arkv1.BackupVolumeSnapshot{
			{PersistentVolume: "pv-data", Snapshotter: "csi", VolumeID: "vol-0a1b", Phase: "Failed", Error: "no VolumeSnapshotClass for driver ebs.csi.aws.com"},
			{PersistentVolume: "pv-logs", Snapshotter: "hostpath", VolumeID: "/var/log/nginx", SnapshotID: "backups/nginx-backup/volumes/pv-logs.tar.gz", Size: 20480, Phase: "Completed"},
		},
	}
}

func TestPrintContents(t *testing.T) {
	var buf bytes.Buffer
	printContents(&buf, sampleContents())
	golden(t, "describe-backup-details.golden", buf.Bytes())

	buf.Reset()
	printContents(&buf, &arkv1.BackupContents{})
	if want := "\nResource List:             <none>\n\nVolume Snapshots:          <none included>\n"; buf.String() != want {
		t.Errorf("empty contents:\n%q\nwant\n%q", buf.String(), want)
	}
}

// contentsReactor answers backups/contents with c, or with err.
func contentsReactor(client *fake.Clientset, c *arkv1.BackupContents, err error) *int {
	calls := 0
	client.PrependReactor("get", "backups", func(a clienttesting.Action) (bool, runtime.Object, error) {
		if a.GetSubresource() != "contents" {
			return false, nil, nil
		}
		calls++
		if err != nil {
			return true, nil, err
		}
		return true, c, nil
	})
	return &calls
}

// describe --details adds what the backup holds; without it, a finished
// backup's describe says how to see it, and reads nothing more.
func TestBackupDescribeDetails(t *testing.T) {
	completed := &arkv1.Backup{ObjectMeta: metav1.ObjectMeta{Name: "nginx-backup", Namespace: DefaultNamespace}, Status: arkv1.BackupStatus{Phase: arkv1.BackupPhaseCompleted}}
	c := fake.NewSimpleClientset(completed)
	calls := contentsReactor(c, sampleContents(), nil)

	r := mustRun(t, c, nil, "backup", "describe", "nginx-backup")
	if !strings.HasSuffix(r.out, "\nResource list and volume snapshots: ark backup describe nginx-backup -n heptio-ark --details\n") || *calls != 0 {
		t.Errorf("describe without --details read the contents %d times:\n%s", *calls, r.out)
	}
	for _, args := range [][]string{{"backup", "describe", "nginx-backup", "--details"}, {"describe", "backup", "nginx-backup", "--details"}} {
		r = mustRun(t, c, nil, args...)
		for _, want := range []string{
			"Phase:                     Completed\n",
			"\nResource List:\n  configmaps:\n    - nginx-example/kube-root-ca.crt\n",
			"  deployments.apps:\n    - nginx-example/nginx-deployment\n",
			"\nVolume Snapshots:\n  pv-data:\n",
		} {
			if !strings.Contains(r.out, want) {
				t.Errorf("%s lacks %q:\n%s", strings.Join(args, " "), want, r.out)
			}
		}
		if strings.Contains(r.out, "--details\n") {
			t.Errorf("%s still suggests --details:\n%s", strings.Join(args, " "), r.out)
		}
	}
	if *calls != 2 {
		t.Errorf("backups/contents read %d times, want 2", *calls)
	}

	// A backup that has no contents: describe says why, and succeeds.
	running := &arkv1.Backup{ObjectMeta: metav1.ObjectMeta{Name: "running", Namespace: DefaultNamespace}, Status: arkv1.BackupStatus{Phase: arkv1.BackupPhaseInProgress}}
	c = fake.NewSimpleClientset(running)
	conflict := &apierrors.StatusError{ErrStatus: metav1.Status{Status: metav1.StatusFailure, Code: http.StatusConflict, Reason: metav1.StatusReasonConflict,
		Message: `backup "running" is InProgress: its contents are known once it completes`}}
	contentsReactor(c, nil, conflict)
	r = mustRun(t, c, nil, "backup", "describe", "running", "--details")
	if !strings.HasSuffix(r.out, "\nResource List: cannot read the backup's contents: backup \"running\" is InProgress: its contents are known once it completes\n") {
		t.Errorf("describe --details of a running backup:\n%s", r.out)
	}
	if r = mustRun(t, c, nil, "backup", "describe", "running"); strings.Contains(r.out, "--details") {
		t.Errorf("describe of a running backup suggests --details:\n%s", r.out)
	}
	contentsReactor(c, nil, errors.New("connection refused"))
	if r = mustRun(t, c, nil, "backup", "describe", "running", "--details"); !strings.Contains(r.out, "cannot read the backup's contents: connection refused") {
		t.Errorf("describe --details with the server down:\n%s", r.out)
	}

	// Only backups have details.
	wantErr(t, fake.NewSimpleClientset(), []string{"restore", "describe", "r", "--details"}, "unknown flag: --details")
}

func TestPrintable(t *testing.T) {
	for in, want := range map[string]string{
		"team-a/web":            "team-a/web",
		"system:controller:x":   "system:controller:x",
		"naïve":                 "naïve",
		"a\x1b[31mred":          `"a\x1b[31mred"`,
		"two\nlines":            `"two\nlines"`,
		"bad\xffutf8":           `"bad\xffutf8"`,
		"zero\u200bwidth space": `"zero\u200bwidth space"`,
	} {
		if got := printable(in); got != want {
			t.Errorf("printable(%q) = %s, want %s", in, got, want)
		}
	}
}
