/**
 * Turns the two sides' measurements into the bench's cells, summary figures and Markdown table
 * (the shape of bench/results/latest.json is defined here).
 */
import type { LlamaCppResult } from './llamacpp.js';
import { bestOf, type Probe } from './machine.js';
import type { BenchModel } from './models.js';
import { key, scalePromptsFor, type Measure, type SideResult } from './sides.js';
import { FORMAT_BYTES_PER_PARAM, makeCaptureItems, maxNewTokens, median, newTokensAt, planFor, type Plan } from './workloads.js';
import { captureRealFlops, chunksFlops, genFlops, peerCaptureChunks } from './flops.js';

export interface Cell {
  workload: string;
  model: string;
  format: string;
  batch: number | null;
  ours_tok_s: number | null;
  peer_tok_s: number | null;
  /** ours / peer (> 1: ours faster); for `load`, peer time / our time. */
  ratio: number | null;
  prompt_tokens?: number;
  items?: number;
  ours_ms?: number | null;
  peer_ms?: number | null;
  ours_peak_rss_bytes?: number | null;
  peer_peak_rss_bytes?: number | null;
  /** Which peer the peer column is: the PyTorch eager peer (default) or llama.cpp. */
  peer?: string;
  /** os.loadavg() (1, 5, 15 min) when each side's measurement of this cell ended: the conditions it ran under. */
  ours_loadavg?: number[] | null;
  peer_loadavg?: number[] | null;
  /** Seconds each side spent on the cell, warm-up included (what a plan's budget is made of). */
  ours_wall_s?: number | null;
  peer_wall_s?: number | null;
  note?: string;
  /**
   * Compute-bound cells (generation at batch > 1, capture): GFLOP/s on the real tokens (flops.ts: 2 · layer matrix
   * parameters per token + attention + the LM head where logits are computed), the same counting what each side
   * executes with its padding (`*_executed`; `*_padding_flops` = executed / real − 1), and their fraction of the GEMM
   * peak probed next to that side's cells (`gemm_peak_gflop_s`, `peer_gemm_peak_gflop_s`; onnxruntime's f32 Gemm).
   * Generation cells add the decode steps alone (`*_decode_*`: FLOPs of a step at the mean context / the median step).
   */
  ours_gflop_s?: number | null;
  peer_gflop_s?: number | null;
  ours_gflop_s_executed?: number | null;
  peer_gflop_s_executed?: number | null;
  ours_padding_flops?: number | null;
  peer_padding_flops?: number | null;
  gemm_peak_gflop_s?: number | null;
  peer_gemm_peak_gflop_s?: number | null;
  gemm_fraction?: number | null;
  peer_gemm_fraction?: number | null;
  ours_decode_step_ms?: number | null;
  peer_decode_step_ms?: number | null;
  ours_decode_gflop_s?: number | null;
  peer_decode_gflop_s?: number | null;
  decode_gemm_fraction?: number | null;
  peer_decode_gemm_fraction?: number | null;
  /**
   * The ratio ours would reach if it ran the cell's real FLOPs at its GEMM peak (peak / the peer's real GFLOP/s):
   * a target above it cannot be met on this machine without doing less work than the FLOP count.
   */
  ratio_ceiling?: number | null;
  /** steered-gen (ours, interleaved pairs): median, min and max over the pairs of steered / plain seconds − 1. */
  steering_overhead_median?: number | null;
  steering_overhead_min?: number | null;
  steering_overhead_max?: number | null;
  steering_pairs?: number;
}

export interface ModelRun {
  model: BenchModel;
  peer?: SideResult;
  peerSkipped?: string;
  ours: Map<string, SideResult>;
  llamaCpp?: LlamaCppResult[];
  llamaCppSkipped?: string;
}

const cond = (side: 'ours' | 'peer', m: Measure | undefined): Partial<Cell> => ({ [`${side}_loadavg`]: m?.loadavg ?? null, [`${side}_wall_s`]: m?.wallS ?? null });

const GGUF_FOR: Record<string, string> = { f32: 'F32', int8: 'Q8_0', int4: 'Q4_0' };

const r = (x: number | null | undefined, d = 2) => (x === null || x === undefined || !Number.isFinite(x) ? null : +x.toFixed(d));

/** Parameters that a decode step multiplies with (everything but the embedding table; tied heads count once). */
export function matmulParams(m: BenchModel): number {
  return m.tied ? m.params : m.params - m.vocab * m.hidden;
}

