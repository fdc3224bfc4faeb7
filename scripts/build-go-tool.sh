#!/usr/bin/env bash
# Builds Go commands from a pinned tool module (test/e2e/tools/<name>: go.mod + go.sum + tools.go, never imported) into
# a cache keyed by the module's pinned version, the Go version and a hash of go.mod/go.sum, like scripts/build-cluster.sh.
# Progress on stderr; the cache dir (bin/ inside) is the last stdout line. Warm, it only checks that each binary runs.
#
#   scripts/build-go-tool.sh <tool dir under test/e2e/tools> <cache name> <binary> <package> <text its --help shows> [...]
#
# Env: BATON_TOOLS_CACHE (default $HOME/.cache/baton), BATON_BUILD_JOBS (default 2: go build -p).
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
[[ $# -ge 5 && $(( ($# - 2) % 3 )) -eq 0 ]] || { echo "usage: $0 <tool dir> <cache name> (<binary> <package> <help text>)..." >&2; exit 2; }
MOD="$REPO_ROOT/test/e2e/tools/$1"
NAME=$2
shift 2
JOBS=${BATON_BUILD_JOBS:-2}
log() { printf '[build-%s] %s\n' "$NAME" "$*" >&2; }

command -v go >/dev/null || { log "error: go is not on PATH (Go 1.26 is needed)"; exit 1; }
[[ -f "$MOD/go.mod" && -f "$MOD/go.sum" ]] || { log "error: $MOD has no go.mod/go.sum"; exit 1; }
export GOTOOLCHAIN=local CGO_ENABLED=0
# The pinned module: the first `require` line of go.mod.
VERSION=$(awk '$1 == "require" && $2 != "(" { print $3; exit }' "$MOD/go.mod")
DIR="${BATON_TOOLS_CACHE:-$HOME/.cache/baton}/$NAME/$NAME-$VERSION.$(go env GOVERSION).$(cat "$MOD"/go.{mod,sum} | sha256sum | cut -c1-12)"
mkdir -p "$DIR/bin"
exec 9>"$DIR/.lock"
flock 9

while [[ $# -gt 0 ]]; do
  bin=$1 pkg=$2 needle=$3
  shift 3
  out="$DIR/bin/$bin"
  # A cached binary counts only if it runs and its usage names the expected text.
  if [[ -x "$out" ]] && grep -qF -- "$needle" <<<"$("$out" --help 2>&1 || true)"; then
    log "[$bin $VERSION] cached"
    continue
  fi
  log "[$bin $VERSION] building (go build -p $JOBS, niced)..."
  start=$SECONDS
  tmp="$DIR/bin/.$bin.tmp.$$"
  (cd "$MOD" && nice -n 10 go build -p "$JOBS" -trimpath -ldflags "-s -w" -o "$tmp" "$pkg") \
    || { rm -f "$tmp"; log "error: go build of $pkg failed (see above)"; exit 1; }
  mv -f "$tmp" "$out"
  log "[$bin $VERSION] done in $((SECONDS - start)) s"
done
printf '%s\n' "$DIR"
