/**
 * The palette commands on the toy model, through vscode.commands.executeCommand with the picks given as the argument
 * object (the seam every command takes: a given value skips its pick): Evaluate Steering, Run Layer × Coef Grid,
 * Run Controls and Compute Activation Norms write the same run folders as the CLI; Cancel Job stops a running job
 * as information; Restart Inference Worker stops the worker and the next job starts a fresh one; the worker's
 * status-bar item follows it; Set Judge API Key keeps the key out of the workspace, the logs and the settings.
 */
import * as assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { PersonaLabApi } from '../../../src/extension/extension.js';

const ext = () => vscode.extensions.getExtension<PersonaLabApi>('persona-lab.persona-lab')!;
const manifest = (dir: string) => JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as { kind: string; status: string; config?: Record<string, unknown> };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const alive = (pid: number) => { try { process.kill(pid, 0); return true; } catch { return false; } };

/** Every file under `dir` (skipping node_modules) whose text contains `needle`. */
function filesContaining(dir: string, needle: string): string[] {
  const hits: string[] = [];
  const walk = (d: string) => {
    for (const n of readdirSync(d)) {
      const f = path.join(d, n);
      const st = statSync(f);
      if (st.isDirectory()) { if (n !== 'node_modules') walk(f); } else if (st.size < 50_000_000 && readFileSync(f).includes(needle)) hits.push(f);
    }
  };
  if (existsSync(dir)) walk(dir);
  return hits;
}

