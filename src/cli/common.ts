/**
 * Shared plumbing for the pipeline commands: declared option values (src/core/jobs: parsed by ./args.ts, defaults
 * from the job table), the model/judge/sampler/trait-file policies through src/core/jobs/defaults.ts, starting the
 * worker, and progress on stderr.
 * Exit codes every command uses: 0 ok, 1 failure, 2 usage error, 3 not extractable.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { InferenceClient } from '../engine/client.js';
import type { SamplingParams } from '../engine/protocol.js';
import type { ModelHandle, Progress } from '../core/backend.js';
import { createJudge, type JudgeSpec } from '../core/judge/factory.js';
import type { Judge } from '../core/judge/types.js';
import { identifyModel } from '../core/models.js';
import { findTraitFile, judgeSpecFor, loadOptionsFor, samplingFor } from '../core/jobs/defaults.js';
import { optionDefault, type OptionValue } from '../core/jobs/options.js';
import type { SamplerPreset } from '../core/sampling.js';
import { isToyModelPath, toyModelDir } from '../core/toy/paths.js';
import { Workspace } from '../core/storage/workspace.js';
import { loadTraitFile, type LoadedTrait } from '../core/traits/load.js';
import type { CliContext } from './command.js';
import { UsageError } from './command.js';
import { preflight } from './preflight.js';

/** The exit-code table lives in ./exit-codes.ts (one place); re-exported for the commands. */
export { EXIT } from './exit-codes.js';

// ---------------------------------------------------------------- options
/** An option's value: given, else its declared default (the toy model's where `toy` and it has one). */
export function opt<T extends OptionValue>(ctx: CliContext, name: string, toy = false): T | undefined {
  const spec = ctx.options.find((s) => s.name === name);
  if (!spec) throw new Error(`--${name} is not declared for this command`);
  return (ctx.flags[name] ?? optionDefault(spec, toy)) as T | undefined;
}

export const str = (ctx: CliContext, name: string): string | undefined => opt<string>(ctx, name);
export const num = (ctx: CliContext, name: string, toy = false): number | undefined => opt<number>(ctx, name, toy);
export const numList = (ctx: CliContext, name: string): number[] | undefined => opt<number[]>(ctx, name);
export const list = (ctx: CliContext, name: string): string[] | undefined => opt<string[]>(ctx, name);
export const flag = (ctx: CliContext, name: string): boolean => opt<boolean>(ctx, name) === true;

/** A value the command cannot run without (a declared default counts). */
export function required<T extends OptionValue = string>(ctx: CliContext, name: string, toy = false): T {
  const v = opt<T>(ctx, name, toy);
  if (v === undefined) throw new UsageError(`--${name} is required`);
  return v;
}

/** The steering point every single-point command needs: --layer ℓ and --coef c. */
export function steeringPoint(ctx: CliContext): { layer: number; coef: number } {
  const layer = num(ctx, 'layer'), coef = num(ctx, 'coef');
  if (layer === undefined || coef === undefined) throw new UsageError('--layer and --coef are required');
  return { layer, coef };
}

// ---------------------------------------------------------------- defaults
export function workspace(ctx: CliContext): Workspace {
  return new Workspace(path.resolve(str(ctx, 'workspace') ?? process.env.PERSONA_LAB_WORKSPACE ?? '.persona-lab'));
}

/** The embedded toy model's folder (src/core/toy/paths.ts, honouring PERSONA_LAB_TOY_MODEL); a usage error when missing. */
export function toyDir(why: string): string {
  try { return toyModelDir(); } catch (e) { throw new UsageError(`${why}: ${(e as Error).message}`); }
}

/** --model (checkpoint folder) or the toy model's revision (--revision, default main). */
export function modelPath(ctx: CliContext): { path: string; isToy: boolean } {
  const given = str(ctx, 'model');
  if (given) {
    const abs = path.resolve(given);
    return { path: abs, isToy: isToyModelPath(abs) };
  }
  const toy = toyDir('no --model given and the embedded toy model was not found; pass --model <checkpoint folder>');
  return { path: path.join(toy, 'revisions', str(ctx, 'revision') ?? 'main'), isToy: true };
}

