// Prometheus connection settings a rule file may carry (top-level `prometheus:`), beside the adapter's flags: tenancy
// headers (Mimir/Cortex X-Scope-OrgID, Thanos THANOS-TENANT), mutual TLS, the request deadline, and every secret as a
// file (never inline). Relative paths are relative to the rule file, as in a Prometheus config. Flags win field by
// field; headers merge, a flag's header replacing the file's of the same name.
import { dirname, isAbsolute, resolve } from 'node:path';
import type { PrometheusClientOptions } from './prometheus.js';

export interface PrometheusFileSettings {
  headers?: Record<string, string>;
  headerFiles?: Record<string, string>;
  bearerTokenFile?: string;
  basicAuthFile?: string;
  caFile?: string;
  certFile?: string;
  keyFile?: string;
  timeoutMs?: number;
}

/** The file's settings with its paths made absolute against the rule file's directory. */
export function absolutePaths(s: PrometheusFileSettings, ruleFile: string): PrometheusFileSettings {
  const at = (p: string) => (isAbsolute(p) ? p : resolve(dirname(ruleFile), p));
  const out: PrometheusFileSettings = { ...s };
  for (const k of ['bearerTokenFile', 'basicAuthFile', 'caFile', 'certFile', 'keyFile'] as const) if (s[k] !== undefined) out[k] = at(s[k]);
  if (s.headerFiles) out.headerFiles = Object.fromEntries(Object.entries(s.headerFiles).map(([n, p]) => [n, at(p)]));
  return out;
}

/** The client options: the flags' (`cli`), completed by the rule file's settings where the flags say nothing. */
export function withFileSettings(cli: PrometheusClientOptions, file: PrometheusFileSettings | undefined): PrometheusClientOptions {
  if (!file) return cli;
  const out: PrometheusClientOptions = { ...cli };
  const credentialsFromCli = cli.bearerToken !== undefined || cli.bearerTokenFile !== undefined || cli.basicAuth !== undefined || cli.basicAuthFile !== undefined;
  // One kind of credentials: the flags' when they give any, else the file's.
  if (!credentialsFromCli) {
    if (file.bearerTokenFile !== undefined) out.bearerTokenFile = file.bearerTokenFile;
    if (file.basicAuthFile !== undefined) out.basicAuthFile = file.basicAuthFile;
  }
  if (cli.ca === undefined && cli.caFile === undefined && file.caFile !== undefined) out.caFile = file.caFile;
  if (cli.certFile === undefined && file.certFile !== undefined && file.keyFile !== undefined) {
    out.certFile = file.certFile;
    out.keyFile = file.keyFile;
  }
  if (cli.timeoutMs === undefined && file.timeoutMs !== undefined) out.timeoutMs = file.timeoutMs;
  if (file.headers) out.headers = { ...file.headers, ...cli.headers };
  if (file.headerFiles) out.headerFiles = { ...file.headerFiles, ...cli.headerFiles };
  return out;
}
