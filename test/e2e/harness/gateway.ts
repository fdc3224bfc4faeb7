// A gateway in front of a scale-to-zero service, for the e2e: its queue gauge exists without pods (the wake signal);
// the service's decode TPS only while its pods serve. It also serves an http_sd list: the simulator's pods plus itself,
// so one Prometheus scrapes both.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { PoolSpec } from './workload.js';

export class Gateway {
  queue = 0;
  /** undefined: no pod serves, no series. */
  decodeTps: number | undefined;
  server!: Server;
  url = '';

  /** `simSd`: the simulator's http_sd URL, or undefined for the gateway alone. */
  constructor(readonly service: string, private readonly simSd?: string) {}

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      if (req.url === '/metrics') {
        const lines = ['# TYPE gateway_queue_depth gauge', `gateway_queue_depth{service="${this.service}"} ${this.queue}`];
        if (this.decodeTps !== undefined) lines.push('# TYPE gateway_decode_tps gauge', `gateway_decode_tps{service="${this.service}"} ${this.decodeTps}`);
        return void res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(lines.join('\n') + '\n');
      }
      if (req.url === '/sd') {
        const self = { targets: [this.url.slice('http://'.length)], labels: { job: 'gateway' } };
        if (!this.simSd) return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify([self]));
        void fetch(this.simSd).then((r) => r.json() as Promise<unknown[]>).then((targets) => {
          res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify([...targets, self]));
        }, () => res.writeHead(502).end());
        return;
      }
      res.writeHead(404).end();
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  close(): Promise<void> {
    return new Promise((r) => (this.server ? this.server.close(() => r()) : r()));
  }
}

/**
 * The rule of a service reading the gateway's decode TPS, without damping (the e2e measures the chain, not Baton's
 * stability rules); with `idleS`, a scale-to-zero service whose wake signal is the gateway's queue.
 */
export function gatewayRule(o: { service: string; namespace: string; ratio: { prefill: number; decode: number }; decodeTpsPerUnit: number; idleS?: number; pools: PoolSpec[] }): string {
  const minReplicas = (p: PoolSpec) => (o.idleS === undefined ? p.minReplicas : 0);
  return [
    'services:',
    `  - name: ${o.service}`,
    `    namespaces: [${o.namespace}]`,
    `    ratio: {prefill: ${o.ratio.prefill}, decode: ${o.ratio.decode}}`,
    `    decodeTpsPerUnit: ${o.decodeTpsPerUnit}`,
    `    decodeTps: 'sum(gateway_decode_tps{service="${o.service}"})'`,
    ...(o.idleS === undefined ? [] : [`    wake: {promql: 'sum(gateway_queue_depth{service="${o.service}"})', idleSeconds: ${o.idleS}}`]),
    '    stability: {scaleUpCooldownS: 0, scaleDownCooldownS: 0, scaleInHysteresis: 0.2, scaleInDamping: 1, signalRecoveryS: 0}',
    '    queryIntervalSeconds: 1',
    '    maxStalenessSeconds: 30',
    '    pools:',
    ...o.pools.map((p) => `      - {name: ${p.name}, role: ${p.role}, gpuType: ${p.gpuType}, minReplicas: ${minReplicas(p)}, maxReplicas: ${p.maxReplicas}}`),
    '',
  ].join('\n');
}
