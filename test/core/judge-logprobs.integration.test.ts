/**
 * The LLM judge's top-logprob distribution behind each score is kept in the run's judgements.jsonl (`probs`), over real
 * HTTP against a server replaying the recorded OpenAI payload (test/fixtures/judge/trait-85.json), and the Judge
 * Results panel's data (src/extension/panels/judgeData.ts) shows it per row: tokens most likely first, the number each
 * reads as, and the numeric mass — whose weighted mean is the recorded score.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LlmJudge, aggregate0to100 } from '../../src/core/judge/llm.js';
import { generateAndJudge } from '../../src/core/rows.js';
import { RunStore, type JudgementRecord } from '../../src/core/storage/run.js';
import { Workspace } from '../../src/core/storage/workspace.js';
import type { ModelHandle } from '../../src/core/backend.js';
import { distribution, loadJudgeView } from '../../src/extension/panels/judgeData.js';

const fixtures = path.join(import.meta.dirname, '..', 'fixtures', 'judge');
let server: http.Server;
let baseURL = '';
let requests = 0;
let tmp = '';

before(async () => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'pl-logprobs-'));
  server = http.createServer((req, res) => {
    let data = '';
    req.on('data', (c) => (data += c));
    req.on('end', () => {
      requests++;
      const prompt = (JSON.parse(data) as { messages: { content: string }[] }).messages[0].content;
      const file = prompt.startsWith('I am evaluating a different language model') ? 'coherence-98.json' : 'trait-85.json';
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(readFileSync(path.join(fixtures, file)));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  baseURL = `http://127.0.0.1:${(server.address() as { port: number }).port}/v1`;
});
after(() => { server.closeAllConnections(); server.close(); rmSync(tmp, { recursive: true, force: true }); });

/** The generation side is not under test here: a backend that answers every row with a fixed text (the judge is real HTTP). */
const model: ModelHandle = {
  name: 'fixture', revision: 'main',
  info: { modelId: 'm', hasChatTemplate: true } as ModelHandle['info'],
  backend: { generate: async (r: { rows: unknown[] }) => ({ rows: r.rows.map(() => ({ promptText: 'p', text: 'an answer', finishReason: 'stop', tokenIds: [1, 2] })) }) } as unknown as ModelHandle['backend'],
};

test('judgements.jsonl keeps the judge\'s first-token probabilities, and the panel shows them with the score they give', async () => {
  const ws = new Workspace(path.join(tmp, 'ws'));
  const run = RunStore.open(ws, 'evaluate', { stage: 'evaluate', test: 'logprobs' }, 'evaluate-logprobs');
  const judge = new LlmJudge({ baseURL, model: 'gpt-4.1-mini-2025-04-14', apiKey: 'test', cacheDir: ws.judgeCacheDir });
  const rows = [0, 1].map((i) => ({ key: `baseline|evil_${i}#0`, prompt: { messages: [{ role: 'user' as const, content: `q${i}` }] }, question: `question ${i}`, seed: i }));
  await generateAndJudge(rows, { model, judge, run, sampling: { temperature: 1, maxNewTokens: 8 } as never, trait: 'evil', evalPrompt: 'Rate evil.\n{question}\n{answer}' });
  const recs = readFileSync(path.join(run.dir, 'judgements.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as JudgementRecord);
  assert.equal(recs.length, 4);
  for (const r of recs) {
    assert.ok(r.probs && Object.keys(r.probs).length > 1, `${r.metric} ${r.key} has no distribution`);
    assert.equal(r.score, aggregate0to100(r.probs), 'the recorded score is the distribution\'s weighted mean');
  }
  const trait = recs.find((r) => r.metric === 'trait')!;
  assert.ok(Math.abs(trait.probs!['85'] - 0.6) < 1e-9, 'p("85") of the recorded payload');

  // A second judge over the same cache sends nothing and still delivers the distribution.
  const before = requests;
  const details: (Record<string, number> | undefined)[] = [];
  const again = new LlmJudge({ baseURL, model: 'gpt-4.1-mini-2025-04-14', apiKey: 'test', cacheDir: ws.judgeCacheDir });
  await again.score([{ metric: 'trait', trait: 'evil', evalPrompt: 'Rate evil.\n{question}\n{answer}', modelKind: 'chat', question: 'question 0', answer: 'an answer' }],
    { onResult: (_i, _s, d) => details.push(d?.probs) });
  assert.equal(requests, before, 'served from the cache');
  assert.deepEqual(details[0], trait.probs);

  const view = loadJudgeView(run.dir);
  assert.equal(view.rows.length, 2);
  const d = view.rows[0].logprobs?.trait;
  assert.ok(d, 'the row carries the trait distribution');
  assert.equal(d.tokens[0].token, '85');
  assert.equal(d.tokens[0].value, 85);
  for (let i = 1; i < d.tokens.length; i++) assert.ok(d.tokens[i - 1].p >= d.tokens[i].p, 'most likely first');
  const weighted = d.tokens.reduce((a, t) => a + (t.value !== null ? t.p * t.value : 0), 0) / d.mass;
  assert.ok(Math.abs(weighted - view.rows[0].trait!) < 1e-9, 'the panel\'s numbers give the row\'s score');
  assert.ok(view.rows[0].logprobs?.coherence, 'and the coherence distribution');
});

test('distribution(): most likely first (ties by token); tokens that are not whole numbers 0..100 read as null and carry no mass', () => {
  const d = distribution({ ' 50': 0.2, '100': 0.1, 'REFUSAL': 0.6, '150': 0.1 });
  assert.deepEqual(d.tokens.map((t) => [t.token, t.value]), [['REFUSAL', null], [' 50', 50], ['100', 100], ['150', null]]);
  assert.ok(Math.abs(d.mass - 0.3) < 1e-12);
});

test('a rubric-judged run (no probs) has rows without a distribution', () => {
  const ws = new Workspace(path.join(tmp, 'ws2'));
  const run = RunStore.open(ws, 'evaluate', { stage: 'evaluate', test: 'rubric' }, 'evaluate-rubric');
  run.appendGenerations([{ key: 'baseline|evil_0#0', prompt: { messages: [] }, promptText: 'p', question: 'q', seed: 0, answer: 'a', finishReason: 'stop', tokens: 1 } as never]);
  run.appendJudgements([{ key: 'baseline|evil_0#0', metric: 'trait', score: 12 }]);
  const view = loadJudgeView(run.dir);
  assert.equal(view.rows[0].trait, 12);
  assert.equal(view.rows[0].logprobs, undefined);
});
