/**
 * Steering overhead and the batch-1 decode bound (issue 16), on a mid-size random Llama (the bench's
 * `random-llama-250m` by default), in-process (no worker). Not a pass/fail test: prints figures and a JSON line.
 *
 *   npx tsx scripts/bench/profile-steering.ts [--model DIR] [--batches 1,16,64] [--new 16] [--prompt 32]
 *       [--repeat 3] [--threads 2] [--pairs 24] [--profile-steps 6] [--variant portable|fused]
 *       [--format f32|int8|int4] [--skip e2e,paired,nodes,micro,profile] [--cache DIR]
 *
 * Five parts (`--skip` leaves any out), each made to survive the shared machine's load in its own way:
 *   e2e      generateBatch plain vs steered (response steering at the middle layer, EOS off, same prompts and
 *            seeds), interleaved in one process (plain/steered order alternating per repeat). Every forward is
 *            timed through a wrapper around the model: per decode step, the CPU time (user + system, all threads)
 *            and wall time inside `forward` (feeds + onnxruntime run + fetches) and in the JS between two
 *            forwards (sampling, building the steer tensors, recording applied norms). CPU time is what to read.
 *   paired   single decode steps from one KV cache, plain and steered alternately: the median of per-pair ratios
 *            with its interquartile range, and the fastest step of each side.
 *   nodes    a decode step of a model with the same graph structure but H = 64: per-run and per-node overhead.
 *   micro    the JS steering work alone, per call: `buildStepSteer` for a decode step and for a B×S prefix
 *            forward, and `recordApplied`.
 *   profile  onnxruntime's per-node profile of decode steps (past = prompt length) at each batch, plain feeds
 *            (zero `steer`, zero mask: what an unsteered forward feeds) vs steered feeds: kernel ms per step by
 *            op type, the steering nodes' share (`/model/steer.ℓ/…`), and the run's time outside kernels (feeding,
 *            output allocation, fetch). At "batch 1" generation runs two rows in the float formats (a ghost copy,
 *            generate.ts slotsOf / loneRowNeedsGhost) and one in int8/int4, so the profile does too. Batch 1 also prints MatMul's share and the bandwidth bound: bytes read per
 *            step (the weights the step touches, in `--format`: every matrix + the LM head, one embedding row, the
 *            KV cache) over the step's time — the profiled run, its kernels, and the paired part's unprofiled median
 *            and fastest step — against the read bandwidth of onnxruntime's own ReduceSum and `copyBandwidth`
 *            (scripts/bench/machine.ts, read + write bytes), both measured in the same run.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { appendKv, loadModel, sessionOptions } from '../../src/engine/model/session.js';
import { openCachedSession } from '../../src/engine/model/ort-cache.js';
import { IO } from '../../src/engine/arch/names.js';
import { generateBatch, loneRowNeedsGhost, recordApplied } from '../../src/engine/generation/generate.js';
import { buildStepSteer, type ResolvedSteer } from '../../src/engine/steering/steer.js';
import type { ForwardInputs, LoadedModel } from '../../src/engine/model/types.js';
import { copyBandwidth, ortReadBandwidth } from './machine.js';
import { writeRandomLlama } from '../../test/engine/worker/random-llama.js';

const repoRoot = path.resolve(import.meta.dirname, '..', '..');
const { values: args } = parseArgs({
  options: {
    model: { type: 'string', default: path.join(repoRoot, '.cache/bench/models/random-llama-250m') },
    batches: { type: 'string', default: '1,16,64' },
    new: { type: 'string', default: '16' },
    prompt: { type: 'string', default: '32' },
    repeat: { type: 'string', default: '3' },
    threads: { type: 'string', default: '2' },
    'profile-steps': { type: 'string', default: '6' },
    skip: { type: 'string', default: '' },
    cache: { type: 'string', default: '/tmp/persona-lab-profile/graphs-steering' },
    variant: { type: 'string', default: 'portable' },
    format: { type: 'string', default: 'f32' },
    pairs: { type: 'string', default: '24' },
  },
});
const threads = Number(args.threads), repeat = Number(args.repeat), newTokens = Number(args.new), promptLen = Number(args.prompt);
const batches = args.batches!.split(',').map(Number);
const skip = new Set(args.skip!.split(',').filter(Boolean));
const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); return s.length ? s[Math.floor(s.length / 2)] : NaN; };
const r2 = (x: number) => +x.toFixed(2);
const cpuMs = (c: NodeJS.CpuUsage) => (c.user + c.system) / 1000;
const load = () => os.loadavg().map((x) => +x.toFixed(1));

const format = args.format as 'f32' | 'int8' | 'int4';
if (!['f32', 'int8', 'int4'].includes(format)) throw new Error(`--format must be f32, int8 or int4 (the CPU formats), got ${format}`);
const model = await loadModel({ kind: 'folder', path: args.model! }, { intraOpNumThreads: threads, cacheDir: args.cache, variant: args.variant as 'portable' | 'fused', weightFormat: format });
/** Rows a generation of `batch` rows forwards per decode step: a lone row gets its ghost copy in the float formats. */
const rowsAt = (batch: number) => (batch === 1 && loneRowNeedsGhost(model) ? 2 : batch);
const { numLayers: L, hiddenSize: H } = model.config;
console.error(`${path.basename(args.model!)}: L=${L} H=${H}, loaded in ${Math.round(model.info.loadMs)} ms (${model.info.weightMemory}, session cache ${model.info.loadStages?.sessionCache}), ${threads} threads, load ${load()}`);
const report: Record<string, unknown> = { model: path.basename(args.model!), variant: args.variant, format, L, H, threads, promptLen, newTokens, repeat, loadavgStart: load() };

