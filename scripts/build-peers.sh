#!/usr/bin/env bash
# Builds the peers bench:peers compares Baton with (kubernetes-sigs/prometheus-adapter, pinned in
# test/e2e/tools/prometheus-adapter) with scripts/build-go-tool.sh. The bin dir is the last stdout line (its --help
# exits 2, so the check looks for the text its usage prints). Cold ~2 min on 2 cores; warm < 1 s.
set -euo pipefail
REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DIR=$("$REPO_ROOT/scripts/build-go-tool.sh" prometheus-adapter peers \
  prometheus-adapter sigs.k8s.io/prometheus-adapter/cmd/adapter --prometheus-url | tail -n 1)
printf '%s\n' "$DIR/bin"
