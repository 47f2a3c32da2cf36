/**
 * Sweeps as Slurm job arrays against a real single-node Slurm (scripts/slurm/cluster.sh: slurmctld + slurmd + munged,
 * installed with apt only when missing). Skips, saying why, when not root or the packages cannot be installed.
 *
 * - a dry run (--slurm without --submit) writes scripts that `sbatch --test-only` accepts;
 * - a toy sweep of 2 revisions × 2 traits (4 array units) submitted to the cluster, with one unit cancelled mid-run
 *   (scancel) and one made to fail (a folder where its vector file goes): `jobs status` reports both, `jobs resume`
 *   resubmits exactly those two and the merge, and the merged tables, geometry and unit files are byte-identical to
 *   the same sweep run locally, with every run's judgements present once.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { cli } from '../cli/helpers.js';
import { planStatus, isActive, type PlanStatus } from '../../src/core/slurm/status.js';

const root = path.resolve(import.meta.dirname, '..', '..');
const script = path.join(root, 'scripts', 'slurm', 'cluster.sh');
const toy = existsSync(path.join(root, 'models', 'toy-persona', 'revisions', 'main', 'config.json'));
let skip: string | undefined;
let tmp = '';
const port = 20000 + (process.pid % 5000) * 2;
const clusterEnv = () => ({ ...process.env, PERSONA_LAB_SLURM_DIR: path.join(tmp, 'cluster'), PERSONA_LAB_SLURM_CTLD_PORT: String(port), PERSONA_LAB_SLURM_SLURMD_PORT: String(port + 1), PERSONA_LAB_SLURM_NODE: 'pl-test-node' });

before(() => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'pl-slurm-'));
  if (!toy) { skip = 'toy model absent'; return; }
  if (process.getuid?.() !== 0) { skip = 'the local Slurm cluster needs root (its daemons run as root, munged as munge)'; return; }
  const t0 = Date.now();
  const r = spawnSync('bash', [script, 'start'], { env: clusterEnv(), encoding: 'utf8' });
  if (r.status === 3) { skip = `no local Slurm: ${r.stderr.trim().split('\n').pop()}`; return; }
  assert.equal(r.status, 0, `cluster start failed: ${r.stderr}`);
  process.env.SLURM_CONF = path.join(tmp, 'cluster', 'slurm.conf');
  console.log(`# local Slurm cluster (setup included) started in ${Date.now() - t0} ms`);
});

after(() => {
  if (process.env.SLURM_CONF) spawnSync('bash', [script, 'stop'], { env: clusterEnv(), stdio: 'inherit' });
  rmSync(tmp, { recursive: true, force: true });
});

const sweepArgs = (ws: string) => ['sweep', '--trait', 'evil,sycophantic', '--revisions', 'stage1-step550,main', '--max-questions', '3', '--samples', '1', '--eval-samples', '1', '--workspace', ws];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** sha256 of the merged outputs and unit files of the one sweep run in a workspace. */
function sweepDigest(ws: string): Record<string, string> {
  const runs = path.join(ws, 'runs');
  const sweep = readdirSync(runs).filter((d) => d.startsWith('sweep-'));
  assert.equal(sweep.length, 1, `one sweep run in ${ws}: ${sweep.join(', ')}`);
  const dir = path.join(runs, sweep[0]);
  const out: Record<string, string> = {};
  const walk = (rel: string) => {
    for (const n of readdirSync(path.join(dir, rel))) {
      const r = path.join(rel, n);
      if (statSync(path.join(dir, r)).isDirectory()) walk(r);
      else if (!['manifest.json', 'results.json'].includes(n) && !n.includes('.lock')) out[r] = createHash('sha256').update(readFileSync(path.join(dir, r))).digest('hex');
    }
  };
  walk('.');
  return out;
}

/** run folder → its judgement keys (metric|key), sorted; duplicates kept so a duplicate shows. */
function judgements(ws: string): Record<string, string[]> {
  const runs = path.join(ws, 'runs');
  const out: Record<string, string[]> = {};
  for (const d of readdirSync(runs).filter((x) => x.startsWith('extract-') || x.startsWith('evaluate-'))) {
    const f = path.join(runs, d, 'judgements.jsonl');
    out[d] = existsSync(f) ? readFileSync(f, 'utf8').split('\n').filter(Boolean).map((l) => { const j = JSON.parse(l) as { key: string; metric: string }; return `${j.metric}|${j.key}`; }).sort() : [];
  }
  return out;
}

async function settle(dir: string, until: (s: PlanStatus) => boolean, timeoutMs = 240_000): Promise<PlanStatus> {
  const t0 = Date.now();
  for (;;) {
    const s = planStatus(dir);
    if (until(s)) return s;
    if (Date.now() - t0 > timeoutMs) throw new Error(`plan did not settle: ${JSON.stringify(s.units.map((u) => u.state))} merge ${s.merge?.state}`);
    await sleep(500);
  }
}
const quiet = (s: PlanStatus) => !s.units.some((u) => isActive(u.state)) && !isActive(s.merge?.state ?? 'done');

