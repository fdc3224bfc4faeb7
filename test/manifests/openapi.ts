// Offline schema validation of rendered objects against the Kubernetes OpenAPI v3 documents of the very version the
// e2e control plane is built from (k8s.io/kubernetes/api/openapi-spec/v3 in the Go module cache that
// scripts/build-cluster.sh fills). Like the API server's strict field validation, unknown fields are errors.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import AjvModule, { type ValidateFunction } from 'ajv';
import { REPO_ROOT } from '../e2e/harness/binaries.js';
import type { KubeObject } from './render.js';

type Schema = Record<string, unknown>;
const Ajv = AjvModule.default;

/** Directory of the OpenAPI v3 documents, or undefined when the module cache does not have them. */
export function openapiSpecDir(): string | undefined {
  const goMod = readFileSync(join(REPO_ROOT, 'test/e2e/tools/k8s/go.mod'), 'utf8');
  const version = /^\s*(?:require\s+)?k8s\.io\/kubernetes\s+(v\S+)/m.exec(goMod)?.[1];
  if (!version) return undefined;
  let modCache: string;
  try {
    modCache = execFileSync('go', ['env', 'GOMODCACHE'], { encoding: 'utf8' }).trim();
  } catch {
    return undefined;
  }
  const dir = join(modCache, 'k8s.io', `kubernetes@${version}`, 'api/openapi-spec/v3');
  return existsSync(dir) ? dir : undefined;
}

/** Object schemas get additionalProperties: false (strict fields) unless they already say otherwise. */
function strictify(node: unknown): void {
  if (Array.isArray(node)) {
    node.forEach(strictify);
    return;
  }
  if (typeof node !== 'object' || node === null) return;
  const s = node as Schema;
  if (s.properties && !('additionalProperties' in s) && !s['x-kubernetes-preserve-unknown-fields']) s.additionalProperties = false;
  for (const v of Object.values(s)) strictify(v);
}

export interface KindValidator {
  /** Errors for one object ('' list when valid); undefined when no schema knows its kind (CRDs). */
  validate(o: KubeObject): string[] | undefined;
}

export function loadValidator(specDir: string): KindValidator {
  const schemas: Record<string, Schema> = {};
  const byGvk = new Map<string, string>();
  for (const f of readdirSync(specDir)) {
    if (!f.endsWith('.json')) continue;
    const doc = JSON.parse(readFileSync(join(specDir, f), 'utf8')) as { components?: { schemas?: Record<string, Schema> } };
    for (const [name, s] of Object.entries(doc.components?.schemas ?? {})) {
      schemas[name] ??= s;
      for (const g of (s['x-kubernetes-group-version-kind'] as { group: string; version: string; kind: string }[] | undefined) ?? []) {
        byGvk.set(`${g.group ? `${g.group}/` : ''}${g.version}/${g.kind}`, name);
      }
    }
  }
  strictify(schemas);
  const ajv = new Ajv({ strict: false, validateFormats: false, allErrors: true });
  ajv.addSchema({ $id: 'k8s', components: { schemas } });
  const compiled = new Map<string, ValidateFunction>();
  return {
    validate(o) {
      const name = byGvk.get(`${o.apiVersion}/${o.kind}`);
      if (!name) return undefined;
      let v = compiled.get(name);
      if (!v) {
        v = ajv.compile({ $ref: `k8s#/components/schemas/${name}` });
        compiled.set(name, v);
      }
      if (v(o) as boolean) return [];
      return (v.errors ?? []).map((e) => `${o.kind} ${o.metadata.name}: ${e.instancePath || '/'} ${e.message ?? ''}${e.params && 'additionalProperty' in e.params ? ` '${String(e.params.additionalProperty)}'` : ''}`);
    },
  };
}
