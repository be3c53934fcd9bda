#!/usr/bin/env bash
# Regenerates every generated file of the project: deepcopy, defaulters and
# conversions for pkg/apis, OpenAPI definitions, and the typed clientset,
# listers and informers under pkg/generated. The generators are pinned by the
# tool block in go.mod, so the output depends only on the checked-in go.mod.
# The steps mirror k8s.io/code-generator's kube_codegen.sh.
set -o errexit -o nounset -o pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="${1:-${ROOT}}"   # verify-codegen.sh passes a scratch copy of the tree
cd "${OUT}"

MODULE="$(go list -m)"
APIS="${MODULE}/pkg/apis"
HEADER="${ROOT}/hack/boilerplate.go.txt"
INTERNAL="${APIS}/ark"
VERSIONED="${APIS}/ark/v1"
GEN="${MODULE}/pkg/generated"

rm -f pkg/apis/ark/zz_generated.*.go pkg/apis/ark/v1/zz_generated.*.go
rm -rf pkg/generated/clientset pkg/generated/listers pkg/generated/informers pkg/generated/openapi/zz_generated.openapi.go

echo ">> deepcopy"
go tool deepcopy-gen --go-header-file "${HEADER}" --output-file zz_generated.deepcopy.go "${INTERNAL}" "${VERSIONED}"
echo ">> defaulters"
go tool defaulter-gen --go-header-file "${HEADER}" --output-file zz_generated.defaults.go "${VERSIONED}"
echo ">> conversions"
go tool conversion-gen --go-header-file "${HEADER}" --output-file zz_generated.conversion.go "${VERSIONED}"
echo ">> openapi"
go tool openapi-gen --go-header-file "${HEADER}" \
  --output-file zz_generated.openapi.go \
  --output-dir pkg/generated/openapi --output-pkg "${GEN}/openapi" \
  --output-model-name-file zz_generated.model_name.go \
  --report-filename /dev/null \
  k8s.io/apimachinery/pkg/apis/meta/v1 k8s.io/apimachinery/pkg/runtime \
  k8s.io/apimachinery/pkg/version k8s.io/apimachinery/pkg/api/resource \
  "${VERSIONED}"
echo ">> clientset"
go tool client-gen --go-header-file "${HEADER}" \
  --output-dir pkg/generated/clientset --output-pkg "${GEN}/clientset" \
  --clientset-name versioned --input-base "${APIS}" --input ark/v1
echo ">> listers"
go tool lister-gen --go-header-file "${HEADER}" \
  --output-dir pkg/generated/listers --output-pkg "${GEN}/listers" "${VERSIONED}"
echo ">> informers"
go tool informer-gen --go-header-file "${HEADER}" \
  --output-dir pkg/generated/informers --output-pkg "${GEN}/informers" \
  --versioned-clientset-package "${GEN}/clientset/versioned" \
  --listers-package "${GEN}/listers" "${VERSIONED}"
