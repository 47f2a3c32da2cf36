/**
 * --scaling and --vector-key in core evaluation (pure: no worker, no model load):
 *   - a steered condition carries the worker's scaling into its steer spec, and names it only when it is not raw;
 *   - combined.csv's scaling_mode says what was used (raw, unit, target_norm; empty for the prompting baseline);
 *   - the evaluate run config of a raw run on the file's own tensors has exactly the keys it had before --scaling and
 *     --vector-key existed, so existing run ids (and their resumable folders) stay valid; unit / a key change it;
 *   - unit / target-norm refuse an all-zero row at the steering layer, and a wrong key lists the tensors found, before
 *     any run folder exists;
 *   - the option rules shared by the CLI and the editor (src/core/jobs/defaults.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ModelHandle } from '../../src/core/backend.js';
import { baselineCondition, promptCondition, scalingModeLabel, steerCondition } from '../../src/core/evaluation/conditions.js';
import type { ConditionResult } from '../../src/core/evaluation/evaluate.js';
import { combinedRows } from '../../src/core/evaluation/report.js';
import { checkpointLayerCount, projectionLayerDefault, steerScalingFor } from '../../src/core/jobs/defaults.js';
import { OptionError } from '../../src/core/jobs/options.js';
import { evaluationConfig, type EvaluateJob } from '../../src/core/jobs/pipeline.js';
import { modelConfig, sha256File } from '../../src/core/jobs/run.js';
import { RunStore } from '../../src/core/storage/run.js';
import { Workspace } from '../../src/core/storage/workspace.js';
import { readVectorFile, writeVectorFile } from '../../src/core/vectors/file.js';
import { PipelineError } from '../../src/core/errors.js';

const root = path.resolve(import.meta.dirname, '..', '..');
const FIXTURE = path.join(root, 'test', 'fixtures', 'vectors', 'toy-persona-main-sycophantic.safetensors');

test('a steered condition passes its scaling to the worker and names it only when not raw', () => {
  const row = Float32Array.from([3, 4]);
  const raw = steerCondition('steer', row, 2, 1.5);
  assert.deepEqual(raw.steer![0].scaling, { mode: 'raw' });
  assert.equal('scaling' in raw, false, 'a raw condition reads as it always did (results.json unchanged)');
  const unit = steerCondition('steer', row, 2, 1.5, { scaling: { mode: 'unit' } });
  assert.deepEqual(unit.steer![0].scaling, { mode: 'unit' });
  assert.deepEqual(unit.scaling, { mode: 'unit' });
  assert.equal(unit.id, raw.id, 'the id is the point (layer, coef); the run config tells scalings apart');
  assert.equal(unit.vectorNorm, 5, 'the row\'s own norm, before scaling');
  const tn = steerCondition('random', row, 2, 1.5, { seed: 3, scaling: { mode: 'target-norm', norm: 7 } });
  assert.deepEqual(tn.steer![0].scaling, { mode: 'target-norm', norm: 7 });
  assert.equal(scalingModeLabel(undefined), 'raw');
  assert.equal(scalingModeLabel({ mode: 'raw' }), 'raw');
  assert.equal(scalingModeLabel({ mode: 'unit' }), 'unit');
  assert.equal(scalingModeLabel(tn.scaling), 'target_norm');
});

function result(c: ReturnType<typeof baselineCondition>, traitMean: number): ConditionResult {
  const { steer: _s, ...condition } = c;
  const sum = { n: 1, mean: traitMean, median: traitMean, std: 0 } as unknown as ConditionResult['trait'];
  return { condition, rows: 1, trait: sum, coherence: sum, deltaTraitMean: 0, deltaTraitMedian: 0, deltaCoherenceMean: 0, deltaCoherenceMedian: 0,
    traitPaired: null, coherencePaired: null, firstAnswer: '', csv: `${c.id}.csv` };
}

test('combined.csv scaling_mode follows each condition', () => {
  const row = Float32Array.from([1, 0]);
  const rows = combinedRows({ trait: 't', extractRevision: 'main', evalRevision: 'main' }, [
    result(baselineCondition(), 10), result(promptCondition(), 20),
    result(steerCondition('steer', row, 1, 2), 30), result(steerCondition('steer', row, 1, 2, { scaling: { mode: 'unit' } }), 40),
    result(steerCondition('steer', row, 1, 2, { scaling: { mode: 'target-norm', norm: 3 } }), 50),
  ]);
  assert.deepEqual(rows.map((r) => r.scaling_mode), ['', 'raw', 'unit', 'target_norm']);
});

/** An evaluate job on the toy's shape with a real vector file; no worker (the config needs none). */
function job(ws: Workspace, vectorPath: string, extra: Partial<EvaluateJob> = {}): EvaluateJob {
  const model = { name: 'toy-persona', revision: 'main', commit: undefined, backend: null,
    info: { compiler: 'test-compiler', hasChatTemplate: true, config: { numLayers: 4, hiddenSize: 128 } } } as unknown as ModelHandle;
  return {
    ws, model, judge: { id: 'rubric' } as EvaluateJob['judge'], trait: 'sycophantic', evalTrait: { sha256: 'e'.repeat(64) } as EvaluateJob['evalTrait'],
    vectorPath, sampling: { temperature: 1, topP: 1, topK: 0, maxNewTokens: 8, minNewTokens: 0, repetitionPenalty: 1 }, samplerPreset: 'toy',
    seed: 1000, samples: 1, layer: 4, coef: 3, ...extra,
  };
}

