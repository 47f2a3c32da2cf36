/**
 * Persona-vector extraction (digest §2, §4):
 *
 *   for each question i × instruction pair k × sample j:  pos row  (system = "You are an {trait} assistant. {pos_k}")
 *                                                        neg row  (system = "You are a helpful assistant. {neg_k}")
 *   → generate (row-aligned ids "{trait}_{i}_{pos|neg}_{k}", sample j; pos and neg share the seed)
 *   → judge trait + coherence (the judge sees only question and answer)
 *   → paired filter (./filter.ts)
 *   → capture prompt_avg / response_avg / prompt_last at all L+1 layers for the kept pairs
 *   → mean(pos) − mean(neg) per layer, unnormalised, float32 → vector file (../vectors/file.ts)
 *
 * Too few kept pairs → a status file that says why, no vector (early checkpoints often keep none). A rerun whose kept
 * pairs are those its earlier capture wrote reuses that capture (reusableCapture) rather than capturing them again.
 * Per-pair response_avg differences go to the run folder (pair_diffs.safetensors) for the shuffle control.
 *
 * Input: a trait file (extract set), a loaded model, a judge, a run store. Output: ExtractResult.
 */
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { decodeF32 } from '../../engine/protocol.js';
import { readSafetensorsHeader, writeSafetensors } from '../../engine/weights/safetensors.js';
import type { StageOptions } from '../backend.js';
import { modelKind } from '../backend.js';
import { assistantName, instructedPrompt, type Polarity } from '../prompts.js';
import { writeCsv } from '../storage/csv.js';
import { canonicalJson } from '../storage/run.js';
import type { LoadedTrait } from '../traits/load.js';
import { generateAndJudge, type RowSpec } from '../rows.js';
import { norm, readVectorFile, VECTOR_KINDS, writeVectorFile, type VectorKind } from '../vectors/file.js';
import { pairedFilter, type FilterStats, type PairScores } from './filter.js';
import { PipelineError } from '../errors.js';

export interface ExtractOptions extends StageOptions {
  traitFile: LoadedTrait;
  /** Samples per (question, instruction pair); upstream 10. */
  samples: number;
  threshold?: number;
  /** Fewer kept pairs than this → not extractable (status file). */
  minPairs?: number;
  negName?: string;
  vectorPath: string;
  statusPath: string;
  captureBatch?: number;
}

export type ExtractResult =
  | { status: 'ok'; vectorPath: string; filter: FilterStats; layers: number; hidden: number; norms: number[] }
  | { status: 'not-extractable'; statusPath: string; filter: FilterStats; reason: string };

interface PairRows { id: string; question: string; pos: RowSpec; neg: RowSpec }

/** Row-aligned pos/neg rows in upstream order (i outer, k inner, then sample j). */
export function extractionPairs(o: Pick<ExtractOptions, 'trait' | 'traitFile' | 'samples' | 'seed' | 'negName' | 'maxQuestions'>, kind: 'chat' | 'base'): PairRows[] {
  const instr = o.traitFile.data.instruction;
  if (!instr?.length) throw new PipelineError('trait-invalid', `${o.traitFile.file}: $.instruction is missing; extraction needs instruction pairs`);
  const qs = o.traitFile.data.questions.slice(0, o.maxQuestions ?? undefined);
  const out: PairRows[] = [];
  qs.forEach((question, i) => instr.forEach((pair, k) => {
    for (let j = 0; j < o.samples; j++) {
      const seed = o.seed + (i * instr.length + k) * o.samples + j;
      const row = (pol: Polarity): RowSpec => ({
        key: `${o.trait}_${i}_${pol}_${k}#${j}`, question, seed,
        prompt: instructedPrompt(kind, assistantName(o.trait, pol, o.negName), pol === 'pos' ? pair.pos : pair.neg, question),
      });
      out.push({ id: `${o.trait}_${i}_${k}#${j}`, question, pos: row('pos'), neg: row('neg') });
    }
  }));
  return out;
}

