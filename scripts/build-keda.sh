#!/usr/bin/env bash
# Builds KEDA (the operator and its metrics apiserver, github.com/kedacore/keda/v2 pinned in test/e2e/tools/keda) for
# the KEDA e2e, into a cache keyed by the module's go.sum and the Go version, like scripts/build-peers.sh, and copies
# KEDA's CRDs from the module next to the binaries. Progress on stderr; the cache dir (bin/, crds/) is the last stdout
# line. Warm, it only checks the binaries. Cold: ~1 min of module downloads and ~10 min of compiling on 2 cores.
# Env: BATON_KEDA_CACHE (default $HOME/.cache/baton/keda), BATON_BUILD_JOBS (default 2: go build -p).
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
MOD="$REPO_ROOT/test/e2e/tools/keda"
CACHE_ROOT=${BATON_KEDA_CACHE:-$HOME/.cache/baton/keda}
JOBS=${BATON_BUILD_JOBS:-2}
log() { printf '[build-keda] %s\n' "$*" >&2; }

command -v go >/dev/null || { log "error: go is not on PATH (Go 1.26 is needed)"; exit 1; }
export GOTOOLCHAIN=local CGO_ENABLED=0
VERSION=$(awk '$1 == "require" && $2 == "github.com/kedacore/keda/v2" { print $3 }' "$MOD/go.mod")
KEY="keda-$VERSION.$(go env GOVERSION).$(cat "$MOD"/go.{mod,sum} | sha256sum | cut -c1-12)"
DIR="$CACHE_ROOT/$KEY"
mkdir -p "$DIR/bin"
exec 9>"$DIR/.lock"
flock 9

# A cached binary counts only if it runs and prints its usage.
is_good() { local text; [[ -x "$1" ]] && text=$("$1" --help 2>&1 || true) && grep -qF -- "$2" <<<"$text"; }
build() { # <name> <package> <a flag its usage names>
  local out="$DIR/bin/$1"
  if is_good "$out" "$3"; then log "[$1 $VERSION] cached"; return; fi
  log "[$1 $VERSION] building (go build -p $JOBS, niced)..."
  local start=$SECONDS tmp="$DIR/bin/.$1.tmp.$$"
  (cd "$MOD" && nice -n 10 go build -p "$JOBS" -trimpath -ldflags "-s -w" -o "$tmp" "$2") \
    || { rm -f "$tmp"; log "error: go build of $2 failed (see above)"; exit 1; }
  mv -f "$tmp" "$out"
  log "[$1 $VERSION] done in $((SECONDS - start)) s"
}
build keda-operator github.com/kedacore/keda/v2/cmd/operator --metrics-service-bind-address
build keda-adapter github.com/kedacore/keda/v2/cmd/adapter --metrics-service-address

if [[ ! -s "$DIR/crds/keda.sh_scaledobjects.yaml" ]]; then
  src=$(cd "$MOD" && go list -m -f '{{.Dir}}' github.com/kedacore/keda/v2)
  mkdir -p "$DIR/crds.tmp.$$"
  cp "$src"/config/crd/bases/*.yaml "$DIR/crds.tmp.$$/"
  chmod u+w "$DIR/crds.tmp.$$"/*.yaml
  rm -rf "$DIR/crds" && mv "$DIR/crds.tmp.$$" "$DIR/crds"
fi
printf '%s\n' "$DIR"
