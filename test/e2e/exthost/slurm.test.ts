/**
 * The editor's Slurm flow against a real single-node Slurm (scripts/slurm/cluster.sh: slurmctld + slurmd + munged, the
 * cluster test/core/slurm.integration.test.ts uses): Run Checkpoint Sweep → "Slurm" writes the plan with the
 * personaLab.slurm.* settings and submits it; the Runs view shows the plan's array tasks with their states, refreshing
 * while any is queued or running, until every task and the merge are done, with the merged sweep (and its stage runs)
 * under the plan and the sweep dashboard opening from the plan. Cancel (scancel) and Resume Failed Units (jobs resume)
 * on a second plan. Skipped, with the reason, when not root or slurm-wlm/munge cannot be installed.
 */
import * as assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import * as vscode from 'vscode';
import type { PersonaLabApi } from '../../../src/extension/extension.js';
import type { FileTreeItem } from '../../../src/extension/views/fileTree.js';

const ext = () => vscode.extensions.getExtension<PersonaLabApi>('persona-lab.persona-lab')!;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const entryPath = (i: vscode.TreeItem) => (i as FileTreeItem).entry?.path;
// The repository: this bundle runs from out/e2e/exthost/.
const repo = path.resolve(__dirname, '..', '..', '..');
const script = path.join(repo, 'scripts', 'slurm', 'cluster.sh');

