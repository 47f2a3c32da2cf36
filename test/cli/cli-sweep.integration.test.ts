/**
 * persona-lab sweep on the toy organism: an untrained checkpoint keeps no pairs (a nonextractable row, the sweep
 * goes on), main gets a vector that steers; one table with upstream's columns and Bonferroni over the tested
 * checkpoints; geometry over the revisions with vectors; a rerun resumes everything.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SIGNIFICANCE_COLUMNS } from '../../src/core/evaluation/report.js';
import { parseSimpleCsv } from '../../src/core/geometry/csv.js';
import { readCsv } from '../../src/core/storage/csv.js';
import { InferenceClient } from '../../src/engine/client.js';
import { decodeF32 } from '../../src/engine/protocol.js';
import { cli } from './helpers.js';

const root = path.resolve(import.meta.dirname, '..', '..');
const available = existsSync(path.join(root, 'models', 'toy-persona', 'revisions', 'main', 'config.json'));
let tmp = '';
before(() => { tmp = mkdtempSync(path.join(os.tmpdir(), 'pl-sweep-')); });
after(() => rmSync(tmp, { recursive: true, force: true }));

const args = () => ['sweep', '--trait', 'sycophantic', '--revisions', 'stage1-step0,stage1-step550,main', '--max-questions', '6', '--workspace', tmp, '--json'];

test('sweep: nonextractable early checkpoint, steering at trained ones, Bonferroni over tested checkpoints, geometry, resume', { timeout: 300_000 }, async (t) => {
  if (!available) { t.skip('toy model absent'); return; }
  const t0 = Date.now();
  const r = await cli(args());
  assert.equal(r.code, 0, r.stderr);
  const first = Date.now() - t0;
  const j = JSON.parse(r.stdout);
  const rows = j.rows as Record<string, unknown>[];
  assert.deepEqual(rows.map((x) => x.eval_revision), ['stage1-step0', 'stage1-step550', 'main']);
  assert.equal(rows[0].vector_status, 'nonextractable');
  assert.match(String(rows[0].status), /^nonextractable: /);
  assert.equal(rows[0].trait_primary_p_two_sided_bonferroni_within_trait, null);
  for (const row of rows.slice(1)) {
    assert.equal(row.vector_status, 'ok');
    assert.equal(row.layer, 4);
    assert.equal(row.coef, 3, 'the toy manifest\'s recommended sycophantic point');
    // two tested checkpoints → m = 2
    const p = row.trait_primary_p_two_sided as number, pb = row.trait_primary_p_two_sided_bonferroni_within_trait as number;
    assert.ok(Math.abs(pb - Math.min(1, 2 * p)) < 1e-12, `Bonferroni m = 2: ${p} → ${pb}`);
  }
  t.diagnostic(`Δτ: step550 ${rows[1].delta_trait_mean}, main ${rows[2].delta_trait_mean}; ${first} ms`);
  assert.ok((rows[2].delta_trait_mean as number) > 20, 'main steers');
  const table = parseSimpleCsv(readFileSync(path.join(j.runDir, 'combined_significance.csv'), 'utf8'));
  assert.deepEqual(table[0], [...SIGNIFICANCE_COLUMNS]);
  const geo = j.trajectories.sycophantic;
  assert.deepEqual(geo.revisions, ['stage1-step550', 'main']);
  for (const rev of ['stage1-step0', 'stage1-step550', 'main']) {
    const norms = readCsv(readFileSync(path.join(tmp, 'norms', 'toy-persona', `${rev}_shared_norms.csv`), 'utf8'));
    assert.deepEqual(norms.map((r) => Number(r.layer)), [0, 1, 2, 3, 4], `${rev}: upstream's activation-norm columns, L+1 rows`);
    assert.ok(norms.every((r) => Number(r.count) === 20 && Number(r.mean_l2) > 0), 'the 20 calibration questions, whatever --max-questions');
  }
  assert.ok(geo.norms.every((n: { ratio: number | null }) => n.ratio !== null && n.ratio > 0), 'geometry reports ‖v‖/mean_l2 from the sweep\'s norms');
  assert.ok(geo.toMain[0].cosine > 0.5, `step550 → main cosine ${geo.toMain[0].cosine}`);
  assert.ok(existsSync(path.join(j.runDir, 'geometry', 'vector_cosine_to_main_sycophantic_layer4.csv')));

  const records = () => readdirSync(path.join(tmp, 'runs')).flatMap((d) => ['generations.jsonl', 'judgements.jsonl']
    .map((f) => path.join(tmp, 'runs', d, f)).filter((f) => existsSync(f)).map((f) => `${f}:${statSync(f).size}`)).sort();
  const before = records();
  assert.ok(before.length >= 5, 'extract runs for 3 revisions + evaluate runs for 2');
  const t1 = Date.now();
  const again = await cli(args());
  assert.equal(again.code, 0, again.stderr);
  assert.deepEqual(JSON.parse(again.stdout).rows, rows, 'a rerun gives the same table');
  assert.deepEqual(records(), before, 'a rerun generates and judges nothing (every record file unchanged)');
  t.diagnostic(`rerun ${Date.now() - t1} ms`);
});

test('sweep --transfer-to: every revision\'s vector on the instruct model, direction-matched to its own vector; Bonferroni over sources', { timeout: 300_000 }, async (t) => {
  if (!available) { t.skip('toy model absent'); return; }
  const target = path.join(root, 'models', 'toy-persona-instruct');
  const r = await cli(['sweep', '--trait', 'sycophantic', '--revisions', 'stage1-step550,main', '--max-questions', '6', '--workspace', tmp,
    '--transfer-to', target, '--no-same-checkpoint', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.deepEqual(j.rows, [], '--no-same-checkpoint: no same-checkpoint rows');
  const rows = j.transferRows as Record<string, unknown>[];
  assert.deepEqual(rows.map((x) => x.extract_revision), ['stage1-step550', 'main', 'target:toy-persona-instruct@main']);
  assert.ok(rows.every((x) => x.eval_revision === 'toy-persona-instruct@main' && x.scaling_mode === 'match_target_vector_norm'));
  for (const x of rows.slice(0, 2)) {
    assert.ok(Math.abs((x.trait_primary_p_two_sided_bonferroni_within_trait as number) - Math.min(1, 2 * (x.trait_primary_p_two_sided as number))) < 1e-12, 'm = 2 source checkpoints');
  }
  assert.equal(rows[2].trait_primary_p_two_sided_bonferroni_within_trait, rows[2].trait_primary_p_two_sided, 'the reference row is not one of the tested sources');
  t.diagnostic(`transfer Δτ: ${rows.map((x) => `${String(x.extract_revision)} ${(x.delta_trait_mean as number).toFixed(1)}`).join(', ')}`);
  assert.ok((rows[1].delta_trait_mean as number) > 20, 'the base model\'s vector steers the instruct model');
  // match-target: every steered condition adds a row of the target vector's norm
  const transferRun = readdirSync(path.join(tmp, 'runs')).find((d) => d.startsWith('transfer-toy-persona-instruct-main-sycophantic-'))!;
  const conds = (JSON.parse(readFileSync(path.join(tmp, 'runs', transferRun, 'results.json'), 'utf8')).conditions as { condition: { kind: string; vectorNorm?: number } }[])
    .filter((c) => c.condition.kind === 'steer').map((c) => c.condition.vectorNorm!);
  assert.equal(conds.length, 3);
  for (const n of conds) assert.ok(Math.abs(n - conds[2]) < 1e-4 * conds[2], `norms ${conds.join(', ')}`);
});

test('sweep --transfer-scaling target-norm: every vector added at coef × the target\'s mean hidden norm (upstream VECTOR_NORM)', { timeout: 300_000 }, async (t) => {
  if (!available) { t.skip('toy model absent'); return; }
  const target = path.join(root, 'models', 'toy-persona-instruct');
  const r = await cli(['sweep', '--trait', 'sycophantic', '--revisions', 'stage1-step550,main', '--max-questions', '6', '--workspace', tmp,
    '--transfer-to', target, '--transfer-scaling', 'target-norm', '--steering', 'sycophantic=4:0.25', '--no-same-checkpoint', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const rows = JSON.parse(r.stdout).transferRows as Record<string, unknown>[];
  assert.ok(rows.every((x) => x.scaling_mode === 'target_norm'));
  const meanL2 = Number(readCsv(readFileSync(path.join(tmp, 'norms', 'toy-persona-instruct', 'main_shared_norms.csv'), 'utf8'))[4].mean_l2);
  const run = readdirSync(path.join(tmp, 'runs')).filter((d) => d.startsWith('transfer-toy-persona-instruct-main-sycophantic-'))
    .map((d) => JSON.parse(readFileSync(path.join(tmp, 'runs', d, 'results.json'), 'utf8')) as { conditions: { condition: { kind: string; coef: number; vectorNorm: number } }[] })
    .find((x) => x.conditions.some((c) => c.condition.coef === 0.25))!;
  const norms = run.conditions.filter((c) => c.condition.kind === 'steer').map((c) => c.condition.vectorNorm);
  assert.equal(norms.length, 3);
  for (const n of norms) assert.ok(Math.abs(n - meanL2) < 1e-4 * meanL2, `added norm ${n} vs target mean_l2 ${meanL2}`);
  t.diagnostic(`target mean_l2 at L4 ${meanL2.toFixed(3)}; Δτ ${rows.map((x) => (x.delta_trait_mean as number).toFixed(1)).join(', ')}`);
});

test('sweep: usage errors name what to pass', async (t) => {
  if (!available) { t.skip('toy model absent'); return; }
  const r = await cli(['sweep', '--trait', 'evil', '--revisions', 'stage9-step1', '--workspace', tmp]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /revision stage9-step1 is not one of stage1-step0, .*main/);
  const s = await cli(['sweep', '--trait', 'evil', '--steering', 'evil=four', '--workspace', tmp]);
  assert.equal(s.code, 2);
  assert.match(s.stderr, /must be trait=layer:coef/);
});

test('norms: upstream columns, L+1 rows, and the pooling (mean over tokens of ‖h_t‖, sample std over prompts) recomputed by hand', { timeout: 120_000 }, async (t) => {
  if (!available) { t.skip('toy model absent'); return; }
  const out = path.join(tmp, 'n.csv');
  const r = await cli(['norms', '--max-questions', '3', '--out', out, '--workspace', tmp, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.equal(j.norms.length, 5);
  const client = await InferenceClient.start({ threads: 1 });
  try {
    const info = await client.loadModel({ path: path.join(root, 'models', 'toy-persona', 'revisions', 'main'), threads: 1 });
    const evalFile = JSON.parse(readFileSync(path.join(root, 'models', 'toy-persona', 'traits', 'eval', 'evil.json'), 'utf8')) as { questions: string[] };
    const res = await client.capture({ modelId: info.modelId, items: evalFile.questions.slice(0, 3).map((q) => ({ prompt: { messages: [{ role: 'user' as const, content: q }] }, response: '' })),
      reductions: ['prompt_last'], returnHiddenStates: [2] });
    const per = res.items.map((it) => {
      const h = decodeF32(it.hiddenStates!['2']), H = info.config.hiddenSize, S = h.length / H;
      let s = 0;
      for (let k = 0; k < S; k++) s += Math.hypot(...h.subarray(k * H, (k + 1) * H));
      return s / S;
    });
    const m = per.reduce((a, b) => a + b) / 3, sd = Math.sqrt(per.reduce((a, b) => a + (b - m) ** 2, 0) / 2);
    assert.ok(Math.abs(j.norms[2].meanL2 - m) < 1e-4 * m && Math.abs(j.norms[2].stdL2 - sd) < 1e-3 * sd + 1e-6, `${JSON.stringify(j.norms[2])} vs ${m}, ${sd}`);
  } finally { await client.dispose(); }
  assert.deepEqual(parseSimpleCsv(readFileSync(out, 'utf8'))[0], ['layer', 'mean_l2', 'std_l2', 'count']);
});
