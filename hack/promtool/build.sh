#!/usr/bin/env bash
# Builds Prometheus's promtool, which tests the alerting rules shipped in
# artifacts/monitoring (promtool test rules), from the module pinned in this
# directory into _output/bin (see hack/lib/build.sh). Usage: build.sh
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "${here}/../.." && pwd)"
bin="${OUTPUT_BIN:-${root}/_output/bin}"
mkdir -p "${bin}"
cd "${here}"
source "${root}/hack/lib/build.sh"

version="$(go list -m -f '{{.Version}}' github.com/prometheus/prometheus)"
build_cached promtool "${version}" github.com/prometheus/prometheus/cmd/promtool \
  "-s -w -X github.com/prometheus/common/version.Version=${version}" "about 7 min"
