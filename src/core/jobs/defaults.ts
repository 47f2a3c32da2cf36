/**
 * The policies a job's options resolve through, written once for the CLI and the extension: declared defaults
 * (./table.ts) filled in, the sampler preset for toy/chat/base models, the judge spec, the worker's model-load
 * options, the trait-file search and per-trait steering points.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { LoadModelParams, SamplingParams, SteerScaling } from '../../engine/protocol.js';
import type { WeightFormat } from '../../engine/model/types.js';
import type { JudgeSpec } from '../judge/factory.js';
import { SAMPLER_PRESETS, type SamplerPreset } from '../sampling.js';
import { modelFolderName, type Workspace } from '../storage/workspace.js';
import { optionDefault, OptionError, type OptionSpec, type OptionValue } from './options.js';
import { JOBS, JUDGE_OPTIONS, MODEL_OPTIONS, SAMPLING_OPTIONS, SCALING_OPTIONS } from './table.js';

/** Option values by option name (kebab-case); undefined = not given. */
export type OptionValues = Record<string, OptionValue | undefined>;

/** The given values over the declared defaults (the toy model's where it has its own). Unknown names are a bug. */
export function resolveOptions(specs: readonly OptionSpec[], given: OptionValues, toy = false): OptionValues {
  const known = new Set(specs.map((s) => s.name));
  for (const k of Object.keys(given)) if (!known.has(k)) throw new Error(`option "${k}" is not declared for this job`);
  return Object.fromEntries(specs.map((s) => [s.name, given[s.name] ?? optionDefault(s, toy)]));
}

/**
 * `traits generate`'s tuning as the job table declares it (--max-attempts, --temperature): the CLI parses them from argv,
 * the editor's Create Trait from Description takes them from here, so neither restates them.
 */
export function traitGenerationDefaults(given: OptionValues = {}): { maxAttempts: number; temperature: number } {
  const v = resolveOptions(JOBS['traits-generate'], given);
  return { maxAttempts: v['max-attempts'] as number, temperature: v.temperature as number };
}

/** The sampler rule: the toy preset on the toy model, upstream persona_vectors' for chat models, pretraining_persona's for base models. */
export function samplerPresetFor(toy: boolean, chat: boolean): SamplerPreset {
  return toy ? 'toy' : chat ? 'pv' : 'pp';
}

/** The preset (--sampler, else the rule above) with any per-parameter overrides (--temperature, --top-p, …). */
export function samplingFor(given: OptionValues, toy: boolean, chat: boolean): { preset: SamplerPreset; params: SamplingParams } {
  const v = resolveOptions(SAMPLING_OPTIONS, pick(given, SAMPLING_OPTIONS), toy);
  const preset = (v.sampler as SamplerPreset | undefined) ?? samplerPresetFor(toy, chat);
  const p = SAMPLER_PRESETS[preset];
  const n = (name: string, dflt: number) => (v[name] as number | undefined) ?? dflt;
  return {
    preset,
    params: {
      temperature: n('temperature', p.temperature), topP: n('top-p', p.topP), topK: n('top-k', p.topK), maxNewTokens: n('max-new-tokens', p.maxNewTokens),
      minNewTokens: n('min-new-tokens', p.minNewTokens), repetitionPenalty: n('repetition-penalty', p.repetitionPenalty),
    },
  };
}

/**
 * The judge: the offline rubric judge on the toy model unless an LLM judge is asked for (--judge openai or a base URL);
 * an LLM judge needs a base URL (undefined is returned without one, so the caller can say where to set it).
 */
