// Package tenancy attacks Ark's namespace self-service the way a tenant
// would, through the real kube-apiserver of the local cluster: every test is
// an attack that must fail with a clear reason and leave nothing created,
// read, changed or deleted that should not be, next to the legitimate use
// that must keep working.
package tenancy

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
	"github.com/arkproject/ark/test/e2e/framework"
	"github.com/arkproject/ark/test/localcluster"
)

const home = localcluster.HomeNamespace

func TestMain(m *testing.M) {
	os.Exit(framework.Main(m, framework.Options{
		BucketPollInterval: time.Second,
		ArkArgs:            []string{"--gc-interval=5s"},
	}))
}

var (
	kubectl     = framework.Kubectl
	kubectlIn   = framework.KubectlIn
	mustKubectl = framework.MustKubectl
	eventually  = framework.Eventually
)

// tenant creates namespace ns and binds each user to a ClusterRole in it
// ("admin" is the built-in namespace admin, which includes
// ark-namespace-user), then waits until the bindings apply.
func tenant(t *testing.T, ns string, roles map[string]string) {
	t.Helper()
	mustKubectl(t, "create", "namespace", ns)
	t.Cleanup(func() { kubectl(t, "delete", "namespace", ns, "--wait=false") })
	for user, role := range roles {
		mustKubectl(t, "create", "rolebinding", user+"-"+role, "-n", ns, "--clusterrole="+role, "--user="+user)
	}
	for user := range roles {
		eventually(t, 30*time.Second, user+"'s rights in "+ns+" apply", func() error {
			out, err := kubectl(t, "auth", "can-i", "create", "backups.ark.heptio.com", "-n", ns, "--as="+user)
			if err != nil || strings.TrimSpace(out) != "yes" {
				return fmt.Errorf("can-i: %v %s", err, out)
			}
			return nil
		})
	}
}

// canI asks kube-apiserver whether user may do verb on resource in ns.
func canI(t *testing.T, user, verb, resource, ns string) bool {
	t.Helper()
	out, _ := kubectl(t, "auth", "can-i", verb, resource, "-n", ns, "--as="+user)
	return strings.TrimSpace(out) == "yes"
}

// backup creates a backup as user and waits for it to finish.
func backup(t *testing.T, ns, name, user string, mutate func(*arkv1.BackupSpec)) *arkv1.Backup {
	t.Helper()
	b := &arkv1.Backup{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if mutate != nil {
		mutate(&b.Spec)
	}
	return framework.RunBackup(t, ns, b, user)
}

// restore creates a restore as user and waits for it to finish.
func restore(t *testing.T, ns, name, user string, spec arkv1.RestoreSpec) *arkv1.Restore {
	t.Helper()
	return framework.RunRestore(t, ns, &arkv1.Restore{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: spec}, user)
}

// results returns a finished restore's per-item results by "resource ns/name".
func results(t *testing.T, ns, name string) map[string]map[string]string {
	t.Helper()
	items, _ := framework.RestoreResults(t, ns, name)
	out := map[string]map[string]string{}
	for _, it := range items {
		out[it["resource"]+" "+it["namespace"]+"/"+it["name"]] = it
	}
	return out
}

// exists reports whether kubectl finds the object, as the administrator.
func exists(t *testing.T, args ...string) bool {
	t.Helper()
	out, err := kubectl(t, append([]string{"get"}, args...)...)
	if err != nil && !strings.Contains(out, "NotFound") {
		t.Fatalf("kubectl get %v: %v\n%s", args, err, out)
	}
	return err == nil
}

func ctx() context.Context { return context.Background() }

// errNotYet is what eventually's functions return while waiting.
var errNotYet = fmt.Errorf("not yet")
