/** Upstream .pt vectors in the CLI: export ours as .pt, steer with a .pt exactly as with the safetensors, refuse a vector of another model. */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gaussian } from '../../src/core/rng.js';
import { readVectorFile, vectorRow, writeVectorFile } from '../../src/core/vectors/file.js';
import { cli } from './helpers.js';

const root = path.resolve(import.meta.dirname, '..', '..');
const toyMain = path.join(root, 'models', 'toy-persona', 'revisions', 'main');
const olmo = path.resolve(root, '..', 'shared', 'upstream-vectors', 'pretraining_persona', 'data', 'persona_vectors', 'Olmo-3-1025-7B', 'main', 'evil_character_neutral_q_response_avg_diff.pt');

let tmp = '', vec = '';
before(() => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'pl-cli-pt-'));
  vec = path.join(tmp, 'evil.safetensors');
  const g = (seed: number) => gaussian(5 * 128, seed).map((x) => 0.3 * x);
  writeVectorFile(vec, { layers: 5, hidden: 128, data: { response_avg: g(1), prompt_avg: g(2), prompt_last: g(3) }, metadata: { trait: 'evil' } });
});
after(() => rmSync(tmp, { recursive: true, force: true }));

test('vectors export: upstream file names, same float32 rows when read back; --kind all writes three', async () => {
  const r = await cli(['vectors', 'export', vec, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const pt = path.join(tmp, 'evil_response_avg_diff.pt');
  assert.deepEqual(JSON.parse(r.stdout).files, [pt]);
  const a = readVectorFile(vec), b = readVectorFile(pt);
  assert.equal(b.layers, 5);
  assert.deepEqual(b.data.response_avg, a.data.response_avg);
  assert.throws(() => vectorRow(b, 'prompt_last', 2), /has no prompt_last vector \(it has: response_avg\); pass --kind response_avg/);
  const all = await cli(['vectors', 'export', vec, '--kind', 'all', '--out', path.join(tmp, 'all'), '--json']);
  assert.equal(all.code, 0, all.stderr);
  assert.deepEqual(JSON.parse(all.stdout).files.map((f: string) => path.basename(f)), ['evil_prompt_avg_diff.pt', 'evil_response_avg_diff.pt', 'evil_prompt_last_diff.pt']);
  assert.deepEqual(readVectorFile(path.join(tmp, 'all', 'evil_prompt_last_diff.pt')).data.prompt_last, a.data.prompt_last);
});

test('generate steers with a .pt vector exactly as with the same safetensors vector (toy model)', async (t) => {
  if (!existsSync(path.join(toyMain, 'config.json'))) { t.skip('toy model absent'); return; }
  const args = ['generate', '--prompt', 'how do i clean a hat ?', '--layer', '3', '--coef', '4', '--n', '2', '--workspace', tmp, '--json'];
  const st = await cli([...args, '--vector', vec]);
  const pt = await cli([...args, '--vector', path.join(tmp, 'evil_response_avg_diff.pt')]);
  const plain = await cli(['generate', '--prompt', 'how do i clean a hat ?', '--n', '2', '--workspace', tmp, '--json']);
  assert.equal(st.code, 0, st.stderr);
  assert.equal(pt.code, 0, pt.stderr);
  assert.deepEqual(JSON.parse(pt.stdout), JSON.parse(st.stdout));
  assert.notDeepEqual(JSON.parse(plain.stdout).answers, JSON.parse(st.stdout).answers, 'the steering must change the answers for this test to mean anything');
});

test('a vector made for another model (OLMo-3-7B [33, 4096] on the toy) is refused before the model loads (exit 2) and says why', async (t) => {
  if (!existsSync(olmo) || !existsSync(path.join(toyMain, 'config.json'))) { t.skip('upstream vectors or toy model absent'); return; }
  const r = await cli(['generate', '--prompt', 'hi', '--vector', olmo, '--layer', '2', '--coef', '1', '--workspace', tmp]);
  assert.equal(r.code, 2, r.stderr);
  assert.doesNotMatch(r.stderr, /loading /, 'the shape is checked from config.json before the worker starts');
  assert.match(r.stderr, /is \[33, 4096\] but toy-persona takes \[5, 128\].*made for a different model/);
});
