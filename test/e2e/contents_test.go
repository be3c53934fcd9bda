package e2e

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
)

// stockFixture is a namespace whose user backs it up, and the namespace
// of another team.
const stockFixture = `apiVersion: v1
kind: Namespace
metadata: {name: stock}
---
apiVersion: v1
kind: Namespace
metadata: {name: other-team}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: shelf, namespace: stock}
data: {apples: "3"}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: till, namespace: stock}
data: {coins: "12"}
---
apiVersion: v1
kind: Secret
metadata: {name: safe, namespace: stock}
stringData: {code: "1234"}
`

// backups/contents through kube-apiserver: a namespace user reads what
// their backup holds, with kubectl get --raw and with ark backup describe
// --details, and it is what the tarball holds; the user of another
// namespace, and one who may only read backups, are refused.
func TestBackupContentsThroughTheAggregator(t *testing.T) {
	if out, err := kubectlIn(t, stockFixture, "apply", "-f", "-"); err != nil {
		t.Fatalf("fixture: %v\n%s", err, out)
	}
	t.Cleanup(func() { kubectl(t, "delete", "namespace", "stock", "other-team", "--wait=false") })
	// dora runs the stock namespace's backups and may read and edit what
	// is in it; evan runs another team's; fred may only look at stock's
	// backups.
	mustKubectl(t, "create", "rolebinding", "dora-ark", "-n", "stock", "--clusterrole=ark-namespace-user", "--user=dora")
	mustKubectl(t, "create", "rolebinding", "dora-edit", "-n", "stock", "--clusterrole=edit", "--user=dora")
	mustKubectl(t, "create", "rolebinding", "evan-ark", "-n", "other-team", "--clusterrole=ark-namespace-user", "--user=evan")
	mustKubectl(t, "create", "role", "backup-viewer", "-n", "stock", "--verb=get,list", "--resource=backups.ark.heptio.com")
	mustKubectl(t, "create", "rolebinding", "fred-views", "-n", "stock", "--role=backup-viewer", "--user=fred")
	eventually(t, 30*time.Second, "the bindings apply", func() error {
		for _, args := range [][]string{{"--as=dora", "get", "secrets", "-n", "stock"}, {"--as=evan", "get", "backups", "-n", "other-team"}, {"--as=fred", "get", "backups", "-n", "stock"}} {
			if out, err := kubectl(t, args...); err != nil {
				return fmt.Errorf("%v: %s", args, out)
			}
		}
		return nil
	})

	b := runBackup(t, "stock", &arkv1.Backup{ObjectMeta: metav1.ObjectMeta{Name: "stock-1"}}, "dora")
	if b.Status.Phase != arkv1.BackupPhaseCompleted {
		t.Fatalf("dora's backup: %+v", b.Status)
	}
	contentsPath := "/apis/ark.heptio.com/v1/namespaces/stock/backups/stock-1/contents"
	raw := mustKubectl(t, "--as=dora", "get", "--raw", contentsPath)
	var contents arkv1.BackupContents
	if err := json.Unmarshal([]byte(raw), &contents); err != nil {
		t.Fatalf("contents are not JSON: %v\n%.500s", err, raw)
	}
	if contents.Kind != "BackupContents" || contents.APIVersion != "ark.heptio.com/v1" || contents.Name != "stock-1" || contents.Namespace != "stock" {
		t.Errorf("contents are %s %s %s/%s", contents.APIVersion, contents.Kind, contents.Namespace, contents.Name)
	}
	items := map[string][]string{}
	for _, r := range contents.Resources {
		items[r.Resource] = r.Items
	}
	for resource, want := range map[string]string{"configmaps": "stock/shelf", "secrets": "stock/safe"} {
		if !slices.Contains(items[resource], want) || !slices.Contains(items["configmaps"], "stock/till") {
			t.Errorf("contents lack %s %s: %v", resource, want, items)
		}
	}
	if len(contents.VolumeSnapshots) != 0 {
		t.Errorf("volume snapshots of a namespace without volumes: %+v", contents.VolumeSnapshots)
	}

	// The contents are exactly what the tarball holds.
	var fromTarball, fromContents []string
	for name := range download(t, "stock", "stock-1") {
		// resources/<resource>/namespaces/<ns>/<name>.json or resources/<resource>/cluster/<name>.json
		parts := strings.Split(strings.TrimSuffix(name, ".json"), "/")
		switch {
		case len(parts) == 5 && parts[0] == "resources" && parts[2] == "namespaces":
			fromTarball = append(fromTarball, parts[1]+" "+parts[3]+"/"+parts[4])
		case len(parts) == 4 && parts[0] == "resources" && parts[2] == "cluster":
			fromTarball = append(fromTarball, parts[1]+" "+parts[3])
		}
	}
	for resource, list := range items {
		for _, item := range list {
			fromContents = append(fromContents, resource+" "+item)
		}
	}
	sort.Strings(fromTarball)
	sort.Strings(fromContents)
	if strings.Join(fromTarball, "\n") != strings.Join(fromContents, "\n") {
		t.Errorf("the contents are not what the tarball holds:\ncontents:\n%s\ntarball:\n%s", strings.Join(fromContents, "\n"), strings.Join(fromTarball, "\n"))
	}

	out := mustArk(t, t.TempDir(), "--as=dora", "backup", "describe", "stock-1", "-n", "stock", "--details")
	for _, want := range []string{"\nResource List:\n", "\n  configmaps:\n", "\n    - stock/shelf\n    - stock/till\n", "\n  secrets:\n    - stock/safe\n", "\nVolume Snapshots:          <none included>\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("describe --details lacks %q:\n%s", want, out)
		}
	}
	if out := mustArk(t, t.TempDir(), "--as=dora", "backup", "describe", "stock-1", "-n", "stock"); strings.Contains(out, "Resource List:") || !strings.Contains(out, "--details") {
		t.Errorf("describe without --details:\n%s", out)
	}

	// Another namespace's user, and a user who may only read backups, get 403.
	for _, user := range []string{"evan", "fred"} {
		out, err := kubectl(t, "--as="+user, "get", "--raw", contentsPath)
		if err == nil || !strings.Contains(out, "Forbidden") || !strings.Contains(out, `"backups/contents"`) {
			t.Errorf("%s reading stock-1's contents: err=%v\n%s", user, err, out)
		}
	}
}
