/**
 * Isolates the KV-cache hand-over cost (issue 16 lead: "~100 ms per batch-64 decode step copying past/present
 * between onnxruntime-node and JS"): a random Llama shaped so the cache dominates (16 layers, 4 KV heads of 64,
 * a tiny MLP and vocabulary: 32 KB of KV per token), a prefill of B rows × P tokens, then decode steps whose
 * wall time is mostly the KV traffic. With `--baseline DIR` an older src/ tree runs in the same process,
 * alternating step blocks with this one, so machine load hits both alike. Prints median ms per decode step.
 *
 *   npx tsx scripts/bench/profile-kv.ts [--batch 32] [--past 512] [--steps 8] [--repeat 3] [--threads 2] [--baseline DIR[,DIR2…]]
 */
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { writeRandomLlama } from '../../test/engine/worker/random-llama.js';
import type { KvCache, LoadedModel } from '../../src/engine/model/types.js';

const { values: args } = parseArgs({ options: {
  batch: { type: 'string', default: '32' }, past: { type: 'string', default: '512' }, steps: { type: 'string', default: '8' },
  repeat: { type: 'string', default: '3' }, threads: { type: 'string', default: '2' }, baseline: { type: 'string' },
} });
const B = Number(args.batch), P = Number(args.past), steps = Number(args.steps), repeat = Number(args.repeat);
const root = process.env.PERSONA_LAB_PROFILE_DIR ?? '/tmp/persona-lab-profile';
const dir = path.join(root, 'llama-kv-heavy');
if (!existsSync(path.join(dir, 'model.safetensors'))) writeRandomLlama(dir, { vocab: 256, hidden: 256, layers: 16, heads: 4, kvHeads: 4, intermediate: 256, seed: 2 });

async function open(name: string, src: string): Promise<{ name: string; model: LoadedModel }> {
  const { loadModel } = await import(pathToFileURL(path.join(src, 'engine/model/session.ts')).href);
  return { name, model: await loadModel({ kind: 'folder', path: dir }, { intraOpNumThreads: Number(args.threads), cacheDir: path.join(root, `graphs-kv-${name}`) }) };
}
const engines = [await open('current', path.resolve(import.meta.dirname, '..', '..', 'src'))];
// --baseline A[,B…]: several trees interleave; each is named by its folder (or 'baseline' when there is one).
const baselines = args.baseline ? args.baseline.split(',') : [];
for (const b of baselines) engines.push(await open(baselines.length === 1 ? 'baseline' : path.basename(path.resolve(b)), path.resolve(b, 'src')));
const i64 = (n: number, f: (i: number) => number) => BigInt64Array.from({ length: n }, (_, i) => BigInt(f(i)));

/** Wall ms and process CPU ms (user+system, all threads) per decode step. CPU time is far less sensitive than wall
 * time to other processes on a shared machine (it still includes onnxruntime's spin-waiting threads). */
async function run(model: LoadedModel): Promise<{ wall: number[]; cpu: number[] }> {
  const pre = await model.forward({ batch: B, seqLen: P, inputIds: i64(B * P, (i) => 3 + (i % 250)), positionIds: i64(B * P, (i) => i % P), attentionMask: i64(B * P, () => 1), logits: 'last', past: null });
  let past: KvCache = pre.present;
  const times: number[] = [], cpu: number[] = [];
  for (let s = 0; s < steps; s++) {
    const T = P + s + 1;
    const t0 = performance.now(), c0 = process.cpuUsage();
    const out = await model.forward({ batch: B, seqLen: 1, inputIds: i64(B, (b) => 5 + b), positionIds: i64(B, () => T - 1), attentionMask: i64(B * T, () => 1), logits: 'last', past });
    past.dispose();
    past = out.present;
    times.push(performance.now() - t0);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1000);
  }
  past.dispose();
  return { wall: times, cpu };
}
const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
const all = new Map(engines.map((e) => [e.name, { wall: [] as number[], cpu: [] as number[] }]));
for (const e of engines) await run(e.model); // warm-up, every engine alike
// Rotate which engine goes first each repeat, so a slow phase of the machine or the GC of the previous engine's
// KV stores does not always land on the same one.
for (let r = 0; r < repeat; r++) {
  for (let i = 0; i < engines.length; i++) {
    const e = engines[(i + r) % engines.length];
    const t = await run(e.model), a = all.get(e.name)!;
    a.wall.push(...t.wall);
    a.cpu.push(...t.cpu);
  }
}
const res: Record<string, unknown> = { batch: B, past: P, kvMBPerStep: Math.round(B * (P + 1) * 2 * 16 * 4 * 64 * 4 / 2 ** 20), steps, repeat };
for (const [n, { wall: xs, cpu }] of all) {
  res[n] = { ms_per_step: +median(xs).toFixed(1), p25: +[...xs].sort((a, b) => a - b)[Math.floor(xs.length / 4)].toFixed(1), min: +Math.min(...xs).toFixed(1), cpu_ms_per_step: +median(cpu).toFixed(1) };
}
res.loadavg = os.loadavg().map((x) => +x.toFixed(1));
console.log(JSON.stringify(res));
for (const e of engines) await e.model.dispose();
