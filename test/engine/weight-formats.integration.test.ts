// Weight formats (LoadOptions.weightFormat): int8/int4 MatMulNBits graphs on the parity fixtures and a
// random BF16 sharded checkpoint (tied embeddings) against f32, the quantizer's layout against
// onnxruntime's kernel, compile-cache keying and determinism, f16 on CPU, bf16 refused up front,
// and the format through the real worker process. Bounds are ~5× the figures measured by
// scripts/bench/fidelity.ts (src/engine/DESIGN.md, "Weight formats").
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import * as ort from 'onnxruntime-node';
import { InferenceClient } from '../../src/engine/client.js';
import { CompileError } from '../../src/engine/model/errors.js';
import { effectiveWeightMemory, loadModel } from '../../src/engine/model/session.js';
import type { LoadedModel, LoadOptions, WeightFormat } from '../../src/engine/model/types.js';
import { DT, Graph } from '../../src/engine/onnx/graph.js';
import { dequantizeMatrix, quantizeMatrix, type QuantParams } from '../../src/engine/quant/nbits.js';
import { familyConfig, randomWeights, rng, writeCheckpoint, writeRandomCheckpoint } from './helpers/random-checkpoint.js';
import { logSink, parityDir, repoRoot, SKIP_PARITY } from './worker/helpers.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pl-formats-'));
const cacheDir = path.join(tmp, 'graphs');
after(() => fs.rmSync(tmp, { recursive: true, force: true }));
const toyDir = path.join(repoRoot, 'models', 'toy-persona', 'revisions', 'main');

const i64 = (a: number[]) => BigInt64Array.from(a, BigInt);
const load = (dir: string, o: LoadOptions = {}) => loadModel({ kind: 'folder', path: dir }, { cacheDir, intraOpNumThreads: 1, ...o });
const argmax = (a: ArrayLike<number>) => {
  let b = 0;
  for (let i = 1; i < a.length; i++) if (a[i] > a[b]) b = i;
  return b;
};

/** f32 greedy continuation of `prompt` (n tokens), then every position's logits and hidden states in one forward. */
async function greedySequence(m: LoadedModel, prompt: number[], n: number): Promise<number[]> {
  const seq = [...prompt];
  let past = null;
  let input = prompt;
  for (let s = 0; s < n; s++) {
    const out = await m.forward({ batch: 1, seqLen: input.length, inputIds: i64(input), positionIds: i64(input.map((_, i) => seq.length - input.length + i)), attentionMask: new BigInt64Array(seq.length).fill(1n), past, logits: 'last' });
    past?.dispose();
    past = out.present;
    const t = argmax(out.logits!);
    seq.push(t);
    input = [t];
  }
  past?.dispose();
  return seq;
}

async function readAll(m: LoadedModel, seq: number[]) {
  const out = await m.forward({ batch: 1, seqLen: seq.length, inputIds: i64(seq), positionIds: i64(seq.map((_, i) => i)), attentionMask: new BigInt64Array(seq.length).fill(1n), logits: 'all', hiddenStates: true });
  out.present.dispose();
  return { logits: out.logits!, hidden: out.hiddenStates! };
}

interface Fidelity { klMean: number; top1: number; cosMin: number }

