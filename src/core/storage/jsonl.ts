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
import { closeSync, existsSync, fstatSync, fsyncSync, ftruncateSync, mkdirSync, openSync, readFileSync, truncateSync, writeSync } from 'node:fs';
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

  /**
   * Appends records as lines and fsyncs before returning: once this returns, the batch is durable. A write that
   * fails part-way (a full disk: write(2) first returns a short count, then ENOSPC) is cut back to the file's size
   * before it, so the log never keeps half a batch, and reported as PipelineError 'disk-full'.
   */
  append(batch: readonly T[], options: { fsync?: boolean } = {}): void {
    if (batch.length === 0) return;
    const data = Buffer.from(batch.map((r) => JSON.stringify(r)).join('\n') + '\n');
    const fd = openSync(this.file, 'a');
    const start = fstatSync(fd).size;
    try {
      for (let off = 0; off < data.length;) off += writeSync(fd, data, off, data.length - off);
      if (options.fsync !== false) fsyncSync(fd);
    } catch (e) {
      try { ftruncateSync(fd, start); } catch { /* the torn tail is cut on the next open */ }
      throw diskFullError(e, this.file) ?? e;
    } finally { closeSync(fd); }
    this.records.push(...batch);
  }
}

/** ENOSPC / EDQUOT as PipelineError 'disk-full' naming the file; undefined for any other error. */
export function diskFullError(e: unknown, file?: string): PipelineError | undefined {
  const code = (e as NodeJS.ErrnoException)?.code;
  if (code !== 'ENOSPC' && code !== 'EDQUOT') return undefined;
  const where = file ?? (e as NodeJS.ErrnoException).path;
  return new PipelineError('disk-full', `${code === 'EDQUOT' ? 'disk quota exceeded' : 'no space left on the device'}${where ? ` writing ${where}` : ''}. ` +
    'Everything recorded before it is intact: free some space (or move the workspace with --workspace) and rerun the same command — it resumes where it stopped.');
}
