/**
 * Steering tensors are built once per phase and reused across decode steps (issue 16, steering overhead):
 * buildStepSteer hands back the same tensors while rows, phase, shape and mask stay the same, and builds
 * afresh — with the values a from-scratch build gives — whenever any of them changes; recordApplied reads each
 * tensor pair once and still counts every step's tokens.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildStepSteer, resolveSteer, type ResolvedSteer } from '../../src/engine/steering/steer.js';
import { recordApplied } from '../../src/engine/generation/generate.js';
import type { SteeringApplied } from '../../src/engine/protocol.js';

const noFile = () => { throw new Error('no file reads expected'); };
const L = 4, H = 8;
const spec = (layer: number, coef: number, positions: 'all' | 'prompt' | 'response', seed: number): ResolvedSteer =>
  resolveSteer({ vector: { values: Array.from({ length: H }, (_, i) => Math.sin(seed * 31 + i)) }, layer, coef, positions }, L, H, noFile);
/** A from-scratch build: fresh spec-list arrays (same specs), so nothing can be reused. */
const fresh = (rows: (ResolvedSteer[] | undefined)[], phase: 'prefix' | 'last' | 'decode', S: number, real: (b: number, s: number) => boolean) =>
  buildStepSteer(rows.map((r) => (r ? [...r] : undefined)), phase, S, L, H, real);

test('decode steps of one request get the same tensors, equal to a from-scratch build', () => {
  const rows = [[spec(2, 3, 'response', 1)], undefined, [spec(2, -1, 'all', 2), spec(4, 0.5, 'response', 3)]];
  const first = buildStepSteer(rows, 'decode', 1, L, H, () => true)!;
  const second = buildStepSteer([...rows], 'decode', 1, L, H, () => true)!; // a new outer array, as generate.ts passes each step
  assert.equal(second, first);
  const scratch = fresh(rows, 'decode', 1, () => true)!;
  assert.notEqual(scratch, first);
  assert.deepEqual(first.steer, scratch.steer);
  assert.deepEqual(first.steerMask, scratch.steerMask);
  assert.deepEqual([...first.steerMask], [1, 0, 1]);
});

test('a change of phase, mask, rows or shape builds afresh with the right values', () => {
  const a = [spec(1, 2, 'all', 4)], b = [spec(3, 1, 'prompt', 5)], c = [spec(2, 1, 'response', 6)];
  const rows = [a, b, c];
  const decode = buildStepSteer(rows, 'decode', 1, L, H, () => true)!;
  // phase: 'prompt' drops out at decode, 'response' joins at 'last'
  const last = buildStepSteer(rows, 'last', 1, L, H, () => true)!;
  assert.notEqual(last, decode);
  assert.deepEqual(last.steer, fresh(rows, 'last', 1, () => true)!.steer);
  assert.deepEqual([...decode.steerMask], [1, 0, 1]);
  assert.deepEqual([...last.steerMask], [1, 1, 1]);
  // mask: same rows and phase, another pad pattern
  const pads = [0, 1, 2];
  const p1 = buildStepSteer(rows, 'prefix', 3, L, H, (r, s) => s >= pads[r])!;
  const p2 = buildStepSteer(rows, 'prefix', 3, L, H, (r, s) => s >= pads[r] + 1)!;
  assert.notEqual(p2, p1);
  assert.deepEqual([...p2.steerMask], [0, 1, 1, 0, 0, 1, 0, 0, 0]);
  assert.equal(buildStepSteer(rows, 'prefix', 3, L, H, (r, s) => s >= pads[r] + 1), p2);
  // rows: a finished row leaves the batch
  const shrunk = buildStepSteer([a, c], 'decode', 1, L, H, () => true)!;
  assert.notEqual(shrunk, decode);
  assert.deepEqual(shrunk.steer, fresh([a, c], 'decode', 1, () => true)!.steer);
  // a row swapped for another with equal values is still another row: rebuilt
  const a2 = [{ ...a[0] }];
  assert.notEqual(buildStepSteer([a2, b, c], 'decode', 1, L, H, () => true), buildStepSteer([a, b, c], 'decode', 1, L, H, () => true));
  // shape
  assert.equal(buildStepSteer(rows, 'decode', 1, L, H, () => true)!.steer.length, 3 * (L + 1) * H);
  // no row steering in this phase: nothing to feed
  assert.equal(buildStepSteer([b, undefined], 'decode', 1, L, H, () => true), null);
});

