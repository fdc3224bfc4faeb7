// Reading rule files: YAML with source positions → JSON Schema (ajv) → references and presets (resolve.ts).
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import AjvModule, { type ErrorObject } from 'ajv';
import { LineCounter, parseDocument } from 'yaml';
import { type PathKey, PositionFinder, pathText, pointerToPath } from './positions.js';
import { absolutePaths, type PrometheusFileSettings } from './prometheus-settings.js';
import { parseHeaderFlag } from './prometheus.js';
import { parseDuration } from './promql.js';
import type { RawPrometheusSettings, RawRuleFile } from './raw.js';
import { ErrorSink, resolveService } from './resolve.js';
import { ruleFileSchema } from './schema.js';
import type { RuleError, RuleSet, ServiceRule } from './types.js';

// ajv's CJS default export under NodeNext.
const Ajv = AjvModule.default;
const validateSchema = new Ajv({ allErrors: true, strict: true }).compile(ruleFileSchema);

export interface LoadResult {
  ruleSet?: RuleSet;
  errors: RuleError[];
}

/** Parses and validates one file's text. */
export function loadRuleText(text: string, file: string): { services: ServiceRule[]; errors: RuleError[]; prometheus?: PrometheusFileSettings } {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const finder = new PositionFinder(file, doc, lines, text);
  const sink = new ErrorSink(finder);
  for (const e of doc.errors) {
    const pos = lines.linePos(e.pos[0]);
    sink.errors.push({ file, line: pos.line, col: pos.col, path: '', message: `YAML: ${e.message.split('\n')[0]}` });
  }
  if (sink.errors.length) return { services: [], errors: sink.errors };
  const data: unknown = doc.toJS();
  if (!validateSchema(data)) {
    for (const e of schemaErrors(validateSchema.errors ?? [])) reportSchemaError(e, finder, sink);
    return { services: [], errors: sink.errors };
  }
  const raw = data as unknown as RawRuleFile;
  const services: ServiceRule[] = [];
  raw.services.forEach((s, i) => {
    const rule = resolveService(s, i, sink);
    if (rule) services.push(rule);
  });
  const prometheus = raw.prometheus ? resolvePrometheusSettings(raw.prometheus, file, sink) : undefined;
  return { services, errors: sink.errors, ...(prometheus ? { prometheus } : {}) };
}

function resolvePrometheusSettings(raw: RawPrometheusSettings, file: string, sink: ErrorSink): PrometheusFileSettings {
  for (const [kind, map] of [['headers', raw.headers], ['headerFiles', raw.headerFiles]] as const) {
    for (const [name, value] of Object.entries(map ?? {})) {
      try {
        parseHeaderFlag(`${name}=${value}`, 'header');
      } catch (e) {
        sink.at(['prometheus', kind, name], (e as Error).message.replace(/^header "[^"]*": /, ''));
      }
    }
  }
  if ((raw.certFile === undefined) !== (raw.keyFile === undefined)) sink.at(['prometheus', raw.certFile === undefined ? 'keyFile' : 'certFile'], 'certFile and keyFile go together');
  if (raw.bearerTokenFile !== undefined && raw.basicAuthFile !== undefined) sink.at(['prometheus', 'basicAuthFile'], 'one kind of credentials: bearerTokenFile or basicAuthFile');
  const { timeout, ...rest } = raw;
  const out: PrometheusFileSettings = { ...rest };
  if (timeout !== undefined) {
    const seconds = parseDuration(timeout);
    if (seconds === undefined || seconds <= 0) sink.at(['prometheus', 'timeout'], `timeout "${timeout}" is not a positive duration`);
    else out.timeoutMs = seconds * 1000;
  }
  return absolutePaths(out, file);
}

/** All files together: each valid on its own and service names unique across them; otherwise no rule set. */
export async function loadRuleFiles(files: readonly string[], nowMs = Date.now()): Promise<LoadResult> {
  const errors: RuleError[] = [];
  const services: ServiceRule[] = [];
  const byName = new Map<string, ServiceRule>();
  let prometheus: RuleSet['prometheus'];
  for (const file of files) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (e) {
      errors.push({ file, line: 1, col: 1, path: '', message: `cannot read: ${(e as Error).message}` });
      continue;
    }
    const one = loadRuleText(text, file);
    errors.push(...one.errors);
    if (one.prometheus) {
      // One place says how to reach Prometheus: two files that both do would depend on load order.
      if (prometheus) errors.push({ file, line: 1, col: 1, path: 'prometheus', message: `Prometheus settings are already given in ${prometheus.file}; keep them in one rule file` });
      else prometheus = { ...one.prometheus, file };
    }
    for (const s of one.services) {
      const prev = byName.get(s.name);
      if (prev) {
        errors.push({ file, line: s.source.line, col: s.source.col, path: 'services', message: `service "${s.name}" is already defined at ${prev.source.file}:${prev.source.line}` });
        continue;
      }
      byName.set(s.name, s);
      services.push(s);
    }
  }
  if (errors.length) return { errors };
  return { ruleSet: { services, files: [...files], loadedAtMs: nowMs, ...(prometheus ? { prometheus } : {}) }, errors };
}

