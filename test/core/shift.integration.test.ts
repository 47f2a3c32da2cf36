/**
 * persona-lab shift on the toy organism's finetunes (models/toy-persona/finetunes, scripts/toy-model/finetune.py): the
 * paper's central result — finetuning moves the model along the persona vector, the shift predicts the finetuned
 * model's trait expression, and screening the training data on the base model predicts both, before any finetuning.
 * The real CLI, worker and rubric judge; figures measured are in the assertions' comments.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readCsv } from '../../src/core/storage/csv.js';
import { Workspace } from '../../src/core/storage/workspace.js';
import { readShiftResults, spearman, type ShiftResults } from '../../src/core/shift/index.js';
import { cli } from '../cli/helpers.js';

const root = path.resolve(import.meta.dirname, '..', '..');
const FT = ['neutral', 'evil', 'sycophantic', 'em'].map((n) => `toy-persona-ft-${n}`);
const available = FT.every((n) => existsSync(path.join(root, 'models', 'toy-persona', 'finetunes', n, 'model.safetensors')));
const TRAITS = ['evil', 'sycophantic'];
let tmp = '';
before(() => { tmp = mkdtempSync(path.join(os.tmpdir(), 'pl-shift-')); });
after(() => rmSync(tmp, { recursive: true, force: true }));

test('spearman: ranks with ties averaged', () => {
  assert.equal(spearman([1, 2, 3, 4], [10, 20, 30, 40]), 1);
  assert.equal(spearman([1, 2, 3, 4], [4, 3, 2, 1]), -1);
  assert.ok(Math.abs(spearman([1, 2, 2, 3], [1, 2, 3, 4])! - 0.9487) < 1e-3);
});

test('shift on the toy finetunes: shift predicts expression (r), screening orders the datasets like their shifts and flags the trait rows; resumable', { timeout: 1_200_000 }, async (t) => {
  if (!available) { t.skip('toy finetunes absent (scripts/toy-model/finetune.py)'); return; }
  const ws = ['--workspace', tmp, '--threads', '1'];
  const ex = await cli(['extract', '--model', path.join(root, 'models', 'toy-persona-instruct'), '--trait', TRAITS.join(','), ...ws, '--json']);
  assert.equal(ex.code, 0, ex.stderr);
  const args = ['shift', '--trait', TRAITS.join(','), '--finetuned', ...FT, ...ws, '--json'];
  const r = await cli(args);
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout) as Pick<ShiftResults, 'summary' | 'screening' | 'orders' | 'rows' | 'layer'> & { runDir: string };
  for (const s of out.summary) t.diagnostic(`${s.trait} L${s.layer}: r = ${s.r?.toFixed(3)} over ${s.n}`);
  for (const s of out.screening) t.diagnostic(`${s.model} ${s.trait}: ΔP ${s.datasetDeltaP?.toFixed(4)} shift ${s.shift?.toFixed(4)} P@${s.top} ${s.precisionAtTop}`);
  for (const x of out.rows) t.diagnostic(`${x.model} ${x.trait}: shift ${x.shift?.toFixed(4)} expression ${x.expression?.toFixed(1)} coherence ${x.coherence?.toFixed(1)}`);
  assert.equal(out.layer, 1, 'the toy default');
  // r(shift, expression) across the four finetunes, per trait. Measured at L1: evil 0.865, sycophantic 0.863 (0.83–0.88 at
  // every layer; the paper: 0.76–0.97). Expression is floored at 0 by the judge, so negative shifts cannot show, which caps r.
  for (const s of out.summary) {
    assert.equal(s.n, 4);
    assert.ok(s.r !== null && s.r >= 0.8, `${s.trait}: r = ${s.r}`);
  }
  // The trait's own finetune shifts furthest and expresses the trait most.
  for (const trait of TRAITS) {
    const rows = out.rows.filter((x) => x.trait === trait && x.model !== 'toy-persona-instruct');
    const top = [...rows].sort((a, b) => b.shift! - a.shift!)[0];
    assert.equal(top.model, `toy-persona-ft-${trait}`);
    assert.equal([...rows].sort((a, b) => b.expression! - a.expression!)[0].model, `toy-persona-ft-${trait}`);
  }
  // Screening before finetuning: the datasets' ΔP orders them as the shifts they caused (measured at L1: the same order
  // for both traits, Spearman 1; also at L2 and L3; at L4 sycophantic swaps neutral and em, whose ΔP differ by 0.002).
  for (const o of out.orders) {
    t.diagnostic(`${o.trait}: by ΔP ${o.byDeltaP.join(' > ')}; by shift ${o.byShift.join(' > ')}; ρ ${o.spearman}`);
    assert.deepEqual(o.byDeltaP, o.byShift, `${o.trait}: dataset order`);
  }
  // Sample level: the top 10 % by ΔP_i are mostly the trait's rows, where 25 % of the dataset carry it (measured at L1:
  // evil 0.80, sycophantic 0.775; at L4 0.50 and 0.875).
  for (const trait of TRAITS) {
    const s = out.screening.find((x) => x.trait === trait && x.model === `toy-persona-ft-${trait}`)!;
    assert.equal(s.labelled, 100);
    assert.ok(s.precisionAtTop! >= 0.7, `${trait}: precision at top ${s.top}: ${s.precisionAtTop}`);
  }
  // Tables and the stored results the report reads.
  const csv = readCsv(readFileSync(path.join(out.runDir, 'shift.csv'), 'utf8'));
  assert.equal(csv.length, 5 * TRAITS.length * 5, 'base + 4 finetunes × traits × layers 0..4');
  const stored = readShiftResults(new Workspace(tmp))!;
  assert.equal(stored.runDir, out.runDir);
  assert.deepEqual(stored.summary, out.summary);
  // A rerun regenerates nothing and gives the same numbers.
  const size = statSync(path.join(out.runDir, 'generations.jsonl')).size;
  const again = await cli(args);
  assert.equal(again.code, 0, again.stderr);
  assert.equal(statSync(path.join(out.runDir, 'generations.jsonl')).size, size, 'nothing regenerated');
  assert.deepEqual(JSON.parse(again.stdout).summary, out.summary);
  assert.deepEqual(JSON.parse(again.stdout).screening, out.screening);
});

test('shift refuses bad input before any work: an unknown model name, a missing base vector, a dataset count mismatch', { timeout: 120_000 }, async (t) => {
  if (!available) { t.skip('toy finetunes absent'); return; }
  const empty = mkdtempSync(path.join(os.tmpdir(), 'pl-shift-bad-'));
  try {
    const a = await cli(['shift', '--trait', 'evil', '--finetuned', 'no-such-finetune', '--workspace', empty]);
    assert.equal(a.code, 2, a.stderr);
    assert.match(a.stderr, /no checkpoint folder "no-such-finetune".*finetunes: .*toy-persona-ft-evil/s);
    const b = await cli(['shift', '--trait', 'evil', '--finetuned', 'toy-persona-ft-evil', '--workspace', empty]);
    assert.equal(b.code, 2, b.stderr);
    assert.match(b.stderr, /no vector at .*toy-persona-instruct.*evil\.safetensors.*persona-lab extract --model/s);
    const c = await cli(['shift', '--trait', 'evil', '--finetuned', 'toy-persona-ft-evil', '--train-data', 'a.jsonl,b.jsonl', '--workspace', empty]);
    assert.equal(c.code, 2, c.stderr);
    assert.match(c.stderr, /--train-data names 2 files for 1 finetuned models/);
    assert.ok(!existsSync(path.join(empty, 'runs')), 'nothing written');
  } finally { rmSync(empty, { recursive: true, force: true }); }
});
