/**
 * Parity check of a compiled graph against a reference dump (format: ../shared/fixtures/parity/README.md):
 * `<dir>/config.json + model.safetensors` (the checkpoint) and `<dir>/expected.safetensors`.
 * Used by `persona-lab parity` and by test/engine/parity.integration.test.ts.
 *
 * Conventions checked: logits and all L+1 hidden states at valid (attention_mask = 1) positions
 * (hidden_states[0] everywhere); greedy decoding step by step *with the KV cache*; steering with
 * the reference's `steer_after_layer = k` (0-based block) applied at layer ℓ = k+1 in our
 * convention; zero steering bitwise identical to none; a steered and an unsteered row in one
 * batch equal to separate runs.
 */
import fs from 'node:fs';
import path from 'node:path';
import { loadSafetensors, type Tensor } from '../weights/safetensors.js';
import { loadModel } from './session.js';
import type { ExecutionProvider, GraphVariant, KvCache, LoadedModel, WeightFormat } from './types.js';

export interface ParityOptions {
  variant?: GraphVariant;
  cacheDir?: string;
  /** atol = rtol (default 1e-4, the fixtures' suggested tolerance). */
  tolerance?: number;
  intraOpNumThreads?: number;
  /** Execution provider to check (default cpu); the report names it. */
  executionProvider?: ExecutionProvider;
  /** Weight format to check (default f32); half/quantized formats need a wider tolerance. */
  weightFormat?: WeightFormat;
}

export interface Diff {
  maxAbs: number;
  ok: boolean;
}

export interface ParityReport {
  fixture: string;
  architecture: string;
  variant: GraphVariant;
  executionProvider: ExecutionProvider;
  weightFormat: WeightFormat;
  tolerance: number;
  ok: boolean;
  batch: { logits: Diff; hiddenStates: Diff };
  single: { logits: Diff; hiddenStates: Diff };
  steered: { logits: Diff; hiddenStates: Diff; layer: number };
  greedy: { expected: number[]; got: number[]; match: boolean; stepLogits: Diff };
  steeredGreedy: { expected: number[] | null; got: number[]; match: boolean };
  zeroSteeringBitwise: boolean;
  mixedBatch: { steeredRow: Diff; plainRow: Diff; bitwise: boolean };
  loadMs: number;
}

type Arr = ArrayLike<number>;

class DiffAcc {
  maxAbs = 0;
  ok = true;
  constructor(private readonly tol: number) {}
  add(got: number, want: number): void {
    const d = Math.abs(got - want);
    if (!(d <= this.maxAbs)) this.maxAbs = Number.isNaN(d) ? Infinity : Math.max(this.maxAbs, d);
    if (!(d <= this.tol + this.tol * Math.abs(want))) this.ok = false;
  }
  span(got: Arr, gOff: number, want: Arr, wOff: number, n: number): void {
    for (let i = 0; i < n; i++) this.add(got[gOff + i], want[wOff + i]);
  }
  result(): Diff {
    return { maxAbs: this.maxAbs, ok: this.ok };
  }
}

function f32(t: Tensor | undefined, name: string): Float32Array {
  if (!t || t.dtype !== 'F32') throw new Error(`expected.safetensors: "${name}" missing or not F32`);
  return t.data as Float32Array;
}
function i64(t: Tensor | undefined, name: string): BigInt64Array {
  if (!t || t.dtype !== 'I64') throw new Error(`expected.safetensors: "${name}" missing or not I64`);
  return t.data as BigInt64Array;
}

function argmax(a: Arr, off: number, n: number): number {
  let best = 0;
  for (let i = 1; i < n; i++) if (a[off + i] > a[off + best]) best = i;
  return best;
}

function bitwiseEqual(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  const ua = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const ub = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < ua.length; i++) if (ua[i] !== ub[i]) return false;
  return true;
}

/** Compare [B,S,X] arrays at valid positions (mask [B,S]; all positions if mask is null). */
function compareMasked(acc: DiffAcc, got: Arr, want: Arr, B: number, S: number, X: number, mask: BigInt64Array | null): void {
  for (let b = 0; b < B; b++) for (let s = 0; s < S; s++) {
    if (mask && mask[b * S + s] === 0n) continue;
    acc.span(got, (b * S + s) * X, want, (b * S + s) * X, X);
  }
}

/** Greedy decoding from `ids` with the KV cache, one token per step; optional steering on every step. */
async function greedyWithCache(model: LoadedModel, ids: BigInt64Array, steps: number, steerRow?: Float32Array): Promise<{ tokens: number[]; stepLogits: Float32Array[] }> {
  const V = model.config.vocabSize;
  const S = ids.length;
  const tokens: number[] = [];
  const stepLogits: Float32Array[] = [];
  let past: KvCache | null = null;
  let input = ids;
  let total = 0;
  for (let step = 0; step < steps; step++) {
    const n = input.length;
    const positions = BigInt64Array.from({ length: n }, (_, i) => BigInt(total + i));
    total += n;
    const out: Awaited<ReturnType<LoadedModel['forward']>> = await model.forward({
      batch: 1, seqLen: n, inputIds: input, positionIds: positions,
      attentionMask: new BigInt64Array(total).fill(1n), past,
      steer: steerRow ?? null, logits: 'last',
    });
    past?.dispose();
    past = out.present;
    const logits = out.logits!;
    stepLogits.push(logits);
    const t = argmax(logits, 0, V);
    tokens.push(t);
    input = BigInt64Array.of(BigInt(t));
  }
  past?.dispose();
  void S;
  return { tokens, stepLogits };
}

