/**
 * persona-lab jobs …: cluster plans written by `--slurm` (src/core/slurm). `submit`, `status`, `resume` and `cancel` run on the
 * login node; `unit` and `merge` are what the array tasks and the merge job run.
 */
import { spawn } from 'node:child_process';
import { hostname } from 'node:os';
import path from 'node:path';
import { UsageError, type CliCommand, type CliContext } from '../command.js';
import { EXIT, printJson } from '../common.js';
import { OUTPUT_OPTIONS } from '../../core/jobs/table.js';
import { buildPlan, readPlan, submitPlan, unitExitFile, writePlan, type SlurmPlan, type UnitExit } from '../../core/slurm/plan.js';
import type { OptionValues } from '../../core/jobs/defaults.js';
import type { Workspace } from '../../core/storage/workspace.js';
import { cancelPlan, planStatus, resumePlan, type PlanStatus } from '../../core/slurm/status.js';
import { writeJsonAtomic } from '../../core/storage/run.js';

const runDir = (ctx: CliContext): string => {
  const d = ctx.args[0];
  if (!d) throw new UsageError('give the plan\'s run folder (the one --slurm printed), e.g. .persona-lab/runs/slurm-sweep-…');
  return path.resolve(d);
};

function printStatus(ctx: CliContext, s: PlanStatus): void {
  const w = Math.max(4, ...s.units.map((u) => u.id.length));
  ctx.stdout(`${'#'.padStart(3)}  ${'unit'.padEnd(w)}  ${'state'.padEnd(13)} ${'job'.padEnd(12)} source`);
  for (const u of s.units) ctx.stdout(`${String(u.index).padStart(3)}  ${u.id.padEnd(w)}  ${u.state.padEnd(13)} ${(u.jobId ?? '').padEnd(12)} ${u.source}${u.detail ? `  ${u.detail}` : ''}`);
  if (s.merge) ctx.stdout(`${''.padStart(3)}  ${'merge'.padEnd(w)}  ${s.merge.state.padEnd(13)} ${(s.merge.jobId ?? '').padEnd(12)} ${s.merge.source}`);
  const done = s.units.filter((u) => u.state === 'done').length;
  ctx.stdout(`${done}/${s.units.length} units done${s.merge ? `, merge ${s.merge.state}` : ''}`);
}

/** Runs one command line of the plan as a child CLI process, forwarding SIGTERM (scancel), and records its exit. */
function runRecorded(plan: SlurmPlan, argv: string[], exitFile: string): Promise<number> {
  return new Promise((resolve) => {
    const [cmd, ...pre] = plan.cli;
    const child = spawn(cmd, [...pre, ...argv], { stdio: 'inherit', cwd: plan.cwd });
    const forward = (sig: NodeJS.Signals) => () => child.kill(sig === 'SIGTERM' ? 'SIGINT' : sig);
    const onTerm = forward('SIGTERM'), onInt = forward('SIGINT');
    process.on('SIGTERM', onTerm); process.on('SIGINT', onInt);
    child.on('close', (code, signal) => {
      process.off('SIGTERM', onTerm); process.off('SIGINT', onInt);
      const c = code ?? 128 + 15;
      // Exit 3 (not extractable) is an outcome, not a failure: the unit is done and the array stays afterok.
      const status: UnitExit['status'] = c === EXIT.ok || c === EXIT.notExtractable ? 'done' : c === EXIT.cancelled || signal ? 'cancelled' : 'failed';
      const exit: UnitExit = { code: c, status, at: new Date().toISOString(), host: hostname(),
        slurmJobId: process.env.SLURM_ARRAY_JOB_ID ? `${process.env.SLURM_ARRAY_JOB_ID}_${process.env.SLURM_ARRAY_TASK_ID}` : process.env.SLURM_JOB_ID };
      writeJsonAtomic(exitFile, exit);
      resolve(status === 'done' ? EXIT.ok : c || EXIT.failure);
    });
  });
}

/** A `jobs …` command on one plan folder (the first positional); the rest of the declaration is what differs. */
function planCommand(name: string, summary: string, usage: string, act: (dir: string, ctx: CliContext) => number | Promise<number>): CliCommand {
  return { name: `jobs ${name}`, summary, usage: `persona-lab jobs ${name} <plan run folder>${usage}`, options: OUTPUT_OPTIONS, run: (ctx) => Promise.resolve(act(runDir(ctx), ctx)) };
}

const submitted = (sub: { arrayJobId?: string; mergeJobId?: string }, merge = ' (afterok)'): string =>
  `${sub.arrayJobId ? `array job ${sub.arrayJobId}` : ''}${sub.mergeJobId ? `, merge job ${sub.mergeJobId}${merge}` : ''}`;

const jobsStatus = planCommand('status', 'Every unit of a Slurm plan: done, pending, running, failed, cancelled, missing',
  '\n  Reads squeue, scontrol show job and sacct (where accounting exists), then the run folder itself.', (dir, ctx) => {
    const s = planStatus(dir);
    if (ctx.json) printJson(ctx, s); else printStatus(ctx, s);
    return EXIT.ok;
  });

