/** A CLI subcommand. Commands are registered in the table in ./main.ts (one line each). */
export interface CliContext {
  /** Positional arguments after the command name(s). */
  args: string[];
  /** --flag value / --flag (true) options, kebab-case keys. */
  flags: Record<string, string | boolean>;
  /** --json: print one JSON document on stdout, progress still on stderr. */
  json: boolean;
  stdout: (s: string) => void;
  /** Progress and diagnostics. */
  stderr: (s: string) => void;
  signal: AbortSignal;
}

export interface CliCommand {
  /** e.g. "parity" or "traits validate" */
  name: string;
  summary: string;
  usage: string;
  /** Returns the process exit code: 0 ok, 1 failure/out of tolerance, 2 usage error. */
  run(ctx: CliContext): Promise<number>;
}

export class UsageError extends Error {
  readonly reason = 'usage';
}
