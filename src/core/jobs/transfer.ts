/**
 * Transfer (upstream `transfer_sweep.sh`, digest §10.2): vectors extracted at each checkpoint of a base model,
 * evaluated on ONE target model — its final checkpoint or a post-trained variant — with the baseline generated
 * once per trait on the target and every source vector steering the same seeds in shared batches.
 *
 * Scaling of each source row before coef (digest §5.2):
 *   raw           coef · v_rev (the vectors' own norms; early checkpoints' norms can be far off);
 *   match-target  coef · ‖v_target‖ · v̂_rev, where v_target is the target's own vector for the trait at that layer —
 *                 a pure direction transfer: Δτ differs from the target's own vector only by direction.
 *   target-norm   coef · mean_l2(target, ℓ) · v̂_rev — upstream's VECTOR_NORM: coef is a fraction of the target's
 *                 typical residual norm (./calibration.ts measures it).
 * The table has upstream's columns; Bonferroni counts the source checkpoints of each trait.
 * `steerScaling` (the sweep's --scaling) is the worker's scaling of each row: only with 'raw' transfer scaling, since
 * match-target and target-norm already set the norm that unit / target-norm would replace.
 */
import path from 'node:path';
import type { SteerScaling } from '../../engine/protocol.js';
import type { JobBase } from '../backend.js';
import { PipelineError } from '../errors.js';
import { rescale } from '../evaluation/controls.js';
import { baselineCondition, fmtCoef, isScaled, scalingModeLabel, steerCondition, type Condition } from '../evaluation/conditions.js';
import { evaluateConditions, type ConditionResult } from '../evaluation/evaluate.js';
import { applyBonferroniWithinTrait, combinedRows, COMBINED_COLUMNS, SIGNIFICANCE_COLUMNS } from '../evaluation/report.js';
import { writeCsv, type CsvValue } from '../storage/csv.js';
import type { RunStore } from '../storage/run.js';
import type { LoadedTrait } from '../traits/load.js';
import { assertVectorFits, checkRowUsable, norm, readVectorFile, vectorRow } from '../vectors/file.js';
import { OptionError } from './options.js';
import { jobLabel, sha256File, withRun } from './run.js';

export type TransferScaling = 'raw' | 'match-target' | 'target-norm';

/** JobBase's `model` is the target every vector is evaluated on. */
export interface TransferJob extends JobBase {
  evalTrait: LoadedTrait;
  /** Source vectors, in training order. */
  sources: { revision: string; vectorPath: string }[];
  /** The target's own vector for this trait (needed for 'match-target'; also evaluated, as the reference row). */
  targetVectorPath?: string;
  layer: number;
  coef: number;
  scaling: TransferScaling;
  /** The target's mean hidden-state L2 norm at `layer` (needed for 'target-norm'). */
  targetNorm?: number;
  /** The worker's scaling of every steered row (default raw); only with `scaling: 'raw'`. */
  steerScaling?: SteerScaling;
}

/** --scaling unit / target-norm and a transfer scaling that sets the norm itself contradict each other: refused as usage. */
export function checkTransferScaling(scaling: TransferScaling, steerScaling: SteerScaling | undefined): void {
  if (isScaled(steerScaling) && scaling !== 'raw') {
    throw new OptionError(`--scaling ${steerScaling.mode} and --transfer-scaling ${scaling} both set the transferred vector's norm; ` +
      `use --transfer-scaling raw with --scaling ${steerScaling.mode}, or leave --scaling raw`);
  }
}

const TARGET_ID = 'target';
const SCALING_MODE: Record<TransferScaling, string> = { 'raw': 'raw', 'match-target': 'match_target_vector_norm', 'target-norm': 'target_norm' };

