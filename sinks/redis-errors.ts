/** Which errors of the redis sink a retry can fix and which it cannot, and the messages that say so. */

/** Server replies that a later attempt may not get: loading, failover, busy, out of memory, cluster moving. */
const RETRIABLE_REPLIES = new Set(['LOADING', 'READONLY', 'BUSY', 'MASTERDOWN', 'TRYAGAIN', 'CLUSTERDOWN', 'OOM', 'MISCONF', 'NOREPLICAS', 'MOVED', 'ASK']);

/**
 * `noscript`: the script is not cached (reloaded at once); `retriable`: connection lost, timeout, or a
 * transient server state; `fatal`: any other reply error (WRONGTYPE, NOPERM, WRONGPASS, ERR...).
 */
export function classifyError(err: unknown): 'noscript' | 'retriable' | 'fatal' {
  if (!(err instanceof Error)) return 'retriable';
  const code = /^[A-Z]+/.exec(err.message)?.[0] ?? '';
  if (code === 'NOSCRIPT') return 'noscript';
  // Anything but a server reply: connection refused or lost, "Command timed out", aborted commands.
  if (err.name !== 'ReplyError') return 'retriable';
  return RETRIABLE_REPLIES.has(code) ? 'retriable' : 'fatal';
}

/** Authentication or authorisation refused while connecting: no retry fixes a wrong password. */
export function isAuthError(err: unknown): boolean {
  const msg = err instanceof Error ? err.message : String(err);
  return /^(WRONGPASS|NOAUTH|NOPERM)\b/.test(msg) || /invalid (username-)?password/i.test(msg);
}

/** Node's codes for a server certificate that cannot be trusted (wrong CA, self-signed, expired, wrong name). */
const UNTRUSTED_CERT_CODES = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_REVOKED',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** The server's TLS certificate is not trusted: a configuration problem that no retry fixes. */
export function isCertificateError(err: unknown): boolean {
  return err instanceof Error && UNTRUSTED_CERT_CODES.has((err as { code?: unknown }).code as string);
}

/** Why connecting can never succeed without a change of configuration (or undefined: it may, later). */
export function refusal(err: unknown, target: string): string | undefined {
  if (isAuthError(err)) return `authentication to ${target} failed: ${messageOf(err)}`;
  if (isCertificateError(err)) return `the TLS certificate of ${target} is not trusted: ${messageOf(err)} (check tls.caFile)`;
  return undefined;
}

/** A failure no retry fixes: the batch's write rejects with it. */
export class FatalError extends Error {}
/** A failure a later attempt may not meet: the batch is tried again. */
export class RetriableError extends Error {}

export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