/** The highest GEMM peak a side probed (next to its largest batch and after its capture); else the run's figure. */
export function sideGemmPeak(side: SideResult | undefined, fallback: number | null = null): number | null {
  return bestOf(side?.probes, 'gemmGflops') ?? fallback;
}

const frac = (x: number | null, peak: number | null) => (x !== null && peak ? x / peak : null);
const gflops = (flops: number, seconds: number | undefined) => (seconds ? flops / seconds / 1e9 : null);

/** A generation cell's GFLOP/s fields (batch > 1: at batch 1 a decode step is bound by memory, not by the GEMM peak). */
export function genFlopFields(m: BenchModel, plan: Plan, batch: number, P: number, o: Measure | undefined, p: Measure | undefined, gemmOurs: number | null, gemmPeer: number | null, format = 'f32'): Partial<Cell> {
  if (batch < 2) return {};
  const f = genFlops(m, batch, P, newTokensAt(plan, batch), !['int8', 'int4'].includes(format));
  const og = o ? gflops(f.real, o.s) : null, pg = p ? gflops(f.real, p.s) : null;
  const od = gflops(f.stepReal, o?.stepS), pd = gflops(f.stepReal, p?.stepS);
  return {
    ours_gflop_s: r(og, 1), peer_gflop_s: r(pg, 1),
    ours_gflop_s_executed: o ? r(gflops(f.oursExecuted, o.s), 1) : null, peer_gflop_s_executed: r(pg, 1),
    ours_padding_flops: r(f.oursExecuted / f.real - 1, 3), peer_padding_flops: 0,
    gemm_peak_gflop_s: o ? gemmOurs : null, peer_gemm_peak_gflop_s: p ? gemmPeer : null,
    gemm_fraction: r(frac(og, gemmOurs), 3), peer_gemm_fraction: r(frac(pg, gemmPeer), 3),
    ours_decode_step_ms: r(o?.stepS ? o.stepS * 1000 : null, 1), peer_decode_step_ms: r(p?.stepS ? p.stepS * 1000 : null, 1),
    ours_decode_gflop_s: r(od, 1), peer_decode_gflop_s: r(pd, 1),
    decode_gemm_fraction: r(frac(od, gemmOurs), 3), peer_decode_gemm_fraction: r(frac(pd, gemmPeer), 3),
    ratio_ceiling: pg && gemmOurs ? r(gemmOurs / pg, 2) : null,
  };
}

/** A capture cell's GFLOP/s fields: real = each item alone; executed = ours' padded forwards / the peer's batches (none one by one). */
export function captureFlopFields(m: BenchModel, plan: Plan, o: Measure | undefined, p: Measure | undefined, peerBatch: number, gemmOurs: number | null, gemmPeer: number | null): Partial<Cell> {
  const lens = makeCaptureItems(plan.captureItems, m.vocab, m.maxPositions).map((i) => i.prompt.length + i.response.length);
  const real = captureRealFlops(m, lens);
  const oursExec = o?.chunks ? chunksFlops(m, o.chunks) : null;
  const peerExec = peerBatch > 1 ? chunksFlops(m, peerCaptureChunks(lens, peerBatch)) : real;
  const og = o ? gflops(real, o.s) : null, pg = p ? gflops(real, p.s) : null;
  return {
    ours_gflop_s: r(og, 1), peer_gflop_s: r(pg, 1),
    ours_gflop_s_executed: o && oursExec !== null ? r(gflops(oursExec, o.s), 1) : null, peer_gflop_s_executed: p ? r(gflops(peerExec, p.s), 1) : null,
    ours_padding_flops: oursExec !== null ? r(oursExec / real - 1, 3) : null, peer_padding_flops: r(peerExec / real - 1, 3),
    gemm_peak_gflop_s: o ? gemmOurs : null, peer_gemm_peak_gflop_s: p ? gemmPeer : null,
    gemm_fraction: r(frac(og, gemmOurs), 3), peer_gemm_fraction: r(frac(pg, gemmPeer), 3),
    ratio_ceiling: pg && gemmOurs ? r(gemmOurs / pg, 2) : null,
  };
}

/** Median, min and max of a steered cell's paired ratios (steered / plain − 1). */
export function pairStats(mm: Measure | undefined): { median: number; min: number; max: number; pairs: number; ratios: number[] } | null {
  const xs = mm?.pairRatios;
  if (!xs?.length) return null;
  return { median: r(median(xs), 4)!, min: r(Math.min(...xs), 4)!, max: r(Math.max(...xs), 4)!, pairs: xs.length, ratios: xs };
}