describe('Slurm from the editor: Run Checkpoint Sweep on the local cluster, array tasks live in Runs', function () {
  this.timeout(900_000);
  let api: PersonaLabApi;
  let dataDir = '';
  let toy = '';
  let tmp = '';
  let started = false;
  const port = 21000 + (process.pid % 4000) * 2;
  const env = () => ({ ...process.env, PERSONA_LAB_SLURM_DIR: path.join(tmp, 'cluster'), PERSONA_LAB_SLURM_CTLD_PORT: String(port), PERSONA_LAB_SLURM_SLURMD_PORT: String(port + 1), PERSONA_LAB_SLURM_NODE: 'pl-exthost-node' });
  const slurmConf = vscode.workspace.getConfiguration('personaLab.slurm');
  const top = async () => { api.views.runs.refresh(); return (await api.views.runs.getChildren()) ?? []; };
  const children = async (i: vscode.TreeItem) => (await api.views.runs.getChildren(i as FileTreeItem)) ?? [];

  before(async function () {
    api = await ext().activate();
    const root = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
    assert.ok(root, 'the suite needs an open workspace folder');
    dataDir = path.join(root, '.persona-lab');
    toy = path.join(ext().extensionPath, 'models', 'toy-persona');
    tmp = mkdtempSync(path.join(os.tmpdir(), 'pl-exthost-slurm-'));
    const skip = (why: string) => { console.log(`    skipped: ${why}`); this.skip(); };
    if (!existsSync(path.join(toy, 'revisions', 'main'))) return skip('the toy model is not packaged');
    if (!existsSync(script)) return skip(`no ${script} (the suite runs outside the repository)`);
    if (process.getuid?.() !== 0) return skip('the local Slurm cluster needs root (its daemons run as root, munged as munge)');
    const t0 = Date.now();
    try {
      await promisify(execFile)('bash', [script, 'start'], { env: env(), timeout: 300_000 });
    } catch (e) {
      const err = e as { code?: number; stderr?: string };
      if (err.code === 3) return skip(`no local Slurm: ${String(err.stderr).trim().split('\n').pop()}`);
      throw new Error(`cluster start failed: ${err.stderr ?? String(e)}`, { cause: e });
    }
    started = true;
    // The extension runs sbatch/squeue in this process: they find the cluster through SLURM_CONF.
    process.env.SLURM_CONF = path.join(tmp, 'cluster', 'slurm.conf');
    console.log(`    local Slurm cluster started in ${Date.now() - t0} ms`);
    rmSync(dataDir, { recursive: true, force: true });
    // The plan's Slurm options come from the settings (one core at a time, 1 GiB per task on this node).
    await slurmConf.update('cpusPerTask', 1, vscode.ConfigurationTarget.Workspace);
    await slurmConf.update('mem', '1G', vscode.ConfigurationTarget.Workspace);
    await slurmConf.update('throttle', 2, vscode.ConfigurationTarget.Workspace);
  });

  after(async () => {
    for (const k of ['cpusPerTask', 'mem', 'throttle']) await vscode.workspace.getConfiguration('personaLab.slurm').update(k, undefined, vscode.ConfigurationTarget.Workspace);
    if (started) await promisify(execFile)('bash', [script, 'stop'], { env: env(), timeout: 120_000 }).catch((e: Error) => console.log(`cluster stop: ${e.message}`));
    delete process.env.SLURM_CONF;
    rmSync(tmp, { recursive: true, force: true });
    rmSync(dataDir, { recursive: true, force: true });
  });

  /** Polls the Runs view until the plan's tasks and merge are all in `final` states; returns the states seen on the way. */
  async function watchPlan(planDir: string, settled: (states: string[]) => boolean, timeoutMs = 600_000): Promise<{ seen: Set<string>; plan: vscode.TreeItem; tasks: vscode.TreeItem[] }> {
    const seen = new Set<string>();
    const t0 = Date.now();
    for (;;) {
      const plan = (await top()).find((i) => entryPath(i) === planDir);
      assert.ok(plan, `the plan ${path.basename(planDir)} is not in Runs`);
      const tasks = (await children(plan)).filter((i) => String(i.contextValue).startsWith('personaLab.slurmTask.'));
      const states = tasks.map((t) => String(t.description).split(' · ')[0]);
      states.forEach((s) => seen.add(s));
      // The plan's own description was read before its tasks: read it again once they have settled.
      if (settled(states)) return { seen, plan: (await top()).find((i) => entryPath(i) === planDir)!, tasks };
      if (Date.now() - t0 > timeoutMs) throw new Error(`plan did not settle: ${tasks.map((t) => `${String(t.label)} ${String(t.description)}`).join('; ')}`);
      await sleep(1000);
    }
  }

  it('submits a 2-revision toy sweep from Run Checkpoint Sweep → Slurm; Runs shows the array tasks reach done and the merged sweep under the plan', async () => {
    const t0 = Date.now();
    const out = await vscode.commands.executeCommand<{ runDir: string; submitted?: { arrayJobId: string; mergeJobId?: string } }>('personaLab.runSweep',
      { modelPath: toy, revisions: ['stage1-step550', 'main'], traits: ['evil'], maxQuestions: 2, samples: 1, evalSamples: 1, where: 'slurm' });
    assert.ok(out?.submitted?.arrayJobId && out.submitted.mergeJobId, `not submitted: ${JSON.stringify(out)}`);
    const planDir = out.runDir;
    const array = readFileSync(path.join(planDir, 'array.sbatch'), 'utf8');
    for (const line of ['#SBATCH --array=0-1%2', '#SBATCH --mem=1G', '#SBATCH --cpus-per-task=1']) assert.ok(array.includes(line), `array.sbatch has ${line} (from personaLab.slurm.*):\n${array}`);

    const first = (await top()).find((i) => entryPath(i) === planDir)!;
    assert.equal(first.contextValue, 'personaLab.run.slurm');
    const { seen, plan, tasks } = await watchPlan(planDir, (s) => s.length === 3 && s.every((x) => x === 'done'));
    console.log(`    Slurm sweep: 2 array tasks + merge done in ${Date.now() - t0} ms; states seen in Runs: ${[...seen].join(', ')}`);
    assert.deepEqual(tasks.map((t) => String(t.label)), ['0 stage1-step550/evil', '1 main/evil', 'merge']);
    for (const t of tasks) assert.match(String(t.description), /^done · job \d+(_\d)?$/);
    assert.ok([...seen].some((s) => s === 'pending' || s === 'running'), `Runs never showed a task queued or running (seen: ${[...seen].join(', ')})`);
    assert.match(String(plan.description), /^2\/2 units done, merge done$/);

    // The merged sweep under the plan, with its stage runs under it; none of them on the top level.
    const sweep = (await children(plan)).find((i) => i.contextValue === 'personaLab.run.sweep');
    assert.ok(sweep, 'the merged sweep run is not under the plan');
    assert.match(String(sweep.description), /^sweep · done · 2\/2 units · /);
    const stages = (await children(sweep)).filter((i) => /^personaLab\.run\.(extract|evaluate)$/.test(String(i.contextValue)));
    assert.ok(stages.length >= 3, `stage runs under the sweep: ${stages.map((i) => String(i.label)).join(', ')}`);
    const topPaths = (await top()).map(entryPath);
    assert.deepEqual(topPaths, [planDir], 'only the plan on the top level');
    const table = readFileSync(path.join(entryPath(sweep)!, 'combined_significance.csv'), 'utf8').trim().split('\n');
    assert.equal(table.length, 3, 'header + one row per revision');
    // Open Sweep Dashboard on the plan opens its merged sweep.
    const dash = await vscode.commands.executeCommand<{ rows: number }>('personaLab.openSweepDashboard', plan);
    assert.equal(dash?.rows, 2);
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  });

  it('Cancel (scancel) stops a plan\'s queued tasks; Resume Failed Units resubmits exactly those and the plan completes', async () => {
    const out = await vscode.commands.executeCommand<{ runDir: string; submitted?: { arrayJobId: string } }>('personaLab.runSweep',
      { modelPath: toy, revisions: ['stage1-step550', 'main'], traits: ['sycophantic'], maxQuestions: 2, samples: 1, evalSamples: 1, where: 'slurm' });
    assert.ok(out?.submitted?.arrayJobId);
    const planDir = out.runDir;
    const plan = (await top()).find((i) => entryPath(i) === planDir)!;
    const cancelled = await vscode.commands.executeCommand<string[]>('personaLab.cancelSlurm', plan);
    assert.ok(cancelled && cancelled.length >= 2, `scancel: ${JSON.stringify(cancelled)}`);
    const after = await watchPlan(planDir, (s) => s.length === 3 && s.slice(0, 2).every((x) => x === 'cancelled' || x === 'done') && s.slice(0, 2).includes('cancelled') && !['pending', 'running'].includes(s[2]), 120_000);
    const cancelledUnits = after.tasks.slice(0, 2).flatMap((t, i) => (String(t.description).startsWith('cancelled') ? [i] : []));
    assert.equal(after.tasks[0].contextValue, cancelledUnits.includes(0) ? 'personaLab.slurmTask.cancelled' : 'personaLab.slurmTask.done');
    const resumed = await vscode.commands.executeCommand<{ resubmitted: number[]; mergeJobId?: string }>('personaLab.resumeSlurmUnits', after.plan);
    assert.deepEqual(resumed?.resubmitted, cancelledUnits, 'only the cancelled units');
    assert.ok(resumed?.mergeJobId, 'the merge is resubmitted after them');
    const done = await watchPlan(planDir, (s) => s.length === 3 && s.every((x) => x === 'done'));
    assert.match(String(done.plan.description), /^2\/2 units done, merge done$/);
  });
});
