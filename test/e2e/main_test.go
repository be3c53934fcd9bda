// Package e2e checks Ark the way users run it: behind a real kube-apiserver
// as an aggregated API server, with kube-controller-manager, RBAC and kubectl.
// TestMain starts the local cluster of test/localcluster once for the suite
// (through test/e2e/framework, which the tenancy suite shares).
package e2e

import (
	"os"
	"testing"
	"time"

	"github.com/arkproject/ark/pkg/generated/clientset/versioned"
	"github.com/arkproject/ark/test/e2e/framework"
	"github.com/arkproject/ark/test/localcluster"
)

// pollInterval and gcInterval are ark-apiserver's --bucket-poll-interval
// and --gc-interval in the suite.
const (
	pollInterval = time.Second
	gcInterval   = 5 * time.Second
)

var (
	cluster *localcluster.Cluster
	ark     versioned.Interface
	// arkCLI is the ark command line built from this checkout.
	arkCLI string
)

func TestMain(m *testing.M) {
	os.Exit(framework.Main(&suite{m}, framework.Options{
		BucketPollInterval: pollInterval,
		ArkArgs:            []string{"--gc-interval=" + gcInterval.String()},
	}))
}

// suite sets this package's shorthands once the cluster runs.
type suite struct{ m *testing.M }

func (s *suite) Run() int {
	cluster, ark, arkCLI = framework.Cluster, framework.Ark, framework.ArkCLI
	return s.m.Run()
}

// The framework's helpers under the names this suite's tests use.
var (
	kubectl        = framework.Kubectl
	kubectlIn      = framework.KubectlIn
	mustKubectl    = framework.MustKubectl
	eventually     = framework.Eventually
	lines          = framework.Lines
	download       = framework.Download
	tarEntries     = framework.TarEntries
	restoreResults = framework.RestoreResults
	jsonpath       = framework.Jsonpath
	runBackup      = framework.RunBackup
	runRestore     = framework.RunRestore
	hostPathClaim  = framework.HostPathClaim
)
