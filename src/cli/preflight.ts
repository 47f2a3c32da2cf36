/**
 * Every input a command names, checked before the worker starts or a model loads (cheap checks first): trait files,
 * --data, --prompts and --vector, through the same core readers the jobs use later (src/core/validate, traits/load.ts,
 * jobs/screen.ts, jobs/monitor.ts, vectors/file.ts), so the editor's callers get the same checks. A refusal here is a
 * bad input, not a failed run: it exits 2 (usage) with the reader's one-paragraph message, and nothing is written.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { PipelineError } from '../core/errors.js';
import { findTraitFile, samplingFor, steerScalingFor } from '../core/jobs/defaults.js';
import { readMonitorPrompts } from '../core/jobs/monitor.js';
import { readScreenData } from '../core/jobs/screen.js';
import type { ModelIdentity } from '../core/models.js';
import type { Workspace } from '../core/storage/workspace.js';
import { toyModelDir } from '../core/toy/paths.js';
import { loadTraitFile } from '../core/traits/load.js';
import { contextWindowOf, promptTextLimit, type TextLimit } from '../core/validate/limits.js';
import { assertVectorFits, checkRowUsable, readVectorFile, vectorRow, type RowUse, type VectorKind } from '../core/vectors/file.js';
import { ReasonError } from '../engine/errors.js';
import type { CliContext } from './command.js';
import { INPUT_REASONS } from './exit-codes.js';

/** An input refused before any work: reason 'usage', so the CLI exits 2 and prints the one paragraph (without the option list). */
export class InputError extends ReasonError<'usage'> {
  override readonly name = 'InputError';
  constructor(message: string, cause?: unknown) { super('usage', message, { cause }); }
}

const has = (ctx: CliContext, name: string) => ctx.options.some((o) => o.name === name);
const flagStr = (ctx: CliContext, name: string) => (has(ctx, name) ? ctx.flags[name] as string | undefined : undefined);

function readJson(file: string): Record<string, unknown> | undefined {
  try { return JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>; } catch { return undefined; }
}

/** Chat or base, from the tokenizer files alone (the worker decides the same from the chat template). */
function isChatCheckpoint(dir: string): boolean {
  if (existsSync(path.join(dir, 'chat_template.jinja')) || existsSync(path.join(dir, 'chat_template.json'))) return true;
  return typeof readJson(path.join(dir, 'tokenizer_config.json'))?.chat_template === 'string';
}

/** L and H from config.json, when it states them plainly. */
function dims(dir: string): { numLayers: number; hiddenSize: number } | undefined {
  const c = readJson(path.join(dir, 'config.json'));
  if (!c) return undefined;
  const t = (c.text_config ?? c) as Record<string, unknown>;
  const L = t.num_hidden_layers ?? t.n_layer, H = t.hidden_size ?? t.n_embd ?? t.d_model;
  return typeof L === 'number' && typeof H === 'number' ? { numLayers: L, hiddenSize: H } : undefined;
}

/** The prompt-length limit for this command on this checkpoint (src/core/validate/limits.ts). */
function limitFor(ctx: CliContext, modelDir: string, isToy: boolean): TextLimit | undefined {
  const maxChars = ctx.flags['max-prompt-chars'] as number | undefined;
  const maxNewTokens = has(ctx, 'max-new-tokens') ? samplingFor(ctx.flags, isToy, isChatCheckpoint(modelDir)).params.maxNewTokens : undefined;
  return promptTextLimit({ contextTokens: contextWindowOf(modelDir), maxNewTokens, maxChars });
}

export function preflight(ctx: CliContext, ws: Workspace, model: { path: string; isToy: boolean }, id: ModelIdentity): void {
  try {
    check(ctx, ws, model, id);
  } catch (e) {
    if (PipelineError.is(e, [...INPUT_REASONS])) throw new InputError((e as Error).message, e);
    throw e;
  }
}

