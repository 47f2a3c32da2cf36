/**
 * Judge faults: the LLM judge against a local fault-injecting OpenAI-compatible server (test/helpers/fault-judge-server.ts).
 * 429 with and without Retry-After, 500/502/503, timeouts, connection resets, malformed JSON, replies without
 * logprobs mid-run and streams that stall or trickle are retried with backoff and jitter up to the limit and counted by
 * reason; every prompt is answered once by the server (nothing judged twice) and every score arrives (nothing dropped).
 * Then a real extraction (toy model, real worker) judged through the faulty server: the same judgements as through a
 * clean one, and the fault counts in the run manifest. PERSONA_LAB_FAULTS_FULL=1 runs more prompts and seeds.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { judgePrompt, LlmJudge, retryAfterMs } from '../../../src/core/judge/llm.js';
import { PipelineError } from '../../../src/core/errors.js';
import { isCancellation } from '../../../src/engine/errors.js';
import { FAULTS, hashScore, seededPlan, startFaultJudge, type Fault } from '../../helpers/fault-judge-server.js';

const FULL = process.env.PERSONA_LAB_FAULTS_FULL === '1';
const root = path.resolve(import.meta.dirname, '..', '..', '..');
const MODEL = path.join(root, 'models', 'toy-persona', 'revisions', 'main');

/** Which judge reason each injected fault must be retried under. */
const REASON: Record<Exclude<Fault, 'slow'>, string> = {
  '429': 'judge-rate-limited', '429-retry-after': 'judge-rate-limited', '500': 'judge-server-error', '502': 'judge-server-error',
  '503': 'judge-server-error', timeout: 'judge-timeout', stall: 'judge-timeout', reset: 'judge-connection',
  malformed: 'judge-malformed-response', 'no-logprobs': 'judge-no-logprobs',
};

const expectedScore = (prompt: string) => {
  // The server's top-3: s (0.9), REFUSAL (0.05), s+1 (0.05, or 99 when s = 100) → weighted mean over the integer mass.
  const s = hashScore(prompt), t = s === 100 ? 99 : s + 1;
  return (s * 0.9 + t * 0.05) / 0.95;
};

/**
 * Per-attempt timeout of the test's judge: what turns an injected 'timeout' / 'stall' into a retry. It must also be
 * longer than any stall of this process's event loop, since after a stall timers run before I/O and a reply already
 * received would count as a real timeout (and be answered twice). 2 s holds on a quiet machine; the full counts run
 * for many minutes, often beside other heavy work (2 cores at load 25–30 stalled past 2 s: 19 extra timeouts, one
 * prompt answered twice), so they wait 6 s.
 */
const ATTEMPT_TIMEOUT_MS = FULL ? 6000 : 2000;
const fastJudge = (baseURL: string, extra: Partial<ConstructorParameters<typeof LlmJudge>[0]> = {}) =>
  new LlmJudge({ baseURL, model: 'fault-judge', apiKey: 'test', concurrency: 8, maxRetries: 6, backoffMs: 2, maxBackoffMs: 20, timeoutMs: ATTEMPT_TIMEOUT_MS, ...extra });

test('every fault kind, seeded: retried and counted by reason; nothing judged twice, nothing dropped', { timeout: FULL ? 900_000 : 120_000 }, async (t) => {
  const seeds = FULL ? [1, 2, 3, 4, 5, 6, 7, 8, 9, 10] : [1, 2];
  const prompts = FULL ? 400 : 120;
  let injectedTotal = 0, lost = 0, duplicated = 0;
  for (const seed of seeds) {
    const plan = seededPlan(seed, { rate: 0.35, maxInARow: 4 });
    // The first `concurrency` requests succeed, so the judge has seen logprobs before any reply without them.
    const server = await startFaultJudge({ plan: (n, p) => (n < 8 ? null : plan(n, p)) });
    try {
      const judge = fastJudge(server.baseURL);
      const requests = Array.from({ length: prompts }, (_, i) => ({ metric: 'coherence' as const, trait: 'x', modelKind: 'chat' as const, question: `question ${seed}/${i}`, answer: 'a' }));
      const delivered = new Map<number, number>();
      const scores = await judge.score(requests, { onResult: (i) => delivered.set(i, (delivered.get(i) ?? 0) + 1) });
      assert.equal(server.stats.answered.size, prompts, 'every prompt answered');
      for (const n of server.stats.answered.values()) if (n !== 1) duplicated++;
      lost += prompts - delivered.size;
      assert.equal([...delivered.values()].every((n) => n === 1), true, 'each score delivered once');
      requests.forEach((r, i) => assert.ok(Math.abs(scores[i]! - expectedScore(judgePrompt(r))) < 1e-9, `score of ${r.question}`));
      const faults = judge.usage().faults ?? {};
      const want: Record<string, number> = {};
      for (const [k, n] of Object.entries(server.stats.injected)) if (k !== 'slow') want[REASON[k as Exclude<Fault, 'slow'>]] = (want[REASON[k as Exclude<Fault, 'slow'>]] ?? 0) + n!;
      assert.deepEqual(faults, want, 'retries by reason = faults injected by kind');
      assert.equal(judge.usage().requests, server.stats.requests);
      if (seed === 1) for (const k of FAULTS) assert.ok((server.stats.injected[k] ?? 0) > 0, `fault ${k} injected`);
      injectedTotal += Object.values(server.stats.injected).reduce((a, n) => a + n!, 0);
      t.diagnostic(`seed ${seed}: ${server.stats.requests} requests for ${prompts} prompts, injected ${JSON.stringify(server.stats.injected)}`);
    } finally { await server.close(); }
  }
  t.diagnostic(`faults injected ${injectedTotal} over ${seeds.length} seeds; judgements lost ${lost}, duplicated ${duplicated}`);
  assert.equal(lost, 0);
  assert.equal(duplicated, 0);
});