export function buildCells(runs: ModelRun[], plan: Plan, gemmFallback: number | null = null): Cell[] {
  const cells: Cell[] = [];
  for (const run of runs) {
    const m = run.model;
    const P = Math.min(plan.promptTokens, m.maxPositions - maxNewTokens(plan) - 1);
    const peer = run.peer;
    const gemmPeer = sideGemmPeak(peer, gemmFallback);
    for (const [format, ours] of run.ours) {
      if (ours.skipped) continue;
      const fplan = planFor(plan, format);
      const gemmOurs = sideGemmPeak(ours, gemmFallback);
      const pair = (workload: string, batch: number, prompt: number, extra: Partial<Cell> = {}, cellWorkload = workload) => {
        const o = ours.cells.get(key(workload, batch, prompt));
        const p = peer?.cells.get(key(workload, batch, prompt));
        if (!o && !p) return;
        const flops = workload === 'gen' || workload === 'steered-gen' ? genFlopFields(m, fplan, batch, prompt, o, p, gemmOurs, gemmPeer, format)
          : workload === 'capture' ? captureFlopFields(m, fplan, o, p, 1, gemmOurs, gemmPeer)
            : workload === 'capture-batched' ? captureFlopFields(m, fplan, o, p, fplan.peerCaptureBatch, gemmOurs, gemmPeer) : {};
        const st = workload === 'steered-gen' ? pairStats(o) : null;
        cells.push({
          workload: cellWorkload, model: m.name, format, batch: extra.batch !== undefined ? extra.batch : batch,
          ours_tok_s: r(o?.tokS, 1), peer_tok_s: r(p?.tokS, 1), ratio: o && p ? r(o.tokS / p.tokS, 2) : null, ...extra, ...cond('ours', o), ...cond('peer', p),
          ...flops, ...(st ? { steering_overhead_median: st.median, steering_overhead_min: st.min, steering_overhead_max: st.max, steering_pairs: st.pairs } : {}),
        });
      };
      // the peer's cells exist at every batch of the plan; ours only at this format's
      for (const w of ['gen', 'steered-gen']) for (const b of fplan.batches) if (fplan.workloads.includes(w as Plan['workloads'][number])) pair(w, b, P, { prompt_tokens: P });
      if (fplan.workloads.includes('capture')) pair('capture', 1, 0, { items: plan.captureItems, batch: 1, note: 'peer: one sequence per forward (upstream get_hidden_p_and_r); ours: auto-batched' });
      if (fplan.workloads.includes('capture-batched')) pair('capture-batched', 1, 0, { items: plan.captureItems, batch: plan.peerCaptureBatch, note: `peer: right-padded batches of ${plan.peerCaptureBatch}; ours: auto-batched` });
      if (fplan.workloads.includes('load')) {
        cells.push({
          workload: 'load', model: m.name, format, batch: null, ours_tok_s: null, peer_tok_s: null,
          ours_ms: r(ours.loadMs, 0), peer_ms: r(peer?.loadMs, 0), ratio: ours.loadMs && peer?.loadMs ? r(peer.loadMs / ours.loadMs, 2) : null,
          ours_peak_rss_bytes: ours.peakRssBytes ?? null, peer_peak_rss_bytes: peer?.peakRssBytes ?? null, ours_loadavg: ours.loadLoadavg ?? null, peer_loadavg: peer?.loadLoadavg ?? null,
          note: 'ours: warm compile cache, fresh worker; peer: safetensors → torch tensors (float32)',
        });
      }
      // batch-1 decode: 1 / the median decode step (timed one by one, prefill excluded), against the torch peer (f32)
      // and llama.cpp in the matching GGUF type
      const oursDecode = decodeB1(ours, P);
      if (oursDecode !== null) {
        const peerDecode = peer ? decodeB1(peer, P) : null;
        const og = ours.cells.get(key('gen', 1, P)), pg = peer?.cells.get(key('gen', 1, P));
        cells.push({
          workload: 'decode-b1', model: m.name, format, batch: 1, ours_tok_s: r(oursDecode, 1), peer_tok_s: r(peerDecode, 1), ratio: peerDecode ? r(oursDecode / peerDecode, 2) : null, peer: 'pytorch-eager f32',
          ...cond('ours', og), ...cond('peer', pg), note: `1 / median decode step (ours over ${og?.steps ?? 0} steps, peer over ${pg?.steps ?? 0}), from the gen b1 cell`,
        });
        const lc = (run.llamaCpp ?? []).filter((x) => x.type === GGUF_FOR[format]);
        if (lc.length) {
          const best = lc.reduce((a, b) => (b.decode_b1_tok_s > a.decode_b1_tok_s ? b : a));
          cells.push({
            workload: 'decode-b1', model: m.name, format, batch: 1, ours_tok_s: r(oursDecode, 1), peer_tok_s: best.decode_b1_tok_s, ratio: r(oursDecode / best.decode_b1_tok_s, 2),
            peer: `llama.cpp ${best.type}`, ...cond('ours', og), peer_loadavg: best.loadavg ?? null,
            note: `llama.cpp (1 / median token interval) best of ${lc.map((x) => `${x.threads} thread(s): ${x.decode_b1_tok_s}`).join(', ')} tok/s`,
          });
        }
      }
      for (const b of fplan.workloads.includes('scaling') ? fplan.scaleBatches : []) pair('scale-batch', b, P, { prompt_tokens: P });
      for (const p of fplan.workloads.includes('scaling') ? scalePromptsFor(fplan, m) : []) pair('scale-prompt', 1, p, { prompt_tokens: p, note: 'prefill tokens/s (one new token)' });
    }
    // llama.cpp types with no format of ours in this run (the quick plan runs Q4_0 without int4): their rows, ours empty
    for (const [format, type] of Object.entries(GGUF_FOR)) {
      if (run.ours.has(format) && !run.ours.get(format)!.skipped) continue;
      const lc = (run.llamaCpp ?? []).filter((x) => x.type === type);
      if (!lc.length) continue;
      const best = lc.reduce((a, b) => (b.decode_b1_tok_s > a.decode_b1_tok_s ? b : a));
      cells.push({
        workload: 'decode-b1', model: m.name, format, batch: 1, ours_tok_s: null, peer_tok_s: best.decode_b1_tok_s, ratio: null, peer: `llama.cpp ${best.type}`,
        ours_loadavg: null, peer_loadavg: best.loadavg ?? null, note: `ours not run in ${format}; llama.cpp (1 / median token interval) best of ${lc.map((x) => `${x.threads} thread(s): ${x.decode_b1_tok_s}`).join(', ')} tok/s`,
      });
    }
  }
  return cells;
}

