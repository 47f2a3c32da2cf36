/**
 * Generation, steering and capture through the real worker process on the parity fixtures
 * (../shared/fixtures/parity: tiny random-weight HF checkpoints + reference outputs from an HF re-implementation).
 * Layer convention: the fixtures steer after 0-based block k, which is hidden-state index / our layer k+1.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { InferenceClient, WorkerError, decodeF32, workerReason } from '../../../src/engine/client.js';
import type { GenerateRow, SamplingParams, SteerPositions } from '../../../src/engine/protocol.js';
import { SKIP_PARITY, fixture, type Fixture } from './helpers.js';

const ARCHS = ['llama_gqa', 'qwen2'];
let client: InferenceClient;
const ids: Record<string, string> = {};
const fx: Record<string, Fixture> = {};

before(async () => {
  if (SKIP_PARITY) return;
  client = await InferenceClient.start({ threads: 1 });
  for (const a of ARCHS) {
    fx[a] = fixture(a);
    ids[a] = (await client.loadModel({ path: fx[a].dir, executionProvider: 'cpu' })).modelId;
  }
});
after(async () => { await client?.dispose(); });

const H = 64, L = 3;
const close = (a: ArrayLike<number>, b: ArrayLike<number>, tol = 1e-4) => {
  assert.equal(a.length, b.length);
  for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i] - b[i]) <= tol * (1 + Math.abs(b[i])), `index ${i}: ${a[i]} vs ${b[i]}`);
};
/** The fixture's steering spec in our convention (layer = steer_after_layer + 1, raw coef·v). */
const fixtureSteer = (f: Fixture, positions: SteerPositions) => ({
  vector: { values: [...f.f32('steer_vector')] }, layer: f.ids('steer_layer')[0] + 1, coef: f.f32('steer_coef')[0], positions, scaling: { mode: 'raw' as const },
});

for (const arch of ARCHS) {
  test(`${arch}: greedy and steered greedy tokens equal the HF reference`, { skip: SKIP_PARITY }, async () => {
    const f = fx[arch];
    const prompt = { ids: f.ids('single_input_ids') };
    const res = await client.generate({
      modelId: ids[arch], sampling: { temperature: 0, maxNewTokens: 5 },
      rows: [{ prompt }, { prompt, steer: [fixtureSteer(f, 'all')] }],
    });
    assert.deepEqual(res.rows[0].tokenIds, f.ids('greedy_new_tokens'));
    assert.equal(res.rows[0].finishReason, 'length');
    assert.deepEqual(res.rows[1].tokenIds, f.ids('steered_greedy_new_tokens'));
    assert.deepEqual(res.rows[1].promptTokenIds, prompt.ids);
  });

  test(`${arch}: token logprobs are log-softmax of the reference step logits, top-k sorted, sampler-independent`, { skip: SKIP_PARITY }, async () => {
    const f = fx[arch];
    const prompt = { ids: f.ids('single_input_ids') };
    const res = await client.generate({ modelId: ids[arch], sampling: { temperature: 0, maxNewTokens: 5 }, logprobs: 20, rows: [{ prompt }] });
    const steps = f.f32('greedy_step_logits'); // [5, V]
    const V = steps.length / 5;
    const lp = res.rows[0].logprobs!;
    assert.equal(lp.length, 5);
    for (let t = 0; t < 5; t++) {
      const row = Array.from(steps.subarray(t * V, (t + 1) * V));
      const max = Math.max(...row);
      const logZ = max + Math.log(row.reduce((a, x) => a + Math.exp(x - max), 0));
      const ref = row.map((x) => x - logZ);
      assert.equal(lp[t].tokenId, res.rows[0].tokenIds[t]);
      assert.ok(Math.abs(lp[t].logprob - ref[lp[t].tokenId]) < 1e-4, `step ${t}: ${lp[t].logprob} vs ${ref[lp[t].tokenId]}`);
      const order = ref.map((x, i) => [x, i]).sort((a, b) => b[0] - a[0] || a[1] - b[1]).slice(0, 20).map(([, i]) => i);
      assert.deepEqual(lp[t].top.map((x) => x.tokenId), order, `step ${t} top-20 order`);
      assert.equal(lp[t].top[0].tokenId, lp[t].tokenId, 'greedy picks the most likely token');
    }
    // Raw logprobs: the same prompt sampled hot returns the same first-step distribution.
    const hot = await client.generate({ modelId: ids[arch], sampling: { temperature: 1.7, topK: 3, maxNewTokens: 1, seed: 5 }, logprobs: 3, rows: [{ prompt }] });
    assert.deepEqual(hot.rows[0].logprobs![0].top, lp[0].top.slice(0, 3));
    await assert.rejects(client.generate({ modelId: ids[arch], sampling: { maxNewTokens: 1 }, logprobs: 21, rows: [{ prompt }] }), /logprobs/);
  });

  test(`${arch}: captured prompt/response means equal means of the reference hidden states`, { skip: SKIP_PARITY }, async () => {
    const f = fx[arch];
    const single = f.f32('single_hidden_states'); // [L+1, 1, 7, H]
    const batch = f.f32('hidden_states');          // [L+1, 2, 7, H]; row 1 has 2 left pads
    const seq = f.ids('single_input_ids');
    const row1 = f.ids('input_ids').slice(7 + 2);
    const res = await client.capture({
      modelId: ids[arch], reductions: ['prompt_avg', 'response_avg', 'prompt_last'],
      items: [{ prompt: { ids: seq.slice(0, 4) }, response: { ids: seq.slice(4) } }, { prompt: { ids: row1.slice(0, 2) }, response: { ids: row1.slice(2) } }],
    });
    assert.equal(res.layers, L + 1);
    assert.equal(res.hiddenSize, H);
    const mean = (src: Float32Array, rows: number, r: number, from: number, to: number) => {
      const out = new Float64Array((L + 1) * H);
      for (let l = 0; l <= L; l++) for (let t = from; t < to; t++) for (let i = 0; i < H; i++) out[l * H + i] += src[((l * rows + r) * 7 + t) * H + i] / (to - from);
      return out;
    };
    const [a, b] = res.items;
    assert.deepEqual([a.promptTokens, a.responseTokens, b.promptTokens, b.responseTokens], [4, 3, 2, 3]);
    close(decodeF32(a.values.prompt_avg!), mean(single, 1, 0, 0, 4));
    close(decodeF32(a.values.response_avg!), mean(single, 1, 0, 4, 7));
    close(decodeF32(a.values.prompt_last!), mean(single, 1, 0, 3, 4));
    close(decodeF32(b.values.prompt_avg!), mean(batch, 2, 1, 2, 4));
    close(decodeF32(b.values.response_avg!), mean(batch, 2, 1, 4, 7));
  });
}

