#!/usr/bin/env bash
# Builds the S3-compatible server the object store tests run against
# (versitygw, Apache-2.0, serving a local directory through its posix backend)
# from the module pinned in this directory into _output/bin, one file per
# version, so only the first run pays. Usage: build.sh
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "${here}/../.." && pwd)"
bin="${OUTPUT_BIN:-${root}/_output/bin}"
mkdir -p "${bin}"
cd "${here}"

name=versitygw
version="$(go list -m -f '{{.Version}}' github.com/versity/versitygw)"
out="${bin}/${name}-${version}"
if [[ ! -x "${out}" ]]; then
  echo ">> building ${name} ${version} from Go modules (first run only; under 2 min on 2 cores)"
  start=${SECONDS}
  ( while sleep 60; do echo "   ... still building ${name} ($(( (SECONDS - start) / 60 )) min)"; done ) &
  ticker=$!
  trap 'kill "${ticker}" 2>/dev/null || true' EXIT
  if ! CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.Version=${version}" -o "${out}.tmp" github.com/versity/versitygw/cmd/versitygw; then
    rm -f "${out}.tmp"
    exit 1
  fi
  mv "${out}.tmp" "${out}"
  echo ">> built ${name} in $(( SECONDS - start ))s"
fi
ln -sf "${name}-${version}" "${bin}/${name}"
