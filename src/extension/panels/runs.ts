/**
 * How the panels' commands name a run: a run folder path, `{ runDir }`, or a Runs view item (`{ entry: { path } }`).
 * A Slurm sweep plan stands for the sweep run it fills (../jobs/runActions.ts groupRuns), so Open Sweep Dashboard and
 * Open Judge Results on a plan open its sweep.
 */
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { groupRuns, runInfo } from '../jobs/runActions.js';

export type RunArg = string | { runDir?: string } | { entry?: { path: string } } | undefined;

export function runDirOf(arg: unknown): string | undefined {
  const dir = rawRunDir(arg);
  if (!dir || !existsSync(path.join(dir, 'plan.json'))) return dir;
  const sweep = groupRuns(path.dirname(dir)).children.get(dir)?.find((d) => runInfo(d).kind === 'sweep');
  return sweep ?? dir;
}

function rawRunDir(arg: unknown): string | undefined {
  if (typeof arg === 'string') return arg;
  if (typeof arg !== 'object' || arg === null) return undefined;
  const a = arg as { runDir?: unknown; entry?: { path?: unknown }; fsPath?: unknown };
  if (typeof a.runDir === 'string') return a.runDir;
  if (a.entry && typeof a.entry.path === 'string') return a.entry.path;
  if (typeof a.fsPath === 'string') return a.fsPath;
  return undefined;
}
