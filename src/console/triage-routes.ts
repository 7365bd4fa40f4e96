/**
 * The console's alert detail page and triage routes:
 * - `GET /alerts/ID`: the detail page (detail-page.ts, filled by /assets/detail.js);
 * - `POST /api/triage` (analysts): set the state of an alert or a key, with the audit entry and labels;
 * - `GET /api/triage?subject=&id=`: a subject's state and its audit history;
 * - `GET /api/labels?limit=` (newest first) and `GET /api/labels.jsonl` (latest per event, an attachment).
 */
import type { RedisClient } from '../redis/connection.js';
import type { StoredAlert } from './alert-entry.js';
import { DEFAULT_SCAN_LIMIT, type AlertsStore } from './alerts-store.js';
import { detailPage } from './detail-page.js';
import { HttpError, limitParam, readJsonBody, requireAnalyst, sendJson, type RouteContext, type Routes } from './http.js';
import { sendHtml } from './page.js';
import { DEFAULT_TRIAGE_KEYS, parseTriageRequest, subjectParam, triageChange, type TriageKeys, type TriageRequest } from './triage.js';
import { TriageStore } from './triage-store.js';

export const DEFAULT_LABELS_LIMIT = 100;
export const MAX_LABELS_LIMIT = 10_000;
/** A triage request is an id, a state and a comment of at most 2000 characters. */
const MAX_BODY = 16_384;

export interface TriageRoutesOptions {
  redis: RedisClient;
  alerts: AlertsStore;
  /** Where triage lives (defaults: vigie:triage, vigie:console:audit, vigie:labels). */
  keys?: Partial<TriageKeys>;
  /** Entries read per stream and request at most (the alerts of a key, an audit history). */
  scanLimit?: number;
  now?: () => number;
}

function decodedId(path: string, prefix: string): string {
  try {
    return decodeURIComponent(path.slice(prefix.length));
  } catch {
    throw new HttpError(400, 'bad_request', 'the alert id is not valid percent-encoding');
  }
}

export function triageRoutes(opts: TriageRoutesOptions): Routes {
  const keys: TriageKeys = { ...DEFAULT_TRIAGE_KEYS, ...opts.keys };
  const scanLimit = opts.scanLimit ?? DEFAULT_SCAN_LIMIT;
  const store = new TriageStore(opts.redis, keys, scanLimit);
  const now = opts.now ?? Date.now;

  /** The alerts a request concerns: the alert (404 when unknown), or every alert of the key among the entries read. */
  async function alertsOf(req: TriageRequest): Promise<StoredAlert[]> {
    if (req.subject === 'alert') {
      const found = await opts.alerts.get(req.id);
      if (found === undefined) throw new HttpError(404, 'not_found', `no alert "${req.id}" among the recent entries`);
      return [found.alert];
    }
    const { alerts } = await opts.alerts.list({ key: req.id }, scanLimit);
    if (alerts.length === 0) throw new HttpError(404, 'not_found', `no alert of key "${req.id}" among the recent entries`);
    return alerts;
  }

  async function post(ctx: RouteContext): Promise<void> {
    requireAnalyst(ctx.role, 'triage');
    const req = parseTriageRequest(await readJsonBody(ctx.req, MAX_BODY));
    const change = triageChange(req, await alertsOf(req), ctx.role, now());
    const previous = await store.apply(change);
    // The subject's id and key stay out of the log: the audit stream holds them.
    ctx.logger.info({ subject: change.subject, previous: previous || undefined, state: change.state, labels: change.labels.length, role: ctx.role }, 'console: triage');
    const { subject, id, key, state, comment, role, at } = change;
    sendJson(ctx.res, 200, { subject, id, key, previous: previous === '' ? null : previous, state, comment, role, at, labels: change.labels.length });
  }

  return async (ctx) => {
    const { path, req, res, query } = ctx;
    if (path === '/api/triage') {
      if (req.method === 'POST') {
        await post(ctx);
        return true;
      }
      if (req.method !== 'GET') throw new HttpError(405, 'method_not_allowed', `${req.method} is not allowed on ${path}`);
      const { subject, id } = subjectParam(query.get('subject'), query.get('id'));
      const [status, { history, truncated }] = await Promise.all([store.status(subject, id), store.history(subject, id)]);
      sendJson(res, 200, { subject, id, status: status ?? null, history, truncated });
      return true;
    }
    if (req.method !== 'GET') return false;
    if (path.startsWith('/alerts/') && path.length > '/alerts/'.length) {
      decodedId(path, '/alerts/');
      sendHtml(res, 200, detailPage(ctx.role));
      return true;
    }
    if (path === '/api/labels') {
      sendJson(res, 200, { labels: await store.labels(limitParam(query, 'limit', DEFAULT_LABELS_LIMIT, MAX_LABELS_LIMIT)) });
      return true;
    }
    if (path === '/api/labels.jsonl') {
      const text = (await store.latestLabels()).map((l) => `${JSON.stringify(l)}\n`).join('');
      res.writeHead(200, {
        'content-type': 'application/x-ndjson; charset=utf-8',
        'content-disposition': 'attachment; filename="labels.jsonl"',
        'cache-control': 'no-store',
        'content-length': Buffer.byteLength(text),
      });
      res.end(text);
      return true;
    }
    return false;
  };
}
