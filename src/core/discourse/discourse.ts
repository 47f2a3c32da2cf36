/**
 * Discourse-type ablation (second paper §6; upstream `pipeline/vector_type_evaluation.sh`, digest §10.7): on a base
 * revision, a persona vector per discourse type (./formats.ts) — and a combined one from every type's kept pairs —
 * each steered (one layer and coefficient for all, raw vector, 'response' positions) on every type's evaluation set.
 *
 *   per type t        an extract run: base-model prompts (instruction + " " + question, raw text even when the checkpoint
 *                     has a chat template — the paper's discourse types are base-model text), the paired filter, capture,
 *                     mean difference → vectors/<model>/<revision>/<trait>_<t>.safetensors
 *   combined          upstream concatenates the types' pos and neg CSVs and averages the kept pairs; the filter is per pair,
 *                     so that is the pair-weighted mean of the type vectors, Σ n_t·v_t / Σ n_t (computed here in float64,
 *                     no second capture) → <trait>_combined.safetensors
 *   per eval set e    an evaluate run: baseline + one steered condition per vector (steer_<vector type>), shared seeds;
 *                     the sets are the types' and, when given, the combined one (upstream `<trait>_combined.json`)
 *   the matrix        vector_type_summary.csv: one row per vector type, one Δτ column per evaluation set (the paper's
 *                     table layout; upstream's collect_vector_type_results.py, which would have fixed the columns, was
 *                     never published), and vector_type_results.csv with every cell's means, Δcoherence and sign-flip p.
 *
 * Every part is its own resumable run (the same command again computes only what is missing); the discourse run holds
 * the tables and results.json. A type whose extraction keeps too few pairs gets an empty row and its reason.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { JobBase, ModelHandle } from '../backend.js';
import { baselineCondition, steerCondition, type Condition } from '../evaluation/conditions.js';
import { evaluateConditions, type ConditionResult } from '../evaluation/evaluate.js';
import { extract, type ExtractResult } from '../extraction/extract.js';
import { extractConfig } from '../jobs/pipeline.js';
import { modelConfig, sha256File, withRun, type RunEnd } from '../jobs/run.js';
import { writeCsv } from '../storage/csv.js';
import type { RunManifest } from '../storage/run.js';
import type { Workspace } from '../storage/workspace.js';
import type { LoadedTrait } from '../traits/load.js';
import { readVectorFile, vectorRow, VECTOR_KINDS, writeVectorFile, type VectorKind } from '../vectors/file.js';
import type { DiscourseType } from './formats.js';

export interface DiscourseTypeFiles { type: DiscourseType; extract: LoadedTrait; eval: LoadedTrait }

export interface DiscourseJob extends JobBase {
  types: DiscourseTypeFiles[];
  /** The combined evaluation set (upstream `<trait>_combined.json`: every type's questions), a last column when given. */
  combinedEval?: LoadedTrait;
  /** Also the combined vector (default true). */
  combined?: boolean;
  layer: number;
  coef: number;
  /** Extraction: `samples` per (question, instruction pair) from `seed`; evaluation: these. */
  evalSamples: number;
  evalSeed: number;
  threshold?: number;
}

export type VectorType = DiscourseType | 'combined';

export interface DiscourseCell {
  vectorType: VectorType; evalSet: VectorType;
  baselineTrait: number | null; steeredTrait: number | null; deltaTrait: number | null;
  baselineCoherence: number | null; steeredCoherence: number | null; deltaCoherence: number | null;
  /** The paired per-question test's two-sided p (exact sign flip when available). */
  signFlipP: number | null; evalRun: string;
}
export interface DiscourseVector { vectorType: VectorType; status: 'ok' | 'not-extractable'; pairsKept: number; pairsTotal: number; vector?: string; reason?: string; extractRun?: string; norm?: number }
export interface DiscourseResults {
  trait: string; model: string; revision: string; layer: number; coef: number;
  types: DiscourseType[]; /** The evaluation sets, in column order: the types', then 'combined' when there is one. */ evalSets: VectorType[];
  vectors: DiscourseVector[]; cells: DiscourseCell[];
}