const delta = new Float32Array(H).map((_, i) => Math.sin(i) * 0.5);
const steerOf = (): ResolvedSteer[] => [{ layer: Math.floor(L / 2), positions: 'response', delta }];
function prompts(n: number, salt: number): number[][] {
  return Array.from({ length: n }, (_, r) => Array.from({ length: promptLen - (r % 5) }, (_, j) => 3 + ((r * 7919 + j * 104729 + salt) % (model.config.vocabSize - 3))));
}

// ---- e2e: generateBatch plain vs steered, per-step CPU split ------------------------------------------------
interface StepTimes { fwdCpu: number[]; fwdWall: number[]; jsCpu: number[]; jsWall: number[] }
function timedModel(m: LoadedModel, rec: StepTimes): LoadedModel {
  let lastEnd: { wall: number; cpu: NodeJS.CpuUsage } | null = null;
  let lastSeen = 0; // seqLen-1 forwards seen: the first is the 'last' prefill phase, the rest are decode steps
  const t = Object.create(m) as LoadedModel;
  t.forward = async (inp: ForwardInputs) => {
    const w0 = performance.now(), c0 = process.cpuUsage();
    const decode = inp.seqLen === 1 && lastSeen++ > 0;
    if (decode && lastEnd) { rec.jsWall.push(w0 - lastEnd.wall); rec.jsCpu.push(cpuMs(process.cpuUsage(lastEnd.cpu))); }
    const out = await m.forward(inp);
    if (decode) { rec.fwdWall.push(performance.now() - w0); rec.fwdCpu.push(cpuMs(process.cpuUsage(c0))); }
    lastEnd = { wall: performance.now(), cpu: process.cpuUsage() };
    return out;
  };
  return t;
}
async function gen(batch: number, steered: boolean, rec: StepTimes): Promise<void> {
  const rows = prompts(batch, batch).map((promptIds, i) => ({ promptIds, seed: i, steer: steered ? steerOf() : undefined }));
  const outs = await generateBatch(timedModel(model, rec), rows, {
    sampler: { temperature: 0, topK: 0, topP: 1, repetitionPenalty: 1, minNewTokens: 0, eosTokenIds: [] },
    maxNewTokens: newTokens, eosTokenIds: [], stop: [], padTokenId: 0,
  }, { checkCancelled() {} });
  if (outs.some((o) => o.tokenIds.length !== newTokens)) throw new Error('a row stopped early: plain and steered would do different work');
}
if (!skip.has('e2e')) {
  await gen(2, true, { fwdCpu: [], fwdWall: [], jsCpu: [], jsWall: [] }); // warm-up
  const cells: Record<string, unknown>[] = [];
  for (const batch of batches) {
    const recs = { plain: { fwdCpu: [], fwdWall: [], jsCpu: [], jsWall: [] } as StepTimes, steered: { fwdCpu: [], fwdWall: [], jsCpu: [], jsWall: [] } as StepTimes };
    for (let r = 0; r < repeat; r++) {
      for (const steered of r % 2 === 0 ? [false, true] : [true, false]) await gen(batch, steered, steered ? recs.steered : recs.plain);
    }
    const sum = (s: StepTimes) => ({
      step_cpu_ms: r2(median(s.fwdCpu) + median(s.jsCpu)), forward_cpu_ms: r2(median(s.fwdCpu)), js_cpu_ms: r2(median(s.jsCpu)),
      step_wall_ms: r2(median(s.fwdWall) + median(s.jsWall)), js_wall_ms: r2(median(s.jsWall)), steps: s.fwdCpu.length,
    });
    const p = sum(recs.plain), s = sum(recs.steered);
    const cell = { batch, plain: p, steered: s, overhead_cpu: +(s.step_cpu_ms / p.step_cpu_ms - 1).toFixed(4), overhead_wall: +(s.step_wall_ms / p.step_wall_ms - 1).toFixed(4), loadavg: load() };
    console.error(JSON.stringify(cell));
    cells.push(cell);
  }
  report.e2e = cells;
}

