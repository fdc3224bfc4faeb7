#!/usr/bin/env bash
# Builds KEDA (the operator and its metrics apiserver, github.com/kedacore/keda/v2 pinned in test/e2e/tools/keda) for
# the KEDA e2e with scripts/build-go-tool.sh, and copies KEDA's CRDs from the module to crds/ beside bin/. The cache dir
# is the last stdout line. Cold: ~1 min of module downloads and ~10 min of compiling on 2 cores; warm < 1 s.
set -euo pipefail
REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DIR=$("$REPO_ROOT/scripts/build-go-tool.sh" keda keda \
  keda-operator github.com/kedacore/keda/v2/cmd/operator --metrics-service-bind-address \
  keda-adapter github.com/kedacore/keda/v2/cmd/adapter --metrics-service-address | tail -n 1)
if [[ ! -s "$DIR/crds/keda.sh_scaledobjects.yaml" ]]; then
  src=$(cd "$REPO_ROOT/test/e2e/tools/keda" && GOTOOLCHAIN=local go list -m -f '{{.Dir}}' github.com/kedacore/keda/v2)
  tmp="$DIR/crds.tmp.$$"
  mkdir -p "$tmp"
  cp "$src"/config/crd/bases/*.yaml "$tmp/"
  chmod u+w "$tmp"/*.yaml
  rm -rf "$DIR/crds" && mv "$tmp" "$DIR/crds"
fi
printf '%s\n' "$DIR"
