/**
 * Where a load spends its time, stage by stage (issue 16: "load ≤ 1 s with a warm compile cache"):
 *
 *   npx tsx scripts/bench/profile-load.ts <model dir> [--format f32|int8|int4] [--weight-memory mapped|prepacked]
 *     [--no-session-cache] [--threads 2] [--cache DIR] [--decode 8] [--gen 16x32+64]
 *
 * Prints LoadedModel.info.loadStages (checkpoint headers + config, compile-cache lookup, onnxruntime session
 * creation, session-cache state), wall and CPU time of the whole load, RSS (anonymous / file-backed) and VmHWM
 * after it, and, with --decode N, batch-1 decode ms/step and a hash of the last logits (to compare sessions
 * bit for bit). --gen BxP+N: batch-B greedy decoding of N tokens after P-token prompts (the worker's loop without
 * sampling), then RSS and the peak (VmHWM) against the weights in their format and the KV cache's bytes.
 * Run it twice: the first call fills the compile cache and the session cache when they are cold.
 */
import fs from 'node:fs';
import { loadModel } from '../../src/engine/model/session.js';
import type { KvCache, LoadOptions, WeightFormat } from '../../src/engine/model/types.js';

const argv = process.argv.slice(2);
const opt = (name: string, dflt: string) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] ? argv[i + 1] : dflt;
};
const dir = argv[0];
if (!dir || dir.startsWith('--')) {
  process.stderr.write('usage: npx tsx scripts/bench/profile-load.ts <model dir> [--format f32|int8|int4] [--weight-memory mapped|prepacked] [--no-session-cache] [--threads 2] [--cache DIR] [--decode 8]\n');
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
  const i64 = (a: number[]) => BigInt64Array.from(a, BigInt);
  const base = memMB();
  const ids = Array.from({ length: B * P }, (_, i) => 3 + ((7919 * i + 104729 * Math.floor(i / P)) % (V - 3)));
  const t = performance.now();
  let out = await m.forward({ batch: B, seqLen: P, inputIds: i64(ids), positionIds: i64(ids.map((_, i) => i % P)), attentionMask: new BigInt64Array(B * P).fill(1n), logits: 'last' });
  const afterPrefill = memMB();
  let past: KvCache = out.present;
  for (let s2 = 0; s2 < N; s2++) {
    const T = P + s2 + 1;
    const next = Array.from({ length: B }, (_, b) => { let k = 0; const o = b * V; for (let i = 1; i < V; i++) if (out.logits![o + i] > out.logits![o + k]) k = i; return k; });
    out = await m.forward({ batch: B, seqLen: 1, inputIds: i64(next), positionIds: i64(Array(B).fill(T - 1)), attentionMask: new BigInt64Array(B * T).fill(1n), past, logits: 'last' });
    past.dispose();
    past = out.present;
  }
  const end = memMB();
  const kvMB = (m.info.kvBytesPerToken * B * (P + N)) / 2 ** 20;
  const wMB = m.info.residentWeightBytes / 2 ** 20;
  past.dispose();
  process.stdout.write(`gen b${B} p${P} +${N}: ${((performance.now() - t) / 1000).toFixed(1)} s; KV cache at the end ${kvMB.toFixed(0)} MiB; weights in format ${wMB.toFixed(0)} MiB\n`
    + `  rss before ${base.rss.toFixed(0)} MiB (anon ${base.anon.toFixed(0)}, file ${base.file.toFixed(0)}), after prefill ${afterPrefill.rss.toFixed(0)}, after gen ${end.rss.toFixed(0)} (anon ${end.anon.toFixed(0)}, file ${end.file.toFixed(0)}); peak (VmHWM) ${end.hwm.toFixed(0)} MiB\n`
    + `  node: arrayBuffers ${(process.memoryUsage().arrayBuffers / 2 ** 20).toFixed(0)} MiB, heap ${(process.memoryUsage().heapUsed / 2 ** 20).toFixed(0)} MiB; anon after prefill ${afterPrefill.anon.toFixed(0)} MiB\n`
    + `  peak / weights ${(end.hwm / wMB).toFixed(3)}; rss after gen / weights ${(end.rss / wMB).toFixed(3)}; (peak − KV) / weights ${((end.hwm - kvMB) / wMB).toFixed(3)}\n`);
}
await m.dispose();
