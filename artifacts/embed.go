// Package artifacts holds Ark's manifests for a real cluster, embedded so
// that `ark install` needs no checkout.
package artifacts

import "embed"

// Manifests are the *.yaml files of this directory, applied in name order.
//
//go:embed *.yaml
var Manifests embed.FS
