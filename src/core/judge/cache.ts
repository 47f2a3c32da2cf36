/**
 * Persistent judge cache: a JSONL file per judge model under <workspace>/cache/judge/. The key is
 * sha256(judge model, request settings, rendered prompt), so a rerun of any run with the same judge costs
 * nothing, and a different judge model or prompt never hits a stale entry.
 *
 * Many writers (Slurm array tasks on one shared workspace, several CLI runs): every write happens under the
 * file's lock (storage/lock.ts) as one append of whole lines, after cutting a torn tail a crashed writer may have
 * left, so no entry is lost or fused with another; a miss first reads what other processes appended since the
 * last read, so a judgement another task already paid for is reused, and an entry already in the file is never
 * appended twice.
 */
import { createHash } from 'node:crypto';
import { closeSync, existsSync, fstatSync, fsyncSync, mkdirSync, openSync, readSync, truncateSync, writeSync } from 'node:fs';
import path from 'node:path';
import { withLock } from '../storage/lock.js';

/** `text`: a completion's reply text (LlmJudge.complete, the facet annotator); judge scores have `probs`. */
export interface CachedJudgement { k: string; score: number | null; probs?: Record<string, number>; text?: string }

export class JudgeCache {
  private readonly map = new Map<string, CachedJudgement>();
  readonly file: string;
  private readonly lockFile: string;
  /** Bytes of the file already parsed (always at a line boundary). */
  private offset = 0;

  constructor(dir: string, judgeModel: string) {
    const safe = judgeModel.replace(/[^A-Za-z0-9._-]+/g, '_');
    mkdirSync(dir, { recursive: true });
    this.file = path.join(dir, `${safe}.jsonl`);
    this.lockFile = `${this.file}.lock`;
    withLock(this.lockFile, () => this.refresh(true));
  }

  static key(judgeModel: string, settings: string, prompt: string): string {
    return createHash('sha256').update(judgeModel).update('\0').update(settings).update('\0').update(prompt).digest('hex');
  }

  get(k: string): CachedJudgement | undefined {
    const hit = this.map.get(k);
    if (hit) return hit;
    this.refresh(false);
    return this.map.get(k);
  }

  /** Durable per entry: cache lines are small and an entry saves a paid request. */
  put(entry: CachedJudgement): void {
    if (this.map.has(entry.k)) return;
    withLock(this.lockFile, () => {
      this.refresh(true);
      if (this.map.has(entry.k)) return;
      const fd = openSync(this.file, 'a');
      try {
        const line = Buffer.from(JSON.stringify(entry) + '\n');
        writeSync(fd, line);
        fsyncSync(fd);
        this.offset += line.length;
      } finally { closeSync(fd); }
      this.map.set(entry.k, entry);
    });
  }

  get size(): number { return this.map.size; }

  /**
   * Reads lines appended since the last read. Holding the lock (`locked`), a torn tail (no newline, or a last line
   * that does not parse) can only be a crashed writer's and is cut; without it, an incomplete tail may be a write in
   * progress and is left for the next read.
   */
  private refresh(locked: boolean): void {
    if (!existsSync(this.file)) return;
    const fd = openSync(this.file, 'r');
    let text: string;
    try {
      const size = fstatSync(fd).size;
      if (size < this.offset) this.offset = 0; // replaced or truncated by hand: read it again
      if (size === this.offset) return;
      const buf = Buffer.alloc(size - this.offset);
      readSync(fd, buf, 0, buf.length, this.offset);
      text = buf.toString('utf8');
    } finally { closeSync(fd); }
    let pos = 0;
    while (pos < text.length) {
      const nl = text.indexOf('\n', pos);
      if (nl < 0) break;
      const line = text.slice(pos, nl);
      let rec: CachedJudgement | undefined;
      if (line.trim() !== '') {
        // An unparsable line followed by others is skipped (never truncated away with them); a last one is a torn tail.
        try { rec = JSON.parse(line) as CachedJudgement; } catch { if (nl === text.length - 1) break; }
        if (rec && !this.map.has(rec.k)) this.map.set(rec.k, rec);
      }
      pos = nl + 1;
      this.offset += Buffer.byteLength(line) + 1;
    }
    if (locked && pos < text.length) truncateSync(this.file, this.offset);
  }
}
