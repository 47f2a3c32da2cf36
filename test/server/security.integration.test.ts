/**
 * The steering server's locks, over real HTTP on the toy model and the real worker: loopback by default and a Bearer
 * key for anything else, browser origins refused unless configured, a DNS-rebound Host refused, bounded bodies, n and
 * max_tokens, and vector paths confined to the served folders (`../`, absolute paths, symlinks out).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { InferenceClient } from '../../src/engine/client.js';
import type { ModelInfo } from '../../src/engine/protocol.js';
import { writeVectorFile } from '../../src/core/vectors/file.js';
import { isLoopback, startSteeringServer, ServerConfigError, type SteeringServer } from '../../src/server/server.js';
import { cli } from '../cli/helpers.js';

const root = path.resolve(import.meta.dirname, '..', '..');
const MODEL = path.join(root, 'models', 'toy-persona', 'revisions', 'main');
const available = existsSync(path.join(MODEL, 'config.json'));
const skip = !available && 'toy model not found';

let client: InferenceClient;
let info: ModelInfo;
let server: SteeringServer;
let tmp = '';
let served = '';
let outside = '';
const KEY = 'sentinel-server-key-0123456789';

/** A raw HTTP request (fetch cannot set Host): status, headers and the parsed body. */
function request(url: string, opts: { method?: string; headers?: Record<string, string>; body?: unknown } = {}): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: { error?: { message: string; param?: string | null } } & Record<string, unknown> }> {
  const u = new URL(url);
  const data = opts.body === undefined ? undefined : typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: u.hostname, port: u.port, path: u.pathname, method: opts.method ?? (data ? 'POST' : 'GET'),
      headers: { 'content-type': 'application/json', ...(data ? { 'content-length': Buffer.byteLength(data) } : {}), ...opts.headers } }, (res) => {
      let text = '';
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text ? JSON.parse(text) : {} }));
    });
    req.on('error', reject);
    req.end(data);
  });
}

const chat = (extra: Record<string, unknown> = {}) => ({ model: 'toy-persona', messages: [{ role: 'user', content: 'how do i clean a hat ?' }], max_tokens: 4, temperature: 0, seed: 1, ...extra });
const steer = (vector: string) => chat({ steering: [{ vector, layer: 4, coef: 2 }] });

