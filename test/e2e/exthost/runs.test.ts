/**
 * The Runs view on real toy runs made through the editor's own commands: a sweep's stage runs grouped under the sweep
 * (not flooding the top level), status icon and `kind · state · progress · elapsed`, context values by kind and state so
 * the menus offer only fitting actions, and the actions themselves — Rerun (same configuration → same run folder),
 * Resume of a cancelled run (finishes in the same folder), Delete (refused while a live process holds the run, naming
 * it; a confirmed delete removes the sweep with its stage runs and keeps the vectors), Reveal in the Explorer.
 */
import * as assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { PersonaLabApi } from '../../../src/extension/extension.js';
import type { FileTreeItem } from '../../../src/extension/views/fileTree.js';
import { deleteRun } from '../../../src/extension/jobs/runActions.js';

const ext = () => vscode.extensions.getExtension<PersonaLabApi>('persona-lab.persona-lab')!;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const manifest = (dir: string) => JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as { kind: string; status: string; starts?: number };
const entryPath = (i: vscode.TreeItem) => (i as FileTreeItem).entry?.path;
const iconId = (i: vscode.TreeItem) => (i.iconPath as vscode.ThemeIcon | undefined)?.id;
const lines = (f: string) => readFileSync(f, 'utf8').split('\n').filter(Boolean).length;

/** Whether a context-menu entry's `when` offers it on an item with this context value (the view and viewItem clauses). */
function offered(when: string, contextValue: string): boolean {
  return when.split('||').some((alt) => {
    if (!/view == personaLab\.runs/.test(alt)) return false;
    const eq = [...alt.matchAll(/viewItem == ([\w.]+)/g)].map((m) => m[1]);
    const re = /viewItem =~ \/(.+?)\/(?=\s|\)|$)/.exec(alt)?.[1];
    return eq.includes(contextValue) || (re !== undefined && new RegExp(re).test(contextValue));
  });
}