/** The same checkpoint seen as a base model: raw-text prompts, the base coherence prompt, kind 'base' in run configurations. */
export function asBaseModel(m: ModelHandle): ModelHandle {
  return { ...m, info: { ...m.info, hasChatTemplate: false } };
}

const vectorName = (trait: string, v: VectorType) => `${trait}_${v}`;

export function discourseConfig(j: DiscourseJob): Record<string, unknown> {
  const base = asBaseModel(j.model);
  return { stage: 'discourse', model: modelConfig(base), trait: j.trait, types: j.types.map((t) => ({ type: t.type, extractSha256: t.extract.sha256, evalSha256: t.eval.sha256 })),
    ...(j.combinedEval ? { combinedEvalSha256: j.combinedEval.sha256 } : {}),
    combined: j.combined !== false, layer: j.layer, coef: j.coef, sampler: j.sampling, samplerPreset: j.samplerPreset, seed: j.seed, samples: j.samples,
    evalSeed: j.evalSeed, evalSamples: j.evalSamples, maxQuestions: j.maxQuestions ?? null, threshold: j.threshold ?? 50, judge: j.judge.id };
}

export async function runDiscourse(j: DiscourseJob): Promise<{ runDir: string; runId: string; results: DiscourseResults }> {
  const model = asBaseModel(j.model);
  const label = `${model.name}-${model.revision}-${j.trait}`;
  const stage = { judge: j.judge, sampling: j.sampling, chunkSize: j.chunkSize, batchSize: j.batchSize, signal: j.signal, maxQuestions: j.maxQuestions };
  const note = (what: string) => j.progress && ((p: Parameters<NonNullable<JobBase['progress']>>[0]) => j.progress!({ ...p, note: p.note ? `${what} ${p.note}` : what }));
  const { run, value } = await withRun({ ws: j.ws, kind: 'discourse', label, config: discourseConfig(j), runId: j.runId, judge: j.judge, signal: j.signal }, async (run) => {
    // 1. A vector per type (each its own extract run).
    const vectors: DiscourseVector[] = [];
    const ok: { type: VectorType; path: string; pairs: number }[] = [];
    for (const t of j.types) {
      const vectorPath = j.ws.vectorPath(model.name, model.revision, vectorName(j.trait, t.type));
      const statusPath = j.ws.vectorStatusPath(model.name, model.revision, vectorName(j.trait, t.type));
      const ex = { ...j, model, traitFile: t.extract, threshold: j.threshold };
      const { run: exRun, value: r } = await withRun<ExtractResult>({ ws: j.ws, kind: 'extract', label: `${model.name}-${model.revision}-${vectorName(j.trait, t.type)}`,
        config: { ...extractConfig(ex), discourse: t.type }, judge: j.judge, signal: j.signal }, async (exRun): Promise<RunEnd<ExtractResult>> => {
        // A rerun reuses a finished capture (extract's reusableCapture): no kept pair is captured again.
        const r = await extract({ ...stage, model, trait: j.trait, traitFile: t.extract, samples: j.samples, seed: j.seed, threshold: j.threshold, vectorPath, statusPath, run: exRun, progress: note(`${t.type} extract`) });
        return r.status === 'ok'
          ? { value: r, outputs: { vector: vectorPath }, results: { ...r, vectorPath: path.relative(j.ws.root, vectorPath) } }
          : { value: r, status: 'not-extractable', message: r.reason, outputs: { status: statusPath }, results: { ...r, statusPath: path.relative(j.ws.root, statusPath) } };
      });
      const kept = r.filter.pairs_kept ?? 0;
      if (r.status === 'ok') {
        ok.push({ type: t.type, path: vectorPath, pairs: kept });
        vectors.push({ vectorType: t.type, status: 'ok', pairsKept: kept, pairsTotal: r.filter.pairs_total, vector: path.relative(j.ws.root, vectorPath), extractRun: exRun.runId, norm: r.norms[j.layer] });
      } else {
        vectors.push({ vectorType: t.type, status: 'not-extractable', pairsKept: kept, pairsTotal: r.filter.pairs_total, reason: r.reason, extractRun: exRun.runId });
      }
    }
    // 2. The combined vector: the pair-weighted mean of the type vectors (= the mean over the union of kept pairs).
    // (With one extractable type the combined vector would be that vector again: left out.)
    if (j.combined !== false && ok.length > 1) {
      const file = j.ws.vectorPath(model.name, model.revision, vectorName(j.trait, 'combined'));
      const norm = writeCombinedVector(file, ok, { trait: j.trait, model, layer: j.layer });
      vectors.push({ vectorType: 'combined', status: 'ok', pairsKept: ok.reduce((a, o) => a + o.pairs, 0), pairsTotal: vectors.reduce((a, v) => a + v.pairsTotal, 0),
        vector: path.relative(j.ws.root, file), norm });
      ok.push({ type: 'combined', path: file, pairs: ok.reduce((a, o) => a + o.pairs, 0) });
    }
    // 3. Every vector on every evaluation set (one evaluate run per set).
    const cells: DiscourseCell[] = [];
    const evalSets: { type: VectorType; eval: LoadedTrait }[] = [...j.types, ...(j.combinedEval ? [{ type: 'combined' as const, eval: j.combinedEval }] : [])];
    for (const e of evalSets) {
      if (ok.length === 0) break;
      const conds: Condition[] = [baselineCondition(), ...ok.map((v) => ({ ...steerCondition('steer', vectorRow(readVectorFile(v.path), 'response_avg', j.layer), j.layer, j.coef), id: `steer_${v.type}` }))];
      const config = { stage: 'evaluate-discourse', model: modelConfig(model), trait: j.trait, evalSet: e.type, evalSha256: e.eval.sha256,
        vectors: Object.fromEntries(ok.map((v) => [v.type, sha256File(v.path)])), layer: j.layer, coef: j.coef, sampler: j.sampling, samplerPreset: j.samplerPreset,
        seed: j.evalSeed, samples: j.evalSamples, maxQuestions: j.maxQuestions ?? null, judge: j.judge.id };
      const { run: evRun, value: results } = await withRun<ConditionResult[]>({ ws: j.ws, kind: 'evaluate', label: `${model.name}-${model.revision}-${j.trait}_${e.type}`, config, judge: j.judge, signal: j.signal },
        async (evRun) => {
          const results = await evaluateConditions(conds, { ...stage, model, run: evRun, trait: j.trait, evalTrait: e.eval.data, samples: j.evalSamples, seed: j.evalSeed, progress: note(`${e.type} eval`) });
          return { value: results, results: { conditions: results }, outputs: {} };
        });
      const base = results.find((r) => r.condition.kind === 'baseline')!;
      for (const v of ok) {
        const r = results.find((x) => x.condition.id === `steer_${v.type}`)!;
        cells.push({ vectorType: v.type, evalSet: e.type, baselineTrait: base.trait.mean, steeredTrait: r.trait.mean, deltaTrait: r.deltaTraitMean,
          baselineCoherence: base.coherence.mean, steeredCoherence: r.coherence.mean, deltaCoherence: r.deltaCoherenceMean,
          signFlipP: r.traitPaired?.primaryPTwoSided ?? null, evalRun: evRun.runId });
      }
    }
    const results: DiscourseResults = { trait: j.trait, model: model.name, revision: model.revision, layer: j.layer, coef: j.coef, types: j.types.map((t) => t.type),
      evalSets: evalSets.map((e) => e.type), vectors, cells };
    writeDiscourseTables(run.path.bind(run), results);
    return { value: results, results: { ...results }, outputs: { summary: run.path('vector_type_summary.csv'), cells: run.path('vector_type_results.csv') } };
  });
  return { runDir: run.dir, runId: run.runId, results: value };
}