export async function extract(o: ExtractOptions): Promise<ExtractResult> {
  const kind = modelKind(o.model);
  const pairs = extractionPairs(o, kind);
  const rows = pairs.flatMap((p) => [p.pos, p.neg]);
  await generateAndJudge(rows, {
    model: o.model, judge: o.judge, run: o.run, sampling: o.sampling, trait: o.trait, evalPrompt: o.traitFile.data.eval_prompt,
    chunkSize: o.chunkSize, batchSize: o.batchSize, progress: o.progress, signal: o.signal,
  });
  exportExtractionCsvs(o, pairs);

  const side = (r: RowSpec) => ({ trait: o.run.score(r.key, 'trait') ?? null, coherence: o.run.score(r.key, 'coherence') ?? null, answer: o.run.generations.get(r.key)!.answer });
  const scores: PairScores[] = pairs.map((p) => ({ id: p.id, pos: side(p.pos), neg: side(p.neg) }));
  const threshold = o.threshold ?? 50;
  const { kept, stats } = pairedFilter(scores, threshold);
  const minPairs = Math.max(1, o.minPairs ?? 1);

  if (kept.length < minPairs) {
    const reason = kept.length === 0
      ? `no pair passed the filter (pos trait ≥ ${threshold}, neg trait < ${100 - threshold}, both coherence ≥ 50): ` +
        `${stats.pos_trait_pass}/${stats.pairs_total} pos and ${stats.neg_trait_pass}/${stats.pairs_total} neg passed the trait test`
      : `only ${kept.length} pair(s) passed the filter; at least ${minPairs} are required (--min-pairs)`;
    mkdirSync(path.dirname(o.statusPath), { recursive: true });
    writeFileSync(o.statusPath, JSON.stringify({ status: 'nonextractable', reason_code: kept.length === 0 ? 'zero_effective_rows' : 'too_few_effective_rows',
      message: reason, trait: o.trait, model: o.model.name, revision: o.model.revision, extraction_run: o.run.runId, filter: stats }, null, 2) + '\n');
    if (existsSync(o.vectorPath)) rmSync(o.vectorPath); // a stale vector would contradict the status
    return { status: 'not-extractable', statusPath: o.statusPath, filter: stats, reason };
  }

  const keptPairs = kept.map((i) => pairs[i]);
  // A rerun with nothing new (the same kept pairs, and the vector and pair differences this run wrote still there):
  // the capture's result is already on disk, bit for bit; reuse it instead of capturing every kept pair again.
  const reused = reusableCapture(o, keptPairs.map((p) => p.id), stats, threshold);
  if (reused) {
    o.progress?.({ stage: 'capture', done: keptPairs.length, total: keptPairs.length,
      note: `reused: ${path.basename(o.vectorPath)} and this run's pair_diffs.safetensors already hold these ${keptPairs.length} kept pairs` });
    if (existsSync(o.statusPath)) rmSync(o.statusPath);
    return reused;
  }

  // Capture the kept pairs and average. Sums in float64, so chunking cannot change the result.
  const captureBatch = o.captureBatch ?? 16;
  let L1 = 0, H = 0;
  const sums: Record<'pos' | 'neg', Record<VectorKind, Float64Array>> = { pos: {} as never, neg: {} as never };
  let pairDiffs: Float32Array | null = null;
  for (let c = 0; c < keptPairs.length; c += captureBatch) {
    o.signal?.throwIfAborted();
    const part = keptPairs.slice(c, c + captureBatch);
    const items = part.flatMap((p) => [p.pos, p.neg].map((r) => ({ prompt: r.prompt, response: o.run.generations.get(r.key)!.answer })));
    const res = await o.model.backend.capture({ modelId: o.model.info.modelId, items, reductions: [...VECTOR_KINDS] }, { signal: o.signal });
    if (c === 0) {
      L1 = res.layers; H = res.hiddenSize;
      for (const pol of ['pos', 'neg'] as const) for (const k of VECTOR_KINDS) sums[pol][k] = new Float64Array(L1 * H);
      pairDiffs = new Float32Array(keptPairs.length * L1 * H);
    }
    res.items.forEach((item, idx) => {
      const pol = idx % 2 === 0 ? 'pos' : 'neg';
      for (const k of VECTOR_KINDS) {
        const v = decodeF32(item.values[k]!);
        const s = sums[pol][k];
        for (let x = 0; x < v.length; x++) s[x] += v[x];
      }
      if (pol === 'neg') {
        const pv = decodeF32(res.items[idx - 1].values.response_avg!), nv = decodeF32(item.values.response_avg!);
        const off = (c + (idx - 1) / 2) * L1 * H;
        for (let x = 0; x < pv.length; x++) pairDiffs![off + x] = pv[x] - nv[x];
      }
    });
    o.progress?.({ stage: 'capture', done: Math.min(c + captureBatch, keptPairs.length), total: keptPairs.length });
  }
  const n = keptPairs.length;
  const data = {} as Record<VectorKind, Float32Array>;
  for (const k of VECTOR_KINDS) {
    const d = new Float32Array(L1 * H);
    for (let x = 0; x < d.length; x++) d[x] = sums.pos[k][x] / n - sums.neg[k][x] / n;
    data[k] = d;
  }
  writeVectorFile(o.vectorPath, {
    layers: L1, hidden: H, data,
    metadata: {
      model: o.model.name, architecture: o.model.info.config.architecture, revision: o.model.revision, commit: o.model.commit ?? 'unknown',
      trait: o.trait, trait_file: path.basename(o.traitFile.file), trait_sha256: o.traitFile.sha256,
      sampler: canonicalJson(o.sampling), seed: String(o.seed), samples_per_pair: String(o.samples),
      judge: o.judge.id, threshold: String(threshold), pairs_total: String(stats.pairs_total), pairs_kept: String(n),
      filter_stats: canonicalJson(stats), extraction_run: o.run.runId, model_kind: kind, assistant_names: canonicalJson({ pos: o.trait, neg: o.negName ?? 'helpful' }),
    },
  });
  if (existsSync(o.statusPath)) rmSync(o.statusPath);
  writeSafetensors(o.run.path('pair_diffs.safetensors'), { response_avg_diff: { dtype: 'F32', shape: [n, L1, H], data: pairDiffs! } },
    { pairs: JSON.stringify(keptPairs.map((p) => p.id)), layer_convention: 'rows of each pair are hidden_states[0..L]' });
  const norms = Array.from({ length: L1 }, (_, l) => norm(data.response_avg.subarray(l * H, (l + 1) * H)));
  return { status: 'ok', vectorPath: o.vectorPath, filter: stats, layers: L1, hidden: H, norms };
}

