/**
 * The two sides of every cell: ours (the real inference worker through InferenceClient, as the CLI and the
 * editor use it) and the PyTorch peer. Both run the same Plan on the same token ids and report the same keys:
 * `${workload}|${batch}|${promptTokens}` → median seconds and tokens/s.
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { InferenceClient, WorkerError } from '../../src/engine/client.js';
import type { ExecutionProvider, WeightFormat } from '../../src/engine/model/types.js';
import type { GenerateRow, LoadModelParams } from '../../src/engine/protocol.js';
import type { BenchModel } from './models.js';
import { probeMachine, type Probe } from './machine.js';
import { TorchPeer, type PeerThreads } from './peer.js';
import { makeCaptureItems, makePrompts, maxNewTokens, median, newTokensAt, pairedSteering, planFor, steerVector, type Plan } from './workloads.js';
import { oursCaptureChunks, type Chunk } from './flops.js';

/**
 * One side's measurement of a cell: median seconds of the timed repetitions and tokens/s from it; `loadavg` is
 * os.loadavg() when the cell finished; `stepS` (generation cells) the median decode step in seconds over
 * every decode step of the timed repetitions (`steps` of them), timed one by one; `wallS` the cell's whole cost
 * (warm-up included), which is what a plan's time budget is made of.
 */
export interface Measure {
  s: number; tokS: number; tokens: number; timesS: number[]; loadavg?: number[]; stepS?: number; steps?: number; stepTimesS?: number[]; wallS?: number;
  /**
   * Steered cells timed in interleaved pairs (ours): per pair steered seconds / plain seconds − 1, in pair order
   * (ABBA: even pairs ran plain first). Their median is the batch's steering overhead.
   */
  pairRatios?: number[];
  /** Capture (ours): the forwards the worker ran, rebuilt by its rule (flops.ts oursCaptureChunks); null when that disagreed with its reported batch size. */
  chunks?: Chunk[] | null;
  /** Capture (ours): tokens per item as the worker counted them. */
  itemTokens?: number[];
}
export interface SideResult {
  skipped?: string;
  settings: Record<string, unknown>;
  loadMs?: number;
  /** os.loadavg() when the timed load ended. */
  loadLoadavg?: number[];
  rssAfterLoadBytes?: number;
  /** Peak resident memory of the process over load and every workload it ran. */
  peakRssBytes?: number;
  /** Peak right after the warm load (before any workload). */
  peakRssAfterLoadBytes?: number;
  /** Bytes the weights occupy in memory in the side's format (ours: ModelInfo.residentWeightBytes; peer: float32 tensors). */
  residentWeightBytes?: number;
  /** KV cache bytes per token per row. */
  kvBytesPerToken?: number;
  cells: Map<string, Measure>;
  /** Machine figures taken next to this side's cells (machine.ts probeMachine): the fractions divide by these. */
  probes?: Probe[];
}

export const key = (workload: string, batch: number, prompt: number) => `${workload}|${batch}|${prompt}`;

const loadNow = () => os.loadavg().map((x) => +x.toFixed(2));

function measure(timesS: number[], tokens: number, extra: { stepTimesS?: number[]; wallS?: number } = {}): Measure {
  const s = median(timesS);
  const m: Measure = { s, tokS: tokens / s, tokens, timesS: timesS.map((t) => +t.toFixed(4)), loadavg: loadNow() };
  if (extra.stepTimesS?.length) {
    m.stepS = median(extra.stepTimesS);
    m.steps = extra.stepTimesS.length;
    m.stepTimesS = extra.stepTimesS.map((t) => +t.toFixed(4));
  }
  if (extra.wallS !== undefined) m.wallS = +extra.wallS.toFixed(2);
  return m;
}

/**
 * The generation cells of one side, in the order that keeps each comparison's conditions together: per batch,
 * plain and steered (the peer: plain then steered; ours: interleaved pairs); machine probes right before and
 * after the batch-1 cells (read bandwidth for the decode fraction) and around the largest batch (GEMM peak).
 */
