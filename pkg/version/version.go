// Package version says which build of Ark is running. Both binaries carry
// it; it is set at build time with
//
//	-ldflags "-X github.com/arkproject/ark/pkg/version.Version=v1.2.3 -X github.com/arkproject/ark/pkg/version.Commit=<sha>"
//
// It is Ark's own version, kept apart from k8s.io/component-base/version:
// that one is the Kubernetes version the API server libraries emulate and
// gate features by, which Ark must not change.
package version

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// Version is the release (a git tag or `git describe`); "dev" when not set.
var Version = "dev"

// Commit is the source commit; when not set, the one Go recorded in the
// binary's build information, if any.
var Commit = ""

// ImageRepository is where ark-apiserver's image is published; its tag is
// the version (see `make image`).
const ImageRepository = "ghcr.io/arkproject/ark-apiserver"

// Image is the image of ark-apiserver built from the same source as this
// binary, "" for a development build, which has none.
func Image() string {
	if Version == "" || Version == "dev" {
		return ""
	}
	return ImageRepository + ":" + Version
}

// Info is what a binary says of its build.
type Info struct {
	Version   string `json:"version"`
	Commit    string `json:"commit,omitempty"`
	GoVersion string `json:"goVersion"`
	Platform  string `json:"platform"`
}

// Get returns this binary's build information.
func Get() Info {
	commit := Commit
	if commit == "" {
		if bi, ok := debug.ReadBuildInfo(); ok {
			for _, s := range bi.Settings {
				if s.Key == "vcs.revision" {
					commit = s.Value
				}
			}
		}
	}
	return Info{Version: Version, Commit: commit, GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
}

// String is the one-line form binaries print for --version.
func (i Info) String() string {
	s := i.Version
	if i.Commit != "" {
		s += " (commit " + i.Commit + ")"
	}
	return fmt.Sprintf("%s, %s, %s", s, i.GoVersion, i.Platform)
}