export interface Summary {
  /** Batch-1 decode rate over the read-bandwidth bound (read bandwidth measured next to the cell / bytes read per token). */
  bandwidth_fraction_b1: Record<string, Record<string, number | null>>;
  /** The same against the copy (read + write) bandwidth, as earlier runs reported it: lower, for reference only. */
  bandwidth_fraction_b1_vs_copy: Record<string, Record<string, number | null>>;
  rss_over_weight_bytes: number | null;
  rss_over_weight_bytes_at: { model: string; format: string } | null;
  steering_overhead: number | null;
  steering_overhead_at: { model: string; format: string } | null;
  /**
   * Per `model/format` (ours) and per batch: the median, min and max over the interleaved pairs of steered / plain
   * seconds − 1 (with the ratios); where a run had no pairs, the two cells' ratio − 1 as median = min = max, pairs 0.
   */
  steering_overhead_by_batch: Record<string, Record<string, { median: number; min: number; max: number; pairs: number; ratios?: number[] }>>;
  /** Decode steps at the largest batch: GFLOP/s (real tokens, median step) over the GEMM peak probed next to them, per model and side. */
  gemm_fraction_decode_max_batch: Record<string, Record<string, number | null>>;
  detail: Record<string, unknown>;
}

/** Batch-1 decode tokens/s: one token per median decode step of the gen b1 cell (each step timed on its own). */
export function decodeB1(side: SideResult, P: number): number | null {
  const g = side.cells.get(key('gen', 1, P));
  return g?.stepS ? 1 / g.stepS : null;
}

/** Read/copy bandwidth next to the batch-1 cells and GEMM peak next to the largest batch, per side; else the run's. */
function nearFigures(side: SideResult, fallback: { read: number; copy?: number; gemm: number }) {
  const near = (label: (p: Probe) => boolean) => (side.probes ?? []).filter(label);
  const b1 = near((p) => p.label.endsWith('-b1'));
  const big = near((p) => !p.label.endsWith('-b1'));
  const read = bestOf(b1, 'readGBs'), copy = bestOf(b1, 'copyGBs'), gemm = bestOf(big, 'gemmGflops');
  return {
    read: read ?? fallback.read, copy: copy ?? fallback.copy ?? null, gemm: gemm ?? fallback.gemm,
    readFrom: read ? 'probes before/after the b1 cells' : 'whole-run figure', gemmFrom: gemm ? 'probes before/after the largest batch' : 'whole-run figure',
    loadavg: b1.map((p) => p.loadavg[0]),
  };
}

