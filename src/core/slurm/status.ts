/**
 * Every unit's state in a plan: the unit's own exit file (units/<i>.json, written by `jobs unit` when the task ends)
 * first, then the scheduler — squeue for live tasks, `scontrol show job` for tasks that ended recently, sacct where
 * accounting exists — then what the run folder says. Resume resubmits only units that are neither done nor queued.
 *
 * A task cancelled while still pending never starts, so it writes no exit file, and Slurm keeps no record of it:
 * scancel of each pending task of an array leaves only the array's meta record (ArrayTaskId=4294967294, CANCELLED),
 * and a single cancelled pending task vanishes from `scontrol show job` at once (slurm-wlm 22.05). So `cancelPlan`
 * records what it scancelled in the plan folder, and a unit the scheduler no longer knows reads as cancelled, not
 * missing, when its job id is recorded there.
 */
import { spawnSync } from 'node:child_process';
import { readCancellations, readPlan, readSubmissions, readUnitExit, recordCancellation, slurmCommand, submitPlan, type Submission } from './plan.js';

export type UnitState = 'done' | 'pending' | 'running' | 'failed' | 'cancelled' | 'timeout' | 'not-submitted' | 'missing' | string;

export interface UnitStatus { index: number; id: string; state: UnitState; jobId?: string; source: 'folder' | 'squeue' | 'scontrol' | 'sacct' | 'none'; detail?: string }
export interface PlanStatus { dir: string; job: string; units: UnitStatus[]; merge?: { state: UnitState; jobId?: string; source: UnitStatus['source'] }; submissions: Submission[] }

const ACTIVE = new Set(['pending', 'running', 'configuring', 'completing', 'suspended', 'requeued', 'resizing']);
export const isActive = (s: UnitState) => ACTIVE.has(s);

const run = (cmd: string, args: string[]) => {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return r.error || r.status !== 0 ? undefined : r.stdout;
};

