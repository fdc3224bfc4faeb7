// The short version of `npm run bench:load`: bursts offered at 10× nominal (20,000 req/s) against a real adapter with
// 200 HPA-style selectors, from a forked load generator. Every request is a 200 and the adapter's RSS stays bounded.
import assert from 'node:assert/strict';
import { NOMINAL_RPS, runLoadBench } from '../../bench/load.js';

describe('load: bursts at 10× nominal against the adapter (short bench:load)', function () {
  this.timeout(180_000);

  it('no errors and bounded memory', async () => {
    const lines: string[] = [];
    const r = await runLoadBench({ burstRate: 10 * NOMINAL_RPS, burstSeconds: 1, bursts: 2, pauseSeconds: 1, hpas: 200, connections: 16, log: (l) => lines.push(l) });
    console.log(lines.map((l) => `      ${l}`).join('\n'));
    assert.equal(r.totalErrors, 0, lines.join('\n'));
    assert.equal(r.totalRequests, 2000 + 2 * 20_000 + 2 * NOMINAL_RPS);
    for (const p of r.phases) assert.deepEqual(p.statuses, { 200: p.sent }, p.name);
    // Bounded: the bursts may grow RSS by buffers and sockets, not by anything proportional to the requests served.
    assert.ok(r.rssMb.peak - r.rssMb.before < 150, `RSS grew from ${r.rssMb.before} to a peak of ${r.rssMb.peak} MB`);
    assert.ok(r.rssMb.after - r.rssMb.before < 60, `RSS ${r.rssMb.before} MB before, ${r.rssMb.after} MB after`);
  });
});