export async function runParity(fixtureDir: string, opts: ParityOptions = {}): Promise<ParityReport> {
  const tol = opts.tolerance ?? 1e-4;
  const variant = opts.variant ?? 'portable';
  if (!fs.existsSync(fixtureDir)) throw new Error(`fixture folder ${fixtureDir} does not exist`);
  const expectedPath = path.join(fixtureDir, 'expected.safetensors');
  if (!fs.existsSync(expectedPath)) {
    throw new Error(`${fixtureDir} has no expected.safetensors: put the reference outputs there (format: fixtures/parity/README.md) next to config.json + model.safetensors`);
  }
  const exp = loadSafetensors(expectedPath).tensors;
  const model = await loadModel({ kind: 'folder', path: fixtureDir }, {
    variant, cacheDir: opts.cacheDir, intraOpNumThreads: opts.intraOpNumThreads,
    executionProvider: opts.executionProvider, ...(opts.weightFormat ? { weightFormat: opts.weightFormat } : {}),
  });
  try {
    const { numLayers: L, hiddenSize: H, vocabSize: V } = model.config;
    const ids = exp.get('input_ids')!;
    const [B, S] = ids.shape;
    const mask = i64(exp.get('attention_mask'), 'attention_mask');

    // 1. left-padded batch, every position.
    const batchOut = await model.forward({
      batch: B, seqLen: S, inputIds: i64(ids, 'input_ids'), attentionMask: mask,
      positionIds: i64(exp.get('position_ids'), 'position_ids'), logits: 'all', hiddenStates: true,
    });
    batchOut.present.dispose();
    const bl = new DiffAcc(tol);
    compareMasked(bl, batchOut.logits!, f32(exp.get('logits'), 'logits'), B, S, V, mask);
    const bh = new DiffAcc(tol);
    const expHidden = f32(exp.get('hidden_states'), 'hidden_states');
    for (let i = 0; i <= L; i++) {
      const want = expHidden.subarray(i * B * S * H, (i + 1) * B * S * H);
      compareMasked(bh, batchOut.hiddenStates![i], want, B, S, H, i === 0 ? null : mask);
    }

    // 2. single unpadded sequence.
    const sIds = i64(exp.get('single_input_ids'), 'single_input_ids');
    const sPos = i64(exp.get('single_position_ids'), 'single_position_ids');
    const Ss = sIds.length;
    const ones = new BigInt64Array(Ss).fill(1n);
    const single = await model.forward({ batch: 1, seqLen: Ss, inputIds: sIds, positionIds: sPos, attentionMask: ones, logits: 'all', hiddenStates: true });
    single.present.dispose();
    const sl = new DiffAcc(tol);
    compareMasked(sl, single.logits!, f32(exp.get('single_logits'), 'single_logits'), 1, Ss, V, null);
    const sh = new DiffAcc(tol);
    const expSingleHidden = f32(exp.get('single_hidden_states'), 'single_hidden_states');
    for (let i = 0; i <= L; i++) compareMasked(sh, single.hiddenStates![i], expSingleHidden.subarray(i * Ss * H, (i + 1) * Ss * H), 1, Ss, H, null);

    // 3. greedy with the KV cache.
    const expGreedy = Array.from(i64(exp.get('greedy_new_tokens'), 'greedy_new_tokens'), Number);
    const greedy = await greedyWithCache(model, sIds, expGreedy.length);
    const gl = new DiffAcc(tol);
    const expStep = f32(exp.get('greedy_step_logits'), 'greedy_step_logits');
    greedy.stepLogits.forEach((l, i) => gl.span(l, 0, expStep, i * V, V));

    // 4. steering: reference k = 0-based block after which coef·v is added → our layer ℓ = k+1.
    const k = Number(i64(exp.get('steer_layer'), 'steer_layer')[0]);
    const coef = f32(exp.get('steer_coef'), 'steer_coef')[0];
    const v = f32(exp.get('steer_vector'), 'steer_vector');
    const layer = k + 1;
    const steerRow = new Float32Array((L + 1) * H);
    for (let j = 0; j < H; j++) steerRow[layer * H + j] = Math.fround(coef * v[j]);
    const steered = await model.forward({ batch: 1, seqLen: Ss, inputIds: sIds, positionIds: sPos, attentionMask: ones, steer: steerRow, logits: 'all', hiddenStates: true });
    steered.present.dispose();
    const stl = new DiffAcc(tol);
    compareMasked(stl, steered.logits!, f32(exp.get('steered_logits'), 'steered_logits'), 1, Ss, V, null);
    const sth = new DiffAcc(tol);
    const expSteeredHidden = f32(exp.get('steered_hidden_states'), 'steered_hidden_states');
    for (let i = 0; i <= L; i++) compareMasked(sth, steered.hiddenStates![i], expSteeredHidden.subarray(i * Ss * H, (i + 1) * Ss * H), 1, Ss, H, null);
    const expSteeredGreedy = exp.has('steered_greedy_new_tokens') ? Array.from(i64(exp.get('steered_greedy_new_tokens'), 'steered_greedy_new_tokens'), Number) : null;
    const steeredGreedy = await greedyWithCache(model, sIds, expSteeredGreedy?.length ?? 5, steerRow);

    // 5. zero steering (explicit zeros, full mask) and masked-out steering are bitwise the unsteered run.
    const zero = await model.forward({ batch: 1, seqLen: Ss, inputIds: sIds, positionIds: sPos, attentionMask: ones, steer: new Float32Array((L + 1) * H), steerMask: new Float32Array(Ss).fill(1), logits: 'all', hiddenStates: true });
    zero.present.dispose();
    const masked = await model.forward({ batch: 1, seqLen: Ss, inputIds: sIds, positionIds: sPos, attentionMask: ones, steer: steerRow, steerMask: new Float32Array(Ss), logits: 'all', hiddenStates: true });
    masked.present.dispose();
    const zeroBitwise = [zero, masked].every((o) => bitwiseEqual(o.logits!, single.logits!) && o.hiddenStates!.every((h, i) => bitwiseEqual(h, single.hiddenStates![i])));

    // 6. one batch: row 0 steered, row 1 plain; each must equal its separate run.
    const ids2 = new BigInt64Array(2 * Ss);
    ids2.set(sIds, 0);
    ids2.set(sIds, Ss);
    const pos2 = new BigInt64Array(2 * Ss);
    pos2.set(sPos, 0);
    pos2.set(sPos, Ss);
    const steer2 = new Float32Array(2 * (L + 1) * H);
    steer2.set(steerRow, 0);
    const mixed = await model.forward({ batch: 2, seqLen: Ss, inputIds: ids2, positionIds: pos2, attentionMask: new BigInt64Array(2 * Ss).fill(1n), steer: steer2, steerMask: new Float32Array(2 * Ss).fill(1), logits: 'all', hiddenStates: true });
    mixed.present.dispose();
    const rowS = new DiffAcc(tol);
    const rowP = new DiffAcc(tol);
    const n = Ss * V;
    rowS.span(mixed.logits!, 0, steered.logits!, 0, n);
    rowP.span(mixed.logits!, n, single.logits!, 0, n);
    let bitwise = bitwiseEqual(mixed.logits!.subarray(0, n), steered.logits!) && bitwiseEqual(mixed.logits!.subarray(n), single.logits!);
    for (let i = 0; i <= L; i++) {
      const m = mixed.hiddenStates![i];
      rowS.span(m, 0, steered.hiddenStates![i], 0, Ss * H);
      rowP.span(m, Ss * H, single.hiddenStates![i], 0, Ss * H);
      bitwise &&= bitwiseEqual(m.subarray(0, Ss * H), steered.hiddenStates![i]) && bitwiseEqual(m.subarray(Ss * H), single.hiddenStates![i]);
    }

    const report: ParityReport = {
      fixture: path.basename(path.resolve(fixtureDir)),
      architecture: model.config.architecture,
      variant,
      executionProvider: model.executionProvider,
      weightFormat: opts.weightFormat ?? 'f32',
      tolerance: tol,
      ok: false,
      batch: { logits: bl.result(), hiddenStates: bh.result() },
      single: { logits: sl.result(), hiddenStates: sh.result() },
      steered: { logits: stl.result(), hiddenStates: sth.result(), layer },
      greedy: { expected: expGreedy, got: greedy.tokens, match: expGreedy.every((t, i) => t === greedy.tokens[i]), stepLogits: gl.result() },
      steeredGreedy: { expected: expSteeredGreedy, got: steeredGreedy.tokens, match: expSteeredGreedy ? expSteeredGreedy.every((t, i) => t === steeredGreedy.tokens[i]) : true },
      zeroSteeringBitwise: zeroBitwise,
      mixedBatch: { steeredRow: rowS.result(), plainRow: rowP.result(), bitwise },
      loadMs: model.info.loadMs,
    };
    report.ok = [report.batch.logits, report.batch.hiddenStates, report.single.logits, report.single.hiddenStates, report.steered.logits,
      report.steered.hiddenStates, report.greedy.stepLogits, report.mixedBatch.steeredRow, report.mixedBatch.plainRow].every((d) => d.ok)
      && report.greedy.match && report.steeredGreedy.match && report.zeroSteeringBitwise;
    return report;
  } finally {
    await model.dispose();
  }
}