/** Teacher-forced comparison of `fmt` against f32 over the f32 greedy sequence. */
async function fidelity(dir: string, format: WeightFormat, o: LoadOptions = {}): Promise<Fidelity & { resident: number; refResident: number }> {
  const ref = await load(dir, { weightFormat: 'f32' });
  const { vocabSize: V, hiddenSize: H } = ref.config;
  const prompt = [1, 5, 9, 13, 17, 21, 25, 29].map((t) => t % V);
  const seq = await greedySequence(ref, prompt, 24);
  const a = await readAll(ref, seq);
  const refResident = ref.info.residentWeightBytes;
  await ref.dispose();
  const m = await load(dir, { ...o, weightFormat: format });
  assert.equal(m.info.weightFormat, format);
  const b = await readAll(m, seq);
  const resident = m.info.residentWeightBytes;
  await m.dispose();
  let kl = 0;
  let agree = 0;
  const from = prompt.length - 1;
  for (let p = from; p < seq.length; p++) {
    const lp = (x: Float32Array) => {
      const r = x.subarray(p * V, (p + 1) * V);
      const mx = Math.max(...r);
      const lse = mx + Math.log(r.reduce((s, v) => s + Math.exp(v - mx), 0));
      return Array.from(r, (v) => v - lse);
    };
    const pa = lp(a.logits);
    const pb = lp(b.logits);
    kl += pa.reduce((s, v, i) => s + Math.exp(v) * (v - pb[i]), 0);
    if (argmax(pa) === argmax(pb)) agree++;
  }
  const n = seq.length - from;
  let cosMin = 1;
  for (let l = 0; l < a.hidden.length; l++) {
    for (let p = 0; p < seq.length; p++) {
      let ab = 0, aa = 0, bb = 0;
      for (let i = p * H; i < (p + 1) * H; i++) {
        ab += a.hidden[l][i] * b.hidden[l][i];
        aa += a.hidden[l][i] ** 2;
        bb += b.hidden[l][i] ** 2;
      }
      cosMin = Math.min(cosMin, ab / Math.sqrt(aa * bb));
    }
  }
  return { klMean: kl / n, top1: agree / n, cosMin, resident, refResident };
}

// Measured (scripts/bench/fidelity.ts): int8 KL ≤ 6.3e-4, top-1 ≥ 92 %, layer cos ≥ 0.9993; int4 KL ≤ 0.084, cos ≥ 0.925.
const BOUNDS: Record<'int8' | 'int4', { kl: number; top1: number; cos: number }> = {
  int8: { kl: 3e-3, top1: 0.85, cos: 0.997 },
  int4: { kl: 0.4, top1: 0.3, cos: 0.8 },
};

// A BF16, 2-shard, tied-embedding random Llama: the LM head is quantized from the same table the embedding
// rows are gathered from (in its BF16 bytes).
const randomRaw = {
  architectures: ['LlamaForCausalLM'], model_type: 'llama', hidden_size: 256, intermediate_size: 704, num_hidden_layers: 3,
  num_attention_heads: 4, num_key_value_heads: 2, vocab_size: 512, max_position_embeddings: 256, rms_norm_eps: 1e-6,
  rope_theta: 10000, tie_word_embeddings: true, hidden_act: 'silu',
};
const randomDir = writeCheckpoint(path.join(tmp, 'random-llama-bf16'), randomRaw, randomWeights(randomRaw, 3), { dtype: 'BF16', shards: 2 });

describe('int8 / int4 against f32', () => {
  const fixtures = SKIP_PARITY ? [] : fs.readdirSync(parityDir).filter((d) => fs.existsSync(path.join(parityDir, d, 'config.json'))).sort();
  const models: [string, string][] = [...fixtures.map((d): [string, string] => [`parity/${d}`, path.join(parityDir, d)]), ['random BF16 sharded tied llama', randomDir]];
  for (const [name, dir] of models) {
    for (const format of ['int8', 'int4'] as const) {
      test(`${name} ${format}: KL, top-1 and hidden-state cosine within bounds; weights smaller than f32`, async () => {
        const r = await fidelity(dir, format);
        const bnd = BOUNDS[format];
        assert.ok(r.klMean > 0, 'a quantized graph that equals f32 exactly did not quantize');
        assert.ok(r.klMean <= bnd.kl, `mean KL ${r.klMean} > ${bnd.kl}`);
        assert.ok(r.top1 >= bnd.top1, `top-1 agreement ${r.top1} < ${bnd.top1}`);
        assert.ok(r.cosMin >= bnd.cos, `hidden-state cosine ${r.cosMin} < ${bnd.cos}`);
        assert.ok(r.resident < r.refResident, `resident ${r.resident} not below f32's ${r.refResident}`);
      });
    }
  }

  for (const family of ['llama', 'qwen2', 'olmo2'] as const) {
    test(`streamed random ${family} (BF16, 3 shards): int8 within bounds`, async () => {
      const { dir, params } = writeRandomCheckpoint(path.join(tmp, `stream-${family}`), familyConfig(family, { hidden: 128, intermediate: 352, layers: 2, heads: 4, kvHeads: 2, vocab: 384 }), { dtype: 'BF16', shards: 3 });
      assert.ok(fs.existsSync(path.join(dir, 'model.safetensors.index.json')));
      const r = await fidelity(dir, 'int8');
      assert.ok(r.klMean > 0 && r.klMean <= BOUNDS.int8.kl, `${family}: KL ${r.klMean}`);
      assert.ok(r.cosMin >= BOUNDS.int8.cos, `${family}: cos ${r.cosMin}`);
      // Weights in format: int8 projections + scales, the BF16 embedding table, f32 norms — under half the f32 bytes.
      assert.ok(r.resident < 0.5 * params * 4, `${family}: resident ${r.resident} for ${params} params`);
    });
  }

  test('int8 is closer to f32 than int4 (the format really changes the weights)', async () => {
    const a = await fidelity(randomDir, 'int8');
    const b = await fidelity(randomDir, 'int4');
    assert.ok(a.klMean * 10 < b.klMean, `int8 KL ${a.klMean} vs int4 ${b.klMean}`);
  });
});

