/**
 * The quick picks the palette commands ask with, remembering the last answers per command in workspaceState so the
 * next run offers them first. A value given by the caller (an argument object: tests, other extensions, a rerun
 * from Runs) skips its pick. Empty answers are refused with a message in the input box, never read as 0.
 */
import { existsSync, readdirSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { Workspace } from '../../core/storage/workspace.js';
import type { DiscoveredModel } from '../modelDiscovery.js';

export interface Checkpoint { path: string; revision?: string }

/** A finite number from an input box's text; '' and non-numbers are an error message (./playground.ts reads fields the same way). */
export function parseNumberField(text: string, name: string, opts: { integer?: boolean; min?: number; max?: number } = {}): number | string {
  const t = text.trim();
  if (t === '') return `${name} is empty: type a number`;
  const v = Number(t);
  if (!Number.isFinite(v)) return `${name} must be a number (got "${t}")`;
  if (opts.integer && !Number.isInteger(v)) return `${name} must be a whole number (got ${t})`;
  if (opts.min !== undefined && v < opts.min) return `${name} must be ≥ ${opts.min} (got ${t})`;
  if (opts.max !== undefined && v > opts.max) return `${name} must be ≤ ${opts.max} (got ${t})`;
  return v;
}

export class Picks {
  constructor(private readonly memory: vscode.Memento, private readonly command: string) {}

  private key(what: string) { return `personaLab.last.${this.command}.${what}`; }
  private last<T>(what: string): T | undefined { return this.memory.get<T>(this.key(what)); }
  private remember(what: string, v: unknown): Thenable<void> { return this.memory.update(this.key(what), v); }

  /** A checkpoint: the caller's, else a pick with the last one first, then every model's `main`, then the rest. */
  async checkpoint(models: DiscoveredModel[], given: { modelPath?: string; revision?: string }, title: string): Promise<Checkpoint | undefined> {
    if (given.modelPath) return { path: given.modelPath, revision: given.revision };
    const items = models.flatMap((m) => (m.revisions.length ? m.revisions : [{ name: 'main', path: m.path }])
      .map((r) => ({ label: `${m.name}@${r.name}`, description: r.name === 'main' ? 'main' : undefined, target: r.path ? { path: r.path } : { path: m.path, revision: r.name } as Checkpoint })));
    if (items.length === 0) throw new Error('no models found: add a checkpoint folder with "Persona Lab: Add Model Folder"');
    const last = this.last<string>('checkpoint');
    const rank = (i: (typeof items)[number]) => (i.label === last ? 0 : i.label.endsWith('@main') ? 1 : 2);
    const sorted = items.map((i, n) => ({ i, n })).sort((a, b) => rank(a.i) - rank(b.i) || a.n - b.n).map((x) => x.i);
    const pick = await vscode.window.showQuickPick(sorted, { title, placeHolder: last ? `last used: ${last}` : undefined });
    if (pick) await this.remember('checkpoint', pick.label);
    return pick?.target;
  }

  /** A trait with extraction/evaluation files (workspace first, then the model's own); the last one first. */
  async trait(ws: Workspace, embedded: string | undefined, given: string | undefined, title: string): Promise<string | undefined> {
    if (given) return given;
    const names = new Set<string>();
    for (const dir of [path.join(ws.traitsDir, 'extract'), path.join(ws.traitsDir, 'eval'), embedded]) {
      if (dir && existsSync(dir)) for (const f of readdirSync(dir)) if (f.endsWith('.json')) names.add(f.slice(0, -5));
    }
    if (names.size === 0) throw new Error(`no trait files: put one at ${path.join(ws.traitsDir, 'eval', '<trait>.json')} (upstream schema) or create one with "Persona Lab: Create Trait from Description"`);
    const last = this.last<string>('trait');
    const sorted = [...names].sort((a, b) => Number(b === last) - Number(a === last) || a.localeCompare(b));
    const pick = await vscode.window.showQuickPick(sorted, { title });
    if (pick) await this.remember('trait', pick);
    return pick;
  }

  /** Layer and coefficient: the caller's, else two input boxes prefilled with the last values (or the model's recommended point). */
  async steeringPoint(given: { layer?: number; coef?: number }, recommended: { layer: number; coef: number } | undefined, title: string): Promise<{ layer: number; coef: number } | undefined> {
    const last = this.last<{ layer: number; coef: number }>('point') ?? recommended;
    const layer = given.layer ?? await this.number(`${title}: steer at which layer? (row ℓ of hidden_states; the last row is after the final norm)`, 'Layer', last?.layer, { integer: true, min: 0 });
    if (layer === undefined) return undefined;
    const coef = given.coef ?? await this.number(`${title}: steering coefficient?`, 'Coefficient', last?.coef, {});
    if (coef === undefined) return undefined;
    if (given.layer === undefined || given.coef === undefined) await this.remember('point', { layer, coef });
    return { layer, coef };
  }

  /** A layer (row ℓ of hidden_states): the caller's, else an input box prefilled with the last one or the model's recommended layer. */
  async layer(given: number | undefined, recommended: number | undefined, title: string): Promise<number | undefined> {
    if (given !== undefined) return given;
    const v = await this.number(`${title}: project at which layer? (row ℓ of hidden_states; the last row is after the final norm)`, 'Layer', this.last<number>('layer') ?? recommended, { integer: true, min: 0 });
    if (v !== undefined) await this.remember('layer', v);
    return v;
  }

  private async number(title: string, name: string, value: number | undefined, opts: { integer?: boolean; min?: number }): Promise<number | undefined> {
    const text = await vscode.window.showInputBox({ title, value: value === undefined ? '' : String(value), validateInput: (t) => { const v = parseNumberField(t, name, opts); return typeof v === 'string' ? v : undefined; } });
    if (text === undefined) return undefined;
    const v = parseNumberField(text, name, opts);
    return typeof v === 'number' ? v : undefined;
  }
}
