/**
 * The job table: every job's options, declared once. The CLI parses argv into these (src/cli/args.ts, `--help` is
 * generated from them); the extension fills the same option names from quick picks and settings and resolves
 * them with the same defaults (./defaults.ts). Neither restates a default.
 */
import { SAMPLER_PRESETS } from '../sampling.js';
import { TOY_PROTOCOL as P, TOY_TRAITS } from '../toy/protocol.js';
import { VECTOR_KINDS } from '../vectors/file.js';
import { durationProblem, sizeProblem } from '../../engine/model/cache-admin.js';
import type { OptionSpec } from './options.js';

const nonNegative = (v: unknown) => ((v as number) < 0 ? 'must be ≥ 0' : undefined);
const positive = (v: unknown) => ((v as number) <= 0 ? 'must be > 0' : undefined);

// ---------------------------------------------------------------- shared groups
export const MODEL_OPTIONS: OptionSpec[] = [
  { name: 'model', type: 'path', arg: '<checkpoint folder>', help: 'HF checkpoint folder, HF cache repo folder or revisions/ folder; default: the embedded toy model' },
  { name: 'revision', type: 'string', arg: '<name>', help: 'checkpoint revision (branch, tag, commit, or the toy\'s revisions/<name>); default main' },
  { name: 'provider', type: 'enum', values: ['auto', 'cpu', 'cuda', 'webgpu'], default: 'auto', help: 'execution provider (auto: CUDA when its libraries are installed, then WebGPU when the machine has a GPU device, then CPU)' },
  { name: 'weight-format', type: 'enum', values: ['f32', 'f16', 'bf16', 'int8', 'int4'], help: 'how weights live in memory (the worker\'s default: f32)' },
  { name: 'threads', type: 'int', arg: 'N', check: nonNegative, help: 'onnxruntime intra-op threads (default: onnxruntime decides)' },
];

export const JUDGE_OPTIONS: OptionSpec[] = [
  { name: 'judge', type: 'enum', values: ['rubric', 'openai'], help: 'rubric (the toy model\'s offline judge, its default) or an OpenAI-compatible LLM judge' },
  { name: 'judge-base-url', type: 'string', arg: 'URL', help: 'the LLM judge\'s endpoint, e.g. https://api.openai.com/v1 (implies --judge openai)' },
  { name: 'judge-model', type: 'string', arg: '<model>', default: 'gpt-4.1-mini-2025-04-14', help: 'the LLM judge\'s model' },
  { name: 'judge-api-key-env', type: 'string', arg: 'VAR', default: 'OPENAI_API_KEY', help: 'environment variable holding the judge\'s API key' },
  { name: 'judge-concurrency', type: 'int', arg: 'N', default: 8, check: positive, help: 'parallel judge requests' },
  { name: 'judge-rate-limit', type: 'number', arg: 'N/min', check: positive, help: 'at most N judge requests per minute from this process (each Slurm task has its own)' },
  { name: 'judge-retries', type: 'int', arg: 'N', default: 5, check: nonNegative, help: 'retries per judge request on 429, 5xx, timeouts, connection errors and malformed replies (exponential backoff with jitter, Retry-After honoured)' },
  { name: 'judge-timeout', type: 'number', arg: 'S', default: 60, check: positive, help: 'seconds per judge request attempt (a reply that stalls mid-body counts)' },
  { name: 'no-judge-cache', type: 'boolean', help: 'do not read or write the judge cache' },
  { name: 'judge-no-seed', type: 'boolean', help: 'send no seed to the judge' },
  { name: 'judge-extra-body', type: 'json', arg: 'JSON', help: 'extra request fields for the judge' },
  { name: 'judge-input-price', type: 'number', arg: 'USD/Mtok', help: 'judge input price, for the cost in the manifest' },
  { name: 'judge-output-price', type: 'number', arg: 'USD/Mtok', default: 0, help: 'judge output price' },
];

