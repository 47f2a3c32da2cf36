/**
 * OpenAI wire format → engine requests, for the steering server (./server.ts). Validates every field it
 * reads and fails with an OpenAI-style 400 that names the field (`param`), so a client sees what to fix.
 *
 * Steering rides in one extra body field (OpenAI clients pass it through: Python `extra_body`, Node a plain
 * extra property), in the engine's own vocabulary:
 *   "steering": [{ "vector": "<name registered with --vectors> | <vector file inside a served folder> | [H floats]",
 *                  "layer": ℓ, "coef": c, "positions": "response" | "prompt" | "all", "kind": "response_avg" }]
 * Layer convention: ℓ indexes HF hidden_states — the residual stream after ℓ decoder blocks (row ℓ of a
 * vector file of L+1 rows); row L is added after the final norm, where it was measured.
 */
import { realpathSync, statSync } from 'node:fs';
import path from 'node:path';
import { ReasonError } from '../engine/errors.js';
import type { ChatMessage, GenerateRow, PromptInput, SamplingParams, SteerPositions, SteerSpec } from '../engine/protocol.js';

/** The HTTP status as a reason: what kind of failure the client sees. */
export type HttpErrorReason = 'bad-request' | 'unauthorized' | 'forbidden' | 'not-found' | 'too-large' | 'cancelled' | 'unavailable' | 'server-error';

const HTTP_REASONS: Record<number, HttpErrorReason> = { 400: 'bad-request', 401: 'unauthorized', 403: 'forbidden', 404: 'not-found', 413: 'too-large', 499: 'cancelled', 503: 'unavailable' };

export class HttpError extends ReasonError<HttpErrorReason> {
  override readonly name = 'HttpError';
  constructor(readonly status: number, message: string, readonly type = 'invalid_request_error', readonly param: string | null = null,
    readonly code: string | null = null) { super(HTTP_REASONS[status] ?? 'server-error', message); }
}

const bad = (param: string, message: string) => new HttpError(400, message, 'invalid_request_error', param);

/** What one HTTP request asks the engine for; `rows` are the n choices. */
export interface EngineRequest {
  endpoint: 'chat' | 'completions';
  model: string;
  rows: GenerateRow[];
  sampling: SamplingParams;
  /** Top alternatives per token when logprobs were asked for (0 = chosen token only), else undefined. */
  logprobs?: number;
  stream: boolean;
  /** completions: prepend the prompt to the returned text. */
  echo: boolean;
}

export interface SteeringContext {
  /** Names registered at server start (`--vectors evil=path`, the workspace's vectors). */
  vectors: ReadonlyMap<string, string>;
  /**
   * The folders whose vector files a request may name by path (`--vector-dir`). A relative path resolves
   * against each in turn; any path (after resolving `..` and symlinks) must lie inside one of them. Empty: only
   * registered names and inline values.
   */
  vectorDirs: readonly string[];
  /** Bounds on what one request may ask for (the server's options). */
  limits: RequestLimits;
}

export interface RequestLimits {
  /** Choices per request (`n`). */
  maxN: number;
  /** `max_tokens` / `max_completion_tokens`. */
  maxTokens: number;
}

/** The real path of `p` when it lies inside `dir` (both resolved through symlinks), else undefined. */
function inside(dir: string, p: string): string | undefined {
  let real: string, root: string;
  try { real = realpathSync(p); root = realpathSync(dir); } catch { return undefined; }
  const rel = path.relative(root, real);
  return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? real : undefined;
}

/** A request's vector path → a file inside a served folder, or a 400 that says which folders are served. */
function servedVectorFile(name: string, ctx: SteeringContext, p: string): string {
  const registered = [...ctx.vectors.keys()].join(', ') || 'none registered';
  const dirs = ctx.vectorDirs;
  if (!name.endsWith('.safetensors') && !name.endsWith('.pt')) {
    throw bad(p, `${p} ${JSON.stringify(name)} is not a registered vector (${registered}); a path must name a .safetensors or .pt vector file`);
  }
  const candidates = path.isAbsolute(name) ? [name] : dirs.map((d) => path.resolve(d, name));
  for (const c of candidates) {
    for (const d of dirs) {
      const real = inside(d, c);
      if (real && statSync(real).isFile()) return real;
    }
  }
  throw bad(p, `${p} ${JSON.stringify(name)} is neither a registered vector (${registered}) nor a vector file inside a folder this server serves (${dirs.join(', ') || 'none: start the server with --vector-dir <folder> to allow paths'})`);
}