/**
 * The result of this run's earlier capture when it is still exactly what a capture now would write: the vector file names
 * this run (`extraction_run`), with the same trait file, filter statistics, threshold and kept-pair count, and this run's
 * pair_diffs.safetensors lists the same kept pairs in the same order. Anything else (another run overwrote the vector, a
 * file is gone or unreadable, a judgement changed which pairs pass): undefined, and the pairs are captured again.
 */
export function reusableCapture(o: Pick<ExtractOptions, 'vectorPath' | 'run' | 'traitFile'>, keptIds: string[], stats: FilterStats, threshold: number): Extract<ExtractResult, { status: 'ok' }> | undefined {
  const diffs = o.run.path('pair_diffs.safetensors');
  if (!existsSync(o.vectorPath) || !existsSync(diffs)) return undefined;
  try {
    if (readSafetensorsHeader(diffs).metadata.pairs !== JSON.stringify(keptIds)) return undefined;
    const v = readVectorFile(o.vectorPath);
    const m = v.metadata;
    if (m.extraction_run !== o.run.runId || m.trait_sha256 !== o.traitFile.sha256 || m.filter_stats !== canonicalJson(stats)
      || m.threshold !== String(threshold) || m.pairs_kept !== String(keptIds.length)) return undefined;
    const ra = v.data.response_avg;
    if (!ra || VECTOR_KINDS.some((k) => !v.data[k])) return undefined;
    const H = v.hidden;
    return { status: 'ok', vectorPath: o.vectorPath, filter: stats, layers: v.layers, hidden: H, norms: Array.from({ length: v.layers }, (_, l) => norm(ra.subarray(l * H, (l + 1) * H))) };
  } catch { return undefined; }
}

/** Upstream's extraction CSVs (PV eval_persona columns): question, prompt, answer, question_id, <trait>, coherence. */
function exportExtractionCsvs(o: ExtractOptions, pairs: PairRows[]): void {
  for (const pol of ['pos', 'neg'] as const) {
    const rows = pairs.map((p) => {
      const r = p[pol];
      const g = o.run.generations.get(r.key)!;
      return { question: r.question, prompt: g.promptText, answer: g.answer, question_id: r.key.split('#')[0],
        [o.trait]: o.run.score(r.key, 'trait'), coherence: o.run.score(r.key, 'coherence') };
    });
    writeCsv(o.run.path(`extract_${pol}.csv`), ['question', 'prompt', 'answer', 'question_id', o.trait, 'coherence'], rows);
  }
}
