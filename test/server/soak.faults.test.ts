/**
 * Steering server soak, loopback only: many concurrent clients for a while, each looping over a seeded mix of valid
 * requests (plain and streamed), malformed JSON, oversized bodies and streams the client abandons after the first
 * chunk. The server must stay up, answer every valid request, refuse the bad ones with 400 / 413, keep its memory
 * flat (RSS at start and end reported), and cancel in the worker the rows of a client that disconnected (counted
 * as generate calls the worker ended with 'cancelled'). Reduced: 50 clients × 10 s; PERSONA_LAB_FAULTS_FULL=1:
 * 200 clients × 60 s.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import v8 from 'node:v8';
import vm from 'node:vm';
import { InferenceClient, workerReason } from '../../src/engine/client.js';
import type { ModelInfo } from '../../src/engine/protocol.js';
import { startSteeringServer, type SteeringServer } from '../../src/server/server.js';
import { prng } from '../helpers/fault-judge-server.js';

const FULL = process.env.PERSONA_LAB_FAULTS_FULL === '1';
const CLIENTS = Number(process.env.PERSONA_LAB_SOAK_CLIENTS ?? (FULL ? 200 : 50));
const SECONDS = Number(process.env.PERSONA_LAB_SOAK_SECONDS ?? (FULL ? 60 : 10));
const root = path.resolve(import.meta.dirname, '..', '..');
const MODEL = path.join(root, 'models', 'toy-persona', 'revisions', 'main');
const available = existsSync(path.join(MODEL, 'config.json'));
const MAX_BODY = 64 * 1024;
// A full GC before each RSS reading, so the figures compare live memory rather than garbage not yet collected.
v8.setFlagsFromString('--expose_gc');
const gc = vm.runInNewContext('gc') as () => void;
const mbOf = (b: number) => (b / 2 ** 20).toFixed(0);

let client: InferenceClient;
let info: ModelInfo;
let server: SteeringServer;
let cancelled = 0, generateCalls = 0;

before(async () => {
  if (!available) return;
  client = await InferenceClient.start({ threads: 1 });
  info = await client.loadModel({ path: MODEL, threads: 1 });
  // The real client, with generate() counted: a call the worker ends with 'cancelled' stopped its rows early.
  const counted = Object.create(client) as InferenceClient;
  counted.generate = async (p, o) => {
    generateCalls++;
    try { return await client.generate(p, o); } catch (e) { if (workerReason(e) === 'cancelled') cancelled++; throw e; }
  };
  server = await startSteeringServer({ client: counted, model: info, servedName: 'toy-persona', maxBodyBytes: MAX_BODY });
});
after(async () => { await server?.close(); await client?.dispose(); });

const chat = (extra: Record<string, unknown> = {}) => JSON.stringify({ model: 'toy-persona', messages: [{ role: 'user', content: 'how do i clean a hat ?' }], max_tokens: 4, ...extra });

type Kind = 'valid' | 'valid-stream' | 'malformed' | 'oversized' | 'disconnect';
interface Tally { sent: Record<Kind, number>; ok: Record<Kind, number>; failures: string[] }

async function one(url: string, kind: Kind, seed: number, t: Tally): Promise<void> {
  t.sent[kind]++;
  const post = (body: string, signal?: AbortSignal) => fetch(`${url}/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body, signal });
  try {
    if (kind === 'valid') {
      const r = await post(chat({ seed }));
      const j = await r.json() as { choices?: { message?: { content?: string } }[] };
      if (r.status === 200 && typeof j.choices?.[0]?.message?.content === 'string') t.ok[kind]++; else t.failures.push(`valid → ${r.status} ${JSON.stringify(j).slice(0, 120)}`);
    } else if (kind === 'valid-stream') {
      const r = await post(chat({ seed, stream: true }));
      const text = await r.text();
      if (r.status === 200 && text.includes('data: [DONE]')) t.ok[kind]++; else t.failures.push(`stream → ${r.status} ${text.slice(0, 120)}`);
    } else if (kind === 'malformed') {
      const r = await post('{"model": "toy-persona", "messages": [');
      await r.text();
      if (r.status === 400) t.ok[kind]++; else t.failures.push(`malformed → ${r.status}`);
    } else if (kind === 'oversized') {
      const r = await post(chat({ pad: 'x'.repeat(MAX_BODY + 1024) }));
      await r.text();
      if (r.status === 413) t.ok[kind]++; else t.failures.push(`oversized → ${r.status}`);
    } else {
      const ac = new AbortController();
      const r = await post(chat({ seed, stream: true, max_tokens: 64, min_tokens: 64 }), ac.signal);
      const reader = r.body!.getReader();
      await reader.read(); // the first chunk, then the client goes away
      ac.abort();
      t.ok[kind]++;
    }
  } catch (e) {
    // A refused oversized body may reset the connection before the 413 is read; that is a refusal too.
    if (kind === 'oversized' && /fetch failed|socket|ECONNRESET|EPIPE/i.test(String((e as Error).message) + String((e as { cause?: unknown }).cause))) { t.ok[kind]++; return; }
    if (kind === 'disconnect' && (e as Error).name === 'AbortError') { t.ok[kind]++; return; }
    t.failures.push(`${kind} threw ${(e as Error).message} ${String((e as { cause?: unknown }).cause ?? '')}`);
  }
}

test(`soak: ${CLIENTS} concurrent clients × ${SECONDS} s of valid, malformed, oversized and abandoned requests`, { timeout: (SECONDS + 300) * 1000 }, async (t) => {
  if (!available) { t.skip(`toy model not found at ${MODEL}`); return; }
  const url = server.url;
  const kinds: Kind[] = ['valid', 'valid', 'valid', 'valid-stream', 'malformed', 'oversized', 'disconnect'];
  const tally: Tally = { sent: { valid: 0, 'valid-stream': 0, malformed: 0, oversized: 0, disconnect: 0 }, ok: { valid: 0, 'valid-stream': 0, malformed: 0, oversized: 0, disconnect: 0 }, failures: [] };
  // Warm-up, then the starting RSS.
  await one(url, 'valid', 0, { sent: { ...tally.sent }, ok: { ...tally.ok }, failures: [] });
  gc();
  const rssStart = process.memoryUsage().rss;
  const heapStart = process.memoryUsage().heapUsed;
  const end = Date.now() + SECONDS * 1000;
  // RSS and live heap sampled through the soak: a leak grows with time, an allocator's high-water mark does not.
  const samples: string[] = [];
  const sampler = setInterval(() => { gc(); const m = process.memoryUsage(); samples.push(`${mbOf(m.rss)}/${mbOf(m.heapUsed)}`); }, Math.max(1000, SECONDS * 200));
  await Promise.all(Array.from({ length: CLIENTS }, async (_, c) => {
    const rnd = prng(1000 + c);
    for (let k = 0; Date.now() < end; k++) await one(url, kinds[Math.floor(rnd() * kinds.length)], c * 100_000 + k, tally);
  }));
  clearInterval(sampler);
  const models = await fetch(`${url}/models`);
  assert.equal(models.status, 200, 'the server is still up');
  await models.text();
  gc();
  const rssEnd = process.memoryUsage().rss;
  const heapEnd = process.memoryUsage().heapUsed;
  const mb = mbOf;
  const sent = Object.values(tally.sent).reduce((a, b) => a + b, 0);
  t.diagnostic(`soak: ${CLIENTS} clients × ${SECONDS} s: ${sent} requests ${JSON.stringify(tally.sent)}, handled as expected ${JSON.stringify(tally.ok)}; ` +
    `worker generate calls ${generateCalls}, cancelled in the worker ${cancelled} (an abandoned request still queued is dropped before it reaches the worker; one batched with a live client's runs on); server RSS ${mb(rssStart)} → ${mb(rssEnd)} MiB, live heap ${mb(heapStart)} → ${mb(heapEnd)} MiB (RSS/heap during: ${samples.join(', ')})`);
  assert.deepEqual(tally.failures.slice(0, 10), [], `${tally.failures.length} unexpected outcomes`);
  assert.deepEqual(tally.ok, tally.sent, 'every valid request answered, every bad one refused');
  assert.ok(tally.sent.valid > 0 && tally.sent.disconnect > 0 && tally.sent.oversized > 0 && tally.sent.malformed > 0);
  assert.ok(rssEnd < rssStart * 1.5 + 96 * 2 ** 20, `RSS ${mb(rssStart)} → ${mb(rssEnd)} MiB`);
  assert.ok(heapEnd < heapStart + 32 * 2 ** 20, `live heap ${mb(heapStart)} → ${mb(heapEnd)} MiB: requests leave memory behind`);
});

test('a client that disconnects mid-stream: its rows are cancelled in the worker', { timeout: 120_000 }, async (t) => {
  if (!available) { t.skip(`toy model not found at ${MODEL}`); return; }
  const before = cancelled;
  const ac = new AbortController();
  const r = await fetch(`${server.url}/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: chat({ stream: true, max_tokens: 200, min_tokens: 200, n: 16, seed: 1 }), signal: ac.signal });
  const reader = r.body!.getReader();
  await reader.read();
  await reader.read();
  ac.abort();
  const deadline = Date.now() + 30_000;
  while (cancelled === before && Date.now() < deadline) await new Promise((res) => setTimeout(res, 50));
  assert.equal(cancelled, before + 1, 'the worker ended the abandoned request as cancelled');
  // The worker is free again: a valid request is answered.
  const ok = await fetch(`${server.url}/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: chat() });
  assert.equal(ok.status, 200);
  await ok.text();
});
