// The Models view's folder scan (src/extension/modelDiscovery.ts has no vscode import, so it is
// tested here directly; the view itself is covered by the extension-host suite in test/e2e).
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { inspectModelPath } from '../../src/extension/modelDiscovery.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'pl-discovery-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
const write = (rel: string, value: unknown) => {
  mkdirSync(path.dirname(path.join(tmp, rel)), { recursive: true });
  writeFileSync(path.join(tmp, rel), JSON.stringify(value));
};
const llama = { architectures: ['LlamaForCausalLM'], num_hidden_layers: 4, hidden_size: 128 };

test('a checkpoint folder is a model described by its config', () => {
  write('ckpt/config.json', llama);
  const info = inspectModelPath(path.join(tmp, 'ckpt'));
  assert.equal(info.kind, 'model');
  assert.equal(info.kind === 'model' && info.description, 'LlamaForCausalLM, 4 layers, d=128');
  assert.deepEqual(info.kind === 'model' && info.revisions, []);
});

test('a manifest lists revisions in its order, with step, tokens and folder (the toy model layout)', () => {
  write('toy/revisions/main/config.json', llama);
  write('toy/manifest.json', { main: 'revisions/main', revisions: [
    { name: 'stage1-step200', step: 200, tokensSeen: 102400, path: 'revisions/stage1-step200' },
    { name: 'main', step: 3000, tokensSeen: 1536000, path: 'revisions/main' },
  ] });
  const info = inspectModelPath(path.join(tmp, 'toy'));
  assert.ok(info.kind === 'model');
  assert.equal(info.description, 'LlamaForCausalLM, 4 layers, d=128 · 2 revisions');
  assert.deepEqual(info.revisions.map((r) => [r.name, r.description, r.path]), [
    ['stage1-step200', 'step 200, 102,400 tokens', path.join(tmp, 'toy/revisions/stage1-step200')],
    ['main', 'step 3000, 1,536,000 tokens', path.join(tmp, 'toy/revisions/main')],
  ]);
  assert.equal(info.detailsFile, path.join(tmp, 'toy/manifest.json'));
});

test('a revisions/ folder without a manifest gives one revision per sub-folder', () => {
  write('traj/revisions/step-2/config.json', llama);
  write('traj/revisions/step-1/config.json', llama);
  const info = inspectModelPath(path.join(tmp, 'traj'));
  assert.ok(info.kind === 'model');
  assert.deepEqual(info.revisions.map((r) => r.name), ['step-1', 'step-2']);
});

test('a folder of checkpoints is a group; other folders explain why they show nothing', () => {
  write('zoo/a/config.json', llama);
  write('zoo/b/config.json', { model_type: 'gpt2' });
  mkdirSync(path.join(tmp, 'zoo/notes'), { recursive: true });
  const zoo = inspectModelPath(path.join(tmp, 'zoo'));
  assert.ok(zoo.kind === 'group');
  assert.deepEqual(zoo.models.map((m) => [m.name, m.description]), [['a', 'LlamaForCausalLM, 4 layers, d=128'], ['b', 'gpt2']]);

  mkdirSync(path.join(tmp, 'empty'));
  const empty = inspectModelPath(path.join(tmp, 'empty'));
  assert.equal(empty.kind, 'missing');
  assert.match(empty.kind === 'missing' ? empty.reason : '', /no config\.json or manifest\.json/);
  assert.deepEqual(inspectModelPath(path.join(tmp, 'nope')), { kind: 'missing', name: 'nope', path: path.join(tmp, 'nope'), reason: 'folder not found' });
});
