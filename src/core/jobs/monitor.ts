/**
 * Monitoring (persona-vectors paper §"deployment monitoring", digest §7): does the projection of the last prompt
 * token onto the persona vector — computed BEFORE the model answers — predict how strongly the answer will show
 * the trait? System prompts ranging from trait-discouraging to trait-encouraging are crossed with the evaluation
 * questions; for every prompt we read hidden_states[ℓ] at the last prompt token (capture 'prompt_last') and project
 * it onto v̂_ℓ (upstream `prompt_last_proj`: a·v/‖v‖), generate answers, judge them, and correlate.
 *
 * Reported: Pearson r over individual answers and over per-system-prompt means (the paper's figure: r ≈ 0.75–0.83;
 * per-prompt means are what separates prompt types). Generations and judgements are appended to the run as they
 * come (resumable like every stage); projections are recomputed, they cost one forward per prompt.
 */
import { readFileSync } from 'node:fs';
import type { PromptInput } from '../../engine/protocol.js';
import { modelKind, type JobBase } from '../backend.js';
import { PipelineError } from '../errors.js';
import { systemPrompt } from '../prompts.js';
import { instructionText } from '../traits/schema.js';
import { generateAndJudge, type RowSpec } from '../rows.js';
import { mean } from '../stats/descriptive.js';
import { writeCsv } from '../storage/csv.js';
import type { RunStore } from '../storage/run.js';
import { modelConfig, jobLabel, sha256File, withRun } from './run.js';
import type { LoadedTrait } from '../traits/load.js';
import { assertVectorFits, checkRowUsable, readVectorFile, vectorRow, type VectorKind } from '../vectors/file.js';
import { projectItems } from '../vectors/projection.js';
import { checkTextLengths, type TextLimit } from '../validate/limits.js';
import { MAX_FILE_BYTES, parseJsonText, readTextInput } from '../validate/text.js';

export interface MonitorPrompt {
  /** System prompt text ('' = none). */
  system: string;
  /** Short label for tables, e.g. "pos/very/2" or "neutral/0". */
  label: string;
  /** Expected trait level when known (the toy's polarity × p), for the reader. */
  expected?: number;
}

/** What every job takes (workspace, model, judge, sampler, seeds, sizes, run id, progress) plus the monitoring inputs. */
export interface MonitorJob extends JobBase {
  evalTrait: LoadedTrait;
  vectorPath: string;
  kind?: VectorKind;
  /** A tensor name other than `<kind>_diff` (`--vector-key`). */
  vectorKey?: string;
  layer: number;
  prompts: MonitorPrompt[];
}

export interface MonitorResult {
  run: RunStore;
  /** Pearson r between projection and trait score over answers, and over per-system-prompt means. */
  rAnswers: number | null;
  rPromptMeans: number | null;
  prompts: { label: string; system: string; expected: number | null; projection: number; trait: number | null; coherence: number | null; answers: number }[];
}

/** The system prompts a trait file implies: each eliciting and each suppressing instruction, and none. */
export function promptsFromTrait(trait: LoadedTrait, name: string): MonitorPrompt[] {
  const out: MonitorPrompt[] = [{ system: '', label: 'none' }];
  for (const [k, pair] of (trait.data.instruction ?? []).entries()) {
    out.push({ system: systemPrompt(name, instructionText(pair.pos)), label: `pos/${k}`, expected: 1 });
    out.push({ system: systemPrompt('helpful', instructionText(pair.neg)), label: `neg/${k}`, expected: -1 });
  }
  return out;
}

/**
 * A --prompts file: a JSON array of at least 3 {"system", "label"?, "expected"?} (strict UTF-8, size and, given a limit,
 * the length of each system prompt checked before any work; every bad item listed by its JSON path).
 */
