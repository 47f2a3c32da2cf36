/**
 * Compiler benchmark (prints figures; not a test): `npx tsx scripts/bench-compiler.ts [--layers 12] [--hidden 1024] [--dtype F32|BF16]`.
 *
 * Writes a randomly initialised HF Llama (default ≈200M params) with the safetensors writer into a
 * temp folder, then, each in a fresh process: cold load (graph compiled into an empty cache) and
 * cache-hit load, for weightMemory 'mapped' (zero-copy) and 'prepacked'; reports load/compile
 * time, process RSS split into anonymous and file-backed pages (/proc/self/status) against the
 * weight bytes, and one prefill(32)+8 decode steps timing. Timings are noisy on a shared machine.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadModel } from '../src/engine/model/session.js';
import type { KvCache, LoadOptions } from '../src/engine/model/types.js';
import { float32ToBf16, writeSafetensors, type StDType, type TensorToWrite } from '../src/engine/weights/safetensors.js';

const MB = (b: number) => Math.round(b / 1048576);

function memory(): { rssMB: number; anonMB: number; fileMB: number } {
  const status = fs.readFileSync('/proc/self/status', 'utf8');
  const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(status)?.[1] ?? 0) * 1024;
  return { rssMB: MB(kb('VmRSS')), anonMB: MB(kb('RssAnon')), fileMB: MB(kb('RssFile')) };
}

async function child(dir: string, cacheDir: string, weightMemory: LoadOptions['weightMemory'], variant: LoadOptions['variant']): Promise<void> {
  const before = memory();
  const t0 = performance.now();
  const model = await loadModel({ kind: 'folder', path: dir }, { cacheDir, weightMemory, variant });
  const afterLoad = memory();
  const S = 32;
  const ids = BigInt64Array.from({ length: S }, (_, i) => BigInt(3 + ((i * 7919) % 30000)));
  const t1 = performance.now();
  let out = await model.forward({ batch: 1, seqLen: S, inputIds: ids, positionIds: BigInt64Array.from({ length: S }, (_, i) => BigInt(i)), attentionMask: new BigInt64Array(S).fill(1n), logits: 'last' });
  const prefillMs = performance.now() - t1;
  let past: KvCache = out.present;
  const t2 = performance.now();
  for (let s = 0; s < 8; s++) {
    out = await model.forward({ batch: 1, seqLen: 1, inputIds: BigInt64Array.of(5n), positionIds: BigInt64Array.of(BigInt(S + s)), attentionMask: new BigInt64Array(S + s + 1).fill(1n), past, logits: 'last' });
    past.dispose();
    past = out.present;
  }
  const decodeMsPerToken = (performance.now() - t2) / 8;
  const afterRun = memory();
  console.log(JSON.stringify({
    weightMemory, variant, cacheHit: model.info.cacheHit, loadMs: Math.round(model.info.loadMs), compileMs: Math.round(model.info.compileMs),
    totalMs: Math.round(performance.now() - t0), weightMB: MB(model.info.weightBytes), before, afterLoad, afterRun,
    prefill32Ms: Math.round(prefillMs), decodeMsPerToken: Math.round(decodeMsPerToken),
  }));
  await model.dispose();
}

/** Bulk float32 → bfloat16 (round to nearest even), same result as float32ToBf16 per element. */
function toBf16(a: Float32Array): Uint16Array {
  const u = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const out = new Uint16Array(a.length);
  for (let i = 0; i < u.length; i++) out[i] = (u[i] + 0x7fff + ((u[i] >>> 16) & 1)) >>> 16;
  if (a.length && out[0] !== float32ToBf16(a[0])) throw new Error('bf16 conversion mismatch');
  return out;
}