test('fused graph variant: greedy and steered greedy tokens equal the HF reference too', { skip: SKIP_PARITY }, async () => {
  for (const arch of ARCHS) {
    const f = fx[arch];
    const info = await client.loadModel({ path: f.dir, executionProvider: 'cpu', variant: 'fused' });
    const prompt = { ids: f.ids('single_input_ids') };
    const res = await client.generate({ modelId: info.modelId, sampling: { maxNewTokens: 5 }, rows: [{ prompt }, { prompt, steer: [fixtureSteer(f, 'all')] }] });
    assert.equal(info.variant, 'fused');
    assert.deepEqual(res.rows[0].tokenIds, f.ids('greedy_new_tokens'), arch);
    assert.deepEqual(res.rows[1].tokenIds, f.ids('steered_greedy_new_tokens'), arch);
    await client.unloadModel(info.modelId);
  }
});

test('projections: per-token scalar projection of hidden_states[layer] onto unit(v)', { skip: SKIP_PARITY }, async () => {
  const f = fx.llama_gqa;
  const seq = f.ids('single_input_ids');
  const v = f.f32('steer_vector');
  const res = await client.project({ modelId: ids.llama_gqa, items: [{ prompt: { ids: seq.slice(0, 5) }, response: { ids: seq.slice(5) } }], vectors: [{ id: 'v2', vector: { values: [...v] }, layer: 2 }] });
  const hs = f.f32('single_hidden_states');
  const norm = Math.hypot(...v);
  const want = Array.from({ length: 7 }, (_, t) => { let d = 0; for (let i = 0; i < H; i++) d += hs[(2 * 7 + t) * H + i] * v[i]; return d / norm; });
  close(res.items[0].projections.v2, want);
  assert.equal(res.items[0].promptTokens, 5);
  assert.equal(res.items[0].tokens.length, 7);
});

