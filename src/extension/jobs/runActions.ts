/**
 * What the Runs view knows about a run folder and what its context actions do: a run's state (done, failed,
 * cancelled, running — held by a live run lock — or interrupted: "running" in its manifest with no live holder), which
 * sweep a stage run belongs to (derived from the sweep's own configuration, so it needs nothing new in the manifests),
 * which sweep run a Slurm plan fills, and the actions Rerun / Resume (the same configuration again through the
 * editor's own commands: the same run id, so it resumes), Delete (confirmed; refused while the run is held), Reveal,
 * and for Slurm plans Resume Failed Units (`jobs resume`) and Cancel (scancel).
 */
import { existsSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { hostname } from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { resolveOptions } from '../../core/jobs/defaults.js';
import { RUN_LOCK_STALE_MS } from '../../core/jobs/run.js';
import { JOBS } from '../../core/jobs/table.js';
import { readPlan, readSubmissions } from '../../core/slurm/plan.js';
import { cancelPlan, isActive, planStatus, resumePlan } from '../../core/slurm/status.js';
import { describeHolder } from '../../core/storage/lock.js';
import { isToyModelPath } from '../../core/toy/paths.js';
import { modelIdentity } from '../config.js';
import type { DiscoveredModel } from '../modelDiscovery.js';

export type RunState = 'done' | 'not-extractable' | 'failed' | 'cancelled' | 'running' | 'interrupted' | 'unknown';

interface Manifest { kind?: string; status?: string; createdAt?: string; updatedAt?: string; message?: string; config?: Record<string, any> }

export interface RunInfo {
  dir: string;
  kind: string;
  state: RunState;
  manifest?: Manifest;
  /** Who holds the run lock (pid, host, since) while a live process runs it. */
  holder?: string;
}

function readManifest(dir: string): Manifest | undefined {
  try { return JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as Manifest; } catch { return undefined; }
}

const alive = (pid: number) => { try { process.kill(pid, 0); return true; } catch (e) { return (e as NodeJS.ErrnoException).code === 'EPERM'; } };

/**
 * The live holder of a run's lock (src/core/jobs/run.ts: run.lock, heartbeat every 30 s), or undefined when none:
 * on this host the holder's pid must be alive, from another host (a cluster node) its heartbeat must be fresh.
 */
export function runLockHolder(dir: string): string | undefined {
  const file = path.join(dir, 'run.lock');
  let mtime: number;
  try { mtime = statSync(file).mtimeMs; } catch { return undefined; }
  let h: { host?: string; pid?: number } | undefined;
  try { h = JSON.parse(readFileSync(file, 'utf8')) as { host?: string; pid?: number }; } catch { h = undefined; }
  if (h?.host === hostname() && typeof h.pid === 'number') return alive(h.pid) ? describeHolder(file) : undefined;
  return Date.now() - mtime < RUN_LOCK_STALE_MS ? describeHolder(file) : undefined;
}

export function runInfo(dir: string): RunInfo {
  const manifest = readManifest(dir);
  const kind = typeof manifest?.kind === 'string' && /^[a-z]+$/.test(manifest.kind) ? manifest.kind : 'unknown';
  const holder = runLockHolder(dir);
  const st = manifest?.status;
  const state: RunState = holder ? 'running'
    : st === 'running' ? 'interrupted'
      : st === 'done' || st === 'not-extractable' || st === 'failed' || st === 'cancelled' ? st : 'unknown';
  return { dir, kind, state, manifest, holder };
}

/** done / not-extractable: Rerun; failed, cancelled or interrupted: Resume; running: neither, and no Delete. */
export const isUnfinished = (s: RunState) => s === 'failed' || s === 'cancelled' || s === 'interrupted';

// ---- grouping: a sweep's stage runs under the sweep, a Slurm plan's sweep under the plan -----------------------------

export interface RunGroups {
  /** child run folder → the run folder it is shown under */
  parent: Map<string, string>;
  /** run folder → the run folders shown under it (stage runs, or a plan's sweep), in name order */
  children: Map<string, string[]>;
}

const same = (a: unknown, b: unknown) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
const safeName = (s: string) => s.replace(/[^A-Za-z0-9._-]+/g, '_');

/** The stage runs (extract, evaluate, transfer) a sweep ran, recognised by the sweep's configuration (core/jobs/sweep.ts sweepConfig). */
function isSweepStage(sweep: Record<string, any>, c: Record<string, any> | undefined): boolean {
  if (!c || !same(c.sampler, sweep.sampler) || c.samplerPreset !== sweep.samplerPreset || c.judge !== sweep.judge) return false;
  const t = (sweep.traits as { trait: string; extractSha256: string; evalSha256: string; layer: number; coef: number }[] | undefined)?.find((x) => x.trait === c.trait);
  if (!t) return false;
  const revs = sweep.revisions as string[];
  const ev = sweep.evaluate as Record<string, unknown>, ex = sweep.extract as Record<string, unknown>;
  const evalSettings = () => c.evalSha256 === t.evalSha256 && c.seed === ev.seed && c.samples === ev.samples && same(c.maxQuestions, ev.maxQuestions) && c.layer === t.layer && c.coef === t.coef;
  if (c.stage === 'extract') {
    return c.traitSha256 === t.extractSha256 && c.seed === ex.seed && c.samples === ex.samples && same(c.maxQuestions, ex.maxQuestions) && c.threshold === ex.threshold
      // at one of the sweep's revisions, or the transfer target's own extraction (a model other than the sweep's)
      && (c.model?.name === sweep.model ? revs.includes(c.model?.revision) : sweep.transferScaling !== null && sweep.transferScaling !== undefined);
  }
  if (c.stage === 'evaluate') return c.model?.name === sweep.model && revs.includes(c.model?.revision) && c.promptBaseline === false && evalSettings();
  if (c.stage === 'transfer') return (c.sources as { revision: string }[] | undefined)?.every((s) => revs.includes(s.revision)) === true && evalSettings();
  return false;
}

/** A Slurm plan's sweep run folder: the sweep-<model>-<traits>-… folder that holds the plan's unit files (the newest when several). */
function planSweep(runsDir: string, names: string[], plan: { label: string; units: { id: string }[] }): string | undefined {
  const prefix = `sweep-${safeName(plan.label)}-`;
  let best: { dir: string; t: number } | undefined;
  for (const n of names.filter((x) => x.startsWith(prefix))) {
    const dir = path.join(runsDir, n);
    let t = -1;
    for (const u of plan.units) {
      const [rev, trait] = u.id.split('/');
      try { t = Math.max(t, statSync(path.join(dir, 'units', safeName(rev), `${safeName(trait)}.json`)).mtimeMs); } catch { /* not done yet */ }
    }
    if (t >= 0 && (!best || t > best.t)) best = { dir, t };
  }
  return best?.dir;
}

export function groupRuns(runsDir: string | undefined): RunGroups {
  const parent = new Map<string, string>(), children = new Map<string, string[]>();
  if (!runsDir || !existsSync(runsDir)) return { parent, children };
  let names: string[];
  try { names = readdirSync(runsDir).filter((n) => !n.startsWith('.')).sort(); } catch { return { parent, children }; }
  const manifests = new Map(names.map((n) => [path.join(runsDir, n), readManifest(path.join(runsDir, n))]));
  const add = (p: string, c: string) => { if (parent.has(c) || p === c) return; parent.set(c, p); children.set(p, [...(children.get(p) ?? []), c]); };
  const stages = [...manifests].filter(([, m]) => m?.kind === 'extract' || m?.kind === 'evaluate' || m?.kind === 'transfer');
  for (const [dir, m] of manifests) {
    if (m?.kind !== 'sweep' || !m.config) continue;
    for (const [sd, sm] of stages) if (isSweepStage(m.config, sm?.config)) add(dir, sd);
  }
  for (const n of names.filter((x) => x.startsWith('slurm-'))) {
    const dir = path.join(runsDir, n);
    let plan;
    try { plan = readPlan(dir); } catch { continue; }
    if (plan.job !== 'sweep') continue;
    const sweep = planSweep(runsDir, names, plan);
    if (sweep) add(dir, sweep);
    // Before the merge writes the sweep's manifest, its stage runs are recognised by revision and trait, made since the plan's first submission.
    if (sweep && manifests.get(sweep)?.config) continue;
    const since = Date.parse(readSubmissions(dir)[0]?.at ?? '') - 60_000;
    const cells = new Set(plan.units.map((u) => u.id));
    for (const [sd, sm] of stages) {
      const c = sm?.config;
      if (c && Number.isFinite(since) && Date.parse(sm?.createdAt ?? '') >= since && cells.has(`${c.model?.revision}/${c.trait}`)) add(dir, sd);
    }
  }
  return { parent, children };
}

// ---- actions -------------------------------------------------------------------------------------------------------

export interface RunActionServices {
  log: vscode.LogOutputChannel;
  listModels(): DiscoveredModel[];
  runsFolder(): string | undefined;
  refreshViews(): void;
}

/** A run folder from a Runs item (`entry.path`; an array task's `<plan>#<label>`), a path or `{ runDir }`. */
export function runDirArg(arg: unknown): string | undefined {
  const p = typeof arg === 'string' ? arg : typeof arg === 'object' && arg !== null
    ? (arg as { runDir?: unknown }).runDir ?? (arg as { entry?: { path?: unknown } }).entry?.path : undefined;
  return typeof p === 'string' ? p.split('#')[0] : undefined;
}

/** The checkpoint folder whose identity (name with weight format, revision) is `name@revision`, among the Models view's models. */
function checkpointPath(models: DiscoveredModel[], name: string, revision: string): string | undefined {
  for (const m of models) {
    for (const r of m.revisions) if (r.path) { const id = modelIdentity(r.path); if (id.name === name && id.revision === revision) return r.path; }
    if (m.revisions.length === 0) { const id = modelIdentity(m.path); if (id.name === name && id.revision === revision) return m.path; }
  }
  return undefined;
}

/** The model folder (with revisions/) whose checkpoints have identity `name`. */
function sweepModelPath(models: DiscoveredModel[], name: string): string | undefined {
  return models.find((m) => m.revisions.some((r) => r.path && modelIdentity(r.path).name === name))?.path;
}

/** Refuses a rerun the editor's command would run with other settings than the run recorded (a different run id). */
function requireSame(kind: string, what: Record<string, [unknown, unknown]>): void {
  const diff = Object.entries(what).filter(([, [had, would]]) => !same(had, would));
  if (diff.length) {
    throw new Error(`this ${kind} run was made with ${diff.map(([k, [had, would]]) => `${k} ${JSON.stringify(had)} (the editor's command uses ${JSON.stringify(would)})`).join(', ')}, ` +
      `so the editor cannot run the same configuration; rerun it from the CLI (persona-lab ${kind} … with the same flags), which resumes it`);
  }
}

/** The editor command and argument object that runs `info`'s configuration again. */
function rerunCommand(info: RunInfo, models: DiscoveredModel[]): { command: string; args: Record<string, unknown> } {
  const c = info.manifest?.config ?? {};
  if (info.kind === 'sweep') {
    const modelPath = sweepModelPath(models, c.model as string);
    if (!modelPath) throw new Error(`no model named ${String(c.model)} in the Models view; add its folder (Persona Lab: Add Model Folder) to rerun this sweep`);
    if (c.transferScaling) throw new Error('this sweep has a transfer target, which the editor\'s Run Checkpoint Sweep does not set; rerun it from the CLI (persona-lab sweep … --transfer-to)');
    const traits = c.traits as { trait: string; layer: number; coef: number }[];
    const ex = c.extract as Record<string, number | undefined>, ev = c.evaluate as Record<string, number | undefined>;
    return { command: 'personaLab.runSweep', args: { modelPath, where: 'local', revisions: c.revisions, traits: traits.map((t) => t.trait),
      steering: Object.fromEntries(traits.map((t) => [t.trait, { layer: t.layer, coef: t.coef }])),
      maxQuestions: ex.maxQuestions ?? undefined, samples: ex.samples, evalSamples: ev.samples, seed: ex.seed, evalSeed: ev.seed, threshold: ex.threshold } };
  }
  const model = c.model as { name?: string; revision?: string } | undefined;
  const modelPath = model?.name && model.revision ? checkpointPath(models, model.name, model.revision) : undefined;
  if (!modelPath) throw new Error(`no checkpoint ${model?.name ?? '?'}@${model?.revision ?? '?'} in the Models view; add its folder (Persona Lab: Add Model Folder) to rerun this run`);
  const toy = isToyModelPath(modelPath);
  const base = { modelPath, trait: c.trait as string, samples: c.samples as number, maxQuestions: (c.maxQuestions as number | null) ?? undefined };
  if (info.kind === 'extract') {
    const o = resolveOptions(JOBS.extract, {}, toy);
    requireSame('extract', { seed: [c.seed, o.seed], threshold: [c.threshold, o.threshold], minPairs: [c.minPairs, o['min-pairs']] });
    return { command: 'personaLab.extractVector', args: base };
  }
  if (info.kind === 'evaluate' || info.kind === 'grid' || info.kind === 'controls') {
    const o = resolveOptions(JOBS[info.kind], {}, toy);
    requireSame(info.kind, { seed: [c.seed, o.seed], promptBaseline: [c.promptBaseline ?? true, true] });
    if (info.kind === 'evaluate') return { command: 'personaLab.evaluateSteering', args: { ...base, layer: c.layer, coef: c.coef } };
    if (info.kind === 'grid') {
      requireSame('grid', { refineStep: [c.refineStep, o.refine ?? null], minCoherence: [c.minCoherence, o['min-coherence']] });
      return { command: 'personaLab.runGrid', args: { ...base, layers: c.layers, coefs: c.coefs } };
    }
    return { command: 'personaLab.runControls', args: { ...base, layer: c.layer, coef: c.coef, seeds: c.seeds } };
  }
  throw new Error(`a ${info.kind} run cannot be rerun from the Runs view; rerun it with its palette command or the CLI`);
}

/**
 * Rerun (a finished run) or Resume (a failed, cancelled or interrupted one): the same configuration through the
 * editor's own command, so the same run id opens and what is on disk is reused. A sweep's stage run reruns its sweep;
 * a stage run of a Slurm plan resumes the plan's failed units. Returns the command's outcome.
 */
export async function rerunRun(s: RunActionServices, arg: unknown, mode: 'rerun' | 'resume'): Promise<unknown> {
  let dir = runDirArg(arg);
  if (!dir) throw new Error('Rerun/Resume needs a run from the Runs view (or { runDir })');
  const parent = groupRuns(path.dirname(dir)).parent.get(dir);
  if (parent) {
    s.log.info(`${path.basename(dir)} is a stage of ${path.basename(parent)}: ${mode === 'rerun' ? 'rerunning' : 'resuming'} that instead.`);
    dir = parent;
  }
  const info = runInfo(dir);
  if (info.kind === 'slurm') return resumeSlurmUnits(s, dir);
  if (info.state === 'running') throw new Error(`${path.basename(dir)} is running (${info.holder}); wait for it or cancel it first`);
  const { command, args } = rerunCommand(info, s.listModels());
  s.log.info(`${mode === 'rerun' ? 'Rerun' : 'Resume'} ${path.basename(dir)}: ${command} ${JSON.stringify(args)}`);
  const out = await vscode.commands.executeCommand<{ runDir?: string } | undefined>(command, args);
  if (out?.runDir && path.resolve(out.runDir) !== path.resolve(dir)) {
    s.log.warn(`${mode}: ${command} ran as ${path.basename(out.runDir)}, not ${path.basename(dir)} (its configuration differs from the recorded one).`);
  }
  s.refreshViews();
  return out;
}

/**
 * Deletes a run folder after a modal confirmation (`confirmed: true` from scripted callers skips it), with a sweep's
 * stage runs. Refused while a live process holds the run (naming it), and for a Slurm plan with queued or running tasks.
 */
export async function deleteRun(s: RunActionServices, arg: unknown): Promise<string[] | undefined> {
  const dir = runDirArg(arg);
  if (!dir || !existsSync(dir)) throw new Error(`no run folder ${dir ?? ''} to delete`);
  const runs = s.runsFolder();
  if (!runs || path.dirname(path.resolve(dir)) !== path.resolve(runs)) throw new Error(`${dir} is not a run folder in this workspace's runs/; nothing was deleted`);
  const info = runInfo(dir);
  const members = (info.kind === 'sweep' ? groupRuns(runs).children.get(dir) ?? [] : []);
  for (const d of [dir, ...members]) {
    const holder = runLockHolder(d);
    if (holder) throw new Error(`${path.basename(d)} is in use by ${holder}; stop it first (Cancel Job, or wait for it to finish). Nothing was deleted.`);
  }
  if (info.kind === 'slurm') {
    let active: string[] = [];
    try { const st = planStatus(dir); active = [...st.units.filter((u) => isActive(u.state)).map((u) => u.id), ...(st.merge && isActive(st.merge.state) ? ['merge'] : [])]; } catch { /* no plan: plain delete */ }
    if (active.length) throw new Error(`Slurm plan ${path.basename(dir)} still has queued or running jobs (${active.join(', ')}); Cancel them first. Nothing was deleted.`);
  }
  const confirmed = typeof arg === 'object' && arg !== null && (arg as { confirmed?: unknown }).confirmed === true;
  if (!confirmed) {
    const what = members.length ? ` and its ${members.length} stage run(s)` : '';
    const keep = info.kind === 'slurm' ? ' The sweep run it filled stays.' : ' Vectors in vectors/ stay.';
    const pick = await vscode.window.showWarningMessage(`Delete run ${path.basename(dir)}${what}?`, { modal: true, detail: `This removes the folder${members.length ? 's' : ''} from runs/ for good.${keep}` }, 'Delete');
    if (pick !== 'Delete') return undefined;
  }
  const gone = [dir, ...members];
  for (const d of gone) rmSync(d, { recursive: true, force: true });
  s.log.info(`Deleted ${gone.map((d) => path.basename(d)).join(', ')}`);
  s.refreshViews();
  return gone;
}

/** Reveal in the Explorer (inside the workspace), or in the OS file manager; where neither can show it (a remote window), the path is copied. */
export async function revealRun(s: RunActionServices, arg: unknown, where: 'explorer' | 'os'): Promise<string | undefined> {
  const dir = runDirArg(arg);
  if (!dir) return undefined;
  const uri = vscode.Uri.file(dir);
  if (where === 'explorer' && vscode.workspace.getWorkspaceFolder(uri)) { await vscode.commands.executeCommand('revealInExplorer', uri); return 'explorer'; }
  if (where === 'os' && vscode.env.remoteName === undefined && (await vscode.commands.getCommands(true)).includes('revealFileInOS')) {
    await vscode.commands.executeCommand('revealFileInOS', uri);
    return 'os';
  }
  await vscode.env.clipboard.writeText(dir);
  void vscode.window.showInformationMessage(`Persona Lab: ${where === 'os' ? 'this window cannot open a file manager here' : 'the run is outside the workspace'}; its path is copied: ${dir}`);
  return 'clipboard';
}

/** Resume Failed Units of a Slurm plan: `persona-lab jobs resume` (src/core/slurm/status.ts resumePlan). */
export function resumeSlurmUnits(s: RunActionServices, arg: unknown): { resubmitted: number[]; arrayJobId?: string; mergeJobId?: string } {
  const dir = runDirArg(arg);
  if (!dir) throw new Error('Resume Failed Units needs a Slurm plan from the Runs view');
  const r = resumePlan(dir);
  const msg = r.submission
    ? `resubmitted ${r.resubmitted.length ? `unit(s) ${r.resubmitted.join(', ')} as array job ${r.submission.arrayJobId}` : 'no unit'}${r.submission.mergeJobId ? `, merge job ${r.submission.mergeJobId}` : ''}`
    : 'nothing to resubmit (every unit is done, queued or running)';
  s.log.info(`Slurm ${path.basename(dir)}: ${msg}`);
  void vscode.window.showInformationMessage(`Persona Lab: ${msg}.`);
  s.refreshViews();
  return { resubmitted: r.resubmitted, arrayJobId: r.submission?.arrayJobId, mergeJobId: r.submission?.mergeJobId };
}

/** Cancel a Slurm plan's queued and running jobs (scancel), or one array task from its item. */
export function cancelSlurm(s: RunActionServices, arg: unknown): string[] {
  const dir = runDirArg(arg);
  if (!dir) throw new Error('Cancel needs a Slurm plan or array task from the Runs view');
  const index = typeof arg === 'object' && arg !== null && typeof (arg as { unitIndex?: unknown }).unitIndex === 'number' ? (arg as { unitIndex: number }).unitIndex : undefined;
  const ids = cancelPlan(dir, index);
  s.log.info(`Slurm ${path.basename(dir)}: scancel ${ids.join(' ') || '(nothing queued or running)'}`);
  if (!ids.length) void vscode.window.showInformationMessage('Persona Lab: nothing of this plan is queued or running.');
  s.refreshViews();
  return ids;
}
