#!/usr/bin/env bash
# Builds the e2e control plane (kube-apiserver, kube-controller-manager, kube-scheduler, kubectl, etcd, kwok)
# from the Go modules pinned in test/e2e/tools/{k8s,etcd,kwok}, into a cache directory keyed by versions.
#
#   scripts/build-cluster.sh                 build what is missing; progress on stderr, bin dir on stdout (last line)
#   scripts/build-cluster.sh --print-bin-dir print the bin dir and exit (builds nothing)
#   scripts/build-cluster.sh --force         rebuild every binary even if cached
#
# Idempotent: a binary already in the cache is kept; an interrupted run resumes where it stopped.
# The Go build cache and module cache stay in their default places ($HOME/.cache/go-build, $HOME/go/pkg/mod)
# so repeated runs (and CI re-runs on the same machine) are warm. Binaries are never written into the repo.
# Env: BATON_CLUSTER_CACHE (default $HOME/.cache/baton/cluster), BATON_BUILD_JOBS (default 2: go build -p).
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TOOLS="$REPO_ROOT/test/e2e/tools"
CACHE_ROOT=${BATON_CLUSTER_CACHE:-$HOME/.cache/baton/cluster}
JOBS=${BATON_BUILD_JOBS:-2}
# Bump when the build recipe (flags, ldflags, binary set) changes, so old caches are not reused.
RECIPE_REV=r1

log() { printf '[build-cluster] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

mode=build
for arg in "$@"; do
  case "$arg" in
    --print-bin-dir) mode=print ;;
    --force) mode=force ;;
    -h|--help) sed -n '2,13p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument '$arg' (expected --print-bin-dir, --force or --help)" ;;
  esac
done

command -v go >/dev/null || die "go is not on PATH (Go 1.26 is needed)"
export GOTOOLCHAIN=local   # a dependency asking for a newer Go must fail loudly, not download a toolchain
export CGO_ENABLED=0       # static binaries like upstream's, and no gcc link step

# Version of a required module, read straight from a go.mod (fast, needs no network or module cache).
mod_version() { # <go.mod> <module path>
  local v
  v=$(awk -v m="$2" '($1 == m || ($1 == "require" && $2 == m)) { print ($1 == "require" ? $3 : $2); exit }' "$1")
  [[ -n "$v" ]] || die "$1 does not require $2"
  printf '%s' "$v"
}
K8S_VERSION=$(mod_version "$TOOLS/k8s/go.mod" k8s.io/kubernetes)
ETCD_VERSION=$(mod_version "$TOOLS/etcd/go.mod" go.etcd.io/etcd/server/v3)
KWOK_VERSION=$(mod_version "$TOOLS/kwok/go.mod" sigs.k8s.io/kwok)
GO_VERSION=$(go env GOVERSION)
SUM_HASH=$(cat "$TOOLS"/{k8s,etcd,kwok}/go.{mod,sum} | sha256sum | cut -c1-12)
KEY="k8s-$K8S_VERSION.etcd-$ETCD_VERSION.kwok-$KWOK_VERSION.$GO_VERSION.$RECIPE_REV.$SUM_HASH"
KEY_DIR="$CACHE_ROOT/$KEY"
BIN_DIR="$KEY_DIR/bin"

if [[ $mode == print ]]; then printf '%s\n' "$BIN_DIR"; exit 0; fi

mkdir -p "$BIN_DIR"
# Two builds at once would race on the same files; the second waits for the first and then finds everything built.
exec 9>"$KEY_DIR/.lock"
flock 9

