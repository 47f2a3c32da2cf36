/**
 * Finetuning shift (persona-vectors paper, digest §7–8): does finetuning move a model along a persona direction, and
 * does that movement predict how strongly the finetuned model shows the trait — and could the training data have told
 * us before finetuning?
 *
 *   shift_ℓ(B)      = mean over the trait's evaluation prompts of hidden_states[ℓ] at the last prompt token of B,
 *                     minus the same for the base A, projected on v̂_ℓ (A's persona vector; upstream `prompt_last_proj`
 *                     of each model, differenced)
 *   expression(B)   = B's judged trait score on the evaluation questions, no system prompt (the baseline condition of
 *                     `evaluate`: same prompts, sampler, seeds and judge)
 *   r_ℓ(trait)      = Pearson r of shift_ℓ vs expression across the finetuned models (paper: 0.76–0.97)
 *   ΔP(dataset)     = screening before finetuning: the mean projection difference of B's training samples against A's
 *                     own answers to the same prompts, exactly `persona-lab screen`'s ΔP (same own-answer seeds), at
 *                     the reported layer; its order over the datasets is compared with the order of the shifts they
 *                     caused, and where rows carry a `label` the top 10 % by ΔP_i is checked for the trait's rows.
 *
 * One resumable run (kind `shift`): every generation and judgement is appended as it comes; projections are recomputed
 * (one forward per prompt). Finetuned models are opened one at a time; the base stays open.
 */
import { readFileSync } from 'node:fs';
import { decodeF32, type CaptureItem, type Reduction } from '../../engine/protocol.js';
import { modelKind, type JobBase, type ModelHandle } from '../backend.js';
import { PipelineError } from '../errors.js';
import { evalPrompt } from '../prompts.js';
import { generateAndJudge, type RowSpec } from '../rows.js';
import { mean } from '../stats/descriptive.js';
import { writeCsv } from '../storage/csv.js';
import type { RunStore } from '../storage/run.js';
import type { LoadedTrait } from '../traits/load.js';
import { assertVectorFits, norm, readVectorFile, type VectorKind } from '../vectors/file.js';
import { pearson } from '../jobs/monitor.js';
import { readScreenData, type ScreenSample } from '../jobs/screen.js';
import { modelConfig, sha256File, withRun } from '../jobs/run.js';
import type { OpenedModel } from '../jobs/sweep.js';

export interface ShiftTrait {
  trait: string;
  eval: LoadedTrait;
  /** The BASE model's persona vector (the direction finetuning is measured along). */
  vectorPath: string;
  kind?: VectorKind;
  vectorKey?: string;
}

export interface ShiftModelRef {
  /** Identity as used for runs and vectors (src/core/models.ts identifyModel). */
  name: string;
  revision: string;
  commit?: string;
  open(): Promise<OpenedModel>;
  /** The model's training dataset (screen's formats), for screening before finetuning. */
  data?: string;
}

/** JobBase with two roles for models instead of one, and several traits. */
export interface ShiftJob extends Omit<JobBase, 'model' | 'trait'> {
  base: ModelHandle;
  finetuned: ShiftModelRef[];
  traits: ShiftTrait[];
  /** The layer whose r, order and screening are reported (every layer's shift is computed). */
  layer: number;
  /** First seed of the base model's own answers to the training prompts (screen's --seed). */
  screenSeed: number;
  /** Fraction of a dataset's samples checked for trait rows, top by ΔP_i (default 0.1). */
  topFraction?: number;
}