test('a raw evaluate run keeps its run id; unit and --vector-key make their own', (t) => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'pl-scaling-'));
  t.after(() => rmSync(tmp, { recursive: true, force: true }));
  const ws = new Workspace(tmp);
  const j = job(ws, FIXTURE);
  // The configuration as it was written before --scaling / --vector-key existed (commit 2a8c53f), key for key.
  const before = { stage: 'evaluate', model: modelConfig(j.model), trait: j.trait, evalSha256: j.evalTrait.sha256, vectorSha256: sha256File(FIXTURE), kind: 'response_avg',
    sampler: j.sampling, samplerPreset: j.samplerPreset, seed: j.seed, samples: j.samples, maxQuestions: null, judge: 'rubric', layer: 4, coef: 3, promptBaseline: false };
  const id = (c: Record<string, unknown>) => RunStore.defaultRunId('evaluate', 'toy-persona-main-sycophantic', c);
  assert.deepEqual(evaluationConfig(j), before);
  assert.equal(id(evaluationConfig(j)), id(before));
  assert.equal(id(evaluationConfig({ ...j, scaling: { mode: 'raw' } })), id(before), 'an explicit --scaling raw is the same run');
  const unit = evaluationConfig({ ...j, scaling: { mode: 'unit' } });
  assert.deepEqual(unit.scaling, { mode: 'unit' });
  assert.notEqual(id(unit), id(before));
  assert.notEqual(id(evaluationConfig({ ...j, scaling: { mode: 'target-norm', norm: 2 } })), id(unit));
  const keyed = evaluationConfig({ ...j, vectorKey: 'response_avg_diff' });
  assert.equal(keyed.vectorKey, 'response_avg_diff');
  assert.notEqual(id(keyed), id(before));
  assert.equal(existsSync(path.join(tmp, 'runs')), false, 'building a config writes nothing');
});

test('unit / target-norm refuse an all-zero row at the layer and a wrong --vector-key lists the tensors, before any run folder', (t) => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'pl-scaling-'));
  t.after(() => rmSync(tmp, { recursive: true, force: true }));
  const ws = new Workspace(tmp);
  const v = readVectorFile(FIXTURE);
  const data = v.data.response_avg!.slice();
  data.fill(0, 2 * v.hidden, 3 * v.hidden); // row 2 all zeros
  const zeroed = path.join(tmp, 'zero-row2.safetensors');
  writeVectorFile(zeroed, { ...v, data: { response_avg: data } });
  for (const scaling of [{ mode: 'unit' } as const, { mode: 'target-norm', norm: 5 } as const]) {
    assert.throws(() => evaluationConfig(job(ws, zeroed, { layer: 2, scaling })), (e: Error) =>
      PipelineError.is(e, 'vector-invalid') && /row 2 \(layer 2\) is all zeros/.test(e.message) && e.message.includes('divide by a zero norm'));
  }
  assert.doesNotThrow(() => evaluationConfig(job(ws, zeroed, { layer: 3, scaling: { mode: 'unit' } })), 'other rows are fine');
  assert.throws(() => evaluationConfig(job(ws, FIXTURE, { layer: 9 })), (e: Error) => PipelineError.is(e, 'vector-invalid') && /layer 9 is outside 0\.\.4/.test(e.message),
    'a layer the vector lacks, raw too');
  assert.throws(() => evaluationConfig(job(ws, FIXTURE, { vectorKey: 'bogus' })), (e: Error) =>
    PipelineError.is(e, 'vector-invalid') && e.message.includes('"bogus"') && e.message.includes('response_avg_diff') && e.message.includes('prompt_last_diff'));
  assert.deepEqual(readdirSync(tmp), ['zero-row2.safetensors'], 'no run folder');
});

test('scaling, projection layer and layer count: one rule for the CLI and the editor', () => {
  assert.deepEqual(steerScalingFor({}), { mode: 'raw' });
  assert.deepEqual(steerScalingFor({ scaling: 'unit' }), { mode: 'unit' });
  assert.deepEqual(steerScalingFor({ scaling: 'target-norm', 'target-norm': 12.5 }), { mode: 'target-norm', norm: 12.5 });
  assert.throws(() => steerScalingFor({ scaling: 'target-norm' }), (e: Error) => e instanceof OptionError && /--target-norm N/.test(e.message));
  assert.throws(() => steerScalingFor({ scaling: 'unit', 'target-norm': 3 }), OptionError);
  assert.equal(projectionLayerDefault(4, true), 4);
  assert.equal(projectionLayerDefault(32, false), 22);
  assert.equal(projectionLayerDefault(28, false), 20);
  assert.equal(checkpointLayerCount(path.join(root, 'models', 'toy-persona', 'revisions', 'main')), 4);
  assert.equal(checkpointLayerCount(path.join(root, 'no-such-folder')), undefined);
});
