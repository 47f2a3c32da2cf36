/**
 * Steering-server benchmark (prints figures; not a timed test): `npm run bench:server [-- --quick]`.
 * Starts the real worker and the HTTP server on the toy model (or --model <checkpoint>) and measures, through
 * the `openai` client over real HTTP:
 *   - judge-like load: C concurrent one-token chat requests with logprobs + top_logprobs 20 (what an LLM
 *     judge sends), requests/s with micro-batching (the default) and with batches of one request;
 *   - generation load: C concurrent 64-token steered chat requests, completion tokens/s, same two modes.
 * Numbers depend heavily on machine load: report them with that caveat.
 */
import path from 'node:path';
import OpenAI from 'openai';
import { InferenceClient } from '../src/engine/client.js';
import { startSteeringServer } from '../src/server/server.js';

const quick = process.argv.includes('--quick');
const arg = (name: string) => { const i = process.argv.indexOf(`--${name}`); return i > 0 ? process.argv[i + 1] : undefined; };
const root = path.dirname(path.dirname(new URL(import.meta.url).pathname));
const model = path.resolve(arg('model') ?? path.join(root, 'models', 'toy-persona', 'revisions', 'main'));
const threads = Number(arg('threads') ?? 2);
const C = Number(arg('concurrency') ?? 16);
const rounds = quick ? 2 : 5;

const client = await InferenceClient.start({ threads });
const info = await client.loadModel({ path: model, threads });
const H = info.config.hiddenSize;
const vector = Array.from({ length: H }, (_, i) => Math.cos(i) / Math.sqrt(H));
const messages = [{ role: 'user' as const, content: 'how do i clean a hat ?' }];

async function load(maxBatchRows: number, kind: 'judge' | 'generate') {
  const server = await startSteeringServer({ client, model: info, servedName: 'm', maxBatchRows });
  const api = new OpenAI({ baseURL: server.url, apiKey: 'none', maxRetries: 0 });
  const one = (seed: number) => api.chat.completions.create(kind === 'judge'
    ? { model: 'm', messages, max_tokens: 1, temperature: 0, logprobs: true, top_logprobs: 20, seed }
    : { model: 'm', messages, max_tokens: 64, min_tokens: 64, temperature: 0.8, seed,
      steering: [{ vector, layer: Math.max(1, Math.floor(info.config.numLayers / 2)), coef: 2 }] } as OpenAI.Chat.ChatCompletionCreateParamsNonStreaming); // steering: this server's extension field
  await one(0); // warm-up
  const b0 = server.batcher.stats.batches;
  const t0 = performance.now();
  let tokens = 0, requests = 0;
  for (let r = 0; r < rounds; r++) {
    const res = await Promise.all(Array.from({ length: C }, (_, i) => one(r * C + i + 1)));
    requests += res.length;
    tokens += res.reduce((a, x) => a + (x.usage?.completion_tokens ?? 0), 0);
  }
  const s = (performance.now() - t0) / 1000;
  const out = { kind, batching: maxBatchRows > 1 ? `up to ${maxBatchRows} rows` : 'off', concurrency: C, requests,
    workerCalls: server.batcher.stats.batches - b0, requestsPerSecond: +(requests / s).toFixed(1), completionTokensPerSecond: +(tokens / s).toFixed(1) };
  await server.close();
  return out;
}

const results = [];
for (const kind of ['judge', 'generate'] as const) for (const rows of [64, 1]) results.push(await load(rows, kind));
console.log(JSON.stringify({ model: info.modelId, threads, layers: info.config.numLayers, hidden: H, rounds, results }, null, 2));
await client.dispose();
