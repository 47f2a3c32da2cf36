/**
 * Turns the two sides' measurements into the bench's cells, summary figures and Markdown table
 * (the shape of bench/results/latest.json is defined here).
 */
import type { LlamaCppResult } from './llamacpp.js';
import { bestOf, type Probe } from './machine.js';
import type { BenchModel } from './models.js';
import { key, scalePromptsFor, type Measure, type SideResult } from './sides.js';
import { FORMAT_BYTES_PER_PARAM, maxNewTokens, type Plan } from './workloads.js';

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

export function buildCells(runs: ModelRun[], plan: Plan): Cell[] {
  const cells: Cell[] = [];
  for (const run of runs) {
    const m = run.model;
    const P = Math.min(plan.promptTokens, m.maxPositions - maxNewTokens(plan) - 1);
    const peer = run.peer;
    for (const [format, ours] of run.ours) {
      if (ours.skipped) continue;
      const pair = (workload: string, batch: number, prompt: number, extra: Partial<Cell> = {}, cellWorkload = workload) => {
        const o = ours.cells.get(key(workload, batch, prompt));
        const p = peer?.cells.get(key(workload, batch, prompt));
        if (!o && !p) return;
        cells.push({
          workload: cellWorkload, model: m.name, format, batch: extra.batch !== undefined ? extra.batch : batch,
          ours_tok_s: r(o?.tokS, 1), peer_tok_s: r(p?.tokS, 1), ratio: o && p ? r(o.tokS / p.tokS, 2) : null, ...extra, ...cond('ours', o), ...cond('peer', p),
        });
      };
      for (const w of ['gen', 'steered-gen']) for (const b of plan.batches) pair(w, b, P, { prompt_tokens: P });
      pair('capture', 1, 0, { items: plan.captureItems, batch: 1, note: 'peer: one sequence per forward (upstream get_hidden_p_and_r); ours: auto-batched' });
      pair('capture-batched', 1, 0, { items: plan.captureItems, batch: plan.peerCaptureBatch, note: `peer: right-padded batches of ${plan.peerCaptureBatch}; ours: auto-batched` });
      if (plan.workloads.includes('load')) {
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
      for (const b of plan.scaleBatches) pair('scale-batch', b, P, { prompt_tokens: P });
      for (const p of scalePromptsFor(plan, m)) pair('scale-prompt', 1, p, { prompt_tokens: p, note: 'prefill tokens/s (one new token)' });
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
      const bMax = Math.max(...plan.batches);
      const g = side.cells.get(key('gen', bMax, P));
      if (g) {
        const flops = 2 * matmulParams(m) * bMax * (P + (plan.newTokensByBatch?.[bMax] ?? plan.newTokens) - 1);
        gemm[`${m.name}/${label}`] = { batch: bMax, gflop_s: r(flops / g.s / 1e9, 1), gemm_peak_gflop_s: near.gemm, gemm_from: near.gemmFrom, fraction_of_gemm_peak: r(flops / g.s / 1e9 / near.gemm, 3), cell_loadavg: g.loadavg ?? null };
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
        for (const b of plan.batches) {
          const a = side.cells.get(key('gen', b, P)), s = side.cells.get(key('steered-gen', b, P));
          if (a && s) worst = Math.max(worst ?? -Infinity, a.tokS / s.tokS - 1);
        }
        steering[`${m.name}/${label}`] = r(worst, 3);
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
    steering_overhead: r(steerTop, 3),
    steering_overhead_at: steerAt,
    detail: { decode_b1: decode, gemm_at_max_batch: gemm, memory, steering_overhead: steering },
  };
}

const fmt = (x: number | null | undefined, d = 1) => (x === null || x === undefined ? '—' : x.toFixed(d));
const mb = (x: number | null | undefined) => (x ? `${Math.round(x / 1048576)} MB` : '—');

export function markdown(cells: Cell[], summary: Summary, skipped: { model: string; format: string; reason: string }[], header: string[]): string {
  const lines = [...header, '', '| workload | model | format | batch | ours tok/s | peer tok/s | ratio | load 1 min (ours / peer) |', '|---|---|---|---:|---:|---:|---:|---|'];
  const load = (c: Cell) => `${fmt(c.ours_loadavg?.[0])} / ${fmt(c.peer_loadavg?.[0])}`;
  for (const c of cells) {
    if (c.workload === 'load') {
      lines.push(`| load (ms; peak RSS) | ${c.model} | ${c.format} | | ${fmt(c.ours_ms, 0)} ms; ${mb(c.ours_peak_rss_bytes)} | ${fmt(c.peer_ms, 0)} ms; ${mb(c.peer_peak_rss_bytes)} | ${fmt(c.ratio, 2)} | ${load(c)} |`);
      continue;
    }
    const w = c.workload === 'scale-prompt' ? `scale-prompt p${c.prompt_tokens}` : c.peer?.startsWith('llama.cpp') ? `${c.workload} vs ${c.peer}` : c.workload;
    lines.push(`| ${w} | ${c.model} | ${c.format} | ${c.batch ?? ''} | ${fmt(c.ours_tok_s)} | ${fmt(c.peer_tok_s)} | ${fmt(c.ratio, 2)} | ${load(c)} |`);
  }
  lines.push('');
  lines.push(`- bandwidth_fraction_b1 (of the read bandwidth measured next to the b1 cells): ${JSON.stringify(summary.bandwidth_fraction_b1)}`);
  lines.push(`- the same of the copy (read + write) bandwidth, for reference: ${JSON.stringify(summary.bandwidth_fraction_b1_vs_copy)}`);
  lines.push(`- rss_over_weight_bytes: ${summary.rss_over_weight_bytes ?? '—'}${summary.rss_over_weight_bytes_at ? ` (${summary.rss_over_weight_bytes_at.model}, ${summary.rss_over_weight_bytes_at.format})` : ''}`);
  lines.push(`- steering_overhead: ${summary.steering_overhead ?? '—'}${summary.steering_overhead_at ? ` (${summary.steering_overhead_at.model}, ${summary.steering_overhead_at.format})` : ''}`);
  for (const s of skipped) lines.push(`- skipped ${s.model} ${s.format}: ${s.reason}`);
  return lines.join('\n');
}