async function genCells(plan: Plan, threads: number, probes: Probe[], batch: (b: number, ws: ('gen' | 'steered-gen')[]) => Promise<void>, log: (m: string) => void) {
  const ws = (['gen', 'steered-gen'] as const).filter((w) => has(plan, w));
  if (!ws.length) return;
  const bMax = Math.max(...plan.batches);
  for (const b of plan.batches) {
    if (b === 1) await probeNear(threads, probes, 'before-b1', { bandwidth: true }, log);
    if (b === bMax && b > 1) await probeNear(threads, probes, `before-b${b}`, { gemm: true }, log);
    await batch(b, [...ws]);
    if (b === 1) await probeNear(threads, probes, 'after-b1', { bandwidth: true }, log);
    if (b === bMax && b > 1) await probeNear(threads, probes, `after-b${b}`, { gemm: true }, log);
  }
}

async function probeNear(threads: number, probes: Probe[], label: string, what: { bandwidth?: boolean; gemm?: boolean }, log: (m: string) => void) {
  const p = await probeMachine(threads, label, what);
  probes.push(p);
  log(`    machine ${label}: ${p.readGBs !== undefined ? `read ${p.readGBs} GB/s, copy ${p.copyGBs} GB/s` : ''}${p.gemmGflops !== undefined ? `GEMM ${p.gemmGflops} GFLOP/s` : ''} (load ${p.loadavg[0]})`);
}

