/**
 * Judge Results messages (src/extension/panels/judge.ts ⇄ webview/judge/main.ts). The extension sends every
 * answer of a run (columns, not objects: 20 000 rows cost one structured clone); the webview filters, sorts and
 * draws them, and asks the extension to open a raw record (the JSONL line it came from).
 */
import { isRecord, num } from '../kit/protocol.js';

export type Condition = 'pos' | 'neg' | 'baseline' | 'prompt' | 'steer' | 'random' | 'shuffled' | 'other';

export interface JudgeRow {
  /** Index into JudgeView.sources. */
  src: number;
  /** 1-based line of the record in the source's generations.jsonl. */
  line: number;
  key: string;
  question: string;
  /** Question index within the trait file (from the row key), -1 when unknown. */
  qid: number;
  condition: Condition;
  /** e.g. 'steer L4 c6', 'pos', 'baseline'. */
  label: string;
  layer: number | null;
  coef: number | null;
  answer: string;
  trait: number | null;
  coherence: number | null;
  /** Paired-filter outcome (extraction rows only; null elsewhere). */
  kept: boolean | null;
  /** Why the pair was dropped. */
  why: string | null;
  /** An LLM judge's top-logprob distribution behind each score; absent for the rubric judge (and runs made before it was recorded). */
  logprobs?: { trait?: TokenDistribution; coherence?: TokenDistribution };
}

/**
 * The judge's first-token candidates (top_logprobs as probabilities, most likely first) with the whole number each reads
 * as, by the judge's own rule (src/core/judge/llm.ts), or null; `mass` is the probability on the 0..100 numbers, and
 * the score is their probability-weighted mean (none when mass < 0.25).
 */
export interface TokenDistribution { tokens: { token: string; p: number; value: number | null }[]; mass: number }

export interface FilterSummary { run: string; stats: Record<string, number | null> }

export interface JudgeView {
  source: string;
  title: string;
  kind: string;
  /** Run folders the rows come from (a sweep's stage runs). */
  sources: string[];
  rows: JudgeRow[];
  /** The paired filter's statistics of each extraction run in view. */
  filters: FilterSummary[];
  /** Lines in the sources' generations.jsonl files, for the count check. */
  jsonlLines: number;
}

export interface RecordRequest { type: 'openRecord'; src: number; line: number }
export interface Rendered { rows: number; charts: number; ms: number }
export interface Filtered { type: 'filtered'; shown: number; ms: number }
export type ToWebview = { type: 'judge'; view: JudgeView; update: boolean };
export type FromWebview = ({ type: 'rendered' } & Rendered) | Filtered | RecordRequest;

export function parseRendered(m: unknown): Rendered | undefined {
  if (!isRecord(m) || m.type !== 'rendered') return undefined;
  const rows = num(m.rows), charts = num(m.charts), ms = num(m.ms);
  return rows === undefined || charts === undefined || ms === undefined ? undefined : { rows, charts, ms };
}
export function parseRecordRequest(m: unknown): RecordRequest | undefined {
  if (!isRecord(m) || m.type !== 'openRecord') return undefined;
  const src = num(m.src), line = num(m.line);
  return src === undefined || line === undefined || !Number.isInteger(src) || !Number.isInteger(line) || src < 0 || line < 1 ? undefined : { type: 'openRecord', src, line };
}
export function parseFiltered(m: unknown): Filtered | undefined {
  if (!isRecord(m) || m.type !== 'filtered') return undefined;
  const shown = num(m.shown), ms = num(m.ms);
  return shown === undefined || ms === undefined ? undefined : { type: 'filtered', shown, ms };
}