function check(ctx: CliContext, ws: Workspace, model: { path: string; isToy: boolean }, id: ModelIdentity): void {
  if (has(ctx, 'scaling')) steerScalingFor(ctx.flags); // --scaling target-norm without --target-norm N, or N without it
  const limit = limitFor(ctx, model.path, model.isToy);
  // Trait files: every one the job's lookup finds (a missing one is the command's to report).
  const traitFlag = has(ctx, 'trait') ? ctx.flags.trait ?? ctx.options.find((o) => o.name === 'trait')?.default : undefined;
  const traits = Array.isArray(traitFlag) ? traitFlag as string[] : typeof traitFlag === 'string' ? [traitFlag] : [];
  let toyTraits: string | undefined;
  try { toyTraits = path.join(toyModelDir(), 'traits'); } catch { toyTraits = undefined; }
  for (const trait of traits) {
    for (const [set, flagName] of [['extract', 'trait-file'], ['eval', 'eval-file']] as const) {
      if (!has(ctx, flagName)) continue;
      let file: string;
      try {
        file = findTraitFile(set, trait, { ws, explicit: flagStr(ctx, flagName), traitsDir: flagStr(ctx, 'traits-dir'), modelTraitsDir: toyTraits });
      } catch { continue; }
      if (existsSync(file) || flagStr(ctx, flagName)) loadTraitFile(file, { limit });
    }
  }
  const data = flagStr(ctx, 'data');
  if (data && existsSync(data)) readScreenData(path.resolve(data), 'chat', { limit });
  const prompts = flagStr(ctx, 'prompts');
  if (prompts && existsSync(prompts)) readMonitorPrompts(path.resolve(prompts), { limit });
  checkVector(ctx, ws, model, id, traits[0]);
}

/**
 * --vector (or the workspace's vector for the trait): readable (its --vector-key tensor, when given), finite, the model's
 * shape, and a usable row at every layer the job steers or projects at (--layer, or a grid's --layers, default 1..L):
 * a layer outside 0..L is refused here too, before the model loads.
 */
function checkVector(ctx: CliContext, ws: Workspace, model: { path: string }, id: ModelIdentity, trait: string | undefined): void {
  if (!has(ctx, 'vector')) return;
  const layer = ctx.flags.layer as number | undefined;
  if (has(ctx, 'prompt') && layer === undefined) return; // generate without steering reads no vector
  const given = flagStr(ctx, 'vector');
  const file = given ? path.resolve(given) : trait ? ws.vectorPath(id.name, id.revision, trait) : undefined;
  if (!file || !existsSync(file)) return; // the command says what to run first
  const kind = (ctx.flags.kind as VectorKind | undefined) ?? 'response_avg';
  const v = readVectorFile(file, { key: flagStr(ctx, 'vector-key'), kind });
  const d = dims(model.path);
  if (d) assertVectorFits(v, file, { name: id.name, ...d });
  if (!v.data[kind]) return;
  const layers = has(ctx, 'layers') ? ((ctx.flags.layers as number[] | undefined)?.length ? ctx.flags.layers as number[] : Array.from({ length: v.layers - 1 }, (_, i) => i + 1))
    : layer === undefined ? [] : [layer];
  const coefs = has(ctx, 'coefs') ? (ctx.flags.coefs ?? ctx.options.find((o) => o.name === 'coefs')?.default ?? []) as number[] : [ctx.flags.coef as number | undefined];
  const use: RowUse = has(ctx, 'data') || has(ctx, 'prompts') ? 'projection' : ((ctx.flags.scaling as RowUse | undefined) ?? 'raw');
  for (const l of layers) {
    const warning = checkRowUsable(vectorRow(v, kind, l), use, file, l);
    // Raw steering with a zero row is harmless in itself, but the worker refuses steering that would add nothing (a
    // silent no-op hides bugs; src/engine/steering/steer.ts), so say it now rather than after the model loaded.
    if (warning && coefs.some((c) => c !== 0)) {
      throw new InputError(`${warning}, and the worker refuses steering that adds nothing: pick another ${has(ctx, 'layers') ? '--layers' : '--layer'}, or --coef 0 to run unsteered on purpose`);
    }
  }
}
