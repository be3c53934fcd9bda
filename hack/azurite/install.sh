#!/usr/bin/env bash
# Installs Azurite, the Azure Storage emulator (MIT, from npm) the Azure Blob
# backend's tests run against, into _output/azurite, pinned to one version.
# Only the first run downloads; later runs find the installed version and
# return at once. Needs node and npm. Usage: install.sh
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "${here}/../.." && pwd)"
dir="${AZURITE_DIR:-${root}/_output/azurite}"
version=3.37.0

installed() {
  [[ -x "${dir}/node_modules/.bin/azurite-blob" ]] &&
    grep -q "\"version\": \"${version}\"" "${dir}/node_modules/azurite/package.json" 2>/dev/null
}

if ! installed; then
  for tool in node npm; do
    if ! command -v "${tool}" >/dev/null; then
      echo "install.sh: ${tool} is needed to install Azurite ${version}" >&2
      exit 1
    fi
  done
  echo ">> installing azurite ${version} from npm into ${dir} (first run only)"
  start=${SECONDS}
  mkdir -p "${dir}"
  npm install --prefix "${dir}" --no-audit --no-fund "azurite@${version}"
  if ! installed; then
    echo "install.sh: npm finished but ${dir}/node_modules/.bin/azurite-blob ${version} is not there" >&2
    exit 1
  fi
  echo ">> installed azurite in $(( SECONDS - start ))s"
fi
