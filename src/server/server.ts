/**
 * The steering server: an OpenAI-compatible HTTP endpoint over the inference worker, so anything that
 * speaks the OpenAI wire format — the `openai` package, LLM judges (ours included), eval harnesses,
 * curl — can talk to a local checkpoint, steered or not, with no Python.
 *
 *   GET  /v1/models                 the served model (its id is the `model` to send)
 *   POST /v1/chat/completions       messages → answer; logprobs + top_logprobs (≤ 20); n; seed; stop; stream (SSE)
 *   POST /v1/completions            prompt → continuation (base models); logprobs (≤ 20); echo; stream (SSE)
 *   GET  /health                    liveness, queue length and batching counters
 *
 * Steering: the extra body field `steering` (./requests.ts); each steered choice answers with
 * `steering_applied: [{ layer, norm, tokens }]`, what the engine actually added per layer (a spec that would
 * add nothing is a 400). Requests are micro-batched (./batcher.ts).
 * Errors use OpenAI's shape `{ error: { message, type, param, code } }` with 400 (bad field, bad vector),
 * 404 (unknown model or route), 413 (body too large), 503 (worker gone) and 500 otherwise.
 * Written on node:http: the server is four routes, and a framework would add a dependency for no gain.
 *
 * Security (anything on this machine, or a web page in its browser, can reach a localhost port):
 *   - it binds 127.0.0.1 unless told otherwise; any other address needs `apiKey`, and then every request needs
 *     `Authorization: Bearer <key>` (401 otherwise);
 *   - a request carrying a browser `Origin` header is refused (403) unless that origin is in `allowedOrigins`;
 *     on loopback without a key the `Host` header must name a loopback host too (DNS rebinding);
 *   - request bodies, `n`, `max_tokens` and the number of steering specs are bounded (413 / 400);
 *   - a request's vector is a registered name, inline numbers, or a path inside one of `vectorDirs` (after `..`
 *     and symlinks are resolved) — never an arbitrary file.
 */
import { timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import { isIP, type AddressInfo } from 'node:net';
import { ReasonError } from '../engine/errors.js';
import { WorkerError, workerReason, type InferenceClient } from '../engine/client.js';
import type { GeneratedRow, ModelInfo, TokenLogprob } from '../engine/protocol.js';
import { Batcher } from './batcher.js';
import { HttpError, parseRequest, type EngineRequest, type SteeringContext } from './requests.js';
import { SteerSpecError } from '../engine/steering/steer.js';

export interface SteeringServerOptions {
  client: InferenceClient;
  model: ModelInfo;
  /** The id clients send as `model` (default: the checkpoint folder's model id). */
  servedName?: string;
  /** name → vector file, usable as `steering[].vector`. */
  vectors?: ReadonlyMap<string, string>;
  /** Folders whose vector files a request may name by path (relative to one of them, or absolute inside one). */
  vectorDirs?: readonly string[];
  /** Default 127.0.0.1. Any non-loopback address requires `apiKey`. */
  host?: string;
  /** When set, every request must carry `Authorization: Bearer <apiKey>`. */
  apiKey?: string;
  /** Browser origins (e.g. `http://localhost:5173`) allowed to call the server; requests with any other Origin get 403. */
  allowedOrigins?: readonly string[];
  /** Request body limit in bytes (default 8 MiB: room for inline vectors of a large model). */
  maxBodyBytes?: number;
  /** Upper bound on `max_tokens` (default: the model's context window). */
  maxTokens?: number;
  /** Upper bound on `n` (default 64). */
  maxN?: number;
  /** 0 picks a free port. */
  port?: number;
  maxBatchRows?: number;
  log?: (line: string) => void;
}

export interface SteeringServer {
  url: string;
  port: number;
  batcher: Batcher;
  close(): Promise<void>;
}

/** A server configuration that would be unsafe or cannot work (reason 'usage': the CLI exits 2). */
export class ServerConfigError extends ReasonError<'usage'> {
  override readonly name = 'ServerConfigError';
  constructor(message: string) { super('usage', message); }
}

const MAX_BODY = 8 * 1024 * 1024;

/** 127.0.0.0/8, ::1, ::ffff:127.x and `localhost`. */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (isIP(h) === 6) return h === '::1' || h.startsWith('::ffff:127.');
  return false;
}

