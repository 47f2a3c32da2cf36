/** CSV export (RFC 4180 quoting) with an explicit column list, so files keep upstream's column names and order. */
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