/** VmHWM (peak RSS) of a process, from /proc (Linux). */
export function peakRss(pid: number): number | undefined {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

const has = (plan: Plan, w: string) => plan.workloads.includes(w as Plan['workloads'][number]);
const promptFor = (plan: Plan, m: BenchModel) => Math.min(plan.promptTokens, m.maxPositions - maxNewTokens(plan) - 1);
export const scalePromptsFor = (plan: Plan, m: BenchModel) => plan.scalePrompts.filter((p) => p + 2 <= m.maxPositions);

// ------------------------------------------------------------------ ours
export interface OursOptions { threads: number; provider: ExecutionProvider; format: WeightFormat; cacheDir: string; weightMemory?: 'mapped' | 'prepacked'; log: (m: string) => void }

export async function runOurs(m: BenchModel, fullPlan: Plan, o: OursOptions): Promise<SideResult> {
  const plan = planFor(fullPlan, o.format);
  const params: LoadModelParams = {
    path: m.dir, executionProvider: o.provider, threads: o.threads, cacheDir: o.cacheDir, ...(o.weightMemory ? { weightMemory: o.weightMemory } : {}),
    ...(o.format === 'f32' ? {} : { weightFormat: o.format }),
  };
  const settings: Record<string, unknown> = { threads: o.threads, provider: o.provider, weightMemoryRequested: o.weightMemory ?? 'default', weightFormat: o.format };
  const cells = new Map<string, Measure>();
  // 1. A throwaway worker fills the compile cache (and tells whether the format is served at all).
  const warm = await InferenceClient.start({ threads: o.threads });
  try {
    const info = await warm.loadModel(params);
    const served = info.weightFormat ?? 'f32';
    if (served !== o.format) return { skipped: `the worker loaded the model but serves weightFormat '${served}', not '${o.format}' (not implemented yet)`, settings, cells };
    settings.variant = info.variant;
    settings.compiler = info.compiler;
    settings.threadsUsed = info.threads;
    settings.compileMsCold = Math.round(info.compileMs);
    settings.weightMemory = info.weightMemory;
  } catch (e) {
    if (e instanceof WorkerError) return { skipped: `the worker refused weightFormat '${o.format}': ${e.message.split('\n')[0]}`, settings, cells };
    throw e;
  } finally {
    await warm.dispose();
  }
  // 2. A fresh worker: warm-cache load time and memory as a user's process would see them.
  const client = await InferenceClient.start({ threads: o.threads });
  try {
    const t0 = performance.now();
    const info = await client.loadModel(params);
    const loadMs = performance.now() - t0;
    const res: SideResult = { settings: { ...settings, cacheHit: info.cacheHit, loadStages: info.loadStages }, cells, loadMs, loadLoadavg: loadNow(), rssAfterLoadBytes: info.rssBytes, peakRssAfterLoadBytes: peakRss(client.pid),
      residentWeightBytes: info.residentWeightBytes, kvBytesPerToken: info.kvBytesPerToken };
    const { modelId } = info;
    const L = info.config.numLayers;
    const steer = { vector: { values: steerVector(info.config.hiddenSize) }, layer: Math.floor(L / 2), coef: plan.steerCoef, positions: 'response' as const, scaling: { mode: 'raw' as const } };
    /**
     * One generation request, its tokens streamed (one notification per token and row) and row 0's arrivals
     * time-stamped, so consecutive arrivals time the decode steps one by one (the worker sends a step's tokens
     * before it forwards them). Returns the request's seconds and the decode steps' seconds.
     */
    const gen = async (prompts: number[][], n: number, steered: boolean, stream = true) => {
      const rows: GenerateRow[] = prompts.map((ids) => ({ prompt: { ids }, steer: steered ? [steer] : undefined }));
      const arrivals: number[] = [];
      const t = performance.now();
      const r = await client.generate({ modelId, rows, batchSize: prompts.length, sampling: { temperature: 0, maxNewTokens: n, minNewTokens: n } },
        stream ? { onToken: (x) => { if (x.row === 0) arrivals.push(performance.now()); } } : {});
      const s = (performance.now() - t) / 1000;
      const got = r.rows.reduce((a, x) => a + x.tokenIds.length, 0);
      if (got !== prompts.length * n) throw new Error(`ours generated ${got} tokens, expected ${prompts.length * n} (EOS not disabled?)`);
      return { s, steps: arrivals.slice(1).map((a, i) => (a - arrivals[i]) / 1000) };
    };
    const logCell = (workload: string, b: number, promptLen: number, mm: Measure) =>
      o.log(`    ours ${o.format} ${workload} b${b} p${promptLen}: ${mm.tokS.toFixed(1)} tok/s${mm.stepS ? `, decode step ${(mm.stepS * 1000).toFixed(1)} ms (median of ${mm.steps})` : ''}` +
        `${mm.pairRatios ? `, steering ${(100 * median(mm.pairRatios)).toFixed(1)} % (median of ${mm.pairRatios.length} pairs, ${(100 * Math.min(...mm.pairRatios)).toFixed(1)} … ${(100 * Math.max(...mm.pairRatios)).toFixed(1)} %)` : ''} (load ${mm.loadavg?.[0]})`);
    const timeGen = async (workload: string, prompts: number[][], n: number, steered: boolean, warmTokens: number, promptLen: number) => {
      const w0 = performance.now();
      await gen(prompts, warmTokens, steered, false);
      const ts: number[] = [], steps: number[] = [];
      for (let r = 0; r < plan.reps; r++) {
        const g = await gen(prompts, n, steered);
        ts.push(g.s);
        steps.push(...g.steps);
      }
      const mm = measure(ts, prompts.length * n, { stepTimesS: steps, wallS: (performance.now() - w0) / 1000 });
      cells.set(key(workload, prompts.length, promptLen), mm);
      logCell(workload, prompts.length, promptLen, mm);
    };
    /**
     * Plain and steered generation interleaved on the same warm worker: one plain warm-up, then `steerPairs`
     * pairs in ABBA order (even pairs plain first), the same prompts, tokens and EOS off in both. The gen and
     * steered-gen cells are the medians of their halves; each pair gives one steered / plain − 1.
     */
    const timePairs = async (prompts: number[][], n: number, warmTokens: number, promptLen: number) => {
      const w0 = performance.now();
      await gen(prompts, warmTokens, false, false);
      const side = { plain: { ts: [] as number[], steps: [] as number[] }, steered: { ts: [] as number[], steps: [] as number[] } };
      const ratios: number[] = [];
      for (let i = 0; i < plan.steerPairs; i++) {
        const order = i % 2 === 0 ? [false, true] : [true, false];
        const got: Record<string, number> = {};
        for (const steered of order) {
          const g = await gen(prompts, n, steered);
          const x = steered ? side.steered : side.plain;
          x.ts.push(g.s);
          x.steps.push(...g.steps);
          got[String(steered)] = g.s;
        }
        ratios.push(got.true / got.false - 1);
      }
      const wallS = (performance.now() - w0) / 1000 / 2;
      const plain = measure(side.plain.ts, prompts.length * n, { stepTimesS: side.plain.steps, wallS });
      const steered = { ...measure(side.steered.ts, prompts.length * n, { stepTimesS: side.steered.steps, wallS }), pairRatios: ratios.map((x) => +x.toFixed(4)) };
      cells.set(key('gen', prompts.length, promptLen), plain);
      cells.set(key('steered-gen', prompts.length, promptLen), steered);
      logCell('gen', prompts.length, promptLen, plain);
      logCell('steered-gen', prompts.length, promptLen, steered);
    };
    const P = promptFor(plan, m);
    res.probes = [];
    await genCells(plan, o.threads, res.probes, async (b, ws) => {
      const prompts = makePrompts(b, P, m.vocab);
      if (pairedSteering(plan)) await timePairs(prompts, newTokensAt(plan, b), plan.warmupTokens, P);
      else for (const w of ws) await timeGen(w, prompts, newTokensAt(plan, b), w === 'steered-gen', plan.warmupTokens, P);
    }, o.log);
    if (has(plan, 'capture') || has(plan, 'capture-batched')) {
      const items = makeCaptureItems(plan.captureItems, m.vocab, m.maxPositions);
      const tokens = items.reduce((a, i) => a + i.prompt.length + i.response.length, 0);
      const req = { modelId, items: items.map((i) => ({ prompt: { ids: i.prompt }, response: { ids: i.response } })), reductions: ['prompt_avg', 'response_avg', 'prompt_last'] as ('prompt_avg' | 'response_avg' | 'prompt_last')[] };
      const w0 = performance.now();
      await client.capture({ ...req, items: req.items.slice(0, Math.min(16, items.length)) });
      const ts: number[] = [];
      let last: Awaited<ReturnType<typeof client.capture>> | undefined;
      for (let r = 0; r < plan.reps; r++) {
        const t = performance.now();
        last = await client.capture(req);
        ts.push((performance.now() - t) / 1000);
      }
      const mm: Measure = measure(ts, tokens, { wallS: (performance.now() - w0) / 1000 });
      // the forwards the worker ran (for the padding it executed), rebuilt by its rule and checked against its batch size
      mm.itemTokens = last!.items.map((x) => x.tokenIds.length);
      const chunks = last!.batching ? oursCaptureChunks(info.config, mm.itemTokens, last!.batching.budgetBytes, req.reductions.length) : [];
      mm.chunks = chunks.length && Math.max(...chunks.map((c) => c.rows)) === last!.batching!.batchSize ? chunks : null;
      // ours batches internally: the same measurement stands against both peer variants
      cells.set(key('capture', 1, 0), mm);
      cells.set(key('capture-batched', 1, 0), mm);
      o.log(`    ours ${o.format} capture ${items.length} pairs: ${mm.tokS.toFixed(1)} tok/s${mm.chunks ? ` (${mm.chunks.length} forwards: ${mm.chunks.map((c) => `${c.rows}×${c.seqLen}`).join(', ')})` : ''}`);
      await probeNear(o.threads, res.probes, 'after-capture', { gemm: true }, o.log);
    }
    if (has(plan, 'scaling')) {
      for (const b of plan.scaleBatches) await timeGen('scale-batch', makePrompts(b, P, m.vocab), plan.scaleNewTokens, false, Math.min(4, plan.scaleNewTokens), P);
      for (const p of scalePromptsFor(plan, m)) {
        const pr = makePrompts(1, p, m.vocab);
        await gen(pr, 1, false);
        const ts: number[] = [];
        for (let r = 0; r < plan.reps; r++) ts.push((await gen(pr, 1, false)).s);
        const mm = measure(ts, p);
        cells.set(key('scale-prompt', 1, p), mm);
        o.log(`    ours ${o.format} prefill p${p}: ${mm.tokS.toFixed(1)} tok/s`);
      }
    }
    res.peakRssBytes = peakRss(client.pid);
    return res;
  } finally {
    await client.dispose();
  }
}

// ------------------------------------------------------------------ peer
export interface PeerProbe { threads: PeerThreads; s: number; detail: Record<string, number> }

/** A short probe for the thread search: batch-1 and batch-16 generation and a batched capture. */
async function probe(peer: TorchPeer, m: BenchModel, plan: Plan): Promise<Record<string, number>> {
  const P = promptFor(plan, m);
  const n = Math.min(6, plan.newTokens);
  const b1 = await peer.request<{ times_s: number[] }>({ cmd: 'gen', prompts: makePrompts(1, P, m.vocab), new_tokens: n, warmup: 1, warmup_tokens: 2, reps: 1 });
  const bMax = Math.min(16, Math.max(...plan.batches));
  const b16 = await peer.request<{ times_s: number[] }>({ cmd: 'gen', prompts: makePrompts(bMax, P, m.vocab), new_tokens: n, warmup: 1, warmup_tokens: 2, reps: 1 });
  const items = makeCaptureItems(plan.peerCaptureBatch, m.vocab, m.maxPositions);
  const cap = await peer.request<{ times_s: number[] }>({ cmd: 'capture', items, batch: plan.peerCaptureBatch, warmup: 0, reps: 1 });
  return { gen_b1_s: b1.times_s[0], [`gen_b${bMax}_s`]: b16.times_s[0], [`capture${items.length}_s`]: cap.times_s[0] };
}

/** Every (intra-op, BLAS) thread pair up to `threads`: the one with the lowest geometric-mean probe time wins. */
export function threadCandidates(threads: number): PeerThreads[] {
  const vals = [...new Set([1, threads])];
  return vals.flatMap((intra) => vals.map((blas) => ({ intra, blas })));
}

export async function searchPeerThreads(python: string, m: BenchModel, plan: Plan, threads: number, log: (m: string) => void): Promise<{ best: PeerThreads; probes: PeerProbe[] }> {
  const probes: PeerProbe[] = [];
  for (const t of threadCandidates(threads)) {
    const peer = TorchPeer.start(python, t);
    try {
      await peer.request({ cmd: 'load', path: m.dir });
      const detail = await probe(peer, m, plan);
      const s = Math.exp(Object.values(detail).reduce((a, x) => a + Math.log(x), 0) / Object.values(detail).length);
      probes.push({ threads: t, s: +s.toFixed(4), detail });
      log(`    peer threads intra=${t.intra} blas=${t.blas}: probe ${s.toFixed(3)} s (geo-mean)`);
    } finally {
      await peer.close();
    }
  }
  const best = probes.reduce((a, b) => (b.s < a.s ? b : a)).threads;
  return { best, probes };
}

/** `machineThreads`: the thread budget the machine probes measure at (the bench's --threads, as for ours). */
export async function runPeer(python: string, m: BenchModel, plan: Plan, threads: PeerThreads, log: (m: string) => void, machineThreads = Math.max(threads.intra, threads.blas)): Promise<SideResult> {
  const cells = new Map<string, Measure>();
  const peer = TorchPeer.start(python, threads);
  try {
    const hello = await peer.request<{ torch: string; intra_op_threads: number }>({ cmd: 'hello' });
    const ld = await peer.request<{ load_s: number; peak_rss: number; weight_bytes: number }>({ cmd: 'load', path: m.dir });
    const res: SideResult = {
      settings: { kind: 'pytorch-eager', torch: hello.torch, intraOpThreads: threads.intra, blasThreads: threads.blas, format: 'f32', weightBytes: ld.weight_bytes },
      cells, loadMs: ld.load_s * 1000, loadLoadavg: loadNow(), peakRssAfterLoadBytes: ld.peak_rss, residentWeightBytes: ld.weight_bytes, kvBytesPerToken: m.kvBytesPerPosition,
    };
    const P = promptFor(plan, m);
    const L = m.layers;
    const steer = { vector: steerVector(m.hidden), layer: Math.floor(L / 2), coef: plan.steerCoef, positions: 'response' };
    const gen = async (workload: string, prompts: number[][], n: number, steered: boolean, warmTokens: number, promptLen: number) => {
      const w0 = performance.now();
      const r = await peer.request<{ times_s: number[]; tokens: number; step_times_s: number[] }>({ cmd: 'gen', prompts, new_tokens: n, steer: steered ? steer : null, warmup: 1, warmup_tokens: warmTokens, reps: plan.reps });
      const mm = measure(r.times_s, r.tokens, { stepTimesS: r.step_times_s, wallS: (performance.now() - w0) / 1000 });
      cells.set(key(workload, prompts.length, promptLen), mm);
      log(`    peer ${workload} b${prompts.length} p${promptLen}: ${mm.tokS.toFixed(1)} tok/s${mm.stepS ? `, decode step ${(mm.stepS * 1000).toFixed(1)} ms (median of ${mm.steps})` : ''} (load ${mm.loadavg?.[0]})`);
    };
    res.probes = [];
    await genCells(plan, machineThreads, res.probes, async (b, ws) => {
      for (const w of ws) await gen(w, makePrompts(b, P, m.vocab), newTokensAt(plan, b), w === 'steered-gen', plan.warmupTokens, P);
    }, log);
    const items = makeCaptureItems(plan.captureItems, m.vocab, m.maxPositions);
    for (const [w, batch] of [['capture', 0], ['capture-batched', plan.peerCaptureBatch]] as const) {
      if (!has(plan, w)) continue;
      const w0 = performance.now();
      const r = await peer.request<{ times_s: number[]; tokens: number }>({ cmd: 'capture', items, batch, warmup: 0, reps: plan.reps });
      const mm = measure(r.times_s, r.tokens, { wallS: (performance.now() - w0) / 1000 });
      cells.set(key(w, 1, 0), mm);
      log(`    peer ${w}${batch ? ` (batch ${batch})` : ' (one sequence per forward)'}: ${mm.tokS.toFixed(1)} tok/s`);
    }
    if (has(plan, 'capture') || has(plan, 'capture-batched')) await probeNear(machineThreads, res.probes, 'after-capture', { gemm: true }, log);
    if (has(plan, 'scaling')) {
      for (const b of plan.scaleBatches) await gen('scale-batch', makePrompts(b, P, m.vocab), plan.scaleNewTokens, false, Math.min(4, plan.scaleNewTokens), P);
      for (const p of scalePromptsFor(plan, m)) {
        const r = await peer.request<{ times_s: number[] }>({ cmd: 'gen', prompts: makePrompts(1, p, m.vocab), new_tokens: 1, warmup: 1, reps: plan.reps });
        cells.set(key('scale-prompt', 1, p), measure(r.times_s, p));
        log(`    peer prefill p${p}: ${(p / median(r.times_s)).toFixed(1)} tok/s`);
      }
    }
    res.peakRssBytes = (await peer.request<{ peak_rss: number }>({ cmd: 'rss' })).peak_rss;
    return res;
  } finally {
    await peer.close();
  }
}

export const relToRoot = (root: string, p: string) => path.relative(root, p) || '.';