/** The host part of a Host header (`[::1]:8000` → `::1`, `localhost:8000` → `localhost`). */
const hostOf = (header: string) => (header.startsWith('[') ? header.slice(1, header.indexOf(']')) : header.replace(/:\d+$/, ''));

function sameSecret(given: string, key: string): boolean {
  const a = Buffer.from(given), b = Buffer.from(key);
  return a.length === b.length && timingSafeEqual(a, b);
}

export async function startSteeringServer(o: SteeringServerOptions): Promise<SteeringServer> {
  const host = o.host ?? '127.0.0.1';
  const loopback = isLoopback(host);
  if (!loopback && !o.apiKey) {
    throw new ServerConfigError(`binding ${host} exposes the server beyond this machine; it needs an API key, which clients then send as "Authorization: Bearer <key>" (persona-lab serve reads it from $PERSONA_LAB_API_KEY, or the variable --api-key-env names). Or bind 127.0.0.1.`);
  }
  if (o.apiKey !== undefined && o.apiKey.length < 8) throw new ServerConfigError('the server\'s API key is shorter than 8 characters; use a long random string');
  const maxBody = o.maxBodyBytes ?? MAX_BODY;
  const origins = new Set((o.allowedOrigins ?? []).map((x) => x.replace(/\/+$/, '')));
  const served = o.servedName ?? o.model.modelId;
  const batcher = new Batcher(o.client, o.model.modelId, o.maxBatchRows);
  const ctx: SteeringContext = {
    vectors: o.vectors ?? new Map(), vectorDirs: o.vectorDirs ?? [],
    limits: { maxN: o.maxN ?? 64, maxTokens: o.maxTokens ?? o.model.config.maxPositions },
  };
  const tokenText = new Map<number, string>();
  const created = Math.floor(Date.now() / 1000);
  let counter = 0;

  /** Token strings for logprobs (cached: a judge asks for the same 20 digits again and again). */
  async function tokens(ids: Iterable<number>): Promise<void> {
    for (const id of new Set(ids)) {
      if (!tokenText.has(id)) tokenText.set(id, o.model.hasTokenizer ? await o.client.detokenize(o.model.modelId, [id], false) : String(id));
    }
  }
  const tok = (id: number) => tokenText.get(id) ?? String(id);
  const bytes = (s: string) => [...Buffer.from(s, 'utf8')];

  async function chatLogprobs(lp: TokenLogprob[]) {
    await tokens(lp.flatMap((t) => [t.tokenId, ...t.top.map((x) => x.tokenId)]));
    return {
      content: lp.map((t) => ({
        token: tok(t.tokenId), logprob: t.logprob, bytes: bytes(tok(t.tokenId)),
        top_logprobs: t.top.map((x) => ({ token: tok(x.tokenId), logprob: x.logprob, bytes: bytes(tok(x.tokenId)) })),
      })),
      refusal: null,
    };
  }
  async function completionLogprobs(lp: TokenLogprob[]) {
    await tokens(lp.flatMap((t) => [t.tokenId, ...t.top.map((x) => x.tokenId)]));
    let offset = 0;
    const textOffset: number[] = [];
    for (const t of lp) { textOffset.push(offset); offset += tok(t.tokenId).length; }
    return {
      tokens: lp.map((t) => tok(t.tokenId)),
      token_logprobs: lp.map((t) => t.logprob),
      top_logprobs: lp.map((t) => Object.fromEntries(t.top.map((x) => [tok(x.tokenId), x.logprob]))),
      text_offset: textOffset,
    };
  }
  const finish = (r: GeneratedRow) => (r.finishReason === 'length' ? 'length' : 'stop');
  /** Steered choices carry `steering_applied: [{layer, norm, tokens}]`: what the engine actually added (protocol SteeringApplied). */
  const applied = (r: GeneratedRow) => (r.steeringApplied ? { steering_applied: r.steeringApplied } : {});
  const usage = (rows: GeneratedRow[]) => {
    const prompt = rows[0]?.promptTokenIds.length ?? 0;
    const completion = rows.reduce((a, r) => a + r.tokenIds.length, 0);
    return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
  };

  async function complete(req: EngineRequest, signal: AbortSignal) {
    const rows = await batcher.generate(req.rows, req.sampling, req.logprobs, { signal });
    const id = `${req.endpoint === 'chat' ? 'chatcmpl' : 'cmpl'}-pl${++counter}`;
    const base = { id, created: Math.floor(Date.now() / 1000), model: served, system_fingerprint: o.model.compiler };
    if (req.endpoint === 'chat') {
      const choices = await Promise.all(rows.map(async (r, index) => ({
        index, message: { role: 'assistant', content: r.text, refusal: null }, finish_reason: finish(r),
        logprobs: r.logprobs ? await chatLogprobs(r.logprobs) : null, ...applied(r),
      })));
      return { ...base, object: 'chat.completion', choices, usage: usage(rows) };
    }
    const choices = await Promise.all(rows.map(async (r, index) => ({
      index, text: (req.echo ? r.promptText : '') + r.text, finish_reason: finish(r),
      logprobs: r.logprobs ? await completionLogprobs(r.logprobs) : null, ...applied(r),
    })));
    return { ...base, object: 'text_completion', choices, usage: usage(rows) };
  }

  /** Server-sent events, OpenAI chunk format; one request streams all its n choices interleaved. */
  async function stream(req: EngineRequest, res: http.ServerResponse, signal: AbortSignal) {
    const id = `${req.endpoint === 'chat' ? 'chatcmpl' : 'cmpl'}-pl${++counter}`;
    const base = { id, created: Math.floor(Date.now() / 1000), model: served, object: req.endpoint === 'chat' ? 'chat.completion.chunk' : 'text_completion' };
    const send = (data: unknown) => res.write(`data: ${JSON.stringify(data)}\n\n`);
    const delta = (index: number, text: string, extra: Record<string, unknown> = {}) => (req.endpoint === 'chat'
      ? { index, delta: text === '' && extra.role ? { role: 'assistant', content: '' } : { content: text }, finish_reason: null, logprobs: null, ...extra }
      : { index, text, finish_reason: null, logprobs: null, ...extra });
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
    if (req.endpoint === 'chat') for (let i = 0; i < req.rows.length; i++) send({ ...base, choices: [delta(i, '', { role: 'assistant' })] });
    const rows = await batcher.generate(req.rows, req.sampling, req.logprobs, {
      signal, onToken: (row, text) => { if (text) send({ ...base, choices: [delta(row, text)] }); },
    });
    rows.forEach((r, i) => send({ ...base, choices: [{ ...delta(i, ''), ...(req.endpoint === 'chat' ? { delta: {} } : {}), finish_reason: finish(r), ...applied(r) }] }));
    send({ ...base, choices: [], usage: usage(rows) });
    res.write('data: [DONE]\n\n');
    res.end();
  }

  /**
   * Who may call: an Origin header (a browser) only when configured, a loopback Host on a keyless loopback server
   * (a DNS-rebound page sends its own name), and the Bearer key when there is one. CORS headers for allowed origins.
   */
  function guard(req: http.IncomingMessage, res: http.ServerResponse): void {
    const origin = req.headers.origin;
    if (origin !== undefined) {
      if (!origins.has(origin)) {
        throw new HttpError(403, `requests from the browser origin ${JSON.stringify(origin)} are refused: a web page must not drive this server. Start it with --allow-origin ${origin} to allow that origin.`, 'permission_error', null, 'origin_not_allowed');
      }
      res.setHeader('access-control-allow-origin', origin);
      res.setHeader('vary', 'Origin');
      res.setHeader('access-control-allow-headers', 'authorization, content-type');
      res.setHeader('access-control-allow-methods', 'GET, POST, OPTIONS');
    }
    if (loopback && !o.apiKey && !isLoopback(hostOf(req.headers.host ?? ''))) {
      throw new HttpError(403, `the Host header ${JSON.stringify(req.headers.host ?? '')} is not a loopback name; this server answers only requests addressed to localhost`, 'permission_error', null, 'host_not_allowed');
    }
    if (o.apiKey && req.method !== 'OPTIONS') {
      const auth = req.headers.authorization ?? '';
      const m = /^Bearer\s+(.+)$/i.exec(auth);
      if (!m || !sameSecret(m[1].trim(), o.apiKey)) {
        throw new HttpError(401, 'this server needs an API key: send "Authorization: Bearer <key>"', 'authentication_error', null, 'invalid_api_key');
      }
    }
  }

  function sendJson(res: http.ServerResponse, status: number, body: unknown) {
    const s = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(s) });
    res.end(s);
  }
  function sendError(res: http.ServerResponse, e: unknown) {
    let err: HttpError;
    if (e instanceof HttpError) err = e;
    // A refusal from the worker names the field when it is the steering's (e.g. a vector that adds nothing).
    else if (workerReason(e) === 'bad-request') err = new HttpError(400, (e as Error).message, 'invalid_request_error', SteerSpecError.is(e) ? 'steering' : null);
    else if (WorkerError.is(e, 'died')) err = new HttpError(503, `the inference worker stopped: ${e.message}. Restart the server.`, 'server_error');
    else if (WorkerError.is(e, 'cancelled')) err = new HttpError(499, 'request cancelled', 'server_error');
    else err = new HttpError(500, e instanceof Error ? e.message : String(e), 'server_error');
    if (res.headersSent) { res.end(`data: ${JSON.stringify({ error: { message: err.message, type: err.type } })}\n\n`); return; }
    sendJson(res, err.status, { error: { message: err.message, type: err.type, param: err.param, code: err.code } });
  }

  async function readBody(req: http.IncomingMessage): Promise<unknown> {
    const chunks: Buffer[] = [];
    let size = 0;
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > maxBody) throw new HttpError(413, `request body over ${maxBody} bytes`);
    for await (const c of req) {
      size += (c as Buffer).length;
      if (size > maxBody) throw new HttpError(413, `request body over ${maxBody} bytes`);
      chunks.push(c as Buffer);
    }
    try {
      return JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch (e) {
      throw new HttpError(400, `the body is not valid JSON: ${(e as Error).message}`, 'invalid_request_error', 'body');
    }
  }

  const server = http.createServer((req, res) => {
    const abort = new AbortController();
    res.on('close', () => { if (!res.writableFinished) abort.abort(new Error('client closed the connection')); });
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://localhost');
      const route = `${req.method} ${url.pathname.replace(/\/+$/, '')}`;
      try {
        guard(req, res);
        if (req.method === 'OPTIONS') { res.writeHead(204).end(); return; }
        if (route === 'GET /v1/models') {
          return sendJson(res, 200, { object: 'list', data: [{ id: served, object: 'model', created, owned_by: 'persona-lab', root: o.model.path }] });
        }
        if (route === `GET /v1/models/${served}`) return sendJson(res, 200, { id: served, object: 'model', created, owned_by: 'persona-lab' });
        if (route === 'GET /health') return sendJson(res, 200, { status: 'ok', model: served, queued: batcher.pending, ...batcher.stats });
        const endpoint = route === 'POST /v1/chat/completions' ? 'chat' : route === 'POST /v1/completions' ? 'completions' : null;
        if (!endpoint) throw new HttpError(404, `no route ${route}; this server has GET /v1/models, POST /v1/chat/completions, POST /v1/completions`, 'invalid_request_error', null, 'not_found');
        const parsed = parseRequest(endpoint, await readBody(req), ctx);
        if (parsed.model !== served) throw new HttpError(404, `the model ${JSON.stringify(parsed.model)} does not exist here; this server serves ${JSON.stringify(served)}`, 'invalid_request_error', 'model', 'model_not_found');
        if (endpoint === 'chat' && !o.model.hasChatTemplate) {
          throw new HttpError(400, `${served} has no chat template (a base model): use /v1/completions with a prompt`, 'invalid_request_error', 'messages');
        }
        if (parsed.stream) return await stream(parsed, res, abort.signal);
        sendJson(res, 200, await complete(parsed, abort.signal));
      } catch (e) {
        o.log?.(`${route}: ${e instanceof Error ? e.message : String(e)}`);
        sendError(res, e);
      }
    })();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port ?? 0, host, () => resolve());
  });
  const addr = server.address() as AddressInfo;
  const shown = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  return {
    url: `http://${shown}:${addr.port}/v1`, port: addr.port, batcher,
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}
