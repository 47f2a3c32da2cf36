/**
 * Errors raised by the pipeline core. Each carries a machine-readable `reason`, and callers branch on
 * `PipelineError.is(e, reason)` — never on message text (code-style pattern 14). Messages are for
 * humans: they say what is wrong and what to do.
 */
import { ReasonError } from '../engine/errors.js';

export type PipelineErrorReason =
  // trait files
  | 'trait-invalid'
  | 'trait-generation-failed'
  // judge
  | 'judge-rate-limited'
  | 'judge-server-error'
  | 'judge-timeout'
  | 'judge-connection'
  | 'judge-no-logprobs'
  | 'judge-malformed-response'
  | 'judge-bad-request'
  | 'judge-auth'
  | 'judge-not-configured'
  // pipeline
  | 'not-extractable'
  | 'vector-missing'
  | 'vector-invalid'
  | 'data-invalid'
  | 'run-mismatch'
  | 'disk-full'
  // the installation itself: a file that ships with Persona Lab is missing (not the user's input)
  | 'asset-missing'
  // shared state and cluster runs (storage/lock.ts, slurm/)
  | 'locked'
  | 'units-missing'
  | 'slurm'
  | 'backend-missing';

/** `PipelineError.is(e, reason | reasons)` comes from the shared base (src/engine/errors.ts). */
export class PipelineError extends ReasonError<PipelineErrorReason> {
  override readonly name = 'PipelineError';
  constructor(reason: PipelineErrorReason, message: string, readonly details?: unknown) {
    super(reason, message);
  }
}