export function readMonitorPrompts(file: string, opts: { limit?: TextLimit } = {}): MonitorPrompt[] {
  const input = readTextInput(file, 'prompts file', 'data-invalid', MAX_FILE_BYTES.prompts);
  const raw = parseJsonText(input.text, file, 'prompts file', 'data-invalid');
  if (!Array.isArray(raw) || raw.length < 3) throw new PipelineError('data-invalid', `${file}: expected a JSON array of at least 3 {"system": "..."} objects (a correlation needs 3 prompts)`);
  const problems: string[] = [];
  const out = raw.map((p: unknown, i: number) => {
    const o = (typeof p === 'object' && p !== null ? p : {}) as { system?: unknown; label?: unknown; expected?: unknown };
    if (typeof o.system !== 'string') problems.push(`$[${i}].system: item ${i} has no "system" string${o.system === null ? ' (it is null)' : ''}`);
    if (o.label !== undefined && typeof o.label !== 'string') problems.push(`$[${i}].label must be a string`);
    if (o.expected !== undefined && (typeof o.expected !== 'number' || !Number.isFinite(o.expected))) problems.push(`$[${i}].expected must be a number`);
    return { system: String(o.system ?? ''), label: typeof o.label === 'string' ? o.label : `p${i}`, expected: typeof o.expected === 'number' ? o.expected : undefined };
  });
  if (problems.length) {
    throw new PipelineError('data-invalid', `${file}: ${problems.length} problem${problems.length === 1 ? '' : 's'}:\n${problems.slice(0, 20).map((x) => `  ${x}`).join('\n')}` +
      (problems.length > 20 ? `\n  … and ${problems.length - 20} more` : ''));
  }
  checkTextLengths(out.map((p, i) => ({ where: `$[${i}].system`, text: p.system })), opts.limit, file, 'data-invalid');
  return out;
}

/** The toy organism's graded monitoring prompts for one trait (models/toy-persona/world/monitoring-prompts.json). */
export function toyMonitoringPrompts(file: string, trait: string): MonitorPrompt[] {
  const m = JSON.parse(readFileSync(file, 'utf8')) as { styled: { trait: string; polarity: number; intensity: string; paraphrase: number; expected: number; system: string }[]; neutral: { system: string; expected: number }[] };
  const styled = m.styled.filter((r) => r.trait === trait);
  if (styled.length === 0) throw new Error(`${file} has no monitoring prompts for "${trait}"`);
  return [
    ...m.neutral.map((r, i) => ({ system: r.system, label: `neutral/${i}`, expected: r.expected })),
    ...styled.map((r) => ({ system: r.system, label: `${r.polarity > 0 ? 'pos' : 'neg'}/${r.intensity}/${r.paraphrase}`, expected: r.expected })),
  ];
}

export function pearson(x: readonly number[], y: readonly number[]): number | null {
  const n = x.length;
  if (n !== y.length || n < 3) return null;
  const mx = x.reduce((a, b) => a + b, 0) / n, my = y.reduce((a, b) => a + b, 0) / n;
  let sxy = 0, sxx = 0, syy = 0;
  for (let i = 0; i < n; i++) { const dx = x[i] - mx, dy = y[i] - my; sxy += dx * dy; sxx += dx * dx; syy += dy * dy; }
  return sxx === 0 || syy === 0 ? null : sxy / Math.sqrt(sxx * syy);
}

function promptFor(kind: 'chat' | 'base', system: string, question: string): PromptInput {
  if (kind === 'base') return { text: system ? `${system} ${question}` : question };
  return { messages: [...(system ? [{ role: 'system' as const, content: system }] : []), { role: 'user' as const, content: question }] };
}

