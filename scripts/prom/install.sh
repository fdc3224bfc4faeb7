#!/usr/bin/env bash
# Installs the Debian packages `prometheus` and `victoria-metrics` when their binaries are missing, without letting the
# packages start their daemons (tests start their own on a free loopback port; a daemon on :9090/:8428 would interfere).
# Usage: scripts/prom/install.sh [prometheus|victoria-metrics|all]   (needs root; idempotent)
set -euo pipefail

want="${1:-all}"
pkgs=()
if [[ "$want" == all || "$want" == prometheus ]]; then
  command -v prometheus >/dev/null 2>&1 || pkgs+=(prometheus)
fi
if [[ "$want" == all || "$want" == victoria-metrics ]]; then
  command -v victoria-metrics >/dev/null 2>&1 || pkgs+=(victoria-metrics)
fi
if [[ ${#pkgs[@]} -eq 0 ]]; then
  echo "prom/install: nothing to install"
  exit 0
fi
if [[ $(id -u) -ne 0 ]]; then
  echo "prom/install: need root to install ${pkgs[*]} (apt-get install -y --no-install-recommends ${pkgs[*]})" >&2
  exit 1
fi

# policy-rc.d exit 101 = "action forbidden": maintainer scripts may not start services. Only ours is removed afterwards.
policy=/usr/sbin/policy-rc.d
ours=0
if [[ ! -e "$policy" ]]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy"
  chmod +x "$policy"
  ours=1
fi
cleanup() { if [[ $ours -eq 1 ]]; then rm -f "$policy"; fi; }
trap cleanup EXIT

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${pkgs[@]}"

# If a packaged daemon got started anyway (no policy-rc.d support), stop it so the default ports stay free.
for svc in prometheus victoria-metrics; do
  if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet "$svc" 2>/dev/null; then
    systemctl stop "$svc" || true
    systemctl disable "$svc" || true
  fi
done
echo "prom/install: installed ${pkgs[*]}"