describe('quantizer layout = onnxruntime MatMulNBits', () => {
  const cases: [string, QuantParams, number][] = [
    ['int8 symmetric bs32', { bits: 8, blockSize: 32, symmetric: true, accuracyLevel: 0 }, 96],
    ['int4 symmetric bs32', { bits: 4, blockSize: 32, symmetric: true, accuracyLevel: 0 }, 96],
    ['int8 asymmetric bs16, K not a multiple of the block', { bits: 8, blockSize: 16, symmetric: false, accuracyLevel: 0 }, 72],
    ['int4 asymmetric bs64, K not a multiple of the block', { bits: 4, blockSize: 64, symmetric: false, accuracyLevel: 0 }, 200],
  ];
  for (const [name, p, K] of cases) {
    test(`${name}: onnxruntime's output equals x · dequant(W)ᵀ; every element within half a step (Q4_0: its clamp)`, async () => {
      const N = 24, M = 3;
      const g0 = rng(5);
      const W = Float32Array.from({ length: N * K }, () => g0());
      const X = Float32Array.from({ length: M * K }, () => g0());
      const q = quantizeMatrix(N, K, (n, out) => out.set(W.subarray(n * K, (n + 1) * K)), p);
      const deq = dequantizeMatrix(q, p);
      for (let n = 0; n < N; n++) {
        for (let b = 0; b < q.kBlocks; b++) {
          const step = Math.abs(q.scales[n * q.kBlocks + b]);
          for (let k = b * p.blockSize; k < Math.min(K, (b + 1) * p.blockSize); k++) {
            // Q4_0 codes span −8..7 steps: a value of the opposite sign to the block's extreme may reach 8 steps
            // and is clamped to 7 (llama.cpp does the same).
            const x = W[n * K + k];
            const allowed = p.bits === 4 && p.symmetric && Math.abs(x) > 7.5 * step ? Math.abs(x) - 7 * step : step / 2;
            assert.ok(Math.abs(x - deq[n * K + k]) <= allowed + 1e-6, `element (${n}, ${k}) off by more than allowed`);
          }
        }
      }
      const g = new Graph('nbits');
      g.input('X', DT.FLOAT, [M, K]);
      const inputs = ['X', g.initializer('B', DT.UINT8, [N, q.kBlocks, q.blob], q.data), g.initializer('S', DT.FLOAT, [N * q.kBlocks], new Uint8Array(q.scales.buffer))];
      if (q.zeroPoints) inputs.push(g.initializer('Z', DT.UINT8, [q.zeroPoints.length], q.zeroPoints));
      g.node('MatMulNBits', inputs, { K, N, bits: p.bits, block_size: p.blockSize, accuracy_level: 0 }, { domain: 'com.microsoft', outputs: ['Y'] });
      g.output('Y', DT.FLOAT, [M, N]);
      const s = await ort.InferenceSession.create(g.encode({ irVersion: 10, opsets: { '': 21, 'com.microsoft': 1 } }));
      const y = (await s.run({ X: new ort.Tensor('float32', X, [M, K]) })).Y.data as Float32Array;
      await s.release();
      for (let m = 0; m < M; m++) {
        for (let n = 0; n < N; n++) {
          let r = 0;
          for (let k = 0; k < K; k++) r += X[m * K + k] * deq[n * K + k];
          assert.ok(Math.abs(r - y[m * N + n]) <= 1e-4 * (1 + Math.abs(r)), `Y[${m},${n}] = ${y[m * N + n]}, reference ${r}`);
        }
      }
    });
  }

  test('symmetric int4 puts each block\'s largest-magnitude value exactly on code -8 (llama.cpp Q4_0)', () => {
    const K = 32;
    const w = Float32Array.from({ length: K }, (_, i) => (i === 5 ? -3 : Math.sin(i)));
    const p: QuantParams = { bits: 4, blockSize: 32, symmetric: true, accuracyLevel: 4 };
    const deq = dequantizeMatrix(quantizeMatrix(1, K, (_, out) => out.set(w), p), p);
    assert.equal(deq[5], -3);
  });
});

