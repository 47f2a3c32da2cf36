/**
 * The LLM judge: any OpenAI-compatible chat endpoint (OpenAI, DeepSeek, vLLM, Ollama, the project's own
 * steering server), scored exactly as upstream (digest §3.1–3.2):
 *
 *   one user message = the rendered template; max_tokens 1, temperature 0, logprobs, top_logprobs 20
 *   score = Σ p·n / Σ p over first-token candidates that parse as integers 0..100 (like Python int(),
 *           so surrounding whitespace and leading zeros are accepted), or null when Σ p < 0.25.
 *
 * Trait prompts come from the trait file's eval_prompt; coherence prompts are the published ones
 * (./prompts.ts). The judge sees only the raw question and the answer, never the system prompt.
 * Known limitation kept from upstream (§12.7): the judge must tokenize 0..100 as single tokens,
 * otherwise "85" → "8" silently; we cannot detect that from one token.
 *
 * Beyond upstream: bounded concurrency, retries with exponential backoff (honouring Retry-After) on
 * 429 / 5xx / timeouts / connection errors, a persistent cache, and token + cost accounting.
 *
 * Retry policy (hand-written around the `openai` client, which runs with maxRetries 0): the client's own retry loop
 * would do the backoff, but it reports nothing per retry, cannot be told that a 200 with a malformed body or a
 * first reply without logprobs in the middle of a run is worth another try, and its waits ignore our AbortSignal
 * until the next attempt. We keep the client's timeout machinery (it covers a body that stalls mid-stream:
 * APIConnectionTimeoutError). Each retry waits backoffMs·2^attempt (±25 % jitter, capped at maxBackoffMs), or what
 * Retry-After / retry-after-ms says (seconds or an HTTP date, capped at maxRetryAfterMs); every retry is counted by
 * reason in usage().faults, which withRun records in the run manifest. A request is counted in usage().requests
 * per attempt; a score is delivered (and cached) once per prompt, only from a reply that parsed.
 */
import OpenAI from 'openai';
import { PipelineError, type PipelineErrorReason } from '../errors.js';
import { renderEvalPrompt } from '../traits/schema.js';
import { JudgeCache } from './cache.js';
import { coherencePrompt } from './prompts.js';
import type { Judge, JudgeDetail, JudgeRequest, JudgeUsage } from './types.js';
import { CancelledError } from '../../engine/errors.js';

export interface LlmJudgeOptions {
  baseURL: string;
  model: string;
  apiKey?: string;
  /** Parallel requests (upstream default 100; PP sweeps use 8). */
  concurrency?: number;
  /** At most this many requests (retries included) per minute from this judge, evenly spaced; per process, so per Slurm task. */
  requestsPerMinute?: number;
  /** Retries after the first attempt for retryable failures. */
  maxRetries?: number;
  timeoutMs?: number;
  /** First backoff delay; doubles each retry (with ±25% jitter), capped at maxBackoffMs. */
  backoffMs?: number;
  maxBackoffMs?: number;
  /** Longest Retry-After the judge honours as given (longer ones are cut to this); default 60 s. */
  maxRetryAfterMs?: number;
  /** Upstream passes seed=0 (best effort); DeepSeek rejects it → null. */
  seed?: number | null;
  /** Provider-specific body fields, e.g. DeepSeek {thinking: {type: "disabled"}}. */
  extraBody?: Record<string, unknown>;
  /** DeepSeek variant (§3.2): strip tokens and sum probabilities of identical stripped tokens. */
  mergeStrippedTokens?: boolean;
  /** USD per million tokens, for the cost figure in usage(). */
  pricing?: { inputPerMTok: number; outputPerMTok: number };
  /** Folder for the persistent cache (<workspace>/cache/judge); omit to disable caching. */
  cacheDir?: string;
  /** Called before each retry wait (progress/logging). */
  onRetry?: (info: { attempt: number; reason: PipelineErrorReason; delayMs: number }) => void;
}

/** Published prices (USD / M tokens) for judges the papers used; others default to 0 unless given. */
const KNOWN_PRICING: Record<string, { inputPerMTok: number; outputPerMTok: number }> = {
  'gpt-4.1-mini-2025-04-14': { inputPerMTok: 0.4, outputPerMTok: 1.6 },
  'gpt-4.1-mini': { inputPerMTok: 0.4, outputPerMTok: 1.6 },
};