/** Rule files of a directory: *.yaml and *.yml, sorted, hidden files (editor swap files, ..data links) skipped. */
/** The rule files a path names: the file itself, or a directory's *.yaml / *.yml files (hidden ones skipped), sorted. */
export async function ruleFilesIn(dir: string): Promise<string[]> {
  if ((await stat(dir)).isFile()) return [dir];
  const names = await readdir(dir);
  return names.filter((n) => !n.startsWith('.') && /\.ya?ml$/.test(n)).sort().map((n) => join(dir, n));
}

export async function loadRuleDir(dir: string, nowMs = Date.now()): Promise<LoadResult> {
  let files: string[];
  try {
    files = await ruleFilesIn(dir);
  } catch (e) {
    return { errors: [{ file: dir, line: 1, col: 1, path: '', message: `cannot list rule directory: ${(e as Error).message}` }] };
  }
  if (files.length === 0) return { errors: [{ file: dir, line: 1, col: 1, path: '', message: 'no rule files (*.yaml, *.yml) in the directory' }] };
  return loadRuleFiles(files, nowMs);
}

/** Rule files from each path (a file or a directory), in order, each once. */
export async function ruleFilesOf(paths: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (const p of paths) {
    let files: string[];
    try {
      files = await ruleFilesIn(p);
    } catch {
      files = [p]; // loadRuleFiles reports "cannot read" with the path
    }
    for (const f of files) if (!out.includes(f)) out.push(f);
  }
  return out;
}

/** ajv reports every branch of a failed oneOf; keep the oneOf itself, which says what was expected. */
function schemaErrors(errors: ErrorObject[]): ErrorObject[] {
  const oneOfPaths = new Set(errors.filter((e) => e.keyword === 'oneOf').map((e) => e.instancePath));
  return errors.filter((e) => e.keyword === 'oneOf' || !(oneOfPaths.has(e.instancePath) && e.schemaPath.includes('/oneOf/')));
}

function reportSchemaError(e: ErrorObject, finder: PositionFinder, sink: ErrorSink): void {
  const path: PathKey[] = pointerToPath(e.instancePath);
  const params = e.params as Record<string, unknown>;
  let message: string;
  switch (e.keyword) {
    case 'required': {
      const field = String(params.missingProperty);
      sink.at(path, `missing required field "${field}"`);
      sink.errors[sink.errors.length - 1]!.path = pathText([...path, field]);
      return;
    }
    case 'additionalProperties': {
      const field = String(params.additionalProperty);
      const pos = finder.keyPos(path, field);
      sink.atPos([...path, field], pos, `unknown field "${field}"`);
      return;
    }
    case 'enum':
      message = `must be one of ${(params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
      break;
    case 'oneOf':
      message = 'must be a PromQL string or {promql: <string>, by: <label>}';
      break;
    default:
      message = e.message ?? e.keyword;
  }
  sink.at(path, message);
}
