package localcluster

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
)

// DefaultOptions lays a cluster out in a checkout of the repository: binaries
// from _output/bin and bin/, manifests from artifacts/, and kwok's stages
// from the kwok module pinned by hack/controlplane.
func DefaultOptions(repoRoot, dir string) (Options, error) {
	stages, err := kwokStages(repoRoot)
	if err != nil {
		return Options{}, err
	}
	return Options{
		Dir:          dir,
		BinDir:       filepath.Join(repoRoot, "_output", "bin"),
		ArkAPIServer: filepath.Join(repoRoot, "bin", "ark-apiserver"),
		ArtifactsDir: filepath.Join(repoRoot, "artifacts"),
		KwokStages:   stages,
	}, nil
}

// kwokStages returns kwok's own "fast" node and pod stages (kwok's
// stage/fast set: with the node heartbeat that goes with leases), read from
// the module cache at the version hack/controlplane pins. The module is
// downloaded if the cache lacks it: _output/bin may be kept while the
// module cache is not (a CI cache of one but not the other).
func kwokStages(repoRoot string) ([]string, error) {
	cmd := exec.Command("go", "mod", "download", "-json", "sigs.k8s.io/kwok")
	cmd.Dir = filepath.Join(repoRoot, "hack", "controlplane")
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("fetching the kwok module for its stages: %w", err)
	}
	var mod struct{ Dir, Error string }
	if err := json.Unmarshal(out, &mod); err != nil {
		return nil, fmt.Errorf("reading go mod download's answer for kwok: %w", err)
	}
	if mod.Dir == "" {
		return nil, fmt.Errorf("fetching the kwok module for its stages: %s", mod.Error)
	}
	dir := mod.Dir
	var files []string
	for _, f := range []string{"node/fast/node-initialize.yaml", "node/heartbeat-with-lease/node-heartbeat-with-lease.yaml", "pod/fast/pod-ready.yaml", "pod/fast/pod-complete.yaml", "pod/fast/pod-delete.yaml"} {
		files = append(files, filepath.Join(dir, "kustomize", "stage", f))
	}
	return files, nil
}
