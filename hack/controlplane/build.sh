#!/usr/bin/env bash
# Builds the local control plane (kube-apiserver, kube-controller-manager,
# kube-scheduler, etcd, kwok) and the matching kubectl from the pinned Go
# modules in this directory into _output/bin, one file per version, so only
# the first run pays. Usage: build.sh [binary...]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "${here}/../.." && pwd)"
bin="${OUTPUT_BIN:-${root}/_output/bin}"
mkdir -p "${bin}"
cd "${here}"

version_of() { go list -m -f '{{if .Replace}}{{.Replace.Version}}{{else}}{{.Version}}{{end}}' "$1"; }
KUBE_VERSION="$(version_of k8s.io/kubernetes)"
ETCD_VERSION="$(version_of go.etcd.io/etcd/server/v3)"
KWOK_VERSION="$(version_of sigs.k8s.io/kwok)"
minor="${KUBE_VERSION#v1.}"; minor="${minor%%.*}"
kube_ldflags="-s -w -X k8s.io/component-base/version.gitVersion=${KUBE_VERSION} -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=${minor} -X k8s.io/component-base/version.gitTreeState=clean"

source "${root}/hack/lib/build.sh"

targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok kubectl)
for t in "${targets[@]}"; do
  case "${t}" in
    etcd) build_cached etcd "${ETCD_VERSION}" go.etcd.io/etcd/server/v3 "-s -w" "about 3 min" ;;
    kube-apiserver) build_cached kube-apiserver "${KUBE_VERSION}" k8s.io/kubernetes/cmd/kube-apiserver "${kube_ldflags}" "about 21 min" ;;
    kube-controller-manager) build_cached kube-controller-manager "${KUBE_VERSION}" k8s.io/kubernetes/cmd/kube-controller-manager "${kube_ldflags}" "about 6 min" ;;
    kube-scheduler) build_cached kube-scheduler "${KUBE_VERSION}" k8s.io/kubernetes/cmd/kube-scheduler "${kube_ldflags}" "about 4 min" ;;
    kwok) build_cached kwok "${KWOK_VERSION}" sigs.k8s.io/kwok/cmd/kwok "-s -w" "about 4 min" ;;
    kubectl) build_cached kubectl "${KUBE_VERSION}" k8s.io/kubernetes/cmd/kubectl "${kube_ldflags}" "about 5 min" ;;
    *) echo "unknown binary ${t}" >&2; exit 2 ;;
  esac
done
