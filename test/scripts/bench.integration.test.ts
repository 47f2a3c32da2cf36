/**
 * `npm run bench` (scripts/bench): the bench itself on the toy (`--quick --no-peer`, the real worker process)
 * and the shape of bench/results/latest.json; its bench-made checkpoints (deterministic, sharded, the
 * parameter count it reports is the one on disk); its summary arithmetic; and the PyTorch peer's parity
 * against the shared fixtures, which runs when a python3 with torch is installed and skips with that reason
 * otherwise.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { readSafetensorsHeader } from '../../src/engine/weights/safetensors.js';
import { describeModel, ensureRandomLlama, RANDOM_SPECS } from '../../scripts/bench/models.js';
import { checkPeerParity, findTorchPython, parityFixtures, TorchPeer } from '../../scripts/bench/peer.js';
import { buildCells, buildSummary, cellTargets, genFlopFields, markdown, type Cell, type ModelRun } from '../../scripts/bench/report.js';
import { key, threadCandidates, type Measure, type SideResult } from '../../scripts/bench/sides.js';
import { decodeShare, makeCaptureItems, makePlan, makePrompts, newTokensAt, planFor } from '../../scripts/bench/workloads.js';
import { captureRealFlops, chunksFlops, forwardFlops, genFlops, layerMatmulParams, oursCaptureChunks, peerCaptureChunks } from '../../scripts/bench/flops.js';

const root = path.resolve(import.meta.dirname, '..', '..');
const tmp = mkdtempSync(path.join(os.tmpdir(), 'pl-bench-test-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const bench = (args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', path.join(root, 'scripts', 'bench', 'run.ts'), ...args], {
  cwd: root, encoding: 'utf8', env: { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'skip' }, timeout: 170_000,
});

describe('npm run bench on the toy (--quick --no-peer)', () => {
  test('writes one object per cell with the documented keys, the summary figures and machine info', () => {
    const out = path.join(tmp, 'latest.json');
    const r = bench(['--models', 'toy', '--formats', 'f32', '--quick', '--reps', '1', '--workloads', 'gen,steered-gen,capture,capture-batched,load', '--no-peer', '--out', out]);
    assert.equal(r.status, 0, r.stderr);
    // one table per model and format, the target beside each cell
    assert.match(r.stdout, /### toy — f32\n\n\| workload \| batch \| ours tok\/s \| peer \| peer tok\/s \| ratio \| GFLOP\/s ours \/ peer \(of GEMM peak\) \| steering \(median; min … max\) \| target/);
    assert.match(r.stdout, /\| steered-gen \| 4 \|.*\(3 pairs\) \| ≥ 1\.5 ×: no figure; steering ≤ 3 %: (met|\*\*missed\*\*) \|/);
    const j = JSON.parse(readFileSync(out, 'utf8'));
    const workloads = new Set(['gen', 'steered-gen', 'capture', 'capture-batched', 'load', 'decode-b1']);
    assert.ok(j.cells.length > 0);
    for (const c of j.cells) {
      for (const k of ['workload', 'model', 'format', 'batch', 'ours_tok_s', 'peer_tok_s', 'ratio']) assert.ok(k in c, `cell lacks ${k}: ${JSON.stringify(c)}`);
      assert.ok(workloads.has(c.workload), c.workload);
      assert.equal(c.model, 'toy');
      assert.equal(c.format, 'f32');
      assert.equal(c.peer_tok_s, null);
      assert.equal(c.ratio, null);
    }
    // every generation cell of the quick plan, with a real figure
    for (const w of ['gen', 'steered-gen']) {
      for (const b of [1, 4]) {
        const c = j.cells.find((x: { workload: string; batch: number }) => x.workload === w && x.batch === b);
        assert.ok(c && c.ours_tok_s > 0, `${w} b${b}: ${JSON.stringify(c)}`);
      }
    }
    for (const w of ['capture', 'capture-batched', 'decode-b1']) assert.ok(j.cells.some((x: { workload: string; ours_tok_s: number }) => x.workload === w && x.ours_tok_s > 0), w);
    const load = j.cells.find((x: { workload: string }) => x.workload === 'load');
    assert.ok(load.ours_ms > 0 && load.ours_peak_rss_bytes > 0);
    assert.equal(typeof j.bandwidth_fraction_b1.toy.f32, 'number');
    assert.ok(j.rss_over_weight_bytes > 0);
    assert.equal(typeof j.steering_overhead, 'number');
    assert.ok(j.machine.bandwidthGBs.used > 0 && j.machine.bandwidthGBs.ortRead > 0 && j.machine.gemmGflops.used > 0 && j.machine.cpus > 0);
    // every timed cell says under which load it ran; the machine figures were probed next to the cells they divide
    for (const c of j.cells) assert.ok(Array.isArray(c.ours_loadavg) && c.ours_loadavg.length === 3, `${c.workload} lacks ours_loadavg`);
    const probes = j.probes['toy/f32'];
    assert.deepEqual(probes.map((p: { label: string }) => p.label), ['before-b1', 'after-b1', 'before-b4', 'after-b4', 'after-capture']);
    assert.ok(probes[0].readGBs > 0 && probes[0].copyGBs > 0 && probes[2].gemmGflops > 0 && probes[4].gemmGflops > 0);
    // plain and steered ran as interleaved pairs (smoke: 3 per batch): per batch the median and range of the paired ratios
    const byBatch = j.steering_overhead_by_batch['toy/f32'];
    assert.deepEqual(Object.keys(byBatch).sort(), ['1', '4']);
    for (const x of Object.values(byBatch) as { median: number; min: number; max: number; pairs: number; ratios: number[] }[]) {
      assert.equal(x.pairs, 3);
      assert.equal(x.ratios.length, 3);
      assert.ok(x.min <= x.median && x.median <= x.max);
    }
    assert.equal(j.steering_overhead, Math.max(byBatch['1'].median, byBatch['4'].median));
    const steered4 = j.cells.find((x: { workload: string; batch: number }) => x.workload === 'steered-gen' && x.batch === 4);
    assert.equal(steered4.steering_pairs, 3);
    assert.equal(steered4.steering_overhead_median, byBatch['4'].median);
    // compute-bound cells carry GFLOP/s (real tokens and as executed, with padding) and their fraction of the probed GEMM peak
    const gen4 = j.cells.find((x: { workload: string; batch: number }) => x.workload === 'gen' && x.batch === 4);
    const cap = j.cells.find((x: { workload: string }) => x.workload === 'capture');
    for (const c of [gen4, cap]) {
      assert.ok(c.ours_gflop_s > 0 && c.ours_gflop_s_executed >= c.ours_gflop_s, JSON.stringify(c));
      assert.equal(c.gemm_peak_gflop_s, Math.max(probes[2].gemmGflops, probes[3].gemmGflops, probes[4].gemmGflops));
      assert.equal(c.gemm_fraction, +(c.ours_gflop_s / c.gemm_peak_gflop_s).toFixed(3));
    }
    // 32-token prompts fill one PAD_ALIGN block: no prompt padding at batch 4; the capture's items are padded to their forward's block
    assert.equal(gen4.ours_padding_flops, 0);
    assert.ok(gen4.ours_decode_gflop_s > 0 && typeof gen4.decode_gemm_fraction === 'number');
    assert.ok(cap.ours_padding_flops > 0, JSON.stringify(cap));
    assert.equal(typeof j.gemm_fraction_decode_max_batch.toy.f32, 'number');
    // --render prints the same tables again from the JSON alone
    const again = bench(['--render', out]);
    assert.equal(again.status, 0, again.stderr);
    const tables = (t: string) => t.slice(t.indexOf('\n### '));
    assert.equal(tables(again.stdout), tables(r.stdout));
    // batch-1 decode comes from ≥ 16 decode steps timed one by one
    assert.ok(j.detail.decode_b1['toy/f32'].steps >= 16, JSON.stringify(j.detail.decode_b1));
    assert.equal(typeof j.bandwidth_fraction_b1_vs_copy.toy.f32, 'number');
    assert.equal(j.settings.planName, 'smoke');
    assert.equal(j.peer.skipped, '--no-peer');
    assert.equal(j.settings.threads, 2);
  });

  test('bad flags are refused before any work, naming what is accepted', () => {
    const p = bench(['--plan', 'fast', '--no-peer']);
    assert.equal(p.status, 2);
    assert.match(p.stderr, /unknown plan 'fast' \(known: full, quick, smoke\)/);
    const r = bench(['--models', 'toy,gpt-17', '--no-peer']);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /unknown model 'gpt-17' \(known: toy, random-llama-1b/);
    const f = bench(['--formats', 'fp8']);
    assert.equal(f.status, 2);
    assert.match(f.stderr, /unknown format 'fp8' \(known: f32, f16, bf16, int8, int4\)/);
  });
});

describe('bench checkpoints', () => {
  test('random Llama: deterministic, sharded with an index, parameter count matches the files', () => {
    const spec = { ...RANDOM_SPECS['random-llama-tiny'], layers: 2 };
    const a = ensureRandomLlama(path.join(tmp, 'a'), spec);
    const b = ensureRandomLlama(path.join(tmp, 'b'), spec);
    const shards = readdirSync(a).filter((f) => f.endsWith('.safetensors')).sort();
    assert.equal(shards.length, spec.shards);
    for (const f of shards) assert.ok(readFileSync(path.join(a, f)).equals(readFileSync(path.join(b, f))), `${f} differs between two writes`);
    let onDisk = 0;
    for (const f of shards) for (const t of readSafetensorsHeader(path.join(a, f)).tensors.values()) {
      assert.equal(t.dtype, 'BF16');
      onDisk += t.shape.reduce((x, y) => x * y, 1);
    }
    const d = describeModel('t', a);
    assert.equal(d.params, onDisk);
    const c = ensureRandomLlama(path.join(tmp, 'c'), { ...spec, seed: 2 });
    assert.ok(!readFileSync(path.join(a, shards[0])).equals(readFileSync(path.join(c, shards[0]))), 'another seed gives other weights');
  });

  test('workload inputs avoid BOS/EOS/pad ids and stay inside the vocabulary and positions', () => {
    for (const row of makePrompts(64, 32, 1070)) for (const id of row) assert.ok(id >= 3 && id < 1070);
    const items = makeCaptureItems(200, 1070, 256);
    assert.equal(items.length, 200);
    for (const it of items) assert.ok(it.prompt.length >= 1 && it.response.length >= 1 && it.prompt.length + it.response.length <= 256);
  });
});

describe('bench summary', () => {
  const m = { name: 'm', dir: '', params: 1000, fileBytes: 2000, dtype: 'bfloat16', layers: 2, hidden: 10, vocab: 20, maxPositions: 4096, f32BytesPerToken: 3200, kvBytesPerPosition: 0, tied: false };
  const meas = (s: number, tokens: number, stepS?: number): Measure => ({ s, tokS: tokens / s, tokens, timesS: [s], ...(stepS ? { stepS, steps: 16 } : {}) });
  test('steering overhead is the worst steered/plain ratio over batches minus 1; rss ratio is peak over resident format bytes', () => {
    const plan = makePlan({ quick: true, workloads: ['gen', 'steered-gen'], newTokens: 8 });
    const cells = new Map<string, Measure>([
      [key('gen', 1, 32), meas(1, 8, 0.1)], [key('steered-gen', 1, 32), meas(1.05, 8)],
      [key('gen', 4, 32), meas(2, 32)], [key('steered-gen', 4, 32), meas(2.5, 32)],
    ]);
    const ours: SideResult = { settings: {}, cells, peakRssBytes: 4600, residentWeightBytes: 4000, kvBytesPerToken: 0 };
    const run: ModelRun = { model: m, ours: new Map([['f32', ours]]) };
    const s = buildSummary([run], plan, 1e-6, 1);
    assert.equal(s.steering_overhead, 0.25);
    assert.equal(s.rss_over_weight_bytes, 1.15);
    // b1 decode: a 0.1 s median step = 10 tok/s; bytes/token = 4000 × (800/1000) = 3200; bound = 1000 B/s / 3200 B
    assert.equal(s.bandwidth_fraction_b1.m.f32, +(10 / (1000 / 3200)).toFixed(3));
  });

  test('the fractions divide by the figures probed next to their cells (the highest of each pair), not the whole-run ones', () => {
    const plan = makePlan({ quick: true, workloads: ['gen'], newTokens: 8 });
    const cells = new Map<string, Measure>([[key('gen', 1, 32), meas(1, 8, 0.1)], [key('gen', 4, 32), meas(2, 32)]]);
    const probes = [
      { at: '', label: 'before-b1', loadavg: [1, 1, 1], readGBs: 2e-6, copyGBs: 4e-6 }, { at: '', label: 'after-b1', loadavg: [1, 1, 1], readGBs: 1e-6, copyGBs: 3e-6 },
      { at: '', label: 'before-b4', loadavg: [1, 1, 1], gemmGflops: 5 }, { at: '', label: 'after-b4', loadavg: [1, 1, 1], gemmGflops: 4 },
    ];
    const ours: SideResult = { settings: {}, cells, residentWeightBytes: 4000, kvBytesPerToken: 0, probes };
    const s = buildSummary([{ model: m, ours: new Map([['f32', ours]]) }], plan, 1e-6, 1, 8e-6);
    // 10 tok/s × 3200 B = 32 000 B/s against 2000 B/s read (the best probe) and 4000 B/s copy
    assert.equal(s.bandwidth_fraction_b1.m.f32, 16);
    assert.equal(s.bandwidth_fraction_b1_vs_copy.m.f32, 8);
    const g = (s.detail.gemm_at_max_batch as Record<string, { gemm_peak_gflop_s: number }>)['m/f32'];
    assert.equal(g.gemm_peak_gflop_s, 5);
  });

  test('the quick plan: batch 1, 16, 64 with ≥ 17 new tokens at batch 1 (≥ 16 timed decode steps); explicit flags override it', () => {
    const q = makePlan({ plan: 'quick', workloads: ['gen'] });
    assert.deepEqual(q.batches, [1, 16, 64]);
    assert.ok(newTokensAt(q, 1) >= 17);
    for (const b of q.batches) assert.ok(decodeShare(q, b) >= 0.6, `decode forwards only ${decodeShare(q, b)} of the tokens at batch ${b}`);
    assert.equal(newTokensAt(makePlan({ plan: 'quick', workloads: ['gen'], newTokens: 40 }), 64), 40);
  });

  test('the quick plan runs int4 at batch 1 and 16 without capture, and ours\' generation as ≥ 5 interleaved plain/steered pairs', () => {
    const q = makePlan({ plan: 'quick', workloads: ['gen', 'steered-gen', 'capture', 'capture-batched', 'load'] });
    assert.ok(q.steerPairs >= 5);
    const i4 = planFor(q, 'int4');
    assert.deepEqual(i4.batches, [1, 16]);
    assert.deepEqual(i4.workloads, ['gen', 'steered-gen', 'load']);
    assert.equal(planFor(q, 'f32'), q);
    // explicit batches drop the scope (the user asked for those cells)
    assert.equal(makePlan({ plan: 'quick', workloads: ['gen'], batches: [1, 64] }).formatScope, undefined);
  });

  test('the steering overhead is the worst per-batch median of the paired ratios; each batch keeps its median, min and max', () => {
    const plan = makePlan({ plan: 'smoke', workloads: ['gen', 'steered-gen'] });
    const pairs = (xs: number[]): Measure => ({ ...meas(1, 8), pairRatios: xs });
    const cells = new Map<string, Measure>([
      [key('gen', 1, 32), meas(1, 8, 0.1)], [key('steered-gen', 1, 32), pairs([0.01, -0.02, 0.5])],
      [key('gen', 4, 32), meas(2, 32)], [key('steered-gen', 4, 32), pairs([0.04, 0.02, 0.03, -0.01, 0.06])],
    ]);
    const run: ModelRun = { model: m, ours: new Map([['f32', { settings: {}, cells, residentWeightBytes: 4000, kvBytesPerToken: 0 }]]) };
    const s = buildSummary([run], plan, 1e-6, 1);
    assert.deepEqual(s.steering_overhead_by_batch['m/f32']['1'], { median: 0.01, min: -0.02, max: 0.5, pairs: 3, ratios: [0.01, -0.02, 0.5] });
    assert.equal(s.steering_overhead_by_batch['m/f32']['4'].median, 0.03);
    assert.equal(s.steering_overhead, 0.03);
    const c = buildCells([run], plan).find((x) => x.workload === 'steered-gen' && x.batch === 4)!;
    assert.deepEqual([c.steering_overhead_median, c.steering_overhead_min, c.steering_overhead_max, c.steering_pairs], [0.03, -0.01, 0.06, 5]);
  });

  test('FLOP counts: projections, causal attention and the LM head; ours attends over PAD_ALIGN zero-past pads and runs a float lone row beside a ghost', () => {
    const b1 = { params: 0, layers: 20, hidden: 2048, vocab: 32000, tied: false };
    // random-llama-1b: per layer q, o 2048², k, v 2048 × 512, gate/up/down 3 × 2048 × 5632
    const perLayer = 2 * 2048 * 2048 + 2 * 2048 * 512 + 3 * 2048 * 5632;
    b1.params = 20 * (perLayer + 2 * 2048) + 2048 + 2 * 32000 * 2048;
    assert.equal(layerMatmulParams(b1), 20 * perLayer);
    // one token over 7 cached positions: 8 keys; one LM-head row
    assert.equal(forwardFlops(b1, 1, 1, 7, 1), 2 * 20 * perLayer + 4 * 2048 * 20 * 8 + 2 * 32000 * 2048);
    // a 3-token prompt: 1 + 2 + 3 (query, key) pairs, no logits
    assert.equal(forwardFlops(b1, 2, 3, 0, 0), 2 * (2 * 20 * perLayer * 3 + 4 * 2048 * 20 * 6));
    const g = genFlops(b1, 1, 8, 32);
    const real = forwardFlops(b1, 1, 8, 0, 1) + Array.from({ length: 31 }, (_, i) => forwardFlops(b1, 1, 1, 8 + i, 1)).reduce((a, x) => a + x, 0);
    // ours: the 8 prompt columns (prefix 7 + last 1) over 24 zero-past pad columns, the steps over 32 + t − 1 positions, two rows (ghost)
    const steps = (rows: number) => Array.from({ length: 31 }, (_, i) => forwardFlops(b1, rows, 1, 32 + i, 1)).reduce((a, x) => a + x, 0);
    const ours = forwardFlops(b1, 2, 7, 24, 0) + forwardFlops(b1, 2, 1, 31, 1) + steps(2);
    assert.equal(g.real, real);
    assert.equal(g.oursExecuted, ours);
    assert.equal(genFlops(b1, 1, 8, 32, false).oursExecuted, forwardFlops(b1, 1, 7, 24, 0) + forwardFlops(b1, 1, 1, 31, 1) + steps(1));
    assert.ok(Math.abs(g.stepReal - (real - forwardFlops(b1, 1, 8, 0, 1)) / 31) < 1);
    // at batch 64 with 32-token prompts nothing is padded
    const g64 = genFlops(b1, 64, 32, 16);
    assert.equal(g64.oursExecuted, g64.real);
    // a cell's GFLOP/s: real FLOPs over the median seconds; the ratio ceiling is our GEMM peak over the peer's GFLOP/s
    const plan = makePlan({ plan: 'quick', workloads: ['gen'] });
    const f16 = genFlops(b1, 16, 8, newTokensAt(plan, 16));
    const ff = genFlopFields({ ...m, ...b1, name: 'b1' }, plan, 16, 8, { ...meas(2, 384), stepS: 0.5 }, meas(4, 384), 300, 250);
    assert.equal(ff.ours_gflop_s, +(f16.real / 2 / 1e9).toFixed(1));
    assert.equal(ff.ours_gflop_s_executed, +(f16.oursExecuted / 2 / 1e9).toFixed(1));
    assert.equal(ff.ours_decode_gflop_s, +(f16.stepReal / 0.5 / 1e9).toFixed(1));
    assert.equal(ff.gemm_fraction, +(f16.real / 2 / 1e9 / 300).toFixed(3));
    assert.equal(ff.ratio_ceiling, +(300 / (f16.real / 4 / 1e9)).toFixed(2));
    // equal-length 8-token prompts forward no pad column: only attention over the 24 zero-past keys is extra
    assert.ok(ff.ours_padding_flops! > 0 && ff.ours_padding_flops! < 0.02, `+${ff.ours_padding_flops}`);
    // capture: the batched peer right-pads each batch to its longest item; ours sorts by length and pads to PAD_ALIGN
    assert.deepEqual(peerCaptureChunks([10, 40, 20, 5, 7], 2), [{ rows: 2, seqLen: 40 }, { rows: 2, seqLen: 20 }, { rows: 1, seqLen: 7 }]);
    assert.equal(chunksFlops(b1, [{ rows: 1, seqLen: 10 }, { rows: 1, seqLen: 5 }]), captureRealFlops(b1, [10, 5]));
    const cfg = { architecture: 'LlamaForCausalLM', modelType: 'llama', numLayers: 20, hiddenSize: 2048, numHeads: 32, numKvHeads: 8, headDim: 64, intermediateSize: 5632, vocabSize: 32000, maxPositions: 4096 };
    // ours: sorted by length, each forward's columns up to its longest item, the rest of its PAD_ALIGN block a zero past
    assert.deepEqual(oursCaptureChunks(cfg, [40, 70, 33, 90], 2 ** 40), [{ rows: 4, seqLen: 90, past: 6 }]);
    assert.deepEqual(oursCaptureChunks(cfg, [40, 70, 33, 90], 1), [{ rows: 1, seqLen: 33, past: 31 }, { rows: 1, seqLen: 40, past: 24 }, { rows: 1, seqLen: 70, past: 26 }, { rows: 1, seqLen: 90, past: 6 }]);
    assert.equal(chunksFlops(b1, [{ rows: 1, seqLen: 90, past: 6 }]), forwardFlops(b1, 1, 90, 6, 0));
  });

  test('every cell is set against the issue\'s target for its format and the report says met or missed', () => {
    const c = (x: Partial<Cell>): Cell => ({ workload: 'gen', model: 'm', format: 'f32', batch: 16, ours_tok_s: 1, peer_tok_s: 1, ratio: 1, ...x });
    const v = (x: Partial<Cell>, maxBatch = 64) => cellTargets(c(x), maxBatch).map((t) => `${t.target}=${t.ok}`);
    assert.deepEqual(v({ workload: 'decode-b1', batch: 1, ratio: 2.08, peer: 'pytorch-eager f32' }), ['≥ 2 ×=true']);
    assert.deepEqual(v({ workload: 'steered-gen', ratio: 1.24, steering_overhead_median: 0.01 }), ['≥ 1.5 ×=false', 'steering ≤ 3 %=true']);
    assert.deepEqual(v({ batch: 64, ratio: 1.6, decode_gemm_fraction: 0.5 }), ['≥ 1.5 ×=true', 'decode ≥ 0.60 of GEMM peak=false']);
    assert.deepEqual(v({ workload: 'capture', batch: 1, ratio: 1.79 }), ['≥ 3 ×=false']);
    assert.deepEqual(v({ workload: 'capture-batched', batch: 8, ratio: 3.01 }), ['≥ 1.5 ×=true']);
    assert.deepEqual(v({ format: 'int8', workload: 'decode-b1', batch: 1, ratio: 6, peer: 'pytorch-eager f32' }), ['≥ 5 ×=true']);
    assert.deepEqual(v({ format: 'int8', workload: 'decode-b1', batch: 1, ratio: 0.74, peer: 'llama.cpp Q8_0' }), ['≥ 1 ×=false']);
    assert.deepEqual(v({ format: 'int8', batch: 64, ratio: 1.46 }), ['≥ 2 ×=false']);
    assert.deepEqual(v({ format: 'int4', workload: 'decode-b1', batch: 1, ratio: null, peer: 'llama.cpp Q4_0' }), ['≥ 1 ×=null']);
    assert.deepEqual(v({ workload: 'load', batch: null, ours_ms: 4460 }), ['≤ 1000 ms=false']);
    const summary = buildSummary([], makePlan({ plan: 'smoke', workloads: ['gen'] }), 1, 1);
    const md = markdown([c({ workload: 'capture', batch: 1, ratio: 1.79 }), c({ format: 'int4', workload: 'decode-b1', batch: 1, ratio: 1.2, peer: 'llama.cpp Q4_0' })], summary, [], ['# h']);
    assert.match(md, /### m — f32\n/);
    assert.match(md, /\| capture \| 1 \| 1\.0 \| torch f32 \| 1\.0 \| 1\.79 \|.*\| ≥ 3 ×: \*\*missed\*\* \|/);
    assert.match(md, /### m — int4\n[^#]*\| decode-b1 \| 1 \|.*\| llama\.cpp Q4_0 \|.*\| ≥ 1 ×: met \|/);
  });

  test('the peer thread search covers every intra-op × BLAS pair up to the thread budget', () => {
    assert.deepEqual(threadCandidates(2), [{ intra: 1, blas: 1 }, { intra: 1, blas: 2 }, { intra: 2, blas: 1 }, { intra: 2, blas: 2 }]);
    assert.deepEqual(threadCandidates(1), [{ intra: 1, blas: 1 }]);
  });
});

const python = findTorchPython();
describe('PyTorch peer parity (scripts/bench/peer_torch.py)', () => {
  test('reproduces every Llama-family parity fixture to ≤ 1e-4 (logits, hidden states, steering hook, KV-cache greedy)', {
    skip: python ? (parityFixtures(root).length ? false : 'no parity fixtures in ../shared/fixtures/parity') : 'no python3 with torch here (Debian: apt-get install python3-torch; `npm run bench` installs it)',
  }, async () => {
    const peer = TorchPeer.start(python!, { intra: 1, blas: 1 });
    try {
      const res = await checkPeerParity(peer, root);
      assert.deepEqual(res.map((r) => r.fixture).sort(), ['llama_gqa', 'olmo2', 'qwen2']);
      for (const r of res) {
        assert.ok(r.ok && r.max_abs_err <= 1e-4, `${r.fixture}: ${JSON.stringify(r.errors)}`);
        assert.ok(r.greedy_tokens_equal);
      }
    } finally {
      await peer.close();
    }
  });
});
