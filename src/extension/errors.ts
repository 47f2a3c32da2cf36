/**
 * The one way the extension reports a failed action: a cancellation is information (an info message and
 * an info log line, never a red toast or "[error] … failed"); a failure is an error message with the
 * action that fixes it ("Open Settings" for a judge or model-path problem, always "Show Log"). Which is
 * which comes from ./failures.ts (error classes and reasons).
 */
import * as vscode from 'vscode';
import { describeFailure } from './failures.js';

export interface ReportOptions {
  /** The action's own AbortSignal fired (Cancel in a progress notification). */
  aborted?: boolean;
}

/** Reports `err` from the action called `what` (e.g. "personaLab.extractVector" or "Steering Playground"). */
export function reportError(log: vscode.LogOutputChannel, what: string, err: unknown, opts: ReportOptions = {}): void {
  const f = describeFailure(err, what, opts.aborted);
  if (f.kind === 'cancelled') {
    log.info(f.message);
    void vscode.window.showInformationMessage(`${f.message.startsWith('Persona Lab') ? '' : 'Persona Lab: '}${f.message}; completed work is kept.`);
    return;
  }
  log.error(`${what} failed: ${f.message}`);
  void vscode.window.showErrorMessage(`Persona Lab: ${f.message}`, ...f.actions.map((a) => a.label)).then((picked) => {
    const action = f.actions.find((a) => a.label === picked);
    if (!action) return;
    if (action.label === 'Show Log') log.show(true);
    else void vscode.commands.executeCommand('workbench.action.openSettings', action.settingsQuery);
  });
}
