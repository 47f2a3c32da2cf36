// Slurm plans without a cluster: the unit command lines, the sbatch scripts, the option group (src/core/slurm/plan.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { argvFromFlags, buildPlan, compressRanges, sbatchScripts, slurmOptionsFrom, sweepPlanUnits, type SlurmPlan } from '../../src/core/slurm/plan.js';
import { Workspace } from '../../src/core/storage/workspace.js';
import { JOBS } from '../../src/core/jobs/table.js';
import { parseArgs } from '../../src/cli/args.js';
import { cli } from '../cli/helpers.js';

test('compressRanges: array index lists as sbatch --array takes them', () => {
  assert.equal(compressRanges([7, 0, 1, 2, 5, 8, 2]), '0-2,5,7-8');
  assert.equal(compressRanges([3]), '3');
});

test('a unit\'s command line: the given options, paths absolute, Slurm options dropped, overrides applied', () => {
  const { flags } = parseArgs(['--trait', 'evil,impolite', '--model', 'models/x', '--judge-extra-body', '{"a":1}', '--no-same-checkpoint', '--slurm', '--submit',
    '--slurm-gres', 'gpu:1', '--slurm-throttle', '4', '--slurm-sbatch=--constraint=a100 --mail-type=END', '--slurm-setup', 'module load cuda;;source venv/bin/activate'], JOBS.sweep);
  const argv = argvFromFlags(['sweep'], flags, JOBS.sweep, { unit: 'main:evil' });
  assert.deepEqual(argv, ['sweep', '--trait', 'evil,impolite', '--no-same-checkpoint', '--unit', 'main:evil', '--model', path.resolve('models/x'), '--judge-extra-body', '{"a":1}']);
  assert.deepEqual(slurmOptionsFrom(flags), { partition: undefined, account: undefined, qos: undefined, gres: 'gpu:1', time: undefined, mem: undefined, cpusPerTask: undefined,
    throttle: 4, sbatch: ['--constraint=a100', '--mail-type=END'], setup: ['module load cuda', 'source venv/bin/activate'] });
});

test('sbatch scripts: one array task per unit with the throttle, the merge without an array, setup lines before the CLI', () => {
  const plan: SlurmPlan = { format: 'persona-lab-slurm/1', job: 'sweep', label: 'm-evil', cwd: '/work', cli: ['/usr/bin/node', '/opt/pl/cli.js'],
    units: [{ id: 'a/evil', argv: [] }, { id: 'b/evil', argv: [] }], merge: { argv: [] }, slurm: { gres: 'gpu:1', throttle: 1, setup: ['module load cuda'], account: 'proj' } };
  const s = sbatchScripts(plan, '/ws/runs/slurm-x');
  assert.match(s.array, /^#SBATCH --array=0-1%1$/m);
  assert.match(s.array, /^#SBATCH --gres=gpu:1$/m);
  assert.match(s.array, /^#SBATCH --account=proj$/m);
  assert.match(s.array, /^module load cuda\nexec \/usr\/bin\/node \/opt\/pl\/cli.js jobs unit \/ws\/runs\/slurm-x "\$SLURM_ARRAY_TASK_ID"$/m);
  assert.doesNotMatch(s.merge!, /--array/);
  assert.match(s.merge!, /jobs merge \/ws\/runs\/slurm-x$/m);
});

test('extract --slurm over several traits: one unit per trait, no merge; nothing runs here', { timeout: 60_000 }, async () => {
  const ws = mkdtempSync(path.join(os.tmpdir(), 'pl-slurm-plan-'));
  try {
    const r = await cli(['extract', '--trait', 'evil,humorous', '--samples', '1', '--workspace', ws, '--slurm', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout) as { runDir: string; units: string[] };
    assert.deepEqual(j.units, ['evil', 'humorous']);
    const plan = JSON.parse(readFileSync(path.join(j.runDir, 'plan.json'), 'utf8')) as SlurmPlan;
    assert.deepEqual(plan.units[1].argv, ['extract', '--trait', 'humorous', '--samples', '1', '--workspace', ws]);
    assert.equal(plan.merge, undefined);
  } finally { rmSync(ws, { recursive: true, force: true }); }
});

test('the editor\'s sweep picks make the same unit command lines the CLI parses (buildPlan + sweepPlanUnits)', () => {
  const ws = new Workspace(path.resolve('/tmp/pl-ws'));
  const flags = { model: '/ext/models/toy-persona', revisions: 'stage1-step550,main', trait: ['evil', 'sycophantic'], steering: 'evil=4:6,sycophantic=4:3' };
  const { units, merge } = sweepPlanUnits(['stage1-step550', 'main'], ['evil', 'sycophantic']);
  const plan = buildPlan({ job: 'sweep', label: 'toy', flags, specs: JOBS.sweep, ws, cli: ['node', '/ext/dist/cli.js'], cwd: ws.root, units, merge, setup: ['export ELECTRON_RUN_AS_NODE=1'] });
  assert.deepEqual(plan.units.map((u) => u.id), ['stage1-step550/evil', 'stage1-step550/sycophantic', 'main/evil', 'main/sycophantic']);
  const parsed = parseArgs(plan.units[2].argv.slice(1), JOBS.sweep).flags;
  assert.deepEqual(parsed, { trait: ['evil', 'sycophantic'], revisions: 'stage1-step550,main', steering: 'evil=4:6,sycophantic=4:3', unit: 'main:evil', model: '/ext/models/toy-persona', workspace: ws.root });
  assert.deepEqual(parseArgs(plan.merge!.argv.slice(1), JOBS.sweep).flags.merge, true);
  assert.deepEqual(plan.slurm.setup, ['export ELECTRON_RUN_AS_NODE=1']);
});
