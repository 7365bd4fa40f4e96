/**
 * The beginning of a record too large to accept (reason too_large): enough to recognise it in a dead
 * letter, never the record itself, so a 200 MB line neither stays in memory nor lands in a sink.
 */

/** Bytes of a too_large record that its dead letter keeps. */
export const EXCERPT_BYTES = 256;

/** The excerpt's length for a source whose records are bounded by `maxEventBytes`: never above the bound. */
export function excerptBytes(maxEventBytes: number): number {
  return Math.min(EXCERPT_BYTES, maxEventBytes);
}

/**
 * How many of the `n` bytes from `from` to keep so that they end on a UTF-8 character boundary: a
 * character cut in half would turn into a replacement character, which the input never held.
 */
export function utf8Fit(b: Uint8Array, from: number, n: number): number {
  // Look back for the lead byte of the last character (at most 3 continuation bytes behind it).
  let j = n - 1;
  while (j >= 0 && n - j < 4 && (b[from + j] & 0xc0) === 0x80) j--;
  if (j < 0) return n;
  const lead = b[from + j];
  const width = lead < 0x80 ? 1 : lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
  return j + width > n ? j : n;
}

/** At most `limit` bytes of the text in `b[from, to)`, decoded, ending on a character boundary. */
export function bytesExcerpt(b: Uint8Array, from: number, to: number, limit: number): string {
  const n = Math.min(limit, to - from);
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('utf8', from, from + utf8Fit(b, from, n));
}

/** At most `limit` UTF-8 bytes of `text`, ending on a character boundary. */
export function textExcerpt(text: string, limit: number): string {
  // A UTF-16 unit never takes more than 3 bytes: `limit` units are enough to fill `limit` bytes.
  let head = text.slice(0, limit);
  // Never split a surrogate pair: its lone first half would encode as a replacement character.
  const last = head.charCodeAt(head.length - 1);
  if (last >= 0xd800 && last <= 0xdbff) head = head.slice(0, -1);
  const bytes = Buffer.from(head, 'utf8');
  return bytes.length <= limit ? head : bytesExcerpt(bytes, 0, bytes.length, limit);
}
