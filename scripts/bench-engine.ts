/**
 * Engine benchmark (prints figures; not a timed test): `npm run bench:engine [-- --quick]`.
 * Through the real worker process, for the llama_gqa parity fixture and a randomly initialised Llama of a
 * few hundred million parameters written in HF format to a temp dir: load/compile time, resident memory vs
 * weight bytes, tokens/s at batch 1 and 16, unsteered vs steered ('response' positions, one layer), and
 * RSS across load/unload cycles (leak check). Greedy decoding with EOS disabled as far as possible so every
 * row runs to maxNewTokens. Numbers depend heavily on machine load: report them with that caveat.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { InferenceClient } from '../src/engine/client.js';
import type { GenerateRow, ModelInfo } from '../src/engine/protocol.js';
import { writeRandomLlama } from '../test/engine/worker/random-llama.js';

const quick = process.argv.includes('--quick');
const root = path.dirname(path.dirname(new URL(import.meta.url).pathname));
const fixtureDir = path.resolve(root, '..', 'shared', 'fixtures', 'parity', 'llama_gqa');
const tmp = mkdtempSync(path.join(os.tmpdir(), 'pl-bench-'));
const MB = (b: number) => Math.round(b / 1048576);

async function throughput(client: InferenceClient, info: ModelInfo, batch: number, steered: boolean, maxNewTokens: number) {
  const H = info.config.hiddenSize;
  const vector = { values: Array.from({ length: H }, (_, i) => Math.cos(i)) };
  const rows: GenerateRow[] = Array.from({ length: batch }, (_, i) => ({
    prompt: { ids: Array.from({ length: 16 }, (_, j) => 3 + ((i * 31 + j * 7) % (info.config.vocabSize - 3))) },
    steer: steered ? [{ vector, layer: Math.floor(info.config.numLayers / 2), coef: 2, positions: 'response' as const, scaling: { mode: 'unit' as const } }] : undefined,
  }));
  const res = await client.generate({ modelId: info.modelId, rows, batchSize: batch, sampling: { temperature: 0, maxNewTokens, eosTokenIds: [] } });
  const tokens = res.rows.reduce((a, r) => a + r.tokenIds.length, 0);
  return { batch, steered, tokens, elapsedMs: Math.round(res.elapsedMs), tokensPerSecond: +res.tokensPerSecond.toFixed(1) };
}

async function benchModel(client: InferenceClient, label: string, dir: string, maxNewTokens: number, weightMemory: 'mapped' | 'prepacked' = 'mapped') {
  const info = await client.loadModel({ path: dir, executionProvider: 'cpu', cacheDir: path.join(tmp, 'graphs'), weightMemory });
  await throughput(client, info, 1, false, 2); // warm-up
  const runs = [];
  for (const batch of [1, 16]) for (const steered of [false, true]) runs.push(await throughput(client, info, batch, steered, maxNewTokens));
  const rssAfter = (await client.listModels()).find((m) => m.modelId === info.modelId)!.rssBytes;
  await client.unloadModel(info.modelId);
  return {
    model: label,
    weightMemory,
    config: { layers: info.config.numLayers, hidden: info.config.hiddenSize, heads: info.config.numHeads, kvHeads: info.config.numKvHeads, vocab: info.config.vocabSize },
    loadMs: Math.round(info.loadMs), compileMs: Math.round(info.compileMs), cacheHit: info.cacheHit,
    threads: info.threads, provider: info.executionProvider, weightMB: MB(info.weightBytes), rssAfterLoadMB: MB(info.rssBytes), rssAfterRunsMB: MB(rssAfter),
    runs,
  };
}

const client = await InferenceClient.start({ log: () => {} });
try {
  const baseRss = MB((await (async () => { const i = await client.loadModel({ path: fixtureDir, executionProvider: 'cpu', cacheDir: path.join(tmp, 'graphs') }); await client.unloadModel(i.modelId); return i.rssBytes; })()));
  const results = [await benchModel(client, 'parity fixture llama_gqa (3 layers, H=64)', fixtureDir, quick ? 16 : 64)];
  const spec = quick
    ? { vocab: 32000, hidden: 512, layers: 8, heads: 8, kvHeads: 2, intermediate: 1408 }
    : { vocab: 32000, hidden: 1024, layers: 16, heads: 16, kvHeads: 4, intermediate: 2816 };
  const bigDir = path.join(tmp, 'random-llama');
  const t0 = performance.now();
  const { params, bytes } = writeRandomLlama(bigDir, { ...spec, seed: 1 });
  const writeMs = Math.round(performance.now() - t0);
  const bigLabel = `random Llama ${Math.round(params / 1e6)}M params (F32)`;
  const big = await benchModel(client, bigLabel, bigDir, quick ? 8 : 32);
  const bigPrepacked = await benchModel(client, bigLabel, bigDir, quick ? 8 : 32, 'prepacked');
  // Leak check: load/unload the big model again (graph cache hit) and watch the worker's RSS.
  const cycles: number[] = [];
  for (let i = 0; i < 3; i++) {
    const info = await client.loadModel({ path: bigDir, executionProvider: 'cpu', cacheDir: path.join(tmp, 'graphs') });
    await client.unloadModel(info.modelId);
    cycles.push(MB(info.rssBytes));
  }
  results.push({ ...big, writeCheckpointMs: writeMs, paramsTotal: params, fileMB: MB(bytes) } as typeof big, bigPrepacked);
  console.log(JSON.stringify({
    machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, loadavg: os.loadavg().map((x) => +x.toFixed(2)), node: process.version },
    note: 'shared machine: other processes compete for the same cores, figures are noisy',
    workerBaseRssMB: baseRss,
    results,
    rssAtLoadOverCyclesMB: cycles,
  }, null, 2));
} finally {
  await client.dispose();
  rmSync(tmp, { recursive: true, force: true });
}