export async function runMonitoring(j: MonitorJob): Promise<MonitorResult> {
  const kindVec = j.kind ?? 'response_avg';
  const vec = readVectorFile(j.vectorPath, { key: j.vectorKey, kind: kindVec });
  assertVectorFits(vec, j.vectorPath, { name: j.model.name, ...j.model.info.config });
  const v = vectorRow(vec, kindVec, j.layer);
  checkRowUsable(v, 'projection', j.vectorPath, j.layer);
  const config = {
    stage: 'monitor', model: modelConfig(j.model), trait: j.trait, evalSha256: j.evalTrait.sha256,
    vectorSha256: sha256File(j.vectorPath), kind: kindVec, layer: j.layer, ...(j.vectorKey ? { vectorKey: j.vectorKey } : {}), prompts: j.prompts, sampler: j.sampling, samplerPreset: j.samplerPreset,
    samples: j.samples, seed: j.seed, maxQuestions: j.maxQuestions ?? null, judge: j.judge.id,
  };
  const mk = modelKind(j.model);
  const questions = j.evalTrait.data.questions.slice(0, j.maxQuestions ?? undefined);
  const rows: RowSpec[] = [];
  j.prompts.forEach((p, a) => questions.forEach((q, i) => {
    for (let s = 0; s < j.samples; s++) rows.push({ key: `mon${a}|${j.trait}_${i}#${s}`, prompt: promptFor(mk, p.system, q), question: q, seed: j.seed + i * j.samples + s });
  }));
  const { run, value } = await withRun({ ws: j.ws, kind: 'monitor', label: jobLabel(j), config, runId: j.runId, judge: j.judge, signal: j.signal }, async (run) => {
    await generateAndJudge(rows, { model: j.model, judge: j.judge, run, sampling: j.sampling, trait: j.trait, evalPrompt: j.evalTrait.data.eval_prompt,
      chunkSize: j.chunkSize, batchSize: j.batchSize, progress: j.progress, signal: j.signal });
    // One capture per (system prompt, question): the last prompt token's hidden state at the layer, projected on v̂.
    const items = j.prompts.flatMap((p) => questions.map((q) => ({ prompt: promptFor(mk, p.system, q), response: '' })));
    const proj = await projectItems(j.model, items, 'prompt_last', j.layer, v, j);
    const table: Record<string, string | number | null>[] = [];
    const xs: number[] = [], ys: number[] = [];
    const perPrompt = j.prompts.map((p, a) => {
      const traits: (number | null)[] = [], cohs: (number | null)[] = [], projs: number[] = [];
      questions.forEach((q, i) => {
        const pr = proj[a * questions.length + i];
        projs.push(pr);
        for (let s = 0; s < j.samples; s++) {
          const key = `mon${a}|${j.trait}_${i}#${s}`;
          const t = run.score(key, 'trait') ?? null, h = run.score(key, 'coherence') ?? null;
          traits.push(t); cohs.push(h);
          if (t !== null) { xs.push(pr); ys.push(t); }
          table.push({ label: p.label, system_prompt: p.system, expected: p.expected ?? null, question_id: `${j.trait}_${i}`, sample: s, question: q,
            answer: run.generations.get(key)?.answer ?? '', prompt_last_proj: pr, [j.trait]: t, coherence: h });
        }
      });
      return { label: p.label, system: p.system, expected: p.expected ?? null, projection: mean(projs)!, trait: mean(traits), coherence: mean(cohs), answers: traits.filter((t) => t !== null).length };
    });
    const withTrait = perPrompt.filter((p) => p.trait !== null);
    const result = { rAnswers: pearson(xs, ys), rPromptMeans: pearson(withTrait.map((p) => p.projection), withTrait.map((p) => p.trait!)), prompts: perPrompt };
    const projCol = `${j.model.name}_${j.trait}_prompt_last_proj_layer${j.layer}`;
    writeCsv(run.path(`monitoring_${j.trait}.csv`), ['label', 'system_prompt', 'expected', 'question_id', 'sample', 'question', 'answer', projCol, j.trait, 'coherence'],
      table.map((r) => ({ ...r, [projCol]: r.prompt_last_proj })));
    writeCsv(run.path(`monitoring_${j.trait}_by_prompt.csv`), ['label', 'system_prompt', 'expected', 'projection_mean', 'trait_mean', 'coherence_mean', 'answers'],
      perPrompt.map((p) => ({ label: p.label, system_prompt: p.system, expected: p.expected, projection_mean: p.projection, trait_mean: p.trait, coherence_mean: p.coherence, answers: p.answers })));
    return { value: result, results: result, outputs: { answers: run.path(`monitoring_${j.trait}.csv`), byPrompt: run.path(`monitoring_${j.trait}_by_prompt.csv`) } };
  });
  return { run, ...value };
}
