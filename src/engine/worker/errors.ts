/**
 * Worker-side failures with a protocol error code (WorkerErrorCodes). Handlers throw these; main.ts turns
 * every thrown value into a ResponseError so that no request failure can take the worker down.
 */
import { ResponseError } from 'vscode-jsonrpc';
import { WorkerErrorCodes } from '../protocol.js';

export type WorkerErrorCode = (typeof WorkerErrorCodes)[keyof typeof WorkerErrorCodes];

export class WorkerFault extends Error {
  constructor(readonly code: WorkerErrorCode, message: string) {
    super(message);
    this.name = 'WorkerFault';
  }
}

export const badRequest = (msg: string) => new WorkerFault(WorkerErrorCodes.BadRequest, msg);
export const cancelled = () => new WorkerFault(WorkerErrorCodes.Cancelled, 'request cancelled by the client');

const OOM = /out of memory|bad_alloc|failed to allocate|ENOMEM|allocation failed|Invalid (typed )?array length|Array buffer allocation/i;

/** Maps anything thrown by a handler to a ResponseError with a WorkerErrorCodes code. */
export function toResponseError(e: unknown): ResponseError<{ name: string }> {
  if (e instanceof ResponseError) return e;
  const err = e instanceof Error ? e : new Error(String(e));
  let code: number = WorkerErrorCodes.Internal;
  if (err instanceof WorkerFault) code = err.code;
  else if (OOM.test(err.message)) code = WorkerErrorCodes.OutOfMemory;
  else if (['SteerSpecError', 'TokenizerError', 'SafetensorsError'].includes(err.name)) code = WorkerErrorCodes.BadRequest;
  const message = code === WorkerErrorCodes.OutOfMemory && !(err instanceof WorkerFault)
    ? `out of memory: ${err.message}. Use a smaller batch size, shorter prompts, or a smaller model.`
    : err.message;
  return new ResponseError(code, message, { name: err.name });
}