function writeRandomLlama(dir: string, o: { layers: number; hidden: number; inter: number; heads: number; kv: number; vocab: number; dtype: StDType }): number {
  fs.mkdirSync(dir, { recursive: true });
  const D = o.hidden / o.heads;
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({
    architectures: ['LlamaForCausalLM'], model_type: 'llama', hidden_size: o.hidden, intermediate_size: o.inter, num_hidden_layers: o.layers,
    num_attention_heads: o.heads, num_key_value_heads: o.kv, head_dim: D, vocab_size: o.vocab, max_position_embeddings: 4096,
    rms_norm_eps: 1e-5, rope_theta: 500000, tie_word_embeddings: false, hidden_act: 'silu', torch_dtype: o.dtype === 'BF16' ? 'bfloat16' : 'float32',
  }, null, 2));
  let seed = 12345;
  const fill = (n: number, std: number, mean = 0): Float32Array => {
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      seed ^= seed << 13; seed ^= seed >>> 17; seed ^= seed << 5;
      a[i] = mean + std * (((seed >>> 0) / 4294967296) * 3.4641 - 1.7320); // uniform with unit variance
    }
    return a;
  };
  const tensors: Record<string, TensorToWrite> = {};
  let params = 0;
  const add = (name: string, shape: number[], std: number, mean = 0) => {
    const n = shape.reduce((a, b) => a * b, 1);
    params += n;
    tensors[name] = { dtype: o.dtype, shape, data: () => (o.dtype === 'BF16' ? toBf16(fill(n, std, mean)) : fill(n, std, mean)) };
  };
  const H = o.hidden;
  add('model.embed_tokens.weight', [o.vocab, H], 1);
  add('lm_head.weight', [o.vocab, H], 1 / Math.sqrt(H));
  add('model.norm.weight', [H], 0.1, 1);
  for (let l = 0; l < o.layers; l++) {
    const p = `model.layers.${l}`;
    add(`${p}.self_attn.q_proj.weight`, [o.heads * D, H], 1 / Math.sqrt(H));
    add(`${p}.self_attn.k_proj.weight`, [o.kv * D, H], 1 / Math.sqrt(H));
    add(`${p}.self_attn.v_proj.weight`, [o.kv * D, H], 1 / Math.sqrt(H));
    add(`${p}.self_attn.o_proj.weight`, [H, o.heads * D], 1 / Math.sqrt(H));
    add(`${p}.mlp.gate_proj.weight`, [o.inter, H], 1 / Math.sqrt(H));
    add(`${p}.mlp.up_proj.weight`, [o.inter, H], 1 / Math.sqrt(H));
    add(`${p}.mlp.down_proj.weight`, [H, o.inter], 1 / Math.sqrt(o.inter));
    add(`${p}.input_layernorm.weight`, [H], 0.1, 1);
    add(`${p}.post_attention_layernorm.weight`, [H], 0.1, 1);
  }
  writeSafetensors(path.join(dir, 'model.safetensors'), tensors);
  return params;
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv[0] === '--child') return child(argv[1], argv[2], argv[3] as LoadOptions['weightMemory'], argv[4] as LoadOptions['variant']);
  const flag = (k: string, d: string) => {
    const i = argv.indexOf(`--${k}`);
    return i >= 0 ? argv[i + 1] : d;
  };
  const layers = Number(flag('layers', '12'));
  const hidden = Number(flag('hidden', '1024'));
  const dtype = flag('dtype', 'F32') as StDType;
  const variant = flag('variant', 'portable');
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pl-bench-compiler-'));
  try {
    const dir = path.join(tmp, 'llama');
    const t0 = performance.now();
    const params = writeRandomLlama(dir, { layers, hidden, inter: Math.round((hidden * 2.75) / 64) * 64, heads: hidden / 64, kv: Math.max(1, hidden / 256), vocab: 32000, dtype });
    const size = fs.statSync(path.join(dir, 'model.safetensors')).size;
    console.log(`random Llama: ${(params / 1e6).toFixed(0)}M params, ${dtype}, ${MB(size)} MB safetensors, written in ${Math.round(performance.now() - t0)} ms (${os.cpus().length} cores, load avg ${os.loadavg()[0].toFixed(1)})`);
    const self = fileURLToPath(import.meta.url);
    for (const mem of ['mapped', 'prepacked']) {
      const cacheDir = path.join(tmp, `cache-${mem}`);
      for (const label of ['cold (compile)', 'cache hit']) {
        const r = spawnSync(process.execPath, ['--import', 'tsx', self, '--child', dir, cacheDir, mem, variant], { encoding: 'utf8', env: { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'skip' } });
        if (r.status !== 0) throw new Error(`child failed: ${r.stderr}`);
        const j = JSON.parse(r.stdout.trim().split('\n').pop()!);
        console.log(`${mem.padEnd(9)} ${label.padEnd(14)} load ${String(j.loadMs).padStart(6)} ms (compile ${j.compileMs} ms)  RSS after load ${j.afterLoad.rssMB} MB (anon ${j.afterLoad.anonMB}, file ${j.afterLoad.fileMB})  after run ${j.afterRun.rssMB} MB (anon ${j.afterRun.anonMB}, file ${j.afterRun.fileMB})  weights ${j.weightMB} MB  prefill32 ${j.prefill32Ms} ms  decode ${j.decodeMsPerToken} ms/token`);
      }
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

await main();