test('a persistent fault gives up after maxRetries with the reason, and counts it', { timeout: 30_000 }, async () => {
  const server = await startFaultJudge({ plan: () => '503' });
  try {
    const delays: number[] = [];
    const judge = fastJudge(server.baseURL, { maxRetries: 3, backoffMs: 40, maxBackoffMs: 1000, onRetry: (i) => delays.push(i.delayMs) });
    await assert.rejects(judge.scoreOne('p'), (e) => PipelineError.is(e, 'judge-server-error') && /gave up after 4 attempts/.test((e as Error).message));
    assert.equal(server.stats.requests, 4);
    assert.deepEqual(judge.usage().faults, { 'judge-server-error': 3, 'gave-up': 1 });
    // Exponential backoff with ±25 % jitter: 40, 80, 160 ms.
    delays.forEach((d, i) => assert.ok(d >= 0.75 * 40 * 2 ** i && d <= 1.25 * 40 * 2 ** i, `delay ${i}: ${d}`));
  } finally { await server.close(); }
});

test('jitter: concurrent retries of one attempt do not all wait the same time', { timeout: 30_000 }, async () => {
  const seen = new Set<string>();
  const server = await startFaultJudge({ plan: (_n, p) => (seen.has(p) ? null : (seen.add(p), '500')) });
  try {
    const delays: number[] = [];
    const judge = fastJudge(server.baseURL, { concurrency: 16, backoffMs: 50, onRetry: (i) => delays.push(i.delayMs) });
    await Promise.all(Array.from({ length: 16 }, (_, i) => judge.scoreOne(`p${i}`)));
    assert.equal(delays.length, 16);
    assert.ok(new Set(delays).size > 4, `delays ${delays.join(',')}`);
  } finally { await server.close(); }
});

test('Retry-After is honoured (seconds, retry-after-ms, HTTP date)', async () => {
  const h = (o: Record<string, string>) => new Headers(o);
  assert.equal(retryAfterMs(h({ 'retry-after': '2' })), 2000);
  assert.equal(retryAfterMs(h({ 'retry-after-ms': '150', 'retry-after': '9' })), 150);
  assert.equal(retryAfterMs(h({ 'retry-after': new Date(10_000 + 3000).toUTCString() }), 10_000), 3000);
  assert.equal(retryAfterMs(h({ 'retry-after': 'soon' })), undefined);
  assert.equal(retryAfterMs(h({})), undefined);
  const server = await startFaultJudge({ plan: (n) => (n === 0 ? '429-retry-after' : null) });
  try {
    const delays: number[] = [];
    const judge = fastJudge(server.baseURL, { backoffMs: 5000, onRetry: (i) => delays.push(i.delayMs) });
    await judge.scoreOne('p');
    assert.deepEqual(delays, [0], 'Retry-After: 0 → no backoff wait');
  } finally { await server.close(); }
});

test('no logprobs on the first reply is a wrong endpoint (not retried); mid-run it is a transient fault', { timeout: 30_000 }, async () => {
  const server = await startFaultJudge({ plan: () => 'no-logprobs' });
  try {
    await assert.rejects(fastJudge(server.baseURL).scoreOne('p'), (e) => PipelineError.is(e, 'judge-no-logprobs') && /must support logprobs/.test((e as Error).message));
    assert.equal(server.stats.requests, 1);
  } finally { await server.close(); }
});