export function buildSummary(runs: ModelRun[], plan: Plan, bandwidthGBs: number, gemmGflops: number, copyGBs?: number): Summary {
  const bw: Summary['bandwidth_fraction_b1'] = {};
  const bwCopy: Summary['bandwidth_fraction_b1_vs_copy'] = {};
  const memory: Record<string, unknown> = {};
  const steering: Record<string, number | null> = {};
  const decode: Record<string, unknown> = {};
  const gemm: Record<string, unknown> = {};
  const steerByBatch: Summary['steering_overhead_by_batch'] = {};
  const gemmDecode: Summary['gemm_fraction_decode_max_batch'] = {};
  const largest = [...runs].sort((a, b) => b.model.params - a.model.params)[0];
  let rss: { v: number; format: string } | null = null;
  let steerTop: number | null = null;
  let steerAt: Summary['steering_overhead_at'] = null;
  for (const run of runs) {
    const m = run.model;
    const P = Math.min(plan.promptTokens, m.maxPositions - maxNewTokens(plan) - 1);
    const nB1 = plan.newTokensByBatch?.[1] ?? plan.newTokens;
    bw[m.name] = {};
    bwCopy[m.name] = {};
    gemmDecode[m.name] = {};
    const sides: [string, SideResult | undefined, string][] = [...[...run.ours].map(([f, s]) => [f, s, f] as [string, SideResult, string]), ['peer_f32', run.peer, 'f32']];
    for (const [label, side, format] of sides) {
      if (!side || side.skipped) continue;
      // bytes read per decode step: the matmul share of the resident weights + the KV cache at the mean context
      const resident = side.residentWeightBytes ?? m.params * FORMAT_BYTES_PER_PARAM[format];
      const kvBytes = (P + nB1 / 2) * (side.kvBytesPerToken ?? m.kvBytesPerPosition);
      const bytesPerToken = resident * (matmulParams(m) / m.params) + kvBytes;
      const d = decodeB1(side, P);
      const near = nearFigures(side, { read: bandwidthGBs, copy: copyGBs, gemm: gemmGflops });
      const boundTokS = (near.read * 1e9) / bytesPerToken;
      bw[m.name][label] = d === null ? null : r(d / boundTokS, 3);
      bwCopy[m.name][label] = d === null || !near.copy ? null : r((d * bytesPerToken) / (near.copy * 1e9), 3);
      const g1 = side.cells.get(key('gen', 1, P));
      decode[`${m.name}/${label}`] = {
        decode_tok_s: r(d, 2), median_step_ms: g1?.stepS ? r(g1.stepS * 1000, 2) : null, steps: g1?.steps ?? 0, bytes_per_token: Math.round(bytesPerToken),
        read_gb_s: near.read, copy_gb_s: near.copy, read_from: near.readFrom, bound_tok_s: r(boundTokS, 2), achieved_gb_s: d === null ? null : r((d * bytesPerToken) / 1e9, 2),
        probe_loadavg: near.loadavg, cell_loadavg: g1?.loadavg ?? null,
      };
      const fplan = label === 'peer_f32' ? plan : planFor(plan, format);
      const bMax = Math.max(...fplan.batches);
      const g = side.cells.get(key('gen', bMax, P));
      if (g && bMax > 1) {
        const peak = sideGemmPeak(side, gemmGflops);
        const f = genFlopFields(m, fplan, bMax, P, g, undefined, peak, null, format);
        gemm[`${m.name}/${label}`] = {
          batch: bMax, gflop_s: f.ours_gflop_s, gflop_s_executed: f.ours_gflop_s_executed, padding_flops: label === 'peer_f32' ? 0 : f.ours_padding_flops,
          decode_step_ms: f.ours_decode_step_ms, decode_gflop_s: f.ours_decode_gflop_s, gemm_peak_gflop_s: peak, gemm_from: near.gemmFrom,
          fraction_of_gemm_peak: f.gemm_fraction, decode_fraction_of_gemm_peak: f.decode_gemm_fraction, cell_loadavg: g.loadavg ?? null,
        };
        gemmDecode[m.name][label] = f.decode_gemm_fraction ?? null;
      }
      if (label !== 'peer_f32') {
        const formatBytes = side.residentWeightBytes ?? m.params * FORMAT_BYTES_PER_PARAM[format];
        memory[`${m.name}/${label}`] = {
          format_bytes: Math.round(formatBytes), file_bytes: m.fileBytes, rss_after_load: side.rssAfterLoadBytes ?? null,
          peak_rss_after_load: side.peakRssAfterLoadBytes ?? null, peak_rss: side.peakRssBytes ?? null,
          peak_over_format_bytes: side.peakRssBytes ? r(side.peakRssBytes / formatBytes, 2) : null,
          peak_over_file_bytes: side.peakRssBytes ? r(side.peakRssBytes / m.fileBytes, 2) : null,
          kv_cache_bytes_b16: Math.round(16 * (P + maxNewTokens(plan)) * (side.kvBytesPerToken ?? m.kvBytesPerPosition)),
        };
        if (run === largest && side.peakRssBytes) {
          const v = side.peakRssBytes / formatBytes;
          if (!rss || v < rss.v) rss = { v, format };
        }
        let worst: number | null = null;
        const byBatch: Summary['steering_overhead_by_batch'][string] = {};
        for (const b of fplan.batches) {
          const a = side.cells.get(key('gen', b, P)), s = side.cells.get(key('steered-gen', b, P));
          if (!a || !s) continue;
          const st = pairStats(s) ?? { median: r(a.tokS / s.tokS - 1, 4)!, min: r(a.tokS / s.tokS - 1, 4)!, max: r(a.tokS / s.tokS - 1, 4)!, pairs: 0 };
          byBatch[String(b)] = st;
          worst = Math.max(worst ?? -Infinity, st.median);
        }
        if (Object.keys(byBatch).length) steerByBatch[`${m.name}/${label}`] = byBatch;
        steering[`${m.name}/${label}`] = r(worst, 4);
        if (run === largest && worst !== null && (steerAt === null || format === 'f32')) { steerTop = worst; steerAt = { model: m.name, format }; }
      } else {
        memory[`${m.name}/peer_f32`] = { peak_rss: side.peakRssBytes ?? null, peak_over_f32_bytes: side.peakRssBytes ? r(side.peakRssBytes / (m.params * 4), 2) : null };
        let worst: number | null = null;
        for (const b of plan.batches) {
          const a = side.cells.get(key('gen', b, P)), s = side.cells.get(key('steered-gen', b, P));
          if (a && s) worst = Math.max(worst ?? -Infinity, a.tokS / s.tokS - 1);
        }
        steering[`${m.name}/peer_f32`] = r(worst, 3);
      }
    }
  }
  return {
    bandwidth_fraction_b1: bw,
    bandwidth_fraction_b1_vs_copy: bwCopy,
    rss_over_weight_bytes: rss ? r(rss.v, 2) : null,
    rss_over_weight_bytes_at: rss ? { model: largest.model.name, format: rss.format } : null,
    steering_overhead: r(steerTop, 4),
    steering_overhead_at: steerAt,
    steering_overhead_by_batch: steerByBatch,
    gemm_fraction_decode_max_batch: gemmDecode,
    detail: { decode_b1: decode, gemm_at_max_batch: gemm, memory, steering_overhead: steering },
  };
}