describe('compile cache and determinism', () => {
  const listing = (dir: string) => fs.readdirSync(dir).sort().map((f) => `${f}:${fs.statSync(path.join(dir, f)).size}:${fs.statSync(path.join(dir, f)).mtimeMs}`);

  test('each format and quantization setting is its own cache entry; quantized bytes live only in the cache', async () => {
    const dir = writeCheckpoint(path.join(tmp, 'keyed'), randomRaw, randomWeights(randomRaw, 4), { dtype: 'BF16' });
    const before = listing(dir);
    const own = path.join(tmp, 'keyed-cache');
    const paths = new Set<string>();
    for (const [format, quantization] of [['f32'], ['int8'], ['int4'], ['int8', { blockSize: 64 }], ['int4', { symmetric: false }]] as [WeightFormat, LoadOptions['quantization']?][]) {
      const m = await load(dir, { cacheDir: own, weightFormat: format, quantization });
      if (quantization) assert.equal(m.info.weightFormat, format);
      paths.add(path.dirname(m.info.onnxPath));
      const quant = path.join(path.dirname(m.info.onnxPath), 'quant.bin');
      assert.equal(fs.existsSync(quant), format === 'int8' || format === 'int4', `${format}: quant.bin presence`);
      await m.dispose();
    }
    assert.equal(paths.size, 5);
    for (const p of paths) assert.ok(p.startsWith(own));
    assert.deepEqual(listing(dir), before, 'the model folder changed');
    const again = await load(dir, { cacheDir: own, weightFormat: 'int4' });
    assert.ok(again.info.cacheHit);
    await again.dispose();
  });

  test('two compiles give identical graph and quantized bytes; two runs give identical logits', async () => {
    for (const format of ['int8', 'int4'] as const) {
      const a = await load(randomDir, { cacheDir: path.join(tmp, `det-a-${format}`), weightFormat: format });
      const b = await load(randomDir, { cacheDir: path.join(tmp, `det-b-${format}`), weightFormat: format });
      assert.ok(!a.info.cacheHit && !b.info.cacheHit);
      for (const f of ['model.onnx', 'quant.bin']) {
        assert.ok(fs.readFileSync(path.join(path.dirname(a.info.onnxPath), f)).equals(fs.readFileSync(path.join(path.dirname(b.info.onnxPath), f))), `${format} ${f} differs`);
      }
      const seqA = await greedySequence(a, [3, 1, 4, 1, 5], 12);
      const seqB = await greedySequence(b, [3, 1, 4, 1, 5], 12);
      assert.deepEqual(seqA, seqB);
      const la = (await readAll(a, seqA)).logits;
      const lb = (await readAll(b, seqA)).logits;
      assert.ok(Buffer.from(la.buffer).equals(Buffer.from(lb.buffer)), `${format}: logits not bitwise equal`);
      await a.dispose();
      await b.dispose();
    }
  });
});

