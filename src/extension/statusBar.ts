/**
 * The worker's status-bar item: provider, models loaded, resident memory, busy (with the running job) or idle;
 * clicking it offers Restart Inference Worker, Unload Models and Cancel Job. It polls the worker only while one runs.
 */
import { readFileSync } from 'node:fs';
import * as vscode from 'vscode';
import type { JobRunner } from './jobs.js';

/** The worker's resident memory in MiB from /proc (Linux); undefined elsewhere or once it exited. */
export function residentMiB(pid: number | undefined): number | undefined {
  if (!pid) return undefined;
  try {
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Math.round(Number(m[1]) / 1024) : undefined;
  } catch { return undefined; }
}

export class WorkerStatusBar implements vscode.Disposable {
  readonly item = vscode.window.createStatusBarItem('personaLab.worker', vscode.StatusBarAlignment.Left, 50);
  private readonly subs: vscode.Disposable[] = [];
  private timer: ReturnType<typeof setInterval> | undefined;
  private models = '';
  private provider = '';

  constructor(private readonly jobs: JobRunner) {
    this.item.name = 'Persona Lab worker';
    this.item.command = 'personaLab.workerActions';
    this.subs.push(jobs.onDidChange(() => { void this.refresh(); }));
    void this.refresh();
  }

  /** The text shown now (the tests read it). */
  get text(): string { return this.item.text; }

  async refresh(): Promise<void> {
    const pid = this.jobs.workerPid;
    if (!pid) {
      clearInterval(this.timer); this.timer = undefined;
      this.models = ''; this.provider = '';
      this.item.hide();
      return;
    }
    if (!this.timer) this.timer = setInterval(() => { void this.refresh(); }, 5000);
    // Busy/idle and memory now; the loaded models' names once the worker answers.
    this.render(pid);
    try {
      const list = await (await this.jobs.client()).listModels();
      this.models = list.map((m) => `${m.path.split(/[\\/]/).slice(-1)[0]}${m.revision ? `@${m.revision}` : ''}`).join(', ');
      this.provider = [...new Set(list.map((m) => m.executionProvider))].join('/');
    } catch { /* the worker is going away: keep the last names until onExit clears them */ }
    if (this.jobs.workerPid === pid) this.render(pid);
  }

  private render(pid: number): void {
    const active = this.jobs.active();
    const mem = residentMiB(pid);
    const state = active.length ? `busy: ${active[0].title}${active.length > 1 ? ` (+${active.length - 1})` : ''}` : 'idle';
    this.item.text = `$(${active.length ? 'sync~spin' : 'server-process'}) PL ${this.provider || 'worker'}${mem !== undefined ? ` ${mem} MiB` : ''} ${active.length ? 'busy' : 'idle'}`;
    this.item.tooltip = `Persona Lab inference worker (pid ${pid})\n${this.models ? `models: ${this.models}` : 'no model loaded'}${this.provider ? `\nprovider: ${this.provider}` : ''}` +
      `${mem !== undefined ? `\nresident memory: ${mem} MiB` : ''}\n${state}${active.length ? `, ${active[0].line}` : ''}\nClick: restart, unload or cancel`;
    this.item.accessibilityInformation = { label: `Persona Lab worker ${active.length ? 'busy' : 'idle'}${mem !== undefined ? `, ${mem} megabytes` : ''}` };
    this.item.show();
  }

  dispose(): void {
    clearInterval(this.timer);
    this.subs.forEach((d) => d.dispose());
    this.item.dispose();
  }
}
