/**
 * Machine figures for the bench, measured without C code:
 *   - read bandwidth (what a decode step needs: it only reads weights): onnxruntime's own vectorised ReduceSum
 *     over a 512 MiB float32 input at `threads` intra-op threads, the best of 5 (`ortReadBandwidth`);
 *   - copy bandwidth: a large typed-array copy (256 MB → 256 MB) in `threads` Node worker threads at once,
 *     counted STREAM-style (bytes read + bytes written); the best of 5. Kept for reference: no read stream
 *     reaches it, so a decode rate divided by it understates the fraction of the bound.
 *   - GEMM peak: onnxruntime's own MatMul kernels (MLAS, the ones our graphs use) on a [256, 2048] × [2048, 2048]ᵀ
 *     Gemm with the weight as an initializer, at `threads` intra-op threads; the best of 5.
 * The peer adds torch's figures (copy/read bandwidth, F.linear GFLOP/s); the report uses the highest of each
 * so our fractions are never flattered by a weak measurement.
 */
import os from 'node:os';
import { Worker } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import { DT, Graph } from '../../src/engine/onnx/graph.js';

export interface MachineInfo {
  cpus: number;
  cpuModel: string;
  memBytes: number;
  node: string;
  onnxruntime: string;
  loadavgStart: number[];
  bandwidthGBs: { ortRead: number; nodeCopy: number; torchCopy?: number; torchRead?: number; used: number; method: string };
  gemmGflops: { onnxruntime: number; torch?: number; used: number; method: string };
}

