/**
 * Errors raised while turning a checkpoint into a graph. Each carries a `reason` so callers
 * (worker, CLI) can branch without parsing message text; messages say what is wrong and what to do.
 */
import { ReasonError } from '../errors.js';

export type CompileErrorReason =
  | 'unsupported-architecture'
  | 'missing-weight'
  | 'shape-mismatch'
  | 'unsupported-dtype'
  | 'cache';

export class CompileError extends ReasonError<CompileErrorReason> {
  override readonly name = 'CompileError';
}

/** Bad forward() inputs (lengths, a foreign or disposed cache, positions past the graph's limit). */
export type ForwardErrorReason = 'bad-input' | 'disposed' | 'position-out-of-range';

export class ForwardError extends ReasonError<ForwardErrorReason> {
  override readonly name = 'ForwardError';
  constructor(message: string, reason: ForwardErrorReason = 'bad-input') {
    super(reason, message);
  }
}