export function judgeSpecFor(given: OptionValues, toy: boolean, env: NodeJS.ProcessEnv = process.env): JudgeSpec | undefined {
  const v = resolveOptions(JUDGE_OPTIONS, pick(given, JUDGE_OPTIONS), toy);
  const kind = v.judge ?? (v['judge-base-url'] ? 'openai' : toy ? 'rubric' : 'openai');
  if (kind === 'rubric') return { kind: 'rubric' };
  const baseURL = v['judge-base-url'] as string | undefined;
  if (!baseURL) return undefined;
  const inputPrice = v['judge-input-price'] as number | undefined;
  return {
    kind: 'openai', baseURL, model: v['judge-model'] as string, apiKey: env[v['judge-api-key-env'] as string],
    concurrency: v['judge-concurrency'] as number, ...(v['judge-rate-limit'] !== undefined ? { requestsPerMinute: v['judge-rate-limit'] as number } : {}), maxRetries: v['judge-retries'] as number, timeoutMs: (v['judge-timeout'] as number) * 1000,
    cache: !v['no-judge-cache'], seed: v['judge-no-seed'] ? null : undefined,
    extraBody: v['judge-extra-body'] as Record<string, unknown> | undefined,
    pricing: inputPrice !== undefined ? { inputPerMTok: inputPrice, outputPerMTok: v['judge-output-price'] as number } : undefined,
  };
}

/** What every model load passes to the worker: threads (0 = onnxruntime decides), execution provider, weight format. */
export function loadOptionsFor(given: OptionValues): Pick<LoadModelParams, 'threads' | 'executionProvider' | 'weightFormat'> {
  const v = resolveOptions(MODEL_OPTIONS, pick(given, MODEL_OPTIONS));
  return { threads: (v.threads as number | undefined) || undefined, executionProvider: v.provider as LoadModelParams['executionProvider'],
    weightFormat: v['weight-format'] as WeightFormat | undefined };
}

/**
 * The worker's steering scaling from --scaling and --target-norm (default raw): target-norm needs its N and N needs
 * target-norm, refused as usage before any work.
 */
export function steerScalingFor(given: OptionValues): SteerScaling {
  const v = resolveOptions(SCALING_OPTIONS, pick(given, SCALING_OPTIONS));
  const mode = v.scaling as SteerScaling['mode'], n = v['target-norm'] as number | undefined;
  if ((mode === 'target-norm') !== (n !== undefined)) throw new OptionError('--scaling target-norm and --target-norm N go together');
  return mode === 'target-norm' ? { mode, norm: n! } : { mode };
}

/**
 * The layer monitor and screen project at when none is given: L (after the final norm) on the toy model, whose
 * personas are read out there, else round(0.7·L) (upstream's monitoring layers sit about 70 % of the way up).
 */
export function projectionLayerDefault(numLayers: number, toy: boolean): number {
  return toy ? numLayers : Math.round(numLayers * 0.7);
}

/** L (decoder blocks) from a checkpoint folder's config.json before any load (text_config for multimodal; GPT-2's n_layer); undefined when it does not say. */
export function checkpointLayerCount(dir: string): number | undefined {
  let c: Record<string, unknown>;
  try { c = JSON.parse(readFileSync(path.join(dir, 'config.json'), 'utf8')) as Record<string, unknown>; } catch { return undefined; }
  const t = (c.text_config ?? c) as Record<string, unknown>;
  const L = t.num_hidden_layers ?? t.n_layer;
  return typeof L === 'number' && Number.isInteger(L) && L > 0 ? L : undefined;
}

/** The layer geometry reads when none is given (`persona-lab geometry`, Show Vector Geometry): L/2 of a vector with L+1 rows (16 for OLMo-3-7B's 33). */
export const defaultGeometryLayer = (rows: number): number => Math.floor((rows - 1) / 2);

/**
 * Activation norms for a folder of vectors `<root>/<revision>/…` (geometry divides norms by them), first found of:
 * the workspace's norms/<model> for the model named (`model`: --model, whose vectors root is the default), the norms of
 * the workspace the root lies in (<ws>/vectors/<model> → <ws>/norms/<model>; what sweep and norms write), the given
 * workspace's norms/<folder name>, and upstream's results/<model>/activation_norms next to data/persona_vectors/<model>.
 */