test('steering positions: the residual changes by exactly coef·v where upstream steers, nowhere else', { skip: SKIP_PARITY }, async () => {
  const f = fx.llama_gqa;
  const spec = (p: SteerPositions) => fixtureSteer(f, p);
  const layer = spec('all').layer;
  const delta = f.f32('steer_vector').map((x) => x * f.f32('steer_coef')[0]);
  const prompts = [[16, 241, 19, 148, 227], [7, 8, 9], [100, 200, 300, 10, 20, 30, 40], [50, 60]];
  const modes: (SteerPositions | null)[] = ['response', 'prompt', 'all', null];
  // Baseline and steered rows share one batch with different prompt lengths (left padding).
  const gen = await client.generate({
    modelId: ids.llama_gqa, sampling: { temperature: 0, maxNewTokens: 4, eosTokenIds: [] }, returnHiddenStates: [layer - 1, layer],
    rows: prompts.map((p, i) => ({ prompt: { ids: p }, steer: modes[i] ? [spec(modes[i]!)] : undefined })),
  });
  for (const [i, mode] of modes.entries()) {
    const row = gen.rows[i];
    const P = prompts[i].length;
    const forwarded = [...prompts[i], ...row.tokenIds.slice(0, -1)]; // the last sampled token is never forwarded
    const steered = decodeF32(row.hiddenStates![String(layer)]);
    const below = decodeF32(row.hiddenStates![String(layer - 1)]);
    assert.equal(steered.length, forwarded.length * H);
    // Unsteered reference: one teacher-forced forward over the same tokens.
    const cap = await client.capture({ modelId: ids.llama_gqa, reductions: ['prompt_last'], returnHiddenStates: [layer - 1, layer], items: [{ prompt: { ids: forwarded }, response: { ids: [] } }] });
    const ref = decodeF32(cap.items[0].hiddenStates![String(layer)]);
    const refBelow = decodeF32(cap.items[0].hiddenStates![String(layer - 1)]);
    close(below, refBelow, 1e-4); // the layer below the steering point never changes
    for (let t = 0; t < forwarded.length; t++) {
      const expectSteered = mode === 'all' || (mode === 'prompt' && t < P) || (mode === 'response' && t >= P - 1);
      const diff = Array.from({ length: H }, (_, k) => steered[t * H + k] - ref[t * H + k]);
      close(diff, expectSteered ? delta : new Float32Array(H), 1e-4);
    }
  }
});

test('sampling is batch-invariant and seed-deterministic (temperature > 0, mixed steered rows)', { skip: SKIP_PARITY }, async () => {
  const f = fx.qwen2;
  const sampling: SamplingParams = { temperature: 0.9, topP: 0.95, topK: 50, repetitionPenalty: 1.1, maxNewTokens: 12, seed: 1234, eosTokenIds: [] };
  const prompts = [[5, 9, 17], [16, 241, 19, 148, 227, 41, 151], [300, 2], [77, 78, 79, 80, 81]];
  const rows: GenerateRow[] = prompts.map((p, i) => ({ prompt: { ids: p }, steer: i % 2 ? [fixtureSteer(f, 'response')] : undefined }));
  const together = await client.generate({ modelId: ids.qwen2, rows, sampling });
  const again = await client.generate({ modelId: ids.qwen2, rows, sampling, batchSize: 3 });
  const reversed = await client.generate({ modelId: ids.qwen2, rows: [...rows].reverse().map((r, j) => ({ ...r, seed: 1234 + rows.length - 1 - j })), sampling });
  for (let i = 0; i < rows.length; i++) {
    const alone = await client.generate({ modelId: ids.qwen2, rows: [{ ...rows[i], seed: 1234 + i }], sampling });
    assert.deepEqual(alone.rows[0].tokenIds, together.rows[i].tokenIds, `row ${i}: alone vs batched`);
    assert.deepEqual(again.rows[i].tokenIds, together.rows[i].tokenIds, `row ${i}: rerun with another batch split`);
    assert.deepEqual(reversed.rows[rows.length - 1 - i].tokenIds, together.rows[i].tokenIds, `row ${i}: batch order`);
  }
  // Sampling really samples: another seed changes the output, and tokens differ from greedy.
  const other = await client.generate({ modelId: ids.qwen2, rows, sampling: { ...sampling, seed: 99 } });
  assert.notDeepEqual(other.rows.map((r) => r.tokenIds), together.rows.map((r) => r.tokenIds));
});