/** Σ n_t·v_t / Σ n_t for every vector kind, float64 sums; the file's metadata names the parts. Returns ‖row layer‖. */
function writeCombinedVector(file: string, parts: { type: VectorType; path: string; pairs: number }[], o: { trait: string; model: ModelHandle; layer: number }): number {
  const vs = parts.map((p) => ({ ...p, v: readVectorFile(p.path) }));
  const { layers, hidden } = vs[0].v;
  const total = parts.reduce((a, p) => a + p.pairs, 0);
  const data = {} as Record<VectorKind, Float32Array>;
  for (const k of VECTOR_KINDS) {
    const acc = new Float64Array(layers * hidden);
    for (const p of vs) { const d = p.v.data[k]!; for (let x = 0; x < acc.length; x++) acc[x] += p.pairs * d[x]; }
    data[k] = Float32Array.from(acc, (x) => x / total);
  }
  const m0 = vs[0].v.metadata;
  writeVectorFile(file, { layers, hidden, data, metadata: {
    model: o.model.name, architecture: m0.architecture ?? '', revision: o.model.revision, commit: o.model.commit ?? 'unknown', trait: o.trait, model_kind: 'base',
    discourse: 'combined', combined_from: JSON.stringify(parts.map((p) => ({ type: p.type, pairs: p.pairs, extraction_run: vs.find((v) => v.type === p.type)!.v.metadata.extraction_run }))),
    pairs_kept: String(total), judge: m0.judge ?? '', sampler: m0.sampler ?? '', seed: m0.seed ?? '', samples_per_pair: m0.samples_per_pair ?? '',
  } });
  const row = data.response_avg.subarray(o.layer * hidden, (o.layer + 1) * hidden);
  return Math.sqrt(row.reduce((a, x) => a + x * x, 0));
}

