/**
 * The prompt-file job behind the editor's Generate · Steer · Monitor lenses: a file's prompts (./parse.ts) answered
 * without steering (Generate), without and with coef·v at layer ℓ (Steer: row i's baseline and steered answers share
 * seed + i, so they differ only by the steering), or answered and projected (Monitor: the last prompt token's
 * hidden_states[ℓ] on v̂, upstream `prompt_last_proj`, the number `persona-lab monitor` correlates with the trait).
 * Every answer is judged for the trait and coherence.
 *
 * It is an evaluation on the file's prompts instead of the trait's questions, so it is recorded as an `evaluate` run
 * with core's row keys (`baseline|<trait>_<i>#0`, `steer_L<ℓ>_c<c>|<trait>_<i>#0`): Judge Results, Runs and resume read it
 * like any evaluation. The configuration holds the prompts themselves (no file path), so the same prompts, vector,
 * layer, coef and seed give the same run, resumed instead of regenerated.
 */
import type { PromptInput } from '../../engine/protocol.js';
import { modelKind, type JobBase } from '../backend.js';
import { PipelineError } from '../errors.js';
import { baselineCondition, steerCondition, type Condition } from '../evaluation/conditions.js';
import { rowKey } from '../evaluation/evaluate.js';
import { generateAndJudge, type RowSpec } from '../rows.js';
import type { RunStore } from '../storage/run.js';
import type { LoadedTrait } from '../traits/load.js';
import { assertVectorFits, checkRowUsable, readVectorFile, vectorRow, type VectorKind } from '../vectors/file.js';
import { projectItems } from '../vectors/projection.js';
import { modelConfig, jobLabel, sha256File, withRun } from '../jobs/run.js';
import { promptInput, type PromptEntry } from './parse.js';

export type PromptAction = 'generate' | 'steer' | 'monitor';

export interface PromptFileJob extends Omit<JobBase, 'samples' | 'maxQuestions'> {
  action: PromptAction;
  evalTrait: LoadedTrait;
  prompts: PromptEntry[];
  /** Steer and Monitor. */
  vectorPath?: string;
  kind?: VectorKind;
  layer?: number;
  /** Steer. */
  coef?: number;
  /** A label for the run id (e.g. the file's base name). */
  source?: string;
}

export interface PromptAnswer { answer: string; trait: number | null; coherence: number | null }
export interface PromptOutcome { index: number; line: number; baseline: PromptAnswer; steered?: PromptAnswer; projection?: number }
export interface PromptFileResult { run: RunStore; outcomes: PromptOutcome[]; condition?: Condition }

export async function runPromptFile(j: PromptFileJob): Promise<PromptFileResult> {
  if (j.prompts.length === 0) throw new Error('the file holds no prompts');
  const mk = modelKind(j.model);
  const needsVector = j.action !== 'generate';
  let row: Float32Array | undefined;
  const vkind = j.kind ?? 'response_avg';
  if (needsVector) {
    if (!j.vectorPath || j.layer === undefined) throw new Error(`${j.action} needs a vector and a layer`);
    if (j.action === 'steer' && j.coef === undefined) throw new Error('steer needs a coefficient');
    const vec = readVectorFile(j.vectorPath, { kind: vkind });
    assertVectorFits(vec, j.vectorPath, { name: j.model.name, ...j.model.info.config });
    row = vectorRow(vec, vkind, j.layer);
    // An all-zero row steers nothing (the worker refuses it) and has no direction to project onto: refused before any work.
    const zero = checkRowUsable(row, j.action === 'steer' ? 'raw' : 'projection', j.vectorPath, j.layer);
    if (zero) throw new PipelineError('vector-invalid', `${zero}: pick another layer`);
  }
  const base = baselineCondition();
  const steer = j.action === 'steer' ? steerCondition('steer', row!, j.layer!, j.coef!, { positions: 'response' }) : undefined;
  const prompts: PromptInput[] = j.prompts.map((p) => promptInput(p, mk));
  const config = {
    stage: 'prompt-file', action: j.action, model: modelConfig(j.model), trait: j.trait, evalSha256: j.evalTrait.sha256,
    prompts, ...(needsVector ? { vectorSha256: sha256File(j.vectorPath!), kind: vkind, layer: j.layer } : {}), ...(steer ? { coef: j.coef } : {}),
    sampler: j.sampling, samplerPreset: j.samplerPreset, seed: j.seed, judge: j.judge.id,
  };
  const conds = steer ? [base, steer] : [base];
  const rows: RowSpec[] = conds.flatMap((c) => j.prompts.map((p, i) => ({ key: rowKey(c, j.trait, p.index, 0), prompt: prompts[i], question: p.question, seed: j.seed + p.index, steer: c.steer })));
  const label = `${j.source ? `${j.source.replace(/\.[^.]+$/, '')}-` : ''}${jobLabel(j)}`;
  const { run, value } = await withRun({ ws: j.ws, kind: 'evaluate', label: `prompts-${label}`, config, runId: j.runId, judge: j.judge, signal: j.signal }, async (run) => {
    await generateAndJudge(rows, { model: j.model, judge: j.judge, run, sampling: j.sampling, trait: j.trait, evalPrompt: j.evalTrait.data.eval_prompt,
      chunkSize: j.chunkSize, batchSize: j.batchSize, progress: j.progress, signal: j.signal });
    const proj = j.action === 'monitor' ? await projectItems(j.model, prompts.map((prompt) => ({ prompt, response: '' })), 'prompt_last', j.layer!, row!, j) : undefined;
    const answer = (c: Condition, i: number): PromptAnswer => {
      const key = rowKey(c, j.trait, i, 0);
      return { answer: run.generations.get(key)?.answer ?? '', trait: run.score(key, 'trait') ?? null, coherence: run.score(key, 'coherence') ?? null };
    };
    const outcomes: PromptOutcome[] = j.prompts.map((p, k) => ({
      index: p.index, line: p.line, baseline: answer(base, p.index), ...(steer ? { steered: answer(steer, p.index) } : {}), ...(proj ? { projection: proj[k] } : {}),
    }));
    return { value: outcomes, results: { action: j.action, conditions: conds.map((c) => c.id), outcomes }, outputs: { generations: run.path('generations.jsonl') } };
  });
  return { run, outcomes: value, condition: steer };
}
