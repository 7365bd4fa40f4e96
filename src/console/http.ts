/** JSON replies and query parameters of the console's API. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { Role } from './auth.js';
import { parseDuration } from '../time/duration.js';

/** An error the client can fix (or see): sent as `{ error: { code, message } }` with its status. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

export function sendError(res: ServerResponse, err: HttpError, headers: Record<string, string> = {}): void {
  sendJson(res, err.status, { error: { code: err.code, message: err.message } }, headers);
}

const badRequest = (message: string) => new HttpError(400, 'bad_request', message);

/** A time parameter: ISO-8601, milliseconds since the epoch, or a duration ago (`24h`, `7d`). */
export function timeParam(q: URLSearchParams, name: string, now = Date.now()): number | undefined {
  const v = q.get(name);
  if (v === null || v === '') return undefined;
  if (/^\d+$/.test(v)) return Number(v);
  const ago = parseDuration(v);
  if (ago !== undefined) return now - ago;
  const t = Date.parse(v);
  if (Number.isNaN(t)) throw badRequest(`${name}: "${v}" is neither an ISO-8601 time, milliseconds since the epoch, nor a duration ago (24h, 7d)`);
  return t;
}

/** An integer parameter within 1..max (default when absent). */
export function limitParam(q: URLSearchParams, name: string, fallback: number, max: number): number {
  const v = q.get(name);
  if (v === null || v === '') return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > max) throw badRequest(`${name}: expected an integer from 1 to ${max}, got "${v}"`);
  return n;
}

/** A text parameter (absent or empty: undefined). */
export function textParam(q: URLSearchParams, name: string): string | undefined {
  const v = q.get(name);
  return v === null || v === '' ? undefined : v;
}

/** Reads a JSON request body of at most `maxBytes` (413 beyond, 400 when it is not JSON or not an object). */
export async function readJsonBody(req: IncomingMessage, maxBytes = 1_000_000): Promise<Record<string, unknown>> {
  const type = req.headers['content-type'] ?? '';
  if (!/^application\/json\b/i.test(type)) throw badRequest('expected a JSON body (content-type: application/json)');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) throw new HttpError(413, 'too_large', `the body is over ${maxBytes} bytes`);
    chunks.push(chunk);
  }
  let body: unknown;
  try {
    body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw badRequest('the body is not valid JSON');
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw badRequest('the body must be a JSON object');
  return body as Record<string, unknown>;
}

/** What a route module receives: the request, its parsed URL, and who asks. */
export interface RouteContext {
  req: IncomingMessage;
  res: ServerResponse;
  path: string;
  query: URLSearchParams;
  role: Role;
  logger: Logger;
}

/**
 * A route module (triage, queue, lab...): answers the requests it knows and returns true, false for
 * the others. Cross-site checks are done before it is called (server.ts): a POST that reaches it is
 * same-origin or carries a bearer token.
 */
export type Routes = (ctx: RouteContext) => Promise<boolean>;

/** Throws 403 unless the caller has the analyst role. */
export function requireAnalyst(role: Role, what: string): void {
  if (role !== 'analyst') throw new HttpError(403, 'forbidden', `${what} needs the analyst role (VIGIE_CONSOLE_ANALYST_TOKEN)`);
}
