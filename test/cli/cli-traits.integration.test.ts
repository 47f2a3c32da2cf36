/** The persona-lab CLI as scripts see it: spawned, exit codes, --json on stdout, progress on stderr. */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { cli } from './helpers.js';

const root = path.resolve(import.meta.dirname, '..', '..');
const upstream = path.resolve(root, '..', 'shared', 'upstream-trait-data');

let tmp = '';
before(() => { tmp = mkdtempSync(path.join(os.tmpdir(), 'pl-cli-')); });
after(() => rmSync(tmp, { recursive: true, force: true }));

test('traits validate: upstream folder → exit 0 and JSON report', async (t) => {
  if (!existsSync(upstream)) { t.skip('../shared/upstream-trait-data is absent'); return; }
  const r = await cli(['traits', 'validate', upstream, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.equal(j.ok, true);
  assert.equal(j.files.length, 36);
});

test('traits validate: a bad file → exit 1 naming the field', async () => {
  const f = path.join(tmp, 'bad.json');
  writeFileSync(f, JSON.stringify({ questions: ['q'], eval_prompt: 'no placeholders' }));
  const r = await cli(['traits', 'validate', f]);
  assert.equal(r.code, 1);
  assert.match(r.stdout, /INVALID .*bad\.json/);
  assert.match(r.stdout, /\$\.eval_prompt: must contain \{question\}/);
});

test('usage errors → exit 2', async () => {
  assert.equal((await cli(['traits', 'validate'])).code, 2);
  const r = await cli(['grid', '--trait', 'evil', '--layers', 'x', '--model', tmp]);
  assert.equal(r.code, 2);
  assert.equal((await cli(['no-such-command'])).code, 2);
});

// A chat model speaking the OpenAI wire format: first a malformed answer, then a valid trait.
let server: http.Server;
let baseURL = '';
let calls = 0;
before(async () => {
  const good = {
    instruction: Array.from({ length: 5 }, (_, i) => ({ pos: `Be gloomy in way ${i}.`, neg: `Be cheerful in way ${i}.` })),
    questions: Array.from({ length: 40 }, (_, i) => `How was day ${i}?`),
    eval_prompt: "You are evaluating whether the model's response displays the trait: **gloomy**. Gloomy answers expect the worst.\n\nPrompt:\n[QUESTION START]\n{question}\n[QUESTION END]\n\nModel response:\n[ANSWER START]\n{answer}\n[ANSWER END]\n\nRespond with a number between 0 and 100. Don't say anything else, just the number.",
  };
  server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      calls++;
      const msgs = JSON.parse(body).messages;
      const content = msgs.length === 1 ? '```json\n{"instruction": [], "questions": ["only one"]}\n```' : JSON.stringify(good);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ id: 'chatcmpl-gen', object: 'chat.completion', created: 1, model: 'gen-model',
        choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop', logprobs: null }], usage: { prompt_tokens: 900, completion_tokens: 1500, total_tokens: 2400 } }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  baseURL = `http://127.0.0.1:${(server.address() as { port: number }).port}/v1`;
});
after(() => { server.closeAllConnections(); server.close(); });

test('traits generate: retries malformed output, writes extract/eval files that validate', async () => {
  const ws = path.join(tmp, 'ws');
  const r = await cli(['traits', 'generate', '--name', 'gloomy', '--description', 'expects the worst', '--base-url', baseURL, '--model', 'gen-model', '--workspace', ws, '--json'], { OPENAI_API_KEY: 'test' });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout).attempts, 2);
  assert.match(r.stderr, /attempt 1: .*exactly 5 pairs/);
  assert.equal(calls, 2);
  const ex = JSON.parse(readFileSync(path.join(ws, 'traits/extract/gloomy.json'), 'utf8'));
  const ev = JSON.parse(readFileSync(path.join(ws, 'traits/eval/gloomy.json'), 'utf8'));
  assert.equal(ex.questions[0], 'How was day 0?');
  assert.equal(ev.questions[0], 'How was day 20?');
  assert.equal(ex.questions.length + ev.questions.length, 40);
  assert.equal((await cli(['traits', 'validate', path.join(ws, 'traits')])).code, 0);
});
