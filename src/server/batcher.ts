/**
 * Continuous micro-batching for the steering server: HTTP requests that arrive while the worker is busy
 * wait in a queue; when it frees up, every queued request with the same sampling settings (and no
 * streaming) goes to the worker as ONE generate call, rows concatenated. An LLM judge sending 8–32
 * concurrent one-token requests then costs one batched forward instead of 32 single ones.
 *
 * Batching does not change results: each row carries its own seed, and the engine makes a row's output a
 * function of (prompt, steering, seed) alone (src/engine/generation/generate.ts, batch invariance).
 */
import type { InferenceClient } from '../engine/client.js';
import type { GeneratedRow, GenerateRow, SamplingParams, TokenNotificationParams } from '../engine/protocol.js';

interface Job {
  rows: GenerateRow[];
  sampling: SamplingParams;
  logprobs?: number;
  onToken?: (row: number, text: string, tokenId: number) => void;
  signal?: AbortSignal;
  resolve: (rows: GeneratedRow[]) => void;
  reject: (e: unknown) => void;
}

export class Batcher {
  private readonly queue: Job[] = [];
  private busy = false;
  /** Batches sent and rows in them, for /health and tests. */
  readonly stats = { batches: 0, rows: 0, requests: 0 };

  constructor(private readonly client: InferenceClient, private readonly modelId: string, private readonly maxRows = 64) {}

  generate(rows: GenerateRow[], sampling: SamplingParams, logprobs: number | undefined,
    opts: { onToken?: Job['onToken']; signal?: AbortSignal } = {}): Promise<GeneratedRow[]> {
    return new Promise((resolve, reject) => {
      this.queue.push({ rows, sampling, logprobs, onToken: opts.onToken, signal: opts.signal, resolve, reject });
      void this.pump();
    });
  }

  get pending(): number { return this.queue.length; }

  private key(j: Job): string | null {
    if (j.onToken) return null; // streamed requests run alone (their notifications are per request)
    const { seed: _seed, ...rest } = j.sampling;
    return JSON.stringify([rest, j.logprobs ?? null]);
  }

  private take(): Job[] {
    const first = this.queue.shift()!;
    const k = this.key(first);
    const group = [first];
    let rows = first.rows.length;
    if (k === null) return group;
    for (let i = 0; i < this.queue.length && rows < this.maxRows;) {
      const j = this.queue[i];
      if (this.key(j) === k && rows + j.rows.length <= this.maxRows) {
        group.push(j);
        rows += j.rows.length;
        this.queue.splice(i, 1);
      } else i++;
    }
    return group;
  }

  private async pump(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      while (this.queue.length) {
        const group = this.take().filter((j) => {
          if (!j.signal?.aborted) return true;
          j.reject(j.signal.reason ?? new Error('request aborted'));
          return false;
        });
        if (group.length === 0) continue;
        const rows = group.flatMap((j) => j.rows);
        const streamed = group.length === 1 ? group[0].onToken : undefined;
        this.stats.batches++; this.stats.rows += rows.length; this.stats.requests += group.length;
        try {
          // Seeds are explicit per row, so the shared sampling.seed is irrelevant to the result.
          const res = await this.client.generate({ modelId: this.modelId, rows, sampling: group[0].sampling, logprobs: group[0].logprobs },
            { signal: allAborted(group.map((j) => j.signal)), onToken: streamed ? (n: TokenNotificationParams) => streamed(n.row, n.text, n.tokenId) : undefined });
          let at = 0;
          for (const j of group) { j.resolve(res.rows.slice(at, at + j.rows.length)); at += j.rows.length; }
        } catch (e) {
          for (const j of group) j.reject(e);
        }
      }
    } finally {
      this.busy = false;
    }
  }
}

/**
 * A signal for a batch shared by several requests: it aborts once every request in it has (each client disconnected),
 * so the worker stops the batch at its next step; while one client still waits the batch runs on (the worker cancels
 * whole requests, not single rows), and an abandoned request's rows are dropped from the answer.
 */
export function allAborted(signals: (AbortSignal | undefined)[]): AbortSignal | undefined {
  if (signals.some((s) => !s)) return undefined;
  if (signals.length === 1) return signals[0];
  const ac = new AbortController();
  const check = () => { if (!ac.signal.aborted && signals.every((s) => s!.aborted)) ac.abort(signals[0]!.reason); };
  for (const s of signals) s!.addEventListener('abort', check, { once: true });
  check();
  return ac.signal;
}
