// URLs in logs and messages without their secrets: the password of the user info (as Go's url.Redacted does) and the
// values of query parameters that carry credentials.
const SECRET_PARAM = /token|password|passwd|secret|key|auth|signature/i;
export const REDACTED = 'xxxxx';

export function redactUrl(raw: string): string {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    // Not a URL: hide anything between "//" and "@" that could be user info.
    return raw.replace(/\/\/[^/@\s]*@/, `//${REDACTED}@`);
  }
  if (u.password) u.password = REDACTED;
  for (const k of [...u.searchParams.keys()]) if (SECRET_PARAM.test(k)) u.searchParams.set(k, REDACTED);
  return u.toString();
}
