// Renders Baton's kustomize trees with the kubectl built for the e2e control plane (`kubectl kustomize`, offline).
// renderManifests() is what the e2e applies server-side to the real control plane.
import { spawn } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { ensureBinaries, REPO_ROOT } from '../e2e/harness/binaries.js';

export const MANIFESTS_DIR = join(REPO_ROOT, 'manifests');

/** Kustomize roots under manifests/, by name. */
export const OVERLAYS = {
  base: 'base',
  development: 'overlays/development',
  'cert-manager': 'overlays/cert-manager',
  monitoring: 'monitoring',
  'example-chat': 'examples/chat',
  keda: 'overlays/keda',
  'example-chat-keda': 'examples/chat-keda',
  'example-scale-targets': 'examples/scale-targets',
} as const;
export type Overlay = keyof typeof OVERLAYS;

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [field: string]: unknown;
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function run(cmd: string, args: string[], opts: { input?: string; env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], env: opts.env ?? process.env, cwd: opts.cwd ?? REPO_ROOT });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(opts.input ?? '');
  });
}

let kubectl: Promise<string> | undefined;
/** kubectl from scripts/build-cluster.sh (cached; a cold build takes ~10 min). */
export function kubectlPath(): Promise<string> {
  kubectl ??= ensureBinaries().then((b) => b.path('kubectl'));
  return kubectl;
}

/** Parses a multi-document YAML stream into objects; any YAML error, or a document that is not a Kubernetes object, throws. */
export function parseObjects(text: string, source: string): KubeObject[] {
  const out: KubeObject[] = [];
  parseAllDocuments(text).forEach((doc, i) => {
    if (doc.errors.length) throw new Error(`${source}: document ${i + 1}: ${doc.errors.map((e) => e.message).join('; ')}`);
    const o: unknown = doc.toJS();
    if (o === null || o === undefined) return;
    const obj = o as Partial<KubeObject>;
    if (typeof obj.apiVersion !== 'string' || typeof obj.kind !== 'string' || typeof obj.metadata?.name !== 'string') {
      throw new Error(`${source}: document ${i + 1} is not a Kubernetes object (needs apiVersion, kind, metadata.name)`);
    }
    out.push(obj as KubeObject);
  });
  return out;
}

/** `kubectl kustomize DIR` → objects. */
export async function kustomize(dir: string): Promise<KubeObject[]> {
  const r = await run(await kubectlPath(), ['kustomize', dir]);
  if (r.code !== 0) throw new Error(`kubectl kustomize ${dir} failed (exit ${r.code}):\n${r.stderr}`);
  return parseObjects(r.stdout, `kubectl kustomize ${dir}`);
}

/**
 * Rendered objects of one kustomize root. `development` is rendered from a temporary copy of manifests/ with fresh
 * certificates from manifests/scripts/dev-certs.sh, so it never depends on (or writes) certs in the checkout.
 */
export async function renderManifests(overlay: Overlay): Promise<KubeObject[]> {
  if (overlay !== 'development') return kustomize(join(MANIFESTS_DIR, OVERLAYS[overlay]));
  const tmp = mkdtempSync(join(tmpdir(), 'baton-manifests-'));
  try {
    const copy = join(tmp, 'manifests');
    cpSync(MANIFESTS_DIR, copy, { recursive: true, filter: (src) => !src.includes(`${join('overlays', 'development', 'certs')}`) });
    const certs = await run('bash', [join(copy, 'scripts/dev-certs.sh')]);
    if (certs.code !== 0) throw new Error(`dev-certs.sh failed (exit ${certs.code}):\n${certs.stderr}`);
    return await kustomize(join(copy, OVERLAYS.development));
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
