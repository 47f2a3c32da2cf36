/**
 * Worker and job control from the palette: Set Judge API Key (SecretStorage only), Restart Inference Worker,
 * Unload Models, Cancel Job, and the status-bar item's menu.
 */
import * as vscode from 'vscode';
import { JUDGE_KEY_SECRET } from '../config.js';
import type { JobRunner } from '../jobs.js';

export interface WorkerServices { log: vscode.LogOutputChannel; jobs: JobRunner; secrets: vscode.SecretStorage }

/**
 * Stores the judge's API key in SecretStorage (the OS keychain). It is never written to settings, logs, run manifests
 * or the judge cache: the judge receives it only in its request headers. An empty answer removes the stored key.
 */
export async function setJudgeApiKey(s: WorkerServices, given?: string): Promise<'stored' | 'removed' | undefined> {
  const key = given ?? await vscode.window.showInputBox({ title: 'Persona Lab: judge API key', password: true, ignoreFocusOut: true,
    prompt: 'Kept in the OS keychain (VS Code SecretStorage), sent only to personaLab.judge.baseUrl. Leave empty to remove the stored key.' });
  if (key === undefined) return undefined;
  if (key.trim() === '') {
    await s.secrets.delete(JUDGE_KEY_SECRET);
    s.log.info('Judge API key removed from SecretStorage.');
    void vscode.window.showInformationMessage('Persona Lab: judge API key removed.');
    return 'removed';
  }
  await s.secrets.store(JUDGE_KEY_SECRET, key.trim());
  s.log.info('Judge API key stored in SecretStorage.');
  void vscode.window.showInformationMessage('Persona Lab: judge API key stored (SecretStorage).');
  return 'stored';
}

export async function restartWorker(s: WorkerServices): Promise<number> {
  const running = s.jobs.active().length;
  if (running) {
    const ok = await vscode.window.showWarningMessage(`Persona Lab: ${running} job(s) are running; restarting the worker cancels them (completed work is kept).`, { modal: true }, 'Restart');
    if (ok !== 'Restart') return running;
  }
  await s.jobs.restart();
  void vscode.window.showInformationMessage('Persona Lab: inference worker stopped; the next job starts a fresh one.');
  return 0;
}

/** Unloads every model from the worker (frees its memory), keeping the worker. */
export async function unloadModels(s: WorkerServices): Promise<number> {
  if (!s.jobs.workerPid) { void vscode.window.showInformationMessage('Persona Lab: no inference worker is running.'); return 0; }
  if (s.jobs.active().length) { void vscode.window.showWarningMessage('Persona Lab: a job is running; cancel it first (Persona Lab: Cancel Job).'); return 0; }
  const c = await s.jobs.client();
  const models = await c.listModels();
  for (const m of models) await c.unloadModel(m.modelId);
  s.log.info(`Unloaded ${models.length} model(s) from the inference worker.`);
  return models.length;
}

/** Cancels a running job: the only one, or the one picked; `all` cancels every job. */
export async function cancelJob(s: WorkerServices, arg?: number | 'all'): Promise<number> {
  const active = s.jobs.active();
  if (active.length === 0) { void vscode.window.showInformationMessage('Persona Lab: no job is running.'); return 0; }
  if (arg === 'all') return s.jobs.cancel();
  if (typeof arg === 'number') return s.jobs.cancel(arg);
  if (active.length === 1) return s.jobs.cancel(active[0].id);
  const pick = await vscode.window.showQuickPick(active.map((j) => ({ label: j.title, description: `${elapsed(j.started)} · ${j.line}`, id: j.id })), { title: 'Cancel which job?' });
  return pick ? s.jobs.cancel(pick.id) : 0;
}

/** The status-bar item's click: restart, unload or cancel. */
export async function workerActions(s: WorkerServices): Promise<unknown> {
  const items = [
    { label: '$(debug-restart) Restart Inference Worker', run: () => restartWorker(s) },
    { label: '$(eject) Unload Models', run: () => unloadModels(s) },
    ...(s.jobs.active().length ? [{ label: '$(stop) Cancel Job', run: () => cancelJob(s) }] : []),
  ];
  const pick = await vscode.window.showQuickPick(items, { title: 'Persona Lab inference worker' });
  return pick?.run();
}

export function elapsed(started: number): string {
  const s = Math.round((Date.now() - started) / 1000);
  return s < 60 ? `${s}s` : `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, '0')}s`;
}