/** Python int() on a token: optional surrounding whitespace, optional sign, ASCII digits (underscores between digits). */
export function parsePythonInt(token: string): number | null {
  const t = token.trim();
  if (!/^[+-]?\d+(_\d+)*$/.test(t)) return null;
  return Number(t.replace(/_/g, ''));
}

/** Upstream `_aggregate_0_100_score`: probability-weighted mean over integer tokens 0..100, null below 0.25 mass. */
export function aggregate0to100(probs: Record<string, number>): number | null {
  let total = 0, sum = 0;
  for (const [token, p] of Object.entries(probs)) {
    const n = parsePythonInt(token);
    if (n === null || n < 0 || n > 100) continue;
    sum += n * p; total += p;
  }
  return total < 0.25 ? null : sum / total;
}

/** The rendered prompt for one request (what is sent, and what the cache key covers). */
export function judgePrompt(r: JudgeRequest): string {
  if (r.metric === 'trait') {
    if (!r.evalPrompt) throw new PipelineError('trait-invalid', `judge request for trait "${r.trait}" has no eval_prompt; the LLM judge needs the trait file's eval_prompt`);
    return renderEvalPrompt(r.evalPrompt, r.question, r.answer);
  }
  return renderEvalPrompt(coherencePrompt(r.modelKind), r.question, r.answer);
}

class Semaphore {
  private waiting: (() => void)[] = [];
  constructor(private free: number) {}
  async run<T>(f: () => Promise<T>): Promise<T> {
    if (this.free > 0) this.free--; else await new Promise<void>((r) => this.waiting.push(r));
    try { return await f(); } finally {
      const next = this.waiting.shift();
      if (next) next(); else this.free++;
    }
  }
}

/** Retry-After as milliseconds: `retry-after-ms`, or `retry-after` in seconds or as an HTTP date; undefined when absent or unreadable. */
export function retryAfterMs(headers: Headers | undefined, now = Date.now()): number | undefined {
  const ms = headers?.get?.('retry-after-ms');
  if (ms && Number.isFinite(Number(ms)) && Number(ms) >= 0) return Number(ms);
  const ra = headers?.get?.('retry-after')?.trim();
  if (!ra) return undefined;
  if (/^\d+(\.\d+)?$/.test(ra)) return Number(ra) * 1000;
  const at = Date.parse(ra);
  return Number.isFinite(at) ? Math.max(0, at - now) : undefined;
}

/** A reply that came back but cannot be scored, and may well be fine on the next try. */
class TransientReply extends Error {
  constructor(readonly reason: PipelineErrorReason, message: string) { super(message); }
}

/** The key replaced by a placeholder wherever it appears in a text. */
function redactKey(text: string, key: string | undefined): string {
  return key && key.length >= 4 ? text.split(key).join('<redacted API key>') : text;
}

function classify(e: unknown): { reason: PipelineErrorReason; retryable: boolean; retryAfterMs?: number } {
  if (e instanceof TransientReply) return { reason: e.reason, retryable: true };
  if (e instanceof OpenAI.APIConnectionTimeoutError) return { reason: 'judge-timeout', retryable: true };
  if (e instanceof OpenAI.APIUserAbortError) throw e;
  if (e instanceof OpenAI.APIConnectionError) return { reason: 'judge-connection', retryable: true };
  // A 200 whose JSON body does not parse (a proxy cut it, a server bug): the client throws the SyntaxError.
  if (e instanceof SyntaxError) return { reason: 'judge-malformed-response', retryable: true };
  if (e instanceof OpenAI.APIError) {
    const retryAfter = retryAfterMs(e.headers as Headers | undefined);
    if (e.status === 429) return { reason: 'judge-rate-limited', retryable: true, retryAfterMs: retryAfter };
    if (e.status === 408) return { reason: 'judge-timeout', retryable: true };
    if (e.status !== undefined && e.status >= 500) return { reason: 'judge-server-error', retryable: true, retryAfterMs: retryAfter };
    if (e.status === 401 || e.status === 403) return { reason: 'judge-auth', retryable: false };
    return { reason: 'judge-bad-request', retryable: false };
  }
  return { reason: 'judge-connection', retryable: false };
}

const sleep = (ms: number, signal?: AbortSignal) => new Promise<void>((resolve, reject) => {
  const t = setTimeout(resolve, ms);
  signal?.addEventListener('abort', () => { clearTimeout(t); reject(signal.reason ?? new CancelledError('judge request cancelled')); }, { once: true });
});

