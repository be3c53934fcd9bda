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

build() { # name version package ldflags minutes
  local name="$1" version="$2" pkg="$3" ldflags="$4" minutes="$5"
  local out="${bin}/${name}-${version}"
  if [[ -x "${out}" ]]; then
    ln -sf "${name}-${version}" "${bin}/${name}"
    return
  fi
  echo ">> building ${name} ${version} from Go modules (first run only; about ${minutes} min on 2 cores)"
  local start=${SECONDS}
  ( while sleep 60; do echo "   ... still building ${name} ($(( (SECONDS - start) / 60 )) min)"; done ) &
  local ticker=$!
  if ! CGO_ENABLED=0 go build -trimpath -ldflags "${ldflags}" -o "${out}.tmp" "${pkg}"; then
    kill "${ticker}" 2>/dev/null; rm -f "${out}.tmp"; return 1
  fi
  kill "${ticker}" 2>/dev/null || true
  mv "${out}.tmp" "${out}"
  ln -sf "${name}-${version}" "${bin}/${name}"
  echo ">> built ${name} in $(( SECONDS - start ))s"
}

targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok kubectl)
for t in "${targets[@]}"; do
  case "${t}" in
    etcd) build etcd "${ETCD_VERSION}" go.etcd.io/etcd/server/v3 "-s -w" 3 ;;
    kube-apiserver) build kube-apiserver "${KUBE_VERSION}" k8s.io/kubernetes/cmd/kube-apiserver "${kube_ldflags}" 21 ;;
    kube-controller-manager) build kube-controller-manager "${KUBE_VERSION}" k8s.io/kubernetes/cmd/kube-controller-manager "${kube_ldflags}" 6 ;;
    kube-scheduler) build kube-scheduler "${KUBE_VERSION}" k8s.io/kubernetes/cmd/kube-scheduler "${kube_ldflags}" 4 ;;
    kwok) build kwok "${KWOK_VERSION}" sigs.k8s.io/kwok/cmd/kwok "-s -w" 4 ;;
    kubectl) build kubectl "${KUBE_VERSION}" k8s.io/kubernetes/cmd/kubectl "${kube_ldflags}" 5 ;;
    *) echo "unknown binary ${t}" >&2; exit 2 ;;
  esac
done
