// A static scrape target for the benchmarks: /metrics answers `render(secondsSinceStart)` in the text format.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ScrapeTarget {
  /** host:port for a scrape config. */
  target: string;
  close(): Promise<void>;
}

export async function startScrapeTarget(render: (elapsedS: number) => string): Promise<ScrapeTarget> {
  const t0 = Date.now();
  const server = http.createServer((req, res) => {
    if (req.url !== '/metrics') {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
    res.end(render((Date.now() - t0) / 1000));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    target: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((r) => {
      server.close(() => r());
      server.closeAllConnections();
    }),
  };
}
