// What a report needs to know beyond the ScenarioResult: the service's SLOs and the simulated window.
export interface ReportService {
  name: string;
  sloTtftS: number;
  sloTbtS: number;
}

export interface ReportMeta {
  /** A ServicePreset fits here as is. */
  service: ReportService;
  /** Simulated start, seconds since midnight for diurnal runs. */
  startS: number;
  durationS: number;
  /** Where the requests came from, e.g. "diurnal day from azure-llm-2023-conv.csv"; shown in headers. */
  source?: string;
}

/** Refuses meta that would print as NaN or mislead (a missing SLO, a negative duration), naming the field. */
export function checkMeta(meta: ReportMeta, where: string): void {
  if (meta === null || typeof meta !== 'object') throw new Error(`${where}: meta must be an object, got ${String(meta)}`);
  const s = meta.service;
  if (s === null || typeof s !== 'object') throw new Error(`${where}: meta.service must be an object`);
  if (typeof s.name !== 'string' || s.name === '') throw new Error(`${where}: meta.service.name must be a non-empty string`);
  for (const k of ['sloTtftS', 'sloTbtS'] as const) {
    if (!(Number.isFinite(s[k]) && s[k] > 0)) throw new Error(`${where}: meta.service.${k} must be a positive number, got ${String(s[k])}`);
  }
  if (!Number.isFinite(meta.startS)) throw new Error(`${where}: meta.startS must be a finite number, got ${String(meta.startS)}`);
  if (!(Number.isFinite(meta.durationS) && meta.durationS > 0)) {
    throw new Error(`${where}: meta.durationS must be a positive number, got ${String(meta.durationS)}`);
  }
}