export class LlmJudge implements Judge {
  readonly id: string;
  private readonly client: OpenAI;
  private readonly sem: Semaphore;
  private readonly cache: JudgeCache | null;
  private readonly settings: string;
  private readonly pricing: { inputPerMTok: number; outputPerMTok: number };
  private readonly u: JudgeUsage = { requests: 0, cached: 0, promptTokens: 0, completionTokens: 0, costUsd: 0 };
  /** Retries by reason (judge-rate-limited, judge-timeout, …) and, under `gave-up`, requests that exhausted them. */
  private readonly faults: Record<string, number> = {};
  /** Set once a reply carried logprobs: from then on a reply without them is a transient fault, not a wrong endpoint. */
  private sawLogprobs = false;

  constructor(private readonly o: LlmJudgeOptions) {
    this.id = `openai:${o.model}`;
    this.client = new OpenAI({ baseURL: o.baseURL, apiKey: o.apiKey ?? process.env.OPENAI_API_KEY ?? 'none', maxRetries: 0, timeout: o.timeoutMs ?? 60_000 });
    this.sem = new Semaphore(Math.max(1, o.concurrency ?? 8));
    this.cache = o.cacheDir ? new JudgeCache(o.cacheDir, o.model) : null;
    // Everything besides the prompt that changes the score belongs in the cache key.
    this.settings = JSON.stringify({ v: 1, seed: o.seed ?? 0, merge: !!o.mergeStrippedTokens, extra: o.extraBody ?? null });
    this.pricing = o.pricing ?? KNOWN_PRICING[o.model] ?? { inputPerMTok: 0, outputPerMTok: 0 };
  }

  usage(): JudgeUsage {
    return { ...this.u, ...(Object.keys(this.faults).length ? { faults: { ...this.faults } } : {}) };
  }

  async score(requests: JudgeRequest[], options: { signal?: AbortSignal; onResult?: (index: number, score: number | null, detail?: JudgeDetail) => void } = {}): Promise<(number | null)[]> {
    return Promise.all(requests.map(async (r, i) => {
      const { score: s, probs } = await this.judgeOne(judgePrompt(r), options.signal);
      options.onResult?.(i, s, probs ? { probs } : undefined);
      return s;
    }));
  }

  /** Scores one rendered prompt (cache → request with retries). */
  async scoreOne(prompt: string, signal?: AbortSignal): Promise<number | null> {
    return (await this.judgeOne(prompt, signal)).score;
  }

  /** A score with the first-token distribution it was computed from (what the judge-results panel shows). */
  async judgeOne(prompt: string, signal?: AbortSignal): Promise<{ score: number | null; probs?: Record<string, number> }> {
    const k = JudgeCache.key(this.o.model, this.settings, prompt);
    const hit = this.cache?.get(k);
    if (hit) { this.u.cached++; return { score: hit.score, probs: hit.probs }; }
    const probs = await this.sem.run(() => this.requestWithRetries(() => this.request(prompt, signal), signal));
    const score = aggregate0to100(probs);
    this.cache?.put({ k, score, probs });
    return { score, probs };
  }

  /**
   * Hook for other LLM annotators (src/core/facets): one chat completion's text through this judge's client, cache,
   * concurrency, pacing, retries and usage. `valid` rejects a reply that is worth another try (retried and counted as
   * judge-malformed-response; after the retries a PipelineError with that reason, and nothing cached).
   */
  async complete(messages: { role: 'system' | 'user'; content: string }[], o: { maxTokens: number; jsonObject?: boolean; valid?: (text: string) => boolean; signal?: AbortSignal }): Promise<string> {
    const request = { maxTokens: o.maxTokens, json: !!o.jsonObject };
    const k = JudgeCache.key(this.o.model, `${this.settings}|complete:${JSON.stringify(request)}`, JSON.stringify(messages));
    const hit = this.cache?.get(k);
    if (hit?.text !== undefined) { this.u.cached++; return hit.text; }
    const text = await this.sem.run(() => this.requestWithRetries(async () => {
      await this.paced(o.signal);
      const body: Record<string, unknown> = {
        model: this.o.model, messages, max_tokens: o.maxTokens, temperature: 0,
        ...(o.jsonObject ? { response_format: { type: 'json_object' } } : {}),
        ...(this.o.seed === null ? {} : { seed: this.o.seed ?? 0 }), ...(this.o.extraBody ?? {}),
      };
      this.u.requests++;
      const completion = await this.client.chat.completions.create(body as unknown as OpenAI.Chat.ChatCompletionCreateParamsNonStreaming, { signal: o.signal });
      this.count(completion.usage);
      const content = completion.choices?.[0]?.message?.content;
      if (typeof content !== 'string' || (o.valid && !o.valid(content))) {
        throw new TransientReply('judge-malformed-response', `judge ${this.o.model} at ${this.o.baseURL} replied ${JSON.stringify(content ?? null).slice(0, 200)}, which is not the answer asked for`);
      }
      return content;
    }, o.signal));
    this.cache?.put({ k, score: null, text });
    return text;
  }

