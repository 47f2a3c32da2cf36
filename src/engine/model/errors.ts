/**
 * Errors raised while turning a checkpoint into a graph. Each carries a `reason` so callers
 * (worker, CLI) can branch without parsing message text; messages say what is wrong and what to do.
 */
export type CompileErrorReason =
  | 'unsupported-architecture'
  | 'missing-weight'
  | 'shape-mismatch'
  | 'unsupported-dtype'
  | 'cache';

export class CompileError extends Error {
  constructor(readonly reason: CompileErrorReason, message: string) {
    super(message);
    this.name = 'CompileError';
  }
  static is(e: unknown, reason?: CompileErrorReason): e is CompileError {
    return e instanceof CompileError && (reason === undefined || e.reason === reason);
  }
}
