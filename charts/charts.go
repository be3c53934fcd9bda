// Package charts holds Ark's Helm chart (the directory ark/) and lints,
// renders and packages it with Helm's Go library, as the helm command would:
// for the chart's tests, the end-to-end suite and `make chart`, none of which
// needs a helm binary.
package charts

import (
	"errors"
	"fmt"
	"os"
	"time"

	"helm.sh/helm/v4/pkg/action"
	"helm.sh/helm/v4/pkg/chart/v2/lint/support"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	release "helm.sh/helm/v4/pkg/release/v1"
)

// Rendered is what `helm template` (or `helm install --dry-run`) shows of a
// release: its manifest, the documents in the order Helm installs them,
// and the chart's notes.
type Rendered struct {
	Manifest string
	Notes    string
}

// Render renders the chart in dir as a release named ark in namespace, with
// values over the chart's own (as --set or -f give them), without a
// cluster: the client-side dry run of `helm install`, which is also what
// `helm template` does. Templates' lookups find nothing, so certificates
// are generated anew.
func Render(dir, namespace string, values map[string]any) (*Rendered, error) {
	ch, err := loader.Load(dir)
	if err != nil {
		return nil, err
	}
	install := action.NewInstall(action.NewConfiguration())
	install.DryRunStrategy = action.DryRunClient
	install.ReleaseName = "ark"
	install.Namespace = namespace
	if values == nil {
		values = map[string]any{}
	}
	r, err := install.Run(ch, values)
	if err != nil {
		return nil, err
	}
	rel, ok := r.(*release.Release)
	if !ok {
		return nil, fmt.Errorf("helm returned a %T, not a release", r)
	}
	return &Rendered{Manifest: rel.Manifest, Notes: rel.Info.Notes}, nil
}

// Lint lints the chart in dir with values, as `helm lint` does: it returns
// every message (information, warnings, errors) and an error joining those
// of error severity.
func Lint(dir, namespace string, values map[string]any) ([]support.Message, error) {
	lint := action.NewLint()
	lint.Namespace = namespace
	res := lint.Run([]string{dir}, values)
	var errs []error
	for _, m := range res.Messages {
		if m.Severity >= support.ErrorSev {
			errs = append(errs, m)
		}
	}
	if len(errs) == 0 {
		errs = res.Errors // e.g. a chart that could not be read at all
	}
	return res.Messages, errors.Join(errs...)
}

// Package writes the chart in dir into outDir as NAME-VERSION.tgz, as `helm
// package` does, and returns its path. Version, when not empty, replaces
// the chart's version; modTime, when not zero, dates every file in the
// archive, so that the same sources give the same archive.
func Package(dir, outDir, version string, modTime time.Time) (string, error) {
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return "", err
	}
	pkg := action.NewPackage()
	pkg.Destination = outDir
	pkg.Version = version
	if !modTime.IsZero() {
		pkg.SourceDateEpoch = &modTime
	}
	return pkg.Run(dir, nil)
}