/** One (model, trait, layer): the model's shift against the base and its expression; r is the trait × layer's r across the finetuned models. */
export interface ShiftRow { model: string; trait: string; layer: number; shift: number | null; expression: number | null; coherence: number | null; r: number | null }
/** Screening of one finetuned model's training data for one trait at one layer. */
export interface ShiftScreenRow {
  model: string; trait: string; layer: number; datasetDeltaP: number | null; shift: number | null; samples: number;
  /** Rows labelled with this trait, how many of them are in the top fraction by ΔP_i, and precision there (null without labels). */
  labelled: number; top: number; precisionAtTop: number | null;
}
export interface ShiftOrder { trait: string; layer: number; byShift: string[]; byDeltaP: string[]; same: boolean; spearman: number | null }
export interface ShiftResults {
  base: string; layer: number; traits: string[]; models: string[];
  /** Every (model, trait, layer); the base is a row too (shift 0 by definition). */
  rows: ShiftRow[];
  /** r per trait at the reported layer. */
  summary: { trait: string; layer: number; r: number | null; n: number }[];
  /** Every (finetuned model with training data, trait, layer). */
  screening: ShiftScreenRow[];
  /** Per trait and layer: the datasets ordered by the shift they caused and by their ΔP. */
  orders: ShiftOrder[];
}

export interface ShiftResult extends ShiftResults { run: RunStore }

const modelLabel = (m: { name: string; revision: string }) => (m.revision === 'main' ? m.name : `${m.name}@${m.revision}`);

/** Mean over items of the chosen reduction, every layer: [L+1, H] accumulated in float64. */
async function captureMean(model: ModelHandle, items: CaptureItem[], reduction: Reduction, j: Pick<ShiftJob, 'chunkSize' | 'batchSize' | 'signal'>): Promise<Float64Array> {
  const perItem = await captureEach(model, items, reduction, j);
  const sum = new Float64Array(perItem[0]?.length ?? 0);
  for (const a of perItem) for (let x = 0; x < a.length; x++) sum[x] += a[x];
  for (let x = 0; x < sum.length; x++) sum[x] /= perItem.length;
  return sum;
}

async function captureEach(model: ModelHandle, items: CaptureItem[], reduction: Reduction, j: Pick<ShiftJob, 'chunkSize' | 'batchSize' | 'signal'>): Promise<Float32Array[]> {
  const out: Float32Array[] = [];
  const chunk = j.chunkSize ?? 128;
  for (let c = 0; c < items.length; c += chunk) {
    j.signal?.throwIfAborted();
    const res = await model.backend.capture({ modelId: model.info.modelId, items: items.slice(c, c + chunk), reductions: [reduction], batchSize: j.batchSize }, { signal: j.signal });
    for (const it of res.items) out.push(decodeF32(it.values[reduction]!));
  }
  return out;
}

/** a[ℓ]·v̂[ℓ] for one layer of [L+1, H] row-major arrays; null where v's row is zero. */
function projectRow(a: ArrayLike<number>, unit: (Float64Array | null)[], layer: number, hidden: number): number | null {
  const u = unit[layer];
  if (!u) return null;
  let d = 0;
  for (let x = 0; x < hidden; x++) d += a[layer * hidden + x] * u[x];
  return d;
}

/** Ranks (1 = smallest), ties averaged; Spearman ρ = Pearson r of the ranks. */
function ranks(xs: readonly number[]): number[] {
  const idx = xs.map((x, i) => [x, i] as const).sort((a, b) => a[0] - b[0]);
  const r = new Array<number>(xs.length);
  for (let i = 0; i < idx.length;) {
    let k = i;
    while (k + 1 < idx.length && idx[k + 1][0] === idx[i][0]) k++;
    for (let m = i; m <= k; m++) r[idx[m][1]] = (i + k) / 2 + 1;
    i = k + 1;
  }
  return r;
}
export const spearman = (x: readonly number[], y: readonly number[]): number | null => pearson(ranks(x), ranks(y));

/** `label` of each JSONL row by id (screen's id rule: the `id` field, else the row's index), when rows carry one. */
function readLabels(file: string, samples: ScreenSample[]): Map<string, string> {
  const out = new Map<string, string>();
  if (file.endsWith('.csv')) return out;
  let i = 0;
  for (const line of readFileSync(file, 'utf8').replace(/^\uFEFF/, '').split(/\r?\n/)) {
    if (!line.trim()) continue;
    const o = JSON.parse(line) as { id?: unknown; label?: unknown };
    const id = typeof o.id === 'string' || typeof o.id === 'number' ? String(o.id) : String(i);
    if (typeof o.label === 'string') out.set(id, o.label);
    i++;
  }
  return samples.length === i ? out : new Map();
}

