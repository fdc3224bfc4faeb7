// A small real scrape target that speaks vLLM v1 metric names with prom-client, whose load the test can change.
// Counters advance by rate × elapsed time at each scrape, so rate() in Prometheus reads back the configured TPS.
import { createServer, type Server } from 'node:http';
import { Counter, Histogram, Registry } from 'prom-client';

export interface PoolLoad {
  /** Generated tokens per second across the pool. */
  decodeTps: number;
  /** Inter-token latency observed in the pool (seconds). */
  interTokenS: number;
}

export class FakeVllmExporter {
  readonly registry = new Registry();
  private readonly generation: Counter<'service' | 'pool' | 'model_name'>;
  private readonly itl: Histogram<'service' | 'pool' | 'model_name'>;
  private readonly loads = new Map<string, PoolLoad>();
  private lastAdvanceMs = Date.now();
  private server?: Server;
  /** Extra text appended to /metrics (e.g. a duplicate series) to provoke unexpected shapes. */
  extraText = '';

  constructor(readonly service: string, private readonly model = 'llama-3-8b') {
    this.generation = new Counter({ name: 'vllm:generation_tokens_total', help: 'Number of generation tokens processed.', labelNames: ['service', 'pool', 'model_name'], registers: [this.registry] });
    this.itl = new Histogram({
      name: 'vllm:inter_token_latency_seconds',
      help: 'Histogram of inter-token latency in seconds.',
      labelNames: ['service', 'pool', 'model_name'],
      buckets: [0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1],
      registers: [this.registry],
    });
  }

  setLoad(pool: string, load: PoolLoad): void {
    this.advance();
    this.loads.set(pool, load);
    this.generation.inc({ service: this.service, pool, model_name: this.model }, 0);
  }

  /** Stops exporting a pool's series (as if its pods were gone). */
  removePool(pool: string): void {
    this.advance();
    this.loads.delete(pool);
    this.generation.remove({ service: this.service, pool, model_name: this.model });
    this.itl.remove({ service: this.service, pool, model_name: this.model });
  }

  private advance(): void {
    const now = Date.now();
    const dt = (now - this.lastAdvanceMs) / 1000;
    this.lastAdvanceMs = now;
    if (dt <= 0) return;
    for (const [pool, load] of this.loads) {
      const labels = { service: this.service, pool, model_name: this.model };
      this.generation.inc(labels, load.decodeTps * dt);
      // One observation per 10 tokens keeps the histogram cheap but its quantiles right.
      const n = Math.max(1, Math.round((load.decodeTps * dt) / 10));
      for (let i = 0; i < n; i++) this.itl.observe(labels, load.interTokenS);
    }
  }

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      if (req.url !== '/metrics') {
        res.writeHead(404).end();
        return;
      }
      this.advance();
      void this.registry.metrics().then((text) => {
        res.writeHead(200, { 'content-type': this.registry.contentType });
        res.end(text + this.extraText);
      });
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', () => r()));
    const addr = this.server.address();
    if (!addr || typeof addr !== 'object') throw new Error('exporter did not bind');
    return `127.0.0.1:${addr.port}`;
  }

  async stop(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server!.close(() => r()));
  }
}
