/** A CLI subcommand. Commands are registered in the table in ./commands/index.ts (one line each). */
import { OptionError, type OptionSpec } from '../core/jobs/options.js';
import type { OptionValues } from '../core/jobs/defaults.js';

export interface CliContext {
  /** Positional arguments after the command name(s). */
  args: string[];
  /** The options given on the command line, converted and validated (./args.ts); defaults are not filled in. */
  flags: OptionValues;
  /** The command's declared options (defaults, help). */
  options: readonly OptionSpec[];
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
  /** Synopsis and notes; the option list in --help is generated from `options`. */
  usage: string;
  /** Every option the command takes (src/core/jobs/table.ts for the jobs). */
  options: readonly OptionSpec[];
  /** Returns the process exit code: 0 ok, 1 failure/out of tolerance, 2 usage error. */
  run(ctx: CliContext): Promise<number>;
}

/** A usage error: the CLI prints the command's help and exits 2. */
export class UsageError extends OptionError {
  override readonly name = 'UsageError';
}
