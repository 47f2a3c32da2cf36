/**
 * Persistent judge cache: a JSONL file per judge model under <workspace>/cache/judge/. The key is
 * sha256(judge model, request settings, rendered prompt), so a rerun of any run with the same judge costs
 * nothing, and a different judge model or prompt never hits a stale entry.
 */
import { createHash } from 'node:crypto';
import path from 'node:path';
import { JsonlLog } from '../storage/jsonl.js';

export interface CachedJudgement { k: string; score: number | null; probs?: Record<string, number> }

export class JudgeCache {
  private readonly map = new Map<string, CachedJudgement>();
  private readonly log: JsonlLog<CachedJudgement>;

  constructor(dir: string, judgeModel: string) {
    const safe = judgeModel.replace(/[^A-Za-z0-9._-]+/g, '_');
    this.log = JsonlLog.open<CachedJudgement>(path.join(dir, `${safe}.jsonl`));
    for (const r of this.log.records) this.map.set(r.k, r);
  }

  static key(judgeModel: string, settings: string, prompt: string): string {
    return createHash('sha256').update(judgeModel).update('\0').update(settings).update('\0').update(prompt).digest('hex');
  }

  get(k: string): CachedJudgement | undefined { return this.map.get(k); }

  /** Durable per entry: cache lines are small and an entry saves a paid request. */
  put(entry: CachedJudgement): void {
    if (this.map.has(entry.k)) return;
    this.map.set(entry.k, entry);
    this.log.append([entry]);
  }

  get size(): number { return this.map.size; }
}