// ---- paired: one decode step, plain and steered alternately from the same KV cache -----------------------------
// The steered member does all the per-step steering work generation does (buildStepSteer, recordApplied, feeding
// the tensors); the plain member what an unsteered step does (session.ts feeds zeros). Pairs alternate which goes
// first; the figure is the median of the per-pair ratios, so slow drifts of the machine cancel.
if (!skip.has('paired')) {
  const pairs = Number(args.pairs);
  const cells: Record<string, unknown>[] = [];
  for (const batch of batches) {
    const B = rowsAt(batch);
    const P = promptLen;
    const i64 = (n: number, f: (i: number) => number) => BigInt64Array.from({ length: n }, (_, i) => BigInt(f(i)));
    const pre = await model.forward({ batch: B, seqLen: P, inputIds: i64(B * P, (i) => 3 + ((i * 7919) % (model.config.vocabSize - 3))), positionIds: i64(B * P, (i) => i % P), attentionMask: i64(B * P, () => 1), logits: 'none', past: null });
    const rows = Array.from({ length: B }, steerOf);
    const plainRows = Array.from({ length: B }, () => undefined);
    const states = Array.from({ length: B }, () => ({ applied: new Map([[Math.floor(L / 2), { layer: Math.floor(L / 2), norm: 0, tokens: 0 }]]) }));
    const active = Array.from({ length: batch }, (_, i) => i);
    const step = async (steered: boolean) => {
      const w0 = performance.now(), c0 = process.cpuUsage();
      const st = buildStepSteer(steered ? rows : plainRows, 'decode', 1, L, H, () => true);
      if (steered) recordApplied(states, active, st, 1, L, H);
      const out = await model.forward({ batch: B, seqLen: 1, inputIds: i64(B, (b) => 5 + b), positionIds: i64(B, () => P), attentionMask: i64(B * (P + 1), () => 1), logits: 'last', past: pre.present, steer: st?.steer ?? null, steerMask: st?.steerMask ?? null });
      out.present.dispose();
      return { wall: performance.now() - w0, cpu: cpuMs(process.cpuUsage(c0)) };
    };
    await step(false); await step(true);
    const cpuR: number[] = [], wallR: number[] = [], cpuP: number[] = [], wallP: number[] = [], cpuS: number[] = [], wallS: number[] = [];
    for (let i = 0; i < pairs; i++) {
      const first = i % 2 === 0;
      const a = await step(!first), b = await step(first);
      const [plain, steered] = first ? [b, a] : [a, b];
      cpuR.push(steered.cpu / plain.cpu); wallR.push(steered.wall / plain.wall); cpuP.push(plain.cpu); wallP.push(plain.wall); cpuS.push(steered.cpu); wallS.push(steered.wall);
    }
    pre.present.dispose();
    const q = (xs: number[], f: number) => [...xs].sort((x, y) => x - y)[Math.floor(f * (xs.length - 1))];
    const cell = {
      batch, rows_forwarded: B, pairs, plain_cpu_ms: r2(median(cpuP)), plain_wall_ms: r2(median(wallP)),
      overhead_cpu: +(median(cpuR) - 1).toFixed(4), overhead_cpu_iqr: [+(q(cpuR, 0.25) - 1).toFixed(4), +(q(cpuR, 0.75) - 1).toFixed(4)],
      overhead_wall: +(median(wallR) - 1).toFixed(4), overhead_wall_iqr: [+(q(wallR, 0.25) - 1).toFixed(4), +(q(wallR, 0.75) - 1).toFixed(4)],
      // Load only ever adds time, so the fastest of many steps is the steadiest figure of each side.
      plain_wall_min_ms: r2(Math.min(...wallP)), steered_wall_min_ms: r2(Math.min(...wallS)), overhead_wall_min: +(Math.min(...wallS) / Math.min(...wallP) - 1).toFixed(4),
      plain_cpu_min_ms: r2(Math.min(...cpuP)), steered_cpu_min_ms: r2(Math.min(...cpuS)), overhead_cpu_min: +(Math.min(...cpuS) / Math.min(...cpuP) - 1).toFixed(4),
      loadavg: load(),
    };
    console.error(JSON.stringify(cell));
    cells.push(cell);
  }
  report.paired = cells;
}

