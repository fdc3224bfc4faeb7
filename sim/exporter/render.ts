// Prometheus text exposition (format 0.0.4) for a set of simulated pods, written by hand: one HELP/TYPE header per family
// with every pod's series under it (per-pod prom-client registries cannot be merged into one valid page), and no
// per-scrape allocation beyond the output string.
import { GPU_UTIL_HELP, GPU_UTIL_METRIC, SM_ACTIVE_HELP, SM_ACTIVE_METRIC, type FlavourSpec } from './families.js';
import { formatLe } from './histogram.js';
import type { PodMetrics } from './pod.js';

export const EXPOSITION_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

export function escapeLabelValue(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** `a="1",b="2"` from a record; label names are checked (a bad name would make the whole page unparsable). */
export function renderLabels(labels: Record<string, string>): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(labels)) {
    if (!LABEL_NAME.test(k) || k.startsWith('__')) throw new Error(`invalid label name '${k}' (must match ${LABEL_NAME.source} and not start with __)`);
    parts.push(`${k}="${escapeLabelValue(v)}"`);
  }
  return parts.join(',');
}

function join(...parts: (string | undefined)[]): string {
  let out = '';
  for (const p of parts) {
    if (!p) continue;
    out = out ? `${out},${p}` : p;
  }
  return out;
}

function num(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

export interface RenderOptions {
  /** Add each pod's discovery labels (pod, service, role, pool, namespace, …): the aggregated /metrics page. */
  withTargetLabels: boolean;
  /** Multiplies counters and histogram counts/sums (1 = real counts). */
  countScale: number;
}

export function renderExposition(spec: FlavourSpec, pods: readonly PodMetrics[], o: RenderOptions): string {
  const out: string[] = [];
  const scale = o.countScale;
  const base = pods.map((p) => join(p.engineLabels, o.withTargetLabels ? p.targetLabels : undefined));
  for (const f of spec.families) {
    out.push(`# HELP ${f.name} ${f.help}`, `# TYPE ${f.name} ${f.kind}`);
    if (f.kind === 'histogram') {
      for (let k = 0; k < pods.length; k++) {
        const h = f.pick(pods[k]!);
        const l = base[k]!;
        let cum = 0;
        for (let b = 0; b < h.bounds.length; b++) {
          cum += h.counts[b]!;
          out.push(`${f.name}_bucket{${join(l, `le="${formatLe(h.bounds[b]!)}"`)}} ${num(cum * scale)}`);
        }
        out.push(
          `${f.name}_bucket{${join(l, 'le="+Inf"')}} ${num(h.count * scale)}`,
          `${f.name}_sum{${l}} ${num(h.sum * scale)}`,
          `${f.name}_count{${l}} ${num(h.count * scale)}`,
        );
      }
    } else {
      const s = f.countsEvents ? scale : 1;
      for (let k = 0; k < pods.length; k++) out.push(`${f.name}{${join(base[k], f.labels)}} ${num(f.value(pods[k]!) * s)}`);
    }
  }
  out.push(`# HELP ${GPU_UTIL_METRIC} ${GPU_UTIL_HELP}`, `# TYPE ${GPU_UTIL_METRIC} gauge`);
  for (const p of pods) {
    const own = o.withTargetLabels ? p.targetLabels : '';
    for (let g = 0; g < p.instance.gpus; g++) {
      out.push(`${GPU_UTIL_METRIC}{${join(`gpu="${g}"`, `modelName="${escapeLabelValue(p.instance.gpu.type)}"`, own)}} ${num(Math.round(p.gpuUtilPct))}`);
    }
  }
  out.push(`# HELP ${SM_ACTIVE_METRIC} ${SM_ACTIVE_HELP}`, `# TYPE ${SM_ACTIVE_METRIC} gauge`);
  for (const p of pods) {
    const own = o.withTargetLabels ? p.targetLabels : '';
    for (let g = 0; g < p.instance.gpus; g++) {
      out.push(`${SM_ACTIVE_METRIC}{${join(`gpu="${g}"`, `modelName="${escapeLabelValue(p.instance.gpu.type)}"`, own)}} ${num(Math.round(p.smActive * 1000) / 1000)}`);
    }
  }
  out.push('');
  return out.join('\n');
}
