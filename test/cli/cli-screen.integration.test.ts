/**
 * persona-lab screen on the toy organism: training data made of evil answers pulls the model toward evil, data of
 * helpful answers does not — the projection difference ΔP ranks them apart (the paper's data-screening result).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readCsv, toCsv } from '../../src/core/storage/csv.js';
import { readScreenData } from '../../src/core/jobs/screen.js';
import { cli } from './helpers.js';

const root = path.resolve(import.meta.dirname, '..', '..');
const available = existsSync(path.join(root, 'models', 'toy-persona', 'revisions', 'main', 'config.json'));
let tmp = '';
before(() => { tmp = mkdtempSync(path.join(os.tmpdir(), 'pl-screen-')); });
after(() => rmSync(tmp, { recursive: true, force: true }));

test('readCsv reads back what toCsv writes (quotes, commas, newlines), and screening data formats parse', () => {
  const rows = [{ question: 'a, "b"', answer: 'line 1\nline 2' }, { question: 'plain', answer: '' }];
  assert.deepEqual(readCsv(toCsv(['question', 'answer'], rows)), rows);
  const f = path.join(tmp, 'd.jsonl');
  writeFileSync(f, [JSON.stringify({ messages: [{ role: 'system', content: 's' }, { role: 'user', content: 'q1' }, { role: 'assistant', content: 'a1' }] }),
    JSON.stringify({ id: 'x', question: 'q2', answer: 'a2' })].join('\n'));
  const { samples } = readScreenData(f, 'chat');
  assert.deepEqual(samples.map((s) => [s.id, s.question, s.answer]), [['0', 'q1', 'a1'], ['x', 'q2', 'a2']]);
  assert.deepEqual(samples[0].prompt, { messages: [{ role: 'system', content: 's' }, { role: 'user', content: 'q1' }] });
  writeFileSync(f, JSON.stringify({ messages: [{ role: 'user', content: 'q' }] }));
  assert.throws(() => readScreenData(f, 'chat'), /line 1: the last message must be the assistant's answer/);
});

test('screen: evil training answers have ΔP above helpful ones (dataset means and ranking); resumable', { timeout: 300_000 }, async (t) => {
  if (!available) { t.skip('toy model absent'); return; }
  const ex = await cli(['extract', '--trait', 'evil', '--max-questions', '8', '--workspace', tmp, '--json']);
  assert.equal(ex.code, 0, ex.stderr);
  // Training data: the extraction's evil (pos) and helpful (neg) answers to plain questions, without their system prompts.
  const gens = readFileSync(path.join(JSON.parse(ex.stdout).runDir, 'generations.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { key: string; question: string; answer: string });
  const pick = (pol: string) => gens.filter((g) => g.key.includes(`_${pol}_`)).slice(0, 20);
  const asJsonl = (xs: typeof gens) => xs.map((g) => JSON.stringify({ id: g.key, messages: [{ role: 'user', content: g.question }, { role: 'assistant', content: g.answer }] })).join('\n');
  const mixed = path.join(tmp, 'mixed.jsonl');
  writeFileSync(mixed, asJsonl([...pick('pos'), ...pick('neg')]));
  const r = await cli(['screen', '--trait', 'evil', '--data', mixed, '--workspace', tmp, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  const d = (pol: string) => (j.samples as { id: string; deltaP: number }[]).filter((s) => s.id.includes(`_${pol}_`)).map((s) => s.deltaP);
  const pos = d('pos'), neg = d('neg');
  // AUC: the probability that an evil sample's ΔP exceeds a helpful sample's
  let wins = 0;
  for (const a of pos) for (const b of neg) wins += a > b ? 1 : a === b ? 0.5 : 0;
  const auc = wins / (pos.length * neg.length);
  const m = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  t.diagnostic(`layer ${j.layer}: mean ΔP evil ${m(pos).toFixed(3)}, helpful ${m(neg).toFixed(3)}, AUC ${auc.toFixed(3)}, dataset ΔP ${j.datasetDeltaP.toFixed(3)}`);
  assert.equal(pos.length, 20);
  // Measured (L4): mean ΔP evil 0.347, helpful −0.049, AUC 0.745 (L1: AUC 0.872). Per sample ΔP is noisy — the
  // model's own answer is one sample — so the dataset means are the main signal, as in the paper.
  assert.ok(auc >= 0.65, `AUC ${auc}`);
  assert.ok(m(pos) > 0.1 && m(pos) - m(neg) > 0.15, 'evil data pulls toward evil, clearly more than helpful data');
  const runDir = j.runDir as string;
  const csv = readCsv(readFileSync(path.join(runDir, 'screening_evil.csv'), 'utf8'));
  const dps = csv.map((r) => Number(r.projection_difference));
  assert.ok(dps.every((x, i) => i === 0 || x <= dps[i - 1]), 'most evil-shifting sample first');
  assert.ok(csv.slice(0, 20).filter((r) => r.id.includes('_pos_')).length >= 12, 'the evil samples fill the top half (measured 13 of 20)');
  assert.ok('toy-persona_evil_proj_layer4' in csv[0]);
  const size = statSync(path.join(runDir, 'generations.jsonl')).size;
  const again = await cli(['screen', '--trait', 'evil', '--data', mixed, '--workspace', tmp, '--json']);
  assert.equal(again.code, 0, again.stderr);
  assert.equal(statSync(path.join(runDir, 'generations.jsonl')).size, size, 'the own answers are not regenerated');
  assert.equal(JSON.parse(again.stdout).datasetDeltaP, j.datasetDeltaP);
  assert.ok(readdirSync(path.join(tmp, 'runs')).some((x) => x.startsWith('screen-')));
});