// ---- nodes: what a decode step costs when its kernels cost nothing ---------------------------------------------
// The same graph structure (L layers, the same ops and node count) on a model with H = 64 and a 256-token vocabulary:
// its batch-1 decode step is almost all per-run and per-node overhead of onnxruntime and the JS around it.
if (!skip.has('nodes')) {
  const tinyDir = path.join(path.dirname(args.cache!), `llama-structure-L${L}`);
  if (!existsSync(path.join(tinyDir, 'model.safetensors'))) {
    writeRandomLlama(tinyDir, { vocab: 256, hidden: 64, layers: L, heads: 4, kvHeads: 4, intermediate: 64, seed: 3 });
  }
  const tiny = await loadModel({ kind: 'folder', path: tinyDir }, { intraOpNumThreads: threads, cacheDir: args.cache, variant: args.variant as 'portable' | 'fused' });
  const i64 = (n: number, f: (i: number) => number) => BigInt64Array.from({ length: n }, (_, i) => BigInt(f(i)));
  const P = promptLen, B = 2;
  const pre = await tiny.forward({ batch: B, seqLen: P, inputIds: i64(B * P, (i) => 3 + (i % 250)), positionIds: i64(B * P, (i) => i % P), attentionMask: i64(B * P, () => 1), logits: 'none', past: null });
  const wall: number[] = [], cpu: number[] = [];
  for (let i = 0; i < 200; i++) {
    const w0 = performance.now(), c0 = process.cpuUsage();
    const out = await tiny.forward({ batch: B, seqLen: 1, inputIds: i64(B, (b) => 5 + b), positionIds: i64(B, () => P), attentionMask: i64(B * (P + 1), () => 1), logits: 'last', past: pre.present });
    out.present.dispose();
    if (i >= 20) { wall.push(performance.now() - w0); cpu.push(cpuMs(process.cpuUsage(c0))); }
  }
  pre.present.dispose();
  await tiny.dispose();
  report.nodes = { model: `random Llama L=${L} H=64 V=256 (same graph structure)`, rows_forwarded: B, step_wall_ms: r2(median(wall)), step_wall_min_ms: r2(Math.min(...wall)), step_cpu_ms: r2(median(cpu)), loadavg: load() };
  console.error(JSON.stringify(report.nodes));
}

