/**
 * The editor's research commands pass the steering scaling and the vector key through to core unchanged (the CLI's
 * --scaling / --target-norm / --vector-key): a scripted Evaluate Steering with { scaling: 'unit', vectorKey } records
 * both in its run config and writes scaling_mode=unit in combined.csv; without them the run config names neither
 * (so its run id is the one the CLI's raw run has). The vector is written here (seeded, the toy's [5, 128] shape)
 * under a tensor name of another project's, so no extraction is needed.
 */
import * as assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { gaussian } from '../../../src/core/rng.js';
import { readCsv } from '../../../src/core/storage/csv.js';
import { writeSafetensors } from '../../../src/engine/weights/safetensors.js';

const ext = () => vscode.extensions.getExtension('persona-lab.persona-lab')!;
const manifest = (dir: string) => JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as { kind: string; status: string; config: Record<string, unknown> };

describe('Research commands: scaling and vector key passed through (toy model)', function () {
  this.timeout(600_000);
  let toyMain: string;
  let vectorFile: string;
  const runs: string[] = [];

  before(async function () {
    await ext().activate();
    const root = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
    assert.ok(root, 'the suite needs an open workspace folder');
    toyMain = path.join(ext().extensionPath, 'models', 'toy-persona', 'revisions', 'main');
    if (!existsSync(toyMain)) this.skip();
    // The workspace's vector for evil on toy-persona@main, its [L+1, H] rows under a foreign tensor name.
    vectorFile = path.join(root, '.persona-lab', 'vectors', 'toy-persona', 'main', 'evil.safetensors');
    const rows = gaussian(5 * 128, 7).map((x) => x * 0.5);
    mkdirSync(path.dirname(vectorFile), { recursive: true });
    writeSafetensors(vectorFile, { 'persona.evil': { dtype: 'F32', shape: [5, 128], data: rows } }, {});
  });

  after(() => {
    for (const d of runs) rmSync(d, { recursive: true, force: true });
    if (vectorFile) rmSync(vectorFile, { force: true });
  });

  it('Evaluate Steering with scaling unit and a vector key records both and writes scaling_mode=unit', async () => {
    const out = await vscode.commands.executeCommand<{ runDir: string; summary: string }>('personaLab.evaluateSteering',
      { modelPath: toyMain, trait: 'evil', layer: 4, coef: 3, maxQuestions: 1, samples: 1, scaling: 'unit', vectorKey: 'persona.evil' });
    assert.ok(out, 'no outcome');
    runs.push(out.runDir);
    const m = manifest(out.runDir);
    assert.equal(m.status, 'done');
    assert.deepEqual(m.config.scaling, { mode: 'unit' });
    assert.equal(m.config.vectorKey, 'persona.evil');
    const combined = readCsv(readFileSync(path.join(out.runDir, 'combined.csv'), 'utf8'));
    assert.deepEqual(combined.map((r) => [r.mode, r.scaling_mode]), [['prompt', ''], ['steer', 'unit']]);
  });

  it('target-norm with its norm reaches the worker; raw records no scaling', async () => {
    const tn = await vscode.commands.executeCommand<{ runDir: string }>('personaLab.evaluateSteering',
      { modelPath: toyMain, trait: 'evil', layer: 4, coef: 0.5, maxQuestions: 1, samples: 1, scaling: 'target-norm', targetNorm: 8, vectorKey: 'persona.evil' });
    assert.ok(tn);
    runs.push(tn.runDir);
    assert.deepEqual(manifest(tn.runDir).config.scaling, { mode: 'target-norm', norm: 8 });
    assert.deepEqual(readCsv(readFileSync(path.join(tn.runDir, 'combined.csv'), 'utf8')).map((r) => r.scaling_mode), ['', 'target_norm']);
    const raw = await vscode.commands.executeCommand<{ runDir: string }>('personaLab.evaluateSteering',
      { modelPath: toyMain, trait: 'evil', layer: 4, coef: 3, maxQuestions: 1, samples: 1, vectorKey: 'persona.evil' });
    assert.ok(raw);
    runs.push(raw.runDir);
    assert.equal('scaling' in manifest(raw.runDir).config, false);
  });
});
