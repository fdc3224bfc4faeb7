#!/usr/bin/env bash
# Builds LeaderWorkerSet's manager (sigs.k8s.io/lws pinned in test/e2e/tools/lws: the LWS and DisaggregatedSet
# controllers and their webhooks) for the LWS e2e with scripts/build-go-tool.sh, and copies the module's CRDs and
# webhook configurations to crds/ and webhook/ beside bin/. The cache dir is the last stdout line. Warm < 1 s.
set -euo pipefail
REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DIR=$("$REPO_ROOT/scripts/build-go-tool.sh" lws lws \
  lws-manager sigs.k8s.io/lws/cmd -leader-elect-resource-name | tail -n 1)
if [[ ! -s "$DIR/crds/leaderworkerset.x-k8s.io_leaderworkersets.yaml" || ! -s "$DIR/webhook/manifests.yaml" ]]; then
  src=$(cd "$REPO_ROOT/test/e2e/tools/lws" && GOTOOLCHAIN=local go list -m -f '{{.Dir}}' sigs.k8s.io/lws)
  tmp="$DIR/files.tmp.$$"
  mkdir -p "$tmp/crds" "$tmp/webhook"
  cp "$src"/config/crd/bases/*.yaml "$tmp/crds/"
  cp "$src"/config/webhook/manifests.yaml "$tmp/webhook/"
  chmod -R u+w "$tmp"
  rm -rf "$DIR/crds" "$DIR/webhook" && mv "$tmp/crds" "$tmp/webhook" "$DIR/" && rmdir "$tmp"
fi
printf '%s\n' "$DIR"