export async function runShift(j: ShiftJob): Promise<ShiftResult> {
  if (j.finetuned.length === 0) throw new PipelineError('data-invalid', 'shift needs at least one finetuned model (--finetuned)');
  const cfg = j.base.info.config;
  const L = cfg.numLayers, H = cfg.hiddenSize;
  if (!Number.isInteger(j.layer) || j.layer < 0 || j.layer > L) throw new PipelineError('data-invalid', `--layer ${j.layer} is outside 0..${L} (row ℓ = hidden_states[ℓ])`);
  const names = [modelLabel(j.base), ...j.finetuned.map(modelLabel)];
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup) throw new PipelineError('data-invalid', `${dup} is named twice (base and finetuned models must differ)`);
  // Unit rows of each trait's vector (the base model's), every layer; a zero row projects to null.
  const units = j.traits.map((t) => {
    const vec = readVectorFile(t.vectorPath, { key: t.vectorKey, kind: t.kind });
    assertVectorFits(vec, t.vectorPath, { name: j.base.name, ...cfg });
    const kind = t.kind ?? 'response_avg';
    const data = vec.data[kind];
    if (!data) throw new PipelineError('vector-invalid', `${t.vectorPath} has no ${kind} vector; pass --kind`);
    return Array.from({ length: L + 1 }, (_, l) => {
      const row = data.subarray(l * H, (l + 1) * H);
      const n = norm(row);
      return n === 0 ? null : Float64Array.from(row, (x) => x / n);
    });
  });
  j.traits.forEach((t, k) => {
    if (!units[k][j.layer]) throw new PipelineError('vector-invalid', `${t.vectorPath}: row ${j.layer} is all zeros, so there is no direction to measure the shift along; pick another --layer`);
  });
  const datasets = j.finetuned.map((f) => (f.data ? readScreenData(f.data, modelKind(j.base)) : undefined));
  const config = {
    stage: 'shift', base: modelConfig(j.base), finetuned: j.finetuned.map((f) => ({ name: f.name, revision: f.revision, commit: f.commit ?? null, ...(datasets[j.finetuned.indexOf(f)] ? { dataSha256: datasets[j.finetuned.indexOf(f)]!.sha256 } : {}) })),
    traits: j.traits.map((t) => ({ trait: t.trait, evalSha256: t.eval.sha256, vectorSha256: sha256File(t.vectorPath), kind: t.kind ?? 'response_avg', ...(t.vectorKey ? { vectorKey: t.vectorKey } : {}) })),
    layer: j.layer, sampler: j.sampling, samplerPreset: j.samplerPreset, samples: j.samples, seed: j.seed, screenSeed: j.screenSeed,
    maxQuestions: j.maxQuestions ?? null, judge: j.judge.id, topFraction: j.topFraction ?? 0.1,
  };
  const mk = modelKind(j.base);
  const questions = j.traits.map((t) => t.eval.data.questions.slice(0, j.maxQuestions ?? undefined));
  const { run, value } = await withRun({ ws: j.ws, kind: 'shift', label: `${j.base.name}-${j.base.revision}`, config, runId: j.runId, judge: j.judge, signal: j.signal }, async (run) => {
    /** Last-prompt projections (per trait, per layer) and expression of one model. */
    const measure = async (m: ModelHandle, label: string) => {
      const proj: (number | null)[][] = [], expr: (number | null)[] = [], coh: (number | null)[] = [];
      for (const [k, t] of j.traits.entries()) {
        const qs = questions[k];
        const avg = await captureMean(m, qs.map((q) => ({ prompt: evalPrompt(mk, q), response: '' })), 'prompt_last', j);
        proj.push(Array.from({ length: L + 1 }, (_, l) => projectRow(avg, units[k], l, H)));
        const rows: RowSpec[] = [];
        qs.forEach((q, i) => { for (let s = 0; s < j.samples; s++) rows.push({ key: `${label}|${t.trait}_${i}#${s}`, prompt: evalPrompt(mk, q), question: q, seed: j.seed + i * j.samples + s }); });
        await generateAndJudge(rows, { model: m, judge: j.judge, run, sampling: j.sampling, trait: t.trait, evalPrompt: t.eval.data.eval_prompt,
          chunkSize: j.chunkSize, batchSize: j.batchSize, progress: (p) => j.progress?.({ ...p, note: `${label} ${t.trait}` }), signal: j.signal });
        expr.push(mean(rows.map((r) => run.score(r.key, 'trait') ?? null)));
        coh.push(mean(rows.map((r) => run.score(r.key, 'coherence') ?? null)));
      }
      return { proj, expr, coh };
    };
    const baseLabel = modelLabel(j.base);
    const base = await measure(j.base, baseLabel);

    // Screening before finetuning, on the base model (screen's ΔP: training answer vs the base's own answer).
    const deltaP: ((number | null)[][] | null)[][] = []; // [finetuned][trait][layer] → ΔP_i per sample
    for (const [f, ds] of datasets.entries()) {
      if (!ds) { deltaP.push(j.traits.map(() => null)); continue; }
      const label = modelLabel(j.finetuned[f]);
      const rows: RowSpec[] = ds.samples.map((s, i) => ({ key: `own|${label}|${s.id}`, prompt: s.prompt, question: s.question, seed: j.screenSeed + i }));
      await generateAndJudge(rows, { model: j.base, run, sampling: j.sampling, trait: j.traits[0].trait, evalPrompt: '', metrics: [],
        chunkSize: j.chunkSize, batchSize: j.batchSize, progress: (p) => j.progress?.({ ...p, stage: 'screen', note: label }), signal: j.signal });
      const acts = await captureEach(j.base, ds.samples.flatMap((s) => [{ prompt: s.prompt, response: s.answer }, { prompt: s.prompt, response: run.generations.get(`own|${label}|${s.id}`)!.answer }]), 'response_avg', j);
      deltaP.push(j.traits.map((_, k) => Array.from({ length: L + 1 }, (_l, l) => ds.samples.map((_s, i) => {
        const a = projectRow(acts[2 * i], units[k], l, H), b = projectRow(acts[2 * i + 1], units[k], l, H);
        return a === null || b === null || !Number.isFinite(a) || !Number.isFinite(b) ? null : a - b;
      }))));
    }

    const fts: { proj: (number | null)[][]; expr: (number | null)[]; coh: (number | null)[] }[] = [];
    for (const f of j.finetuned) {
      j.signal?.throwIfAborted();
      const opened = await f.open();
      try {
        const c = opened.model.info.config;
        if (c.numLayers !== L || c.hiddenSize !== H) {
          throw new PipelineError('data-invalid', `${modelLabel(f)} has ${c.numLayers} layers × ${c.hiddenSize} but the base ${baseLabel} has ${L} × ${H}: a finetune keeps its base's shape`);
        }
        fts.push(await measure(opened.model, modelLabel(f)));
      } finally { await opened.close(); }
    }

    const ftNames = j.finetuned.map(modelLabel);
    const rows: ShiftRow[] = [];
    const rOf = new Map<string, number | null>();
    for (const [k, t] of j.traits.entries()) {
      for (let l = 0; l <= L; l++) {
        const xs: number[] = [], ys: number[] = [];
        fts.forEach((m) => {
          const s = shiftOf(m.proj[k][l], base.proj[k][l]);
          if (s !== null && m.expr[k] !== null) { xs.push(s); ys.push(m.expr[k]!); }
        });
        const r = pearson(xs, ys);
        rOf.set(`${t.trait}|${l}`, r);
        rows.push({ model: baseLabel, trait: t.trait, layer: l, shift: base.proj[k][l] === null ? null : 0, expression: base.expr[k], coherence: base.coh[k], r });
        fts.forEach((m, f) => rows.push({ model: ftNames[f], trait: t.trait, layer: l, shift: shiftOf(m.proj[k][l], base.proj[k][l]), expression: m.expr[k], coherence: m.coh[k], r }));
      }
    }
    const summary = j.traits.map((t) => ({ trait: t.trait, layer: j.layer, r: rOf.get(`${t.trait}|${j.layer}`) ?? null, n: fts.filter((m, f) => fts[f].expr[j.traits.indexOf(t)] !== null).length }));
    const top = j.topFraction ?? 0.1;
    const screening: ShiftScreenRow[] = [];
    const labelsOf = datasets.map((ds, f) => (ds ? readLabels(j.finetuned[f].data!, ds.samples) : new Map<string, string>()));
    const orders: ShiftOrder[] = [];
    for (const [k, t] of j.traits.entries()) for (let l = 0; l <= L; l++) {
      const pairs: { model: string; shift: number; dp: number }[] = [];
      datasets.forEach((ds, f) => {
        if (!ds) return;
        const dps = deltaP[f][k]![l];
        const shift = shiftOf(fts[f].proj[k][l], base.proj[k][l]);
        const finite = dps.filter((x): x is number => x !== null);
        const datasetDeltaP = mean(finite);
        const labels = labelsOf[f];
        const labelled = ds.samples.filter((s) => labels.get(s.id) === t.trait).length;
        const n = Math.max(1, Math.ceil(top * ds.samples.length));
        const ranked = ds.samples.map((s, i) => ({ s, d: dps[i] })).filter((x) => x.d !== null).sort((a, b) => b.d! - a.d!).slice(0, n);
        const hits = ranked.filter((x) => labels.get(x.s.id) === t.trait).length;
        screening.push({ model: ftNames[f], trait: t.trait, layer: l, datasetDeltaP, shift, samples: ds.samples.length, labelled, top: n,
          precisionAtTop: labelled > 0 ? hits / n : null });
        if (datasetDeltaP !== null && shift !== null) pairs.push({ model: ftNames[f], shift, dp: datasetDeltaP });
      });
      if (pairs.length >= 2) {
        const byShift = [...pairs].sort((a, b) => b.shift - a.shift).map((p) => p.model);
        const byDeltaP = [...pairs].sort((a, b) => b.dp - a.dp).map((p) => p.model);
        orders.push({ trait: t.trait, layer: l, byShift, byDeltaP, same: byShift.join() === byDeltaP.join(), spearman: spearman(pairs.map((p) => p.shift), pairs.map((p) => p.dp)) });
      }
    }
    const result: ShiftResults = { base: baseLabel, layer: j.layer, traits: j.traits.map((t) => t.trait), models: ftNames, rows, summary, screening, orders };
    writeCsv(run.path('shift.csv'), ['model', 'trait', 'layer', 'shift', 'expression', 'coherence', 'r'], rows.map((r) => ({ ...r })));
    writeCsv(run.path('shift_summary.csv'), ['trait', 'layer', 'r', 'n'], summary.map((s) => ({ ...s })));
    const outputs: Record<string, string> = { shift: run.path('shift.csv'), summary: run.path('shift_summary.csv') };
    if (screening.length) {
      writeCsv(run.path('shift_screening.csv'), ['model', 'trait', 'layer', 'datasetDeltaP', 'shift', 'samples', 'labelled', 'top', 'precisionAtTop'], screening.map((s) => ({ ...s })));
      outputs.screening = run.path('shift_screening.csv');
    }
    return { value: result, results: { ...result }, outputs };
  });
  return { run, ...value };
}

const shiftOf = (b: number | null, a: number | null): number | null => (a === null || b === null ? null : b - a);
