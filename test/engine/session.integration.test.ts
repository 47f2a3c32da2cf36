// LoadedModel behaviour on tiny random checkpoints: KV cache, left-padded batched decoding,
// selectRows, logits modes, sharding, BF16/F16 storage, compile cache, portable vs fused.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { loadModel } from '../../src/engine/model/session.js';
import type { GraphVariant, KvCache, LoadedModel } from '../../src/engine/model/types.js';
import { bf16ToFloat32, f16ToFloat32, float32ToBf16, float32ToF16 } from '../../src/engine/weights/safetensors.js';
import { CASES } from './helpers/cases.js';
import { randomWeights, writeCheckpoint, type Weights } from './helpers/random-checkpoint.js';
import { bitwiseEqual, compare, runSingle } from './helpers/run.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pl-session-'));
const cacheDir = path.join(tmp, 'graph-cache');
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const llama = CASES['llama head_dim≠H/heads, GQA, attention_bias, tied, llama3 rope'];
const mistral = CASES['mistral sliding window 3'];
const gpt2 = CASES['gpt2 transformer. prefix, untied, scale_attn_by_inverse_layer_idx'];
const V = 96;

function ckpt(name: string, raw: Record<string, any>, opts: Parameters<typeof writeCheckpoint>[3] = {}, w: Weights = randomWeights(raw, 11)): string {
  return writeCheckpoint(path.join(tmp, name), raw, w, opts);
}
const load = (dir: string, variant: GraphVariant = 'portable') => loadModel({ kind: 'folder', path: dir }, { variant, cacheDir, intraOpNumThreads: 1 });
const i64 = (a: number[]) => BigInt64Array.from(a, BigInt);

/** Row-by-row reference: each prompt alone, then `steps` greedy tokens with the cache. */
async function separateGreedy(model: LoadedModel, prompt: number[], steps: number): Promise<{ tokens: number[]; logits: Float32Array[] }> {
  const tokens: number[] = [];
  const logits: Float32Array[] = [];
  let past: KvCache | null = null;
  let input = prompt;
  let total = 0;
  for (let s = 0; s < steps; s++) {
    const n = input.length;
    const out: Awaited<ReturnType<LoadedModel['forward']>> = await model.forward({ batch: 1, seqLen: n, inputIds: i64(input), positionIds: i64(input.map((_, i) => total + i)), attentionMask: new BigInt64Array(total + n).fill(1n), past, logits: 'last' });
    total += n;
    past?.dispose();
    past = out.present;
    logits.push(out.logits!);
    const t = argmax(out.logits!, 0);
    tokens.push(t);
    input = [t];
  }
  past?.dispose();
  return { tokens, logits };
}
function argmax(a: Float32Array, off: number): number {
  let b = 0;
  for (let i = 1; i < V; i++) if (a[off + i] > a[off + b]) b = i;
  return b;
}

