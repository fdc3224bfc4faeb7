#!/usr/bin/env bash
# Pre-install guard: only one server can provide external.metrics.k8s.io/v1beta1 (the APIService
# v1beta1.external.metrics.k8s.io names exactly one Service). Applying Baton over another provider (KEDA,
# prometheus-adapter, Datadog…) would silently take its place and break every HPA that reads that provider's metrics,
# so this refuses loudly and names the current owner.
#
#   manifests/scripts/check-apiservice.sh        exit 0: free, or already Baton's; exit 1: owned by someone else
#
# Env: KUBECTL (default kubectl), BATON_NAMESPACE (default baton-system), BATON_SERVICE (default baton).
# Extra kubectl flags (e.g. --context) can follow: check-apiservice.sh --context prod
set -euo pipefail

kubectl=${KUBECTL:-kubectl}
ns=${BATON_NAMESPACE:-baton-system}
svc=${BATON_SERVICE:-baton}
name=v1beta1.external.metrics.k8s.io

err=$(mktemp)
trap 'rm -f "$err"' EXIT
if ! owner=$("$kubectl" "$@" get apiservice "$name" -o 'jsonpath={.spec.service.namespace}/{.spec.service.name}' 2>"$err"); then
  if grep -q 'NotFound\|not found' "$err"; then
    echo "check-apiservice: $name is free; Baton can be installed."
    exit 0
  fi
  echo "check-apiservice: cannot read APIService $name:" >&2
  cat "$err" >&2
  exit 2
fi

if [[ "$owner" == "$ns/$svc" ]]; then
  echo "check-apiservice: $name already points at $ns/$svc (Baton); applying again is an upgrade."
  exit 0
fi
if [[ "$owner" == "/" ]]; then owner="the kube-apiserver itself (a Local APIService)"; else owner="Service $owner"; fi
cat >&2 <<MSG
check-apiservice: REFUSING TO INSTALL: $name is already served by $owner.
  Only one provider can serve external metrics. Installing Baton would replace it and every HPA that reads its metrics
  would lose them. Either remove the other provider first (and move its HPAs), or serve Baton's metric through it.
  Inspect: $kubectl get apiservice $name -o yaml
MSG
exit 1