const isObj = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);

function optNum(body: Record<string, unknown>, key: string, rule: (x: number) => boolean, ruleText: string): number | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v) || !rule(v)) throw bad(key, `${key} must be ${ruleText} (got ${JSON.stringify(v)})`);
  return v;
}

function stopList(v: unknown): string[] | undefined {
  if (v === undefined || v === null) return undefined;
  const list = typeof v === 'string' ? [v] : v;
  if (!Array.isArray(list) || list.some((s) => typeof s !== 'string') || list.length > 4) throw bad('stop', 'stop must be a string or an array of at most 4 strings');
  return list as string[];
}

function messageText(content: unknown, i: number): string {
  if (typeof content === 'string') return content;
  // Content parts: text only (this server has no images or audio).
  if (Array.isArray(content)) {
    return content.map((p, j) => {
      if (isObj(p) && p.type === 'text' && typeof p.text === 'string') return p.text;
      throw bad(`messages[${i}].content[${j}]`, 'only text content parts are supported');
    }).join('');
  }
  throw bad(`messages[${i}].content`, 'message content must be a string or an array of text parts');
}

function messages(v: unknown): ChatMessage[] {
  if (!Array.isArray(v) || v.length === 0) throw bad('messages', 'messages must be a non-empty array');
  return v.map((m, i) => {
    if (!isObj(m)) throw bad(`messages[${i}]`, 'each message must be an object with role and content');
    const role = m.role === 'developer' ? 'system' : m.role;
    if (role !== 'system' && role !== 'user' && role !== 'assistant') throw bad(`messages[${i}].role`, `unsupported role ${JSON.stringify(m.role)}: use system, user or assistant`);
    return { role, content: messageText(m.content, i) };
  });
}

function steering(v: unknown, ctx: SteeringContext): SteerSpec[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v)) throw bad('steering', 'steering must be an array of {vector, layer, coef}');
  if (v.length > 16) throw bad('steering', `steering takes at most 16 specs (got ${v.length})`);
  return v.map((s, i): SteerSpec => {
    const p = `steering[${i}]`;
    if (!isObj(s)) throw bad(p, `${p} must be an object {vector, layer, coef, positions?, kind?}`);
    const layer = s.layer, coef = s.coef;
    if (typeof layer !== 'number' || !Number.isInteger(layer) || layer < 0) throw bad(`${p}.layer`, `${p}.layer must be an integer ≥ 0 (hidden_states index: the residual stream after that many blocks)`);
    if (typeof coef !== 'number' || !Number.isFinite(coef)) throw bad(`${p}.coef`, `${p}.coef must be a number`);
    const positions = (s.positions ?? 'response') as SteerPositions;
    if (!['response', 'prompt', 'all'].includes(positions)) throw bad(`${p}.positions`, `${p}.positions must be response, prompt or all`);
    const kind = s.kind ?? 'response_avg';
    if (typeof kind !== 'string' || !/^[a-z_]+$/.test(kind)) throw bad(`${p}.kind`, `${p}.kind must be a vector kind such as response_avg`);
    let vector: SteerSpec['vector'];
    if (Array.isArray(s.vector)) {
      if (s.vector.some((x) => typeof x !== 'number' || !Number.isFinite(x))) throw bad(`${p}.vector`, `${p}.vector must hold finite numbers`);
      vector = { values: s.vector as number[] };
    } else if (typeof s.vector === 'string' && s.vector.length > 0) {
      const file = ctx.vectors.get(s.vector) ?? servedVectorFile(s.vector, ctx, `${p}.vector`);
      vector = { file, tensor: kind.endsWith('_diff') ? kind : `${kind}_diff` };
    } else {
      throw bad(`${p}.vector`, `${p}.vector must be a registered name (${[...ctx.vectors.keys()].join(', ') || 'none registered'}), a vector file inside a served folder or an array of H numbers`);
    }
    return { vector, layer, coef, positions, scaling: { mode: 'raw' } };
  });
}