const jobsResume = planCommand('resume', 'Resubmit only the failed or missing units of a Slurm plan, then the merge',
  '\n  Units done, queued or running are left alone; each resubmitted unit resumes its own runs. The merge is idempotent.', (dir, ctx) => {
    const r = resumePlan(dir);
    if (ctx.json) { printJson(ctx, r); return EXIT.ok; }
    if (!r.submission) ctx.stdout('nothing to resubmit');
    else ctx.stdout(`resubmitted ${r.resubmitted.length} unit(s) ${r.resubmitted.join(',')}${r.submission.arrayJobId ? ` as ${submitted(r.submission, '')}` : ''}`);
    return EXIT.ok;
  });

const jobsCancel = planCommand('cancel', 'Cancel a Slurm plan\'s queued and running jobs (scancel), or one unit\'s task',
  ' [<unit index>]\n  Records what it cancelled in the plan folder, so `jobs status` still says cancelled after Slurm forgets the jobs;\n  `jobs resume` resubmits those units.', (dir, ctx) => {
    let index: number | undefined;
    if (ctx.args[1] !== undefined) {
      const n = readPlan(dir).units.length;
      index = Number(ctx.args[1]);
      if (!Number.isInteger(index) || index < 0 || index >= n) throw new UsageError(`unit index must be 0..${n - 1} (got ${ctx.args[1]})`);
    }
    const ids = cancelPlan(dir, index);
    if (ctx.json) printJson(ctx, { cancelled: ids });
    else ctx.stdout(ids.length ? `scancel ${ids.join(' ')}` : 'nothing of this plan is queued or running');
    return EXIT.ok;
  });

const jobsSubmit = planCommand('submit', 'Submit a Slurm plan written by --slurm (sbatch the array, then the merge after it)', '', (dir, ctx) => {
  const sub = submitPlan(dir);
  if (ctx.json) printJson(ctx, sub); else ctx.stdout(`submitted ${submitted(sub)}`);
  return EXIT.ok;
});

const jobsUnit = planCommand('unit', 'Run one unit of a Slurm plan (what an array task runs)', ' <index>', (dir, ctx) => {
  const plan = readPlan(dir);
  const i = Number(ctx.args[1]);
  if (!Number.isInteger(i) || i < 0 || i >= plan.units.length) throw new UsageError(`unit index must be 0..${plan.units.length - 1} (got ${ctx.args[1]})`);
  ctx.stderr(`unit ${i}: ${plan.units[i].id}`);
  return runRecorded(plan, plan.units[i].argv, unitExitFile(dir, i));
});

const jobsMerge = planCommand('merge', 'Run a Slurm plan\'s merge (what the merge job runs; idempotent)', '', (dir) => {
  const plan = readPlan(dir);
  if (!plan.merge) throw new UsageError(`the ${plan.job} plan in ${dir} has no merge`);
  return runRecorded(plan, plan.merge.argv, unitExitFile(dir, 'merge'));
});

export const jobsCommands: CliCommand[] = [jobsStatus, jobsResume, jobsCancel, jobsSubmit, jobsUnit, jobsMerge];

/**
 * `--slurm` on a job: writes the plan (src/core/slurm/plan.ts) and prints how to submit it, or submits it with
 * --submit. `units` are the unit ids with their option overrides; `merge` the merge's overrides (none: no merge).
 */
export function emitSlurmPlan(ctx: CliContext, ws: Workspace, job: string, label: string, units: { id: string; overrides: OptionValues }[], merge?: OptionValues): number {
  // The same CLI this process runs (node [loader flags] cli.js), found on the shared filesystem by every node.
  const plan = buildPlan({ job, label, flags: ctx.flags, specs: ctx.options, ws, cli: [process.execPath, ...process.execArgv, path.resolve(process.argv[1])], cwd: process.cwd(), units, merge });
  const { dir, runId } = writePlan(ws, plan);
  const sub = ctx.flags.submit ? submitPlan(dir) : undefined;
  if (ctx.json) { printJson(ctx, { runId, runDir: dir, units: plan.units.map((u) => u.id), submitted: sub }); return EXIT.ok; }
  const rel = path.relative(process.cwd(), dir) || '.';
  ctx.stdout(`Slurm plan: ${plan.units.length} array task(s)${plan.merge ? ' + a merge job (afterok)' : ''} in ${rel}/ (array.sbatch${plan.merge ? ', merge.sbatch' : ''})`);
  if (sub) ctx.stdout(`submitted ${submitted(sub, '')}; follow it with: persona-lab jobs status ${rel}`);
  else ctx.stdout(`submit with: persona-lab jobs submit ${rel}\n  (sbatch --parsable ${rel}/array.sbatch${plan.merge ? `, then sbatch --dependency=afterok:<array job id> ${rel}/merge.sbatch` : ''})`);
  return EXIT.ok;
}