const COPY_WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const n = workerData.bytes / 8;
const a = new Float64Array(n).fill(1), b = new Float64Array(n);
b.set(a);
parentPort.on('message', () => { const t0 = performance.now(); b.set(a); parentPort.postMessage(performance.now() - t0); });
parentPort.postMessage('ready');
`;

/** STREAM-copy bandwidth with `threads` workers copying their own 256 MB arrays at the same time. */
export async function copyBandwidth(threads: number, bytesPerThread = 256 * 1024 * 1024): Promise<number> {
  const workers = Array.from({ length: threads }, () => new Worker(COPY_WORKER, { eval: true, workerData: { bytes: bytesPerThread } }));
  try {
    await Promise.all(workers.map((w) => new Promise((r) => w.once('message', r))));
    let best = 0;
    for (let rep = 0; rep < 5; rep++) {
      const t0 = performance.now();
      await Promise.all(workers.map((w) => new Promise((r) => { w.once('message', r); w.postMessage('go'); })));
      const s = (performance.now() - t0) / 1000;
      best = Math.max(best, (2 * bytesPerThread * threads) / s / 1e9);
    }
    return best;
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

/** Read bandwidth as onnxruntime's own vectorised kernels reach it: ReduceSum over a 512 MiB float input, [8, n/8] → [8], best of 5. */
export async function ortReadBandwidth(threads: number, bytes = 512 * 1024 * 1024): Promise<number> {
  const g = new Graph('read');
  const n = bytes / 4;
  const x = g.input('x', DT.FLOAT, [8, n / 8]);
  g.output('y', DT.FLOAT, [8, 1], g.op('ReduceSum', [x, g.constInt64([1])], { keepdims: 1 }));
  const session = await ort.InferenceSession.create(g.encode({ irVersion: 10, opsets: { '': 21 } }), { intraOpNumThreads: threads, interOpNumThreads: 1, executionProviders: ['cpu'] });
  try {
    const t = new ort.Tensor('float32', new Float32Array(n).fill(1), [8, n / 8]);
    await session.run({ x: t });
    let best = Infinity;
    for (let i = 0; i < 5; i++) { const t0 = performance.now(); await session.run({ x: t }); best = Math.min(best, performance.now() - t0); }
    return (4 * n) / (best / 1000) / 1e9;
  } finally {
    await session.release();
  }
}

/**
 * The machine right now, next to the cells a figure divides: the bench takes one before and after the batch-1
 * generation cells (read bandwidth for `bandwidth_fraction_b1`) and around the largest batch (GEMM peak), per side,
 * so a fraction and its cells share their conditions; the load average is recorded with each.
 */
export interface Probe { at: string; label: string; loadavg: number[]; readGBs?: number; copyGBs?: number; gemmGflops?: number }
export async function probeMachine(threads: number, label: string, what: { bandwidth?: boolean; gemm?: boolean }): Promise<Probe> {
  const p: Probe = { at: new Date().toISOString(), label, loadavg: os.loadavg().map((x) => +x.toFixed(2)) };
  if (what.bandwidth) {
    p.readGBs = +(await ortReadBandwidth(threads)).toFixed(2);
    p.copyGBs = +(await copyBandwidth(threads)).toFixed(2);
  }
  if (what.gemm) p.gemmGflops = +(await ortGemmGflops(threads)).toFixed(1);
  return p;
}

/** The highest of a figure among probes (never flatters a fraction); null when none measured it. */
export function bestOf(probes: Probe[] | undefined, k: 'readGBs' | 'copyGBs' | 'gemmGflops'): number | null {
  const xs = (probes ?? []).map((p) => p[k]).filter((x): x is number => typeof x === 'number' && x > 0);
  return xs.length ? Math.max(...xs) : null;
}

/** onnxruntime Gemm GFLOP/s (the op our graphs use for every projection). */
export async function ortGemmGflops(threads: number, m = 256, k = 2048, n = 2048): Promise<number> {
  const g = new Graph('gemm');
  const a = g.input('a', DT.FLOAT, [m, k]);
  const w = new Float32Array(n * k);
  for (let i = 0; i < w.length; i++) w[i] = ((i * 2654435761) % 1000) / 1000 - 0.5;
  const b = g.initializer('w', DT.FLOAT, [n, k], new Uint8Array(w.buffer));
  g.output('y', DT.FLOAT, [m, n], g.op('Gemm', [a, b], { transB: 1 }));
  const session = await ort.InferenceSession.create(g.encode({ irVersion: 10, opsets: { '': 21 } }), {
    intraOpNumThreads: threads, interOpNumThreads: 1, executionProviders: ['cpu'], graphOptimizationLevel: 'all',
  });
  try {
    const x = new ort.Tensor('float32', new Float32Array(m * k).fill(0.01), [m, k]);
    await session.run({ a: x });
    let best = Infinity;
    for (let rep = 0; rep < 5; rep++) {
      const t0 = performance.now();
      await session.run({ a: x });
      best = Math.min(best, performance.now() - t0);
    }
    return (2 * m * k * n) / (best / 1000) / 1e9;
  } finally {
    await session.release();
  }
}

export async function measureMachine(threads: number, torch?: { copy_gb_s: number; read_gb_s: number; gemm_gflop_s: number }): Promise<MachineInfo> {
  const ortRead = await ortReadBandwidth(threads);
  const nodeCopy = await copyBandwidth(threads);
  const ortGemm = await ortGemmGflops(threads);
  const bw = Math.max(ortRead, torch?.read_gb_s ?? 0);
  const gemm = Math.max(ortGemm, torch?.gemm_gflop_s ?? 0);
  return {
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    memBytes: os.totalmem(),
    node: process.version,
    onnxruntime: ort.env.versions?.common ?? 'unknown',
    loadavgStart: os.loadavg().map((x) => +x.toFixed(2)),
    bandwidthGBs: {
      ortRead: +ortRead.toFixed(2), nodeCopy: +nodeCopy.toFixed(2), torchCopy: torch && +torch.copy_gb_s.toFixed(2), torchRead: torch && +torch.read_gb_s.toFixed(2), used: +bw.toFixed(2),
      method: `read bandwidth, max of: onnxruntime ReduceSum over 512 MiB at ${threads} threads, torch sum (when the peer runs); copy figures (read+write bytes) for reference only. ` +
        'Whole-run figure, measured at the end; the fractions use the probes taken next to their cells (each side\'s `probes`)',
    },
    gemmGflops: {
      onnxruntime: +ortGemm.toFixed(1), torch: torch && +torch.gemm_gflop_s.toFixed(1), used: +gemm.toFixed(1),
      method: `max of: onnxruntime Gemm [256,2048]x[2048,2048]^T at ${threads} threads, torch F.linear [256,1024]x[1024,1024]^T (when the peer runs)`,
    },
  };
}
