/**
 * Browser sign-in of the console: a browser cannot put a bearer header on a page load or on
 * EventSource, so `POST /login` trades a valid token for a session cookie. Sessions live in memory
 * (a restart signs everyone out), hold the role of the token and expire after SESSION_TTL_MS.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Role } from './auth.js';

export const COOKIE = 'vigie_console';
export const SESSION_TTL_MS = 8 * 3600_000;
/** A sign-in form is a token and little else. */
const MAX_FORM_BYTES = 4096;

export class Sessions {
  private readonly byId = new Map<string, { role: Role; expires: number }>();

  constructor(private readonly ttlMs = SESSION_TTL_MS) {}

  /** A new session's id (32 random bytes, hex). */
  create(role: Role, now = Date.now()): string {
    for (const [id, s] of this.byId) if (s.expires <= now) this.byId.delete(id);
    const id = randomBytes(32).toString('hex');
    this.byId.set(id, { role, expires: now + this.ttlMs });
    return id;
  }

  /** The role of the request's session cookie, or undefined when absent, unknown or expired. */
  roleOf(req: IncomingMessage, now = Date.now()): Role | undefined {
    const id = sessionId(req);
    const s = id === undefined ? undefined : this.byId.get(id);
    if (s === undefined || id === undefined) return undefined;
    if (s.expires <= now) {
      this.byId.delete(id);
      return undefined;
    }
    return s.role;
  }

  drop(req: IncomingMessage): void {
    const id = sessionId(req);
    if (id !== undefined) this.byId.delete(id);
  }
}

/** The session id in the request's Cookie header. */
export function sessionId(req: IncomingMessage): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === COOKIE) return part.slice(eq + 1).trim() || undefined;
  }
  return undefined;
}

export function sessionCookie(id: string): string {
  return `${COOKIE}=${id}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${SESSION_TTL_MS / 1000}`;
}

export const CLEARED_COOKIE = `${COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0`;

/**
 * True when a state-changing request comes from the console's own pages: `Sec-Fetch-Site:
 * same-origin`, or else an `Origin` whose host is the request's Host. Neither header: refused.
 */
export function sameOrigin(req: IncomingMessage): boolean {
  const site = req.headers['sec-fetch-site'];
  if (site !== undefined) return site === 'same-origin';
  const origin = req.headers.origin;
  if (origin === undefined || origin === 'null') return false;
  try {
    return new URL(origin).host === req.headers.host;
  } catch {
    return false;
  }
}

/** The `token` field of a form-urlencoded body (undefined when missing or the body is too large). */
export async function formToken(req: IncomingMessage): Promise<string | undefined> {
  let body = '';
  for await (const chunk of req) {
    body += String(chunk);
    if (body.length > MAX_FORM_BYTES) return undefined;
  }
  return new URLSearchParams(body).get('token') ?? undefined;
}
