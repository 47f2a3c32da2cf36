// The session cache (model/ort-cache.ts): onnxruntime's optimised graph with prepacked / widened weights saved in
// the compile-cache entry. A warm load from it must compute exactly what a session built from the compiled graph
// computes, for every CPU format, and a damaged saved copy must be rebuilt, not trusted.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { loadModel } from '../../src/engine/model/session.js';
import type { KvCache, LoadedModel, LoadOptions, WeightFormat } from '../../src/engine/model/types.js';
import { familyConfig, writeRandomCheckpoint } from './helpers/random-checkpoint.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pl-session-cache-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const dims = { hidden: 128, intermediate: 352, layers: 3, heads: 4, kvHeads: 2, vocab: 512 };
const bf16 = writeRandomCheckpoint(path.join(tmp, 'bf16'), familyConfig('llama', dims), { seed: 5, dtype: 'BF16', shards: 2 }).dir;
const f32 = writeRandomCheckpoint(path.join(tmp, 'f32'), familyConfig('llama', dims), { seed: 5, dtype: 'F32', shards: 1 }).dir;
const i64 = (a: number[]) => BigInt64Array.from(a, BigInt);

/** Logits of a 2-row left-padded prefill and 3 greedy decode steps, concatenated. */
async function trace(m: LoadedModel): Promise<Float32Array> {
  const V = m.config.vocabSize;
  const rows = [[3, 17, 99, 250, 7, 41], [0, 0, 12, 300, 5, 6]];
  const mask = rows.map((r, i) => r.map((_, j) => (i === 1 && j < 2 ? 0 : 1)));
  const pos = mask.map((r) => { let c = -1; return r.map((x) => (x ? ++c : 1)); });
  const out: number[] = [];
  let o = await m.forward({ batch: 2, seqLen: 6, inputIds: i64(rows.flat()), positionIds: i64(pos.flat()), attentionMask: i64(mask.flat()), logits: 'last' });
  let past: KvCache = o.present;
  let am = mask.map((r) => [...r]);
  let next = pos.map((r) => r[r.length - 1] + 1);
  for (let s = 0; s < 3; s++) {
    out.push(...o.logits!);
    const ids = [0, 1].map((b) => { let k = 0; for (let i = 1; i < V; i++) if (o.logits![b * V + i] > o.logits![b * V + k]) k = i; return k; });
    am = am.map((r) => [...r, 1]);
    o = await m.forward({ batch: 2, seqLen: 1, inputIds: i64(ids), positionIds: i64(next), attentionMask: i64(am.flat()), past, logits: 'last' });
    next = next.map((p) => p + 1);
    past.dispose();
    past = o.present;
  }
  out.push(...o.logits!);
  past.dispose();
  return Float32Array.from(out);
}

async function run(dir: string, cacheDir: string, opts: LoadOptions): Promise<{ logits: Float32Array; state: string; entry: string }> {
  const m = await loadModel({ kind: 'folder', path: dir }, { cacheDir, intraOpNumThreads: 1, ...opts });
  try {
    return { logits: await trace(m), state: m.info.loadStages.sessionCache, entry: path.dirname(m.info.onnxPath) };
  } finally {
    await m.dispose();
  }
}

const bits = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
const savedDirs = (entry: string) => fs.readdirSync(entry).filter((n) => n.startsWith('ort-'));

describe('session cache', () => {
  test('f32 on a BF16 checkpoint: written once, then hit; bit-identical to a session built from the compiled graph', async () => {
    const cacheDir = path.join(tmp, 'cache-f32');
    const plain = await run(bf16, cacheDir, { sessionCache: false });
    assert.equal(plain.state, 'off');
    assert.deepEqual(savedDirs(plain.entry), [], 'sessionCache: false writes nothing');
    const first = await run(bf16, cacheDir, {});
    assert.equal(first.state, 'written');
    const saved = savedDirs(first.entry);
    assert.equal(saved.length, 1, `one saved session in the entry, got ${saved.join(', ')}`);
    assert.ok(fs.existsSync(path.join(first.entry, saved[0], 'model.onnx')) && fs.existsSync(path.join(first.entry, saved[0], 'weights.bin')));
    const second = await run(bf16, cacheDir, {});
    assert.equal(second.state, 'hit');
    assert.ok(bits(first.logits).equals(bits(plain.logits)), 'first (written) load equals the plain session bitwise');
    assert.ok(bits(second.logits).equals(bits(plain.logits)), 'warm (hit) load equals the plain session bitwise');
    assert.deepEqual(fs.readdirSync(bf16).filter((n) => n.startsWith('.persona-lab')), [], 'nothing written beside the weights');
  });

  // onnxruntime 1.30 saves MatMulNBits' prepacked weights but restores them wrongly (measured here: int8 logits NaN,
  // int4 off by up to 4.2), so quantized formats never use the session cache; this test fails if that rule is lost.
  for (const format of ['int8', 'int4'] as WeightFormat[]) {
    test(`${format}: no session cache (onnxruntime restores prepacked MatMulNBits wrongly)`, async () => {
      const r = await run(bf16, path.join(tmp, `cache-${format}`), { weightFormat: format });
      assert.equal(r.state, 'off');
      assert.deepEqual(savedDirs(r.entry), []);
    });
  }

  test('a damaged saved session is rebuilt, not trusted; half-written temp folders of dead processes are removed', async () => {
    const cacheDir = path.join(tmp, 'cache-damaged');
    const ref = await run(bf16, cacheDir, { sessionCache: false });
    const first = await run(bf16, cacheDir, {});
    assert.equal(first.state, 'written');
    const [saved] = savedDirs(first.entry);
    const onnx = path.join(first.entry, saved, 'model.onnx');
    fs.truncateSync(onnx, Math.floor(fs.statSync(onnx).size / 2));
    // A temp folder left by a killed writer (pid 2^22 + 1 is above Linux's pid_max default: never alive).
    const stale = path.join(first.entry, `${saved}.tmp-${2 ** 22 + 1}-abc`);
    fs.mkdirSync(stale);
    const again = await run(bf16, cacheDir, {});
    assert.equal(again.state, 'written', 'the truncated copy was replaced');
    assert.ok(bits(again.logits).equals(bits(ref.logits)));
    assert.equal(fs.existsSync(stale), false, 'stale temp folder pruned');
    assert.deepEqual(savedDirs(first.entry), [saved]);
  });

  test('an F32 checkpoint served mapped (its default) does not use the session cache', async () => {
    const r = await run(f32, path.join(tmp, 'cache-f32ckpt'), {});
    assert.equal(r.state, 'off');
    assert.deepEqual(savedDirs(r.entry), []);
  });
});
