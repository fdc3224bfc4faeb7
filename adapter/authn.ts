// Authentication of requests as an aggregated API server (reference A9). Two kinds of client certificate count:
// - front-proxy: verified against the requestheader client CA, CN in the allowed names (empty = any); the user then
//   comes from X-Remote-User / X-Remote-Group (one header per group) / X-Remote-Extra-<escaped key> / X-Remote-Uid;
// - x509 user: verified against the ordinary client CA (kubectl with a client cert): user = CN, groups = O.
// The X-Remote-* headers are ignored on every other connection. The TLS handshake checks the chain against both CAs
// together (`requestCert`, `rejectUnauthorized: false`, `ca` = both CAs); which CA vouches for the leaf is decided here
// by verifying the path to each CA set separately (adapter/chain.ts), never by matching certificates the client sent.
import { X509Certificate } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { presentedChain, verifyClientChain } from './chain.js';

export interface RequestHeaderConfig {
  /** PEM bundle of the front-proxy (requestheader) client CA. */
  clientCaPem: string;
  /** CNs allowed to assert identities through headers; empty means any CN signed by the CA. */
  allowedNames: string[];
  usernameHeaders?: string[];
  uidHeaders?: string[];
  groupHeaders?: string[];
  extraHeaderPrefixes?: string[];
}

export interface AuthenticationConfig {
  requestHeader: RequestHeaderConfig;
  /** PEM bundle of the CA for ordinary x509 client users; optional. */
  clientCaPem?: string;
}

export interface UserIdentity {
  user: string;
  uid?: string;
  groups: string[];
  extra: Record<string, string[]>;
  via: 'front-proxy' | 'x509' | 'insecure-dev';
}

export type AuthenticationResult = { ok: true; identity: UserIdentity } | { ok: false; reason: string };

/** Split a PEM bundle into certificates; throws naming the source when there is none or one does not parse. */
export function parsePemBundle(pem: string, source: string): X509Certificate[] {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) throw new Error(`${source}: no PEM certificate found`);
  return blocks.map((b, i) => {
    try {
      return new X509Certificate(b);
    } catch (err) {
      throw new Error(`${source}: certificate #${i + 1} does not parse: ${(err as Error).message}`);
    }
  });
}

function lower(list: string[] | undefined, fallback: string[]): string[] {
  return (list && list.length > 0 ? list : fallback).map((h) => h.toLowerCase());
}

function commonName(cert: X509Certificate): string {
  const m = /(?:^|\n)CN=([^\n]*)/.exec(cert.subject);
  return m ? m[1]! : '';
}
function organizations(cert: X509Certificate): string[] {
  const out: string[] = [];
  for (const line of cert.subject.split('\n')) if (line.startsWith('O=')) out.push(line.slice(2));
  return out;
}

/** What a TLS connection's certificate proved, computed once per connection and configuration generation. */
interface ConnectionVerdict {
  generation: number;
  kind: 'front-proxy' | 'x509' | 'none';
  reason: string;
  user?: string;
  groups?: string[];
}

export class RequestAuthenticator {
  private generation = 0;
  private requestHeaderCas: X509Certificate[] = [];
  private clientCas: X509Certificate[] = [];
  private allowedNames = new Set<string>();
  private usernameHeaders: string[] = [];
  private uidHeaders: string[] = [];
  private groupHeaders: string[] = [];
  private extraPrefixes: string[] = [];
  private readonly verdicts = new WeakMap<TLSSocket, ConnectionVerdict>();

  constructor(config: AuthenticationConfig) {
    this.update(config);
  }

  /** Swap the configuration (CA rotation, ConfigMap change); connections are re-judged on their next request. */
  update(config: AuthenticationConfig): void {
    const rh = config.requestHeader;
    this.requestHeaderCas = parsePemBundle(rh.clientCaPem, 'requestheader client CA');
    this.clientCas = config.clientCaPem ? parsePemBundle(config.clientCaPem, 'client CA') : [];
    this.allowedNames = new Set(rh.allowedNames);
    this.usernameHeaders = lower(rh.usernameHeaders, ['X-Remote-User']);
    this.uidHeaders = lower(rh.uidHeaders, ['X-Remote-Uid']);
    this.groupHeaders = lower(rh.groupHeaders, ['X-Remote-Group']);
    this.extraPrefixes = lower(rh.extraHeaderPrefixes, ['X-Remote-Extra-']);
    this.generation++;
  }