/**
 * Parses /v1/chat/completions or /v1/completions. Defaults follow OpenAI (temperature 1, top_p 1, n 1,
 * max tokens: the engine's 64 unless given); `seed` makes a request reproducible bit for bit, and choice i
 * uses seed + i. Without a seed, choices use a fresh random seed per request, like the API.
 */
export function parseRequest(endpoint: 'chat' | 'completions', body: unknown, ctx: SteeringContext): EngineRequest {
  if (!isObj(body)) throw bad('body', 'the request body must be a JSON object');
  if (typeof body.model !== 'string' || !body.model) throw bad('model', 'model is required');
  let prompt: PromptInput;
  if (endpoint === 'chat') prompt = { messages: messages(body.messages) };
  else {
    const p = body.prompt;
    if (typeof p === 'string') prompt = { text: p };
    else if (Array.isArray(p) && p.length > 0 && p.every((x) => Number.isInteger(x))) prompt = { ids: p as number[] };
    else if (Array.isArray(p) && p.length === 1 && typeof p[0] === 'string') prompt = { text: p[0] };
    else throw bad('prompt', 'prompt must be a string (or one string, or token ids); send several prompts as several requests');
  }
  const { maxN, maxTokens: tokenCap } = ctx.limits;
  const n = optNum(body, 'n', (x) => Number.isInteger(x) && x >= 1 && x <= maxN, `an integer in 1..${maxN}`) ?? 1;
  const tokensRule = (x: number) => Number.isInteger(x) && x >= 1 && x <= tokenCap;
  const maxTokens = optNum(body, 'max_completion_tokens', tokensRule, `an integer in 1..${tokenCap} (this server's limit)`)
    ?? optNum(body, 'max_tokens', tokensRule, `an integer in 1..${tokenCap} (this server's limit)`);
  const seed = optNum(body, 'seed', (x) => Number.isInteger(x), 'an integer') ?? Math.floor(Math.random() * 2 ** 31);
  const sampling: SamplingParams = {
    temperature: optNum(body, 'temperature', (x) => x >= 0 && x <= 2, 'in [0, 2]') ?? 1,
    topP: optNum(body, 'top_p', (x) => x > 0 && x <= 1, 'in (0, 1]') ?? 1,
    topK: optNum(body, 'top_k', (x) => Number.isInteger(x) && x >= -1, 'an integer (−1 or 0 = off)'),
    repetitionPenalty: optNum(body, 'repetition_penalty', (x) => x > 0, 'a positive number'),
    minNewTokens: optNum(body, 'min_tokens', (x) => Number.isInteger(x) && x >= 0, 'an integer ≥ 0'),
    maxNewTokens: maxTokens,
    stop: stopList(body.stop),
    seed,
  };
  if (sampling.topK === -1) sampling.topK = 0;
  for (const k of ['presence_penalty', 'frequency_penalty'] as const) {
    if (body[k] !== undefined && body[k] !== null && body[k] !== 0) throw bad(k, `${k} is not supported; use repetition_penalty (HF semantics)`);
  }
  let logprobs: number | undefined;
  if (endpoint === 'chat') {
    if (body.logprobs === true) logprobs = optNum(body, 'top_logprobs', (x) => Number.isInteger(x) && x >= 0 && x <= 20, 'an integer in 0..20') ?? 0;
    else if (body.top_logprobs !== undefined && body.top_logprobs !== null) throw bad('top_logprobs', 'top_logprobs needs logprobs: true');
  } else {
    logprobs = optNum(body, 'logprobs', (x) => Number.isInteger(x) && x >= 0 && x <= 20, 'an integer in 0..20');
  }
  if (body.stream !== undefined && typeof body.stream !== 'boolean') throw bad('stream', 'stream must be a boolean');
  const steer = steering(body.steering, ctx);
  const rows: GenerateRow[] = Array.from({ length: n }, (_, i) => ({ prompt, steer, seed: seed + i }));
  return { endpoint, model: body.model, rows, sampling, logprobs, stream: body.stream === true, echo: endpoint === 'completions' && body.echo === true };
}