test('cancelling during a retry wait stops at once, as a cancellation', { timeout: 30_000 }, async () => {
  const server = await startFaultJudge({ plan: () => '503' });
  try {
    const ac = new AbortController();
    const judge = fastJudge(server.baseURL, { backoffMs: 60_000, maxBackoffMs: 60_000, onRetry: () => setTimeout(() => ac.abort(), 20) });
    const t0 = Date.now();
    await assert.rejects(judge.scoreOne('p', ac.signal), (e) => isCancellation(e));
    assert.ok(Date.now() - t0 < 5000);
  } finally { await server.close(); }
});

test('extraction judged through the faulty server: same judgements as a clean judge, faults by reason in the manifest', { timeout: FULL ? 600_000 : 300_000 }, async (t) => {
  if (!existsSync(path.join(MODEL, 'config.json'))) { t.skip(`toy model not found at ${MODEL}`); return; }
  const { InferenceClient } = await import('../../../src/engine/client.js');
  const { identifyModel } = await import('../../../src/core/models.js');
  const { runExtraction } = await import('../../../src/core/jobs/pipeline.js');
  const { SAMPLER_PRESETS } = await import('../../../src/core/sampling.js');
  const { Workspace } = await import('../../../src/core/storage/workspace.js');
  const { loadTraitFile } = await import('../../../src/core/traits/load.js');
  const { RubricJudge } = await import('../../../src/core/judge/rubric.js');
  const rubric = new RubricJudge();
  // The toy rubric's score read out of the rendered prompt, as in test/core/judge-llm-http.integration.test.ts.
  const score = (prompt: string) => {
    const answer = /\[ANSWER START\]\n([\s\S]*)\n\[ANSWER END\]/.exec(prompt)?.[1] ?? '';
    const trait = /displays the trait: \*\*(\w+)\*\*/.exec(prompt)?.[1];
    return trait ? rubric.scoreOne('trait', trait, answer) : rubric.scoreOne('coherence', '', answer);
  };
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'pl-judge-faults-'));
  const plan = seededPlan(7, { rate: 0.3, maxInARow: 3 });
  const faulty = await startFaultJudge({ score, plan: (n, p) => (n < 8 ? null : plan(n, p)) });
  const clean = await startFaultJudge({ score });
  const client = await InferenceClient.start({ threads: 2 });
  try {
    const info = await client.loadModel({ path: MODEL, threads: 2 });
    const id = identifyModel(MODEL);
    const model = { backend: client, info, name: id.name, revision: id.revision };
    const traitFile = loadTraitFile(path.join(root, 'models', 'toy-persona', 'traits', 'extract', 'humorous.json'), { requireInstruction: true });
    const job = { model, trait: 'humorous', traitFile, sampling: SAMPLER_PRESETS.toy, seed: 0, samples: 1, maxQuestions: FULL ? 12 : 4 };
    const rows = job.maxQuestions * 5 * 2;
    const a = await runExtraction({ ...job, ws: new Workspace(path.join(tmp, 'clean')), judge: fastJudge(clean.baseURL), runId: 'r' });
    const b = await runExtraction({ ...job, ws: new Workspace(path.join(tmp, 'faulty')), judge: fastJudge(faulty.baseURL), runId: 'r' });
    const read = (ws: string, f: string) => readFileSync(path.join(tmp, ws, 'runs', 'r', f), 'utf8');
    const sorted = (s: string) => s.split('\n').filter(Boolean).sort();
    assert.deepEqual(sorted(read('faulty', 'judgements.jsonl')), sorted(read('clean', 'judgements.jsonl')));
    assert.equal(sorted(read('faulty', 'judgements.jsonl')).length, 2 * rows, 'no judgement lost or duplicated');
    for (const [p, n] of faulty.stats.answered) assert.equal(n, 1, `judged twice: ${p.slice(0, 60)}`);
    assert.equal(a.result.status, b.result.status);
    const manifest = JSON.parse(read('faulty', 'manifest.json'));
    const want: Record<string, number> = {};
    for (const [k, n] of Object.entries(faulty.stats.injected)) if (k !== 'slow') want[REASON[k as Exclude<Fault, 'slow'>]] = (want[REASON[k as Exclude<Fault, 'slow'>]] ?? 0) + n!;
    assert.ok(Object.keys(want).length > 0, 'faults were injected');
    assert.deepEqual(manifest.judgeUsage.faults, want);
    assert.equal(JSON.parse(read('clean', 'manifest.json')).judgeUsage.faults, undefined, 'a clean run records no faults');
    t.diagnostic(`extraction: ${2 * rows} judgements, ${faulty.stats.requests} requests, injected ${JSON.stringify(faulty.stats.injected)}, manifest faults ${JSON.stringify(manifest.judgeUsage.faults)}`);
  } finally {
    await client.dispose(); await faulty.close(); await clean.close();
    rmSync(tmp, { recursive: true, force: true });
  }
});