  private count(usage: { prompt_tokens?: number; completion_tokens?: number } | undefined): void {
    const pt = usage?.prompt_tokens ?? 0, ct = usage?.completion_tokens ?? 0;
    this.u.promptTokens += pt; this.u.completionTokens += ct;
    this.u.costUsd += (pt * this.pricing.inputPerMTok + ct * this.pricing.outputPerMTok) / 1e6;
  }

  private async requestWithRetries<T>(send: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    const maxRetries = this.o.maxRetries ?? 5;
    for (let attempt = 0; ; attempt++) {
      try {
        return await send();
      } catch (e) {
        if (PipelineError.is(e)) throw e;
        const c = classify(e);
        if (c.retryable && attempt >= maxRetries) this.faults['gave-up'] = (this.faults['gave-up'] ?? 0) + 1;
        if (!c.retryable || attempt >= maxRetries) {
          // A server may echo the key in its error ("Incorrect API key provided: sk-…"); the message reaches logs and manifests.
          const what = redactKey(e instanceof Error ? e.message : String(e), this.o.apiKey ?? process.env.OPENAI_API_KEY);
          throw new PipelineError(c.reason, `judge ${this.o.model} at ${this.o.baseURL}: ${what}` +
            (c.retryable ? ` (gave up after ${attempt + 1} attempts; lower --judge-concurrency or try later)` : ''), { status: (e as { status?: number }).status });
        }
        const base = Math.min(this.o.maxBackoffMs ?? 20_000, (this.o.backoffMs ?? 500) * 2 ** attempt);
        const delayMs = c.retryAfterMs !== undefined ? Math.min(c.retryAfterMs, this.o.maxRetryAfterMs ?? 60_000)
          : Math.round(base * (0.75 + 0.5 * Math.random()));
        this.faults[c.reason] = (this.faults[c.reason] ?? 0) + 1;
        this.o.onRetry?.({ attempt: attempt + 1, reason: c.reason, delayMs });
        await sleep(delayMs, signal);
      }
    }
  }

  /** The next free request slot under requestsPerMinute (ms since epoch). */
  private nextSlot = 0;

  private async paced(signal?: AbortSignal): Promise<void> {
    const rpm = this.o.requestsPerMinute;
    if (!rpm) return;
    const now = Date.now();
    const at = Math.max(now, this.nextSlot);
    this.nextSlot = at + 60_000 / rpm;
    if (at > now) await sleep(at - now, signal);
  }

  private async request(prompt: string, signal?: AbortSignal): Promise<Record<string, number>> {
    await this.paced(signal);
    const body: Record<string, unknown> = {
      model: this.o.model,
      messages: [{ role: 'user', content: prompt }],
      max_tokens: 1, temperature: 0, logprobs: true, top_logprobs: 20,
      ...(this.o.seed === null ? {} : { seed: this.o.seed ?? 0 }),
      ...(this.o.extraBody ?? {}),
    };
    this.u.requests++;
    const completion = await this.client.chat.completions.create(body as unknown as OpenAI.Chat.ChatCompletionCreateParamsNonStreaming, { signal });
    this.count(completion.usage);
    const top = completion.choices?.[0]?.logprobs?.content?.[0]?.top_logprobs;
    if (!top || top.length === 0) {
      if (this.sawLogprobs) throw new TransientReply('judge-no-logprobs', `judge ${this.o.model} at ${this.o.baseURL} returned a reply without logprobs`);
      throw new PipelineError('judge-no-logprobs', `judge ${this.o.model} at ${this.o.baseURL} returned no logprobs. ` +
        'The 0–100 score is a probability-weighted mean over the first token, so the endpoint must support logprobs=true and top_logprobs=20 ' +
        '(vLLM and OpenAI do; some proxies and Ollama versions do not). Use another endpoint or model.');
    }
    this.sawLogprobs = true;
    const probs: Record<string, number> = {};
    for (const el of top) {
      const tok = this.o.mergeStrippedTokens ? el.token.trim() : el.token;
      probs[tok] = (this.o.mergeStrippedTokens ? probs[tok] ?? 0 : 0) + Math.exp(el.logprob);
    }
    return probs;
  }
}
