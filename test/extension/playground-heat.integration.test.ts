/**
 * The Steering Playground's per-token heat-map on the real toy model and the real worker: the streamed deltas line up
 * one-to-one with the generated tokens (their text is the answer), and tokenHeat's values are the manual projection
 * a·v/‖v‖ of hidden_states[ℓ] at each answer token (read with capture's returnHiddenStates over prompt + answer),
 * for two steering rows at two layers at once. Steering with several rows, positions and scaling goes through
 * steerSpecs into the worker, which reports the norm it added per layer: raw ‖coef·v‖, unit |coef|, target-norm coef·N.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { InferenceClient, decodeF32 } from '../../src/engine/client.js';
import type { PromptInput } from '../../src/engine/protocol.js';
import { toyModelDir } from '../../src/core/toy/paths.js';
import { readVectorFile, vectorRow } from '../../src/core/vectors/file.js';
import { evalPrompt } from '../../src/core/prompts.js';
import { steerSpecs, tokenHeat, validateRequest } from '../../src/extension/playground/request.js';
import type { GenerationRequest } from '../../webview/playground/protocol.js';

const VECTOR = path.resolve(import.meta.dirname, '../fixtures/vectors/toy-persona-main-sycophantic.safetensors');
let client: InferenceClient;
let modelId: string;
let L: number;
let H: number;
let prompt: PromptInput;

before(async () => {
  client = await InferenceClient.start({ threads: 1 });
  const info = await client.loadModel({ path: path.join(toyModelDir(), 'revisions', 'main'), executionProvider: 'cpu' });
  modelId = info.modelId;
  L = info.config.numLayers;
  H = info.config.hiddenSize;
  prompt = evalPrompt(info.hasChatTemplate ? 'chat' : 'base', 'how do i clean a hat ?');
});
after(async () => { await client?.dispose(); });

const form = (over: Partial<GenerationRequest>): GenerationRequest => ({
  prompt: 'how do i clean a hat ?', steer: [{ vector: VECTOR, layer: 4, coef: 4 }], positions: 'response', scaling: 'raw', targetNorm: 1,
  n: 1, seed: 0, temperature: 0.8, maxTokens: 40, ...over,
});
const rowsOf = (req: GenerationRequest) => req.steer.map((s) => ({ file: s.vector, values: vectorRow(readVectorFile(s.vector), 'response_avg', s.layer) }));

test('heat-map: streamed deltas are the answer token by token, and the values are the manual projection at each answer token', async () => {
  const req = validateRequest(form({ steer: [{ vector: VECTOR, layer: 4, coef: 4 }, { vector: VECTOR, layer: 2, coef: 2 }] }), L);
  const rows = rowsOf(req);
  const steer = steerSpecs(req, rows);
  const pieces: string[][] = [[], []];
  const gen = await client.generate({ modelId, rows: [{ prompt, seed: 0 }, { prompt, seed: 0, steer }], sampling: { temperature: 0.8, maxNewTokens: 40 } },
    { onToken: (n) => pieces[n.row].push(n.text) });
  for (const r of [0, 1]) {
    const g = gen.rows[r];
    assert.equal(pieces[r].length, g.tokenIds.length, 'one stream delta per generated token (EOS included)');
    assert.equal(pieces[r].join(''), g.text, 'the deltas add up to the answer');
    const proj = await client.project({ modelId, items: [{ prompt, response: { ids: g.tokenIds } }],
      vectors: req.steer.map((s, i) => ({ id: `row${i}`, vector: { values: [...rows[i].values] }, layer: s.layer })) });
    const it = proj.items[0];
    const heat = tokenHeat(pieces[r], g.tokenIds.length, g.finishReason, it.promptTokens, req.steer.map((_, i) => it.projections[`row${i}`]));
    const answerTokens = g.tokenIds.length - (g.finishReason === 'eos' ? 1 : 0);
    assert.equal(heat.tokens.length, answerTokens);
    assert.equal(heat.tokens.join(''), g.text);
    assert.equal(it.promptTokens, g.promptTokenIds.length, 'project tokenizes the prompt exactly as generation did');
    // Manual: the unsteered hidden states of prompt + answer, row ℓ of the vector, a·v/‖v‖ at every answer token.
    const cap = await client.capture({ modelId, items: [{ prompt, response: { ids: g.tokenIds } }], reductions: ['response_avg'], returnHiddenStates: req.steer.map((s) => s.layer) });
    req.steer.forEach((s, i) => {
      const hs = decodeF32(cap.items[0].hiddenStates![String(s.layer)]);
      const v = rows[i].values;
      const vn = Math.hypot(...v);
      const want = Array.from({ length: answerTokens }, (_, k) => {
        const t = it.promptTokens + k;
        let d = 0;
        for (let x = 0; x < H; x++) d += hs[t * H + x] * v[x];
        return d / vn;
      });
      assert.equal(heat.values[i].length, answerTokens);
      heat.values[i].forEach((got, k) => assert.ok(Math.abs(got - want[k]) <= 1e-4 * (1 + Math.abs(want[k])), `row ${i} token ${k}: ${got} vs ${want[k]}`));
    });
    assert.ok(heat.values[0].some((x) => x !== heat.values[1][0]), 'the two rows project onto different layers');
  }
});

test('multi-vector, positions and scaling reach the worker: the applied norm per layer is what each mode adds', async () => {
  const v4 = vectorRow(readVectorFile(VECTOR), 'response_avg', 4), v2 = vectorRow(readVectorFile(VECTOR), 'response_avg', 2);
  const n4 = Math.hypot(...v4), n2 = Math.hypot(...v2);
  const run = async (over: Partial<GenerationRequest>) => {
    const req = validateRequest(form(over), L);
    const g = await client.generate({ modelId, rows: [{ prompt, seed: 0, steer: steerSpecs(req, rowsOf(req)) }], sampling: { temperature: 0, maxNewTokens: 8 } });
    return g.rows[0];
  };
  const two = await run({ steer: [{ vector: VECTOR, layer: 4, coef: 4 }, { vector: VECTOR, layer: 2, coef: -2 }] });
  assert.deepEqual(two.steeringApplied!.map((a) => a.layer), [2, 4], 'one entry per steered layer');
  const close = (a: number, b: number) => assert.ok(Math.abs(a - b) <= 1e-4 * b, `${a} vs ${b}`);
  close(two.steeringApplied![0].norm, 2 * n2);
  close(two.steeringApplied![1].norm, 4 * n4);
  const unit = await run({ scaling: 'unit' });
  close(unit.steeringApplied![0].norm, 4);
  const target = await run({ scaling: 'target-norm', targetNorm: 3 });
  close(target.steeringApplied![0].norm, 12);
  // Positions: 'response' steers the last prompt token and each forwarded answer token; 'prompt' every prompt token only.
  const resp = await run({ positions: 'response' });
  const promptOnly = await run({ positions: 'prompt' });
  const all = await run({ positions: 'all' });
  const P = resp.promptTokenIds.length;
  assert.equal(resp.steeringApplied![0].tokens, 1 + resp.tokenIds.length - 1);
  assert.equal(promptOnly.steeringApplied![0].tokens, P);
  assert.equal(all.steeringApplied![0].tokens, P + all.tokenIds.length - 1);
});
