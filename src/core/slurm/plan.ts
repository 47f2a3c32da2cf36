/**
 * Slurm job arrays for the jobs that split into independent units (sweep: one unit per revision × trait; extract over
 * several traits: one per trait). No scheduler of our own: a plan is an array job — one array task per unit, each
 * running the same CLI on the same shared workspace with its own resumable runs — and, for jobs with a merge, one
 * merge job with --dependency=afterok on the array, running the same code path a local run ends with.
 *
 * Everything lives in one run folder `runs/slurm-<job>-<label>-<hash>/`: manifest.json (kind `slurm`: the units'
 * command lines and every Slurm option), plan.json, array.sbatch, merge.sbatch, submissions.json (the job ids of each
 * submission), cancellations.json (the job ids Persona Lab scancelled, for tasks the scheduler forgets), units/<i>.json
 * (a unit's exit, written by the task itself), logs/. Headless: no vscode.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { OptionSpec } from '../jobs/options.js';
import type { OptionValues } from '../jobs/defaults.js';
import { PipelineError } from '../errors.js';
import { RunStore, writeFileAtomic, writeJsonAtomic } from '../storage/run.js';
import type { Workspace } from '../storage/workspace.js';

/** The Slurm options a plan takes (declared once in the job table as SLURM_OPTIONS, `--slurm-*`). */
export interface SlurmOptions {
  partition?: string;
  account?: string;
  qos?: string;
  /** e.g. gpu:1 */
  gres?: string;
  /** e.g. 04:00:00 */
  time?: string;
  /** e.g. 32G */
  mem?: string;
  cpusPerTask?: number;
  /** At most this many array tasks at once (%N). */
  throttle?: number;
  /** Extra sbatch options, one `#SBATCH` line each. */
  sbatch?: string[];
  /** Shell lines run before the CLI in every job (module load, conda activate, apptainer exec wrappers …). */
  setup?: string[];
}

export interface PlanUnit { id: string; argv: string[] }

export interface SlurmPlan {
  format: 'persona-lab-slurm/1';
  job: string;
  label: string;
  /** Where every job runs (--chdir): relative paths in argv resolve here. */
  cwd: string;
  /** How to start the CLI on the cluster: [node, cli.js] (the same installation on the shared filesystem). */
  cli: string[];
  units: PlanUnit[];
  merge?: { argv: string[] };
  slurm: SlurmOptions;
}

export interface Submission { arrayJobId: string; mergeJobId?: string; units: number[]; at: string }
/** Job ids (array tasks "12_3", or a merge "13") that `cancelPlan` scancelled, with when. */
export interface Cancellation { jobIds: string[]; at: string }
export interface UnitExit { code: number; status: 'done' | 'failed' | 'cancelled'; at: string; host: string; slurmJobId?: string; message?: string }

/** Slurm options from the job table's `--slurm-*` values. */
export function slurmOptionsFrom(flags: OptionValues): SlurmOptions {
  const s = (n: string) => flags[n] as string | undefined;
  return {
    partition: s('slurm-partition'), account: s('slurm-account'), qos: s('slurm-qos'), gres: s('slurm-gres'), time: s('slurm-time'), mem: s('slurm-mem'),
    cpusPerTask: flags['slurm-cpus-per-task'] as number | undefined, throttle: flags['slurm-throttle'] as number | undefined,
    // "--constraint=a100 --mail-type=END" → one line per option; setup lines are separated by newlines or ";;".
    sbatch: s('slurm-sbatch')?.trim().split(/\s+(?=--?[A-Za-z])/).filter(Boolean),
    setup: s('slurm-setup')?.split(/\n|;;/).map((l) => l.trim()).filter(Boolean),
  };
}

const SLURM_FLAGS = new Set(['slurm', 'submit', 'json', 'help', 'slurm-partition', 'slurm-account', 'slurm-qos', 'slurm-gres', 'slurm-time', 'slurm-mem',
  'slurm-cpus-per-task', 'slurm-throttle', 'slurm-sbatch', 'slurm-setup']);

/**
 * The command line a unit runs: the given options (not the Slurm ones), paths made absolute, in declaration order,
 * so the same job on a cluster node resolves exactly what it resolved here.
 */
export function argvFromFlags(command: string[], flags: OptionValues, specs: readonly OptionSpec[], overrides: OptionValues = {}): string[] {
  const out = [...command];
  const all = { ...flags, ...overrides };
  for (const spec of specs) {
    const v = all[spec.name];
    if (v === undefined || v === false || SLURM_FLAGS.has(spec.name)) continue;
    if (spec.type === 'boolean') { out.push(`--${spec.name}`); continue; }
    const text = Array.isArray(v) ? v.join(',') : typeof v === 'object' ? JSON.stringify(v) : spec.type === 'path' ? path.resolve(String(v)) : String(v);
    out.push(`--${spec.name}`, text);
  }
  return out;
}

