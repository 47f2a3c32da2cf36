/**
 * The LLM-judge code path driving a real extraction: the toy model in the real worker, judged through the
 * OpenAI wire format by a node:http server on 127.0.0.1 that plays a logprob-returning judge (it reads the
 * answer out of the rendered prompt and puts most of the first-token mass on the toy rubric's score).
 * Checks the request shape end to end, per-run usage in the manifest, and that a rerun in a fresh run costs
 * zero requests (persistent cache) and yields a byte-identical vector.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { InferenceClient } from '../../src/engine/client.js';
import { LlmJudge } from '../../src/core/judge/llm.js';
import { RubricJudge } from '../../src/core/judge/rubric.js';
import { identifyModel } from '../../src/core/models.js';
import { runExtraction } from '../../src/core/jobs/pipeline.js';
import { SAMPLER_PRESETS } from '../../src/core/sampling.js';
import { Workspace } from '../../src/core/storage/workspace.js';
import { loadTraitFile } from '../../src/core/traits/load.js';
import { readVectorFile } from '../../src/core/vectors/file.js';

const root = path.resolve(import.meta.dirname, '..', '..');
const MODEL = process.env.PERSONA_LAB_E2E_MODEL ?? path.join(root, 'models', 'toy-persona', 'revisions', 'main');
const available = existsSync(path.join(MODEL, 'config.json'));

let server: http.Server;
let baseURL = '';
let requests = 0;
let tmp = '';
const rubric = available ? new RubricJudge() : undefined;

before(async () => {
  if (!available) return;
  tmp = mkdtempSync(path.join(os.tmpdir(), 'pl-llm-e2e-'));
  server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      requests++;
      const b = JSON.parse(body);
      const prompt: string = b.messages[0].content;
      const bad = b.max_tokens !== 1 || b.temperature !== 0 || b.logprobs !== true || b.top_logprobs !== 20 || b.messages.length !== 1;
      const answer = /\[ANSWER START\]\n([\s\S]*)\n\[ANSWER END\]/.exec(prompt)?.[1] ?? '';
      const trait = /displays the trait: \*\*(\w+)\*\*/.exec(prompt)?.[1];
      const score = Math.round(trait ? rubric!.scoreOne('trait', trait, answer) : rubric!.scoreOne('coherence', '', answer));
      const top = [{ token: String(score), logprob: Math.log(0.9) }, { token: 'REFUSAL', logprob: Math.log(0.05) }, { token: String(score === 100 ? 99 : score + 1), logprob: Math.log(0.05) }];
      res.writeHead(bad ? 400 : 200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(bad ? { error: { message: 'unexpected judge request', type: 'invalid_request_error' } } : {
        id: `chatcmpl-${requests}`, object: 'chat.completion', created: 1, model: 'toy-judge',
        choices: [{ index: 0, message: { role: 'assistant', content: top[0].token }, finish_reason: 'length', logprobs: { content: [{ token: top[0].token, logprob: top[0].logprob, top_logprobs: top }] } }],
        usage: { prompt_tokens: 250, completion_tokens: 1, total_tokens: 251 },
      }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  baseURL = `http://127.0.0.1:${(server.address() as { port: number }).port}/v1`;
});
after(() => { server?.closeAllConnections(); server?.close(); if (tmp) rmSync(tmp, { recursive: true, force: true }); });

test('extraction judged by an OpenAI-compatible judge over HTTP; rerun served from the cache', { timeout: 180_000 }, async (t) => {
  if (!available) { t.skip(`toy model not found at ${MODEL}`); return; }
  const client = await InferenceClient.start({ threads: 2 });
  try {
    const info = await client.loadModel({ path: MODEL, threads: 2 });
    const id = identifyModel(MODEL);
    const model = { backend: client, info, name: id.name, revision: id.revision };
    const ws = new Workspace(tmp);
    const traitFile = loadTraitFile(path.join(root, 'models', 'toy-persona', 'traits', 'extract', 'humorous.json'), { requireInstruction: true });
    const judge = () => new LlmJudge({ baseURL, model: 'toy-judge', apiKey: 'test', concurrency: 8, cacheDir: ws.judgeCacheDir, pricing: { inputPerMTok: 1, outputPerMTok: 2 } });
    const job = { ws, model, trait: 'humorous', traitFile, sampling: SAMPLER_PRESETS.toy, seed: 0, samples: 1, maxQuestions: 6 };
    const rows = 6 * 5 * 2;
    const first = await runExtraction({ ...job, judge: judge(), runId: 'llm-first' });
    assert.equal(first.result.status, 'ok', JSON.stringify(first.result.filter));
    assert.equal(requests, 2 * rows);
    const usage = first.run.manifest.judgeUsage!;
    assert.equal(usage.requests, 2 * rows);
    assert.equal(usage.promptTokens, 250 * 2 * rows);
    assert.ok(Math.abs(usage.costUsd - (250 * 1 + 2) * 2 * rows / 1e6) < 1e-12);
    const vec1 = readVectorFile(ws.vectorPath(id.name, id.revision, 'humorous'));

    const second = await runExtraction({ ...job, judge: judge(), runId: 'llm-second' });
    assert.equal(requests, 2 * rows, 'the rerun sent no request');
    assert.equal(second.run.manifest.judgeUsage!.cached, 2 * rows);
    // Same vector; only the metadata's extraction_run differs (explicit run ids here).
    const vec2 = readVectorFile(ws.vectorPath(id.name, id.revision, 'humorous'));
    assert.deepEqual(vec2.data, vec1.data);
    assert.deepEqual({ ...vec2.metadata, extraction_run: '' }, { ...vec1.metadata, extraction_run: '' });
    t.diagnostic(`kept ${first.result.filter.pairs_kept}/${first.result.filter.pairs_total} pairs with the HTTP judge`);
  } finally { await client.dispose(); }
});
