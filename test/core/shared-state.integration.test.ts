// Shared state under concurrent writers (Slurm array tasks on one workspace): the judge cache and file locks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import os from 'node:os';
import path from 'node:path';
import { JudgeCache } from '../../src/core/judge/cache.js';
import { acquireLock, withLock } from '../../src/core/storage/lock.js';
import { PipelineError } from '../../src/core/errors.js';

const tmp = () => mkdtempSync(path.join(os.tmpdir(), 'pl-shared-'));
const writer = path.join(import.meta.dirname, 'helpers', 'judge-cache-writer.ts');

function runHelper(script: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--import', 'tsx', script, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    p.on('error', reject);
    p.on('exit', (code) => (code === 0 ? resolve(out.trim()) : reject(new Error(`${path.basename(script)} exited ${code}`))));
  });
}
const runWriter = async (dir: string, from: number, to: number) => Number(await runHelper(writer, [dir, String(from), String(to)]));

test('judge cache: 4 processes writing overlapping keys lose, tear and duplicate nothing', async () => {
  const dir = tmp();
  try {
    // Writer w covers keys [150w, 150w + 300): every key but the first and last 150 is written by two processes.
    const wrote = await Promise.all([0, 1, 2, 3].map((w) => runWriter(dir, 150 * w, 150 * w + 300)));
    const file = path.join(dir, 'judge_model.jsonl');
    const text = readFileSync(file, 'utf8');
    assert.ok(text.endsWith('\n'));
    const lines = text.slice(0, -1).split('\n');
    const keys = lines.map((l) => (JSON.parse(l) as { k: string }).k); // every line parses: nothing torn or fused
    assert.equal(new Set(keys).size, keys.length, 'no key appended twice');
    assert.equal(keys.length, 750, 'every key present');
    // Writers 0 and 3 each have 150 keys no other writer has; the others' keys are all shared.
    assert.ok(wrote[0] >= 150 && wrote[3] >= 150 && wrote.reduce((a, b) => a + b, 0) >= 750, `puts per writer: ${wrote.join(', ')}`);
    const cache = new JudgeCache(dir, 'judge/model');
    assert.equal(cache.size, 750);
    assert.deepEqual(cache.get('key-640'), { k: 'key-640', score: 640 % 101, probs: { [String(640 % 101)]: 1, pad: 640 / 7 } });
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test('judge cache: a torn tail from a crashed writer is cut under the lock; a corrupt middle line is skipped, not truncated away', () => {
  const dir = tmp();
  try {
    const a = new JudgeCache(dir, 'm');
    a.put({ k: 'a', score: 1 });
    appendFileSync(a.file, 'garbage\n{"k":"b","score":2}\n{"k":"c","sco');
    const b = new JudgeCache(dir, 'm');
    assert.equal(b.get('b')?.score, 2);
    assert.equal(b.get('c'), undefined);
    b.put({ k: 'd', score: 4 });
    assert.equal(readFileSync(a.file, 'utf8'), '{"k":"a","score":1}\ngarbage\n{"k":"b","score":2}\n{"k":"d","score":4}\n');
    assert.equal(a.get('d')?.score, 4, 'another instance sees entries appended since it last read');
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test('lock: a live holder is waited for and named on timeout; a dead holder\'s lock and an old one are taken over', () => {
  const dir = tmp();
  try {
    const f = path.join(dir, 'x.lock');
    const release = acquireLock(f);
    assert.throws(() => acquireLock(f, { timeoutMs: 50 }), (e: unknown) => PipelineError.is(e, 'locked') && new RegExp(`pid ${process.pid} on ${hostname()}`).test((e as Error).message));
    release();
    assert.equal(existsSync(f), false);
    // A holder that died (a pid that exited) on this host.
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString();
    writeFileSync(f, JSON.stringify({ host: hostname(), pid: Number(dead), at: new Date().toISOString() }));
    assert.equal(withLock(f, () => 7, { timeoutMs: 2000 }), 7);
    // A holder on another host: judged by age only.
    writeFileSync(f, JSON.stringify({ host: 'elsewhere', pid: 1, at: '2020-01-01T00:00:00Z' }));
    assert.throws(() => acquireLock(f, { timeoutMs: 50, staleMs: 60_000 }), /pid 1 on elsewhere/);
    const old = (Date.now() - 120_000) / 1000;
    utimesSync(f, old, old);
    assert.equal(withLock(f, () => 8, { timeoutMs: 2000, staleMs: 60_000 }), 8);
    assert.equal(existsSync(f), false);
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test('judge --judge-rate-limit: requests from one process are spaced 60 s / N apart however many run in parallel', { timeout: 30_000 }, async () => {
  const { LlmJudge } = await import('../../src/core/judge/llm.js');
  const { judgeSpecFor } = await import('../../src/core/jobs/defaults.js');
  const reply = readFileSync(path.join(import.meta.dirname, '..', 'fixtures', 'judge', 'trait-85.json'), 'utf8');
  const arrivals: number[] = [];
  const http = await import('node:http');
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => { arrivals.push(performance.now()); res.writeHead(200, { 'content-type': 'application/json' }); res.end(reply); });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  try {
    const baseURL = `http://127.0.0.1:${(server.address() as { port: number }).port}/v1`;
    const spec = judgeSpecFor({ 'judge-base-url': baseURL, 'judge-rate-limit': 600, 'no-judge-cache': true }, false, {});
    assert.equal(spec?.kind === 'openai' && spec.requestsPerMinute, 600, 'the option reaches the judge spec');
    const j = new LlmJudge({ baseURL, model: 'm', apiKey: 'k', concurrency: 8, requestsPerMinute: 600 });
    await Promise.all([0, 1, 2, 3, 4].map((i) => j.scoreOne(`prompt ${i}`)));
    assert.equal(arrivals.length, 5);
    // 600/min = one request per 100 ms: 8 may run at once, but each starts 100 ms after the previous one.
    // Arrivals carry socket set-up jitter (a late first request, two close together), so the bound is on the span: 4 slots
    // of 100 ms less 100 ms of slack. Unpaced, the 5 parallel requests arrive within a few ms of each other.
    const span = arrivals[4] - arrivals[0];
    assert.ok(span >= 300, `5 requests arrived within ${span.toFixed(0)} ms`);
  } finally { server.closeAllConnections(); server.close(); }
});

test('compile cache: 3 processes compiling the same checkpoint into an empty cache at once all get the one valid entry', { timeout: 120_000 }, async (t) => {
  const toyMain = path.join(import.meta.dirname, '..', '..', 'models', 'toy-persona', 'revisions', 'main');
  if (!existsSync(path.join(toyMain, 'config.json'))) { t.skip('toy model absent'); return; }
  const dir = tmp();
  try {
    const outs = (await Promise.all([0, 1, 2].map(() => runHelper(path.join(import.meta.dirname, 'helpers', 'compile-writer.ts'), [toyMain, dir]))))
      .map((o) => JSON.parse(o) as { key: string; onnxPath: string });
    assert.equal(new Set(outs.map((o) => o.key)).size, 1);
    assert.deepEqual(readdirSync(dir), [outs[0].key], 'one entry, no temporary folders left behind');
    for (const o of outs) assert.ok(existsSync(o.onnxPath));
    assert.ok(JSON.parse(readFileSync(path.join(dir, outs[0].key, 'meta.json'), 'utf8')).key === outs[0].key);
  } finally { rmSync(dir, { recursive: true, force: true }); }
});
