/**
 * Memory and speed per weight format on a random-initialised Llama (BF16, sharded, HF format):
 *
 *   npx tsx scripts/bench/weight-memory.ts [--size 125m|small] [--family llama|qwen2|olmo2] [--threads 2] [--formats f32,f16,int8,int4]
 *
 * Each cell runs in a fresh process with a warm compile cache (a first process compiles): RSS right after
 * load and after batch-16 generation (32-token prompts, 16 new tokens), the peak (VmHWM), each minus the
 * process's RSS before loading; the weight bytes in that format (ModelInfo.residentWeightBytes); KV bytes;
 * batch-1 and batch-16 decode ms/step. f32 runs both weight memories to show why the default for half-precision
 * checkpoints is 'prepacked'. f16 runs on CPU only through the test-only switch (onnxruntime inserts float32
 * casts), so its row shows why f16 is refused on CPU, not what it costs on a GPU.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadModel } from '../../src/engine/model/session.js';
import type { KvCache, LoadOptions, WeightFormat } from '../../src/engine/model/types.js';
import { familyConfig, writeRandomCheckpoint } from '../../test/engine/helpers/random-checkpoint.js';

const argv = process.argv.slice(2);
const opt = (name: string, dflt: string) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] ? argv[i + 1] : dflt;
};

function status(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of fs.readFileSync('/proc/self/status', 'utf8').split('\n')) {
    const m = /^(VmRSS|VmHWM|RssAnon|RssFile):\s+(\d+) kB/.exec(line);
    if (m) out[m[1]] = Number(m[2]) * 1024;
  }
  return out;
}

async function child(dir: string, cacheDir: string, format: WeightFormat, weightMemory: string, threads: number): Promise<void> {
  const before = status();
  const m = await loadModel({ kind: 'folder', path: dir }, { cacheDir, weightFormat: format, testOnlyCpuHalf: format === 'f16', intraOpNumThreads: threads, weightMemory: weightMemory === 'default' ? undefined : weightMemory as LoadOptions['weightMemory'] });
  const afterLoad = status();
  const V = m.config.vocabSize;
  const i64 = (a: number[]) => BigInt64Array.from(a, BigInt);
  const decode = async (B: number, prompt: number, steps: number) => {
    const ids = Array.from({ length: B * prompt }, (_, i) => (7 * i + 3) % V);
    let out = await m.forward({ batch: B, seqLen: prompt, inputIds: i64(ids), positionIds: i64(ids.map((_, i) => i % prompt)), attentionMask: new BigInt64Array(B * prompt).fill(1n), logits: 'last' });
    let past: KvCache = out.present;
    const t0 = performance.now();
    for (let s = 0; s < steps; s++) {
      const T = prompt + s + 1;
      out = await m.forward({ batch: B, seqLen: 1, inputIds: i64(Array(B).fill(5)), positionIds: i64(Array(B).fill(T - 1)), attentionMask: new BigInt64Array(B * T).fill(1n), past, logits: 'last' });
      past.dispose();
      past = out.present;
    }
    const ms = (performance.now() - t0) / steps;
    past.dispose();
    return ms;
  };
  const b1 = await decode(1, 32, 24);
  const b16 = await decode(16, 32, 16);
  const afterGen = status();
  console.log(JSON.stringify({
    format, weightMemory: m.info.weightMemory, cacheHit: m.info.cacheHit, loadMs: Math.round(m.info.loadMs),
    fileBytes: m.info.weightBytes, residentWeightBytes: m.info.residentWeightBytes, kvBytesB16: m.info.kvBytesPerToken * 16 * 48,
    rssLoad: afterLoad.VmRSS - before.VmRSS, peakLoad: afterLoad.VmHWM - before.VmRSS, anonLoad: afterLoad.RssAnon - before.RssAnon, rssGen: afterGen.VmRSS - before.VmRSS,
    peak: afterGen.VmHWM - before.VmRSS, baseline: before.VmRSS, msB1: b1, msB16: b16,
  }));
  await m.dispose();
}

async function main(): Promise<void> {
  if (argv[0] === '--child') return child(argv[1], argv[2], argv[3] as WeightFormat, argv[4], Number(argv[5]));
  const size = opt('size', '125m');
  const threads = Number(opt('threads', '2'));
  const formats = opt('formats', 'f32,f16,int8,int4').split(',') as WeightFormat[];
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'pl-wmem-'));
  try {
    const dims = size === 'small'
      ? { hidden: 512, intermediate: 1408, layers: 6, heads: 8, kvHeads: 4, vocab: 8000 }
      : { hidden: 768, intermediate: 2048, layers: 12, heads: 12, kvHeads: 4, vocab: 32000 };
    const family = opt('family', 'llama') as 'llama' | 'qwen2' | 'olmo2';
    const { dir } = writeRandomCheckpoint(path.join(work, 'model'), familyConfig(family, dims), { seed: 9, dtype: 'BF16', shards: 2 });
    const cacheDir = path.join(work, 'graphs');
    const self = new URL(import.meta.url).pathname;
    const run = (format: string, mem: string) => JSON.parse(execFileSync(process.execPath, ['--import', 'tsx', self, '--child', dir, cacheDir, format, mem, String(threads)], { encoding: 'utf8' }).trim().split('\n').pop()!) as Record<string, number | string>;
    const rows: Record<string, number | string>[] = [];
    for (const format of formats) {
      const mems = format === 'f32' ? ['mapped', 'prepacked'] : ['default'];
      for (const mem of mems) {
        run(format, mem); // compile into the cache
        rows.push(run(format, mem));
      }
    }
    const mb = (x: unknown) => (Number(x) / 1e6).toFixed(0);
    console.log(`\nrandom ${family} ${size}, BF16 2 shards, ${threads} threads; RSS figures are above the process's pre-load RSS\n`);
    console.log('| format | weight memory | file MB | weights in format MB | RSS after load MB (anon) | peak during load MB | RSS after b16 gen MB | peak MB | peak / weights | load ms (warm cache) | b1 ms/step | b16 ms/step |');
    console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
    for (const r of rows) {
      console.log(`| ${r.format} | ${r.weightMemory} | ${mb(r.fileBytes)} | ${mb(r.residentWeightBytes)} | ${mb(r.rssLoad)} (${mb(r.anonLoad)}) | ${mb(r.peakLoad)} | ${mb(r.rssGen)} | ${mb(r.peak)} | ${(Number(r.peak) / Number(r.residentWeightBytes)).toFixed(2)} | ${r.loadMs} | ${Number(r.msB1).toFixed(1)} | ${Number(r.msB16).toFixed(1)} |`);
    }
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

await main();