const fmt = (x: number | null | undefined, d = 1) => (x === null || x === undefined ? '—' : x.toFixed(d));
const mb = (x: number | null | undefined) => (x ? `${Math.round(x / 1048576)} MB` : '—');

/** One of the issue's targets checked against a figure: `ok` null when the figure is missing. */
export interface Verdict { target: string; value: number | null; ok: boolean | null }

/**
 * The issue's targets (set for the ~1 B model, 2 threads, against the tuned peer) that apply to a cell:
 * f32 generation ≥ 2 × at batch 1 (and batch-1 decode) and ≥ 1.5 × at 16 / 64, capture ≥ 3 × the one-by-one
 * peer and ≥ 1.5 × the batched one, batch-64 decode ≥ 0.60 of the GEMM peak; int8 batch-1 decode ≥ 5 × the f32
 * peer and ≥ llama.cpp Q8_0, batched generation ≥ 2 ×; int4 batch-1 decode ≥ llama.cpp Q4_0; steering overhead
 * ≤ 3 % at every batch size; load ≤ 1 s (warm compile cache). `maxBatch`: the largest generation batch of the
 * cell's model and format.
 */
export function cellTargets(c: Cell, maxBatch: number): Verdict[] {
  const out: Verdict[] = [];
  const check = (target: string, value: number | null | undefined, ok: (v: number) => boolean) => out.push({ target, value: value ?? null, ok: value === null || value === undefined ? null : ok(value) });
  const ratio = (min: number) => check(`≥ ${min} ×`, c.ratio, (v) => v >= min);
  const llama = c.peer?.startsWith('llama.cpp') ?? false;
  const b = c.batch ?? 0;
  const gen = c.workload === 'gen' || c.workload === 'steered-gen';
  if (c.format === 'f32') {
    if ((c.workload === 'decode-b1' && !llama) || (gen && b === 1)) ratio(2);
    if (gen && b > 1) ratio(1.5);
    if (c.workload === 'capture') ratio(3);
    if (c.workload === 'capture-batched') ratio(1.5);
    if (c.workload === 'gen' && b > 1 && b === maxBatch) check('decode ≥ 0.60 of GEMM peak', c.decode_gemm_fraction, (v) => v >= 0.6);
  } else if (c.format === 'int8') {
    if (c.workload === 'decode-b1') ratio(llama ? 1 : 5);
    if (gen && b > 1) ratio(2);
  } else if (c.format === 'int4') {
    if (c.workload === 'decode-b1' && llama) ratio(1);
  }
  if (c.workload === 'steered-gen' && c.steering_overhead_median !== undefined) check('steering ≤ 3 %', c.steering_overhead_median, (v) => v <= 0.03);
  if (c.workload === 'load') check('≤ 1000 ms', c.ours_ms, (v) => v <= 1000);
  return out;
}

