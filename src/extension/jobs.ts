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

/** A job in progress, as the Runs view, the worker status bar and "Cancel Job" see it. */
export interface ActiveJob { id: number; title: string; started: number; line: string; abort: AbortController }

export class JobRunner implements vscode.Disposable {
  private starting: Promise<InferenceClient> | undefined;
  private nextId = 1;
  private readonly jobs = new Map<number, ActiveJob>();
  private readonly changed = new vscode.EventEmitter<void>();
  /** Fires when a job starts, reports progress or ends, and when the worker starts or stops. */
  readonly onDidChange = this.changed.event;
  /** The worker's pid while one runs (for its resident memory). */
  workerPid: number | undefined;

  constructor(private readonly log: vscode.LogOutputChannel) {}

  /** Jobs now running, oldest first. */
  active(): ActiveJob[] { return [...this.jobs.values()]; }

  /** Cancels one job (by id) or, without one, every running job; returns how many were asked to stop. */
  cancel(id?: number): number {
    const targets = id === undefined ? this.active() : this.active().filter((j) => j.id === id);
    for (const j of targets) j.abort.abort(new CancelledError(`${j.title}: cancelled`));
    return targets.length;
  }

  /** Stops the worker (running jobs are cancelled first); the next job starts a fresh one. */
  async restart(): Promise<void> {
    this.cancel();
    const s = this.starting;
    this.starting = undefined;
    this.workerPid = undefined;
    if (s) await s.then((c) => c.dispose()).catch(() => undefined);
    this.log.info('Inference worker stopped; the next job starts a new one.');
    this.changed.fire();
  }

  /** The session's worker; a worker that died is replaced on the next job. */
  async client(): Promise<InferenceClient> {
    if (!this.starting) {
      const threads = readSettings().threads || undefined;
      this.starting = InferenceClient.start({ threads, log: (level, msg) => (level === 'error' ? this.log.error(msg) : level === 'warn' ? this.log.warn(msg) : this.log.debug(msg)) });
      const c = await this.starting.catch((e: unknown) => { this.starting = undefined; throw e; });
      this.workerPid = c.pid;
      c.onExit(() => { if (this.workerPid === c.pid) { this.starting = undefined; this.workerPid = undefined; this.changed.fire(); } });
      this.log.info('Inference worker started.');
      this.changed.fire();
    }
    return this.starting;
  }

  /** Runs `job` with a cancellable notification; cancelling aborts the job at its next step (completed work is kept). */
  run<T>(title: string, job: (ctx: JobContext) => Promise<T>): Thenable<T> {
    return vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title, cancellable: true }, async (report, token) => {
      const abort = new AbortController();
      // The abort reason is what the job rejects with once cancelled, whatever step it was in (./errors.ts shows it as information).
      const sub = token.onCancellationRequested(() => abort.abort(new CancelledError(`${title}: cancelled`)));
      const active: ActiveJob = { id: this.nextId++, title: title.replace(/^Persona Lab: /, ''), started: Date.now(), line: 'starting', abort };
      this.jobs.set(active.id, active);
      this.changed.fire();
      let last = '';
      try {
        const client = await this.client();
        return await job({
          client, signal: abort.signal,
          progress: (p) => {
            const line = `${p.stage} ${p.done}/${p.total}${p.note ? ` ${p.note}` : ''}`;
            if (line === last) return;
            last = line;
            active.line = line;
            this.changed.fire();
            this.log.info(`${title}: ${line}`);
            report.report({ message: line });
          },
        });
      } catch (e) {
        throw abort.signal.aborted ? abort.signal.reason : e;
      } finally {
        sub.dispose();
        this.jobs.delete(active.id);
        this.changed.fire();
      }
    });
  }

  dispose(): void {
    this.changed.dispose();
    const s = this.starting;
    this.starting = undefined;
    void s?.then((c) => c.dispose()).catch(() => undefined);
  }
}
