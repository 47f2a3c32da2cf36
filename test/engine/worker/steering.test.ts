/**
 * Steering tensor construction: upstream position semantics per phase, scaling modes, summing specs,
 * and vector-file validation (real safetensors files written with the project's writer).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { activeIn, buildStepSteer, resolveSteer, scaleVector } from '../../../src/engine/steering/steer.js';
import { createVectorFileReader } from '../../../src/engine/steering/vector-file.js';
import { writeSafetensors } from '../../../src/engine/weights/safetensors.js';
import { encodeF32 } from '../../../src/engine/protocol.js';

const noFile = () => { throw new Error('no file reads expected'); };

test('positions: upstream ActivationSteerer semantics per prefill/decode phase', () => {
  assert.deepEqual(['prefix', 'last', 'decode'].map((p) => activeIn('all', p as never)), [true, true, true]);
  assert.deepEqual(['prefix', 'last', 'decode'].map((p) => activeIn('prompt', p as never)), [true, true, false]);
  assert.deepEqual(['prefix', 'last', 'decode'].map((p) => activeIn('response', p as never)), [false, true, true]);
});

test('scaling: raw, unit and target-norm', () => {
  const v = Float32Array.from([3, 4]);
  assert.deepEqual([...scaleVector(v, 2, { mode: 'raw' })], [6, 8]);
  assert.deepEqual([...scaleVector(v, 2, { mode: 'unit' })].map((x) => +x.toFixed(6)), [1.2, 1.6]);
  assert.deepEqual([...scaleVector(v, 0.5, { mode: 'target-norm', norm: 10 })].map((x) => +x.toFixed(6)), [3, 4]);
  assert.throws(() => scaleVector(new Float32Array(2), 1, { mode: 'unit' }), /zero vector/);
});

test('step tensors: specs add up per layer, mask covers real tokens of steered rows only', () => {
  const L = 3, H = 2;
  const a = resolveSteer({ vector: { values: [1, 0] }, layer: 2, coef: 1, positions: 'all' }, L, H, noFile);
  const b = resolveSteer({ vector: { values: encodeF32(Float32Array.from([0, 1])) }, layer: 2, coef: 2, positions: 'response' }, L, H, noFile);
  const c = resolveSteer({ vector: { values: [1, 1] }, layer: 0, coef: -1, positions: 'prompt' }, L, H, noFile);
  const rows = [[a, b, c], undefined, [b]];
  const pads = [0, 1, 2];
  const prefix = buildStepSteer(rows, 'prefix', 3, L, H, (r, s) => s >= pads[r])!;
  // row 0: a (layer 2) + c (layer 0); row 1 unsteered; row 2: b is not active at prefix
  assert.deepEqual([...prefix.steer.subarray(0, 8)], [-1, -1, 0, 0, 1, 0, 0, 0]);
  assert.deepEqual([...prefix.steer.subarray(8, 24)], new Array(16).fill(0));
  assert.deepEqual([...prefix.steerMask], [1, 1, 1, 0, 0, 0, 0, 0, 0]);
  const decode = buildStepSteer(rows, 'decode', 1, L, H, () => true)!;
  assert.deepEqual([...decode.steer.subarray(4, 6)], [1, 2]); // a + b at layer 2
  assert.deepEqual([...decode.steer.subarray(16 + 4, 16 + 6)], [0, 2]);
  assert.deepEqual([...decode.steerMask], [1, 0, 1]);
  assert.equal(buildStepSteer([undefined, [b]], 'prefix', 2, L, H, () => true), null);
});

test('spec validation: layer range, hidden size', () => {
  assert.throws(() => resolveSteer({ vector: { values: [1, 0] }, layer: 4, coef: 1 }, 3, 2, noFile), /out of range.*0\.\.3/);
  assert.throws(() => resolveSteer({ vector: { values: [1, 0, 0] }, layer: 1, coef: 1 }, 3, 2, noFile), /hidden size is 2/);
  assert.equal(resolveSteer({ vector: { values: [1, 0] }, layer: 1, coef: 1 }, 3, 2, noFile).positions, 'response');
});

test('vector files: row = layer by default, tensor by kind, clear shape errors', (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pl-vec-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'evil.safetensors');
  const data = Float32Array.from({ length: 8 }, (_, i) => i); // [L+1=4, H=2]
  writeSafetensors(file, {
    response_avg_diff: { dtype: 'F32', shape: [4, 2], data },
    prompt_avg_diff: { dtype: 'F32', shape: [4, 2], data: data.map((x) => -x) },
  });
  const read = createVectorFileReader();
  const s = resolveSteer({ vector: { file, tensor: 'response_avg_diff' }, layer: 2, coef: 1, scaling: { mode: 'raw' } }, 3, 2, read);
  assert.deepEqual([...s.delta], [4, 5]);
  const r = resolveSteer({ vector: { file, tensor: 'prompt_avg_diff', row: 1 }, layer: 2, coef: 2 }, 3, 2, read);
  assert.deepEqual([...r.delta], [-4, -6]);
  assert.throws(() => resolveSteer({ vector: { file }, layer: 1, coef: 1 }, 3, 2, read), /holds 2 tensors.*tensor/);
  assert.throws(() => resolveSteer({ vector: { file, tensor: 'nope' }, layer: 1, coef: 1 }, 3, 2, read), /no tensor 'nope'/);
  assert.throws(() => resolveSteer({ vector: { file, tensor: 'response_avg_diff' }, layer: 1, coef: 1 }, 5, 2, read), /expected \[L\+1=6, H=2\]/);
  assert.throws(() => resolveSteer({ vector: { file: path.join(dir, 'missing.safetensors') }, layer: 1, coef: 1 }, 3, 2, read), /does not exist/);
});