/** Trait files through the one search (src/core/jobs/defaults.ts): --trait-file/--eval-file, the workspace, --traits-dir, the toy's. */
export function traitFiles(ctx: CliContext, ws: Workspace, trait: string, needs: { extract?: boolean; eval?: boolean }): { extract?: LoadedTrait; eval?: LoadedTrait } {
  let toyTraits: string | undefined;
  try { toyTraits = path.join(toyModelDir(), 'traits'); } catch { toyTraits = undefined; }
  const find = (set: 'extract' | 'eval', flagName: string) => findTraitFile(set, trait, {
    ws, explicit: ctx.options.some((o) => o.name === flagName) ? str(ctx, flagName) : undefined,
    traitsDir: ctx.options.some((o) => o.name === 'traits-dir') ? str(ctx, 'traits-dir') : undefined, modelTraitsDir: toyTraits, hint: `pass --${flagName}` });
  return {
    extract: needs.extract ? loadTraitFile(find('extract', 'trait-file'), { requireInstruction: true }) : undefined,
    eval: needs.eval ? loadTraitFile(find('eval', 'eval-file')) : undefined,
  };
}

export function sampling(ctx: CliContext, isToy: boolean, chat: boolean): { preset: SamplerPreset; params: SamplingParams } {
  return samplingFor(ctx.flags, isToy, chat);
}

/**
 * Rows per GenerateRequest / durable append (--chunk-size) and the worker's batch (--batch-size). By the worker's
 * contract they should not change results, but at the bit level a row's sampled text can depend on its batch
 * neighbours, so keep them fixed when comparing runs (resumes keep the same chunks by construction).
 */
export function throughput(ctx: CliContext): { chunkSize: number; batchSize: number } {
  return { chunkSize: required<number>(ctx, 'chunk-size'), batchSize: required<number>(ctx, 'batch-size') };
}

export function judgeSpec(ctx: CliContext, isToy: boolean): JudgeSpec {
  const spec = judgeSpecFor(ctx.flags, isToy);
  if (!spec) throw new UsageError('an LLM judge needs --judge-base-url (e.g. https://api.openai.com/v1) and --judge-model; the rubric judge only knows the toy model');
  return spec;
}

/** Starts the worker with the model-load options (--threads; --provider and --weight-format go with each load). */
export function startWorker(ctx: CliContext): Promise<InferenceClient> {
  return InferenceClient.start({ threads: loadOptionsFor(ctx.flags).threads, log: (level, msg) => { if (level !== 'info' || flag(ctx, 'verbose')) ctx.stderr(`[worker] ${msg}`); } });
}

// ---------------------------------------------------------------- sessions
export interface Session {
  ws: Workspace;
  model: ModelHandle;
  judge: Judge;
  isToy: boolean;
  client: InferenceClient;
  dispose(): Promise<void>;
}

export async function openSession(ctx: CliContext, opts: { judge?: boolean } = {}): Promise<Session> {
  const ws = workspace(ctx);
  const mp = modelPath(ctx);
  if (!existsSync(mp.path)) throw new UsageError(`model folder ${mp.path} does not exist`);
  const id = identifyModel(mp.path, str(ctx, 'revision'), loadOptionsFor(ctx.flags).weightFormat);
  const spec = opts.judge === false ? null : judgeSpec(ctx, mp.isToy);
  preflight(ctx, ws, mp, id); // every named input checked before the worker starts (./preflight.ts)
  ctx.stderr(`loading ${id.name}@${id.revision} …`);
  const client = await startWorker(ctx);
  try {
    const info = await client.loadModel({ path: mp.path, ...loadOptionsFor(ctx.flags) });
    const judge = spec ? await createJudge(spec, ws, { onRetry: (i) => ctx.stderr(`judge: ${i.reason}, retry ${i.attempt} in ${i.delayMs} ms`) }) : (null as unknown as Judge);
    return {
      ws, isToy: mp.isToy, client, judge,
      model: { backend: client, info, name: id.name, revision: id.revision, commit: id.commit },
      dispose: () => client.dispose(),
    };
  } catch (e) {
    await client.dispose();
    throw e;
  }
}

/** A compact progress line per update on stderr (no carriage-return tricks: logs stay readable). */
export function progressPrinter(ctx: CliContext, label: string): (p: Progress) => void {
  let last = '';
  return (p) => {
    const line = `${label} ${p.stage} ${p.done}/${p.total}${p.note ? ` ${p.note}` : ''}`;
    if (line !== last) ctx.stderr(line);
    last = line;
  };
}

export function printJson(ctx: CliContext, value: unknown): void {
  ctx.stdout(JSON.stringify(value, null, 2));
}

export const fmt = (x: number | null | undefined, d = 1) => (x === null || x === undefined ? 'NA' : x.toFixed(d));
