#!/usr/bin/env bash
# Builds Prometheus's promtool, which tests the alerting rules shipped in
# artifacts/monitoring (promtool test rules), from the module pinned in this
# directory into _output/bin, one file per version, so only the first run
# pays. Usage: build.sh
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "${here}/../.." && pwd)"
bin="${OUTPUT_BIN:-${root}/_output/bin}"
mkdir -p "${bin}"
cd "${here}"

name=promtool
version="$(go list -m -f '{{.Version}}' github.com/prometheus/prometheus)"
out="${bin}/${name}-${version}"
if [[ ! -x "${out}" ]]; then
  echo ">> building ${name} ${version} from Go modules (first run only; a few minutes on 2 cores)"
  start=${SECONDS}
  ( while sleep 60; do echo "   ... still building ${name} ($(( (SECONDS - start) / 60 )) min)"; done ) &
  ticker=$!
  trap 'kill "${ticker}" 2>/dev/null || true' EXIT
  if ! CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X github.com/prometheus/common/version.Version=${version}" -o "${out}.tmp" github.com/prometheus/prometheus/cmd/promtool; then
    rm -f "${out}.tmp"
    exit 1
  fi
  mv "${out}.tmp" "${out}"
  echo ">> built ${name} in $(( SECONDS - start ))s"
fi
ln -sf "${name}-${version}" "${bin}/${name}"
