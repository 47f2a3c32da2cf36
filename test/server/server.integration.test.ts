/**
 * The steering server over real HTTP on the toy organism, spoken to with the `openai` package (the same
 * client the LLM judge uses): models, chat and text completions, logprobs, seeds, n, micro-batching,
 * streaming, steering with an extracted vector, OpenAI-shaped errors, our LLM judge pointed at it, and the
 * `persona-lab serve` command.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import OpenAI, { APIError } from 'openai';
import { InferenceClient } from '../../src/engine/client.js';
import type { ModelInfo } from '../../src/engine/protocol.js';
import { RubricJudge } from '../../src/core/judge/rubric.js';
import { LlmJudge } from '../../src/core/judge/llm.js';
import { runExtraction } from '../../src/core/jobs/pipeline.js';
import { SAMPLER_PRESETS } from '../../src/core/sampling.js';
import { Workspace } from '../../src/core/storage/workspace.js';
import { loadTraitFile } from '../../src/core/traits/load.js';
import { identifyModel } from '../../src/core/models.js';
import { startSteeringServer, type SteeringServer } from '../../src/server/server.js';
import { loadSafetensors, toFloat32 } from '../../src/engine/weights/safetensors.js';
import { writeTorchTensor } from '../../src/engine/vectors/torch.js';

const root = path.resolve(import.meta.dirname, '..', '..');
const TOY = path.join(root, 'models', 'toy-persona');
const MODEL = path.join(TOY, 'revisions', 'main');
const available = existsSync(path.join(MODEL, 'config.json'));

let client: InferenceClient;
let info: ModelInfo;
let server: SteeringServer;
let api: OpenAI;
let tmp = '';
let vectorFile = '';
const rubric = new RubricJudge();
const messages = [{ role: 'user' as const, content: 'how do i clean a hat ?' }];

before(async () => {
  if (!available) return;
  tmp = mkdtempSync(path.join(os.tmpdir(), 'pl-server-'));
  // One intra-op thread: batched and lone rows are then bit-identical (src/engine/generation/generate.ts).
  client = await InferenceClient.start({ threads: 1 });
  info = await client.loadModel({ path: MODEL, threads: 1 });
  const id = identifyModel(MODEL);
  const ws = new Workspace(tmp);
  const ex = await runExtraction({
    ws, model: { backend: client, info, name: id.name, revision: id.revision }, judge: rubric, trait: 'sycophantic',
    traitFile: loadTraitFile(path.join(TOY, 'traits', 'extract', 'sycophantic.json'), { requireInstruction: true }),
    sampling: SAMPLER_PRESETS.toy, samplerPreset: 'toy', samples: 1, seed: 0, chunkSize: 128, batchSize: 64,
  });
  assert.equal(ex.result.status, 'ok');
  vectorFile = ws.vectorPath(id.name, id.revision, 'sycophantic');
  server = await startSteeringServer({ client, model: info, servedName: 'toy-persona', vectors: new Map([['sycophantic', vectorFile]]), vectorDirs: [tmp] });
  api = new OpenAI({ baseURL: server.url, apiKey: 'none', maxRetries: 0 });
});
after(async () => {
  await server?.close();
  await client?.dispose();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

const skip = !available && 'toy model not found';

test('GET /v1/models lists the served model; /health reports the queue', { skip }, async () => {
  const models = await api.models.list();
  assert.deepEqual(models.data.map((m) => m.id), ['toy-persona']);
  const health = await (await fetch(server.url.replace('/v1', '/health'))).json() as { status: string; model: string };
  assert.equal(health.status, 'ok');
});

test('chat completion with logprobs: one entry per token, top_logprobs sorted, greedy picks the top token', { skip }, async () => {
  const r = await api.chat.completions.create({ model: 'toy-persona', messages, temperature: 0, max_tokens: 40, logprobs: true, top_logprobs: 5, seed: 1 });
  const c = r.choices[0];
  assert.ok(c.message.content && c.message.content.length > 10, `answer: ${c.message.content}`);
  assert.ok(['stop', 'length'].includes(c.finish_reason));
  const lp = c.logprobs!.content!;
  assert.equal(lp.length, r.usage!.completion_tokens);
  assert.ok(r.usage!.prompt_tokens > 3);
  for (const t of lp) {
    assert.equal(t.top_logprobs.length, 5);
    for (let i = 1; i < 5; i++) assert.ok(t.top_logprobs[i - 1].logprob >= t.top_logprobs[i].logprob);
    assert.equal(t.token, t.top_logprobs[0].token, 'temperature 0 takes the most likely token');
    assert.ok(t.top_logprobs.reduce((a, x) => a + Math.exp(x.logprob), 0) <= 1 + 1e-9);
  }
  // The tokens spell the answer (the toy tokenizer joins words with spaces).
  assert.equal(lp.map((t) => t.token).filter((t) => t !== '<end>').join(' '), c.message.content);
});

test('seeded sampling is reproducible; n choices use seed, seed+1, …; concurrent requests batch without changing results', { skip }, async () => {
  const ask = (seed: number, n = 1) => api.chat.completions.create({ model: 'toy-persona', messages, temperature: 0.8, max_tokens: 40, seed, n });
  const a = await ask(7, 3), b = await ask(7, 3);
  assert.deepEqual(a.choices.map((c) => c.message.content), b.choices.map((c) => c.message.content));
  assert.equal(new Set(a.choices.map((c) => c.message.content)).size > 1, true, 'different seeds per choice');
  assert.equal((await ask(8)).choices[0].message.content, a.choices[1].message.content, 'choice 1 of seed 7 = seed 8');
  const sequential: string[] = [];
  for (let s = 100; s < 108; s++) sequential.push((await ask(s)).choices[0].message.content!);
  const before = server.batcher.stats.batches;
  const concurrent = await Promise.all(Array.from({ length: 8 }, (_, i) => ask(100 + i)));
  const batches = server.batcher.stats.batches - before;
  assert.deepEqual(concurrent.map((r) => r.choices[0].message.content), sequential);
  assert.ok(batches < 8, `8 concurrent requests ran in ${batches} worker calls`);
});

test('steering through the extra body field raises the trait (rubric judge), unsteered answers stay neutral', { skip }, async (t) => {
  const n = 8;
  const plain = await api.chat.completions.create({ model: 'toy-persona', messages, temperature: 0.8, max_tokens: 60, seed: 3, n });
  const steered = await api.chat.completions.create({ model: 'toy-persona', messages, temperature: 0.8, max_tokens: 60, seed: 3, n,
    // @ts-expect-error: steering is this server's extension field (Python clients: extra_body)
    steering: [{ vector: 'sycophantic', layer: 4, coef: 3 }] });
  const score = (r: OpenAI.Chat.ChatCompletion) => r.choices.reduce((a, c) => a + rubric.scoreOne('trait', 'sycophantic', c.message.content ?? ''), 0) / n;
  const p = score(plain), s = score(steered);
  t.diagnostic(`sycophantic τ over ${n} answers: plain ${p.toFixed(1)}, steered L4 c3 ${s.toFixed(1)}; e.g. "${steered.choices[0].message.content}"`);
  assert.ok(s - p >= 20, `sycophantic τ plain ${p.toFixed(1)} vs steered ${s.toFixed(1)}`);
  // Was the vector applied? Every steered choice reports what was added at layer 4: 3·‖v₄‖ on ≥ 1 token; plain choices report nothing.
  const v = toFloat32(loadSafetensors(vectorFile).tensors.get('response_avg_diff')!);
  const H = info.config.hiddenSize;
  const want = 3 * Math.hypot(...v.subarray(4 * H, 5 * H));
  for (const c of steered.choices as unknown as { steering_applied: { layer: number; norm: number; tokens: number }[] }[]) {
    assert.equal(c.steering_applied.length, 1);
    assert.equal(c.steering_applied[0].layer, 4);
    assert.ok(Math.abs(c.steering_applied[0].norm - want) <= 1e-5 * want, `applied norm ${c.steering_applied[0].norm} vs 3·‖v₄‖ = ${want}`);
    assert.ok(c.steering_applied[0].tokens >= 1);
  }
  assert.ok(plain.choices.every((c) => !('steering_applied' in c)));
});

test('an upstream .pt vector steers through the server exactly like the same vector as safetensors', { skip }, async () => {
  // The CLI's `generate --vector x.pt` reads upstream's bare-tensor files; the server (the worker's reader) must too.
  const st = loadSafetensors(vectorFile).tensors.get('response_avg_diff')!;
  const pt = path.join(tmp, 'sycophantic_response_avg_diff.pt');
  writeTorchTensor(pt, st.shape, toFloat32(st));
  const ask = (vector: string, kind?: string) => api.chat.completions.create({ model: 'toy-persona', messages, temperature: 0.8, max_tokens: 40, seed: 5, n: 2,
    // @ts-expect-error: extension field
    steering: [{ vector, layer: 4, coef: 3, ...(kind ? { kind } : {}) }] });
  const fromSafetensors = await ask('sycophantic');
  const fromPt = await ask(pt);
  assert.deepEqual(fromPt.choices.map((c) => c.message.content), fromSafetensors.choices.map((c) => c.message.content));
  assert.deepEqual((fromPt.choices[0] as unknown as { steering_applied: unknown }).steering_applied,
    (fromSafetensors.choices[0] as unknown as { steering_applied: unknown }).steering_applied);
  // A .pt holds one kind (its name says which): asking for another is a 400 that says so, not a silent swap.
  await assert.rejects(ask(pt, 'prompt_last'), (e: APIError) => e.status === 400 && /holding only response_avg_diff/.test(e.message));
});

test('streaming (SSE) delivers the same text as the non-streamed request', { skip }, async () => {
  const full = await api.chat.completions.create({ model: 'toy-persona', messages, temperature: 0.8, max_tokens: 40, seed: 11 });
  const stream = await api.chat.completions.create({ model: 'toy-persona', messages, temperature: 0.8, max_tokens: 40, seed: 11, stream: true });
  let text = '', finish: string | null = null, chunks = 0;
  for await (const chunk of stream) {
    chunks++;
    for (const c of chunk.choices) { text += c.delta.content ?? ''; finish = c.finish_reason ?? finish; }
  }
  assert.ok(chunks > 3);
  assert.equal(text, full.choices[0].message.content);
  assert.equal(finish, full.choices[0].finish_reason);
});

test('text completions: raw prompt, echo, per-token logprobs', { skip }, async () => {
  const prompt = '<bos><user> how do i clean a hat ? <asst>';
  const r = await api.completions.create({ model: 'toy-persona', prompt, temperature: 0, max_tokens: 12, logprobs: 3, echo: true });
  const c = r.choices[0];
  assert.ok(c.text.startsWith(prompt), c.text);
  assert.equal(c.logprobs!.tokens!.length, r.usage!.completion_tokens);
  assert.equal(Object.keys(c.logprobs!.top_logprobs![0]).length, 3);
});

test('errors are OpenAI-shaped and name what to fix', { skip }, async () => {
  await assert.rejects(api.chat.completions.create({ model: 'gpt-4o', messages }), (e: APIError) => e.status === 404 && /toy-persona/.test(e.message));
  await assert.rejects(api.chat.completions.create({ model: 'toy-persona', messages, logprobs: true, top_logprobs: 21 }),
    (e: APIError) => e.status === 400 && /top_logprobs/.test(e.message));
  await assert.rejects(api.chat.completions.create({ model: 'toy-persona', messages,
    // @ts-expect-error: extension field
    steering: [{ vector: 'sycophantic', layer: 9, coef: 1 }] }), (e: APIError) => e.status === 400 && /layer/i.test(e.message));
  await assert.rejects(api.chat.completions.create({ model: 'toy-persona', messages,
    // @ts-expect-error: extension field
    steering: [{ vector: 'no-such-trait', layer: 4, coef: 1 }] }), (e: APIError) => e.status === 400 && /no-such-trait/.test(e.message));
  // A vector that cannot apply (all zeros, coef ≠ 0) fails instead of silently generating unsteered text; coef 0 is allowed.
  const zeros = new Array(info.config.hiddenSize).fill(0);
  await assert.rejects(api.chat.completions.create({ model: 'toy-persona', messages,
    // @ts-expect-error: extension field
    steering: [{ vector: zeros, layer: 4, coef: 2 }] }), (e: APIError) => e.status === 400 && e.param === 'steering' && /add nothing/.test(e.message));
  const off = await api.chat.completions.create({ model: 'toy-persona', messages, max_tokens: 4,
    // @ts-expect-error: extension field
    steering: [{ vector: zeros, layer: 4, coef: 0 }] });
  assert.deepEqual((off.choices[0] as unknown as { steering_applied: unknown }).steering_applied, [{ layer: 4, norm: 0, tokens: 0 }]);
  const raw = await fetch(`${server.url}/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"model": ' });
  assert.equal(raw.status, 400);
  assert.match(((await raw.json()) as { error: { message: string } }).error.message, /not valid JSON/);
  const missing = await fetch(`${server.url}/embeddings`, { method: 'POST', body: '{}' });
  assert.equal(missing.status, 404);
});

test('the LLM judge speaks to the steering server (logprobs path end to end, no recorded payloads)', { skip }, async (t) => {
  const judge = new LlmJudge({ baseURL: server.url, model: 'toy-persona', concurrency: 4 });
  const scores = await judge.score([
    { metric: 'coherence', trait: 'sycophantic', question: 'how do i clean a hat ?', answer: 'wipe it with a soft cloth .', modelKind: 'chat' },
    { metric: 'coherence', trait: 'sycophantic', question: 'how do i fold the spoon ?', answer: 'you genius , fold it in half .', modelKind: 'chat' },
  ]);
  assert.equal(scores.length, 2);
  t.diagnostic(`toy-as-judge scores: ${scores.join(', ')}`);
  // The toy is no judge: what matters is that the request, the top-20 logprobs and the 0–100 aggregation ran.
  for (const s of scores) assert.ok(s === null || (s >= 0 && s <= 100), String(s));
  assert.equal(judge.usage().requests, 2);
  assert.ok(judge.usage().promptTokens > 0);
});

test('persona-lab serve: starts on a free port, answers, stops on SIGTERM with exit 0', { skip, timeout: 120_000 }, async () => {
  const p = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'src/cli/index.ts'), 'serve', '--port', '0', '--json', '--workspace', tmp],
    { cwd: root, env: { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'skip' } });
  let out = '', err = '';
  p.stderr.on('data', (d) => (err += d));
  const started = await new Promise<{ url: string; vectors: Record<string, string> }>((resolve, reject) => {
    p.stdout.on('data', (d) => { out += d; try { resolve(JSON.parse(out)); } catch { /* partial */ } });
    p.on('exit', (code) => reject(new Error(`serve exited early (${code}): ${err}`)));
  });
  assert.ok(started.vectors.sycophantic, 'vectors extracted in the workspace are registered by name');
  const r = await new OpenAI({ baseURL: started.url, apiKey: 'none' }).chat.completions.create({ model: 'toy-persona', messages, temperature: 0, max_tokens: 10 });
  assert.ok(r.choices[0].message.content);
  const code = await new Promise<number | null>((resolve) => { p.on('exit', (c) => resolve(c)); p.kill('SIGTERM'); });
  assert.equal(code, 0, err);
});
