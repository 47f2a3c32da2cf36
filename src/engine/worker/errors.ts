/**
 * Worker-side failures and their wire form. Handlers throw WorkerFault (a protocol-level failure with a
 * WorkerErrorCodes code) or a typed engine error (CheckpointError, SteerSpecError, …); main.ts turns every
 * thrown value into a ResponseError whose `data` is `{name, reason, message}` (errorData), so that the
 * client can rebuild the typed error and no request failure can take the worker down.
 */
import { ResponseError } from 'vscode-jsonrpc';
import { ReasonError, errorData, type ErrorData } from '../errors.js';
import { CheckpointError } from '../model/checkpoint.js';
import { ConfigError } from '../model/config.js';
import { CompileError, ForwardError } from '../model/errors.js';
import { WorkerErrorCodes } from '../protocol.js';
import { SteerSpecError } from '../steering/steer.js';
import { TokenizerError } from '../tokenizer/errors.js';
import { SafetensorsError } from '../weights/safetensors.js';

export type WorkerErrorCode = (typeof WorkerErrorCodes)[keyof typeof WorkerErrorCodes];

/** Protocol-level failure reasons, one per WorkerErrorCodes code. */
export type WorkerErrorReason = 'model-not-loaded' | 'load-failed' | 'bad-request' | 'cancelled' | 'died' | 'oom' | 'internal';

const CODE_OF: Record<WorkerErrorReason, WorkerErrorCode> = {
  'model-not-loaded': WorkerErrorCodes.ModelNotLoaded,
  'load-failed': WorkerErrorCodes.LoadFailed,
  'bad-request': WorkerErrorCodes.BadRequest,
  cancelled: WorkerErrorCodes.Cancelled,
  died: WorkerErrorCodes.WorkerDied,
  oom: WorkerErrorCodes.OutOfMemory,
  internal: WorkerErrorCodes.Internal,
};

export function workerErrorReason(code: number): WorkerErrorReason {
  return (Object.keys(CODE_OF) as WorkerErrorReason[]).find((r) => CODE_OF[r] === code) ?? 'internal';
}

export class WorkerFault extends ReasonError<WorkerErrorReason> {
  override readonly name = 'WorkerFault';
  get code(): WorkerErrorCode { return CODE_OF[this.reason]; }
}

export const badRequest = (msg: string) => new WorkerFault('bad-request', msg);
export const cancelled = () => new WorkerFault('cancelled', 'request cancelled by the client');

/**
 * The engine's typed errors that cross the worker boundary, by the name they travel under, with the
 * protocol reason each one counts as. The client rebuilds them from this table (one place for both sides).
 */
export const WIRE_ERRORS: Record<string, { rebuild: (reason: string, message: string) => ReasonError; counts: WorkerErrorReason }> = {
  CheckpointError: { rebuild: (r, m) => new CheckpointError(r as CheckpointError['reason'], m), counts: 'load-failed' },
  CompileError: { rebuild: (r, m) => new CompileError(r as CompileError['reason'], m), counts: 'load-failed' },
  ConfigError: { rebuild: (r, m) => new ConfigError(r as ConfigError['reason'], m), counts: 'load-failed' },
  SafetensorsError: { rebuild: (r, m) => new SafetensorsError(r as SafetensorsError['reason'], m), counts: 'bad-request' },
  TokenizerError: { rebuild: (r, m) => new TokenizerError(r as TokenizerError['reason'], m), counts: 'bad-request' },
  SteerSpecError: { rebuild: (r, m) => new SteerSpecError(r as SteerSpecError['reason'], m), counts: 'bad-request' },
  // Forward inputs are built by the worker itself: a ForwardError is a bug, not a bad request.
  ForwardError: { rebuild: (r, m) => new ForwardError(m, r as ForwardError['reason']), counts: 'internal' },
};

const OOM = /out of memory|bad_alloc|failed to allocate|ENOMEM|allocation failed|Invalid (typed )?array length|Array buffer allocation/i;

/** Maps anything thrown by a handler to a ResponseError with a WorkerErrorCodes code and `{name, reason, message}` data. */
export function toResponseError(e: unknown): ResponseError<ErrorData> {
  if (e instanceof ResponseError) return e;
  const err = e instanceof Error ? e : new Error(String(e));
  let reason: WorkerErrorReason = 'internal';
  if (err instanceof WorkerFault) reason = err.reason;
  else if (err instanceof ReasonError && Object.hasOwn(WIRE_ERRORS, err.name)) reason = WIRE_ERRORS[err.name].counts;
  else if (OOM.test(err.message)) reason = 'oom';
  if (reason === 'oom' && !(err instanceof WorkerFault)) {
    const message = `out of memory: ${err.message}. Use a smaller batch size, shorter prompts, or a smaller model.`;
    return new ResponseError(CODE_OF.oom, message, { name: 'WorkerFault', reason: 'oom', message });
  }
  return new ResponseError(CODE_OF[reason], err.message, errorData(err));
}