  authenticate(req: IncomingMessage): AuthenticationResult {
    const socket = req.socket as TLSSocket;
    let verdict = this.verdicts.get(socket);
    if (!verdict || verdict.generation !== this.generation) {
      verdict = this.judge(socket, verdict !== undefined);
      this.verdicts.set(socket, verdict);
    }
    if (verdict.kind === 'none') return { ok: false, reason: verdict.reason };
    if (verdict.kind === 'x509') {
      return { ok: true, identity: { user: verdict.user!, groups: verdict.groups!, extra: {}, via: 'x509' } };
    }
    return this.fromHeaders(req);
  }

  private judge(socket: TLSSocket, rejudge: boolean): ConnectionVerdict {
    const generation = this.generation;
    const none = (reason: string): ConnectionVerdict => ({ generation, kind: 'none', reason });
    if (typeof socket.getPeerX509Certificate !== 'function') return none('not a TLS connection');
    const leaf = socket.getPeerX509Certificate();
    if (!leaf) return none('no client certificate presented');
    // The handshake verified the chain against the CAs configured then; after a rotation only our own check counts.
    if (!rejudge && !socket.authorized) return none(`client certificate rejected: ${String(socket.authorizationError)}`);
    const now = Date.now();
    const chain = presentedChain(leaf);
    const asProxy = verifyClientChain(leaf, chain, this.requestHeaderCas, now);
    const asUser = this.clientCas.length > 0 ? verifyClientChain(leaf, chain, this.clientCas, now) : undefined;
    const cn = commonName(leaf);
    if (asProxy.ok) {
      if (this.allowedNames.size === 0 || this.allowedNames.has(cn)) return { generation, kind: 'front-proxy', reason: '' };
      // Signed by the front-proxy CA but not an allowed proxy: it may still be an ordinary client (same CA misuse).
      if (!asUser?.ok) return none(`client certificate CN "${cn}" is not in the requestheader allowed names`);
    }
    if (asUser?.ok) {
      if (!cn) return none('client certificate has no common name');
      return { generation, kind: 'x509', reason: '', user: cn, groups: organizations(leaf) };
    }
    const why = asUser && !asUser.ok ? asUser.reason : !asProxy.ok ? asProxy.reason : 'not signed by a trusted client CA';
    return none(why === 'client certificate does not chain to a trusted CA' ? 'client certificate is not signed by a trusted client CA' : why);
  }

  private fromHeaders(req: IncomingMessage): AuthenticationResult {
    const h = req.headersDistinct;
    let user = '';
    for (const name of this.usernameHeaders) {
      const v = h[name]?.[0];
      if (v) {
        user = v;
        break;
      }
    }
    if (!user) return { ok: false, reason: `front-proxy request without a user header (${this.usernameHeaders.join(', ')})` };
    const groups: string[] = [];
    for (const name of this.groupHeaders) for (const g of h[name] ?? []) groups.push(g);
    let uid: string | undefined;
    for (const name of this.uidHeaders) {
      const v = h[name]?.[0];
      if (v) {
        uid = v;
        break;
      }
    }
    const extra: Record<string, string[]> = {};
    if (this.extraPrefixes.length > 0) {
      for (const name of Object.keys(h)) {
        for (const prefix of this.extraPrefixes) {
          if (name.length > prefix.length && name.startsWith(prefix)) {
            const key = unescapeExtraKey(name.slice(prefix.length));
            (extra[key] ??= []).push(...h[name]!);
          }
        }
      }
    }
    const identity: UserIdentity = { user, groups, extra, via: 'front-proxy' };
    if (uid !== undefined) identity.uid = uid;
    return { ok: true, identity };
  }
}

/** apimachinery lowercases extra keys and path-unescapes them (`X-Remote-Extra-Scopes%2fx` → `scopes/x`). */
function unescapeExtraKey(key: string): string {
  try {
    return decodeURIComponent(key).toLowerCase();
  } catch {
    return key.toLowerCase();
  }
}