export const WORKSPACE_OPTION: OptionSpec = { name: 'workspace', type: 'path', arg: '<folder>', help: 'workspace folder (default: $PERSONA_LAB_WORKSPACE, else .persona-lab)' };
const RUN_ID: OptionSpec = { name: 'run-id', type: 'string', arg: 'ID', help: 'run folder name (default: kind-model-revision-trait-<config hash>)' };
const TRAIT_FILE: OptionSpec = { name: 'trait-file', type: 'path', arg: 'F', help: 'extraction trait file (default: <workspace>/traits/extract/<trait>.json, else the toy\'s)' };
const EVAL_FILE: OptionSpec = { name: 'eval-file', type: 'path', arg: 'F', help: 'evaluation trait file (default: <workspace>/traits/eval/<trait>.json, else the toy\'s)' };
const TRAITS_DIR: OptionSpec = { name: 'traits-dir', type: 'path', arg: 'D', help: 'a folder with extract/ and eval/ trait files' };
/** Input-length limit (src/core/validate/limits.ts): default derived from the model's context window and max-new-tokens. */
export const MAX_PROMPT_CHARS: OptionSpec = { name: 'max-prompt-chars', type: 'int', arg: 'N', check: positive, help: 'longest question / instruction / prompt / dataset text accepted (default: (context window − max-new-tokens) × 8)' };
export const FILE_OPTIONS: OptionSpec[] = [WORKSPACE_OPTION, TRAIT_FILE, EVAL_FILE, TRAITS_DIR, RUN_ID, MAX_PROMPT_CHARS];

export const SAMPLING_OPTIONS: OptionSpec[] = [
  { name: 'sampler', type: 'enum', values: Object.keys(SAMPLER_PRESETS), help: 'sampler preset (default: toy on the toy model, pv for chat models, pp for base models)' },
  { name: 'temperature', type: 'number', check: nonNegative, help: 'overrides the preset' },
  { name: 'top-p', type: 'number', check: positive, help: 'overrides the preset' },
  { name: 'top-k', type: 'int', check: nonNegative, help: 'overrides the preset (0 = off)' },
  { name: 'max-new-tokens', type: 'int', check: positive, help: 'overrides the preset' },
  { name: 'min-new-tokens', type: 'int', check: nonNegative, help: 'overrides the preset' },
  { name: 'repetition-penalty', type: 'number', check: positive, help: 'overrides the preset' },
];

export const OUTPUT_OPTIONS: OptionSpec[] = [
  { name: 'json', type: 'boolean', help: 'one JSON document on stdout; progress on stderr' },
  { name: 'verbose', type: 'boolean', help: 'also show the worker\'s info log' },
  { name: 'help', type: 'boolean', help: 'this help' },
];

export const THROUGHPUT_OPTIONS: OptionSpec[] = [
  { name: 'chunk-size', type: 'int', arg: 'N', default: 128, check: positive, help: 'rows per worker request and durable append' },
  { name: 'batch-size', type: 'int', arg: 'N', default: 64, check: positive, help: 'worker batch (the worker lowers it to fit memory)' },
];

const kindOption = (help = 'which of the vector file\'s vectors'): OptionSpec => ({ name: 'kind', type: 'enum', values: VECTOR_KINDS, default: 'response_avg', help });
/** A vector file from elsewhere whose tensor is not named `<kind>_diff`: read this tensor (as --kind). */
export const VECTOR_KEY: OptionSpec = { name: 'vector-key', type: 'string', arg: '<tensor>', help: 'read this tensor of the vector file instead of <kind>_diff (files from other projects)' };
/** The worker's steering scalings (SteerScaling): raw adds coef·v, unit coef·v/‖v‖, target-norm coef·norm·v/‖v‖. */
export const SCALING_OPTIONS: OptionSpec[] = [
  { name: 'scaling', type: 'enum', values: ['raw', 'unit', 'target-norm'], default: 'raw', help: 'raw: add coef·v; unit: coef·v/‖v‖; target-norm: coef·N·v/‖v‖ with N = --target-norm' },
  { name: 'target-norm', type: 'number', arg: 'N', check: positive, help: 'the norm N for --scaling target-norm' },
];
export const VECTOR_OPTIONS: OptionSpec[] = [
  { name: 'vector', type: 'path', arg: '<file>', help: 'vector file (.safetensors, or upstream\'s <trait>_<kind>_diff.pt); default <workspace>/vectors/<model>/<revision>/<trait>.safetensors' },
  kindOption(),
];

