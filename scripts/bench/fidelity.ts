/**
 * Fidelity of each weight format against f32 (a benchmark that prints figures, not a pass/fail test):
 *
 *   npx tsx scripts/bench/fidelity.ts [--formats f16,int8,int4] [--random small|125m|none] [--variants]
 *                                     [--threads 2] [--json out.json] [--models parity,toy,random]
 *
 * For every model — the parity fixtures (../shared/fixtures/parity), the toy organism
 * (models/toy-persona/revisions/main) and a random-initialised Llama written by the test helpers —
 * f32 generates 64 greedy tokens from a fixed prompt; each format then reads that same sequence
 * (teacher forcing, one forward) and is compared position by position:
 *   KL      mean (and max) next-token KL(p_f32 ‖ p_format) over the 64 predictions, in nats
 *   top-1   fraction of those predictions whose argmax equals f32's
 *   cos     cosine of the captured hidden states to f32's, mean over positions, per layer (0..L; min shown)
 *   greedy  free-running greedy tokens identical to f32's before the first divergence (of 64)
 *   ms/tok  batch-1 decode time per token in that format (prepacked where the format uses it; f16 runs on
 *           CPU only through LoadOptions.testOnlyCpuHalf, with float32 casts inserted by onnxruntime, so its
 *           time and memory say nothing about a GPU)
 * `--variants` adds int8/int4 with other block sizes, asymmetric zero points and accuracy level 0, the
 * measurements behind the defaults in src/engine/DESIGN.md ("Weight formats").
 *
 * `--toy-pipeline` (needs `node scripts/build.mjs`) runs the user's pipeline on the toy per format through the
 * CLI — `extract --trait evil --weight-format F` then `grid --layers 3,4 --coefs 4,6` in a fresh workspace — and
 * reports each vector's per-layer cosine to the f32 vector and each condition's Δτ (mean trait change vs the
 * unsteered baseline) next to f32's.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadModel } from '../../src/engine/model/session.js';
import type { KvCache, LoadedModel, LoadOptions, WeightFormat } from '../../src/engine/model/types.js';
import { loadSafetensors, toFloat32 } from '../../src/engine/weights/safetensors.js';
import { randomWeights, writeCheckpoint } from '../../test/engine/helpers/random-checkpoint.js';

const argv = process.argv.slice(2);
const opt = (name: string, dflt: string) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] ? argv[i + 1] : dflt;
};
const formats = opt('formats', 'f16,int8,int4').split(',') as WeightFormat[];
const threads = Number(opt('threads', '2'));
const randomSize = opt('random', 'small');
const only = new Set(opt('models', 'parity,toy,random').split(','));
const variants = argv.includes('--variants');
const jsonOut = opt('json', '');
const toyPipeline = argv.includes('--toy-pipeline');
const NEW_TOKENS = 64;

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'pl-fidelity-'));
const cacheDir = path.join(work, 'graphs');
process.on('exit', () => fs.rmSync(work, { recursive: true, force: true }));

interface Cell { model: string; format: string; params?: string; klMean: number; klMax: number; top1: number; cosMin: number; cosPerLayer: number[]; greedy: number; msPerToken: number; residentWeightBytes: number; weightBytes: number; loadMs: number }

const RANDOM: Record<string, Record<string, unknown>> = {
  // ≈ 20 M params: quick.
  small: { hidden_size: 512, intermediate_size: 1408, num_hidden_layers: 6, num_attention_heads: 8, num_key_value_heads: 4, vocab_size: 8000 },
  // ≈ 125 M params (GPT-2-small widths, Llama layout).
  '125m': { hidden_size: 768, intermediate_size: 2048, num_hidden_layers: 12, num_attention_heads: 12, num_key_value_heads: 4, vocab_size: 32000 },
};

function randomModel(size: string): string {
  const raw = {
    architectures: ['LlamaForCausalLM'], model_type: 'llama', hidden_act: 'silu', max_position_embeddings: 2048, rms_norm_eps: 1e-6,
    rope_theta: 10000, tie_word_embeddings: false, bos_token_id: 1, eos_token_id: 2, ...RANDOM[size],
  };
  return writeCheckpoint(path.join(work, `random-llama-${size}`), raw, randomWeights(raw, 7), { dtype: 'BF16', shards: 2 });
}

const i64 = (a: number[]) => BigInt64Array.from(a, BigInt);

function logSoftmax(row: Float32Array): Float64Array {
  let m = -Infinity;
  for (const v of row) m = Math.max(m, v);
  let s = 0;
  for (const v of row) s += Math.exp(v - m);
  const lse = m + Math.log(s);
  return Float64Array.from(row, (v) => v - lse);
}
const argmax = (a: ArrayLike<number>) => {
  let b = 0;
  for (let i = 1; i < a.length; i++) if (a[i] > a[b]) b = i;
  return b;
};

async function greedy(m: LoadedModel, prompt: number[], n: number): Promise<{ tokens: number[]; msPerToken: number }> {
  const tokens: number[] = [];
  let past: KvCache | null = null;
  let input = prompt;
  let total = 0;
  let decodeMs = 0;
  for (let s = 0; s < n; s++) {
    const t0 = performance.now();
    const out: Awaited<ReturnType<LoadedModel['forward']>> = await m.forward({ batch: 1, seqLen: input.length, inputIds: i64(input), positionIds: i64(input.map((_, i) => total + i)), attentionMask: new BigInt64Array(total + input.length).fill(1n), past, logits: 'last' });
    if (s > 0) decodeMs += performance.now() - t0;
    total += input.length;
    past?.dispose();
    past = out.present;
    const t = argmax(out.logits!);
    tokens.push(t);
    input = [t];
  }
  past?.dispose();
  return { tokens, msPerToken: decodeMs / Math.max(1, n - 1) };
}

async function teacherForced(m: LoadedModel, seq: number[]): Promise<{ logits: Float32Array; hidden: Float32Array[] }> {
  const out = await m.forward({ batch: 1, seqLen: seq.length, inputIds: i64(seq), positionIds: i64(seq.map((_, i) => i)), attentionMask: new BigInt64Array(seq.length).fill(1n), logits: 'all', hiddenStates: true });
  out.present.dispose();
  return { logits: out.logits!, hidden: out.hiddenStates! };
}

function cosine(a: Float32Array, b: Float32Array, off: number, n: number): number {
  let ab = 0, aa = 0, bb = 0;
  for (let i = off; i < off + n; i++) {
    ab += a[i] * b[i];
    aa += a[i] * a[i];
    bb += b[i] * b[i];
  }
  return aa === 0 && bb === 0 ? 1 : ab / Math.sqrt(aa * bb);
}

async function measureModel(name: string, dir: string, promptLen = 8): Promise<Cell[]> {
  const load = (o: LoadOptions) => loadModel({ kind: 'folder', path: dir }, { cacheDir, intraOpNumThreads: threads, ...o });
  const ref = await load({ weightFormat: 'f32' });
  const { vocabSize: V, hiddenSize: H, maxPositions } = ref.config;
  const n = Math.min(NEW_TOKENS, maxPositions - promptLen - 1);
  const prompt = Array.from({ length: promptLen }, (_, i) => (1 + 37 * i) % V);
  const g = await greedy(ref, prompt, n);
  const seq = [...prompt, ...g.tokens.slice(0, n - 1)];
  const base = await teacherForced(ref, seq);
  const cells: Cell[] = [{ model: name, format: 'f32', klMean: 0, klMax: 0, top1: 1, cosMin: 1, cosPerLayer: base.hidden.map(() => 1), greedy: n, msPerToken: g.msPerToken, residentWeightBytes: ref.info.residentWeightBytes, weightBytes: ref.info.weightBytes, loadMs: ref.info.loadMs }];
  await ref.dispose();
  const runs: { format: WeightFormat; quantization?: LoadOptions['quantization']; label?: string }[] = formats.map((format) => ({ format }));
  if (variants) {
    for (const format of ['int8', 'int4'] as const) {
      for (const q of [{ blockSize: 128 }, { symmetric: false }, { blockSize: 128, symmetric: false }, { accuracyLevel: 0 as const }]) {
        runs.push({ format, quantization: q, label: Object.entries(q).map(([k, v]) => `${k}=${v}`).join(' ') });
      }
    }
  }
  for (const r of runs) {
    let m: LoadedModel;
    try {
      // f16 on CPU: the graph's numerics through the test-only switch (onnxruntime casts to float32 around it).
      m = await load({ weightFormat: r.format, quantization: r.quantization, testOnlyCpuHalf: r.format === 'f16' });
    } catch (e) {
      console.log(`  ${name} ${r.format}: ${(e as Error).message}`);
      continue;
    }
    const t = await teacherForced(m, seq);
    let klSum = 0, klMax = 0, agree = 0;
    for (let p = promptLen - 1; p < seq.length; p++) {
      const a = logSoftmax(base.logits.subarray(p * V, (p + 1) * V));
      const b = logSoftmax(t.logits.subarray(p * V, (p + 1) * V));
      let kl = 0;
      for (let i = 0; i < V; i++) kl += Math.exp(a[i]) * (a[i] - b[i]);
      klSum += kl;
      klMax = Math.max(klMax, kl);
      if (argmax(a) === argmax(b)) agree++;
    }
    const preds = seq.length - promptLen + 1;
    const cosPerLayer = base.hidden.map((h, l) => {
      let s = 0;
      for (let p = 0; p < seq.length; p++) s += cosine(h, t.hidden[l], p * H, H);
      return s / seq.length;
    });
    const gg = await greedy(m, prompt, n);
    let same = 0;
    while (same < n && gg.tokens[same] === g.tokens[same]) same++;
    cells.push({ model: name, format: r.format, params: r.label, klMean: klSum / preds, klMax, top1: agree / preds, cosMin: Math.min(...cosPerLayer), cosPerLayer, greedy: same, msPerToken: gg.msPerToken, residentWeightBytes: m.info.residentWeightBytes, weightBytes: m.info.weightBytes, loadMs: m.info.loadMs });
    await m.dispose();
  }
  return cells;
}

const models: [string, string][] = [];
if (only.has('parity')) {
  const fx = path.resolve(root, '../shared/fixtures/parity');
  if (fs.existsSync(fx)) for (const d of fs.readdirSync(fx).sort()) if (fs.existsSync(path.join(fx, d, 'config.json'))) models.push([`parity/${d}`, path.join(fx, d)]);
}
if (only.has('toy')) models.push(['toy', path.join(root, 'models/toy-persona/revisions/main')]);
if (only.has('random') && randomSize !== 'none') models.push([`random-llama-${randomSize}`, randomModel(randomSize)]);

const all: Cell[] = [];
for (const [name, dir] of models) {
  const cells = await measureModel(name, dir);
  all.push(...cells);
  for (const c of cells) {
    console.log(`${c.model.padEnd(22)} ${(c.format + (c.params ? ` (${c.params})` : '')).padEnd(36)} KL ${c.klMean.toExponential(2)} (max ${c.klMax.toExponential(2)})  top-1 ${(100 * c.top1).toFixed(1)}%  cos≥${c.cosMin.toFixed(5)}  greedy ${c.greedy}  ${c.msPerToken.toFixed(2)} ms/tok  resident ${(c.residentWeightBytes / 1e6).toFixed(2)} MB of ${(c.weightBytes / 1e6).toFixed(2)} MB file`);
  }
}

console.log('\n| model | format | next-token KL mean (max) | top-1 | min layer cos | greedy match /64 | decode ms/tok | resident weights |');
console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
for (const c of all) {
  console.log(`| ${c.model} | ${c.format}${c.params ? ` (${c.params})` : ''} | ${c.klMean.toExponential(1)} (${c.klMax.toExponential(1)}) | ${(100 * c.top1).toFixed(1)} % | ${c.cosMin.toFixed(4)} | ${c.greedy} | ${c.msPerToken.toFixed(2)} | ${(c.residentWeightBytes / 1e6).toFixed(1)} MB |`);
}

interface ToyRow { format: string; cosPerLayer: number[]; deltaTau: Record<string, number>; coherence: Record<string, number> }
const toyRows: ToyRow[] = [];
if (toyPipeline) {
  const cli = path.join(root, 'dist', 'cli.js');
  if (!fs.existsSync(cli)) throw new Error('--toy-pipeline runs the CLI: build it first (node scripts/build.mjs)');
  const vec = (ws: string) => {
    const { tensors } = loadSafetensors(path.join(ws, 'vectors', 'toy-persona', 'main', 'evil.safetensors'));
    const t = tensors.get('response_avg_diff')!;
    return { v: toFloat32(t), rows: t.shape[0], H: t.shape[1] };
  };
  let ref: ReturnType<typeof vec> | null = null;
  for (const format of ['f32', ...formats.filter((f) => f !== 'f16' && f !== 'bf16')]) {
    const ws = path.join(work, `ws-${format}`);
    const common = ['--trait', 'evil', '--weight-format', format, '--provider', 'cpu', '--workspace', ws, '--threads', String(threads), '--json'];
    execFileSync(process.execPath, [cli, 'extract', ...common], { stdio: ['ignore', 'pipe', 'inherit'] });
    const grid = JSON.parse(execFileSync(process.execPath, [cli, 'grid', ...common, '--layers', '3,4', '--coefs', '4,6', '--no-prompt-baseline'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] })) as
      { conditions: { condition: { id: string; kind: string }; deltaTraitMean?: number; coherence: { mean: number } }[] };
    const v = vec(ws);
    ref ??= v;
    const cosPerLayer = Array.from({ length: v.rows }, (_, l) => cosine(ref!.v, v.v, l * v.H, v.H));
    const deltaTau: Record<string, number> = {};
    const coherence: Record<string, number> = {};
    for (const c of grid.conditions) {
      if (c.condition.kind !== 'steer') continue;
      deltaTau[c.condition.id] = c.deltaTraitMean ?? NaN;
      coherence[c.condition.id] = c.coherence.mean;
    }
    toyRows.push({ format, cosPerLayer, deltaTau, coherence });
  }
  const ids = Object.keys(toyRows[0].deltaTau);
  console.log(`\n| toy, trait evil | vector cosine to f32 (layers 1..L) | ${ids.map((i) => `Δτ ${i} (coherence)`).join(' | ')} |`);
  console.log(`| --- | --- | ${ids.map(() => '---').join(' | ')} |`);
  for (const r of toyRows) {
    console.log(`| ${r.format} | ${r.cosPerLayer.slice(1).map((c) => c.toFixed(4)).join(', ')} | ${ids.map((i) => `${r.deltaTau[i].toFixed(1)} (${r.coherence[i].toFixed(0)})`).join(' | ')} |`);
  }
}
if (jsonOut) fs.writeFileSync(jsonOut, JSON.stringify({ threads, cells: all, toy: toyRows }, null, 2));
