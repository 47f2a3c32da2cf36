/**
 * The shared stage of extraction and evaluation: make sure every row has a generation and a trait and a
 * coherence judgement, computing only what the run folder lacks.
 *
 * Rows are processed in fixed chunks (by row order): one GenerateRequest per chunk for the rows still
 * missing, appended to generations.jsonl when it returns; then the chunk's missing judgements, scored in
 * sub-batches and appended after each. Chunks keep a fixed composition across restarts and each row carries
 * its own seed, so a resumed run produces exactly what an uninterrupted one would (the worker's contract:
 * a row's output depends only on its prompt, steering and seed).
 */
import type { PromptInput, SamplingParams, SteerSpec } from '../engine/protocol.js';
import type { ModelHandle, ProgressSink } from './backend.js';
import { modelKind } from './backend.js';
import type { Judge, JudgeMetric, JudgeRequest } from './judge/types.js';
import type { GenerationRecord, JudgementRecord, RunStore } from './storage/run.js';

export interface RowSpec {
  key: string;
  prompt: PromptInput;
  /** The raw question: what the judge sees (never the system prompt). */
  question: string;
  seed: number;
  steer?: SteerSpec[];
}

export interface RowStageOptions {
  model: ModelHandle;
  /** Required unless `metrics` is []. */
  judge?: Judge;
  run: RunStore;
  sampling: SamplingParams;
  trait: string;
  evalPrompt: string;
  /** Rows per GenerateRequest (and per judging round). */
  chunkSize?: number;
  /** Judge results per durable append (fsync). */
  judgeBatch?: number;
  /** Worker batch size inside one request. */
  batchSize?: number;
  /** What the judge scores (default trait and coherence); [] generates only. */
  metrics?: JudgeMetric[];
  progress?: ProgressSink;
  signal?: AbortSignal;
}

const METRICS: JudgeMetric[] = ['trait', 'coherence'];

export async function generateAndJudge(rows: RowSpec[], o: RowStageOptions): Promise<void> {
  const chunkSize = o.chunkSize ?? 64;
  const judgeBatch = o.judgeBatch ?? 32;
  const kind = modelKind(o.model);
  const total = rows.length;
  let doneGen = rows.filter((r) => o.run.generations.has(r.key)).length;
  o.progress?.({ stage: 'generate', done: doneGen, total });
  for (let c = 0; c < rows.length; c += chunkSize) {
    o.signal?.throwIfAborted();
    const chunk = rows.slice(c, c + chunkSize);
    const missing = chunk.filter((r) => !o.run.generations.has(r.key));
    if (missing.length > 0) {
      const res = await o.model.backend.generate({
        modelId: o.model.info.modelId, sampling: o.sampling, batchSize: o.batchSize,
        rows: missing.map((r) => ({ prompt: r.prompt, seed: r.seed, ...(r.steer?.length ? { steer: r.steer } : {}) })),
      }, { signal: o.signal });
      const recs: GenerationRecord[] = missing.map((r, i) => {
        const g = res.rows[i];
        return { key: r.key, prompt: r.prompt, promptText: g.promptText, question: r.question, seed: r.seed, answer: g.text, finishReason: g.finishReason, tokens: g.tokenIds.length };
      });
      o.run.appendGenerations(recs);
      doneGen += missing.length;
      o.progress?.({ stage: 'generate', done: doneGen, total });
    }
    // Judge this chunk's missing (row, metric) pairs.
    const todo: { key: string; metric: JudgeMetric; req: JudgeRequest }[] = [];
    for (const r of chunk) {
      const g = o.run.generations.get(r.key)!;
      for (const metric of o.metrics ?? METRICS) {
        if (o.run.score(r.key, metric) !== undefined) continue;
        todo.push({ key: r.key, metric, req: { metric, trait: o.trait, evalPrompt: o.evalPrompt, modelKind: kind, question: r.question, answer: g.answer } });
      }
    }
    if (todo.length > 0) {
      if (!o.judge) throw new Error('generateAndJudge: rows need judging but no judge was given');
      const judge = o.judge;
      // One score() call per chunk (so an LLM judge can use its full concurrency); results are appended in
      // batches as they arrive, and whatever completed is flushed even if another request finally fails.
      let pending: JudgementRecord[] = [];
      const flush = () => { o.run.appendJudgements(pending); pending = []; };
      try {
        await judge.score(todo.map((t) => t.req), {
          signal: o.signal,
          onResult: (i, score, detail) => {
            pending.push({ key: todo[i].key, metric: todo[i].metric, score, ...(detail?.probs ? { probs: detail.probs } : {}) });
            if (pending.length >= judgeBatch) flush();
          },
        });
      } finally { flush(); }
      const doneJudge = rows.filter((r) => (o.metrics ?? METRICS).every((m) => o.run.score(r.key, m) !== undefined)).length;
      o.progress?.({ stage: 'judge', done: doneJudge, total });
    }
  }
}