describe('Persona Lab palette commands (toy model)', function () {
  this.timeout(600_000);
  let api: PersonaLabApi;
  let dataDir: string;
  let toyMain: string;
  const SENTINEL = `sk-persona-lab-sentinel-${process.pid}-7f3a`;

  before(async function () {
    api = await ext().activate();
    const root = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
    assert.ok(root, 'the suite needs an open workspace folder');
    dataDir = path.join(root, '.persona-lab');
    toyMain = path.join(ext().extensionPath, 'models', 'toy-persona', 'revisions', 'main');
    if (!existsSync(toyMain)) this.skip();
    rmSync(dataDir, { recursive: true, force: true });
    assert.equal(await vscode.commands.executeCommand('personaLab.setJudgeApiKey', SENTINEL), 'stored');
    const ex = await vscode.commands.executeCommand<{ status: string }>('personaLab.extractVector', { modelPath: toyMain, trait: 'evil', maxQuestions: 3 });
    assert.equal(ex?.status, 'ok');
  });

  after(() => { rmSync(dataDir, { recursive: true, force: true }); });

  it('Evaluate Steering runs baseline, prompting baseline and steered on the stored vector', async () => {
    const out = await vscode.commands.executeCommand<{ runDir: string; summary: string }>('personaLab.evaluateSteering',
      { modelPath: toyMain, trait: 'evil', layer: 4, coef: 6, maxQuestions: 2, samples: 2 });
    assert.ok(out, 'no outcome');
    const m = manifest(out.runDir);
    assert.equal(m.kind, 'evaluate');
    assert.equal(m.status, 'done');
    assert.match(out.summary, /^Δτ -?\d/);
    assert.ok(existsSync(path.join(out.runDir, 'generations.jsonl')));
  });

  it('Run Layer × Coef Grid writes a grid run with a best point or the reason there is none', async () => {
    const out = await vscode.commands.executeCommand<{ runDir: string; summary: string }>('personaLab.runGrid',
      { modelPath: toyMain, trait: 'evil', layers: [2, 4], coefs: [2, 6], maxQuestions: 2, samples: 2 });
    assert.ok(out);
    assert.equal(manifest(out.runDir).kind, 'grid');
    assert.equal(manifest(out.runDir).status, 'done');
    assert.match(out.summary, /best layer [24], coef|no point with coherence/);
  });

  it('Run Controls compares the real vector with random and shuffled directions', async () => {
    const out = await vscode.commands.executeCommand<{ runDir: string; summary: string }>('personaLab.runControls',
      { modelPath: toyMain, trait: 'evil', layer: 4, coef: 6, seeds: [0], maxQuestions: 2, samples: 2 });
    assert.ok(out);
    assert.equal(manifest(out.runDir).kind, 'controls');
    assert.match(out.summary, /real Δτ .*random Δτ .*shuffled Δτ/);
  });

  it('Compute Activation Norms writes one row per hidden_states layer (L + 1)', async () => {
    const out = await vscode.commands.executeCommand<{ file: string; layers: number }>('personaLab.computeNorms', { modelPath: toyMain, maxQuestions: 3 });
    assert.ok(out);
    const cfg = JSON.parse(readFileSync(path.join(toyMain, 'config.json'), 'utf8')) as { num_hidden_layers: number };
    assert.equal(out.layers, cfg.num_hidden_layers + 1);
    assert.equal(readFileSync(out.file, 'utf8').trim().split('\n').length, cfg.num_hidden_layers + 2, 'header + L + 1 rows');
  });

  it('Monitor Prompts correlates the last prompt token\'s projection with the judged trait over the toy\'s graded prompts', async () => {
    const out = await vscode.commands.executeCommand<{ runDir: string; summary: string }>('personaLab.monitorPrompts',
      { modelPath: toyMain, trait: 'evil', layer: 4, maxQuestions: 2 });
    assert.ok(out);
    assert.equal(manifest(out.runDir).kind, 'monitor');
    assert.equal(manifest(out.runDir).status, 'done');
    assert.match(out.summary, /^r\(projection, trait\) -?[\d.–]+ over answers, -?[\d.–]+ over \d+ system prompts$/);
  });

  it('Screen Dataset scores every training sample by ΔP and writes the screening table', async () => {
    // Training data made from the extraction run's generations: pos (evil) and neg (helpful) answers to the same questions.
    const exRun = readdirSync(path.join(dataDir, 'runs')).map((d) => path.join(dataDir, 'runs', d)).find((d) => manifest(d).kind === 'extract')!;
    const gens = readFileSync(path.join(exRun, 'generations.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
    const q = (g: Record<string, unknown>) => String(g.question ?? '');
    const a = (g: Record<string, unknown>) => String(g.answer ?? g.response ?? '');
    const pol = (g: Record<string, unknown>) => String(g.polarity ?? g.condition ?? '');
    const rows = gens.filter((g) => q(g) && a(g)).slice(0, 12).map((g, i) => ({ id: `${pol(g)}-${i}`, question: q(g), answer: a(g) }));
    assert.ok(rows.length >= 4, `too few generations to screen: ${Object.keys(gens[0] ?? {}).join(',')}`);
    const data = path.join(dataDir, 'train.jsonl');
    writeFileSync(data, rows.map((r) => JSON.stringify(r)).join('\n'));
    const out = await vscode.commands.executeCommand<{ runDir: string; summary: string }>('personaLab.screenDataset', { modelPath: toyMain, trait: 'evil', layer: 4, dataFile: data });
    assert.ok(out);
    assert.equal(manifest(out.runDir).kind, 'screen');
    assert.match(out.summary, new RegExp(`^dataset ΔP -?[\\d.]+ over ${rows.length} samples`));
    assert.equal(readFileSync(path.join(out.runDir, 'screening_evil.csv'), 'utf8').trim().split('\n').length, rows.length + 1, 'header + one row per sample');
  });

  it('shows the worker in the status bar while it runs, idle between jobs', () => {
    assert.ok(api.jobs.workerPid, 'no worker after the jobs');
    assert.match(api.workerStatus.text, /PL \S+ (\d+ MiB )?idle/);
  });

  it('Cancel Job stops a running grid as information (no error), and the job leaves the running list', async () => {
    // Big enough that it cannot finish before the cancel lands (4 × 5 × 5 × 3 once did, on a quiet machine, and the
    // command resolved to the finished grid): 4 × 8 conditions × 20 questions × 10 samples.
    const running = vscode.commands.executeCommand('personaLab.runGrid', { modelPath: toyMain, trait: 'evil', layers: [1, 2, 3, 4], coefs: [1, 2, 3, 4, 5, 6, 7, 8], maxQuestions: 20, samples: 10 });
    for (let i = 0; i < 200 && api.jobs.active().length === 0; i++) await sleep(50);
    assert.equal(api.jobs.active().length, 1, 'the grid never showed up as running');
    assert.match(api.jobs.active()[0].title, /Layer × Coef Grid — evil/);
    await sleep(1500);
    // Live in Runs: the running job on top, with its progress and elapsed time, and a Cancel action.
    const top = (await api.views.runs.getChildren())?.[0];
    assert.equal(top?.contextValue, 'personaLab.activeJob');
    assert.match(String(top?.description), /^running · .+ · \d+s$/);
    assert.equal(await vscode.commands.executeCommand('personaLab.cancelJob', 'all'), 1);
    // reportError turns the cancellation into information: the command resolves to undefined instead of rejecting.
    assert.equal(await running, undefined);
    assert.equal(api.jobs.active().length, 0);
    assert.notEqual((await api.views.runs.getChildren())?.[0]?.contextValue, 'personaLab.activeJob');
    // Finished runs say their kind, status and duration.
    const described = ((await api.views.runs.getChildren()) ?? []).map((i) => String(i.description));
    assert.ok(described.some((d) => /^grid · cancelled · \d+s$/.test(d)), `no cancelled grid in Runs: ${described.join(' | ')}`);
    assert.ok(described.some((d) => /^evaluate · done · \d+s$/.test(d)), `no finished evaluation in Runs: ${described.join(' | ')}`);
  });

  it('Restart Inference Worker stops the worker; the next job starts a fresh one', async () => {
    const before = api.jobs.workerPid;
    assert.ok(before);
    await vscode.commands.executeCommand('personaLab.restartWorker');
    assert.equal(api.jobs.workerPid, undefined);
    for (let i = 0; i < 100 && alive(before); i++) await sleep(50);
    assert.equal(alive(before), false, 'the old worker is still running');
    const out = await vscode.commands.executeCommand<{ layers: number }>('personaLab.computeNorms', { modelPath: toyMain, maxQuestions: 2 });
    assert.ok(out);
    assert.ok(api.jobs.workerPid && api.jobs.workerPid !== before);
  });

  it('keeps the judge API key only in SecretStorage: not in the workspace, the logs or the settings', async () => {
    const ws = vscode.workspace.workspaceFolders![0].uri.fsPath;
    assert.deepEqual(filesContaining(ws, SENTINEL), [], 'key found in the workspace');
    // scripts/e2e/codeServer.mjs: <run>/workspace and <run>/user-data (logs/, User/settings.json) side by side.
    const userData = path.join(path.dirname(ws), 'user-data');
    assert.ok(existsSync(path.join(userData, 'logs')), `no log folder at ${userData}`);
    assert.ok(filesContaining(path.join(userData, 'logs'), 'Judge API key stored in SecretStorage').length > 0, 'the log lines were not found where the key is looked for');
    assert.deepEqual(filesContaining(path.join(userData, 'logs'), SENTINEL), [], 'key found in the logs');
    const settings = path.join(userData, 'User', 'settings.json');
    if (existsSync(settings)) assert.ok(!readFileSync(settings, 'utf8').includes(SENTINEL), 'key found in the user settings');
    assert.ok(!JSON.stringify(vscode.workspace.getConfiguration('personaLab')).includes(SENTINEL), 'key found in the personaLab settings');
    assert.equal(await vscode.commands.executeCommand('personaLab.setJudgeApiKey', ''), 'removed');
  });

  it('opens one Steering Playground per revision: another revision gets its own panel, the same one is revealed', async () => {
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    const tabs = () => vscode.window.tabGroups.all.flatMap((g) => g.tabs).filter((t) => t.input instanceof vscode.TabInputWebview).map((t) => t.label).sort();
    const other = path.join(path.dirname(toyMain), 'stage1-step0');
    await vscode.commands.executeCommand('personaLab.openPlayground', { modelPath: toyMain });
    await vscode.commands.executeCommand('personaLab.openPlayground', { modelPath: other });
    await vscode.commands.executeCommand('personaLab.openPlayground', { modelPath: toyMain });
    const open = tabs();
    assert.equal(open.length, 2, `tabs: ${open.join(', ')}`);
    assert.ok(open.some((t) => t.endsWith('@main')) && open.some((t) => t.endsWith('@stage1-step0')), `tabs: ${open.join(', ')}`);
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  });

  it('offers "Copy to Workspace" on traits shipped with the extension, and copies extract + eval files without overwriting', async () => {
    const sources = (await api.views.traits.getChildren()) ?? [];
    const shipped = sources.find((n) => String(n.label).startsWith('Toy model'));
    assert.ok(shipped, 'no shipped trait source');
    const items = (await api.views.traits.getChildren(shipped)) ?? [];
    assert.ok(items.length > 0 && items.every((i) => i.contextValue === 'personaLab.shippedTrait'));
    assert.ok(items.every((i) => !String(i.tooltip).includes(ext().extensionPath)), 'tooltips show the extension folder path');
    const copied = await vscode.commands.executeCommand<string[]>('personaLab.copyTraitToWorkspace', 'impolite');
    assert.deepEqual(copied?.map((f) => path.relative(dataDir, f)), [path.join('traits', 'extract', 'impolite.json'), path.join('traits', 'eval', 'impolite.json')]);
    // A second copy would overwrite the user's edits: refused (the command reports it and returns nothing).
    assert.equal(await vscode.commands.executeCommand('personaLab.copyTraitToWorkspace', 'impolite'), undefined);
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  });
});