describe('Runs view: grouped sweeps, status and context actions (toy model)', function () {
  this.timeout(900_000);
  let api: PersonaLabApi;
  let dataDir: string;
  let toy: string;
  let sweepDir = '';
  let extractDir = '';
  let evalDir = '';
  let members: string[] = [];
  const menus = () => ext().packageJSON.contributes.menus['view/item/context'] as { command: string; when: string }[];
  const actions = (contextValue: string) => menus().filter((m) => offered(m.when, contextValue)).map((m) => m.command);
  const top = async () => { api.views.runs.refresh(); return (await api.views.runs.getChildren()) ?? []; };

  before(async function () {
    api = await ext().activate();
    const root = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
    assert.ok(root, 'the suite needs an open workspace folder');
    dataDir = path.join(root, '.persona-lab');
    toy = path.join(ext().extensionPath, 'models', 'toy-persona');
    if (!existsSync(path.join(toy, 'revisions', 'main'))) this.skip();
    rmSync(dataDir, { recursive: true, force: true });
    const sweep = await vscode.commands.executeCommand<{ runDir: string }>('personaLab.runSweep',
      { modelPath: toy, revisions: ['stage1-step550', 'main'], traits: ['evil'], maxQuestions: 2, samples: 1, evalSamples: 1 });
    assert.ok(sweep?.runDir, 'the sweep did not run');
    sweepDir = sweep.runDir;
    const ex = await vscode.commands.executeCommand<{ runDir: string }>('personaLab.extractVector', { modelPath: path.join(toy, 'revisions', 'main'), trait: 'sycophantic', maxQuestions: 2, samples: 1 });
    assert.ok(ex?.runDir, 'the extraction did not run');
    extractDir = ex.runDir;
  });

  after(() => { rmSync(dataDir, { recursive: true, force: true }); });

  it('groups the sweep\'s stage runs under the sweep; the top level holds the sweep and the standalone extraction only', async () => {
    const items = await top();
    const shown = items.map(entryPath);
    const all = readdirSync(path.join(dataDir, 'runs'));
    assert.ok(all.length >= 5, `runs/: ${all.join(', ')}`);
    assert.deepEqual(shown.map((p) => path.basename(p ?? '')).sort(), [path.basename(extractDir), path.basename(sweepDir)].sort(), 'top level');
    const sweepItem = items.find((i) => entryPath(i) === sweepDir)!;
    assert.equal(sweepItem.contextValue, 'personaLab.run.sweep');
    assert.equal(iconId(sweepItem), 'pass');
    assert.match(String(sweepItem.description), /^sweep · done · 2\/2 units · \d+(s|m \d\ds)$/);
    const inside = (await api.views.runs.getChildren(sweepItem as FileTreeItem)) ?? [];
    const stageRuns = inside.filter((i) => /^personaLab\.run\./.test(String(i.contextValue)));
    const kinds = stageRuns.map((i) => String(i.contextValue).replace('personaLab.run.', '')).sort();
    // an extraction at each revision; an evaluation where a vector came out
    assert.equal(kinds.filter((k) => k === 'extract').length, 2, kinds.join(','));
    assert.ok(kinds.filter((k) => k === 'evaluate').length >= 1, kinds.join(','));
    assert.deepEqual(new Set(stageRuns.map((i) => path.dirname(entryPath(i)!))), new Set([path.join(dataDir, 'runs')]));
    members = stageRuns.map((i) => entryPath(i)!);
    // Short labels that fit the sidebar, in the order the sweep ran them (the folder name is the tooltip's first line).
    const labels = stageRuns.map((i) => String(i.label));
    assert.deepEqual(labels.filter((l) => l.startsWith('extract')), ['extract stage1-step550 evil', 'extract main evil']);
    assert.ok(labels.indexOf('extract stage1-step550 evil') < labels.indexOf('extract main evil'));
    assert.equal(String(stageRuns[0].tooltip).split('\n')[0], path.basename(members[0]));
    for (const i of stageRuns) assert.match(String(i.description), /^(done|not-extractable) · \d+s$/, 'the label names the kind, the description the state and duration');
    assert.ok(inside.some((i) => i.label === 'combined_significance.csv'), 'the sweep\'s own files follow its stage runs');
  });

  it('offers actions by kind and state: results that fit, Rerun on finished runs, Resume only on unfinished ones, Delete not while running', () => {
    const sweep = actions('personaLab.run.sweep');
    for (const c of ['personaLab.openSweepDashboard', 'personaLab.openJudgeResults', 'personaLab.rerunRun', 'personaLab.deleteRun', 'personaLab.revealRunInExplorer', 'personaLab.revealRunInOS']) assert.ok(sweep.includes(c), `sweep: ${c}`);
    assert.ok(!sweep.includes('personaLab.resumeRun') && !sweep.includes('personaLab.openGrid'));
    const extract = actions('personaLab.run.extract');
    assert.ok(!extract.includes('personaLab.openSweepDashboard') && !extract.includes('personaLab.openGrid') && extract.includes('personaLab.openJudgeResults'));
    const unfinished = actions('personaLab.run.extract.unfinished');
    assert.ok(unfinished.includes('personaLab.resumeRun') && !unfinished.includes('personaLab.rerunRun') && unfinished.includes('personaLab.deleteRun'));
    const running = actions('personaLab.run.grid.running');
    assert.ok(!running.includes('personaLab.deleteRun') && !running.includes('personaLab.resumeRun') && !running.includes('personaLab.rerunRun') && running.includes('personaLab.openGrid'));
    const slurm = actions('personaLab.run.slurm');
    assert.ok(slurm.includes('personaLab.resumeSlurmUnits') && slurm.includes('personaLab.cancelSlurm') && slurm.includes('personaLab.openSweepDashboard'));
    assert.deepEqual(actions('personaLab.slurmTask.active'), ['personaLab.cancelSlurm', 'personaLab.cancelSlurm']);
    assert.deepEqual(actions('personaLab.slurmTask.done'), []);
  });

  it('Rerun of a finished extraction opens the same run folder and generates nothing again', async () => {
    const gens = path.join(extractDir, 'generations.jsonl');
    const before = existsSync(gens) ? lines(gens) : 0;
    const starts = manifest(extractDir).starts ?? 1;
    const item = (await top()).find((i) => entryPath(i) === extractDir)!;
    const out = await vscode.commands.executeCommand<{ runDir: string }>('personaLab.rerunRun', item);
    assert.equal(out?.runDir, extractDir);
    assert.equal(manifest(extractDir).status, 'done');
    assert.equal(existsSync(gens) ? lines(gens) : 0, before, 'no answer generated twice');
    assert.equal(manifest(extractDir).starts, starts + 1);
  });

  it('a cancelled run shows as unfinished, Resume finishes it in the same folder; Delete is refused while it runs, naming the holder', async () => {
    const args = { modelPath: path.join(toy, 'revisions', 'main'), trait: 'evil', layer: 4, coef: 6, maxQuestions: 20, samples: 5 };
    const running = vscode.commands.executeCommand('personaLab.evaluateSteering', args);
    let dir: string | undefined;
    for (let i = 0; i < 600 && !dir; i++) {
      await sleep(100);
      dir = readdirSync(path.join(dataDir, 'runs')).map((d) => path.join(dataDir, 'runs', d))
        .find((d) => existsSync(path.join(d, 'run.lock')) && d.includes('evaluate-') && !d.startsWith(sweepDir));
    }
    assert.ok(dir, 'the evaluation never took its run lock');
    evalDir = dir;
    await sleep(1000);
    const live = (await top()).find((i) => entryPath(i) === dir);
    assert.equal(live?.contextValue, 'personaLab.run.evaluate.running');
    const log = { info: () => undefined, warn: () => undefined } as unknown as vscode.LogOutputChannel;
    await assert.rejects(deleteRun({ log, listModels: () => [], runsFolder: () => path.join(dataDir, 'runs'), refreshViews: () => undefined }, { runDir: dir, confirmed: true }),
      /is in use by pid \d+ on .+; stop it first/);
    assert.ok(existsSync(dir), 'refused: nothing deleted');
    assert.equal(await vscode.commands.executeCommand('personaLab.cancelJob', 'all'), 1);
    await running;
    const cancelled = (await top()).find((i) => entryPath(i) === dir)!;
    assert.equal(manifest(dir).status, 'cancelled');
    assert.equal(cancelled.contextValue, 'personaLab.run.evaluate.unfinished');
    assert.equal(iconId(cancelled), 'circle-slash');
    assert.match(String(cancelled.description), /^evaluate · cancelled · \d+s$/);
    const out = await vscode.commands.executeCommand<{ runDir: string }>('personaLab.resumeRun', cancelled);
    assert.equal(out?.runDir, dir, 'resumed in the same run folder');
    assert.equal(manifest(dir).status, 'done');
    assert.equal((await top()).find((i) => entryPath(i) === dir)?.contextValue, 'personaLab.run.evaluate');
  });

  it('Reveal in Explorer shows the run folder in the Explorer; Reveal in File Manager opens it or copies its path', async () => {
    const item = (await top()).find((i) => entryPath(i) === extractDir)!;
    assert.equal(await vscode.commands.executeCommand('personaLab.revealRunInExplorer', item), 'explorer');
    const how = await vscode.commands.executeCommand<string>('personaLab.revealRunInOS', item);
    assert.ok(how === 'os' || how === 'clipboard', String(how));
    if (how === 'clipboard') assert.equal(await vscode.env.clipboard.readText(), extractDir);
  });

  it('Delete (confirmed) removes the sweep with its stage runs and keeps the vectors', async () => {
    assert.ok(members.length >= 3, members.join(','));
    assert.ok(!members.includes(evalDir), 'the standalone evaluation (prompting baseline on) is not a stage of the sweep');
    const gone = await vscode.commands.executeCommand<string[]>('personaLab.deleteRun', { runDir: sweepDir, confirmed: true });
    assert.ok(gone?.includes(sweepDir));
    assert.equal(existsSync(sweepDir), false);
    assert.deepEqual(members.filter((d) => existsSync(d)), [], 'every stage run deleted with the sweep');
    assert.deepEqual([...gone!].sort(), [sweepDir, ...members].sort());
    assert.ok(existsSync(extractDir) && existsSync(evalDir), 'runs outside the sweep stay');
    assert.ok(existsSync(path.join(dataDir, 'vectors', 'toy-persona', 'main', 'evil.safetensors')), 'vectors stay');
  });
});
