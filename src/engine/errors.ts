/**
 * The one base for the project's error classes. Every error carries a machine-readable `reason` (a
 * string-literal union per class) and every class gets `Class.is(e, reason?)`, so callers branch on
 * `CheckpointError.is(e, 'not-found')` — never on message text or `e.name`. Messages are for humans:
 * they say what is wrong and what to do.
 *
 * Lives in the engine because every layer (engine, core, server, cli, extension) depends on the engine
 * and the engine depends on nothing of ours.
 *
 * Crossing the worker boundary: the worker sends `errorData(e)` (`{name, reason, message}`) in the
 * JSON-RPC error's `data`; the client rebuilds the typed error from it (src/engine/client.ts).
 */
/** Subclasses set `name` explicitly (a bundler may rename classes; the name crosses the worker boundary). */
export abstract class ReasonError<R extends string = string> extends Error {
  constructor(readonly reason: R, message: string, options?: { cause?: unknown }) {
    super(message, options);
  }

  /**
   * `Class.is(e)` — e is an instance of Class; `Class.is(e, reason)` — and has that reason (or one of
   * those reasons). Inherited by every subclass with the subclass's own reason type.
   */
  static is<T extends ReasonError>(this: abstract new (...args: any[]) => T, e: unknown, reason?: T['reason'] | readonly T['reason'][]): e is T {
    if (!(e instanceof this)) return false;
    if (reason === undefined) return true;
    return typeof reason === 'string' ? e.reason === reason : reason.includes(e.reason);
  }
}

/** What crosses a process boundary for a failure (the JSON-RPC error's `data`). */
export interface ErrorData {
  name: string;
  reason?: string;
  message: string;
}

/** The wire form of any thrown value. */
export function errorData(e: unknown): ErrorData {
  if (e instanceof Error) {
    const reason = (e as { reason?: unknown }).reason;
    return { name: e.name, message: e.message, ...(typeof reason === 'string' ? { reason } : {}) };
  }
  return { name: 'Error', message: String(e) };
}

export function isErrorData(x: unknown): x is ErrorData {
  return typeof x === 'object' && x !== null && typeof (x as ErrorData).name === 'string' && typeof (x as ErrorData).message === 'string';
}

/** The `reason` of any error (undefined for plain errors). */
export function reasonOf(e: unknown): string | undefined {
  const r = (e as { reason?: unknown } | null)?.reason;
  return typeof r === 'string' ? r : undefined;
}

/** An AbortSignal's default abort reason (a DOMException named 'AbortError'; it has no class of its own to test). */
export function isAbortError(e: unknown): boolean {
  return e instanceof Error && e.name === 'AbortError';
}

/** The user stopped the work (Cancel in the editor, Ctrl-C in the CLI). Use it as an AbortController's abort reason. */
export class CancelledError extends ReasonError<'cancelled'> {
  override readonly name = 'CancelledError';
  constructor(message = 'cancelled') { super('cancelled', message); }
}

/**
 * A cancellation, not a failure: every error whose reason is 'cancelled' (CancelledError, WorkerError
 * 'cancelled', the server's 499) and an AbortSignal's AbortError. The CLI exits 130 on it; the editor shows
 * it as information.
 */
export function isCancellation(e: unknown): boolean {
  return reasonOf(e) === 'cancelled' || isAbortError(e);
}
