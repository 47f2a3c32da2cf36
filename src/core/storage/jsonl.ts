/**
 * Append-only JSONL logs that survive kill -9 and a full disk.
 *
 * Writers append whole lines and fsync once per batch, so after a crash the file holds every completed
 * batch plus at most one torn last line (a kill mid-write, or a write cut short by ENOSPC). Readers drop a
 * torn tail (bytes after the last newline, or a last line that does not parse) and `JsonlLog.open` truncates
 * it before appending, so the next record never fuses with garbage — and says so: the repair is kept in
 * `log.repaired` and reported as a process warning (code PERSONA_LAB_JSONL_REPAIRED; the CLI prints it on
 * stderr, the extension host in its log). A line that does not parse *before* the last one is not a crash
 * artefact: it is refused with the file and line number, and nothing is truncated.
 */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, truncateSync, writeSync } from 'node:fs';
import path from 'node:path';
import { PipelineError } from '../errors.js';

export interface JsonlRepair { file: string; droppedBytes: number; keptRecords: number }

export function readJsonl<T>(file: string): T[] {
  if (!existsSync(file)) return [];
  return parseJsonl<T>(readFileSync(file), file).records;
}

function parseJsonl<T>(buf: Buffer, file: string): { records: T[]; validBytes: number } {
  const records: T[] = [];
  let pos = 0;
  let line = 0;
  while (pos < buf.length) {
    const nl = buf.indexOf(0x0a, pos);
    if (nl < 0) break; // torn tail: no newline after the last bytes
    const text = buf.toString('utf8', pos, nl);
    line++;
    if (text.trim() !== '') {
      try { records.push(JSON.parse(text) as T); } catch {
        if (nl + 1 < buf.length) {
          throw new PipelineError('data-invalid', `${file}, line ${line}: not valid JSON, and more records follow it — this is not a crash's torn ` +
            'last line, so nothing was repaired. Fix or remove that line (or the run folder) and rerun.');
        }
        break; // the last line is torn (it ends in a newline but its JSON was cut)
      }
    }
    pos = nl + 1;
  }
  return { records, validBytes: pos };
}

export class JsonlLog<T> {
  private constructor(readonly file: string, readonly records: T[], readonly repaired?: JsonlRepair) {}

  /** Opens (creating folders), loads every complete record, and cuts a torn tail left by a crash (saying so). */
  static open<T>(file: string): JsonlLog<T> {
    mkdirSync(path.dirname(file), { recursive: true });
    if (!existsSync(file)) return new JsonlLog<T>(file, []);
    const buf = readFileSync(file);
    const { records, validBytes } = parseJsonl<T>(buf, file);
    if (validBytes === buf.length) return new JsonlLog<T>(file, records);
    truncateSync(file, validBytes);
    const repair: JsonlRepair = { file, droppedBytes: buf.length - validBytes, keptRecords: records.length };
    process.emitWarning(`${file}: repaired a torn last line left by an interrupted write (dropped ${repair.droppedBytes} bytes, ` +
      `kept ${records.length} complete records); what it held is recomputed`, { code: 'PERSONA_LAB_JSONL_REPAIRED' });
    return new JsonlLog<T>(file, records, repair);
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