/**
 * Cluster runs (src/core/slurm): --slurm writes a job-array plan into a run folder instead of running here; every
 * slurm-capable job takes the same group, recorded in the plan's manifest.
 */
export const SLURM_OPTIONS: OptionSpec[] = [
  { name: 'slurm', type: 'boolean', help: 'write a Slurm job-array plan (one array task per unit, then the merge) instead of running here' },
  { name: 'submit', type: 'boolean', help: 'with --slurm: submit it with sbatch (otherwise the command is printed)' },
  { name: 'slurm-partition', type: 'string', arg: '<name>', help: 'sbatch --partition' },
  { name: 'slurm-account', type: 'string', arg: '<name>', help: 'sbatch --account' },
  { name: 'slurm-qos', type: 'string', arg: '<name>', help: 'sbatch --qos' },
  { name: 'slurm-gres', type: 'string', arg: 'gpu:1', help: 'sbatch --gres, e.g. gpu:1' },
  { name: 'slurm-time', type: 'string', arg: 'HH:MM:SS', help: 'sbatch --time per task' },
  { name: 'slurm-mem', type: 'string', arg: '32G', help: 'sbatch --mem per task' },
  { name: 'slurm-cpus-per-task', type: 'int', arg: 'N', check: positive, help: 'sbatch --cpus-per-task' },
  { name: 'slurm-throttle', type: 'int', arg: 'N', check: positive, help: 'at most N array tasks at once (--array=…%N)' },
  { name: 'slurm-sbatch', type: 'string', arg: '"--opt=v …"', help: 'extra sbatch options, one #SBATCH line each' },
  { name: 'slurm-setup', type: 'string', arg: '"line;;line"', help: 'shell lines run before the CLI in every job (module load …, source venv …); separated by ;; or newlines' },
];

const TRAIT: OptionSpec = { name: 'trait', type: 'string', arg: '<name>', required: true, help: 'the trait' };
const CACHE_DIR: OptionSpec = { name: 'cache-dir', type: 'path', arg: 'D', help: 'the compile cache (default $PERSONA_LAB_CACHE, else ~/.cache/persona-lab/graphs: where loads compile to)' };
const TRAITS: OptionSpec = { name: 'trait', type: 'list', arg: '<name>[,<name>…]', required: true, help: 'one trait or several' };
const MAX_QUESTIONS: OptionSpec = { name: 'max-questions', type: 'int', arg: 'N', check: positive, help: 'use only the first N questions' };
const LAYER: OptionSpec = { name: 'layer', type: 'number', arg: 'ℓ', help: 'row ℓ = hidden_states[ℓ] (steering adds to the output of block ℓ−1; row L after the final norm)' };
const COEF: OptionSpec = { name: 'coef', type: 'number', arg: 'c', help: 'steering coefficient' };
/** Seeds and sample counts every job shares (the toy protocol's values are the defaults on the toy model). */
const EXTRACT_SAMPLES: OptionSpec = { name: 'samples', type: 'int', arg: 'N', default: 10, toyDefault: P.extractSamples, check: positive, help: 'samples per (question, instruction pair)' };
const EXTRACT_SEED: OptionSpec = { name: 'seed', type: 'int', default: P.extractSeed, help: 'first sampling seed' };
const THRESHOLD: OptionSpec = { name: 'threshold', type: 'number', default: 50, help: 'pair filter: pos trait ≥ t, neg trait < 100 − t, both coherent ≥ 50' };
const evalSamples = (name: string): OptionSpec => ({ name, type: 'int', arg: 'N', default: 10, toyDefault: P.evalSamples, check: positive, help: 'samples per evaluation question' });
const evalSeed = (name: string): OptionSpec => ({ name, type: 'int', default: P.evalSeed, help: 'first evaluation seed' });

