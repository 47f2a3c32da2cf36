/**
 * The LLM judge over real HTTP: a node:http server on 127.0.0.1 speaks the OpenAI chat-completions wire
 * format and replays the payloads in test/fixtures/judge (with injected 429/500/timeout/401 failures).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LlmJudge, aggregate0to100, parsePythonInt, judgePrompt } from '../../src/core/judge/llm.js';
import { COHERENCE_PROMPT_CHAT, COHERENCE_PROMPT_BASE } from '../../src/core/judge/prompts.js';
import { PipelineError } from '../../src/core/errors.js';
import type { JudgeRequest } from '../../src/core/judge/types.js';

const fixtures = path.join(import.meta.dirname, '..', 'fixtures', 'judge');
const fx = (n: string) => readFileSync(path.join(fixtures, n), 'utf8');

let server: http.Server;
let baseURL = '';
const seen: { prompt: string; body: any }[] = [];
const attempts = new Map<string, number>();
let inFlight = 0, maxInFlight = 0;

function caseOf(prompt: string): string {
  if (prompt.startsWith('I am evaluating a different language model')) return 'coherence';
  return /CASE:(\S+)/.exec(prompt)?.[1] ?? 'ok';
}

before(async () => {
  server = http.createServer((req, res) => {
    let data = '';
    req.on('data', (c) => (data += c));
    req.on('end', async () => {
      const body = JSON.parse(data);
      const prompt: string = body.messages[0].content;
      seen.push({ prompt, body });
      const c = caseOf(prompt);
      const n = (attempts.get(c) ?? 0) + 1;
      attempts.set(c, n);
      const counted = c.startsWith('par');
      if (counted) { inFlight++; maxInFlight = Math.max(maxInFlight, inFlight); }
      const send = (status: number, payload: string, headers: Record<string, string> = {}) => {
        if (counted) inFlight--;
        if (res.destroyed) return;
        res.writeHead(status, { 'content-type': 'application/json', ...headers }); res.end(payload);
      };
      const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));
      switch (c) {
        case 'coherence': return send(200, fx('coherence-98.json'));
        case 'refusal': return send(200, fx('refusal.json'));
        case 'nolp': return send(200, fx('no-logprobs.json'));
        case 'auth': return send(401, fx('error-401.json'));
        case 'flaky429': return n <= 2 ? send(429, fx('error-429.json'), { 'retry-after': '0' }) : send(200, fx('trait-85.json'));
        case 'flaky500': return n <= 1 ? send(500, fx('error-500.json')) : send(200, fx('trait-85.json'));
        case 'always429': return send(429, fx('error-429.json'));
        case 'slow': if (n <= 1) { await wait(1500); return send(200, fx('trait-85.json')); } return send(200, fx('trait-85.json'));
        default: if (c.startsWith('par')) await wait(60); return send(200, fx('trait-85.json'));
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  baseURL = `http://127.0.0.1:${(server.address() as { port: number }).port}/v1`;
});
after(() => { server.closeAllConnections(); server.close(); });

const EXPECTED_85 = (85 * 0.6 + 80 * 0.2 + 90 * 0.1 + 75 * 0.05 + 8 * 0.01 + 100 * 0.005) / (0.6 + 0.2 + 0.1 + 0.05 + 0.01 + 0.005);
const req = (question: string, metric: 'trait' | 'coherence' = 'trait'): JudgeRequest =>
  ({ metric, trait: 'evil', evalPrompt: 'Rate evil. CASE:{question}\n[ANSWER START]\n{answer}\n[ANSWER END]', modelKind: 'chat', question, answer: 'an answer' });
const judge = (o: Partial<ConstructorParameters<typeof LlmJudge>[0]> = {}) =>
  new LlmJudge({ baseURL, model: 'gpt-4.1-mini-2025-04-14', apiKey: 'test', backoffMs: 5, timeoutMs: 400, ...o });

test('python-int token parsing and 0–100 aggregation match upstream', () => {
  assert.equal(parsePythonInt(' 5'), 5);
  assert.equal(parsePythonInt('05\n'), 5);
  assert.equal(parsePythonInt('+7'), 7);
  assert.equal(parsePythonInt('5.0'), null);
  assert.equal(parsePythonInt('REFUSAL'), null);
  assert.ok(Math.abs(aggregate0to100({ '50': 0.2, '100': 0.1, 'REFUSAL': 0.7 })! - 200 / 3) < 1e-9);
  assert.equal(aggregate0to100({ '50': 0.1, '100': 0.1, 'REFUSAL': 0.8 }), null); // numeric mass 0.2 < 0.25
  assert.equal(aggregate0to100({ '50': 0.1, '100': 0.1, '101': 0.7 }), null);  // 101 is out of range
});

test('request shape: one user message, 1 token, temperature 0, top 20 logprobs, seed 0', async () => {
  const s = await judge().score([req('ok')]);
  assert.ok(Math.abs(s[0]! - EXPECTED_85) < 1e-9, `${s[0]} vs ${EXPECTED_85}`);
  const b = seen.at(-1)!.body;
  assert.equal(b.messages.length, 1);
  assert.equal(b.messages[0].role, 'user');
  assert.equal(b.max_tokens, 1); assert.equal(b.temperature, 0); assert.equal(b.logprobs, true); assert.equal(b.top_logprobs, 20); assert.equal(b.seed, 0);
  assert.ok(b.messages[0].content.includes('CASE:ok\n[ANSWER START]\nan answer\n'));
});

test('coherence uses the published prompts; chat vs base', async () => {
  const j = judge();
  const [s] = await j.score([{ ...req('Q1', 'coherence') }]);
  assert.ok(Math.abs(s! - 98.9) < 1e-9);
  assert.equal(seen.at(-1)!.prompt, COHERENCE_PROMPT_CHAT.replace('{question}', 'Q1').replace('{answer}', 'an answer'));
  assert.ok(judgePrompt({ ...req('Q2', 'coherence'), modelKind: 'base' }).includes('[CONTINUATION START]\nan answer\n[CONTINUATION END]'));
  assert.ok(COHERENCE_PROMPT_BASE.includes('I prompted the model the following:'));
});

test('refusal-dominated first token → null score', async () => {
  assert.deepEqual(await judge().score([req('refusal')]), [null]);
});

test('429 twice then success: retried with backoff; 500 once then success', async () => {
  const retries: string[] = [];
  const j = judge({ onRetry: (i) => retries.push(i.reason) });
  const s = await j.score([req('flaky429'), req('flaky500')]);
  assert.ok(Math.abs(s[0]! - EXPECTED_85) < 1e-9 && Math.abs(s[1]! - EXPECTED_85) < 1e-9);
  assert.deepEqual(retries.sort(), ['judge-rate-limited', 'judge-rate-limited', 'judge-server-error']);
  assert.equal(attempts.get('flaky429'), 3);
});

test('timeout is retried', async () => {
  const retries: string[] = [];
  const s = await judge({ timeoutMs: 300, onRetry: (i) => retries.push(i.reason) }).score([req('slow')]);
  assert.ok(Math.abs(s[0]! - EXPECTED_85) < 1e-9);
  assert.deepEqual(retries, ['judge-timeout']);
});

test('persistent 429 gives up with reason judge-rate-limited after maxRetries', async () => {
  await assert.rejects(judge({ maxRetries: 2 }).score([req('always429')]), (e) => PipelineError.is(e, 'judge-rate-limited'));
  assert.equal(attempts.get('always429'), 3);
});

test('no logprobs → clear judge-no-logprobs error, not retried', async () => {
  await assert.rejects(judge().score([req('nolp')]), (e) => PipelineError.is(e, 'judge-no-logprobs') && /logprobs/.test((e as Error).message));
  assert.equal(attempts.get('nolp'), 1);
});

test('401 → judge-auth, not retried', async () => {
  await assert.rejects(judge().score([req('auth')]), (e) => PipelineError.is(e, 'judge-auth'));
  assert.equal(attempts.get('auth'), 1);
});

test('bounded concurrency', async () => {
  maxInFlight = 0;
  const reqs = Array.from({ length: 10 }, (_, i) => req(`par${i}`));
  await judge({ concurrency: 3 }).score(reqs);
  assert.ok(maxInFlight <= 3 && maxInFlight >= 2, `max in flight ${maxInFlight}`);
});

test('persistent cache: a rerun costs nothing; usage counts tokens and cost', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pl-judge-cache-'));
  try {
    const reqs = [req('cache-a'), req('cache-b'), req('cache-a2', 'coherence')];
    const j1 = judge({ cacheDir: dir });
    const first = await j1.score(reqs);
    const u1 = j1.usage();
    assert.equal(u1.requests, 3);
    assert.equal(u1.promptTokens, 312 + 312 + 400);
    assert.ok(Math.abs(u1.costUsd - ((312 + 312 + 400) * 0.4 + 3 * 1.6) / 1e6) < 1e-12);
    const before = seen.length;
    const j2 = judge({ cacheDir: dir });
    assert.deepEqual(await j2.score(reqs), first);
    assert.equal(seen.length, before, 'no HTTP request on rerun');
    assert.equal(j2.usage().cached, 3);
    assert.equal(j2.usage().requests, 0);
    // a different judge model misses the cache
    const j3 = judge({ cacheDir: dir, model: 'other-judge' });
    await j3.score([req('cache-a')]);
    assert.equal(j3.usage().requests, 1);
  } finally { rmSync(dir, { recursive: true, force: true }); }
});
