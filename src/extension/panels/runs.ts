/**
 * How the panels' commands name a run: a run folder path, `{ runDir }`, or a Runs view item (`{ entry: { path } }`).
 */
export type RunArg = string | { runDir?: string } | { entry?: { path: string } } | undefined;

export function runDirOf(arg: unknown): string | undefined {
  if (typeof arg === 'string') return arg;
  if (typeof arg !== 'object' || arg === null) return undefined;
  const a = arg as { runDir?: unknown; entry?: { path?: unknown }; fsPath?: unknown };
  if (typeof a.runDir === 'string') return a.runDir;
  if (a.entry && typeof a.entry.path === 'string') return a.entry.path;
  if (typeof a.fsPath === 'string') return a.fsPath;
  return undefined;
}
