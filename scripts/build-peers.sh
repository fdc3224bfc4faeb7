#!/usr/bin/env bash
# Builds the peers bench:peers compares Baton with (kubernetes-sigs/prometheus-adapter, pinned in
# test/e2e/tools/prometheus-adapter) into a cache keyed by the module's go.sum and the Go version, like
# scripts/build-cluster.sh. Progress on stderr; the bin dir is the last stdout line. Warm, it only checks the binary.
# Env: BATON_PEERS_CACHE (default $HOME/.cache/baton/peers), BATON_BUILD_JOBS (default 2: go build -p).
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
MOD="$REPO_ROOT/test/e2e/tools/prometheus-adapter"
CACHE_ROOT=${BATON_PEERS_CACHE:-$HOME/.cache/baton/peers}
JOBS=${BATON_BUILD_JOBS:-2}
log() { printf '[build-peers] %s\n' "$*" >&2; }

command -v go >/dev/null || { log "error: go is not on PATH (Go 1.26 is needed)"; exit 1; }
export GOTOOLCHAIN=local CGO_ENABLED=0
VERSION=$(awk '$1 == "require" && $2 == "sigs.k8s.io/prometheus-adapter" { print $3 }' "$MOD/go.mod")
KEY="prometheus-adapter-$VERSION.$(go env GOVERSION).$(cat "$MOD"/go.{mod,sum} | sha256sum | cut -c1-12)"
BIN_DIR="$CACHE_ROOT/$KEY/bin"
mkdir -p "$BIN_DIR"
exec 9>"$CACHE_ROOT/$KEY/.lock"
flock 9
out="$BIN_DIR/prometheus-adapter"
# A cached binary counts only if it runs: its usage text (it has no --version; --help exits 2) names --prometheus-url.
is_good() { local text; [[ -x "$1" ]] && text=$("$1" --help 2>&1 || true) && grep -qF -- '--prometheus-url' <<<"$text"; }
if is_good "$out"; then
  log "[prometheus-adapter $VERSION] cached"
else
  log "[prometheus-adapter $VERSION] building (go build -p $JOBS, niced)..."
  start=$SECONDS
  tmp="$BIN_DIR/.prometheus-adapter.tmp.$$"
  (cd "$MOD" && nice -n 10 go build -p "$JOBS" -trimpath -ldflags "-s -w" -o "$tmp" sigs.k8s.io/prometheus-adapter/cmd/adapter) \
    || { rm -f "$tmp"; log "error: go build failed (see above)"; exit 1; }
  mv -f "$tmp" "$out"
  log "[prometheus-adapter $VERSION] done in $((SECONDS - start)) s"
fi
printf '%s\n' "$BIN_DIR"