test('interleaved requests keep their own tensors', () => {
  const r1 = [[spec(1, 1, 'response', 7)], [spec(1, 2, 'response', 8)]];
  const r2 = [[spec(3, -2, 'response', 9)]];
  const x1 = buildStepSteer(r1, 'decode', 1, L, H, () => true)!;
  const x2 = buildStepSteer(r2, 'decode', 1, L, H, () => true)!;
  assert.equal(buildStepSteer(r1, 'decode', 1, L, H, () => true), x1);
  assert.equal(buildStepSteer(r2, 'decode', 1, L, H, () => true), x2);
  assert.deepEqual(x2.steer, fresh(r2, 'decode', 1, () => true)!.steer);
});

/** recordApplied as it was before the per-pair readings: one pass over the tensors per call. */
function referenceApplied(states: { applied?: Map<number, SteeringApplied> }[], active: number[], st: { steer: Float32Array; steerMask: Float32Array }, S: number): void {
  for (const [b, i] of active.entries()) {
    const applied = states[i].applied;
    if (!applied) continue;
    let tokens = 0;
    for (let s = 0; s < S; s++) if (st.steerMask[b * S + s] !== 0) tokens++;
    if (tokens === 0) continue;
    for (const [layer, rec] of applied) {
      let ss = 0;
      for (let k = 0; k < H; k++) ss += st.steer[(b * (L + 1) + layer) * H + k] ** 2;
      if (!(ss > 0)) continue;
      rec.norm = Math.max(rec.norm, Math.sqrt(ss));
      rec.tokens += tokens;
    }
  }
}

test('recordApplied counts every step and reports the norms a per-step pass gives', () => {
  const rows = [[spec(2, 3, 'all', 10), spec(4, 1, 'response', 11)], undefined, [spec(2, 0, 'response', 12)]];
  const states = () => rows.map((r) => ({ applied: r ? new Map([...new Set(r.map((s) => s.layer))].map((l) => [l, { layer: l, norm: 0, tokens: 0 }])) : undefined }));
  const ours = states(), ref = states();
  const pads = [1, 0, 0];
  const steps: [('prefix' | 'last' | 'decode'), number, (b: number, s: number) => boolean][] = [
    ['prefix', 4, (b, s) => s >= pads[b]], ['last', 1, () => true], ['decode', 1, () => true], ['decode', 1, () => true], ['decode', 1, () => true],
  ];
  for (const [phase, S, real] of steps) {
    const st = buildStepSteer(rows, phase, S, L, H, real)!;
    recordApplied(ours, [0, 1, 2], st, S, L, H);
    referenceApplied(ref, [0, 1, 2], st, S);
  }
  assert.deepEqual(ours.map((s) => s.applied && [...s.applied.values()]), ref.map((s) => s.applied && [...s.applied.values()]));
  // row 0, layer 2 ('all'): 3 prefix tokens + last + 3 decode steps; layer 4 ('response'): last + 3 decode steps
  assert.deepEqual(ours[0].applied!.get(2)!.tokens, 7);
  assert.deepEqual(ours[0].applied!.get(4)!.tokens, 4);
  // row 2's only spec has coef 0: nothing was added, so nothing is counted
  assert.deepEqual(ours[2].applied!.get(2), { layer: 2, norm: 0, tokens: 0 });
  assert.ok(Math.abs(ours[0].applied!.get(4)!.norm - Math.hypot(...rows[0]![1].delta)) < 1e-5);
});
