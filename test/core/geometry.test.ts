/**
 * Geometry across checkpoints. The pretraining study published real OLMo-3-7B impolite vectors for its 16
 * checkpoints together with its own layer-16 geometry results (../shared/upstream-vectors): reproduce them.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseRevision, sortRevisions } from '../../src/core/geometry/revisions.js';
import { cosine, cosineMatrix, pearsonMatrix } from '../../src/core/geometry/similarity.js';
import { vectorTrajectory, type Trajectory } from '../../src/core/geometry/trajectory.js';
import { discoverVectors, loadLayerRow, loadRevisionVectors } from '../../src/core/geometry/sources.js';
import { parseSimpleCsv, trajectoryCsvs } from '../../src/core/geometry/csv.js';
import { cli } from '../cli/helpers.js';

const root = path.resolve(import.meta.dirname, '..', '..');
const shared = path.resolve(root, '..', 'shared', 'upstream-vectors', 'pretraining_persona');
const VECTORS = path.join(shared, 'data', 'persona_vectors', 'Olmo-3-1025-7B');
const RESULTS = path.join(shared, 'results', 'Olmo-3-1025-7B', 'checkpoint_grid', 'impolite_transfer_to_main_v1', 'vector_similarity');
const NORMS = path.join(shared, 'results', 'Olmo-3-1025-7B', 'activation_norms');
const TRAIT = 'impolite_character_neutral_q';
const available = existsSync(VECTORS) && existsSync(RESULTS);
const csv = (name: string) => parseSimpleCsv(readFileSync(path.join(RESULTS, name), 'utf8'));

let tmp = '';
let traj: Trajectory | undefined;
before(() => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'pl-geometry-'));
  if (available) traj = vectorTrajectory(loadRevisionVectors(discoverVectors(VECTORS, TRAIT), 16, { normsDir: NORMS }), 16);
});
after(() => rmSync(tmp, { recursive: true, force: true }));

test('revisions sort in training order: stages, steps, Apertus token counts, main last', () => {
  const olmo = ['main', 'stage3-step11921', 'stage1-step10000', 'stage2-step47684', 'stage1-step3000', 'stage1-step1413814', 'stage1-step9000'];
  assert.deepEqual(sortRevisions(olmo), ['stage1-step3000', 'stage1-step9000', 'stage1-step10000', 'stage1-step1413814', 'stage2-step47684', 'stage3-step11921', 'main']);
  assert.deepEqual(sortRevisions(['main', 'step100000-tokens420B', 'step2627139-tokens15T', 'step50000-tokens210B']),
    ['step50000-tokens210B', 'step100000-tokens420B', 'step2627139-tokens15T', 'main']);
  assert.equal(parseRevision('step2627139-tokens15T').tokens, 15e12);
  assert.deepEqual(sortRevisions(['main', 'zeta', 'alpha', 'stage1-step0']), ['stage1-step0', 'alpha', 'zeta', 'main']);
});

test('similarity: cosine, matrix symmetry, Pearson = cosine of centred vectors, zero vectors have no direction', () => {
  const a = [1, 0, 0], b = [1, 1, 0];
  assert.ok(Math.abs(cosine(a, b) - Math.SQRT1_2) < 1e-12);
  const m = cosineMatrix([a, b, [0, 0, 2]]);
  assert.equal(m[0][0], 1);
  assert.equal(m[0][1], m[1][0]);
  assert.equal(m[0][2], 0);
  assert.ok(Math.abs(pearsonMatrix([[1, 2, 3], [2, 4, 6.5]])[0][1] - 0.9979487157886733) < 1e-12, 'numpy.corrcoef');
  assert.ok(Number.isNaN(cosine([0, 0], [1, 0])));
  // One cosine for the project (controls, trajectories, matrices): a zero vector gives NaN, whichever side and type.
  assert.ok(Number.isNaN(cosine(new Float32Array([1, 2]), new Float32Array(2))));
  assert.ok(Number.isNaN(cosine(new Float32Array(2), new Float32Array(2))));
  assert.ok(Number.isNaN(cosineMatrix([[0, 0], [1, 0]])[0][0]), 'even on the diagonal');
  assert.throws(() => cosine([1, 2], [1, 2, 3]), /differ in length/);
});

test('OLMo-3-7B impolite, layer 16: cosine to main reproduces upstream vector_cosine_to_main (order and values)', (t) => {
  if (!traj) { t.skip('../shared/upstream-vectors is absent'); return; }
  const ref = csv(`vector_cosine_to_main_${TRAIT}_layer16.csv`);
  assert.deepEqual(ref[0], ['revision', 'cosine_similarity_to_main']);
  assert.deepEqual(traj.toMain.map((x) => x.revision), ref.slice(1).map((r) => r[0]), 'same revisions, same (descending) order');
  for (const [i, r] of ref.slice(1).entries()) assert.ok(Math.abs(traj.toMain[i].cosine - Number(r[1])) < 1e-6, `${r[0]}: ${traj.toMain[i].cosine} vs ${r[1]}`);
  assert.equal(traj.main, 'main');
});

test('… consecutive revisions reproduce vector_cosine_sequential', (t) => {
  if (!traj) { t.skip('../shared/upstream-vectors is absent'); return; }
  const ref = csv(`vector_cosine_sequential_${TRAIT}_layer16.csv`).slice(1);
  assert.deepEqual(traj.sequential.map((s) => [s.source, s.target]), ref.map((r) => [r[0], r[1]]));
  for (const [i, r] of ref.entries()) assert.ok(Math.abs(traj.sequential[i].cosine - Number(r[2])) < 1e-6, `${r[0]}→${r[1]}`);
});

test('… the full 16 × 16 matrix reproduces vector_cosine_sim (revisions in token order)', (t) => {
  if (!traj) { t.skip('../shared/upstream-vectors is absent'); return; }
  const ref = csv(`vector_cosine_sim_${TRAIT}_layer16.csv`);
  assert.deepEqual(traj.revisions, ref[0].slice(1));
  let maxDiff = 0;
  for (const [i, r] of ref.slice(1).entries()) {
    assert.equal(r[0], traj.revisions[i]);
    for (let j = 0; j < traj.revisions.length; j++) maxDiff = Math.max(maxDiff, Math.abs(traj.matrix[i][j] - Number(r[j + 1])));
  }
  t.diagnostic(`max |ours − upstream| = ${maxDiff.toExponential(2)} (upstream computes in float32)`);
  assert.ok(maxDiff < 1e-6);
});

test('… our CSVs have upstream\'s names, headers and row keys; norms are calibrated by the shared activation norms', (t) => {
  if (!traj) { t.skip('../shared/upstream-vectors is absent'); return; }
  const ours = trajectoryCsvs(TRAIT, traj);
  for (const name of [`vector_cosine_sim_${TRAIT}_layer16.csv`, `vector_cosine_sequential_${TRAIT}_layer16.csv`, `vector_cosine_to_main_${TRAIT}_layer16.csv`]) {
    assert.ok(name in ours, name);
    const a = parseSimpleCsv(ours[name]), b = csv(name);
    assert.deepEqual(a[0], b[0], `${name} header`);
    assert.deepEqual(a.map((r) => r[0]), b.map((r) => r[0]), `${name} row keys`);
  }
  const mainNorm = traj.norms.find((n) => n.revision === 'main')!;
  const row = loadLayerRow(path.join(VECTORS, 'main', `${TRAIT}_response_avg_diff.pt`), 16);
  assert.ok(Math.abs(mainNorm.norm - Math.hypot(...row)) < 1e-9 * mainNorm.norm);
  assert.equal(mainNorm.meanL2, 17.090625, 'main_shared_norms.csv, layer 16');
  assert.ok(Math.abs(mainNorm.ratio! - mainNorm.norm / 17.090625) < 1e-12);
  assert.ok(traj.norms.every((n) => n.ratio !== null && n.ratio > 0), 'every revision has a shared-norms file');
});

test('errors: a missing folder, a trait with no vectors and a layer outside 0..L name what to do', (t) => {
  assert.throws(() => discoverVectors(path.join(tmp, 'nope'), 'evil'), /not a folder of revision folders/);
  if (!available) { t.skip('../shared/upstream-vectors is absent'); return; }
  assert.throws(() => discoverVectors(VECTORS, 'no-such-trait'), /no no-such-trait vectors under .*<revision>\/no-such-trait\.safetensors/);
  assert.throws(() => loadLayerRow(path.join(VECTORS, 'main', `${TRAIT}_response_avg_diff.pt`), 33), /layer 33 is outside 0\.\.32 \(the vector has L\+1 = 33 rows/);
});

test('CLI: persona-lab geometry on the upstream vectors writes the CSVs and prints the trajectory (--json)', async (t) => {
  if (!available) { t.skip('../shared/upstream-vectors is absent'); return; }
  const out = path.join(tmp, 'geo');
  const r = await cli(['geometry', '--trait', TRAIT, '--vectors', VECTORS, '--norms', NORMS, '--out', out, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.equal(j.layer, 16, 'default layer L/2 = 16 for 33 rows');
  assert.equal(j.files.length, 4);
  assert.ok(Math.abs(j.toMain[0].cosine - 0.9748644828796387) < 1e-6);
  assert.ok(existsSync(path.join(out, `vector_cosine_to_main_${TRAIT}_layer16.csv`)));
  const bad = await cli(['geometry', '--trait', TRAIT, '--vectors', VECTORS, '--layer', '40', '--out', out]);
  assert.equal(bad.code, 2, 'a layer the vectors do not have is a usage error');
  assert.match(bad.stderr, /layer 40 is outside 0\.\.32/);
});

test('geometry finds activation norms without --norms: the named model\'s, the vectors\' own workspace\'s, upstream\'s results/<model>', async (t) => {
  const { normsDirFor } = await import('../../src/core/jobs/defaults.js');
  const { Workspace } = await import('../../src/core/storage/workspace.js');
  const { mkdirSync, writeFileSync, copyFileSync } = await import('node:fs');
  // A workspace the vectors are in, with norms, and another workspace (the CLI's --workspace) without any.
  const home = path.join(tmp, 'home'), other = new Workspace(path.join(tmp, 'other'));
  const vectors = path.join(home, 'vectors', 'toy-persona');
  const fixture = path.join(root, 'test', 'fixtures', 'vectors', 'toy-persona-main-sycophantic.safetensors');
  for (const rev of ['stage1-step550', 'main']) { mkdirSync(path.join(vectors, rev), { recursive: true }); copyFileSync(fixture, path.join(vectors, rev, 'sycophantic.safetensors')); }
  const normsCsv = 'layer,mean_l2,std_l2,count\n0,1,0,1\n1,2,0,1\n2,4,0,1\n3,4,0,1\n4,5,0,1\n';
  mkdirSync(path.join(home, 'norms', 'toy-persona'), { recursive: true });
  for (const rev of ['stage1-step550', 'main']) writeFileSync(path.join(home, 'norms', 'toy-persona', `${rev}_shared_norms.csv`), normsCsv);
  assert.equal(normsDirFor(vectors, { ws: other }), path.join(home, 'norms', 'toy-persona'), 'the vectors\' own workspace');
  assert.equal(normsDirFor(path.join(tmp, 'elsewhere', 'toy-persona'), { ws: other }), undefined, 'nothing found: no ratio rather than another model\'s norms');
  assert.equal(normsDirFor(path.join(tmp, 'elsewhere', 'toy-persona'), { ws: new Workspace(home), model: 'toy-persona' }), path.join(home, 'norms', 'toy-persona'), 'the named model\'s');
  const r = await cli(['geometry', '--trait', 'sycophantic', '--layer', '2', '--vectors', vectors, '--workspace', other.root, '--out', path.join(tmp, 'geo-ws'), '--json']);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout).norms.map((n: { ratio: number }) => Number(n.ratio.toFixed(4))), [0.5626, 0.5626], '‖v[2]‖ = 2.2505 ÷ mean_l2 4');
  if (!available || !existsSync(NORMS)) { t.diagnostic('../shared/upstream-vectors is absent: upstream layout not checked'); return; }
  assert.equal(normsDirFor(VECTORS), NORMS, 'upstream: results/<model>/activation_norms beside data/persona_vectors/<model>');
  const up = await cli(['geometry', '--trait', TRAIT, '--vectors', VECTORS, '--out', path.join(tmp, 'geo-up'), '--json']);
  assert.equal(up.code, 0, up.stderr);
  assert.deepEqual(JSON.parse(up.stdout).norms, traj!.norms, 'the same ratios as with --norms');
});
