/**
 * The console's HTML: the sign-in form and the live alerts page. Server-rendered, no external fonts,
 * CDNs or build step; style and script are served from /assets (assets.ts) under a strict
 * Content-Security-Policy, so no inline script can run. The page builds its rows with textContent.
 */
import type { ServerResponse } from 'node:http';
import { SEVERITIES } from '../types.js';

export const CSP = "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

const HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  'cache-control': 'no-store',
  'content-security-policy': CSP,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

export function sendHtml(res: ServerResponse, status: number, html: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { ...HEADERS, 'content-length': Buffer.byteLength(html), ...headers });
  res.end(html);
}

export function redirect(res: ServerResponse, location: string, headers: Record<string, string> = {}): void {
  res.writeHead(303, { location, 'cache-control': 'no-store', 'content-length': 0, ...headers });
  res.end();
}

/** The document head, with the shared stylesheet and, after it, a page's own (`/assets/NAME.css`). */
export const head = (title: string, stylesheet?: string) =>
  `<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">` +
  `<title>${title}</title><link rel="stylesheet" href="/assets/console.css">` +
  (stylesheet === undefined ? '' : `<link rel="stylesheet" href="${stylesheet}">`) +
  `</head>`;

/** The pages every signed-in page links to (path, label). */
export const NAV: ReadonlyArray<readonly [string, string]> = [
  ['/', 'Live alerts'],
  ['/queue', 'Morning queue'],
  ['/lab', 'Lab'],
];

/** A signed-in page's header: title, navigation (`current` marked), an optional status, sign-out. */
export function pageHeader(current: string, status = ''): string {
  const links = NAV.map(([href, label]) => `<a href="${href}"${href === current ? ' aria-current="page"' : ''}>${label}</a>`).join('');
  return `<header>
<h1>Vigie console</h1>
<nav>${links}</nav>
${status}
<form method="post" action="/logout"><button type="submit">Sign out</button></form>
</header>`;
}

/** The sign-in form; `error` is one of this module's fixed messages, never user input. */
export function loginPage(error?: 'wrong token'): string {
  return `${head('Vigie console: sign in')}
<body class="login"><main>
<h1>Vigie console</h1>
<form method="post" action="/login">
<label for="token">Access token</label>
<input id="token" name="token" type="password" autocomplete="current-password" required autofocus>
<button type="submit">Sign in</button>
${error === undefined ? '' : '<p class="error" role="alert">That token is not valid.</p>'}
</form>
<p class="hint">The token is VIGIE_CONSOLE_TOKEN (read-only) or VIGIE_CONSOLE_ANALYST_TOKEN (analyst).</p>
</main></body></html>
`;
}

/** The live alerts page; everything it shows comes from the API, loaded by /assets/console.js. */
export function livePage(): string {
  const severities = SEVERITIES.map((s) => `<option value="${s}">${s}</option>`).join('');
  return `${head('Vigie console: live alerts')}
<body data-live="connecting">
${pageHeader('/', '<span id="status" class="status">connecting…</span>')}
<form id="filters" class="filters">
<label>Detector <input name="detector" id="f-detector" autocomplete="off"></label>
<label>Severity <select name="severity" id="f-severity"><option value="">any</option>${severities}</select></label>
<label>Key <input name="key" id="f-key" autocomplete="off"></label>
<label>Since <input name="since" id="f-since" autocomplete="off" placeholder="24h, 2026-01-01T00:00Z"></label>
<label>Until <input name="until" id="f-until" autocomplete="off" placeholder="event time, exclusive"></label>
<button type="submit">Apply</button>
<button type="button" id="pause">Pause</button>
<span id="queued" class="queued"></span>
</form>
<section><h2>Alerts per detector</h2><ul id="counts" class="counts"></ul></section>
<section>
<h2>Live alerts <span class="note">(newest first)</span></h2>
<table id="alerts"><thead><tr><th>Time (UTC)</th><th>Severity</th><th>Detector</th><th>Key</th><th>Explanation</th><th>Observed / threshold</th></tr></thead>
<tbody></tbody></table>
<p id="empty" class="note">No alerts.</p>
</section>
<script src="/assets/console.js"></script>
</body></html>
`;
}
