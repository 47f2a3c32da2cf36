/**
 * Where a load spends its time, stage by stage (issue 16: "load ≤ 1 s with a warm compile cache"):
 *
 *   npx tsx scripts/bench/profile-load.ts <model dir> [--format f32|int8|int4] [--weight-memory mapped|prepacked]
 *     [--no-session-cache] [--threads 2] [--cache DIR] [--decode 8] [--gen 16x32+64]
 *
 * Prints LoadedModel.info.loadStages (checkpoint headers + config, compile-cache lookup, onnxruntime session
 * creation, session-cache state), wall and CPU time of the whole load, RSS (anonymous / file-backed) and VmHWM
 * after it, and, with --decode N, batch-1 decode ms/step and a hash of the last logits (to compare sessions
 * bit for bit). --gen BxP+N: batch-B greedy generation of N tokens after P-token prompts through generateBatch (the
 * worker's loop; EOS off), then RSS and the generation's own peak (VmHWM, reset after the load) against the weights
 * in their format and the KV cache's bytes. --prefill-tokens T forces the tokens per prefill forward (default:
 * generate.ts prefillTokenBudget). --prefill-ab [--repeat R]: the prefill budget's split against the whole batch in
 * one forward, interleaved, CPU and wall per generation (use +1 to time the prefill alone).
 * Run it twice: the first call fills the compile cache and the session cache when they are cold.
 */
import fs from 'node:fs';
import os from 'node:os';
import vm from 'node:vm';
import { loadModel } from '../../src/engine/model/session.js';
import type { ForwardInputs, KvCache, LoadedModel, LoadOptions, WeightFormat } from '../../src/engine/model/types.js';
import { generateBatch, prefillSplit, prefillTokenBudget, type GenConfig } from '../../src/engine/generation/generate.js';
import { PAD_ALIGN } from '../../src/engine/generation/batch.js';

const argv = process.argv.slice(2);
const opt = (name: string, dflt: string) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] ? argv[i + 1] : dflt;
};
const dir = argv[0];
if (!dir || dir.startsWith('--')) {
  process.stderr.write('usage: npx tsx scripts/bench/profile-load.ts <model dir> [--format f32|int8|int4] [--weight-memory mapped|prepacked] [--no-session-cache] [--threads 2] [--cache DIR] [--decode 8] [--gen 16x32+16 [--prefill-tokens T] [--prefill-ab --repeat R]]\n');
  process.exit(2);
}

function memMB(): Record<'rss' | 'anon' | 'file' | 'hwm', number> {
  const s = fs.readFileSync('/proc/self/status', 'utf8');
  const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+) kB`).exec(s)?.[1] ?? 0) / 1024;
  return { rss: kb('VmRSS'), anon: kb('RssAnon'), file: kb('RssFile'), hwm: kb('VmHWM') };
}
function mem(): string {
  const s = fs.readFileSync('/proc/self/status', 'utf8');
  const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+) kB`).exec(s)?.[1] ?? 0) / 1024;
  return `rss ${kb('VmRSS').toFixed(0)} MB (anon ${kb('RssAnon').toFixed(0)}, file ${kb('RssFile').toFixed(0)}), hwm ${kb('VmHWM').toFixed(0)} MB`;
}
const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };
const cpuMs = (u: NodeJS.CpuUsage) => (u.user + u.system) / 1000;

