/**
 * --scaling and --vector-key on the steering-evaluation commands, as a script drives them (the CLI from source, the real
 * worker, the toy model, the fixture vector test/fixtures/vectors/toy-persona-main-sycophantic.safetensors):
 *   - `evaluate --scaling unit` runs, writes scaling_mode=unit in combined.csv, makes its own run, and its steered
 *     answers differ from raw's (coef·v̂ instead of coef·v) while the unsteered baseline is the same;
 *   - the raw run's config names neither scaling nor key (so raw run ids are what they were);
 *   - the same row under another tensor name (--vector-key) gives the same answers as the original file;
 *   - refused before any model load, exit 2, no run folder: a wrong --vector-key (naming the tensors found), a layer
 *     outside 0..L,
 *     --scaling target-norm without --target-norm, unit scaling at an all-zero row (evaluate, and every --layers row
 *     of a grid), and a sweep whose --scaling contradicts its --transfer-scaling.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { writeSafetensors } from '../../src/engine/weights/safetensors.js';
import { readCsv } from '../../src/core/storage/csv.js';
import { readVectorFile, writeVectorFile } from '../../src/core/vectors/file.js';
import { cli } from './helpers.js';

const root = path.resolve(import.meta.dirname, '..', '..');
const FIXTURE = path.join(root, 'test', 'fixtures', 'vectors', 'toy-persona-main-sycophantic.safetensors');
const skip = !existsSync(path.join(root, 'models', 'toy-persona', 'revisions', 'main', 'config.json')) && 'toy model not found';

const csv = (file: string) => readCsv(readFileSync(file, 'utf8'));
const answers = (runDir: string, name: string) => csv(path.join(runDir, name)).map((r) => r.answer);
const runsOf = (ws: string) => (existsSync(path.join(ws, 'runs')) ? readdirSync(path.join(ws, 'runs')) : []);

test('evaluate --scaling unit and --vector-key on the toy model', { skip, timeout: 600_000 }, async (t) => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'pl-scaling-cli-'));
  t.after(() => rmSync(tmp, { recursive: true, force: true }));
  const ws = path.join(tmp, 'ws');
  const base = ['evaluate', '--trait', 'sycophantic', '--layer', '4', '--coef', '3', '--max-questions', '3', '--samples', '1', '--workspace', ws, '--json'];

  const raw = await cli([...base, '--vector', FIXTURE]);
  assert.equal(raw.code, 0, raw.stderr);
  const rawOut = JSON.parse(raw.stdout) as { runId: string; runDir: string };
  const rawConfig = JSON.parse(readFileSync(path.join(rawOut.runDir, 'manifest.json'), 'utf8')).config as Record<string, unknown>;
  assert.equal('scaling' in rawConfig, false, 'a raw run records no scaling (its id is the one it always had)');
  assert.equal('vectorKey' in rawConfig, false);
  assert.deepEqual(csv(path.join(rawOut.runDir, 'combined.csv')).map((r) => r.scaling_mode), ['raw']);

  const unit = await cli([...base, '--vector', FIXTURE, '--scaling', 'unit']);
  assert.equal(unit.code, 0, unit.stderr);
  const unitOut = JSON.parse(unit.stdout) as { runId: string; runDir: string };
  assert.notEqual(unitOut.runId, rawOut.runId, 'unit scaling is its own run');
  assert.deepEqual(JSON.parse(readFileSync(path.join(unitOut.runDir, 'manifest.json'), 'utf8')).config.scaling, { mode: 'unit' });
  const combined = csv(path.join(unitOut.runDir, 'combined.csv'));
  assert.deepEqual(combined.map((r) => [r.mode, r.layer, r.coef, r.scaling_mode]), [['steer', '4', '3', 'unit']]);
  const steerCsv = 'steer_L4_c3_sycophantic.csv';
  assert.deepEqual(answers(unitOut.runDir, 'baseline_sycophantic.csv'), answers(rawOut.runDir, 'baseline_sycophantic.csv'), 'the unsteered baseline is the same');
  assert.notDeepEqual(answers(unitOut.runDir, steerCsv), answers(rawOut.runDir, steerCsv), '3·v̂ (norm 3) steers differently from 3·v (norm 11.4)');

  // The same response_avg row stored under another name, picked with --vector-key: the same answers as the original.
  const v = readVectorFile(FIXTURE);
  const keyed = path.join(tmp, 'other-project.safetensors');
  writeSafetensors(keyed, { 'persona.sycophantic': { dtype: 'F32', shape: [v.layers, v.hidden], data: v.data.response_avg! } }, {});
  const byKey = await cli([...base, '--vector', keyed, '--vector-key', 'persona.sycophantic', '--scaling', 'unit']);
  assert.equal(byKey.code, 0, byKey.stderr);
  const byKeyOut = JSON.parse(byKey.stdout) as { runId: string; runDir: string };
  assert.equal(JSON.parse(readFileSync(path.join(byKeyOut.runDir, 'manifest.json'), 'utf8')).config.vectorKey, 'persona.sycophantic');
  assert.deepEqual(answers(byKeyOut.runDir, steerCsv), answers(unitOut.runDir, steerCsv));

  // Refusals: exit 2 before the model loads, nothing written. A fresh workspace shows that no run folder appears.
  const ws2 = path.join(tmp, 'ws2');
  const refused = async (args: string[], pattern: RegExp, what: string) => {
    const r = await cli([...args, '--workspace', ws2]);
    assert.equal(r.code, 2, `${what}: exit 2 (${r.stderr})`);
    assert.match(r.stderr, pattern, what);
    assert.doesNotMatch(r.stderr, /loading toy-persona/, `${what}: refused before the model loads`);
    assert.deepEqual(runsOf(ws2), [], `${what}: no run folder`);
  };
  const small = ['--trait', 'sycophantic', '--max-questions', '1', '--samples', '1'];
  await refused(['evaluate', ...small, '--layer', '4', '--coef', '3', '--vector', keyed, '--vector-key', 'bogus'],
    /no tensor "bogus" \(--vector-key\); it has: persona\.sycophantic/, 'a wrong --vector-key');
  await refused(['evaluate', ...small, '--layer', '4', '--coef', '3', '--vector', keyed], /pick it with --vector-key/, 'a foreign tensor name without --vector-key');
  await refused(['evaluate', ...small, '--layer', '4', '--coef', '3', '--vector', FIXTURE, '--scaling', 'target-norm'], /--target-norm N/, 'target-norm without N');
  await refused(['evaluate', ...small, '--layer', '9', '--coef', '3', '--vector', FIXTURE], /layer 9 is outside 0\.\.4/, 'a layer the vector does not have');
  const zero = v.data.response_avg!.slice();
  zero.fill(0, 4 * v.hidden, 5 * v.hidden);
  const zeroed = path.join(tmp, 'zero-row4.safetensors');
  writeVectorFile(zeroed, { ...v, data: { response_avg: zero } });
  await refused(['evaluate', ...small, '--layer', '4', '--coef', '3', '--vector', zeroed, '--scaling', 'unit'], /row 4 \(layer 4\) is all zeros, so unit scaling would divide by a zero norm/, 'unit at a zero row');
  await refused(['grid', ...small, '--layers', '3,4', '--coefs', '2', '--vector', zeroed, '--scaling', 'target-norm', '--target-norm', '5'], /row 4 \(layer 4\) is all zeros/, 'a grid row that is zero');
  await refused(['controls', ...small, '--layer', '4', '--coef', '3', '--vector', keyed, '--vector-key', 'bogus'], /it has: persona\.sycophantic/, 'controls with a wrong key');
  await refused(['sweep', '--trait', 'evil', '--revisions', 'main', '--scaling', 'unit', '--transfer-to', path.join(root, 'models', 'toy-persona-instruct')],
    /--scaling unit and --transfer-scaling match-target both set the transferred vector's norm/, 'sweep: --scaling against --transfer-scaling');
  assert.equal(existsSync(path.join(ws2, 'runs')), false);
});