test('slurm dry run: --slurm writes array and merge scripts that sbatch --test-only accepts; bad options are refused before anything is written', { timeout: 120_000 }, async (t) => {
  if (skip) { t.skip(skip); return; }
  const ws = path.join(tmp, 'ws-dry');
  const r = await cli([...sweepArgs(ws), '--slurm', '--slurm-partition', 'debug', '--slurm-time', '00:30:00', '--slurm-mem', '1G', '--slurm-cpus-per-task', '1',
    '--slurm-throttle', '2', '--slurm-sbatch=--comment=persona-lab --nice=10', '--slurm-setup', 'echo setting up;;true', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout) as { runDir: string; units: string[] };
  assert.deepEqual(j.units, ['stage1-step550/evil', 'stage1-step550/sycophantic', 'main/evil', 'main/sycophantic']);
  const array = readFileSync(path.join(j.runDir, 'array.sbatch'), 'utf8');
  for (const line of ['#SBATCH --array=0-3%2', '#SBATCH --partition=debug', '#SBATCH --time=00:30:00', '#SBATCH --mem=1G', '#SBATCH --cpus-per-task=1', '#SBATCH --comment=persona-lab', '#SBATCH --nice=10', 'echo setting up']) {
    assert.ok(array.includes(line), `array.sbatch has ${line}:\n${array}`);
  }
  const manifest = JSON.parse(readFileSync(path.join(j.runDir, 'manifest.json'), 'utf8')) as { kind: string; config: { slurm: Record<string, unknown> } };
  assert.equal(manifest.kind, 'slurm');
  assert.deepEqual(manifest.config.slurm, { partition: 'debug', time: '00:30:00', mem: '1G', cpusPerTask: 1, throttle: 2, sbatch: ['--comment=persona-lab', '--nice=10'], setup: ['echo setting up', 'true'] });
  for (const f of ['array.sbatch', 'merge.sbatch']) {
    const v = spawnSync('sbatch', ['--test-only', path.join(j.runDir, f)], { encoding: 'utf8' });
    assert.equal(v.status, 0, `sbatch --test-only ${f}: ${v.stderr}`);
    assert.match(v.stderr, /to start at/);
  }
  assert.equal(spawnSync('squeue', ['-h'], { encoding: 'utf8' }).stdout.trim(), '', 'a dry run submits nothing');
  const bad = await cli([...sweepArgs(path.join(tmp, 'ws-bad')), '--slurm', '--slurm-throttle', '0']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--slurm-throttle must be > 0/);
  assert.equal(existsSync(path.join(tmp, 'ws-bad', 'runs')), false);
});

test('slurm sweep: 4 array units + merge; a cancelled and a failed unit are reported, resumed, and the result equals the local sweep byte for byte', { timeout: 600_000 }, async (t) => {
  if (skip) { t.skip(skip); return; }
  const local = path.join(tmp, 'ws-local'), onSlurm = path.join(tmp, 'ws-slurm');
  const t0 = Date.now();
  const l = await cli(sweepArgs(local));
  assert.equal(l.code, 0, l.stderr);
  t.diagnostic(`local sweep ${Date.now() - t0} ms`);

  // Unit 3 (main/sycophantic) fails when it writes its vector: a folder stands where the file goes.
  const blocker = path.join(onSlurm, 'vectors', 'toy-persona', 'main', 'sycophantic.safetensors');
  mkdirSync(blocker, { recursive: true });
  writeFileSync(path.join(blocker, 'keep'), '');
  const t1 = Date.now();
  const r = await cli([...sweepArgs(onSlurm), '--slurm', '--submit', '--slurm-throttle', '2', '--slurm-cpus-per-task', '1', '--slurm-mem', '1G', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const { runDir, submitted } = JSON.parse(r.stdout) as { runDir: string; submitted: { arrayJobId: string; mergeJobId: string } };
  assert.ok(submitted.arrayJobId && submitted.mergeJobId);

  // Cancel unit 0 once it has run for a moment.
  await settle(runDir, (s) => s.units[0].state === 'running', 60_000);
  await sleep(1500);
  assert.equal(spawnSync('scancel', [`${submitted.arrayJobId}_0`]).status, 0);
  const s1 = await settle(runDir, quiet);
  const byId = Object.fromEntries(s1.units.map((u) => [u.id, u.state]));
  t.diagnostic(`after the first submission: ${JSON.stringify(byId)}, merge ${s1.merge?.state} (${Date.now() - t1} ms)`);
  assert.equal(byId['stage1-step550/evil'], 'cancelled');
  assert.equal(byId['main/sycophantic'], 'failed');
  assert.equal(byId['stage1-step550/sycophantic'], 'done');
  assert.equal(byId['main/evil'], 'done');
  assert.notEqual(s1.merge?.state, 'done', 'the merge never runs after a failed unit');
  const shown = await cli(['jobs', 'status', runDir]);
  assert.equal(shown.code, 0, shown.stderr);
  assert.match(shown.stdout, /stage1-step550\/evil\s+cancelled/);
  assert.match(shown.stdout, /main\/sycophantic\s+failed/);
  assert.match(shown.stdout, /2\/4 units done/);

  rmSync(blocker, { recursive: true });
  const t2 = Date.now();
  const resumed = await cli(['jobs', 'resume', runDir, '--json']);
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.deepEqual(JSON.parse(resumed.stdout).resubmitted, [0, 3], 'only the cancelled and the failed unit');
  const s2 = await settle(runDir, quiet);
  assert.deepEqual(s2.units.map((u) => u.state), ['done', 'done', 'done', 'done'], JSON.stringify(s2.units));
  assert.equal(s2.merge?.state, 'done');
  t.diagnostic(`resume ${Date.now() - t2} ms`);

  assert.deepEqual(sweepDigest(onSlurm), sweepDigest(local), 'merged tables, geometry and unit files byte-identical to the local sweep');
  const js = judgements(onSlurm), jl = judgements(local);
  assert.deepEqual(js, jl, 'the same judgements in every run as locally');
  for (const [d, keys] of Object.entries(js)) assert.equal(new Set(keys).size, keys.length, `${d}: no judgement duplicated`);

  // Idempotent: nothing left to resubmit, and a second merge rewrites the same bytes.
  const again = await cli(['jobs', 'resume', runDir]);
  assert.match(again.stdout, /nothing to resubmit/);
  const before = sweepDigest(onSlurm);
  const merge = await cli(['jobs', 'merge', runDir]);
  assert.equal(merge.code, 0, merge.stderr);
  assert.deepEqual(sweepDigest(onSlurm), before);
});

test('slurm cancel: tasks cancelled while pending read as cancelled (Slurm keeps no record of them), and resume resubmits them all', { timeout: 120_000 }, async (t) => {
  if (skip) { t.skip(skip); return; }
  const ws = path.join(tmp, 'ws-cancel');
  // Held pending: nothing starts for ten minutes.
  const r = await cli([...sweepArgs(ws), '--slurm', '--submit', '--slurm-throttle', '2', '--slurm-mem', '1G', '--slurm-cpus-per-task', '1', '--slurm-sbatch=--begin=now+600', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const { runDir, submitted } = JSON.parse(r.stdout) as { runDir: string; submitted: { arrayJobId: string; mergeJobId: string } };
  const bad = await cli(['jobs', 'cancel', runDir, '9']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /unit index must be 0\.\.3/);
  const c = await cli(['jobs', 'cancel', runDir, '--json']);
  assert.equal(c.code, 0, c.stderr);
  const ids = (JSON.parse(c.stdout) as { cancelled: string[] }).cancelled;
  assert.deepEqual([...ids].sort(), [0, 1, 2, 3].map((i) => `${submitted.arrayJobId}_${i}`).concat(submitted.mergeJobId).sort());
  // What Slurm itself still says of the array: only its meta record, no task of it.
  const shown = spawnSync('scontrol', ['-o', 'show', 'job', submitted.arrayJobId], { encoding: 'utf8' }).stdout;
  t.diagnostic(`scontrol after cancelling every pending task: ${shown.match(/ArrayTaskId=\S+/g)?.join(' ') ?? '(no record)'}`);
  const s = await settle(runDir, quiet, 30_000);
  assert.deepEqual(s.units.map((u) => `${u.state}/${u.source}`), Array(4).fill('cancelled/folder'), JSON.stringify(s.units));
  assert.equal(s.merge?.state, 'cancelled');
  const status = await cli(['jobs', 'status', runDir]);
  assert.match(status.stdout, /0\/4 units done, merge cancelled/);
  assert.doesNotMatch(status.stdout, /missing/);
  const resumed = await cli(['jobs', 'resume', runDir, '--json']);
  assert.equal(resumed.code, 0, resumed.stderr);
  const rj = JSON.parse(resumed.stdout) as { resubmitted: number[]; submission: { arrayJobId: string; mergeJobId: string } };
  assert.deepEqual(rj.resubmitted, [0, 1, 2, 3]);
  assert.ok(rj.submission.mergeJobId);
  const s2 = planStatus(runDir);
  assert.deepEqual(s2.units.map((u) => u.state), Array(4).fill('pending'), 'the resubmitted tasks are queued again, not read from the old cancellation');
  const again = await cli(['jobs', 'cancel', runDir]);
  assert.match(again.stdout, new RegExp(`scancel .*${rj.submission.arrayJobId}_0`));
});