/** jobId (e.g. "12_3" or "13") → lower-case state, from squeue, scontrol and sacct as far as each knows. */
function schedulerStates(jobIds: string[]): Map<string, { state: string; source: UnitStatus['source'] }> {
  const out = new Map<string, { state: string; source: UnitStatus['source'] }>();
  if (jobIds.length === 0) return out;
  // sacct first (complete history where accounting exists), then scontrol (recently ended), then squeue (live) wins.
  const acct = run('sacct', ['-n', '-P', '-X', '-j', jobIds.join(','), '-o', 'JobID,State']);
  for (const line of acct?.split('\n') ?? []) {
    const [id, state] = line.split('|');
    if (id && state && !id.includes('[')) out.set(id, { state: state.split(' ')[0].toLowerCase(), source: 'sacct' });
  }
  for (const id of jobIds) {
    const sc = run('scontrol', ['-o', 'show', 'job', id]);
    for (const rec of sc?.split('\n').filter(Boolean) ?? []) {
      const f = Object.fromEntries(rec.split(/\s+/).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
      const state = (f.JobState ?? '').toLowerCase();
      if (!state) continue;
      if (f.ArrayJobId && f.ArrayTaskId) {
        // A pending remainder is one record "ArrayTaskId=2-3" (or "2,5%1").
        for (const part of f.ArrayTaskId.replace(/%\d+$/, '').split(',')) {
          const [a, b] = part.split('-').map(Number);
          for (let t = a; t <= (Number.isFinite(b) ? b : a); t++) out.set(`${f.ArrayJobId}_${t}`, { state, source: 'scontrol' });
        }
      } else out.set(f.JobId, { state, source: 'scontrol' });
    }
  }
  const sq = run('squeue', ['-h', '-r', '-j', jobIds.join(','), '-o', '%i|%T']);
  for (const line of sq?.split('\n').filter(Boolean) ?? []) {
    const [id, state] = line.split('|');
    out.set(id, { state: state.toLowerCase(), source: 'squeue' });
  }
  return out;
}

export function planStatus(dir: string): PlanStatus {
  const plan = readPlan(dir);
  const subs = readSubmissions(dir);
  const ids = [...new Set(subs.flatMap((s) => [s.arrayJobId, s.mergeJobId].filter((x): x is string => !!x)))];
  const sched = schedulerStates(ids);
  const cancelled = new Map(readCancellations(dir).flatMap((c) => c.jobIds.map((id) => [id, c.at] as const)));
  const forgotten = (jobId: string | undefined) => (jobId && cancelled.has(jobId) ? { state: 'cancelled', source: 'folder' as const, detail: `scancel by Persona Lab at ${cancelled.get(jobId)}` } : undefined);
  const units: UnitStatus[] = plan.units.map((u, index) => {
    const exit = readUnitExit(dir, index);
    const sub = [...subs].reverse().find((s) => s.arrayJobId && s.units.includes(index));
    const jobId = sub ? `${sub.arrayJobId}_${index}` : undefined;
    if (exit?.status === 'done') return { index, id: u.id, state: 'done', jobId: exit.slurmJobId ?? jobId, source: 'folder' };
    const s = jobId ? sched.get(jobId) : undefined;
    // A live task outranks the exit file of an earlier attempt.
    if (s && (isActive(s.state) || !exit)) return { index, id: u.id, state: s.state === 'completed' ? 'done' : s.state, jobId, source: s.source };
    if (exit) return { index, id: u.id, state: exit.status, jobId, source: 'folder', detail: exit.message };
    const c = forgotten(jobId);
    if (c) return { index, id: u.id, jobId, ...c };
    return { index, id: u.id, state: sub ? 'missing' : 'not-submitted', jobId, source: 'none' };
  });
  let merge: PlanStatus['merge'];
  if (plan.merge) {
    const exit = readUnitExit(dir, 'merge');
    const sub = [...subs].reverse().find((s) => s.mergeJobId);
    const s = sub?.mergeJobId ? sched.get(sub.mergeJobId) : undefined;
    if (exit?.status === 'done') merge = { state: 'done', jobId: sub?.mergeJobId, source: 'folder' };
    else if (s) merge = { state: s.state === 'completed' ? 'done' : s.state, jobId: sub!.mergeJobId, source: s.source };
    else if (!exit && forgotten(sub?.mergeJobId)) merge = { state: 'cancelled', jobId: sub!.mergeJobId, source: 'folder' };
    else merge = { state: exit?.status ?? (sub ? 'missing' : 'not-submitted'), jobId: sub?.mergeJobId, source: exit ? 'folder' : 'none' };
  }
  return { dir, job: plan.job, units, merge, submissions: subs };
}

/**
 * Resubmits only the units that are not done and not queued or running, then the merge after them (the merge is
 * idempotent). With every unit done and the merge not done, submits the merge alone; with everything done, nothing.
 */
export function resumePlan(dir: string): { resubmitted: number[]; submission?: Submission; status: PlanStatus } {
  const status = planStatus(dir);
  const todo = status.units.filter((u) => u.state !== 'done' && !isActive(u.state)).map((u) => u.index);
  const activeUnits = status.units.some((u) => isActive(u.state));
  const mergeNeeded = status.merge && status.merge.state !== 'done' && !isActive(status.merge.state);
  if (todo.length === 0 && (!mergeNeeded || activeUnits)) return { resubmitted: [], status };
  // A merge submitted now also waits for tasks of earlier submissions still queued or running.
  const after = [...new Set(status.units.filter((u) => isActive(u.state) && u.jobId).map((u) => u.jobId!.split('_')[0]))];
  const submission = submitPlan(dir, todo, { merge: !!mergeNeeded || todo.length > 0 && !!status.merge, after });
  return { resubmitted: todo, submission, status };
}

/**
 * Cancels a plan's queued and running jobs with scancel: every active array task and the merge, or only the unit
 * `index` (its task; the merge then never starts, since its afterok dependency fails). Returns the job ids cancelled.
 */
export function cancelPlan(dir: string, index?: number): string[] {
  const status = planStatus(dir);
  const ids = status.units.filter((u) => (index === undefined || u.index === index) && isActive(u.state) && u.jobId).map((u) => u.jobId!);
  if (index === undefined && status.merge?.jobId && isActive(status.merge.state)) ids.push(status.merge.jobId);
  if (ids.length) {
    slurmCommand('scancel', ids);
    recordCancellation(dir, ids);
  }
  return ids;
}
