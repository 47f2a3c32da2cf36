/**
 * Errors raised by the pipeline core. Each carries a machine-readable `reason`, and callers branch on
 * `PipelineError.is(e, reason)` — never on message text (code-style pattern 14). Messages are for
 * humans: they say what is wrong and what to do.
 */
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
  | 'judge-bad-request'
  | 'judge-auth'
  // pipeline
  | 'not-extractable'
  | 'vector-missing'
  | 'vector-invalid'
  | 'data-invalid'
  | 'run-mismatch'
  | 'backend-missing';

export class PipelineError extends Error {
  constructor(readonly reason: PipelineErrorReason, message: string, readonly details?: unknown) {
    super(message);
    this.name = 'PipelineError';
  }

  /** Type guard on the reason; `reason` may be omitted to test only the class. */
  static is(e: unknown, reason?: PipelineErrorReason | PipelineErrorReason[]): e is PipelineError {
    if (!(e instanceof PipelineError)) return false;
    if (reason === undefined) return true;
    return Array.isArray(reason) ? reason.includes(e.reason) : e.reason === reason;
  }
}