export async function runTransfer(j: TransferJob): Promise<{ run: RunStore; rows: Record<string, CsvValue>[]; results: ConditionResult[] }> {
  if (j.scaling === 'match-target' && !j.targetVectorPath) throw new PipelineError('vector-missing', 'match-target scaling needs the target model\'s own vector (targetVectorPath)');
  if (j.scaling === 'target-norm' && !(j.targetNorm! > 0)) throw new PipelineError('data-invalid', 'target-norm scaling needs the target\'s mean hidden-state norm at the layer (targetNorm)');
  checkTransferScaling(j.scaling, j.steerScaling);
  const targetLabel = `${j.model.name}@${j.model.revision}`;
  // The target's identity predates modelConfig (./run.ts) and keeps its shape, so existing transfer runs resume.
  const config = {
    stage: 'transfer', target: { name: j.model.name, revision: j.model.revision, commit: j.model.commit ?? null, engine: j.model.info.compiler },
    trait: j.trait, evalSha256: j.evalTrait.sha256, sources: j.sources.map((s) => ({ revision: s.revision, vectorSha256: sha256File(s.vectorPath) })),
    targetVectorSha256: j.targetVectorPath ? sha256File(j.targetVectorPath) : null, layer: j.layer, coef: j.coef, scaling: j.scaling, targetNorm: j.targetNorm ?? null,
    sampler: j.sampling, samplerPreset: j.samplerPreset, seed: j.seed, samples: j.samples, maxQuestions: j.maxQuestions ?? null, judge: j.judge.id,
    ...(isScaled(j.steerScaling) ? { steerScaling: j.steerScaling } : {}),
  };
  const fits = { name: targetLabel, ...j.model.info.config };
  const rowOf = (file: string) => {
    const v = readVectorFile(file);
    assertVectorFits(v, file, fits);
    const row = vectorRow(v, 'response_avg', j.layer);
    if (isScaled(j.steerScaling)) checkRowUsable(row, j.steerScaling.mode, file, j.layer);
    return { row, filter: parseFilter(v.metadata.filter_stats) };
  };
  const target = j.targetVectorPath ? rowOf(j.targetVectorPath) : null;
  const targetNorm = target ? norm(target.row) : 0;
  const conds: Condition[] = [baselineCondition()];
  const sourceOf = new Map<string, { revision: string; vectorPath: string; filter?: Record<string, unknown> }>();
  for (const s of j.sources) {
    const { row, filter } = rowOf(s.vectorPath);
    const scaled = j.scaling === 'match-target' ? rescale(row, targetNorm) : j.scaling === 'target-norm' ? rescale(row, j.targetNorm!) : row;
    const c = steerCondition('steer', scaled, j.layer, j.coef, { scaling: j.steerScaling });
    c.id = `steer_${s.revision.replace(/[^A-Za-z0-9._-]+/g, '_')}_L${j.layer}_c${fmtCoef(j.coef)}`;
    conds.push(c);
    sourceOf.set(c.id, { ...s, filter });
  }
  if (target) {
    const c = steerCondition('steer', j.scaling === 'target-norm' ? rescale(target.row, j.targetNorm!) : target.row, j.layer, j.coef, { scaling: j.steerScaling });
    c.id = `steer_${TARGET_ID}_L${j.layer}_c${fmtCoef(j.coef)}`;
    conds.push(c);
    sourceOf.set(c.id, { revision: `${TARGET_ID}:${targetLabel}`, vectorPath: j.targetVectorPath!, filter: target.filter });
  }
  const { run, value } = await withRun({ ws: j.ws, kind: 'transfer', label: jobLabel(j), config, runId: j.runId, judge: j.judge, signal: j.signal }, async (run) => {
    const results = await evaluateConditions(conds, { ...j, run, evalTrait: j.evalTrait.data });
    const base = results[0];
    const rows = results.slice(1).flatMap((r) => {
      const s = sourceOf.get(r.condition.id)!;
      return combinedRows({ trait: j.trait, extractRevision: s.revision, evalRevision: targetLabel, vectorPath: path.relative(j.ws.root, s.vectorPath), vectorExists: true, filter: s.filter }, [base, r])
        .map((row): Record<string, CsvValue> => ({ ...row, scaling_mode: isScaled(j.steerScaling) ? scalingModeLabel(j.steerScaling) : SCALING_MODE[j.scaling] }));
    });
    // Bonferroni over the source checkpoints (the target's own vector is a reference, not one of them).
    const sourcesOnly = applyBonferroniWithinTrait(rows.filter((r) => !String(r.extract_revision).startsWith(`${TARGET_ID}:`)), 'extract_revision');
    const table = [...sourcesOnly, ...rows.filter((r) => String(r.extract_revision).startsWith(`${TARGET_ID}:`))];
    writeCsv(run.path('combined.csv'), COMBINED_COLUMNS, table);
    writeCsv(run.path('combined_significance.csv'), SIGNIFICANCE_COLUMNS, table);
    return { value: { rows: table, results }, results: { conditions: results, rows: table }, outputs: { combined: run.path('combined.csv') } };
  });
  return { run, ...value };
}

function parseFilter(s: string | undefined): Record<string, unknown> | undefined {
  try { return s ? JSON.parse(s) as Record<string, unknown> : undefined; } catch { return undefined; }
}