const verdicts = (vs: Verdict[]) => vs.map((v) => `${v.target}: ${v.ok === null ? 'no figure' : v.ok ? 'met' : '**missed**'}`).join('; ');
const pct = (x: number | null | undefined, d = 1) => (x === null || x === undefined ? '—' : `${(100 * x).toFixed(d)} %`);

function flopsText(c: Cell): string {
  if (c.ours_gflop_s === undefined && c.peer_gflop_s === undefined) return '';
  const parts = [`${fmt(c.ours_gflop_s, 0)} / ${fmt(c.peer_gflop_s, 0)} (${fmt(c.gemm_fraction, 2)} / ${fmt(c.peer_gemm_fraction, 2)})`];
  if (c.ours_decode_gflop_s !== undefined) parts.push(`decode ${fmt(c.ours_decode_gflop_s, 0)} / ${fmt(c.peer_decode_gflop_s, 0)} (${fmt(c.decode_gemm_fraction, 2)} / ${fmt(c.peer_decode_gemm_fraction, 2)})`);
  if (c.ratio_ceiling) parts.push(`ratio at GEMM peak ${fmt(c.ratio_ceiling, 2)} ×`);
  if (c.ours_padding_flops) parts.push(`ours padding +${pct(c.ours_padding_flops, 0)}`);
  if (c.peer_padding_flops) parts.push(`peer padding +${pct(c.peer_padding_flops, 0)}`);
  return parts.join('; ');
}

/**
 * The report: per model and format one table with every cell, the issue's target beside it and whether it is
 * met (so a closing note can quote it as is), then the summary figures.
 */
