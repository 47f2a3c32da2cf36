/**
 * Shared plumbing for the pipeline commands: typed flag parsing, defaults (the embedded toy model, its
 * trait files and rubric judge), starting the worker, building the judge, and progress on stderr.
 * Exit codes every command uses: 0 ok, 1 failure, 2 usage error, 3 not extractable.
 */
import { isToyModelPath } from '../core/toy/paths.js';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { InferenceClient } from '../engine/client.js';
import type { SamplingParams } from '../engine/protocol.js';
import type { ModelHandle, Progress } from '../core/backend.js';
import { createJudge, type JudgeSpec } from '../core/judge/factory.js';
import type { Judge } from '../core/judge/types.js';
import { identifyModel } from '../core/models.js';
import { SAMPLER_PRESETS, type SamplerPreset } from '../core/sampling.js';
import { Workspace } from '../core/storage/workspace.js';
import { loadTraitFile, type LoadedTrait } from '../core/traits/load.js';
import type { CliContext } from './command.js';
import { UsageError } from './command.js';

/** The exit-code table lives in ./exit-codes.ts (one place); re-exported for the commands. */
export { EXIT } from './exit-codes.js';

// ---------------------------------------------------------------- flags
export function str(ctx: CliContext, name: string): string | undefined;
export function str(ctx: CliContext, name: string, dflt: string): string;
export function str(ctx: CliContext, name: string, dflt?: string): string | undefined {
  const v = ctx.flags[name];
  if (v === undefined) return dflt;
  if (typeof v !== 'string') throw new UsageError(`--${name} needs a value`);
  return v;
}

export function required(ctx: CliContext, name: string): string {
  const v = str(ctx, name);
  if (v === undefined) throw new UsageError(`--${name} is required`);
  return v;
}

export function num(ctx: CliContext, name: string, dflt: number): number;
export function num(ctx: CliContext, name: string): number | undefined;
export function num(ctx: CliContext, name: string, dflt?: number): number | undefined {
  const v = str(ctx, name);
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new UsageError(`--${name} must be a number (got "${v}")`);
  return n;
}

export function int(ctx: CliContext, name: string, dflt: number): number {
  const n = num(ctx, name, dflt);
  if (!Number.isInteger(n)) throw new UsageError(`--${name} must be an integer (got ${n})`);
  return n;
}

/** "1,2,3" or a range "start:stop:step" (inclusive), or a mix "1,2:4:0.5". */
/** The steering point every single-point command needs: --layer ℓ and --coef c. */
export function steeringPoint(ctx: CliContext): { layer: number; coef: number } {
  const layer = num(ctx, 'layer'), coef = num(ctx, 'coef');
  if (layer === undefined || coef === undefined) throw new UsageError('--layer and --coef are required');
  return { layer, coef };
}

export function numList(ctx: CliContext, name: string, dflt: number[]): number[] {
  const v = str(ctx, name);
  if (v === undefined) return dflt;
  const out: number[] = [];
  for (const part of v.split(',').map((s) => s.trim()).filter(Boolean)) {
    const r = part.split(':').map(Number);
    if (r.some((x) => !Number.isFinite(x))) throw new UsageError(`--${name}: "${part}" is not a number or start:stop:step range`);
    if (r.length === 1) out.push(r[0]);
    else if (r.length === 3 && r[2] > 0) for (let x = r[0]; x <= r[1] + 1e-9; x += r[2]) out.push(Math.round(x * 1e6) / 1e6);
    else throw new UsageError(`--${name}: "${part}" must be a number or start:stop:step with step > 0`);
  }
  return out;
}

function jsonFlag(ctx: CliContext, name: string): Record<string, unknown> | undefined {
  const v = str(ctx, name);
  if (v === undefined) return undefined;
  try {
    const j = JSON.parse(v);
    if (j && typeof j === 'object' && !Array.isArray(j)) return j;
  } catch { /* reported below */ }
  throw new UsageError(`--${name} must be a JSON object, e.g. '{"thinking":{"type":"disabled"}}'`);
}

export function flag(ctx: CliContext, name: string): boolean {
  const v = ctx.flags[name];
  return v === true || v === 'true' || v === '1';
}

// ---------------------------------------------------------------- defaults
/** Repo root (for the embedded toy model): searched upward from this module and from cwd. */
export function findRepoRoot(): string | undefined {
  const here = typeof __filename === 'string' ? path.dirname(__filename) : path.dirname(fileURLToPath(import.meta.url));
  for (const start of [here, process.cwd()]) {
    let d = start;
    for (let i = 0; i < 6; i++) {
      if (existsSync(path.join(d, 'models', 'toy-persona'))) return d;
      d = path.dirname(d);
    }
  }
  return undefined;
}

export function toyModelDir(): string | undefined {
  const r = findRepoRoot();
  return r ? path.join(r, 'models', 'toy-persona') : undefined;
}

export const TOY_TRAITS = ['evil', 'sycophantic', 'impolite', 'humorous'] as const;

export function workspace(ctx: CliContext): Workspace {
  return new Workspace(path.resolve(str(ctx, 'workspace') ?? process.env.PERSONA_LAB_WORKSPACE ?? '.persona-lab'));
}