test('stop conditions: EOS ids end a row and minNewTokens suppresses them', { skip: SKIP_PARITY }, async () => {
  const f = fx.llama_gqa;
  const prompt = { ids: f.ids('single_input_ids') };
  const greedy = f.ids('greedy_new_tokens'); // [6, 6, 250, ...]
  const res = await client.generate({ modelId: ids.llama_gqa, rows: [{ prompt }], sampling: { maxNewTokens: 5, eosTokenIds: [250] } });
  assert.deepEqual(res.rows[0].tokenIds, greedy.slice(0, 3));
  assert.equal(res.rows[0].finishReason, 'eos');
  const min = await client.generate({ modelId: ids.llama_gqa, rows: [{ prompt }], sampling: { maxNewTokens: 2, eosTokenIds: [6], minNewTokens: 2 } });
  assert.notEqual(min.rows[0].tokenIds[0], 6);
  assert.equal(min.rows[0].tokenIds.length, 2);
});

test('bad requests are typed errors with actionable messages', { skip: SKIP_PARITY }, async () => {
  const m = ids.llama_gqa;
  const bad = (p: Promise<unknown>, re: RegExp) => assert.rejects(p, (e) => workerReason(e) === 'bad-request' && re.test((e as Error).message));
  await bad(client.generate({ modelId: m, rows: [{ prompt: { text: 'hello' } }], sampling: {} }), /no tokenizer\.json.*\{ ids \}/);
  await bad(client.generate({ modelId: m, rows: [{ prompt: { ids: [1, 999] } }], sampling: {} }), /outside the model's vocabulary 0\.\.319/);
  await bad(client.generate({ modelId: m, rows: [{ prompt: { ids: [1] }, steer: [{ vector: { values: [1, 2] }, layer: 1, coef: 1 }] }], sampling: {} }), /hidden size is 64/);
  await bad(client.generate({ modelId: m, rows: [{ prompt: { ids: [1] }, steer: [{ vector: { values: new Array(64).fill(0) }, layer: 9, coef: 1 }] }], sampling: {} }), /0\.\.3/);
  await bad(client.generate({ modelId: m, rows: [{ prompt: { ids: [1] } }], sampling: { topP: 0 } }), /topP/);
  await bad(client.generate({ modelId: m, rows: [{ prompt: { ids: [1, 2, 3] } }], sampling: { maxNewTokens: 126 } }), /exceed the model's 128 positions/);
});

test('cancellation stops generation at the next step and the worker keeps serving', { skip: SKIP_PARITY }, async () => {
  const m = ids.llama_gqa;
  const ac = new AbortController();
  let seen = 0;
  const rows = Array.from({ length: 8 }, (_, i) => ({ prompt: { ids: [i + 3, 7, 11] } }));
  const started = performance.now();
  await assert.rejects(
    client.generate({ modelId: m, rows, sampling: { temperature: 1, maxNewTokens: 120, eosTokenIds: [] } }, {
      signal: ac.signal,
      onToken: () => { if (++seen === 8) ac.abort(); },
    }),
    (e) => WorkerError.is(e, 'cancelled'),
  );
  assert.ok(seen < 8 * 120, `generation stopped early (${seen} tokens streamed)`);
  assert.ok(performance.now() - started < 30_000);
  const ok = await client.generate({ modelId: m, rows: [{ prompt: { ids: fx.llama_gqa.ids('single_input_ids') } }], sampling: { maxNewTokens: 5 } });
  assert.deepEqual(ok.rows[0].tokenIds, fx.llama_gqa.ids('greedy_new_tokens'));
});

test('models unload cleanly and can be loaded again', { skip: SKIP_PARITY }, async () => {
  const first = await client.loadModel({ path: fx.llama_gqa.dir, executionProvider: 'auto' });
  // 'auto' tries cuda, webgpu, cpu in turn; each failure is reported (without a GPU: cuda and webgpu fail).
  const order = ['cuda', 'webgpu', 'cpu'];
  assert.ok(order.includes(first.executionProvider));
  assert.deepEqual((first.providersFailed ?? []).map((f) => f.provider), order.slice(0, order.indexOf(first.executionProvider)));
  assert.ok((first.providersFailed ?? []).every((f) => f.error.length > 0));
  assert.ok(first.rssBytes > 0 && first.weightBytes > 0 && first.loadMs >= 0);
  await client.unloadModel(first.modelId);
  await assert.rejects(client.tokenize({ modelId: first.modelId, prompt: { ids: [1] } }), (e) => WorkerError.is(e, 'model-not-loaded'));
  const listed = (await client.listModels()).map((x) => x.modelId);
  assert.ok(!listed.includes(first.modelId));
  assert.deepEqual(listed.sort(), Object.values(ids).sort());
});
