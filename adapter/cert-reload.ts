// Follows the serving certificate on disk: cert-manager (or a Secret update) rewrites tls.crt/tls.key in place, by
// symlink swap, and the adapter must serve the renewed pair without a restart. The files are re-read on an interval
// (fs events miss symlink swaps of projected volumes); a new pair is taken only when it parses and the key matches
// the certificate, otherwise the old pair keeps serving and the problem is reported.
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';

export function watchServingCert(
  certFile: string,
  keyFile: string,
  apply: (certPem: string, keyPem: string) => void,
  onError: (err: Error) => void,
  intervalMs = 10_000,
  onApplied?: () => void,
): () => void {
  let last = '';
  try {
    last = readFileSync(certFile, 'utf8') + '\u0000' + readFileSync(keyFile, 'utf8');
  } catch {
    // the server read them at start; a failure here is reported at the first tick
  }
  const tick = (): void => {
    let cert: string;
    let key: string;
    try {
      cert = readFileSync(certFile, 'utf8');
      key = readFileSync(keyFile, 'utf8');
    } catch (e) {
      onError(new Error(`reading the serving certificate failed, keeping the current one: ${(e as Error).message}`));
      return;
    }
    const now = cert + '\u0000' + key;
    if (now === last) return;
    try {
      createSecureContext({ cert, key }); // throws when either does not parse or the key does not match
    } catch (e) {
      onError(new Error(`the new serving certificate in ${certFile} / ${keyFile} is unusable, keeping the current one: ${(e as Error).message}`));
      return; // not remembered: a half-written pair is tried again next tick
    }
    last = now;
    apply(cert, key);
    onApplied?.();
  };
  const timer = setInterval(tick, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
