#!/usr/bin/env bash
# Smoke test for the binaries from scripts/build-cluster.sh: proves the flags in the cluster-harness reference.
#
#   scripts/cluster-smoke.sh          etcd + kube-apiserver on 127.0.0.1 (free ports, fresh certs), expects /readyz = ok
#   scripts/cluster-smoke.sh --full   also kube-controller-manager, kube-scheduler and kwok: a fake node goes Ready
#                                     (not-ready taint removed) and a Deployment's pod is scheduled and Running
#
# Everything is started from a fresh temp dir and stopped by PID on exit, pass or fail.
# Env: BATON_CLUSTER_BIN (default: scripts/build-cluster.sh --print-bin-dir), KEEP_RUN_DIR=1 keeps the temp dir.
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
full=false
for arg in "$@"; do
  case "$arg" in
    --full) full=true ;;
    -h|--help) sed -n '2,9p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "cluster-smoke: unknown argument '$arg' (expected --full or --help)" >&2; exit 2 ;;
  esac
done

log() { printf '[cluster-smoke +%3ss] %s\n' "$SECONDS" "$*" >&2; }
BIN=${BATON_CLUSTER_BIN:-$("$REPO_ROOT/scripts/build-cluster.sh" --print-bin-dir)}
STAGES="$BIN/../kwok-stages"
for b in etcd kube-apiserver kubectl kube-controller-manager kube-scheduler kwok; do
  [[ -x "$BIN/$b" ]] || { log "missing $BIN/$b: run scripts/build-cluster.sh first"; exit 1; }
done

