/**
 * The kit panels' data (src/extension/panels/*Data.ts, no vscode) and their message guards: what each panel is
 * sent is what the run folders and core say, and a malformed message from a webview is never taken as valid.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadGeometryView } from '../../src/extension/panels/geometryData.js';
import { loadJudgeView, parseRowKey } from '../../src/extension/panels/judgeData.js';
import { loadSweepView } from '../../src/extension/panels/sweepData.js';
import { parseExport, parseKitMessage } from '../../webview/kit/protocol.js';
import { parseRecordRequest, parseRendered as parseJudgeRendered } from '../../webview/judge/protocol.js';
import { parseRendered as parseSweepRendered } from '../../webview/sweep/protocol.js';

const repo = path.resolve(import.meta.dirname, '..', '..');
const tmp = () => mkdtempSync(path.join(os.tmpdir(), 'pl-panels-'));
const manifest = (kind: string, config: Record<string, unknown> = {}, status = 'done') =>
  JSON.stringify({ format: 'persona-lab-run/1', runId: 'x', kind, configHash: 'h', config, status, createdAt: '2026-01-01T00:00:00Z', updatedAt: '2026-01-01T00:00:00Z', starts: 1, environment: {} });

test('row keys name their condition, layer and coef (extraction and evaluation keys)', () => {
  assert.deepEqual(parseRowKey('evil_3_pos_1#0'), { condition: 'pos', label: 'pos', layer: null, coef: null, qid: 3, pairId: 'evil_3_1#0' });
  assert.deepEqual(parseRowKey('steer_L4_c6|evil_7#1'), { condition: 'steer', label: 'steer L4 c6', layer: 4, coef: 6, qid: 7 });
  assert.deepEqual(parseRowKey('steer_L12_cm1p5|my_trait_2#0'), { condition: 'steer', label: 'steer L12 c-1.5', layer: 12, coef: -1.5, qid: 2 });
  assert.deepEqual(parseRowKey('random_s3_L4_c6|evil_0#0').label, 'random s3 L4 c6');
  assert.equal(parseRowKey('baseline|evil_0#0').condition, 'baseline');
});

test('the sweep dashboard gets layer, coef, kept pairs and the reason for each missing vector; a non-sweep run is refused', () => {
  const ws = tmp();
  try {
    const run = path.join(ws, 'runs', 'sweep-a');
    mkdirSync(run, { recursive: true });
    copyFileSync(path.join(repo, 'test/fixtures/sweep/results.json'), path.join(run, 'results.json'));
    // Without a manifest (a copied results.json) it still opens, from the results alone.
    const v = loadSweepView(run);
    assert.deepEqual(v.traits.map((t) => [t.trait, t.layer, t.coef]), [['evil', 4, 6], ['sycophantic', 4, 3]]);
    const step0 = v.cells.find((c) => c.trait === 'evil' && c.revision === 'stage1-step0')!;
    assert.equal(step0.state, 'no-vector');
    assert.match(step0.reason!, /^no pair passed the filter/);
    const main = v.cells.find((c) => c.trait === 'evil' && c.revision === 'main')!;
    assert.equal(main.state, 'done');
    assert.equal(typeof main.deltaTrait, 'number');
    // A running sweep whose manifest names revisions not reached yet shows them pending.
    writeFileSync(path.join(run, 'manifest.json'), manifest('sweep', { model: 'toy-persona', revisions: ['stage1-step0', 'later'], traits: [{ trait: 'evil', layer: 4, coef: 6 }] }, 'running'));
    rmSync(path.join(run, 'results.json'));
    mkdirSync(path.join(ws, 'vectors', 'toy-persona', 'stage1-step0'), { recursive: true });
    writeFileSync(path.join(ws, 'vectors', 'toy-persona', 'stage1-step0', 'evil.status.json'), JSON.stringify({ status: 'nonextractable', message: 'only 2 pair(s) passed', filter: { pairs_kept: 2, pairs_total: 200 } }));
    const live = loadSweepView(run);
    assert.deepEqual(live.cells.map((c) => [c.revision, c.state, c.pairsKept, c.pairsTotal, c.reason]), [['stage1-step0', 'no-vector', 2, 200, 'only 2 pair(s) passed'], ['later', 'pending', null, null, null]]);
    const other = path.join(ws, 'runs', 'extract-b');
    mkdirSync(other);
    writeFileSync(path.join(other, 'manifest.json'), manifest('extract'));
    assert.throws(() => loadSweepView(other), /is a extract run, not a sweep/);
  } finally { rmSync(ws, { recursive: true, force: true }); }
});

test('judge results: every JSONL record is a row; an extraction pair is kept exactly when core\'s paired filter keeps it, and says why not', () => {
  const ws = tmp();
  try {
    const run = path.join(ws, 'runs', 'extract-a');
    mkdirSync(run, { recursive: true });
    writeFileSync(path.join(run, 'manifest.json'), manifest('extract', { threshold: 50 }));
    const g = (key: string, answer = 'a') => JSON.stringify({ key, prompt: 'p', promptText: 'p', question: 'q', seed: 0, answer, finishReason: 'stop', tokens: 1 });
    const j = (key: string, metric: string, score: number | null) => JSON.stringify({ key, metric, score });
    writeFileSync(path.join(run, 'generations.jsonl'), [g('evil_0_pos_0#0'), g('evil_0_neg_0#0'), g('evil_1_pos_0#0'), g('evil_1_neg_0#0')].join('\n') + '\n');
    writeFileSync(path.join(run, 'judgements.jsonl'), [j('evil_0_pos_0#0', 'trait', 90), j('evil_0_pos_0#0', 'coherence', 90), j('evil_0_neg_0#0', 'trait', 5), j('evil_0_neg_0#0', 'coherence', 90),
      j('evil_1_pos_0#0', 'trait', 20), j('evil_1_pos_0#0', 'coherence', 90), j('evil_1_neg_0#0', 'trait', 5), j('evil_1_neg_0#0', 'coherence', null)].join('\n') + '\n');
    const v = loadJudgeView(run);
    assert.equal(v.rows.length, 4);
    assert.equal(v.jsonlLines, 4);
    assert.deepEqual(v.rows.map((r) => [r.line, r.condition, r.kept]), [[1, 'pos', true], [2, 'neg', true], [3, 'pos', false], [4, 'neg', false]]);
    assert.equal(v.rows[2].why, 'missing score; pos trait 20 < 50');
    writeFileSync(path.join(run, 'manifest.json'), manifest('monitor'));
    assert.throws(() => loadJudgeView(run), /is a monitor run: Judge Results opens extract, evaluate/);
  } finally { rmSync(ws, { recursive: true, force: true }); }
});

const upstream = path.resolve(repo, '..', 'shared', 'upstream-vectors', 'pretraining_persona');
test('geometry of the published OLMo-3 vectors (upstream .pt folder) reproduces upstream\'s own cosines to main at layer 16', { skip: !existsSync(upstream) && 'no ../shared/upstream-vectors' }, () => {
  const v = loadGeometryView(path.join(upstream, 'data/persona_vectors/Olmo-3-1025-7B'), 'impolite_character_neutral_q');
  assert.equal(v.layer, 16);
  assert.equal(v.revisions.length, 16);
  assert.equal(v.revisions.at(-1)!.name, 'main');
  const csv = readFileSync(path.join(upstream, 'results/Olmo-3-1025-7B/checkpoint_grid/impolite_transfer_to_main_v1/vector_similarity/vector_cosine_to_main_impolite_character_neutral_q_layer16.csv'), 'utf8')
    .trim().split('\n').slice(1).map((l) => l.split(','));
  for (const [rev, cos] of csv) {
    if (rev === 'main') continue;
    const ours = v.toMain.find((t) => t.revision === rev)?.cosine;
    assert.ok(ours !== undefined && Math.abs(ours - Number(cos)) < 1e-5, `${rev}: ${ours} vs upstream ${cos}`);
  }
  assert.deepEqual(v.traits.slice(0, 1), ['impolite_character_neutral_q']);
  assert.equal(v.traitMatrix.length, 4);
  assert.ok(v.norms.every((n) => n.ratio !== null), 'upstream activation norms found next to the vectors');
  assert.equal(v.perLayer[0].raw.length, 33);
});

test('messages from a webview are parsed, never trusted: malformed ones are dropped', () => {
  assert.equal(parseKitMessage(null), undefined);
  assert.equal(parseKitMessage({ type: 'export', format: 'exe', name: 'x', data: '' }), undefined);
  assert.equal(parseExport({ type: 'export', format: 'png', name: 'x', data: 'javascript:alert(1)' }), undefined);
  assert.deepEqual(parseExport({ type: 'export', format: 'csv', name: 'x', data: 'a,b\n', extra: 1 }), { type: 'export', format: 'csv', name: 'x', data: 'a,b\n' });
  assert.equal(parseRecordRequest({ type: 'openRecord', src: 0, line: 0 }), undefined);
  assert.equal(parseRecordRequest({ type: 'openRecord', src: '0', line: 3 }), undefined);
  assert.deepEqual(parseRecordRequest({ type: 'openRecord', src: 1, line: 3 }), { type: 'openRecord', src: 1, line: 3 });
  assert.equal(parseJudgeRendered({ type: 'rendered', rows: 'many', charts: 2, ms: 1 }), undefined);
  assert.deepEqual(parseSweepRendered({ type: 'rendered', charts: 3, rows: 2, points: 1 }), { charts: 3, rows: 2, points: 1 });
});

test('the geometry panel finds norms and its default layer by core\'s rules, as persona-lab geometry does', async () => {
  const { defaultGeometryLayer, normsDirFor } = await import('../../src/core/jobs/defaults.js');
  const { writeVectorFile } = await import('../../src/core/vectors/file.js');
  const { Workspace } = await import('../../src/core/storage/workspace.js');
  const dir = tmp();
  try {
    // Vectors outside any workspace (no vectors/ parent), with some other model's norms two folders up: not theirs.
    const root = path.join(dir, 'elsewhere', 'copies', 'toy-persona');
    const L1 = 7, H = 4;
    for (const [i, rev] of ['stage1-step0', 'main'].entries()) {
      const d = new Float32Array(L1 * H).map((_, x) => Math.sin(x + i));
      writeVectorFile(path.join(root, rev, 'evil.safetensors'), { layers: L1, hidden: H, data: { response_avg: d, prompt_avg: d, prompt_last: d }, metadata: { revision: rev } });
    }
    mkdirSync(path.join(dir, 'elsewhere', 'norms', 'toy-persona'), { recursive: true });
    const v = loadGeometryView(root, 'evil');
    assert.equal(v.layer, defaultGeometryLayer(L1));
    assert.equal(v.normsDir, normsDirFor(root) ?? null);
    assert.equal(v.normsDir, null, 'no norms rather than another folder\'s');
    // The editor's workspace folder has norms for the model: found, as `persona-lab geometry --vectors <root>` in that workspace finds them.
    const ws = new Workspace(path.join(dir, 'ws'));
    mkdirSync(path.join(ws.root, 'norms', 'toy-persona'), { recursive: true });
    assert.equal(loadGeometryView(root, 'evil', { ws }).normsDir, normsDirFor(root, { ws }));
    assert.equal(loadGeometryView(root, 'evil', { ws }).normsDir, path.join(ws.root, 'norms', 'toy-persona'));
  } finally { rmSync(dir, { recursive: true, force: true }); }
});
