/**
 * Runs pipeline jobs from commands: one inference worker per extension session (started on first use, stopped
 * on deactivate), every job under a cancellable progress notification whose progress lines also go to the log.
 * The jobs themselves are src/core's (the same code the CLI runs); this module only adapts progress and
 * cancellation to VS Code.
 */
import * as vscode from 'vscode';
import type { Progress } from '../core/backend.js';
import { InferenceClient } from '../engine/client.js';
import { CancelledError } from '../engine/errors.js';
import { readSettings } from './config.js';

export interface JobContext {
  client: InferenceClient;
  signal: AbortSignal;
  progress: (p: Progress) => void;
}

export class JobRunner implements vscode.Disposable {
  private starting: Promise<InferenceClient> | undefined;

  constructor(private readonly log: vscode.LogOutputChannel) {}

  /** The session's worker; a worker that died is replaced on the next job. */
  async client(): Promise<InferenceClient> {
    if (!this.starting) {
      const threads = readSettings().threads || undefined;
      this.starting = InferenceClient.start({ threads, log: (level, msg) => (level === 'error' ? this.log.error(msg) : level === 'warn' ? this.log.warn(msg) : this.log.debug(msg)) });
      const c = await this.starting.catch((e: unknown) => { this.starting = undefined; throw e; });
      c.onExit(() => { this.starting = undefined; });
      this.log.info('Inference worker started.');
    }
    return this.starting;
  }

  /** Runs `job` with a cancellable notification; cancelling aborts the job at its next step (completed work is kept). */
  run<T>(title: string, job: (ctx: JobContext) => Promise<T>): Thenable<T> {
    return vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title, cancellable: true }, async (report, token) => {
      const abort = new AbortController();
      // The abort reason is what the job rejects with once cancelled, whatever step it was in (./errors.ts shows it as information).
      const sub = token.onCancellationRequested(() => abort.abort(new CancelledError(`${title}: cancelled`)));
      let last = '';
      try {
        const client = await this.client();
        return await job({
          client, signal: abort.signal,
          progress: (p) => {
            const line = `${p.stage} ${p.done}/${p.total}${p.note ? ` ${p.note}` : ''}`;
            if (line === last) return;
            last = line;
            this.log.info(`${title}: ${line}`);
            report.report({ message: line });
          },
        });
      } catch (e) {
        throw abort.signal.aborted ? abort.signal.reason : e;
      } finally { sub.dispose(); }
    });
  }

  dispose(): void {
    const s = this.starting;
    this.starting = undefined;
    void s?.then((c) => c.dispose()).catch(() => undefined);
  }
}
