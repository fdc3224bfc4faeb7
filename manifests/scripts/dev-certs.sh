#!/usr/bin/env bash
# Development certificates for overlays/development: a throwaway CA and a serving certificate for the Service
# baton.baton-system.svc, written as tls.crt, tls.key and ca.crt. The overlay turns them into the Secret
# baton-serving-cert and copies ca.crt into the APIService's caBundle (kustomize replacement), so after this script
# `kubectl apply -k manifests/overlays/development` needs no other step.
#
#   manifests/scripts/dev-certs.sh [OUT_DIR]     default: manifests/overlays/development/certs (git-ignored)
#   --force                                      replace existing files (otherwise they are kept: re-running is a no-op)
#
# Env: BATON_NAMESPACE (default baton-system), BATON_SERVICE (default baton), BATON_CERT_DAYS (default 365).
set -euo pipefail

force=0
out=""
for arg in "$@"; do
  case "$arg" in
    --force) force=1 ;;
    -h|--help) sed -n '2,10p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "dev-certs: unknown option '$arg'" >&2; exit 2 ;;
    *) out="$arg" ;;
  esac
done
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
out=${out:-"$here/../overlays/development/certs"}
ns=${BATON_NAMESPACE:-baton-system}
svc=${BATON_SERVICE:-baton}
days=${BATON_CERT_DAYS:-365}

command -v openssl >/dev/null || { echo "dev-certs: openssl is not on PATH" >&2; exit 1; }
mkdir -p "$out"
if [[ $force -eq 0 && -s "$out/tls.crt" && -s "$out/tls.key" && -s "$out/ca.crt" ]]; then
  echo "dev-certs: $out already has tls.crt, tls.key and ca.crt (use --force to replace)"
  exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
openssl req -x509 -newkey rsa:2048 -nodes -days "$days" -subj "/CN=baton-dev-ca" \
  -keyout "$work/ca.key" -out "$work/ca.crt" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj "/CN=$svc.$ns.svc" \
  -keyout "$work/tls.key" -out "$work/tls.csr" 2>/dev/null
printf 'subjectAltName=DNS:%s,DNS:%s.%s,DNS:%s.%s.svc,DNS:%s.%s.svc.cluster.local\nextendedKeyUsage=serverAuth\nkeyUsage=digitalSignature,keyEncipherment\n' \
  "$svc" "$svc" "$ns" "$svc" "$ns" "$svc" "$ns" >"$work/ext.cnf"
openssl x509 -req -in "$work/tls.csr" -CA "$work/ca.crt" -CAkey "$work/ca.key" -CAcreateserial -days "$days" \
  -extfile "$work/ext.cnf" -out "$work/tls.crt" 2>/dev/null
install -m 0644 "$work/ca.crt" "$out/ca.crt"
install -m 0644 "$work/tls.crt" "$out/tls.crt"
install -m 0600 "$work/tls.key" "$out/tls.key"
echo "dev-certs: wrote $out/{tls.crt,tls.key,ca.crt} for $svc.$ns.svc (CA key discarded)"