const EVAL_COLS = (r: DiscourseResults): VectorType[] => r.evalSets ?? r.types;

/** vector_type_summary.csv (Δτ matrix, vector type × evaluation set) and vector_type_results.csv (every cell). */
export function writeDiscourseTables(p: (name: string) => string, r: DiscourseResults): void {
  const cell = (v: VectorType, e: VectorType) => r.cells.find((c) => c.vectorType === v && c.evalSet === e);
  writeCsv(p('vector_type_summary.csv'), ['vector_type', 'pairs_kept', ...EVAL_COLS(r)],
    r.vectors.map((v) => ({ vector_type: v.vectorType, pairs_kept: v.pairsKept, ...Object.fromEntries(EVAL_COLS(r).map((e) => [e, cell(v.vectorType, e)?.deltaTrait ?? null])) })));
  writeCsv(p('vector_type_results.csv'), ['vector_type', 'eval_set', 'trait', 'layer', 'coef', 'pairs_kept', 'baseline_trait_mean', 'steered_trait_mean', 'delta_trait_mean',
    'baseline_coherence_mean', 'steered_coherence_mean', 'delta_coherence_mean', 'trait_sign_flip_p_two_sided', 'eval_run'],
  r.cells.map((c) => ({ vector_type: c.vectorType, eval_set: c.evalSet, trait: r.trait, layer: r.layer, coef: r.coef, pairs_kept: r.vectors.find((v) => v.vectorType === c.vectorType)?.pairsKept ?? null,
    baseline_trait_mean: c.baselineTrait, steered_trait_mean: c.steeredTrait, delta_trait_mean: c.deltaTrait, baseline_coherence_mean: c.baselineCoherence,
    steered_coherence_mean: c.steeredCoherence, delta_coherence_mean: c.deltaCoherence, trait_sign_flip_p_two_sided: c.signFlipP, eval_run: c.evalRun })));
}

/** Every finished discourse run's results in a workspace, oldest first (for reports). */
export function storedDiscourseResults(ws: Workspace): (DiscourseResults & { runId: string })[] {
  if (!existsSync(ws.runsDir)) return [];
  const out: (DiscourseResults & { runId: string; at: string })[] = [];
  for (const id of readdirSync(ws.runsDir)) {
    try {
      const dir = ws.runDir(id);
      const m = JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as RunManifest;
      if (m.kind !== 'discourse' || m.status !== 'done') continue;
      out.push({ ...(JSON.parse(readFileSync(path.join(dir, 'results.json'), 'utf8')) as DiscourseResults), runId: m.runId, at: m.updatedAt });
    } catch { /* not a finished run folder */ }
  }
  return out.sort((a, b) => a.at.localeCompare(b.at)).map(({ at: _at, ...r }) => r);
}

/** Writes generated trait data (the toy's) as files in a folder, so runs and vectors name a real file with its hash. */
export function writeTraitFiles(dir: string, files: { name: string; text: string }[]): string[] {
  mkdirSync(dir, { recursive: true });
  return files.map((f) => { const p = path.join(dir, f.name); if (!existsSync(p) || readFileSync(p, 'utf8') !== f.text) writeFileSync(p, f.text); return p; });
}
