#!/usr/bin/env bash
# Fails when the checked-in generated code differs from what
# hack/update-codegen.sh produces, so generated files are never hand-edited.
set -o errexit -o nounset -o pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SCRATCH="$(mktemp -d)"
trap 'rm -rf "${SCRATCH}"' EXIT

# Copy only what the generators read, not _output or bin.
tar -C "${ROOT}" --exclude=./_output --exclude=./bin --exclude=./.git -cf - . | tar -C "${SCRATCH}" -xf -
"${ROOT}/hack/update-codegen.sh" "${SCRATCH}" >/dev/null

if ! diff -ru "${ROOT}/pkg" "${SCRATCH}/pkg" >"${SCRATCH}.diff"; then
  cat "${SCRATCH}.diff"; rm -f "${SCRATCH}.diff"
  echo "generated code is out of date: run hack/update-codegen.sh" >&2
  exit 1
fi
rm -f "${SCRATCH}.diff"
echo "generated code is up to date"
