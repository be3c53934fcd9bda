package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
)

// A backup, a restore and a schedule tell their story in events, through
// kube-apiserver as users read it: `kubectl describe` of each object lists
// the phases it went through, and `kubectl get events` finds them by
// object, with the component that recorded them.
func TestPhaseChangesAreEvents(t *testing.T) {
	mustKubectl(t, "create", "namespace", "events-src")
	t.Cleanup(func() { kubectl(t, "delete", "namespace", "events-src", "events-dst", "--wait=false") })
	mustKubectl(t, "create", "configmap", "one", "-n", "events-src", "--from-literal=k=v")

	if b := runBackup(t, home, &arkv1.Backup{ObjectMeta: metav1.ObjectMeta{Name: "events"}, Spec: arkv1.BackupSpec{IncludedNamespaces: []string{"events-src"}}}, ""); b.Status.Phase != arkv1.BackupPhaseCompleted {
		t.Fatalf("backup: %q %s", b.Status.Phase, b.Status.FailureReason)
	}
	t.Cleanup(func() { os.RemoveAll(filepath.Join(cluster.BucketDir, "backups", "events")) })
	describes(t, []string{"backup", "events"}, "Normal", "Started", "ark-backup", `Backup started, to storage location "default"`)
	describes(t, []string{"backup", "events"}, "Normal", "Completed", "ark-backup", "Backed up ")
	got := mustKubectl(t, "get", "events", "-n", home, "--field-selector", "involvedObject.kind=Backup,involvedObject.name=events",
		"-o", `jsonpath={range .items[*]}{.reason}/{.source.component}/{.involvedObject.apiVersion}{"\n"}{end}`)
	for _, want := range []string{"Started/ark-backup/ark.heptio.com/v1", "Completed/ark-backup/ark.heptio.com/v1"} {
		if !strings.Contains(got, want) {
			t.Errorf("kubectl get events of the backup lacks %s:\n%s", want, got)
		}
	}

	r := runRestore(t, home, &arkv1.Restore{ObjectMeta: metav1.ObjectMeta{Name: "events"}, Spec: arkv1.RestoreSpec{BackupName: "events", NamespaceMapping: map[string]string{"events-src": "events-dst"}}}, "")
	t.Cleanup(func() { ark.ArkV1().Restores(home).Delete(context.Background(), "events", metav1.DeleteOptions{}) })
	if r.Status.Phase != arkv1.RestorePhaseCompleted {
		t.Fatalf("restore: %q %s", r.Status.Phase, r.Status.FailureReason)
	}
	describes(t, []string{"restore", "events"}, "Normal", "Started", "ark-restore", "Restore of backup events started")
	describes(t, []string{"restore", "events"}, "Normal", "Completed", "ark-restore", "Restored backup events in ")

	// A restore the controller refuses says why in a Warning.
	refused := runRestore(t, home, &arkv1.Restore{ObjectMeta: metav1.ObjectMeta{Name: "events-refused"}, Spec: arkv1.RestoreSpec{ScheduleName: "events-never-made"}}, "")
	t.Cleanup(func() {
		ark.ArkV1().Restores(home).Delete(context.Background(), "events-refused", metav1.DeleteOptions{})
	})
	if refused.Status.Phase != arkv1.RestorePhaseFailedValidation {
		t.Fatalf("restore of a schedule with no backup: %q", refused.Status.Phase)
	}
	describes(t, []string{"restore", "events-refused"}, "Warning", "FailedValidation", "ark-restore", `Restore refused: spec.scheduleName: schedule "events-never-made" has no completed backup`)

	// A schedule: enabled, then its first backup.
	if _, err := ark.ArkV1().Schedules(home).Create(context.Background(), &arkv1.Schedule{
		ObjectMeta: metav1.ObjectMeta{Name: "events"},
		Spec:       arkv1.ScheduleSpec{Schedule: "@every 24h", Template: arkv1.BackupSpec{IncludedNamespaces: []string{"events-src"}, TTL: metav1.Duration{Duration: time.Hour}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ark.ArkV1().Schedules(home).Delete(context.Background(), "events", metav1.DeleteOptions{})
		for _, b := range scheduledBackups(t, "events") {
			os.RemoveAll(filepath.Join(cluster.BucketDir, "backups", b.Name))
		}
	})
	describes(t, []string{"schedule", "events"}, "Normal", "Enabled", "ark-schedule", `Schedule enabled: backups at "@every 24h"`)
	describes(t, []string{"schedule", "events"}, "Normal", "BackupCreated", "ark-schedule", "Created backup events-")
}

// describes waits until `kubectl describe` of an Ark object lists an event
// of the type and reason, from the component, whose message starts as
// given. Events are recorded asynchronously, so it waits a little.
func describes(t *testing.T, object []string, eventType, reason, component, message string) {
	t.Helper()
	eventually(t, 20*time.Second, fmt.Sprintf("kubectl describe %s lists %s %s", strings.Join(object, " "), eventType, reason), func() error {
		out, err := kubectl(t, append(append([]string{"describe"}, object...), "-n", home)...)
		if err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		_, events, ok := strings.Cut(out, "\nEvents:")
		if !ok {
			return fmt.Errorf("no Events section:\n%s", out)
		}
		for _, line := range strings.Split(events, "\n") {
			// Type  Reason  Age  From  Message, column-aligned.
			f := strings.Fields(line)
			if len(f) >= 5 && f[0] == eventType && f[1] == reason && f[3] == component && strings.HasPrefix(strings.Join(f[4:], " "), strings.Join(strings.Fields(message), " ")) {
				return nil
			}
		}
		return fmt.Errorf("events:%s", events)
	})
}