export function normsDirFor(root: string, o: { ws?: Workspace; model?: string } = {}): string | undefined {
  const name = path.basename(root);
  const candidates = [
    o.ws && o.model ? path.join(o.ws.root, 'norms', modelFolderName(o.model)) : undefined,
    path.basename(path.dirname(root)) === 'vectors' ? path.join(path.dirname(path.dirname(root)), 'norms', name) : undefined,
    o.ws ? path.join(o.ws.root, 'norms', name) : undefined,
    path.join(path.dirname(path.dirname(path.dirname(root))), 'results', name, 'activation_norms'),
  ];
  return candidates.find((d): d is string => d !== undefined && existsSync(d));
}

const pick = (given: OptionValues, specs: readonly OptionSpec[]): OptionValues =>
  Object.fromEntries(specs.filter((s) => given[s.name] !== undefined).map((s) => [s.name, given[s.name]]));

/**
 * Where a trait file is found: an explicit file, else <workspace>/traits/<set>/<trait>.json, else <traitsDir>/<set>/,
 * else the model's own trait folder (the toy model's traits/). `hint` says how to name a file explicitly.
 */
export function findTraitFile(set: 'extract' | 'eval', trait: string, o: { ws: Workspace; explicit?: string; traitsDir?: string; modelTraitsDir?: string; hint?: string }): string {
  if (o.explicit) return path.resolve(o.explicit);
  const inWs = o.ws.traitPath(set, trait);
  if (existsSync(inWs)) return inWs;
  if (o.traitsDir) return path.resolve(o.traitsDir, set, `${trait}.json`);
  const inModel = o.modelTraitsDir ? path.join(o.modelTraitsDir, set, `${trait}.json`) : undefined;
  if (inModel && existsSync(inModel)) return inModel;
  throw new OptionError(`no ${set} trait file for "${trait}": ${o.hint ? `${o.hint}, or ` : ''}put it at ${inWs}`);
}

export interface SteeringPoint { layer: number; coef: number }

/** "evil=4:6,impolite=4:4" → per-trait points. */
export function parseSteering(spec: string | undefined): Record<string, SteeringPoint> {
  const out: Record<string, SteeringPoint> = {};
  for (const part of (spec ?? '').split(',').filter(Boolean)) {
    const m = /^([^=]+)=(\d+):(-?[\d.]+)$/.exec(part.trim());
    if (!m) throw new OptionError(`--steering: "${part}" must be trait=layer:coef`);
    out[m[1]] = { layer: Number(m[2]), coef: Number(m[3]) };
  }
  return out;
}

/** A model folder's manifest.json recommendedSteering (the toy model has one), without its "note". */
export function recommendedSteering(modelDir: string): Record<string, SteeringPoint> {
  const f = path.join(modelDir, 'manifest.json');
  const m = existsSync(f) ? JSON.parse(readFileSync(f, 'utf8')) as { recommendedSteering?: Record<string, unknown> } : {};
  return Object.fromEntries(Object.entries(m.recommendedSteering ?? {}).filter(([k, p]) => k !== 'note' && typeof (p as SteeringPoint)?.layer === 'number' && typeof (p as SteeringPoint)?.coef === 'number')) as Record<string, SteeringPoint>;
}

/** Each trait's steering point: explicit per trait, else one --layer/--coef for all, else the recommended one. */
export function steeringPoints(traits: readonly string[], o: { explicit?: Record<string, SteeringPoint>; layer?: number; coef?: number; recommended?: Record<string, SteeringPoint> }): Record<string, SteeringPoint> {
  const out: Record<string, SteeringPoint> = {};
  for (const t of traits) {
    const p = o.explicit?.[t] ?? (o.layer !== undefined && o.coef !== undefined ? { layer: o.layer, coef: o.coef } : o.recommended?.[t]);
    if (!p) throw new OptionError(`no steering point for ${t}: the model manifest has no recommendedSteering.${t}; pass --layer and --coef, or --steering ${t}=<layer>:<coef>`);
    out[t] = p;
  }
  return out;
}
