/** JSON replies and query parameters of the console's API. */
import type { ServerResponse } from 'node:http';
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
