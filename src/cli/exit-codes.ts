/**
 * The CLI's exit-code table, in one place. Commands return EXIT.ok / EXIT.notExtractable / …; anything
 * they throw reaches main.ts's single catch, which asks exitCodeFor(e) — by the error's class and reason,
 * never its message.
 *
 *   0    ok
 *   1    failure (anything not below), among them a broken installation (PipelineError 'asset-missing': a file that
 *        ships with Persona Lab, such as the report's chart.js, is missing; the message says how to repair it)
 *   2    usage: a bad command line (UsageError / OptionError, reason 'usage'), a --model / --revision
 *        that does not exist (CheckpointError 'not-found' | 'bad-revision', ToyModelNotFoundError), or an input
 *        that is invalid or missing: refused by a job's preflight before any work (InputError, reason 'usage'),
 *        or read by a command that only reads its inputs (READER_COMMANDS: report, vectors import/export,
 *        geometry) — PipelineError INPUT_REASONS there. In a job the same reasons mid-run stay failures (1):
 *        the run had started, and its manifest says failed.
 *   3    not extractable (PipelineError 'not-extractable'; extract returns it when a trait's pairs do not pass)
 *   4    disk full (PipelineError 'disk-full': ENOSPC / EDQUOT while writing the workspace; free space and rerun to resume)
 *   130  cancelled: Ctrl-C (SIGINT) or any cancellation (isCancellation: reason 'cancelled', an AbortError) — not a failure
 */
import { isCancellation, reasonOf } from '../engine/errors.js';
import { CheckpointError } from '../engine/model/checkpoint.js';
import { PipelineError } from '../core/errors.js';
import { ToyModelNotFoundError } from '../core/toy/paths.js';

export const EXIT = { ok: 0, failure: 1, usage: 2, notExtractable: 3, diskFull: 4, cancelled: 130 } as const;

/** Reasons that say an input is bad or absent (the user's to fix, like a bad flag), not that a run failed. */
export const INPUT_REASONS = ['trait-invalid', 'data-invalid', 'vector-invalid', 'vector-missing'] as const;
/** Commands with no run and no model: they read the files and runs they are given, so INPUT_REASONS from them are usage. */
export const READER_COMMANDS: readonly string[] = ['report', 'vectors import', 'vectors export', 'geometry'];
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

export type ExitKind = keyof typeof EXIT;

/**
 * What an error means for the CLI. `aborted`: the run's AbortSignal fired (Ctrl-C), whatever the error says;
 * `command`: the command that threw (its name as typed, e.g. "vectors import").
 */
export function exitKindFor(e: unknown, aborted = false, command?: string): Exclude<ExitKind, 'ok'> {
  if (aborted || isCancellation(e)) return 'cancelled';
  if (reasonOf(e) === 'usage') return 'usage';
  if (CheckpointError.is(e, ['not-found', 'bad-revision']) || ToyModelNotFoundError.is(e)) return 'usage';
  if (command !== undefined && READER_COMMANDS.includes(command) && PipelineError.is(e, [...INPUT_REASONS])) return 'usage';
  if (PipelineError.is(e, 'not-extractable')) return 'notExtractable';
  if (PipelineError.is(e, 'disk-full')) return 'diskFull';
  return 'failure';
}

export function exitCodeFor(e: unknown, aborted = false, command?: string): ExitCode {
  return EXIT[exitKindFor(e, aborted, command)];
}