# k8s version stamping: without it the binaries report v0.0.0-master (kwokctl, /version and skew checks misread it).
# Same variables as upstream hack/lib/version.sh; buildDate is the tag's date so the flags (and the cache) are stable.
k8s_minor=${K8S_VERSION#v1.}; k8s_minor=${k8s_minor%%.*}
K8S_BUILD_DATE=2026-07-22T18:07:38Z
K8S_LDFLAGS="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  K8S_LDFLAGS+=" -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$k8s_minor"
  K8S_LDFLAGS+=" -X $pkg.gitTreeState=clean -X $pkg.gitCommit= -X $pkg.buildDate=$K8S_BUILD_DATE"
done

# Table: binary name | tools module | package | ldflags | expected text in `--version` output
TARGETS=(
  "kube-apiserver|k8s|k8s.io/kubernetes/cmd/kube-apiserver|$K8S_LDFLAGS|Kubernetes $K8S_VERSION"
  "kube-controller-manager|k8s|k8s.io/kubernetes/cmd/kube-controller-manager|$K8S_LDFLAGS|Kubernetes $K8S_VERSION"
  "kube-scheduler|k8s|k8s.io/kubernetes/cmd/kube-scheduler|$K8S_LDFLAGS|Kubernetes $K8S_VERSION"
  "kubectl|k8s|k8s.io/kubernetes/cmd/kubectl|$K8S_LDFLAGS|Client Version: $K8S_VERSION"
  "etcd|etcd|go.etcd.io/etcd/server/v3|-s -w|etcd Version: ${ETCD_VERSION#v}"
  "kwok|kwok|sigs.k8s.io/kwok/cmd/kwok|-s -w|${KWOK_VERSION#v}"
)

version_of() { # <binary name> <path> ; kubectl wants `version --client`, the others `--version`
  case "$1" in
    kubectl) "$2" version --client 2>&1 ;;
    *) "$2" --version 2>&1 ;;
  esac
}

# A cached binary counts only if it runs and reports the expected version.
# Output captured first: with pipefail, `grep -q` exiting at the first match can SIGPIPE the binary and fail the check.
is_good() { local out; [[ -x "$2" ]] && out=$(version_of "$1" "$2") && grep -qF -- "$3" <<<"$out"; }

log "versions: kubernetes $K8S_VERSION, etcd $ETCD_VERSION, kwok $KWOK_VERSION, $GO_VERSION"
log "cache:    $KEY_DIR"
total_start=$SECONDS
built=0
for target in "${TARGETS[@]}"; do
  IFS='|' read -r name module pkg ldflags expect <<<"$target"
  out="$BIN_DIR/$name"
  if [[ $mode != force ]] && is_good "$name" "$out" "$expect"; then
    log "[$name] cached"
    continue
  fi
  log "[$name] building $pkg (module test/e2e/tools/$module, go build -p $JOBS, niced)..."
  start=$SECONDS
  tmp="$BIN_DIR/.$name.tmp.$$"
  timing=()
  # /usr/bin/time reports the peak RSS of the largest single process (compile or link) in the step.
  [[ -x /usr/bin/time ]] && timing=(/usr/bin/time -f "[build-cluster] [$name] %e s wall, %U s user, peak RSS %M KB")
  (cd "$TOOLS/$module" && "${timing[@]}" nice -n 10 go build -p "$JOBS" -trimpath -ldflags "$ldflags" -o "$tmp" "$pkg") \
    || { rm -f "$tmp"; die "go build of $pkg failed (see above)"; }
  is_good "$name" "$tmp" "$expect" || { version_of "$name" "$tmp" >&2 || true; rm -f "$tmp"; die "$name does not report '$expect'"; }
  mv -f "$tmp" "$out"
  built=$((built + 1))
  log "[$name] done in $((SECONDS - start)) s: $(version_of "$name" "$out" | head -n1)"
done

# kwok refuses to start without stage configs ("no stages found"); ship the upstream "fast" set next to the binaries.
# Same stages as kwok's kustomize/stage/fast: node initialize + lease heartbeat, pod ready/complete/delete.
STAGES_DIR="$KEY_DIR/kwok-stages"
STAGES=(node/fast/node-initialize.yaml node/heartbeat-with-lease/node-heartbeat-with-lease.yaml
        pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml)
if [[ $mode == force || ! -f "$STAGES_DIR/.complete" ]]; then
  KWOK_SRC=$(cd "$TOOLS/kwok" && go list -m -f '{{.Dir}}' sigs.k8s.io/kwok)
  [[ -n "$KWOK_SRC" && -d "$KWOK_SRC/kustomize/stage" ]] || die "kwok module source not found in the module cache"
  mkdir -p "$STAGES_DIR"
  for f in "${STAGES[@]}"; do install -m 0644 "$KWOK_SRC/kustomize/stage/$f" "$STAGES_DIR/$(basename "$f")"; done
  touch "$STAGES_DIR/.complete"
  log "kwok stage configs copied to $STAGES_DIR"
fi

log "built $built binaries in $((SECONDS - total_start)) s; bin dir (kwok stage configs in ../kwok-stages):"
printf '%s\n' "$BIN_DIR"
