#!/usr/bin/env bash
# Builds the S3-compatible server the object store tests run against
# (versitygw, Apache-2.0, serving a local directory through its posix backend)
# from the module pinned in this directory into _output/bin (see
# hack/lib/build.sh). Usage: build.sh
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "${here}/../.." && pwd)"
bin="${OUTPUT_BIN:-${root}/_output/bin}"
mkdir -p "${bin}"
cd "${here}"
source "${root}/hack/lib/build.sh"

version="$(go list -m -f '{{.Version}}' github.com/versity/versitygw)"
build_cached versitygw "${version}" github.com/versity/versitygw/cmd/versitygw \
  "-s -w -X main.Version=${version}" "under 2 min"