/** Model, judge, files, sampling, output and throughput: what every generate-and-judge job takes. */
export const COMMON_OPTIONS: OptionSpec[] = [...MODEL_OPTIONS, ...JUDGE_OPTIONS, ...FILE_OPTIONS, ...SAMPLING_OPTIONS, ...OUTPUT_OPTIONS, ...THROUGHPUT_OPTIONS];
const EVAL_JOB: OptionSpec[] = [...VECTOR_OPTIONS, VECTOR_KEY, ...SCALING_OPTIONS, evalSamples('samples'), evalSeed('seed'), MAX_QUESTIONS, ...COMMON_OPTIONS];

export type JobName = 'extract' | 'evaluate' | 'grid' | 'controls' | 'sweep' | 'transfer' | 'monitor' | 'screen' | 'shift' | 'norms' | 'geometry' | 'generate' | 'serve' | 'demo' | 'report' | 'vectors-export' | 'vectors-import' | 'discourse' | 'facets' | 'cache-list' | 'cache-prune' | 'traits-generate';

export const JOBS: Record<JobName, OptionSpec[]> = {
  extract: [TRAITS, EXTRACT_SAMPLES, EXTRACT_SEED, THRESHOLD, { name: 'min-pairs', type: 'int', default: 1, check: nonNegative, help: 'fewest kept pairs for a vector' }, MAX_QUESTIONS, ...COMMON_OPTIONS, ...SLURM_OPTIONS],
  evaluate: [TRAIT, { ...LAYER, required: true }, { ...COEF, required: true }, { name: 'prompt-baseline', type: 'boolean', help: 'also evaluate the prompting baseline (system prompt, no steering)' }, ...EVAL_JOB],
  grid: [TRAIT,
    { name: 'layers', type: 'numlist', arg: 'LIST', help: 'layers to steer at ("a,b,c" or start:stop:step); default all, 1..L' },
    { name: 'coefs', type: 'numlist', arg: 'LIST', default: [1, 2, 3, 4, 5], help: 'coefficients' },
    { name: 'refine', type: 'number', arg: 'STEP', check: positive, help: 'add coefficients at this step between each layer\'s last coherent and first incoherent one (the knee)' },
    { name: 'no-prompt-baseline', type: 'boolean', help: 'skip the prompting baseline' },
    { name: 'min-coherence', type: 'number', default: 50, help: 'the best point needs this mean coherence' }, ...EVAL_JOB, ...SLURM_OPTIONS],
  controls: [TRAIT, { ...LAYER, required: true }, { ...COEF, required: true },
    { name: 'seeds', type: 'numlist', arg: 'LIST', default: [...P.controlSeeds], help: 'control seeds ("0:9:1" for ten)' },
    { name: 'modes', type: 'list', values: ['random', 'shuffled'], default: ['random', 'shuffled'], help: 'random directions and/or the matched-pairs label shuffle' },
    { name: 'projection', type: 'enum', values: ['orthogonal', 'none'], default: 'orthogonal', help: 'make controls orthogonal to v[ℓ] before norm matching' }, ...EVAL_JOB, ...SLURM_OPTIONS],
  sweep: [TRAITS,
    { name: 'revisions', type: 'string', arg: 'all|a,b,c', default: 'all', help: 'revisions to sweep (the model manifest\'s order for all)' },
    LAYER, COEF, { name: 'steering', type: 'string', arg: 'trait=ℓ:c,…', help: 'per-trait steering points (default: the manifest\'s recommendedSteering)' },
    EXTRACT_SAMPLES, evalSamples('eval-samples'), EXTRACT_SEED, evalSeed('eval-seed'), THRESHOLD, MAX_QUESTIONS,
    { name: 'transfer-to', type: 'path', arg: '<checkpoint>', help: 'also evaluate every revision\'s vector on this model' },
    { name: 'transfer-scaling', type: 'enum', values: ['match-target', 'target-norm', 'raw'], default: 'match-target', help: 'how source vectors are scaled on the target' },
    ...SCALING_OPTIONS,
    { name: 'no-same-checkpoint', type: 'boolean', help: 'skip steering at each source checkpoint' },
    { name: 'unit', type: 'string', arg: '<revision>:<trait>', help: 'run only this cell and write its unit file (what a Slurm array task runs)' },
    { name: 'merge', type: 'boolean', help: 'only merge the completed cells into the tables and geometry (what the Slurm merge job runs)' },
    ...COMMON_OPTIONS, ...SLURM_OPTIONS],
  // Transfer runs inside a sweep (--transfer-to); it has no options of its own.
  transfer: [],
  monitor: [TRAIT, { ...LAYER, type: 'int', help: 'row ℓ = hidden_states[ℓ] (default L on the toy model, else round(0.7·L))' },
    { name: 'prompts', type: 'path', arg: '<file.json>', help: 'system prompts: a JSON array of {"system", "label"?, "expected"?}' },
    { name: 'samples', type: 'int', arg: 'N', default: 1, check: positive, help: 'samples per (system prompt, question)' },
    { name: 'seed', type: 'int', default: 2000, help: 'first seed' }, MAX_QUESTIONS, ...VECTOR_OPTIONS, VECTOR_KEY, ...COMMON_OPTIONS],
  screen: [TRAIT, { name: 'data', type: 'path', arg: '<file.jsonl|file.csv>', required: true, help: 'training samples' },
    { ...LAYER, type: 'int', help: 'row ℓ = hidden_states[ℓ] (default L on the toy model, else round(0.7·L))' },
    { name: 'top', type: 'int', default: 10, check: nonNegative, help: 'samples listed' }, { name: 'seed', type: 'int', default: 3000, help: 'seed of the model\'s own answers' },
    ...VECTOR_OPTIONS, VECTOR_KEY, ...COMMON_OPTIONS],
  // Finetuning shift (src/core/shift): --base and --finetuned name checkpoints the way --model does, or the toy's revisions/finetunes by name.
  shift: [{ name: 'base', type: 'string', arg: '<checkpoint|name>', help: 'the model before finetuning: a checkpoint folder, or on the toy a revision, "instruct" or a finetune name; default the toy\'s instruct model' },
    { name: 'finetuned', type: 'list', arg: '<checkpoint|name>[,…]', required: true, help: 'finetuned models (folders or toy finetune names, e.g. toy-persona-ft-evil); also positional' },
    { name: 'trait', type: 'list', arg: '<name>[,<name>…]', toyDefault: [...TOY_TRAITS], help: 'traits' },
    { ...LAYER, type: 'int', toyDefault: 1, help: 'row ℓ = hidden_states[ℓ] whose r, order and screening are reported (every layer\'s are computed and stored; default round(0.7·L); on the toy 1, where screening ranks samples best)' },
    { name: 'vector-dir', type: 'path', arg: '<dir>', help: 'the base model\'s vectors, <dir>/<trait>.safetensors (default <workspace>/vectors/<base>/<revision>)' }, kindOption(), VECTOR_KEY,
    evalSamples('samples'), evalSeed('seed'), MAX_QUESTIONS,
    { name: 'train-data', type: 'list', arg: '<file>[,…]', help: 'each finetuned model\'s training data, in --finetuned order, for screening (default: train.jsonl next to each checkpoint, when present)' },
    { name: 'screen-seed', type: 'int', default: 3000, help: 'first seed of the base model\'s own answers (as screen --seed)' },
    { name: 'no-screen', type: 'boolean', help: 'skip screening the training data' },
    ...MODEL_OPTIONS.slice(2), ...JUDGE_OPTIONS, WORKSPACE_OPTION, TRAITS_DIR, RUN_ID, MAX_PROMPT_CHARS, ...SAMPLING_OPTIONS, ...OUTPUT_OPTIONS, ...THROUGHPUT_OPTIONS],
  norms: [{ name: 'trait', type: 'string', default: 'evil', help: 'whose evaluation questions are the calibration prompts' },
    { name: 'max-questions', type: 'int', default: 20, check: positive, help: 'calibration prompts' },
    { name: 'out', type: 'path', arg: '<file.csv>', help: 'default <workspace>/norms/<model>/<revision>_shared_norms.csv' },
    ...MODEL_OPTIONS, WORKSPACE_OPTION, EVAL_FILE, TRAITS_DIR, ...OUTPUT_OPTIONS],
  geometry: [TRAIT, { ...LAYER, type: 'int', help: 'row ℓ = hidden_states[ℓ] (default L/2)' },
    { name: 'vectors', type: 'path', arg: '<root>', help: '<root>/<revision>/<trait>.safetensors or <trait>_<kind>_diff.pt; default <workspace>/vectors/<model>' },
    { name: 'norms', type: 'path', arg: '<dir>', help: 'upstream <revision>_{norms,shared_norms}.csv (default <workspace>/norms/<model> when present)' },
    { name: 'out', type: 'path', arg: '<dir>', help: 'default <workspace>/geometry/<model>' }, kindOption(),
    WORKSPACE_OPTION, ...MODEL_OPTIONS, ...OUTPUT_OPTIONS],
  generate: [{ name: 'prompt', type: 'string', arg: '<text>', required: true, help: 'the user prompt' },
    { name: 'system', type: 'string', arg: '<text>', help: 'system prompt' },
    { name: 'persona', type: 'string', arg: '<name>', help: 'system prompt "You are a/an <name> assistant. <instruction>"' },
    { name: 'instruction', type: 'string', arg: '<text>', default: '', help: 'with --persona' },
    { name: 'n', type: 'int', default: 1, check: positive, help: 'answers (seeds seed … seed+n−1)' }, { name: 'seed', type: 'int', default: 0, help: 'first seed' },
    { ...VECTOR_OPTIONS[0], help: 'steer with this vector file (or --trait: the workspace\'s vector)' }, { name: 'trait', type: 'string', arg: '<name>', help: 'steer with the workspace\'s vector for this trait' },
    LAYER, COEF, VECTOR_OPTIONS[1], VECTOR_KEY, ...SCALING_OPTIONS,
    { name: 'positions', type: 'enum', values: ['response', 'prompt', 'all'], default: 'response', help: 'where steering is added' },
    ...MODEL_OPTIONS, WORKSPACE_OPTION, MAX_PROMPT_CHARS, ...SAMPLING_OPTIONS, ...OUTPUT_OPTIONS],
  serve: [{ name: 'port', type: 'int', default: 8000, check: (v) => ((v as number) < 0 || (v as number) > 65535 ? 'must be in 0..65535 (0 = any free port)' : undefined), help: 'port (0 = any free port)' },
    { name: 'host', type: 'string', default: '127.0.0.1', help: 'interface to listen on; any address but loopback needs an API key (--api-key-env)' },
    { name: 'api-key-env', type: 'string', arg: 'VAR', default: 'PERSONA_LAB_API_KEY', help: 'environment variable holding the key clients must send as "Authorization: Bearer <key>" (required unless bound to loopback; keys never go on the command line)' },
    { name: 'allow-origin', type: 'list', arg: 'ORIGIN[,…]', help: 'browser origins allowed to call the server (requests with any other Origin header are refused)' },
    { name: 'vector-dir', type: 'list', arg: 'DIR[,…]', help: 'folders whose vector files a request may name by path (default: the workspace\'s vectors for this model)' },
    { name: 'served-name', type: 'string', arg: '<id>', help: 'model id clients send (default: the model\'s name)' },
    { name: 'vectors', type: 'string', arg: 'name=file,…', help: 'named vectors, besides every vector extracted for this model in the workspace' },
    ...MODEL_OPTIONS, WORKSPACE_OPTION, ...OUTPUT_OPTIONS],
  demo: [{ name: 'traits', type: 'list', default: [...TOY_TRAITS], help: 'traits' },
    { name: 'layers', type: 'numlist', default: [...P.layers], help: 'grid layers' }, { name: 'coefs', type: 'numlist', default: [...P.coefs], help: 'grid coefficients' },
    { name: 'refine', type: 'number', default: P.refineStep, check: positive, help: 'fine step at the knee' },
    { ...EXTRACT_SAMPLES, default: P.extractSamples, toyDefault: undefined }, { ...evalSamples('eval-samples'), default: P.evalSamples, toyDefault: undefined },
    { name: 'control-seeds', type: 'numlist', default: [...P.controlSeeds], help: 'control seeds' }, { name: 'no-controls', type: 'boolean', help: 'skip the controls' },
    { name: 'monitor-questions', type: 'int', default: 2, check: positive, help: 'evaluation questions per monitoring system prompt (the toy has 55 prompts per trait)' },
    { name: 'no-monitor', type: 'boolean', help: 'skip monitoring' },
    { name: 'sweep-traits', type: 'list', default: [...P.sweepTraits], help: 'traits of the short checkpoint sweep (emergence and transfer)' },
    { name: 'sweep-revisions', type: 'list', default: [...P.sweepRevisions], help: 'toy revisions the sweep visits, in training order' },
    { name: 'no-sweep', type: 'boolean', help: 'skip the checkpoint sweep' },
    { name: 'no-facets', type: 'boolean', help: 'skip the facet annotation of the sweep\'s answers' },
    { name: 'no-shift', type: 'boolean', help: 'skip the finetuning shift (needs the sweep: it measures along the instruct model\'s vectors the sweep\'s transfer extracts)' },
    { name: 'no-report', type: 'boolean', help: 'do not write the HTML report at the end' },
    MAX_QUESTIONS, EXTRACT_SEED, ...COMMON_OPTIONS],
  // A trait written by an OpenAI-compatible chat model (src/core/traits/generate.ts); the editor's Create Trait takes its defaults too.
  'traits-generate': [
    { name: 'name', type: 'string', arg: '<trait>', required: true, help: 'one word: the file name and the assistant name' },
    { name: 'description', type: 'string', arg: '<text>', required: true, help: 'what the trait is' },
    { name: 'base-url', type: 'string', arg: '<url>', required: true, help: 'OpenAI-compatible endpoint of the chat model' },
    { name: 'model', type: 'string', arg: '<model>', required: true, help: 'the chat model' },
    { name: 'question-guidance', type: 'string', arg: '<text>', help: 'what the questions should be about' },
    { name: 'api-key-env', type: 'string', arg: 'VAR', default: 'OPENAI_API_KEY', help: 'environment variable holding the API key' },
    { name: 'max-attempts', type: 'int', default: 3, check: positive, help: 'attempts until the files validate' },
    { name: 'temperature', type: 'number', default: 1, check: nonNegative, help: 'the chat model\'s temperature' },
    { name: 'out', type: 'path', arg: '<folder>', help: 'default <workspace>/traits; writes extract/<name>.json and eval/<name>.json' },
    { name: 'force', type: 'boolean', help: 'overwrite existing files' },
    WORKSPACE_OPTION, ...OUTPUT_OPTIONS],
  // Reads stored runs only (positional RUN ids, default the latest per kind and trait): no model, no judge.
  report: [{ name: 'out', type: 'path', arg: '<dir>', help: 'default <workspace>/report' }, WORKSPACE_OPTION, ...OUTPUT_OPTIONS],
  'vectors-export': [
    { name: 'kind', type: 'enum', values: [...VECTOR_KINDS, 'all'], default: 'response_avg', help: 'which vector (all: the three kinds)' },
    { name: 'format', type: 'enum', values: ['pt', 'gguf'], default: 'pt', help: 'pt: upstream\'s bare tensor; gguf: a llama.cpp / repeng control vector (rows 2..L−1 as direction.1..L−2)' },
    { name: 'layers', type: 'numlist', arg: 'LIST', help: 'with --format gguf: only these rows (default every row llama.cpp can take)' },
    { name: 'model-hint', type: 'string', arg: '<type>', help: 'with --format gguf: controlvector.model_hint, as given (default llama.cpp\'s architecture name for the vector\'s model, e.g. qwen2, olmo2, gemma3; "llama" when unknown)' },
    { name: 'out', type: 'path', arg: '<file|folder>', help: 'output file or folder (default: next to the input)' },
    ...OUTPUT_OPTIONS],
  'vectors-import': [
    { name: 'out', type: 'path', arg: '<file.safetensors>', required: true, help: 'the Persona Lab vector file to write (response_avg rows)' },
    { name: 'drop-last', type: 'boolean', help: 'leave out direction.(L−1) (llama.cpp adds it before the final norm, which no row of ours is)' },
    ...MODEL_OPTIONS.slice(0, 2), ...OUTPUT_OPTIONS],
  // Discourse-type ablation (src/core/discourse): a vector per discourse type (+ combined) on a base revision, each steered on every type's eval set.
  discourse: [TRAIT,
    { name: 'types', type: 'list', values: ['description', 'story', 'dialogue'], default: ['description', 'story', 'dialogue'], toyDefault: ['description', 'dialogue'], help: 'discourse types (the toy world has description and dialogue, no stories)' },
    { name: 'no-combined', type: 'boolean', help: 'skip the combined vector (all types\' kept pairs together)' },
    { ...LAYER, help: 'steering row ℓ for every vector (default: the model manifest\'s recommendedSteering for the trait)' }, COEF,
    EXTRACT_SAMPLES, evalSamples('eval-samples'), EXTRACT_SEED, evalSeed('eval-seed'), THRESHOLD, MAX_QUESTIONS,
    ...MODEL_OPTIONS, ...JUDGE_OPTIONS, WORKSPACE_OPTION, TRAITS_DIR, RUN_ID, MAX_PROMPT_CHARS, ...SAMPLING_OPTIONS, ...OUTPUT_OPTIONS, ...THROUGHPUT_OPTIONS],
  // Reads stored runs (positional RUN ids); the annotator is the toy's rubric or an OpenAI-compatible model (the judge's client, cache and retries).
  facets: [{ name: 'trait', type: 'string', arg: '<name>', help: 'the trait whose answers to annotate, when the runs hold several (a sweep)' },
    { name: 'annotator', type: 'enum', values: ['rubric', 'openai'], help: 'rubric (the toy world\'s phrase families; the default for toy runs) or an OpenAI-compatible model (the default with --judge-base-url)' },
    { name: 'annotator-model', type: 'string', arg: '<model>', default: 'gpt-4.1', help: 'the LLM annotator\'s model (upstream: gpt-4.1 for the roots of evil)' },
    { name: 'threshold', type: 'number', default: 50, help: 'annotate answers whose trait score is above this' },
    { name: 'max-answers', type: 'int', arg: 'N', default: 100, check: positive, help: 'at most N answers per run and condition (upstream: 100 per revision)' },
    ...JUDGE_OPTIONS.filter((o) => o.name !== 'judge' && o.name !== 'judge-model'), WORKSPACE_OPTION, RUN_ID, ...OUTPUT_OPTIONS],
  // The compile cache (src/engine/model/cache-admin.ts): no model, no workspace. The folder's default is the engine's (defaultCacheDir).
  'cache-list': [CACHE_DIR, ...OUTPUT_OPTIONS],
  'cache-prune': [CACHE_DIR,
    { name: 'stale', type: 'boolean', help: 'entries of an older compiler version or graph revision, of deleted or changed model files, damaged ones, saved sessions of another onnxruntime build (the default when no other criterion is given)' },
    { name: 'older-than', type: 'string', arg: '30d', check: (v) => durationProblem(v as string), help: 'also entries not used for this long (m, h, d, w)' },
    { name: 'max-size', type: 'string', arg: '50GB', check: (v) => sizeProblem(v as string), help: 'also the least recently used entries until the cache (without bytes shared with model folders) fits (KB/MB/GB/TB, KiB…TiB)' },
    { name: 'entry', type: 'list', arg: 'KEY[,…]', help: 'also these entries, by key as `cache list` shows it (or a longer prefix); the only way to remove a graph written beside a model\'s weights' },
    { name: 'yes', type: 'boolean', help: 'delete (without it: a dry run that lists what would be removed)' },
    ...OUTPUT_OPTIONS],
};