// ---- micro: the JS steering work per call ----------------------------------------------------------------
function perCallUs(fn: () => void, minMs = 200): number {
  for (let i = 0; i < 5; i++) fn();
  const runs: number[] = [];
  const t0 = performance.now();
  while (performance.now() - t0 < minMs || runs.length < 20) { const c0 = process.cpuUsage(); fn(); runs.push(cpuMs(process.cpuUsage(c0)) * 1000); }
  return r2(median(runs));
}
if (!skip.has('micro')) {
  const micro: Record<string, unknown>[] = [];
  for (const batch of batches) {
    const B = rowsAt(batch); // with generation's ghost row where it runs one
    const rows = Array.from({ length: B }, steerOf);
    const decode = buildStepSteer(rows, 'decode', 1, L, H, () => true)!;
    const states = Array.from({ length: B }, () => ({ applied: new Map([[Math.floor(L / 2), { layer: Math.floor(L / 2), norm: 0, tokens: 0 }]]) }));
    const active = Array.from({ length: batch }, (_, i) => i);
    const cell = {
      batch,
      buildStepSteer_decode_us: perCallUs( // reused: same rows, phase and mask as the previous step
        () => buildStepSteer(rows, 'decode', 1, L, H, () => true)),
      buildStepSteer_decode_fresh_us: perCallUs(() => buildStepSteer(rows.map((r) => [...r]), 'decode', 1, L, H, () => true)),
      buildStepSteer_prefix_us: perCallUs(() => buildStepSteer(rows.map((r) => [{ ...r[0], positions: 'all' as const }]), 'prefix', promptLen, L, H, () => true)),
      zero_steer_alloc_us: perCallUs(() => new Float32Array(B * (L + 1) * H)), // what session.ts feeds an unsteered forward
      recordApplied_us: perCallUs(() => recordApplied(states, active, decode, 1, L, H)),
      recordApplied_fresh_us: perCallUs(() => recordApplied(states, active, { ...decode }, 1, L, H)), // a new pair each call: the per-step pass it used to make
      steer_bytes: B * (L + 1) * H * 4,
    };
    console.error(JSON.stringify(cell));
    micro.push(cell);
  }
  report.micro = micro;
}

