/**
 * Append-only JSONL logs that survive kill -9.
 *
 * Writers append whole lines and fsync once per batch, so after a crash the file holds every completed
 * batch plus at most one torn last line. Readers drop a torn tail (no trailing newline, or JSON that does
 * not parse on the final line) and `openJsonlLog` truncates it before appending, so the next record never
 * fuses with garbage.
 */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, truncateSync, writeSync } from 'node:fs';
import path from 'node:path';

export function readJsonl<T>(file: string): T[] {
  if (!existsSync(file)) return [];
  return parseJsonl<T>(readFileSync(file, 'utf8')).records;
}

function parseJsonl<T>(text: string): { records: T[]; validBytes: number } {
  const records: T[] = [];
  let pos = 0;
  let validBytes = 0;
  while (pos < text.length) {
    const nl = text.indexOf('\n', pos);
    if (nl < 0) break; // torn tail
    const line = text.slice(pos, nl);
    pos = nl + 1;
    if (line.trim() === '') { validBytes = Buffer.byteLength(text.slice(0, pos)); continue; }
    try { records.push(JSON.parse(line) as T); } catch { break; }
    validBytes = Buffer.byteLength(text.slice(0, pos));
  }
  return { records, validBytes };
}

export class JsonlLog<T> {
  private constructor(readonly file: string, readonly records: T[]) {}

  /** Opens (creating folders), loads every complete record, and cuts a torn tail left by a crash. */
  static open<T>(file: string): JsonlLog<T> {
    mkdirSync(path.dirname(file), { recursive: true });
    if (!existsSync(file)) return new JsonlLog<T>(file, []);
    const text = readFileSync(file, 'utf8');
    const { records, validBytes } = parseJsonl<T>(text);
    if (validBytes !== Buffer.byteLength(text)) truncateSync(file, validBytes);
    return new JsonlLog<T>(file, records);
  }

  /** Appends records as lines and fsyncs before returning: once this resolves, the batch is durable. */
  append(batch: readonly T[], options: { fsync?: boolean } = {}): void {
    if (batch.length === 0) return;
    const fd = openSync(this.file, 'a');
    try {
      writeSync(fd, batch.map((r) => JSON.stringify(r)).join('\n') + '\n');
      if (options.fsync !== false) fsyncSync(fd);
    } finally { closeSync(fd); }
    this.records.push(...batch);
  }
}