process.stdout.write(`before load: ${mem()}\n`);
const t0 = performance.now(), c0 = cpu();
const m = await loadModel({ kind: 'folder', path: dir }, {
  cacheDir: opt('cache', '.cache/bench/graphs'), intraOpNumThreads: Number(opt('threads', '2')),
  weightFormat: opt('format', 'f32') as WeightFormat, sessionCache: !argv.includes('--no-session-cache'),
  weightMemory: (opt('weight-memory', '') || undefined) as LoadOptions['weightMemory'],
});
const s = m.info.loadStages;
process.stdout.write(`load ${(performance.now() - t0).toFixed(0)} ms wall, ${(cpu() - c0).toFixed(0)} ms cpu (${m.info.weightFormat}, ${m.info.weightMemory}, compile-cache hit ${m.info.cacheHit}, session cache ${s.sessionCache})\n`);
process.stdout.write(`  checkpoint+config ${s.checkpointMs.toFixed(0)} ms, compile cache ${s.compileMs.toFixed(0)} ms, onnxruntime session ${s.sessionMs.toFixed(0)} ms\n`);
process.stdout.write(`after load: ${mem()}\n`);
const steps = Number(opt('decode', '0'));
if (steps > 0) {
  const V = m.config.vocabSize;
  const i64 = (a: number[]) => BigInt64Array.from(a, BigInt);
  const P = 32;
  const ids = Array.from({ length: P }, (_, i) => 3 + ((7919 * i) % (V - 3)));
  let out = await m.forward({ batch: 1, seqLen: P, inputIds: i64(ids), positionIds: i64(ids.map((_, i) => i)), attentionMask: new BigInt64Array(P).fill(1n), logits: 'last' });
  let past: KvCache = out.present;
  const times: number[] = [];
  for (let s2 = 0; s2 < steps; s2++) {
    const T = P + s2 + 1;
    const t = performance.now();
    out = await m.forward({ batch: 1, seqLen: 1, inputIds: i64([5 + s2]), positionIds: i64([T - 1]), attentionMask: new BigInt64Array(T).fill(1n), past, logits: 'last' });
    times.push(performance.now() - t);
    past.dispose();
    past = out.present;
  }
  times.sort((a, b) => a - b);
  let h = 0;
  for (const x of out.logits!) h = (h * 31 + new Uint32Array(Float32Array.of(x).buffer)[0]) % 1000000007;
  process.stdout.write(`decode b1: median ${times[times.length >> 1].toFixed(0)} ms/step, min ${times[0].toFixed(0)}; logits hash ${h}\nafter decode: ${mem()}\n`);
}
const gen = /^(\d+)x(\d+)\+(\d+)$/.exec(opt('gen', ''));
if (gen) {
  const [B, P, N] = gen.slice(1).map(Number);
  const V = m.config.vocabSize;
  const prompts = Array.from({ length: B }, (_, b) => Array.from({ length: P }, (_, j) => 3 + ((7919 * (b * P + j) + 104729 * b) % (V - 3))));
  const prefillTokens = opt('prefill-tokens', '') ? Number(opt('prefill-tokens', '')) : undefined;
  const cfg: GenConfig = {
    sampler: { temperature: 0, topK: 0, topP: 1, repetitionPenalty: 1, minNewTokens: 0, eosTokenIds: [] },
    maxNewTokens: N, eosTokenIds: [], stop: [], padTokenId: 0, prefillTokens,
  };
  // Per forward: CPU and wall time of decode steps (seqLen 1 after the 'last' prefill phase), RSS after the prefill.
  let abAfterPrefill = 0;
  const trace = argv.includes('--trace');
  const traceLines: string[] = [];
  interface Rec { cpu: number[]; wall: number[]; forwards: number; afterPrefill: ReturnType<typeof memMB> | null }
  const timed = (rec: Rec): LoadedModel => {
    const t = Object.create(m) as LoadedModel;
    let ones = 0;
    let prev: { wall: number; cpu: NodeJS.CpuUsage } | null = null;
    t.forward = async (inp: ForwardInputs) => {
      // A decode step = from one decode forward's start to the next one's: the forward, the garbage collection
      // after it (stores), sampling and the next step's inputs.
      const w0 = performance.now(), c0 = process.cpuUsage();
      if (inp.seqLen === 1 && ones > 1 && prev) { rec.wall.push(w0 - prev.wall); rec.cpu.push(cpuMs(process.cpuUsage(prev.cpu))); }
      if (inp.seqLen === 1 && ones > 0) prev = { wall: w0, cpu: c0 };
      const out = await m.forward(inp);
      rec.forwards++;
      if (trace && argv.includes('--trace-gc')) (vm.runInNewContext('gc') as () => void)();
      if (trace) { const mm = memMB(); traceLines.push(`${inp.batch}x${inp.seqLen}${inp.past ? `+${inp.past.pastLength}` : ''}: anon ${mm.anon.toFixed(0)} file ${mm.file.toFixed(0)} buffers ${(process.memoryUsage().arrayBuffers / 2 ** 20).toFixed(0)}`); }
      if (inp.seqLen === 1) ones++;
      if (inp.seqLen === 1 && ones === 1) { rec.afterPrefill = memMB(); abAfterPrefill = process.memoryUsage().arrayBuffers / 2 ** 20; }
      return out;
    };
    return t;
  };
  const med = (a: number[]) => { const x = [...a].sort((p, q) => p - q); return x.length ? x[x.length >> 1] : NaN; };
  const kvMB = (m.info.kvBytesPerToken * B * (P + N)) / 2 ** 20;
  const wMB = m.info.residentWeightBytes / 2 ** 20;
  // As generateBatch splits it: equal-length prompts forward only their own P − 1 prefix columns (the pads ahead are a zero past).
  const split = prefillSplit(prefillTokens ?? prefillTokenBudget(m, Math.ceil(P / PAD_ALIGN) * PAD_ALIGN), B, P - 1);
  const repeat = Number(opt('repeat', '1'));
  if (argv.includes('--prefill-ab')) {
    // Prefill speed A/B: the budget (or --prefill-tokens) against the whole batch in one forward, interleaved in one
    // process (alternating order, first round a warm-up), CPU and wall per generation of N tokens.
    const times = { budget: { cpu: [] as number[], wall: [] as number[] }, whole: { cpu: [] as number[], wall: [] as number[] } };
    for (let r = 0; r <= Math.max(2, repeat); r++) {
      for (const k of (r % 2 ? ['whole', 'budget'] : ['budget', 'whole']) as ('budget' | 'whole')[]) {
        const c0 = process.cpuUsage(), w0 = performance.now();
        await generateBatch(m, prompts.map((promptIds, i) => ({ promptIds, seed: i })), { ...cfg, prefillTokens: k === 'whole' ? 1e9 : prefillTokens }, { checkCancelled() {} });
        if (r > 0) { times[k].cpu.push(cpuMs(process.cpuUsage(c0))); times[k].wall.push(performance.now() - w0); }
      }
    }
    process.stdout.write(`prefill A/B b${B} p${P} +${N}: ${split.rows} rows × ≤ ${split.cols} columns per forward ${med(times.budget.cpu).toFixed(0)} ms cpu, ${med(times.budget.wall).toFixed(0)} ms wall; whole batch in one forward ${med(times.whole.cpu).toFixed(0)} ms cpu, ${med(times.whole.wall).toFixed(0)} ms wall (medians of ${times.whole.cpu.length}); load average ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}\n`);
  } else {
    // Memory: one generation, the peak (VmHWM) reset after the load so that it is the generation's own.
    const base = memMB();
    const abBase = process.memoryUsage().arrayBuffers / 2 ** 20;
    fs.writeFileSync('/proc/self/clear_refs', '5');
    const rec: Rec = { cpu: [], wall: [], forwards: 0, afterPrefill: null };
    const t = performance.now();
    await generateBatch(timed(rec), prompts.map((promptIds, i) => ({ promptIds, seed: i })), cfg, { checkCancelled() {} });
    const end = memMB();
    const ap = rec.afterPrefill!;
    if (trace) process.stdout.write(`after each forward (MiB): ${traceLines.join('; ')}\n`);
    process.stdout.write(`gen b${B} p${P} +${N} (generateBatch, prefill ${split.rows} rows × ≤ ${split.cols} columns per forward, ${rec.forwards} forwards): ${((performance.now() - t) / 1000).toFixed(1)} s; decode step median ${med(rec.cpu).toFixed(0)} ms cpu, ${med(rec.wall).toFixed(0)} ms wall; KV cache at the end ${kvMB.toFixed(0)} MiB; weights in format ${wMB.toFixed(0)} MiB\n`
      + `  rss before ${base.rss.toFixed(0)} MiB (anon ${base.anon.toFixed(0)}, file ${base.file.toFixed(0)}), after prefill ${ap.rss.toFixed(0)} (anon ${ap.anon.toFixed(0)}), after gen ${end.rss.toFixed(0)} (anon ${end.anon.toFixed(0)}, file ${end.file.toFixed(0)}); peak during generation (VmHWM reset after load) ${end.hwm.toFixed(0)} MiB, peak over load ${base.hwm.toFixed(0)} MiB\n`
      + `  node: arrayBuffers ${abBase.toFixed(0)} MiB before, ${abAfterPrefill.toFixed(0)} MiB after prefill, ${(process.memoryUsage().arrayBuffers / 2 ** 20).toFixed(0)} MiB at the end, heap ${(process.memoryUsage().heapUsed / 2 ** 20).toFixed(0)} MiB\n`
      + `  generation peak / weights ${(end.hwm / wMB).toFixed(3)}; (generation peak − KV) / weights ${((end.hwm - kvMB) / wMB).toFixed(3)}; rss before gen / weights ${(base.rss / wMB).toFixed(3)}; generation peak − rss before ${(end.hwm - base.rss).toFixed(0)} MiB\n`);
  }
}
await m.dispose();
