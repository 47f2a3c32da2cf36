/**
 * API keys never leave the environment: the CLI runs a real extraction with an LLM judge (a local OpenAI-compatible
 * server that checks the Bearer key and plays a logprob judge) under a sentinel key, and afterwards nothing it wrote —
 * workspace (runs, manifests, judge cache, vectors), compile cache, stdout, stderr with --verbose — holds the key. The
 * server proves the key was really used. A judge that echoes the key in its 401 error does not get it printed either.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { RubricJudge } from '../../src/core/judge/rubric.js';
import { cli } from './helpers.js';

const root = path.resolve(import.meta.dirname, '..', '..');
const skip = !existsSync(path.join(root, 'models', 'toy-persona', 'revisions', 'main', 'config.json')) && 'toy model not found';
const SENTINEL = 'sk-sentinel-7f3a9c1e5b2d4086a1f0c3e8d9b7a6f5';

let tmp = '';
let server: http.Server;
let baseURL = '';
const seen: string[] = [];
let echoKey = false;

function files(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((n) => { const p = path.join(dir, n); return statSync(p).isDirectory() ? files(p) : [p]; });
}

before(async () => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'pl-keys-'));
  const rubric = new RubricJudge();
  server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const auth = req.headers.authorization ?? '';
      seen.push(auth);
      if (echoKey || auth !== `Bearer ${SENTINEL}`) {
        res.writeHead(401, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { message: `Incorrect API key provided: ${auth.replace(/^Bearer /, '')}.`, type: 'invalid_request_error', code: 'invalid_api_key' } }));
        return;
      }
      const prompt: string = JSON.parse(body).messages[0].content;
      const answer = /\[ANSWER START\]\n([\s\S]*)\n\[ANSWER END\]/.exec(prompt)?.[1] ?? '';
      const trait = /displays the trait: \*\*(\w+)\*\*/.exec(prompt)?.[1];
      const score = Math.round(trait ? rubric.scoreOne('trait', trait, answer) : rubric.scoreOne('coherence', '', answer));
      const top = [{ token: String(score), logprob: Math.log(0.95) }, { token: 'REFUSAL', logprob: Math.log(0.05) }];
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ id: 'c', object: 'chat.completion', created: 1, model: 'toy-judge',
        choices: [{ index: 0, message: { role: 'assistant', content: top[0].token }, finish_reason: 'length', logprobs: { content: [{ token: top[0].token, logprob: top[0].logprob, top_logprobs: top }] } }],
        usage: { prompt_tokens: 250, completion_tokens: 1, total_tokens: 251 } }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  baseURL = `http://127.0.0.1:${(server.address() as { port: number }).port}/v1`;
});
after(() => { server?.closeAllConnections(); server?.close(); if (tmp) rmSync(tmp, { recursive: true, force: true }); });

test('an extraction judged with a sentinel key writes the key nowhere (workspace, caches, manifests, logs)', { skip, timeout: 300_000 }, async () => {
  const ws = path.join(tmp, 'ws'), cache = path.join(tmp, 'cache');
  const r = await cli(['extract', '--trait', 'evil', '--judge-base-url', baseURL, '--judge-model', 'toy-judge', '--max-questions', '1', '--samples', '1',
    '--workspace', ws, '--verbose', '--json'], { OPENAI_API_KEY: SENTINEL, PERSONA_LAB_CACHE: cache });
  assert.ok(r.code === 0 || r.code === 3, `extract ran to the end (exit ${r.code}): ${r.stderr}`);
  assert.ok(seen.length > 0 && seen.every((a) => a === `Bearer ${SENTINEL}`), 'the judge got the key on every request');
  const written = [...files(ws), ...files(cache)];
  assert.ok(written.some((f) => f.endsWith('manifest.json')) && written.some((f) => f.includes('judge')), `a manifest and the judge cache were written: ${written.join(', ')}`);
  for (const f of written) assert.ok(!readFileSync(f).includes(SENTINEL), `${f} holds the key`);
  assert.ok(!r.stdout.includes(SENTINEL) && !r.stderr.includes(SENTINEL), 'stdout/stderr hold the key');
});

test('a judge error that echoes the key is reported without it', { skip, timeout: 300_000 }, async () => {
  echoKey = true;
  const ws = path.join(tmp, 'ws-401'), cache = path.join(tmp, 'cache');
  const r = await cli(['extract', '--trait', 'evil', '--judge-base-url', baseURL, '--judge-model', 'toy-judge', '--max-questions', '1', '--samples', '1',
    '--workspace', ws, '--verbose', '--no-judge-cache'], { OPENAI_API_KEY: SENTINEL, PERSONA_LAB_CACHE: cache });
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /401|API key/i);
  assert.ok(!r.stdout.includes(SENTINEL) && !r.stderr.includes(SENTINEL), `the key was printed: ${r.stderr.split('\n').filter((l) => l.includes(SENTINEL)).join(' | ')}`);
  for (const f of files(ws)) assert.ok(!readFileSync(f).includes(SENTINEL), `${f} holds the key`);
});