const shq = (s: string) => (/^[A-Za-z0-9_./:=,+@%-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

function header(plan: SlurmPlan, name: string, log: string): string[] {
  const o = plan.slurm;
  const lines = ['#!/bin/bash', `#SBATCH --job-name=${name}`, `#SBATCH --output=${log}`, `#SBATCH --chdir=${plan.cwd}`];
  if (o.partition) lines.push(`#SBATCH --partition=${o.partition}`);
  if (o.account) lines.push(`#SBATCH --account=${o.account}`);
  if (o.qos) lines.push(`#SBATCH --qos=${o.qos}`);
  if (o.gres) lines.push(`#SBATCH --gres=${o.gres}`);
  if (o.time) lines.push(`#SBATCH --time=${o.time}`);
  if (o.mem) lines.push(`#SBATCH --mem=${o.mem}`);
  if (o.cpusPerTask) lines.push(`#SBATCH --cpus-per-task=${o.cpusPerTask}`);
  for (const l of o.sbatch ?? []) lines.push(`#SBATCH ${l}`);
  return lines;
}

const body = (plan: SlurmPlan, cmd: string[]) => ['set -euo pipefail', ...(plan.slurm.setup ?? []), `exec ${[...plan.cli, ...cmd].map(shq).join(' ')}`];

/** The array script (one task per unit) and the merge script. */
export function sbatchScripts(plan: SlurmPlan, dir: string): { array: string; merge?: string } {
  const n = plan.units.length;
  const array = [...header(plan, `pl-${plan.job}`, path.join(dir, 'logs', 'unit-%a-%A.out')),
    `#SBATCH --array=0-${n - 1}${plan.slurm.throttle ? `%${plan.slurm.throttle}` : ''}`,
    `# ${n} units (plan.json lists them): 0=${plan.units[0].id}${n > 1 ? ` … ${n - 1}=${plan.units[n - 1].id}` : ''}`, ...body(plan, ['jobs', 'unit', dir, '$SLURM_ARRAY_TASK_ID'])].join('\n') + '\n';
  // $SLURM_ARRAY_TASK_ID must reach the shell unquoted.
  const fixed = array.replace(`'$SLURM_ARRAY_TASK_ID'`, '"$SLURM_ARRAY_TASK_ID"');
  const merge = plan.merge ? [...header(plan, `pl-${plan.job}-merge`, path.join(dir, 'logs', 'merge-%j.out')), ...body(plan, ['jobs', 'merge', dir])].join('\n') + '\n' : undefined;
  return { array: fixed, merge };
}

/**
 * A job's plan from its option values (the CLI's parsed argv or the editor's picks, same names): each unit and the
 * merge run `command` with those options plus their overrides and the workspace made absolute; the Slurm options come
 * from the `--slurm-*` values. `cli` is how nodes start the CLI: [node, cli.js] (an Electron host runs it as node).
 */
export function buildPlan(o: { job: string; label: string; flags: OptionValues; specs: readonly OptionSpec[]; ws: Workspace; cli: string[]; cwd: string;
  units: { id: string; overrides: OptionValues }[]; merge?: OptionValues; setup?: string[] }): SlurmPlan {
  const command = o.job.split(' ');
  const base = { workspace: o.ws.root };
  const slurm = slurmOptionsFrom(o.flags);
  if (o.setup?.length) slurm.setup = [...o.setup, ...(slurm.setup ?? [])];
  return {
    format: 'persona-lab-slurm/1', job: o.job, label: o.label, cwd: o.cwd, cli: o.cli,
    units: o.units.map((u) => ({ id: u.id, argv: argvFromFlags(command, o.flags, o.specs, { ...base, ...u.overrides }) })),
    merge: o.merge ? { argv: argvFromFlags(command, o.flags, o.specs, { ...base, ...o.merge }) } : undefined,
    slurm,
  };
}

/** A sweep's units (revision × trait, as src/core/jobs/sweep.ts splits it) and merge, for buildPlan. */
export function sweepPlanUnits(revisions: string[], traits: string[]): { units: { id: string; overrides: OptionValues }[]; merge: OptionValues } {
  const pinned = { revisions: revisions.join(',') };
  return { units: revisions.flatMap((r) => traits.map((t) => ({ id: `${r}/${t}`, overrides: { ...pinned, unit: `${r}:${t}` } }))), merge: { ...pinned, merge: true } };
}

/** Writes the plan's run folder (idempotent: the same plan reopens the same folder) and returns it. */
export function writePlan(ws: Workspace, plan: SlurmPlan): { dir: string; runId: string; scripts: { array: string; merge?: string } } {
  const config = { ...plan } as unknown as Record<string, unknown>;
  const run = RunStore.open(ws, 'slurm', config, RunStore.defaultRunId('slurm', `${plan.job}-${plan.label}`, config));
  mkdirSync(run.path('logs'), { recursive: true });
  mkdirSync(run.path('units'), { recursive: true });
  writeJsonAtomic(run.path('plan.json'), plan);
  const scripts = sbatchScripts(plan, run.dir);
  writeFileAtomic(run.path('array.sbatch'), scripts.array);
  if (scripts.merge) writeFileAtomic(run.path('merge.sbatch'), scripts.merge);
  run.updateManifest({ status: 'done', outputs: { plan: run.path('plan.json'), array: run.path('array.sbatch'), ...(scripts.merge ? { merge: run.path('merge.sbatch') } : {}) } });
  return { dir: run.dir, runId: run.runId, scripts };
}

export function readPlan(dir: string): SlurmPlan {
  const f = path.join(dir, 'plan.json');
  if (!existsSync(f)) throw new PipelineError('slurm', `${dir} is not a Slurm plan folder (no plan.json); give the folder that --slurm printed`);
  return JSON.parse(readFileSync(f, 'utf8')) as SlurmPlan;
}

export const unitExitFile = (dir: string, i: number | 'merge') => path.join(dir, 'units', `${i}.json`);
export function readUnitExit(dir: string, i: number | 'merge'): UnitExit | undefined {
  const f = unitExitFile(dir, i);
  return existsSync(f) ? JSON.parse(readFileSync(f, 'utf8')) as UnitExit : undefined;
}
export function readSubmissions(dir: string): Submission[] {
  const f = path.join(dir, 'submissions.json');
  return existsSync(f) ? JSON.parse(readFileSync(f, 'utf8')) as Submission[] : [];
}

export function readCancellations(dir: string): Cancellation[] {
  const f = path.join(dir, 'cancellations.json');
  return existsSync(f) ? JSON.parse(readFileSync(f, 'utf8')) as Cancellation[] : [];
}
export function recordCancellation(dir: string, jobIds: string[]): void {
  writeJsonAtomic(path.join(dir, 'cancellations.json'), [...readCancellations(dir), { jobIds, at: new Date().toISOString() }]);
}

/** Runs a Slurm client command; a missing client or a refusal is a PipelineError naming the command and its output. */
export function slurmCommand(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.error) throw new PipelineError('slurm', `${cmd} could not run (${r.error.message}); is this a Slurm login node with ${cmd} on PATH?`);
  if (r.status !== 0) throw new PipelineError('slurm', `${cmd} ${args.join(' ')} failed (exit ${r.status}): ${(r.stderr || r.stdout).trim()}`);
  return r.stdout;
}

/**
 * Submits the given units (default all) as one array and, when the plan has a merge, the merge with
 * --dependency=afterok on it. Records the submission. `--array` on the command line overrides the script's.
 */
export function submitPlan(dir: string, units?: number[], options: { merge?: boolean; after?: string[] } = {}): Submission {
  const plan = readPlan(dir);
  const list = units ?? plan.units.map((_, i) => i);
  let arrayJobId = '';
  if (list.length) {
    const spec = `${compressRanges(list)}${plan.slurm.throttle ? `%${plan.slurm.throttle}` : ''}`;
    arrayJobId = slurmCommand('sbatch', ['--parsable', `--array=${spec}`, path.join(dir, 'array.sbatch')]).trim().split(';')[0];
  }
  let mergeJobId: string | undefined;
  if (plan.merge && options.merge !== false) {
    const after = [...new Set([arrayJobId, ...(options.after ?? [])].filter(Boolean))];
    mergeJobId = slurmCommand('sbatch', ['--parsable', ...(after.length ? [`--dependency=afterok:${after.join(':')}`] : []), path.join(dir, 'merge.sbatch')]).trim().split(';')[0];
  }
  const sub: Submission = { arrayJobId, mergeJobId, units: list, at: new Date().toISOString() };
  writeJsonAtomic(path.join(dir, 'submissions.json'), [...readSubmissions(dir), sub]);
  return sub;
}

/** [0,1,2,5,7,8] → "0-2,5,7-8" */
export function compressRanges(xs: number[]): string {
  const s = [...new Set(xs)].sort((a, b) => a - b);
  const out: string[] = [];
  for (let i = 0; i < s.length;) {
    let j = i;
    while (j + 1 < s.length && s[j + 1] === s[j] + 1) j++;
    out.push(i === j ? String(s[i]) : `${s[i]}-${s[j]}`);
    i = j + 1;
  }
  return out.join(',');
}
