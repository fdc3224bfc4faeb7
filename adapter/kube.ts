// The adapter's two conversations with the kube-apiserver, through @kubernetes/client-node: SubjectAccessReviews for
// authorization, and the kube-system/extension-apiserver-authentication ConfigMap for the front-proxy CA and names.
import { readFileSync } from 'node:fs';
import type { KubeConfig } from '@kubernetes/client-node';
import type { AuthenticationConfig } from './authn.js';
import type { AccessDecision, SubjectAccessReviewer, SubjectAccessReviewSpec } from './authz.js';
import { withDeadline } from './deadline.js';

type ClientNode = typeof import('@kubernetes/client-node');
let clientNode: Promise<ClientNode> | undefined;

/**
 * @kubernetes/client-node, loaded on first use so that the rest of the adapter (and `--insecure-dev`) works where it
 * cannot load: 2.0.x depends on undici 8, which needs Node >= 22.19 and throws at import time on Node 20.
 */
export function loadClientNode(): Promise<ClientNode> {
  clientNode ??= import('@kubernetes/client-node').catch((err: Error) => {
    clientNode = undefined;
    throw new Error(
      `cannot load @kubernetes/client-node on Node ${process.versions.node} (2.x needs undici 8, i.e. Node >= 22.19): ${err.message}`,
    );
  });
  return clientNode;
}

/** A KubeConfig from a file, or the default chain (KUBECONFIG, ~/.kube/config, in-cluster service account). */
export async function loadKubeConfig(path?: string): Promise<KubeConfig> {
  const { KubeConfig } = await loadClientNode();
  const kc = new KubeConfig();
  if (path) kc.loadFromFile(path);
  else kc.loadFromDefault();
  return kc;
}

export const AUTH_CONFIGMAP_NAMESPACE = 'kube-system';
export const AUTH_CONFIGMAP_NAME = 'extension-apiserver-authentication';

/** A SubjectAccessReviewer that POSTs authorization.k8s.io/v1 SubjectAccessReviews with the given kubeconfig. */
export async function sarReviewerFromKubeConfig(kc: KubeConfig): Promise<SubjectAccessReviewer> {
  const { AuthorizationV1Api } = await loadClientNode();
  const api = kc.makeApiClient(AuthorizationV1Api);
  return async (spec: SubjectAccessReviewSpec): Promise<AccessDecision> => {
    const review = await api.createSubjectAccessReview({
      body: { apiVersion: 'authorization.k8s.io/v1', kind: 'SubjectAccessReview', spec },
    });
    const status = review.status;
    if (!status) throw new Error('SubjectAccessReview answer has no status');
    const decision: AccessDecision = { allowed: status.allowed === true && status.denied !== true };
    if (status.reason) decision.reason = status.reason;
    return decision;
  };
}

/** The ConfigMap stores lists as JSON array strings (requestheader_controller.go); a missing key is an empty list. */
function jsonList(data: Record<string, string>, key: string): string[] {
  const raw = data[key];
  if (raw === undefined || raw === '') return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (err) {
    throw new Error(`${AUTH_CONFIGMAP_NAMESPACE}/${AUTH_CONFIGMAP_NAME}: key ${key} is not a JSON array: ${(err as Error).message}`);
  }
  if (!Array.isArray(parsed) || parsed.some((x) => typeof x !== 'string'))
    throw new Error(`${AUTH_CONFIGMAP_NAMESPACE}/${AUTH_CONFIGMAP_NAME}: key ${key} must be a JSON array of strings`);
  return parsed as string[];
}

/** Turn the ConfigMap's data into an AuthenticationConfig; exported for tests and for callers that watch it. */
export function authenticationConfigFromConfigMapData(data: Record<string, string> | undefined): AuthenticationConfig {
  const where = `${AUTH_CONFIGMAP_NAMESPACE}/${AUTH_CONFIGMAP_NAME}`;
  if (!data) throw new Error(`${where}: ConfigMap has no data`);
  const ca = data['requestheader-client-ca-file'];
  if (!ca) throw new Error(`${where}: key requestheader-client-ca-file is missing (is the aggregation layer enabled?)`);
  const config: AuthenticationConfig = {
    requestHeader: {
      clientCaPem: ca,
      allowedNames: jsonList(data, 'requestheader-allowed-names'),
      usernameHeaders: jsonList(data, 'requestheader-username-headers'),
      uidHeaders: jsonList(data, 'requestheader-uid-headers'),
      groupHeaders: jsonList(data, 'requestheader-group-headers'),
      extraHeaderPrefixes: jsonList(data, 'requestheader-extra-headers-prefix'),
    },
  };
  if (data['client-ca-file']) config.clientCaPem = data['client-ca-file'];
  return config;
}

/** Read the front-proxy settings from kube-system/extension-apiserver-authentication. */
export async function authenticationConfigFromCluster(kc: KubeConfig): Promise<AuthenticationConfig> {
  const { CoreV1Api } = await loadClientNode();
  const cm = await kc
    .makeApiClient(CoreV1Api)
    .readNamespacedConfigMap({ name: AUTH_CONFIGMAP_NAME, namespace: AUTH_CONFIGMAP_NAMESPACE });
  return authenticationConfigFromConfigMapData(cm.data);
}

export interface AuthenticationFiles {
  requestheaderClientCaFile: string;
  requestheaderAllowedNames?: string[];
  clientCaFile?: string;
}

/** Front-proxy settings from files (`--requestheader-client-ca-file`, `--requestheader-allowed-names`, `--client-ca-file`). */
export function authenticationConfigFromFiles(files: AuthenticationFiles): AuthenticationConfig {
  const read = (path: string, what: string) => {
    try {
      return readFileSync(path, 'utf8');
    } catch (err) {
      throw new Error(`${what} ${path}: ${(err as Error).message}`);
    }
  };
  const config: AuthenticationConfig = {
    requestHeader: {
      clientCaPem: read(files.requestheaderClientCaFile, 'requestheader client CA file'),
      allowedNames: files.requestheaderAllowedNames ?? [],
    },
  };
  if (files.clientCaFile) config.clientCaPem = read(files.clientCaFile, 'client CA file');
  return config;
}

/**
 * Re-read the ConfigMap every `intervalMs` (the front-proxy CA rotates) and hand changes to `onChange`
 * (e.g. `server.setAuthentication`). Errors go to `onError`; the previous configuration keeps serving.
 */
export function pollAuthenticationConfig(
  kc: KubeConfig,
  onChange: (config: AuthenticationConfig) => void,
  onError: (err: Error) => void,
  intervalMs = 60_000,
  timeoutMs = 10_000,
  read: (kc: KubeConfig) => Promise<AuthenticationConfig> = authenticationConfigFromCluster,
): () => void {
  let last = '';
  let stopped = false;
  let busy = false;
  const tick = async () => {
    // One read at a time, each with a deadline: a hung apiserver answer neither piles up reads nor stops the poll.
    if (busy) return;
    busy = true;
    try {
      const config = await withDeadline(read(kc), timeoutMs, `reading ${AUTH_CONFIGMAP_NAMESPACE}/${AUTH_CONFIGMAP_NAME}`);
      const key = JSON.stringify(config);
      if (!stopped && key !== last) {
        if (last !== '') onChange(config);
        last = key;
      }
    } catch (err) {
      onError(err as Error);
    } finally {
      busy = false;
    }
  };
  void tick();
  const timer = setInterval(() => void tick(), intervalMs);
  timer.unref();
  return () => {
    stopped = true;
    clearInterval(timer);
  };
}