RUN=$(mktemp -d "${TMPDIR:-/tmp}/baton-cluster-smoke.XXXXXX")
PIDS=()   # name:pid, in start order
ok=false
cleanup() {
  local i entry
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do   # stop in reverse start order: clients before etcd
    entry=${PIDS[i]}
    kill "${entry#*:}" 2>/dev/null || true
    wait "${entry#*:}" 2>/dev/null || true
  done
  if ! $ok; then
    for f in "$RUN"/*.log; do [[ -f "$f" ]] && { echo "----- tail of $f" >&2; tail -n 25 "$f" >&2; }; done
  fi
  if [[ "${KEEP_RUN_DIR:-}" == 1 ]]; then log "kept $RUN"; else rm -rf "$RUN"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

start() { # <name> <binary> args... ; output to $RUN/<name>.log
  local name=$1; shift
  "$@" >"$RUN/$name.log" 2>&1 &
  PIDS+=("$name:$!")
  log "started $name (pid $!)"
}
alive() { local e; for e in "${PIDS[@]}"; do kill -0 "${e#*:}" 2>/dev/null || { log "$e exited early"; return 1; }; done; }
wait_for() { # <what> <timeout s> <command...>: poll every second until the command succeeds
  local what=$1 limit=$2 t0=$SECONDS; shift 2
  until "$@" >/dev/null 2>&1; do
    alive || exit 1
    ((SECONDS - t0 < limit)) || { log "timed out after ${limit}s waiting for $what"; exit 1; }
    sleep 1
  done
  log "$what after $((SECONDS - t0))s"
}

# Free loopback ports: bind port 0 on 127.0.0.1 several times at once, then release (node is always present here).
read -r ETCD_PORT PEER_PORT API_PORT KWOK_PORT < <(node -e '
  const net = require("node:net"); const n = 4, ports = [], servers = [];
  for (let i = 0; i < n; i++) { const s = net.createServer(); servers.push(s);
    s.listen(0, "127.0.0.1", () => { ports.push(s.address().port);
      if (ports.length === n) { console.log(ports.join(" ")); servers.forEach((x) => x.close()); } }); }')
log "run dir $RUN; ports etcd=$ETCD_PORT peer=$PEER_PORT apiserver=$API_PORT kwok=$KWOK_PORT"

# Certificates (harness reference section 4.1): cluster CA, separate front-proxy CA, serving, admin, SA key pair.
PKI="$RUN/pki"; mkdir -p "$PKI"
(
  cd "$PKI"
  ca() { openssl req -x509 -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.crt" -days 30 -subj "/CN=$1"; }
  leaf() { # name subject ca extension-lines...
    local n=$1 s=$2 c=$3; shift 3
    printf '%s\n' "basicConstraints=CA:FALSE" "keyUsage=critical,digitalSignature,keyEncipherment" "$@" >"$n.ext"
    openssl req -newkey rsa:2048 -nodes -keyout "$n.key" -out "$n.csr" -subj "$s"
    openssl x509 -req -in "$n.csr" -CA "$c.crt" -CAkey "$c.key" -CAcreateserial -days 30 -out "$n.crt" -extfile "$n.ext"
  }
  ca ca
  ca front-proxy-ca
  leaf apiserver "/CN=kube-apiserver" ca "extendedKeyUsage=serverAuth" \
    "subjectAltName=DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,IP:127.0.0.1,IP:10.96.0.1"
  leaf admin "/O=system:masters/CN=baton-e2e-admin" ca "extendedKeyUsage=clientAuth"
  leaf front-proxy-client "/CN=front-proxy-client" front-proxy-ca "extendedKeyUsage=clientAuth"
  openssl genrsa -out sa.key 2048 && openssl rsa -in sa.key -pubout -out sa.pub
) >"$RUN/openssl.log" 2>&1
log "certificates generated"

KUBECONFIG="$RUN/admin.kubeconfig"
cat >"$KUBECONFIG" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: smoke
  cluster: {server: "https://127.0.0.1:$API_PORT", certificate-authority: "$PKI/ca.crt"}
users:
- name: admin
  user: {client-certificate: "$PKI/admin.crt", client-key: "$PKI/admin.key"}
contexts:
- name: smoke
  context: {cluster: smoke, user: admin}
current-context: smoke
EOF
export KUBECONFIG
kubectl() { "$BIN/kubectl" --request-timeout=5s "$@"; }

start etcd "$BIN/etcd" --name=node0 --data-dir="$RUN/etcd" \
  --listen-client-urls="http://127.0.0.1:$ETCD_PORT" --advertise-client-urls="http://127.0.0.1:$ETCD_PORT" \
  --listen-peer-urls="http://127.0.0.1:$PEER_PORT" --initial-advertise-peer-urls="http://127.0.0.1:$PEER_PORT" \
  --initial-cluster="node0=http://127.0.0.1:$PEER_PORT" \
  --auto-compaction-retention=1 --quota-backend-bytes=8589934592 --unsafe-no-fsync=true --log-level=warn
wait_for "etcd /health" 30 curl -sf "http://127.0.0.1:$ETCD_PORT/health"

start kube-apiserver "$BIN/kube-apiserver" \
  --etcd-servers="http://127.0.0.1:$ETCD_PORT" \
  --bind-address=127.0.0.1 --secure-port="$API_PORT" \
  --advertise-address=127.0.0.1 --endpoint-reconciler-type=none \
  --service-cluster-ip-range=10.96.0.0/16 \
  --tls-cert-file="$PKI/apiserver.crt" --tls-private-key-file="$PKI/apiserver.key" \
  --client-ca-file="$PKI/ca.crt" \
  --service-account-issuer=https://kubernetes.default.svc.cluster.local \
  --service-account-key-file="$PKI/sa.pub" --service-account-signing-key-file="$PKI/sa.key" \
  --authorization-mode=RBAC --allow-privileged=true \
  --requestheader-client-ca-file="$PKI/front-proxy-ca.crt" --requestheader-allowed-names=front-proxy-client \
  --requestheader-extra-headers-prefix=X-Remote-Extra- --requestheader-group-headers=X-Remote-Group \
  --requestheader-username-headers=X-Remote-User \
  --proxy-client-cert-file="$PKI/front-proxy-client.crt" --proxy-client-key-file="$PKI/front-proxy-client.key" \
  --enable-aggregator-routing=false --profiling=false --v=1
readyz_ok() { [[ "$(kubectl get --raw /readyz)" == ok ]]; }
wait_for "kube-apiserver /readyz = ok" 120 readyz_ok
log "server version: $(kubectl version -o json | sed -n 's/.*"gitVersion": "\(v[^"]*\)".*/\1/p' | tail -n1)"

if $full; then
  start kube-controller-manager "$BIN/kube-controller-manager" --kubeconfig="$KUBECONFIG" \
    --bind-address=127.0.0.1 --secure-port=0 --leader-elect=false \
    --controllers=deployment-controller,replicaset-controller,horizontal-pod-autoscaler-controller,garbage-collector-controller,namespace-controller,serviceaccount-controller,node-lifecycle-controller \
    --horizontal-pod-autoscaler-sync-period=1s --kube-api-qps=100 --kube-api-burst=200 --v=1
  cat >"$RUN/scheduler.yaml" <<EOF
apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
clientConnection: {kubeconfig: "$KUBECONFIG", qps: 100, burst: 200}
leaderElection: {leaderElect: false}
EOF
  start kube-scheduler "$BIN/kube-scheduler" --config="$RUN/scheduler.yaml" --bind-address=127.0.0.1 --secure-port=0 --v=1
  stage_args=()
  for f in "$STAGES"/*.yaml; do stage_args+=("--config=$f"); done
  start kwok "$BIN/kwok" --kubeconfig="$KUBECONFIG" "${stage_args[@]}" \
    --manage-all-nodes=false --manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake \
    --server-address="127.0.0.1:$KWOK_PORT" --node-ip=10.0.0.1 --node-lease-duration-seconds=40 --v=1

  kubectl apply -f - >/dev/null <<'EOF'
apiVersion: v1
kind: Node
metadata:
  name: kwok-node-0
  annotations: {kwok.x-k8s.io/node: fake, node.alpha.kubernetes.io/ttl: "0"}
  labels: {kubernetes.io/hostname: kwok-node-0, kubernetes.io/os: linux, type: kwok}
status:
  allocatable: {cpu: "32", memory: 256Gi, pods: "110"}
  capacity: {cpu: "32", memory: 256Gi, pods: "110"}
EOF
  node_ready() {
    [[ "$(kubectl get node kwok-node-0 -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}')" == True ]] &&
      [[ -z "$(kubectl get node kwok-node-0 -o jsonpath='{.spec.taints}')" ]]
  }
  wait_for "node Ready without taints" 90 node_ready
  wait_for "default service account" 60 kubectl get serviceaccount default -n default
  kubectl create deployment smoke --image=registry.k8s.io/pause:3.10 --replicas=1 >/dev/null
  pod_running() {
    [[ "$(kubectl get pods -l app=smoke -o jsonpath='{.items[*].spec.nodeName} {.items[*].status.phase}')" == "kwok-node-0 Running" ]]
  }
  wait_for "deployment pod Running on kwok-node-0" 90 pod_running
fi

rss=""
for entry in "${PIDS[@]}"; do rss+=" ${entry%%:*}=$(($(ps -o rss= -p "${entry#*:}") / 1024))MB"; done
log "resident memory:$rss"
ok=true
log "PASS ($($full && echo 'full control plane' || echo 'etcd + kube-apiserver'))"
