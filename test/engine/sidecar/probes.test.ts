// The engine's probe endpoints, as the pod's kubelet sees them: /readyz says whether the last cycle reached the cluster,
// /livez only whether the loop still finishes cycles. An apiserver that refuses connections must leave the engine live
// (a restart would not help) but unready.
import assert from 'node:assert/strict';
import * as k8s from '@kubernetes/client-node';
import { parseEngineConfig } from '../../../engine/sidecar/config.js';
import { Engine } from '../../../engine/sidecar/engine.js';

/** A kubeconfig whose apiserver is a closed loopback port: every call fails fast with ECONNREFUSED. */
function unreachableCluster(): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'none', server: 'http://127.0.0.1:1', skipTLSVerify: true }],
    users: [{ name: 'u' }],
    contexts: [{ name: 'c', cluster: 'none', user: 'u' }],
    currentContext: 'c',
  });
  return kc;
}

const config = parseEngineConfig({
  namespace: 'baton-system',
  services: [{ service: 'chat', priority: 1, affinity: 'none', ratio: { prefill: 1, decode: 1 }, pools: [{ name: 'p', role: 'prefill', gpuType: 'H100' }, { name: 'd', role: 'decode', gpuType: 'H100' }] }],
}, 'engine.yaml');

describe('engine sidecar: probes', function () {
  this.timeout(20_000);
  let engine: Engine | undefined;
  afterEach(async () => {
    await engine?.stop().catch(() => undefined);
    engine = undefined;
  });

  it('apiserver unreachable: /livez 200 (the loop runs), /readyz and /healthz 500 naming the error', async () => {
    engine = new Engine({ config, kubeconfig: unreachableCluster(), port: 0, intervalS: 1, identity: 'probe-test', log: () => undefined });
    await engine.start();
    assert.match(engine.url ?? '', /^http:\/\/127\.0\.0\.1:\d+$/);
    const deadline = Date.now() + 15_000;
    while (engine.lastError === undefined) {
      assert.ok(Date.now() < deadline, 'no cycle failed within 15 s');
      await new Promise((r) => setTimeout(r, 50));
    }
    const live = await fetch(`${engine.url}/livez`);
    assert.equal(live.status, 200, await live.text());
    for (const path of ['/readyz', '/healthz']) {
      const res = await fetch(`${engine.url}${path}`);
      assert.equal(res.status, 500, path);
      assert.match(await res.text(), /ECONNREFUSED|connect/i, path);
    }
  });

  it('/livez fails once no cycle has ended for max(60 s, 6 intervals)', () => {
    engine = new Engine({ config, kubeconfig: unreachableCluster(), intervalS: 5, identity: 'probe-test', log: () => undefined });
    const now = Date.now();
    assert.deepEqual(engine.liveness(now), { ok: true, message: 'starting' });
    assert.equal(engine.liveness(now + 59_000).ok, true);
    const stuck = engine.liveness(now + 61_000);
    assert.equal(stuck.ok, false);
    assert.match(stuck.message, /no cycle has ended for 6\d s \(allowed 60 s\)/);
    const slow = new Engine({ config, kubeconfig: unreachableCluster(), intervalS: 30, identity: 'probe-test-2', log: () => undefined });
    assert.equal(slow.liveness(now + 170_000).ok, true, 'six 30 s intervals are allowed');
    assert.equal(slow.liveness(now + 190_000).ok, false);
  });
});