export function markdown(cells: Cell[], summary: Summary, skipped: { model: string; format: string; reason: string }[], header: string[]): string {
  const lines = [...header];
  const groups = new Map<string, Cell[]>();
  for (const c of cells) {
    const k = `${c.model}|${c.format}`;
    if (!groups.has(k)) groups.set(k, []);
    groups.get(k)!.push(c);
  }
  const load = (c: Cell) => `${fmt(c.ours_loadavg?.[0])} / ${fmt(c.peer_loadavg?.[0])}`;
  // per table: batch-1 decode first, then each batch's plain and steered cells side by side, capture, load, scaling
  const rank = (c: Cell) => ['decode-b1', 'gen', 'capture', 'capture-batched', 'load', 'scale-batch', 'scale-prompt'].indexOf(c.workload === 'steered-gen' ? 'gen' : c.workload);
  for (const [k, cellsOf] of groups) {
    const [model, format] = k.split('|');
    const group = cellsOf.map((c, i) => ({ c, i })).sort((a, b) => rank(a.c) - rank(b.c) || (a.c.workload === 'gen' || a.c.workload === 'steered-gen' ? (a.c.batch ?? 0) - (b.c.batch ?? 0) : 0) || a.i - b.i).map((x) => x.c);
    const maxBatch = Math.max(0, ...group.filter((c) => c.workload === 'gen').map((c) => c.batch ?? 0));
    lines.push('', `### ${model} — ${format}`, '',
      '| workload | batch | ours tok/s | peer | peer tok/s | ratio | GFLOP/s ours / peer (of GEMM peak) | steering (median; min … max) | target (the issue\'s, at ~1 B) | load 1 min (ours / peer) |',
      '|---|---:|---:|---|---:|---:|---|---|---|---|');
    for (const c of group) {
      const peer = c.peer ?? (c.peer_tok_s !== null || c.peer_ms ? 'torch f32' : '—');
      const t = verdicts(cellTargets(c, maxBatch));
      if (c.workload === 'load') {
        lines.push(`| load (ms; peak RSS) | | ${fmt(c.ours_ms, 0)} ms; ${mb(c.ours_peak_rss_bytes)} | ${peer} | ${fmt(c.peer_ms, 0)} ms; ${mb(c.peer_peak_rss_bytes)} | ${fmt(c.ratio, 2)} | | | ${t} | ${load(c)} |`);
        continue;
      }
      const w = c.workload === 'scale-prompt' ? `scale-prompt p${c.prompt_tokens}` : c.workload;
      const st = c.steering_overhead_median !== undefined && c.steering_overhead_median !== null
        ? `${pct(c.steering_overhead_median)}; ${pct(c.steering_overhead_min)} … ${pct(c.steering_overhead_max)} (${c.steering_pairs} pairs)` : '';
      lines.push(`| ${w} | ${c.batch ?? ''} | ${fmt(c.ours_tok_s)} | ${peer} | ${fmt(c.peer_tok_s)} | ${fmt(c.ratio, 2)} | ${flopsText(c)} | ${st} | ${t} | ${load(c)} |`);
    }
    const bwf = summary.bandwidth_fraction_b1[model]?.[format];
    if (bwf !== undefined) lines.push('', `- batch-1 decode: ${fmt(bwf, 2)} of the read-bandwidth bound (target ≥ 0.70: ${bwf === null ? 'no figure' : bwf >= 0.7 ? 'met' : '**missed**'}); the peer ${fmt(summary.bandwidth_fraction_b1[model]?.peer_f32, 2)}`);
    const sb = summary.steering_overhead_by_batch[`${model}/${format}`];
    if (sb) lines.push(`- steering overhead by batch (median of paired steered / plain − 1; min … max): ${Object.entries(sb).map(([b, x]) => `b${b} ${pct(x.median)} (${pct(x.min)} … ${pct(x.max)}, ${x.pairs} pairs)`).join(', ')}`);
  }
  lines.push('');
  lines.push(`- bandwidth_fraction_b1 (of the read bandwidth measured next to the b1 cells): ${JSON.stringify(summary.bandwidth_fraction_b1)}`);
  lines.push(`- the same of the copy (read + write) bandwidth, for reference: ${JSON.stringify(summary.bandwidth_fraction_b1_vs_copy)}`);
  lines.push(`- decode steps at the largest batch, fraction of the GEMM peak probed next to them: ${JSON.stringify(summary.gemm_fraction_decode_max_batch)}`);
  lines.push(`- rss_over_weight_bytes: ${summary.rss_over_weight_bytes ?? '—'}${summary.rss_over_weight_bytes_at ? ` (${summary.rss_over_weight_bytes_at.model}, ${summary.rss_over_weight_bytes_at.format})` : ''}`);
  lines.push(`- steering_overhead (worst median over batch sizes): ${summary.steering_overhead ?? '—'}${summary.steering_overhead_at ? ` (${summary.steering_overhead_at.model}, ${summary.steering_overhead_at.format})` : ''} (target ≤ 0.03)`);
  lines.push('- GFLOP/s: FLOPs of the real tokens (2 · layer matrix parameters per token + attention 4 · H · layers per (query, key) pair + 2 · V · H per LM-head row; scripts/bench/flops.ts) over the cell\'s median seconds; "decode": one step at the mean context over the median step; padding: what each side executes beyond that (ours: rows shorter than the longest in their forward, attention over the zero-past pads of each PAD_ALIGN block, the float batch-1 ghost row; the batched peer: right-padding); GEMM peak: onnxruntime f32 Gemm probed next to each side\'s cells');
  for (const s of skipped) lines.push(`- skipped ${s.model} ${s.format}: ${s.reason}`);
  return lines.join('\n');
}
