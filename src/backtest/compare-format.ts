/** The what-if comparison as readable text tables (stdout of `vigie replay --compare`). */
import { describeMatching } from './alert-match.js';
import type { DetectorComparison, PrecisionScore, WhatIfReport } from './compare.js';

function table(head: string[], rows: string[][], right: boolean[]): string[] {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const cell = (s: string, i: number) => (right[i] ? s.padStart(widths[i]) : s.padEnd(widths[i]));
  return [`| ${head.map(cell).join(' | ')} |`, `|${widths.map((w, i) => (right[i] ? `${'-'.repeat(w + 1)}:` : '-'.repeat(w + 2))).join('|')}|`, ...rows.map((r) => `| ${r.map(cell).join(' | ')} |`)];
}

const frac = (x: number) => x.toFixed(3);

/** The comparison as readable tables (stdout of `vigie replay --compare`). */
export function formatComparison(r: WhatIfReport): string {
  const lines: string[] = [];
  lines.push(`What-if over ${r.input} (${r.a.events} events)`);
  lines.push(`  A: ${r.a.config} (version ${r.a.version})`);
  lines.push(`  B: ${r.b.config} (version ${r.b.version})`);
  lines.push('');
  lines.push('Alerts per detector (cooldown summaries excluded; "keys": distinct keys alerted, and those alerted by both)');
  const rule = describeMatching(r.match);
  lines.push(...wrap(`${rule.charAt(0).toUpperCase()}${rule.slice(1)}.`, 110));
  const mark = (d: DetectorComparison) => (d.in === 'a' ? ' (A only)' : d.in === 'b' ? ' (B only)' : '');
  lines.push(
    ...table(
      ['detector', 'A', 'B', 'B-A', 'only A', 'only B', 'both', 'keys A', 'keys B', 'keys both'],
      [
        ...r.detectors.map((d) => [
          `${d.detector}${mark(d)}`,
          ...[d.a, d.b].map(String),
          signed(d.b - d.a),
          ...[d.onlyA, d.onlyB, d.both, d.keys.a, d.keys.b, d.keys.both].map(String),
        ]),
        ['total', String(r.totals.a), String(r.totals.b), signed(r.totals.b - r.totals.a), String(r.totals.onlyA), String(r.totals.onlyB), String(r.totals.both), '', '', ''],
      ],
      [false, true, true, true, true, true, true, true, true, true],
    ),
  );
  if (r.days.length > 0) {
    lines.push('');
    lines.push('Alerts per day (UTC, event time), A / B');
    const ds = r.detectors.filter((d) => d.a + d.b > 0);
    lines.push(
      ...table(
        ['day', ...ds.map((d) => d.detector)],
        r.days.map((day) => [day, ...ds.map((d) => `${d.perDay[day]?.a ?? 0} / ${d.perDay[day]?.b ?? 0}`)]),
        [false, ...ds.map(() => true)],
      ),
    );
  }
  if (r.labels !== undefined) {
    lines.push('');
    lines.push('Precision per detector (alerts citing a labelled event / alerts)');
    const p = (s: PrecisionScore | undefined) => (s === undefined ? '-' : s.alerts === 0 ? '0/0' : `${s.truePositives}/${s.alerts} (${frac(s.precision)})`);
    lines.push(...table(['detector', 'A', 'B'], r.detectors.filter((d) => d.a + d.b > 0).map((d) => [d.detector, p(d.precision?.a), p(d.precision?.b)]), [false, true, true]));
    lines.push('');
    lines.push('Recall per typology (cases detected / cases)');
    const rc = (s: { detectedCases: number; recall: number } | undefined, cases: number) => (s === undefined ? '-' : `${s.detectedCases}/${cases} (${frac(s.recall)})`);
    lines.push(...table(['typology', 'A', 'B'], r.labels.typologies.map((t) => [t.typology, rc(t.a, t.cases), rc(t.b, t.cases)]), [false, true, true]));
  }
  lines.push('');
  lines.push(`time: A ${(r.a.durationMs / 1000).toFixed(1)} s, B ${(r.b.durationMs / 1000).toFixed(1)} s (one pass over the input)`);
  return `${lines.join('\n')}\n`;
}

/** Words of `text` in lines of at most `width` characters (a longer word stands alone). */
function wrap(text: string, width: number): string[] {
  const out: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line !== '' && line.length + 1 + word.length > width) {
      out.push(line);
      line = word;
    } else {
      line = line === '' ? word : `${line} ${word}`;
    }
  }
  if (line !== '') out.push(line);
  return out;
}

function signed(n: number): string {
  return n > 0 ? `+${n}` : String(n);
}
