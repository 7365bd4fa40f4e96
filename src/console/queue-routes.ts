/**
 * The morning queue's routes: the page `/queue` and `GET /api/queue/periods`, `GET /api/queue`
 * (a period's lines, the first `k` for the unit's capacity). Each line opens, in the page, on the
 * key's alerts and the payments they name (read with the alerts API).
 */
import { HttpError, limitParam, sendJson, textParam, type Routes } from './http.js';
import { sendHtml } from './page.js';
import { queuePage } from './queue-page.js';
import type { QueueStore } from './queue-store.js';

export const MAX_QUEUE_K = 10_000;
export const DEFAULT_PERIODS = 60;

export function queueRoutes(store: QueueStore): Routes {
  return async ({ req, res, path, query }) => {
    if (req.method !== 'GET') return false;
    if (path === '/queue') {
      sendHtml(res, 200, queuePage());
      return true;
    }
    if (path === '/api/queue/periods') {
      const periods = await store.periods(limitParam(query, 'limit', DEFAULT_PERIODS, 1000), textParam(query, 'detector'));
      sendJson(res, 200, { periods });
      return true;
    }
    if (path !== '/api/queue') return false;
    const k = limitParam(query, 'k', MAX_QUEUE_K, MAX_QUEUE_K);
    let detector = textParam(query, 'detector');
    const startText = textParam(query, 'start');
    let start: number;
    if (startText === undefined) {
      // No period named: the newest one (of the detector, when named).
      const [latest] = await store.periods(1, detector);
      if (latest === undefined) {
        sendJson(res, 200, { period: null, lines: [] });
        return true;
      }
      detector = latest.detector;
      start = latest.start;
    } else {
      start = Number(startText);
      if (!/^-?\d+$/.test(startText) || !(Math.abs(start) <= 8.64e15)) throw new HttpError(400, 'bad_request', `start: expected the period start in milliseconds since the epoch, got "${startText}"`);
      if (detector === undefined) throw new HttpError(400, 'bad_request', 'detector: required with start');
    }
    const lines = await store.lines(detector, start, k);
    if (lines === undefined) throw new HttpError(404, 'not_found', `no queue of detector "${detector}" for the period starting ${new Date(start).toISOString()}`);
    sendJson(res, 200, { period: { detector, pipeline: lines[0].pipeline, start, end: lines[0].end }, lines });
    return true;
  };
}
