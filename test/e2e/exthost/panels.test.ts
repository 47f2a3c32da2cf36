/**
 * The kit panels on real toy runs (a real extraction and sweep through the editor's commands, a real grid through
 * the CLI in the extension's dist/): each panel's command renders what the run holds, the Runs view's context
 * actions fit the run kind, and Judge Results stays quick on a 20 000-row run (figures printed, not asserted).
 */
import * as assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { PersonaLabApi } from '../../../src/extension/extension.js';

const ext = () => vscode.extensions.getExtension<PersonaLabApi>('persona-lab.persona-lab')!;
const lines = (file: string) => readFileSync(file, 'utf8').split('\n').filter((l) => l.trim()).length;
const webviewTabs = () => vscode.window.tabGroups.all.flatMap((g) => g.tabs).filter((t) => t.input instanceof vscode.TabInputWebview).length;
const closeAll = () => vscode.commands.executeCommand('workbench.action.closeAllEditors');

describe('Persona Lab panels (webview kit)', function () {
  this.timeout(600_000);
  let api: PersonaLabApi;
  let dataDir: string;
  const runs: Record<string, string> = {};

  before(async function () {
    api = await ext().activate();
    const root = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
    assert.ok(root, 'the suite needs an open workspace folder');
    dataDir = path.join(root, '.persona-lab');
    rmSync(dataDir, { recursive: true, force: true });
    const toy = path.join(ext().extensionPath, 'models', 'toy-persona');
    if (!existsSync(path.join(toy, 'revisions', 'main'))) this.skip();
    const ex = await vscode.commands.executeCommand<{ status: string }>('personaLab.extractVector', { modelPath: path.join(toy, 'revisions', 'main'), trait: 'evil', maxQuestions: 3 });
    assert.equal(ex?.status, 'ok');
    const sweep = await vscode.commands.executeCommand<{ runDir: string }>('personaLab.runSweep', { modelPath: toy, revisions: ['stage1-step0', 'main'], traits: ['sycophantic'], maxQuestions: 3 });
    assert.ok(sweep?.runDir);
    // A real grid through the CLI the extension ships (no editor command runs grids yet).
    // Asynchronously: a synchronous child would block the extension host for the grid's duration.
    await promisify(execFile)(process.execPath, [path.join(ext().extensionPath, 'dist', 'cli.js'), 'grid', '--trait', 'evil', '--layers', '2,4', '--coefs', '2,6', '--max-questions', '2',
      '--samples', '2', '--threads', '1', '--workspace', dataDir], { env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' }, timeout: 300_000 });
    for (const d of readdirSync(path.join(dataDir, 'runs'))) {
      const kind = (JSON.parse(readFileSync(path.join(dataDir, 'runs', d, 'manifest.json'), 'utf8')) as { kind: string }).kind;
      if (kind === 'sweep') runs.sweep = path.join(dataDir, 'runs', d);
      else if (kind === 'grid') runs.grid = path.join(dataDir, 'runs', d);
      else if (kind === 'extract' && d.includes('-main-evil-')) runs.extract = path.join(dataDir, 'runs', d);
    }
    assert.ok(runs.sweep && runs.grid && runs.extract, `runs: ${JSON.stringify(runs)}`);
  });

  after(async () => { await closeAll(); rmSync(dataDir, { recursive: true, force: true }); });

  it('gives each run in Runs a context value that names its kind, so only fitting actions show', async () => {
    api.views.runs.refresh();
    const items = (await api.views.runs.getChildren()) ?? [];
    const ctx = Object.fromEntries(items.flatMap((i) => { const p = (i as { entry?: { path?: string } }).entry?.path; return p ? [[path.basename(p), i.contextValue]] : []; }));
    assert.equal(ctx[path.basename(runs.sweep)], 'personaLab.run.sweep');
    assert.equal(ctx[path.basename(runs.grid)], 'personaLab.run.grid');
    assert.equal(ctx[path.basename(runs.extract)], 'personaLab.run.extract');
    const menus = ext().packageJSON.contributes.menus['view/item/context'] as { command: string; when: string }[];
    const dash = menus.find((m) => m.command === 'personaLab.openSweepDashboard')!;
    assert.match(dash.when, /viewItem == personaLab\.run\.sweep\b/);
  });

  it('refuses an extraction run in the sweep dashboard with a clear message, opening no tab', async () => {
    await closeAll();
    const out = await vscode.commands.executeCommand('personaLab.openSweepDashboard', runs.extract);
    assert.equal(out, undefined);
    assert.equal(webviewTabs(), 0);
  });

  it('Open Sweep Dashboard draws Δτ, coherence and cosines per trait and one row per revision', async () => {
    const r = await vscode.commands.executeCommand<{ charts: number; rows: number; points: number }>('personaLab.openSweepDashboard', runs.sweep);
    // stage1-step0 keeps no pair (no vector), main has one: one Δτ point; three charts (Δτ, coherence, cosines).
    assert.deepEqual(r, { charts: 3, rows: 2, points: 1 });
    await closeAll();
  });

  it('Open Judge Results shows every answer of an extraction run, with the filter statistics', async () => {
    const t0 = Date.now();
    const r = await vscode.commands.executeCommand<{ rows: number; charts: number; ms: number }>('personaLab.openJudgeResults', { entry: { path: runs.extract } });
    assert.ok(r, 'no render');
    assert.equal(r.rows, lines(path.join(runs.extract, 'generations.jsonl')));
    assert.equal(r.charts, 2);
    console.log(`      Judge Results, extraction run: ${r.rows} rows, open ${Date.now() - t0} ms (webview draw ${r.ms.toFixed(0)} ms)`);
    await closeAll();
  });

  it('Open Judge Results on a sweep gathers the answers of its stage runs', async () => {
    const r = await vscode.commands.executeCommand<{ rows: number }>('personaLab.openJudgeResults', runs.sweep);
    assert.ok(r && r.rows > 0, 'no rows');
    await closeAll();
  });

  it('Open Grid Results draws the layer × coef heat-maps with the prompting baseline row', async () => {
    const r = await vscode.commands.executeCommand<{ maps: number; charts: number; cells: number; points: number }>('personaLab.openGrid', runs.grid);
    assert.deepEqual(r, { maps: 2, charts: 1, cells: 2 * (4 + 2), points: 4 });
    await closeAll();
  });

  it('Show Vector Geometry opens the toy workspace vectors and the published upstream .pt vectors', async function () {
    const toy = await vscode.commands.executeCommand<{ charts: number; maps: number; points: number }>('personaLab.showGeometry',
      { root: path.join(dataDir, 'vectors', 'toy-persona'), trait: 'evil' });
    assert.ok(toy && toy.charts === 4 && toy.maps === 2 && toy.points > 0, JSON.stringify(toy));
    await closeAll();
    // The repository's ../shared/upstream-vectors, when the suite runs from a checkout that has it.
    const upstream = path.resolve(__dirname, '..', '..', '..', '..', 'shared', 'upstream-vectors', 'pretraining_persona', 'data', 'persona_vectors', 'Olmo-3-1025-7B');
    if (!existsSync(upstream)) return;
    const t0 = Date.now();
    const r = await vscode.commands.executeCommand<{ charts: number; maps: number; points: number }>('personaLab.showGeometry', { root: upstream, trait: 'impolite_character_neutral_q' });
    assert.ok(r && r.charts === 4 && r.maps === 2, JSON.stringify(r));
    console.log(`      Geometry, 16 upstream OLMo-3-7B revisions + 3 traits: open ${Date.now() - t0} ms`);
    await closeAll();
  });

  it('Judge Results opens a 20 000-row run (figures printed)', async () => {
    const dir = path.join(dataDir, 'runs', 'evaluate-synthetic-20k');
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify({ format: 'persona-lab-run/1', runId: 'evaluate-synthetic-20k', kind: 'evaluate', configHash: 'x', config: {}, status: 'done',
      createdAt: new Date().toISOString(), updatedAt: new Date().toISOString(), starts: 1, environment: {} }));
    const gens: string[] = [], judg: string[] = [];
    for (let i = 0; i < 20_000; i++) {
      const cond = i % 2 ? 'steer_L4_c6' : 'baseline', q = i % 40, key = `${cond}|evil_${q}#${i}`;
      gens.push(JSON.stringify({ key, prompt: 'q', promptText: 'q', question: `question ${q}`, seed: i, answer: `answer ${i} ${'lorem ipsum '.repeat(8)}`, finishReason: 'stop', tokens: 20 }));
      judg.push(JSON.stringify({ key, metric: 'trait', score: (i * 37) % 100 }), JSON.stringify({ key, metric: 'coherence', score: (i * 53) % 100 }));
    }
    writeFileSync(path.join(dir, 'generations.jsonl'), gens.join('\n') + '\n');
    writeFileSync(path.join(dir, 'judgements.jsonl'), judg.join('\n') + '\n');
    const t0 = Date.now();
    const r = await vscode.commands.executeCommand<{ rows: number; ms: number }>('personaLab.openJudgeResults', dir);
    assert.equal(r?.rows, 20_000);
    console.log(`      Judge Results, 20 000 rows: open ${Date.now() - t0} ms (webview draw incl. one filter+sort pass ${r!.ms.toFixed(0)} ms)`);
    await closeAll();
  });
});