describe('half precision', () => {
  // onnxruntime's CPU provider runs the f16 graph only through inserted float32 casts, so users are refused
  // (next test) and the graph is checked here through the test-only switch.
  test('the f16 graph (test-only on CPU): close to f32, half-precision weights and a float16 KV cache', async () => {
    const r = await fidelity(randomDir, 'f16', { testOnlyCpuHalf: true });
    assert.ok(r.klMean < 1e-4, `f16 KL ${r.klMean}`);
    assert.ok(r.cosMin > 0.9999, `f16 hidden cosine ${r.cosMin}`);
    const m = await load(randomDir, { weightFormat: 'f16', testOnlyCpuHalf: true });
    const f = await load(randomDir, { weightFormat: 'f32' });
    assert.equal(m.info.kvBytesPerToken * 2, f.info.kvBytesPerToken);
    assert.ok(m.info.residentWeightBytes < 0.6 * f.info.residentWeightBytes, `${m.info.residentWeightBytes} vs ${f.info.residentWeightBytes}`);
    // Decode through the float16 cache equals a full recompute of the same tokens (same format).
    const seq = await greedySequence(m, [2, 7, 1, 8], 6);
    const full = await readAll(m, seq);
    const V = m.config.vocabSize;
    assert.equal(argmax(full.logits.subarray((seq.length - 2) * V, (seq.length - 1) * V)), seq[seq.length - 1]);
    await m.dispose();
    await f.dispose();
  });

  test('bf16 and f16 on the CPU provider are refused before any compile, naming the formats that run there', async () => {
    const own = path.join(tmp, 'bf16-cache');
    for (const format of ['bf16', 'f16'] as const) {
      await assert.rejects(load(randomDir, { cacheDir: own, weightFormat: format }),
        (e) => CompileError.is(e, 'unsupported-dtype') && new RegExp(`${format} cannot run on the cpu`).test((e as Error).message) && /use f32, int8, int4/.test((e as Error).message));
    }
    assert.equal(fs.existsSync(own), false, 'something was compiled before the refusal');
    await assert.rejects(load(randomDir, { weightFormat: 'f8' as WeightFormat }), (e) => CompileError.is(e) && /unknown weight format/.test((e as Error).message));
  });

  test('default weight memory follows the checkpoint dtype (f32 format); quantized formats are always prepacked', () => {
    assert.equal(effectiveWeightMemory('f32', undefined, false), 'mapped');
    assert.equal(effectiveWeightMemory('f32', undefined, true), 'prepacked');
    assert.equal(effectiveWeightMemory('f32', 'mapped', true), 'mapped');
    assert.equal(effectiveWeightMemory('int8', 'mapped', false), 'prepacked');
    assert.equal(effectiveWeightMemory('f16', undefined, true), 'mapped');
  });
});

test('worker: weightFormat flows from loadModel to ModelInfo; int8 greedy generation follows f32 on the toy', async (t) => {
  const lines: string[] = [];
  const client = await InferenceClient.start({ log: logSink(lines) });
  t.after(() => client.dispose());
  const own = path.join(tmp, 'worker-cache');
  const f32 = await client.loadModel({ path: toyDir, executionProvider: 'cpu', cacheDir: own });
  const q8 = await client.loadModel({ path: toyDir, executionProvider: 'cpu', cacheDir: own, weightFormat: 'int8' });
  assert.equal(f32.weightFormat, 'f32');
  assert.equal(f32.weightMemory, 'prepacked', 'the toy is a BF16 checkpoint: f32 defaults to prepacked');
  assert.equal(q8.weightFormat, 'int8');
  assert.equal(q8.weightMemory, 'prepacked');
  assert.ok(q8.residentWeightBytes < 0.5 * f32.residentWeightBytes, `int8 resident ${q8.residentWeightBytes} vs f32 ${f32.residentWeightBytes}`);
  const gen = async (modelId: string) => (await client.generate({ modelId, rows: [{ prompt: { ids: [1, 40, 41, 42, 43] } }], sampling: { temperature: 0, maxNewTokens: 8, eosTokenIds: [] } })).rows[0].tokenIds;
  const a = await gen(f32.modelId);
  const b = await gen(q8.modelId);
  assert.deepEqual(b.slice(0, 4), a.slice(0, 4));
  await assert.rejects(client.loadModel({ path: toyDir, executionProvider: 'cpu', cacheDir: own, weightFormat: 'bf16' }), (e) => /use f32, int8, int4/.test((e as Error).message));
});