// ---- profile: onnxruntime per-node profile of decode steps ---------------------------------------------------
interface Ev { cat: string; name: string; dur: number; args?: { op_name?: string } }
async function profileDecode(B: number, steered: boolean, steps: number): Promise<Record<string, unknown>> {
  const dir = path.join(os.tmpdir(), `pl-steer-prof-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  const opts = { ...sessionOptions({ intraOpNumThreads: threads }, 'cpu', model.info.weightMemory ?? 'prepacked'), enableProfiling: true, profileFilePrefix: path.join(dir, 'p') };
  // f32 maps the saved optimised session as loadModel does; int8/int4 never use it (session.ts: onnxruntime 1.30 restores
  // prepacked MatMulNBits weights wrongly), so they open the graph itself.
  const session = format === 'f32' ? (await openCachedSession(model.info.onnxPath!, opts)).session : await ort.InferenceSession.create(model.info.onnxPath!, opts);
  const { numKvHeads: kvH, headDim: D } = model.config;
  const i64 = (n: number, f: (i: number) => number) => BigInt64Array.from({ length: n }, (_, i) => BigInt(f(i)));
  const steerFeed = (S: number) => {
    const st = steered ? buildStepSteer(Array.from({ length: B }, steerOf), S === 1 ? 'decode' : 'prefix', S, L, H, () => true) : null;
    return {
      [IO.steer]: new ort.Tensor('float32', st?.steer ?? new Float32Array(B * (L + 1) * H), [B, L + 1, H]),
      [IO.steerMask]: new ort.Tensor('float32', st?.steerMask ?? new Float32Array(B * S), [B, S]),
    };
  };
  const P = promptLen;
  const feeds = (S: number, past: number, pastKv: ort.Tensor[] | null): Record<string, ort.Tensor> => {
    const f: Record<string, ort.Tensor> = {
      [IO.inputIds]: new ort.Tensor('int64', i64(B * S, (i) => 3 + ((i * 7919) % (model.config.vocabSize - 3))), [B, S]),
      [IO.attentionMask]: new ort.Tensor('int64', i64(B * (past + S), () => 1), [B, past + S]),
      [IO.positionIds]: new ort.Tensor('int64', i64(B * S, (i) => past + (i % S)), [B, S]),
      [IO.logitsToKeep]: new ort.Tensor('int64', BigInt64Array.of(1n), [1]),
      [IO.captureWeights]: new ort.Tensor('float32', new Float32Array(0), [B, S, 0]),
      ...steerFeed(S),
    };
    for (let l = 0; l < L; l++) {
      f[IO.pastKey(l)] = pastKv ? pastKv[2 * l] : new ort.Tensor('float32', new Float32Array(0), [B, kvH, 0, D]);
      f[IO.pastValue(l)] = pastKv ? pastKv[2 * l + 1] : new ort.Tensor('float32', new Float32Array(0), [B, kvH, 0, D]);
    }
    return f;
  };
  const fetches = [...Array.from({ length: L }, (_, l) => [IO.newKey(l), IO.newValue(l)]).flat(), IO.logits];
  const pre = await session.run(feeds(P, 0, null), fetches);
  let kv = fetches.slice(0, 2 * L).map((n) => pre[n]);
  const runs: number[] = [];
  for (let s = 0; s < steps + 1; s++) { // step 0 is a warm-up, dropped below
    const T = P + s;
    const out = await session.run(feeds(1, T, kv), fetches);
    // The graph returns only the step's new keys and values; the cache is past + new, as the engine lays it out.
    kv = fetches.slice(0, 2 * L).map((n, i) => {
      const next = new Float32Array(B * kvH * (T + 1) * D);
      appendKv(next, kv[i].data as Float32Array, out[n].data as Float32Array, B * kvH, T, 1, D);
      return new ort.Tensor('float32', next, [B, kvH, T + 1, D]);
    });
  }
  session.endProfiling();
  await session.release();
  const file = readdirSync(dir).map((f) => path.join(dir, f)).find((f) => f.endsWith('.json'))!;
  const events = JSON.parse(readFileSync(file, 'utf8')) as Ev[];
  rmSync(dir, { recursive: true, force: true });
  // Runs in order: prefill, then steps+1 decode runs; keep the last `steps`.
  const runIdx: number[] = [];
  events.forEach((e, i) => { if (e.cat === 'Session' && e.name === 'model_run') runIdx.push(i); });
  // Node events come before their run's model_run event; split the event list at model_run boundaries.
  const perRun: Ev[][] = [];
  let from = 0;
  for (const i of runIdx) { perRun.push(events.slice(from, i + 1)); from = i + 1; }
  const decodeRuns = perRun.slice(-steps);
  const byOp = new Map<string, number>();
  const steerOps = new Map<string, number>();
  let kernel = 0, steer = 0, capture = 0, run = 0, nodes = 0;
  for (const evs of decodeRuns) {
    for (const e of evs) {
      if (e.cat === 'Session' && e.name === 'model_run') { run += e.dur; runs.push(e.dur); }
      if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time')) continue;
      kernel += e.dur; nodes++;
      const op = e.args?.op_name ?? '?';
      byOp.set(op, (byOp.get(op) ?? 0) + e.dur);
      if (e.name.includes('/capture/')) capture += e.dur;
      else if (e.name.includes('/steer.')) { steer += e.dur; steerOps.set(op, (steerOps.get(op) ?? 0) + e.dur); }
    }
  }
  const n = decodeRuns.length, ms = (us: number) => r2(us / 1000 / n);
  const ops = Object.fromEntries([...byOp].sort((a, b) => b[1] - a[1]).slice(0, 8).map(([k, v]) => [k, ms(v)]));
  return {
    kernel_ms: ms(kernel), run_ms: ms(run), run_median_ms: r2(median(runs.slice(-steps)) / 1000), outside_kernels_ms: ms(run - kernel),
    steer_nodes_ms: ms(steer), capture_nodes_ms: ms(capture), steer_share: +(steer / kernel).toFixed(4), matmul_share: +(((byOp.get('MatMul') ?? 0) + (byOp.get('Gemm') ?? 0) + (byOp.get('FusedMatMul') ?? 0) + (byOp.get('MatMulNBits') ?? 0)) / kernel).toFixed(4),
    nodes_per_run: Math.round(nodes / n), ops, steer_ops: Object.fromEntries([...steerOps].map(([k, v]) => [k, +(v / 1000 / n).toFixed(3)])),
  };
}
if (!skip.has('profile')) {
  const steps = Number(args['profile-steps']);
  const prof: Record<string, unknown>[] = [];
  for (const batch of batches) {
    const B = rowsAt(batch);
    const plain = await profileDecode(B, false, steps);
    const steered = await profileDecode(B, true, steps);
    const cell = { batch, rows_forwarded: B, plain, steered, loadavg: load() };
    console.error(JSON.stringify(cell));
    prof.push(cell);
  }
  report.profile = prof;
  const b1 = prof.find((p) => p.batch === 1);
  if (b1) {
    // Bytes one decode step reads: every float32 matrix (the prepacked copies are the same size), one embedding row
    // per forwarded row, and the KV cache of P past tokens per row.
    const cfg = model.config;
    const perLayer = H * (cfg.numHeads * cfg.headDim) * 2 + H * (cfg.numKvHeads * cfg.headDim) * 2 + 3 * H * cfg.intermediateSize + 2 * H;
    // Matrices (and the LM head) in the format's bytes per weight: int8/int4 blocks of 32 with a float32 scale each.
    const bytesPerWeight = { f32: 4, int8: 1 + 4 / 32, int4: 0.5 + 4 / 32 }[format];
    const weightBytes = bytesPerWeight * (L * (perLayer - 2 * H) + cfg.vocabSize * H) + 4 * (L * 2 * H + H);
    const kvBytes = 2 * 4 * L * cfg.numKvHeads * cfg.headDim * (promptLen + 1) * 2;
    const bw = await copyBandwidth(threads);
    const readBw = await ortReadBandwidth(threads);
    const plain = b1.plain as { kernel_ms: number; run_ms: number };
    const gbs = (weightBytes + kvBytes) / (plain.run_ms / 1000) / 1e9;
    // The end-to-end decode step (paired A/B, plain) is the figure without the profiler's own per-node cost.
    const pairedB1 = (report.paired as { batch: number; plain_wall_ms: number; plain_wall_min_ms: number }[] | undefined)?.find((c) => c.batch === 1);
    report.batch1 = {
      bytes_per_step: weightBytes + kvBytes, weight_bytes: weightBytes, lm_head_bytes: bytesPerWeight * cfg.vocabSize * H,
      achieved_gb_s_run: r2(gbs), achieved_gb_s_kernels: r2((weightBytes + kvBytes) / (plain.kernel_ms / 1000) / 1e9),
      copy_bandwidth_gb_s: r2(bw), ort_read_bandwidth_gb_s: r2(readBw), fraction_run_of_copy: r2(gbs / bw), fraction_run_of_read: r2(gbs / readBw),
      ...(pairedB1 ? { step_wall_min_ms: pairedB1.plain_wall_min_ms, achieved_gb_s_fastest_step: r2((weightBytes + kvBytes) / (pairedB1.plain_wall_min_ms / 1000) / 1e9), fraction_fastest_step_of_read: r2((weightBytes + kvBytes) / (pairedB1.plain_wall_min_ms / 1000) / 1e9 / readBw) } : {}),
      ...(pairedB1 ? { step_wall_ms: pairedB1.plain_wall_ms, achieved_gb_s_step: r2((weightBytes + kvBytes) / (pairedB1.plain_wall_ms / 1000) / 1e9), fraction_step_of_read: r2((weightBytes + kvBytes) / (pairedB1.plain_wall_ms / 1000) / 1e9 / readBw) } : {}),
      loadavg: load(),
    };
    console.error(JSON.stringify(report.batch1));
  }
}
await model.dispose();
report.loadavgEnd = load();
console.log(JSON.stringify(report));