/** --model (checkpoint folder) or the toy model's main revision. */
export function modelPath(ctx: CliContext): { path: string; isToy: boolean } {
  const given = str(ctx, 'model');
  if (given) {
    const abs = path.resolve(given);
    return { path: abs, isToy: isToyModelPath(abs) };
  }
  const toy = toyModelDir();
  if (!toy) throw new UsageError('no --model given and the embedded toy model (models/toy-persona) was not found; pass --model <checkpoint folder>');
  const rev = str(ctx, 'revision', 'main');
  return { path: path.join(toy, 'revisions', rev), isToy: true };
}

/** Trait files: --trait-file/--eval-file, else <workspace>/traits/{extract,eval}/<trait>.json, else the toy's. */
export function traitFiles(ctx: CliContext, ws: Workspace, trait: string, needs: { extract?: boolean; eval?: boolean }): { extract?: LoadedTrait; eval?: LoadedTrait } {
  const pick = (set: 'extract' | 'eval', flagName: string): string => {
    const explicit = str(ctx, flagName);
    if (explicit) return path.resolve(explicit);
    const inWs = ws.traitPath(set, trait);
    if (existsSync(inWs)) return inWs;
    const dir = str(ctx, 'traits-dir');
    if (dir) return path.resolve(dir, set, `${trait}.json`);
    const toy = toyModelDir();
    const inToy = toy ? path.join(toy, 'traits', set, `${trait}.json`) : undefined;
    if (inToy && existsSync(inToy)) return inToy;
    throw new UsageError(`no ${set} trait file for "${trait}": pass --${flagName}, or put it at ${inWs}`);
  };
  return {
    extract: needs.extract ? loadTraitFile(pick('extract', 'trait-file'), { requireInstruction: true }) : undefined,
    eval: needs.eval ? loadTraitFile(pick('eval', 'eval-file')) : undefined,
  };
}

export function sampling(ctx: CliContext, isToy: boolean, chat: boolean): { preset: SamplerPreset; params: SamplingParams } {
  const preset = (str(ctx, 'sampler') ?? (isToy ? 'toy' : chat ? 'pv' : 'pp')) as SamplerPreset;
  if (!(preset in SAMPLER_PRESETS)) throw new UsageError(`--sampler must be one of ${Object.keys(SAMPLER_PRESETS).join(', ')}`);
  const p = SAMPLER_PRESETS[preset];
  return {
    preset,
    params: {
      temperature: num(ctx, 'temperature', p.temperature), topP: num(ctx, 'top-p', p.topP), topK: int(ctx, 'top-k', p.topK),
      maxNewTokens: int(ctx, 'max-new-tokens', p.maxNewTokens), minNewTokens: int(ctx, 'min-new-tokens', p.minNewTokens),
      repetitionPenalty: num(ctx, 'repetition-penalty', p.repetitionPenalty),
    },
  };
}

/**
 * Rows per GenerateRequest / durable append (--chunk-size) and the worker's batch (--batch-size). By the worker's
 * contract they should not change results, but at the bit level a row's sampled text can depend on its batch
 * neighbours, so keep them fixed when comparing runs (resumes keep the same chunks by construction).
 */
export function throughput(ctx: CliContext): { chunkSize: number; batchSize: number } {
  return { chunkSize: int(ctx, 'chunk-size', 128), batchSize: int(ctx, 'batch-size', 64) };
}

export function judgeSpec(ctx: CliContext, isToy: boolean): JudgeSpec {
  const kind = str(ctx, 'judge') ?? (str(ctx, 'judge-base-url') ? 'openai' : isToy ? 'rubric' : undefined);
  if (kind === 'rubric') return { kind: 'rubric' };
  if (kind === 'openai' || kind === undefined) {
    const baseURL = str(ctx, 'judge-base-url');
    if (!baseURL) throw new UsageError('an LLM judge needs --judge-base-url (e.g. https://api.openai.com/v1) and --judge-model; the rubric judge only knows the toy model');
    return {
      kind: 'openai', baseURL, model: str(ctx, 'judge-model', 'gpt-4.1-mini-2025-04-14'),
      apiKey: process.env[str(ctx, 'judge-api-key-env', 'OPENAI_API_KEY')],
      concurrency: int(ctx, 'judge-concurrency', 8), cache: !flag(ctx, 'no-judge-cache'),
      seed: flag(ctx, 'judge-no-seed') ? null : undefined, extraBody: jsonFlag(ctx, 'judge-extra-body'),
      pricing: num(ctx, 'judge-input-price') !== undefined ? { inputPerMTok: num(ctx, 'judge-input-price')!, outputPerMTok: num(ctx, 'judge-output-price', 0) } : undefined,
    };
  }
  throw new UsageError(`--judge must be rubric or openai (got ${kind})`);
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
  const id = identifyModel(mp.path, str(ctx, 'revision'));
  const spec = opts.judge === false ? null : judgeSpec(ctx, mp.isToy);
  const threads = num(ctx, 'threads');
  ctx.stderr(`loading ${id.name}@${id.revision} …`);
  const client = await InferenceClient.start({ threads, log: (level, msg) => { if (level !== 'info' || flag(ctx, 'verbose')) ctx.stderr(`[worker] ${msg}`); } });
  try {
    const info = await client.loadModel({ path: mp.path, threads });
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