describe('LoadedModel', () => {
  for (const variant of ['portable', 'fused'] as GraphVariant[]) {
    for (const [name, raw] of [['llama', llama], ['mistral (sliding 3)', mistral], ['gpt2', gpt2]] as const) {
      test(`${name} ${variant}: KV-cache decode equals full recompute; batched left-padded decode equals separate runs`, async () => {
        const model = await load(ckpt(`kv-${name.split(' ')[0]}`, raw), variant);
        try {
          // Full recompute of a 9-token sequence vs prefill 5 + 4 cached steps.
          const seq = [4, 8, 15, 16, 23, 42, 7, 1, 30];
          const full = await runSingle(model, seq);
          let past: KvCache | null = null;
          for (let t = 5; t <= seq.length; t++) {
            const input = past ? [seq[t - 1]] : seq.slice(0, 5);
            const start = past ? t - 1 : 0;
            const out: Awaited<ReturnType<LoadedModel['forward']>> = await model.forward({ batch: 1, seqLen: input.length, inputIds: i64(input), positionIds: i64(input.map((_, i) => start + i)), attentionMask: new BigInt64Array(t).fill(1n), past, logits: 'last' });
            past?.dispose();
            past = out.present;
            assert.equal(past.pastLength, t);
            const c = compare(out.logits!, full.logits!.subarray((t - 1) * V, t * V), 1e-5);
            assert.ok(c.ok, `step ${t}: cached vs full max diff ${c.maxAbs}`);
          }
          past?.dispose();

          // Two prompts of different length, left-padded, decoded together with growing masks.
          const prompts = [[3, 9, 27, 81, 50, 2], [11, 22, 33]];
          const S = 6;
          const pads = prompts.map((p) => S - p.length);
          const ids: number[] = [];
          const pos: number[] = [];
          const mask: number[] = [];
          prompts.forEach((p, r) => {
            for (let i = 0; i < S; i++) {
              const real = i >= pads[r];
              ids.push(real ? p[i - pads[r]] : 0);
              mask.push(real ? 1 : 0);
              pos.push(real ? i - pads[r] : 1); // HF: cumsum(mask)-1, pads → 1
            }
          });
          const steps = 4;
          const sep = await Promise.all(prompts.map((p) => separateGreedy(model, p, steps)));
          let bpast: KvCache | null = null;
          let input = ids;
          let positions = pos;
          const fullMask = [...mask];
          for (let s = 0; s < steps; s++) {
            const n = input.length / 2;
            const attn: number[] = [];
            for (let r = 0; r < 2; r++) attn.push(...fullMask.slice(r * (fullMask.length / 2), (r + 1) * (fullMask.length / 2)));
            const out: Awaited<ReturnType<LoadedModel['forward']>> = await model.forward({ batch: 2, seqLen: n, inputIds: i64(input), positionIds: i64(positions), attentionMask: i64(attn), past: bpast, logits: 'last' });
            bpast?.dispose();
            bpast = out.present;
            const next: number[] = [];
            for (let r = 0; r < 2; r++) {
              const c = compare(out.logits!.subarray(r * V, (r + 1) * V), sep[r].logits[s], 1e-5);
              assert.ok(c.ok, `row ${r} step ${s}: batched vs separate max diff ${c.maxAbs}`);
              next.push(argmax(out.logits!, r * V));
            }
            assert.deepEqual(next, sep.map((x) => x.tokens[s]));
            // Append one real token per row: masks grow by a 1, positions continue per row.
            const rowLen = fullMask.length / 2;
            const grown: number[] = [];
            for (let r = 0; r < 2; r++) grown.push(...fullMask.slice(r * rowLen, (r + 1) * rowLen), 1);
            fullMask.splice(0, fullMask.length, ...grown);
            positions = prompts.map((p) => p.length + s);
            input = next;
          }
          // selectRows: continue row 1 alone; it must match the separate run's next step.
          const only1 = bpast!.selectRows([1]);
          assert.equal(only1.batch, 1);
          const rowLen = fullMask.length / 2;
          const sep1 = await separateGreedy(model, prompts[1], steps + 1);
          const out = await model.forward({ batch: 1, seqLen: 1, inputIds: i64([input[1]]), positionIds: i64([positions[1]]), attentionMask: i64(fullMask.slice(rowLen)), past: only1, logits: 'last' });
          assert.ok(compare(out.logits!, sep1.logits[steps], 1e-5).ok, 'selectRows([1]) continues row 1');
          out.present.dispose();
          only1.dispose();
          bpast?.dispose();
        } finally {
          await model.dispose();
        }
      });
    }
  }

  test('KV cache: a past may be continued twice (branching) without either branch overwriting the other; linear decode equals recompute; a disposed past is refused', async () => {
    const model = await load(ckpt('kv-stores', llama));
    try {
      const prompt = [1, 2, 3, 4, 5];
      const step = (past: KvCache, tok: number, t: number) => model.forward({ batch: 1, seqLen: 1, inputIds: i64([tok]), positionIds: i64([t]), attentionMask: new BigInt64Array(t + 1).fill(1n), past, logits: 'last' });
      const pre = await model.forward({ batch: 1, seqLen: 5, inputIds: i64(prompt), positionIds: i64([0, 1, 2, 3, 4]), attentionMask: new BigInt64Array(5).fill(1n), logits: 'last' });
      // Two branches from the same (live) past: each must equal its own recompute-from-scratch. Branch a
      // advances two steps first (a cache that recycled its predecessor's buffers would overwrite the past here).
      const a = await step(pre.present, 7, 5);
      const a2 = await step(a.present, 8, 6);
      const b = await step(pre.present, 9, 5);
      const b2 = await step(b.present, 8, 6);
      for (const [branch, tok, got] of [['a', 7, a2], ['b', 9, b2]] as const) {
        const seq = [...prompt, tok, 8];
        const full = await model.forward({ batch: 1, seqLen: 7, inputIds: i64(seq), positionIds: i64(seq.map((_, i) => i)), attentionMask: new BigInt64Array(7).fill(1n), logits: 'last' });
        assert.ok(compare(got.logits!, full.logits!, 1e-5).ok, `branch ${branch} was overwritten`);
        full.present.dispose();
      }
      // Linear decode disposing each past (the generation loop): results stay exact.
      pre.present.dispose();
      a.present.dispose();
      let past = a2.present;
      let t = 7;
      for (const tok of [3, 1, 4, 1, 5]) {
        const out = await step(past, tok, t++);
        past.dispose();
        past = out.present;
      }
      const seq = [...prompt, 7, 8, 3, 1, 4, 1, 5];
      const next = await step(past, 2, t);
      const full = await model.forward({ batch: 1, seqLen: seq.length + 1, inputIds: i64([...seq, 2]), positionIds: i64([...seq, 2].map((_, i) => i)), attentionMask: new BigInt64Array(seq.length + 1).fill(1n), logits: 'last' });
      assert.ok(compare(next.logits!, full.logits!, 1e-5).ok, 'linear decode equals recompute');
      past.dispose();
      await assert.rejects(step(past, 1, t), /disposed/);
      assert.throws(() => past.selectRows([0]), /disposed/);
      for (const o of [b, b2, next, full]) o.present.dispose();
    } finally {
      await model.dispose();
    }
  });

  test('logits modes: last equals the last row of all; none returns no logits; hidden states only on request', async () => {
    const model = await load(ckpt('modes', llama));
    try {
      const seq = [1, 2, 3, 4];
      const base = { batch: 1, seqLen: 4, inputIds: i64(seq), positionIds: i64([0, 1, 2, 3]), attentionMask: new BigInt64Array(4).fill(1n) };
      const all = await model.forward({ ...base, logits: 'all' });
      const last = await model.forward({ ...base, logits: 'last' });
      const none = await model.forward({ ...base, logits: 'none' });
      assert.equal(all.logits!.length, 4 * V);
      assert.equal(last.logits!.length, V);
      assert.ok(compare(last.logits!, all.logits!.subarray(3 * V), 1e-6).ok);
      assert.equal(none.logits, undefined);
      const again = await model.forward({ ...base, logits: 'all' });
      assert.ok(bitwiseEqual(again.logits!, all.logits!), 'deterministic: same inputs, bit-identical outputs');
      again.present.dispose();
      // RoPE models may exceed max_position_embeddings in the portable graph (as HF allows); only GPT-2/fused refuse.
      const beyond = await model.forward({ ...base, positionIds: i64([0, 1, 2, 64]), logits: 'last' });
      assert.equal(beyond.logits!.length, V);
      beyond.present.dispose();
      assert.equal(all.hiddenStates, undefined);
      for (const o of [all, last, none]) o.present.dispose();
      await assert.rejects(model.forward({ ...base, inputIds: i64([1, 2]), logits: 'last' }), /inputIds/);
    } finally {
      await model.dispose();
    }
  });

  test('positions beyond a learned position table are refused with a clear error', async () => {
    const model = await load(ckpt('gpt2-positions', gpt2));
    try {
      await assert.rejects(model.forward({ batch: 1, seqLen: 2, inputIds: i64([1, 2]), positionIds: i64([31, 32]), attentionMask: i64([1, 1]), logits: 'last' }), /position id 32 is outside 0\.\.31/);
    } finally {
      await model.dispose();
    }
  });

  test('sharded checkpoint equals unsharded (bitwise)', async () => {
    const w = randomWeights(llama, 5);
    const a = await load(ckpt('unsharded', llama, {}, w));
    const b = await load(ckpt('sharded', llama, { shards: 3 }, w));
    try {
      assert.ok(fs.existsSync(path.join(tmp, 'sharded', 'model.safetensors.index.json')));
      const ids = [9, 8, 7, 6, 5];
      const [x, y] = [await runSingle(a, ids), await runSingle(b, ids)];
      assert.ok(bitwiseEqual(x.logits!, y.logits!));
      x.hiddenStates!.forEach((h, i) => assert.ok(bitwiseEqual(h, y.hiddenStates![i])));
    } finally {
      await a.dispose();
      await b.dispose();
    }
  });

  for (const [dtype, round] of [['BF16', (v: number) => bf16ToFloat32(float32ToBf16(v))], ['F16', (v: number) => f16ToFloat32(float32ToF16(v))]] as const) {
    test(`${dtype} checkpoint equals the f32 graph on ${dtype}-rounded weights`, async () => {
      const w = randomWeights(llama, 6);
      const rounded: Weights = new Map([...w].map(([n, t]) => [n, { shape: t.shape, data: t.data.map(round) }]));
      const half = await load(ckpt(`half-${dtype}`, llama, { dtype }, w));
      const f32 = await load(ckpt(`rounded-${dtype}`, llama, {}, rounded));
      const orig = await load(ckpt(`orig-${dtype}`, llama, {}, w));
      try {
        const ids = [2, 4, 6, 8, 10, 12];
        const [h, r, o] = [await runSingle(half, ids), await runSingle(f32, ids), await runSingle(orig, ids)];
        const c = compare(h.logits!, r.logits!, 1e-6);
        assert.ok(c.ok, `${dtype} vs rounded f32: ${c.maxAbs}`);
        // ...and the rounding itself is visible, so the check above is not vacuous.
        assert.ok(compare(h.logits!, o.logits!, 1e-6).maxAbs > 1e-5);
      } finally {
        await Promise.all([half.dispose(), f32.dispose(), orig.dispose()]);
      }
    });
  }

  test('portable and fused agree; second load is a cache hit with hard-linked weights', async () => {
    const dir = ckpt('cache-test-model', llama);
    const p = await load(dir, 'portable');
    const f = await load(dir, 'fused');
    const p2 = await load(dir, 'portable');
    try {
      assert.equal(p.info.cacheHit, false);
      assert.equal(p2.info.cacheHit, true);
      assert.equal(p2.info.onnxPath, p.info.onnxPath);
      assert.notEqual(f.info.onnxPath, p.info.onnxPath);
      const link = fs.readdirSync(path.join(path.dirname(p.info.onnxPath), 'weights'))[0];
      assert.equal(fs.statSync(path.join(path.dirname(p.info.onnxPath), 'weights', link)).ino, fs.statSync(path.join(dir, 'model.safetensors')).ino);
      assert.ok(fs.statSync(p.info.onnxPath).size < fs.statSync(path.join(dir, 'model.safetensors')).size, 'graph holds no weight copy');
      const ids = [3, 1, 4, 1, 5, 9, 2, 6];
      const [a, b] = [await runSingle(p, ids), await runSingle(f, ids)];
      assert.ok(compare(a.logits!, b.logits!, 1e-5).ok);
      a.hiddenStates!.forEach((h, i) => assert.ok(compare(h, b.hiddenStates![i], 1e-5).ok));
      // Touching the weights (new mtime) invalidates the entry.
      const t = new Date(Date.now() + 5000);
      fs.utimesSync(path.join(dir, 'model.safetensors'), t, t);
      const p3 = await load(dir, 'portable');
      assert.equal(p3.info.cacheHit, false);
      await p3.dispose();
      // Entries of modified or deleted checkpoints are pruned on the next miss (their links would pin the bytes).
      const entriesFor = (d: string) => fs.readdirSync(cacheDir).filter((e) => {
        const meta = path.join(cacheDir, e, 'meta.json');
        return fs.existsSync(meta) && JSON.parse(fs.readFileSync(meta, 'utf8')).modelDir === d;
      });
      assert.equal(entriesFor(dir).length, 1, 'the stale portable/fused entries were pruned when the touched file was recompiled');
      fs.rmSync(dir, { recursive: true });
      const otherDir = ckpt('cache-other', llama);
      const other = await load(otherDir, 'portable');
      await other.dispose();
      assert.equal(entriesFor(dir).length, 0, 'entries of a deleted checkpoint are pruned');
      assert.equal(entriesFor(otherDir).length, 1);
    } finally {
      await Promise.all([p.dispose(), f.dispose(), p2.dispose()]);
    }
  });
});
