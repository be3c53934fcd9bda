# Sourced by the build scripts of the servers and tools the tests run
# (hack/controlplane, hack/s3server, hack/promtool): each pins a Go module
# in its own directory and builds from it into _output/bin, one file per
# version, so only the first run pays.
#
# The caller sets ${bin}, the output directory, and runs from the directory
# of its go.mod.

# build_cached NAME VERSION PACKAGE LDFLAGS ESTIMATE builds PACKAGE into
# ${bin}/NAME-VERSION unless it is there, printing progress every minute
# (ESTIMATE says how long a first build takes), and points ${bin}/NAME at it.
build_cached() {
  local name="$1" version="$2" pkg="$3" ldflags="$4" estimate="$5"
  local out="${bin}/${name}-${version}"
  if [[ ! -x "${out}" ]]; then
    echo ">> building ${name} ${version} from Go modules (first run only; ${estimate} on 2 cores)"
    local start=${SECONDS}
    ( while sleep 60; do echo "   ... still building ${name} ($(( (SECONDS - start) / 60 )) min)"; done ) &
    local ticker=$!
    if ! CGO_ENABLED=0 go build -trimpath -ldflags "${ldflags}" -o "${out}.tmp" "${pkg}"; then
      kill "${ticker}" 2>/dev/null || true
      rm -f "${out}.tmp"
      return 1
    fi
    kill "${ticker}" 2>/dev/null || true
    mv "${out}.tmp" "${out}"
    echo ">> built ${name} in $(( SECONDS - start ))s"
  fi
  ln -sf "${name}-${version}" "${bin}/${name}"
}
