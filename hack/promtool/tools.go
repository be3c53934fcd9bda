//go:build tools

// Package tools pins Prometheus, whose promtool tests the alerting rules
// shipped in artifacts/monitoring (promtool test rules).
package tools

import _ "github.com/prometheus/prometheus/cmd/promtool"