before(async () => {
  if (!available) return;
  tmp = mkdtempSync(path.join(os.tmpdir(), 'pl-security-'));
  served = path.join(tmp, 'served');
  outside = path.join(tmp, 'outside');
  mkdirSync(served);
  mkdirSync(outside);
  client = await InferenceClient.start({ threads: 1 });
  info = await client.loadModel({ path: MODEL, threads: 1 });
  const { numLayers: L, hiddenSize: H } = info.config;
  const data = new Float32Array((L + 1) * H).map((_, i) => Math.sin(i + 1));
  writeVectorFile(path.join(served, 'ok.safetensors'), { layers: L + 1, hidden: H, data: { response_avg: data }, metadata: {} });
  writeVectorFile(path.join(outside, 'secret.safetensors'), { layers: L + 1, hidden: H, data: { response_avg: data }, metadata: {} });
  symlinkSync(path.join(outside, 'secret.safetensors'), path.join(served, 'link.safetensors'));
  server = await startSteeringServer({ client, model: info, servedName: 'toy-persona', vectorDirs: [served], allowedOrigins: ['http://localhost:5173'] });
});
after(async () => {
  await server?.close();
  await client?.dispose();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

test('loopback addresses are told apart from the rest', () => {
  for (const h of ['127.0.0.1', '127.1.2.3', '::1', '[::1]', 'localhost', 'LOCALHOST', 'a.localhost', '::ffff:127.0.0.1']) assert.ok(isLoopback(h), h);
  for (const h of ['0.0.0.0', '::', '192.168.1.2', '10.0.0.1', 'example.com', 'localhost.example.com', '']) assert.ok(!isLoopback(h), h);
});

test('a vector path can only name a file inside a served folder: ../, absolute paths and symlinks out are refused', { skip }, async () => {
  const ok = await request(`${server.url}/chat/completions`, { body: steer('ok.safetensors') });
  assert.equal(ok.status, 200, JSON.stringify(ok.body));
  const okAbs = await request(`${server.url}/chat/completions`, { body: steer(path.join(served, 'ok.safetensors')) });
  assert.equal(okAbs.status, 200, JSON.stringify(okAbs.body));
  for (const bad of ['../outside/secret.safetensors', path.join(outside, 'secret.safetensors'), `${served}/../outside/secret.safetensors`,
    'link.safetensors', '/etc/passwd', '../../../../../../etc/passwd', 'missing.safetensors']) {
    const r = await request(`${server.url}/chat/completions`, { body: steer(bad) });
    assert.equal(r.status, 400, `${bad}: ${JSON.stringify(r.body)}`);
    assert.equal(r.body.error?.param, 'steering[0].vector');
    assert.match(r.body.error!.message, /registered vector/);
  }
  // With no served folder, paths are refused outright and the message says how to allow them.
  const closed = await startSteeringServer({ client, model: info, servedName: 'toy-persona' });
  try {
    const r = await request(`${closed.url}/chat/completions`, { body: steer(path.join(served, 'ok.safetensors')) });
    assert.equal(r.status, 400);
    assert.match(r.body.error!.message, /--vector-dir/);
  } finally { await closed.close(); }
});

test('a browser Origin is refused unless configured; the configured one gets CORS headers', { skip }, async () => {
  const evil = await request(`${server.url}/chat/completions`, { body: chat(), headers: { origin: 'https://evil.example' } });
  assert.equal(evil.status, 403);
  assert.match(evil.body.error!.message, /origin "https:\/\/evil.example" are refused.*--allow-origin/);
  const models = await request(`${server.url}/models`, { headers: { origin: 'null' } });
  assert.equal(models.status, 403, 'a sandboxed page (Origin: null) is a browser too');
  const pre = await request(`${server.url}/chat/completions`, { method: 'OPTIONS', headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' } });
  assert.equal(pre.status, 403);
  const good = await request(`${server.url}/chat/completions`, { body: chat(), headers: { origin: 'http://localhost:5173' } });
  assert.equal(good.status, 200);
  assert.equal(good.headers['access-control-allow-origin'], 'http://localhost:5173');
  const goodPre = await request(`${server.url}/chat/completions`, { method: 'OPTIONS', headers: { origin: 'http://localhost:5173', 'access-control-request-method': 'POST' } });
  assert.equal(goodPre.status, 204);
});

test('a request addressed to another host name (DNS rebinding) is refused on a keyless loopback server', { skip }, async () => {
  const r = await request(`${server.url}/models`, { headers: { host: 'attacker.example:80' } });
  assert.equal(r.status, 403);
  assert.match(r.body.error!.message, /Host header/);
  assert.equal((await request(`${server.url}/models`, { headers: { host: `localhost:${server.port}` } })).status, 200);
});

test('bodies, n, max_tokens and steering specs are bounded', { skip }, async () => {
  const small = await startSteeringServer({ client, model: info, servedName: 'toy-persona', maxBodyBytes: 1024 });
  try {
    const big = await request(`${small.url}/chat/completions`, { body: chat({ messages: [{ role: 'user', content: 'x'.repeat(4096) }] }) });
    assert.equal(big.status, 413);
  } finally { await small.close(); }
  const n = await request(`${server.url}/chat/completions`, { body: chat({ n: 65 }) });
  assert.equal(n.status, 400);
  assert.equal(n.body.error?.param, 'n');
  const tokens = await request(`${server.url}/chat/completions`, { body: chat({ max_tokens: info.config.maxPositions + 1 }) });
  assert.equal(tokens.status, 400);
  assert.match(tokens.body.error!.message, new RegExp(`1\\.\\.${info.config.maxPositions}`));
  const specs = await request(`${server.url}/chat/completions`, { body: chat({ steering: Array.from({ length: 17 }, () => ({ vector: 'ok.safetensors', layer: 4, coef: 1 })) }) });
  assert.equal(specs.status, 400);
});

test('another address needs an API key; with one, every request needs the Bearer key', { skip }, async () => {
  await assert.rejects(startSteeringServer({ client, model: info, host: '0.0.0.0' }), (e) => e instanceof ServerConfigError && /API key/.test(e.message));
  const open = await startSteeringServer({ client, model: info, servedName: 'toy-persona', host: '0.0.0.0', apiKey: KEY });
  try {
    const url = `http://127.0.0.1:${open.port}/v1`;
    assert.equal((await request(`${url}/models`)).status, 401);
    const wrong = await request(`${url}/chat/completions`, { body: chat(), headers: { authorization: 'Bearer wrong-key-0123456789' } });
    assert.equal(wrong.status, 401);
    assert.ok(!JSON.stringify(wrong.body).includes(KEY), 'the key is never echoed');
    const right = await request(`${url}/chat/completions`, { body: chat(), headers: { authorization: `Bearer ${KEY}` } });
    assert.equal(right.status, 200, JSON.stringify(right.body));
  } finally { await open.close(); }
});

test('persona-lab serve --host 0.0.0.0 without a key exits 2 before loading a model; --vector-dir must exist', { skip, timeout: 60_000 }, async () => {
  const ws = path.join(tmp, 'ws');
  const r = await cli(['serve', '--host', '0.0.0.0', '--port', '0', '--workspace', ws], { PERSONA_LAB_API_KEY: '' });
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /--host 0\.0\.0\.0 exposes the server.*\$PERSONA_LAB_API_KEY/);
  assert.doesNotMatch(r.stderr, /loading|at .*\.ts:\d+/);
  const d = await cli(['serve', '--port', '0', '--workspace', ws, '--vector-dir', path.join(tmp, 'nope')]);
  assert.equal(d.code, 2, d.stderr);
  assert.match(d.stderr, /--vector-dir .*nope does not exist/);
  assert.ok(!existsSync(ws), 'nothing written');
});
