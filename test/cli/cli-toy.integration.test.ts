/**
 * The pipeline commands on the embedded toy model, as a script would drive them: extract → evaluate →
 * controls → generate, --json on stdout, upstream CSV columns on disk. Small sizes: this checks wiring,
 * exit codes and file formats; the science thresholds live in test/core/toy-steering.integration.test.ts.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..', '..');
const MODEL = process.env.PERSONA_LAB_E2E_MODEL ?? path.join(root, 'models', 'toy-persona', 'revisions', 'main');
const available = existsSync(path.join(MODEL, 'config.json'));
let ws = '';

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    // Options are declared per command: generate judges nothing, so it takes no --judge.
    const judge = args[0] === 'generate' ? [] : ['--judge', 'rubric'];
    const p = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'src/cli/index.ts'), ...args,
      '--model', MODEL, ...judge, '--sampler', 'toy', '--workspace', ws, '--threads', '2'], { cwd: root });
    let stdout = '', stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

before(() => { ws = mkdtempSync(path.join(os.tmpdir(), 'pl-cli-toy-')); });
after(() => rmSync(ws, { recursive: true, force: true }));

test('extract → evaluate → controls → generate on the toy model', { timeout: 300_000 }, async (t) => {
  if (!available) { t.skip(`toy model not found at ${MODEL}`); return; }
  const ex = await cli(['extract', '--trait', 'sycophantic', '--max-questions', '8', '--samples', '1', '--json']);
  assert.equal(ex.code, 0, ex.stderr);
  const e = JSON.parse(ex.stdout);
  assert.equal(e.status, 'ok');
  assert.ok(e.filter.pairs_kept > 0 && e.filter.pairs_total === 40);
  assert.match(ex.stderr, /sycophantic generate 80\/80/, 'progress goes to stderr');
  assert.equal(readFileSync(path.join(e.runDir, 'extract_pos.csv'), 'utf8').split('\n')[0], 'question,prompt,answer,question_id,sycophantic,coherence');
  assert.equal(e.layers, 5, 'L+1 rows for a 4-layer model');

  const ev = await cli(['evaluate', '--trait', 'sycophantic', '--layer', '4', '--coef', '3', '--prompt-baseline', '--max-questions', '6', '--samples', '1', '--json']);
  assert.equal(ev.code, 0, ev.stderr);
  const conds = JSON.parse(ev.stdout).conditions;
  assert.deepEqual(conds.map((c: { condition: { id: string } }) => c.condition.id), ['baseline', 'prompt', 'steer_L4_c3']);
  assert.equal(conds[2].traitPaired.pairedQuestions, 6);
  assert.equal(conds[2].traitPaired.signFlip.total, 64);
  const runDir = JSON.parse(ev.stdout).runDir;
  const header = readFileSync(path.join(runDir, 'combined_significance.csv'), 'utf8').split('\n')[0];
  for (const col of ['extract_revision', 'delta_trait_mean', 'delta_coherence_median', 'trait_sign_flip_p_two_sided', 'trait_sign_test_p_two_sided', 'trait_primary_p_two_sided_bonferroni_within_trait']) {
    assert.ok(header.split(',').includes(col), `combined_significance.csv lacks ${col}`);
  }
  assert.ok(existsSync(path.join(runDir, 'baseline_sycophantic.csv')) && existsSync(path.join(runDir, 'steer_L4_c3_sycophantic.csv')));

  const co = await cli(['controls', '--trait', 'sycophantic', '--layer', '4', '--coef', '3', '--seeds', '0', '--max-questions', '6', '--samples', '1', '--json']);
  assert.equal(co.code, 0, co.stderr);
  const cj = JSON.parse(co.stdout);
  assert.deepEqual(Object.keys(cj.summary).sort(), ['random', 'shuffled']);
  const norms = cj.conditions.filter((c: { condition: { kind: string } }) => c.condition.kind !== 'baseline').map((c: { condition: { vectorNorm: number } }) => c.condition.vectorNorm);
  for (const n of norms) assert.ok(Math.abs(n - norms[0]) < 1e-4 * norms[0], `controls are norm-matched: ${norms}`);
  assert.equal(cj.projection, 'orthogonal');
  assert.deepEqual(cj.controls.map((c: { mode: string }) => c.mode).sort(), ['random', 'shuffled']);
  for (const c of cj.controls) assert.ok(typeof c.cosToVector === 'number' && Math.abs(c.cosToVector) < 1, `cosine as built: ${c.cosToVector}`);
  assert.equal(readFileSync(path.join(cj.runDir, 'combined.csv'), 'utf8').split('\n')[0],
    'revision,mode,seed,trait,layer,coef,baseline_trait_mean,baseline_coherence_mean,output_trait_mean,output_coherence_mean,delta_trait_mean,delta_coherence_mean,trait_primary_p_two_sided,baseline_csv,output_csv');

  const g1 = await cli(['generate', '--prompt', 'How do I fold the spoon?', '--n', '2', '--json']);
  const g2 = await cli(['generate', '--prompt', 'How do I fold the spoon?', '--n', '2', '--trait', 'sycophantic', '--layer', '4', '--coef', '6', '--json']);
  assert.equal(g1.code, 0, g1.stderr); assert.equal(g2.code, 0, g2.stderr);
  const a1 = JSON.parse(g1.stdout).answers, a2 = JSON.parse(g2.stdout).answers;
  assert.equal(a1.length, 2);
  assert.notDeepEqual(a1.map((a: { text: string }) => a.text), a2.map((a: { text: string }) => a.text), 'steering changes the answers');
  assert.ok(a1.every((a: { steeringApplied?: unknown }) => a.steeringApplied === undefined));
  for (const a of a2 as { steeringApplied: { layer: number; norm: number; tokens: number }[] }[]) {
    assert.equal(a.steeringApplied.length, 1, 'the steered answers say what was added');
    assert.ok(a.steeringApplied[0].layer === 4 && a.steeringApplied[0].norm > 0 && a.steeringApplied[0].tokens >= 1, JSON.stringify(a.steeringApplied));
  }
  assert.equal((await cli(['evaluate', '--trait', 'sycophantic', '--layer', '9', '--coef', '1', '--max-questions', '1', '--samples', '1'])).code, 2, 'a layer outside 0..L is a usage error (the vector has no such row)');
});
