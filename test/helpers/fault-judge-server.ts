/**
 * A fault-injecting OpenAI-compatible judge on 127.0.0.1 (node:http, nothing else).
 *
 * It answers POST …/chat/completions like a logprob-returning judge: the score is `score(prompt)` (default: a
 * stable hash of the prompt into 0..100), with most first-token mass on it. Before answering, `plan(n, prompt)`
 * may pick a fault for the n-th request (0-based, in arrival order):
 *
 *   429 / 429-retry-after   rate limited, without / with `Retry-After: 0` (seconds)
 *   500 / 502 / 503         server errors (JSON error bodies, as OpenAI sends them)
 *   timeout                 accepts the request and never answers (the client's timeout must fire)
 *   reset                   destroys the socket without a reply (ECONNRESET on the client)
 *   malformed               200 with a JSON content type and a body that is not JSON
 *   no-logprobs             200, a valid completion without logprobs
 *   slow                    200, the body trickled in small pieces (completes; a slow stream, not a fault)
 *   stall                   200, headers and half the body, then silence (a stream that stops mid-body)
 *
 * `seededPlan` spreads faults over requests with a seeded PRNG, never more than `maxInARow` in a row for one
 * prompt (so a client with more retries than that always gets through). Every reply the server completes is
 * counted per prompt in `stats.answered`: a prompt answered twice was judged twice.
 */
import http from 'node:http';
import { createHash } from 'node:crypto';
import type { AddressInfo, Socket } from 'node:net';
import { mulberry32 } from '../../src/core/rng.js';

export const FAULTS = ['429', '429-retry-after', '500', '502', '503', 'timeout', 'reset', 'malformed', 'no-logprobs', 'slow', 'stall'] as const;
export type Fault = (typeof FAULTS)[number];

export interface FaultJudgeOptions {
  plan?: (n: number, prompt: string) => Fault | null;
  score?: (prompt: string) => number;
  /** The reply's message content (default: the score's token), for callers that read text rather than logprobs (facet annotators). */
  content?: (prompt: string) => string;
  /** Milliseconds between pieces of a `slow` body (default 20). */
  slowChunkMs?: number;
}

export interface FaultJudgeStats {
  requests: number;
  /** Faults injected, by kind. */
  injected: Partial<Record<Fault, number>>;
  /** Completed replies with a score, per prompt. */
  answered: Map<string, number>;
}

export interface FaultJudge {
  baseURL: string;
  stats: FaultJudgeStats;
  /** Injected faults that the client must retry (`slow` is not one: it succeeds). */
  retryableInjected(): number;
  close(): Promise<void>;
}

/** A stable 0..100 score per prompt (what a deterministic judge would say). */
export const hashScore = (prompt: string): number => createHash('sha256').update(prompt).digest().readUInt32BE(0) % 101;

/** Seeded randomness to place faults: the project's one generator (src/core/rng.ts). */
export const prng = mulberry32;

/** Faults with probability `rate` per request, kinds drawn from `kinds`, at most `maxInARow` consecutive faults per prompt. */
export function seededPlan(seed: number, o: { rate: number; kinds?: readonly Fault[]; maxInARow: number }): (n: number, prompt: string) => Fault | null {
  const rnd = prng(seed);
  const kinds = o.kinds ?? FAULTS;
  const streak = new Map<string, number>();
  return (_n, prompt) => {
    const s = streak.get(prompt) ?? 0;
    if (s >= o.maxInARow || rnd() >= o.rate) { streak.set(prompt, 0); return null; }
    streak.set(prompt, s + 1);
    return kinds[Math.floor(rnd() * kinds.length)];
  };
}

export async function startFaultJudge(o: FaultJudgeOptions = {}): Promise<FaultJudge> {
  const stats: FaultJudgeStats = { requests: 0, injected: {}, answered: new Map() };
  const score = o.score ?? hashScore;
  const sockets = new Set<Socket>();
  const hanging = new Set<http.ServerResponse>();
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const n = stats.requests++;
      let prompt = '';
      // Every message's content (one message for a judge; system + user for an annotator), so a prompt names one request.
      try { prompt = (JSON.parse(body).messages as { content: string }[]).map((m) => m.content).join('\n\n'); } catch {
        res.writeHead(400, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { message: 'bad request body', type: 'invalid_request_error' } }));
        return;
      }
      const fault = o.plan?.(n, prompt) ?? null;
      if (fault) stats.injected[fault] = (stats.injected[fault] ?? 0) + 1;
      const s = Math.max(0, Math.min(100, Math.round(score(prompt))));
      const top = [{ token: String(s), logprob: Math.log(0.9) }, { token: 'REFUSAL', logprob: Math.log(0.05) }, { token: String(s === 100 ? 99 : s + 1), logprob: Math.log(0.05) }];
      const ok = (withLogprobs: boolean) => JSON.stringify({
        id: `chatcmpl-${n}`, object: 'chat.completion', created: 1, model: 'fault-judge',
        choices: [{ index: 0, message: { role: 'assistant', content: o.content ? o.content(prompt) : top[0].token }, finish_reason: 'length',
          logprobs: withLogprobs ? { content: [{ token: top[0].token, logprob: top[0].logprob, top_logprobs: top }] } : null }],
        usage: { prompt_tokens: 100, completion_tokens: 1, total_tokens: 101 },
      });
      const error = (status: number, headers: Record<string, string> = {}) => {
        res.writeHead(status, { 'content-type': 'application/json', ...headers });
        res.end(JSON.stringify({ error: { message: `injected ${status}`, type: 'server_error' } }));
      };
      const answered = () => res.on('finish', () => stats.answered.set(prompt, (stats.answered.get(prompt) ?? 0) + 1));
      switch (fault) {
        case '429': return error(429);
        case '429-retry-after': return error(429, { 'retry-after': '0' });
        case '500': return error(500);
        case '502': return error(502);
        case '503': return error(503);
        case 'timeout': hanging.add(res); return;
        case 'reset': req.socket.destroy(); return;
        case 'malformed':
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end('{"id": "chatcmpl-broken", "choices": [{"index": 0, "logpro');
          return;
        case 'no-logprobs':
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(ok(false));
          return;
        case 'stall': {
          const text = ok(true);
          res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)) });
          res.write(text.slice(0, text.length >> 1));
          hanging.add(res);
          return;
        }
        case 'slow': {
          const text = ok(true);
          res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)) });
          answered();
          const pieces = 4, size = Math.ceil(text.length / pieces);
          let i = 0;
          const next = () => {
            if (res.destroyed) return;
            const part = text.slice(i * size, ++i * size);
            if (i >= pieces) res.end(part); else { res.write(part); setTimeout(next, o.slowChunkMs ?? 20); }
          };
          next();
          return;
        }
        default:
          res.writeHead(200, { 'content-type': 'application/json' });
          answered();
          res.end(ok(true));
      }
    });
  });
  server.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  return {
    baseURL: `http://127.0.0.1:${port}/v1`,
    stats,
    retryableInjected: () => Object.entries(stats.injected).filter(([k]) => k !== 'slow').reduce((a, [, n]) => a + (n ?? 0), 0),
    close: async () => {
      for (const r of hanging) r.destroy();
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
