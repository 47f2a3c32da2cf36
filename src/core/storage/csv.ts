/** CSV export (RFC 4180 quoting) with an explicit column list, so files keep upstream's column names and order; and a reader for the same dialect. */
import { writeFileSync } from 'node:fs';

export type CsvValue = string | number | boolean | null | undefined;

function cell(v: CsvValue): string {
  // Missing scores are empty cells, which pandas reads back as NaN (upstream's convention).
  if (v === null || v === undefined || (typeof v === 'number' && !Number.isFinite(v))) return '';
  const s = String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function toCsv(columns: readonly string[], rows: readonly Record<string, CsvValue>[]): string {
  return [columns.map(cell).join(','), ...rows.map((r) => columns.map((c) => cell(r[c])).join(','))].join('\n') + '\n';
}

export function writeCsv(file: string, columns: readonly string[], rows: readonly Record<string, CsvValue>[]): void {
  writeFileSync(file, toCsv(columns, rows));
}

/**
 * Parses RFC 4180 CSV (quoted fields may hold commas, quotes and newlines; CRLF or LF) into objects keyed by the
 * header row. Small and dependency-free: the inputs are our own exports and pandas' to_csv output.
 */
export function readCsv(text: string): Record<string, string>[] {
  const rows: string[][] = [];
  let row: string[] = [], field = '', i = 0, quoted = false;
  const endField = () => { row.push(field); field = ''; };
  const endRow = () => { endField(); if (row.length > 1 || row[0] !== '') rows.push(row); row = []; };
  while (i < text.length) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"') {
        if (text[i + 1] === '"') { field += '"'; i += 2; continue; }
        quoted = false; i++; continue;
      }
      field += ch; i++; continue;
    }
    if (ch === '"' && field === '') { quoted = true; i++; continue; }
    if (ch === ',') { endField(); i++; continue; }
    if (ch === '\r' && text[i + 1] === '\n') { endRow(); i += 2; continue; }
    if (ch === '\n') { endRow(); i++; continue; }
    field += ch; i++;
  }
  if (quoted) throw new Error('CSV ends inside a quoted field');
  if (field !== '' || row.length) endRow();
  const [header, ...body] = rows;
  if (!header) return [];
  return body.map((r) => Object.fromEntries(header.map((h, k) => [h, r[k] ?? ''])));
}
