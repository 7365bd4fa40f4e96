/**
 * CSV as RFC 4180 says: fields separated by commas, records by CRLF or LF; a field in double quotes
 * may hold commas, line breaks and doubled quotes (""). The first record is the header. A UTF-8
 * byte-order mark is ignored; a record of one empty field (a blank line) is skipped.
 */

export interface CsvRecord {
  /** Line number (1-based) where the record starts. */
  line: number;
  fields: string[];
}

export type CsvResult = { header: string[]; records: CsvRecord[] } | { error: string; line: number };

/** Parse a whole CSV text. Fails as a whole only on what makes the rest unreadable (an unterminated quote, no header). */
export function parseCsv(text: string): CsvResult {
  const records: CsvRecord[] = [];
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  let line = 1;
  const n = text.length;
  while (i < n) {
    const start = line;
    const fields: string[] = [];
    let field = '';
    let quoted = false;
    let fieldStart = true;
    for (;;) {
      if (i >= n) {
        if (quoted) return { error: 'unterminated quoted field', line: start };
        fields.push(field);
        break;
      }
      const c = text[i];
      if (quoted) {
        if (c === '"') {
          if (text[i + 1] === '"') {
            field += '"';
            i += 2;
          } else {
            quoted = false;
            i++;
          }
        } else {
          if (c === '\n') line++;
          field += c;
          i++;
        }
        continue;
      }
      if (c === '"' && fieldStart) {
        quoted = true;
        fieldStart = false;
        i++;
      } else if (c === ',') {
        fields.push(field);
        field = '';
        fieldStart = true;
        i++;
      } else if (c === '\n' || (c === '\r' && text[i + 1] === '\n')) {
        fields.push(field);
        i += c === '\r' ? 2 : 1;
        line++;
        break;
      } else {
        // A quote inside an unquoted field is kept as is (lenient, as most writers mean it).
        field += c;
        fieldStart = false;
        i++;
      }
    }
    if (fields.length === 1 && fields[0] === '') continue;
    records.push({ line: start, fields });
  }
  const head = records.shift();
  if (head === undefined) return { error: 'no header line', line: 1 };
  const header = head.fields.map((h) => h.trim());
  const seen = new Set<string>();
  for (const h of header) {
    if (h === '') return { error: 'empty column name in the header', line: head.line };
    if (seen.has(h)) return { error: `column "${h}" appears twice in the header`, line: head.line };
    seen.add(h);
  }
  return { header, records };
}
