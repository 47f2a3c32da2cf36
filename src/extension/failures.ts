/**
 * What a failed editor action means for the user, decided from the error's class and reason (never its
 * message): a cancellation (shown as information), or a failure with the actions that fix it. Pure — no
 * `vscode` — so it is unit-tested; ./errors.ts shows the result.
 */
import { CheckpointError } from '../engine/model/checkpoint.js';
import { CancelledError, isCancellation, reasonOf } from '../engine/errors.js';
import { WorkerError } from '../engine/client.js';
import { PipelineError } from '../core/errors.js';
import { ToyModelNotFoundError } from '../core/toy/paths.js';

export type FailureAction =
  | { label: 'Open Settings'; settingsQuery: string }
  | { label: 'Show Log' };

export type Failure =
  | { kind: 'cancelled'; message: string }
  | { kind: 'failed'; message: string; actions: FailureAction[] };

const showLog: FailureAction = { label: 'Show Log' };
const settings = (settingsQuery: string): FailureAction => ({ label: 'Open Settings', settingsQuery });

/** The error and its causes, outermost first (a wrapper like "could not load X" keeps the typed error as `cause`). */
function* chain(e: unknown): Generator<unknown> {
  for (let x = e, depth = 0; x !== undefined && x !== null && depth < 8; x = (x as { cause?: unknown }).cause, depth++) yield x;
}

/**
 * `what`: the action, for the cancellation message when no CancelledError says it (e.g. "Steering Playground").
 * `aborted`: the action's own AbortSignal fired — whatever the error says, the user cancelled it.
 */
export function describeFailure(e: unknown, what: string, aborted = false): Failure {
  const errors = [...chain(e)];
  if (aborted || errors.some(isCancellation)) {
    const own = errors.find((x) => CancelledError.is(x)) as CancelledError | undefined;
    return { kind: 'cancelled', message: own?.message ?? `${what} was cancelled` };
  }
  const message = e instanceof Error ? e.message : String(e);
  const actions: FailureAction[] = [];
  for (const x of errors) {
    // The judge's endpoint, model or key: personaLab.judge.* (the key comes from OPENAI_API_KEY).
    if (PipelineError.is(x) && x.reason.startsWith('judge-') && x.reason !== 'judge-rate-limited' && x.reason !== 'judge-server-error') {
      actions.push(settings('personaLab.judge'));
      break;
    }
    // A checkpoint that is not where the settings say, or the embedded toy model missing.
    if (CheckpointError.is(x, ['not-found', 'bad-revision']) || ToyModelNotFoundError.is(x)) {
      actions.push(settings('personaLab.modelPaths'));
      break;
    }
    // An execution provider that would not load (e.g. cuda without its libraries): the provider is a setting.
    if (WorkerError.is(x, 'load-failed')) {
      actions.push(settings('personaLab.executionProvider'));
      break;
    }
    if (reasonOf(x) === 'usage') break;
  }
  actions.push(showLog);
  return { kind: 'failed', message, actions };
}
