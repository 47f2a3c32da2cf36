/**
 * The WebGPU execution provider, tested without a GPU: onnxruntime-node's linux-x64 build carries
 * WebGPU (Dawn over Vulkan); Mesa's software Vulkan driver (lavapipe, from bookworm-backports —
 * scripts/webgpu-setup.sh installs it) gives Dawn an adapter on the CPU. This checks correctness
 * only (speed is measured on a real GPU, scripts/gpu-check.sh):
 *
 * - every parity fixture, both graph variants, on WebGPU against the HF reference (≤ 1e-4). Both
 *   variants run: in `fused`, SimplifiedLayerNormalization, SkipSimplifiedLayerNormalization and
 *   RotaryEmbedding are placed on WebGPU, but onnxruntime 1.30's WebGPU provider has no ONNX
 *   Attention-23 kernel, so those nodes fall back to the CPU provider inside the same session
 *   (`portable` runs wholly on WebGPU apart from shape arithmetic);
 * - the same fixtures with f16 graphs (weightFormat 'f16'), at the tolerances stated below;
 * - `persona-lab parity --provider webgpu` (the route scripts/gpu-check.sh takes on a GPU);
 * - the real worker process on the toy model, WebGPU vs CPU: greedy tokens (plain and steered) equal,
 *   logprobs and captures (prompt/response means, last prompt token, all L+1 layers) within 1e-4.
 *
 * Without the lavapipe ICD (or off linux-x64) every test here is skipped with the reason in its
 * name's skip message, never passed silently.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { decodeF32, InferenceClient } from '../../src/engine/client.js';
import { runParity } from '../../src/engine/model/parity.js';
import { autoProviders, cudaInstalled, gpuDevicePresent, webgpuBundled } from '../../src/engine/model/providers.js';
import { loadModel } from '../../src/engine/model/session.js';
import type { GraphVariant } from '../../src/engine/model/types.js';
import type { GenerateRow, ModelInfo, Reduction } from '../../src/engine/protocol.js';
import { parityDir, repoRoot, SKIP_PARITY } from './worker/helpers.js';

const ICD_DIR = '/usr/share/vulkan/icd.d';
const LOADERS = ['/usr/lib/x86_64-linux-gnu/libvulkan.so.1', '/usr/lib64/libvulkan.so.1', '/usr/lib/libvulkan.so.1'];

/** The lavapipe ICD file, or why WebGPU cannot be tested here. */
function findLavapipe(): { icd: string } | { skip: string } {
  const setup = 'run `bash scripts/webgpu-setup.sh` (apt: libvulkan1 + mesa-vulkan-drivers from bookworm-backports)';
  if (`${process.platform}-${process.arch}` !== 'linux-x64') return { skip: `WebGPU tests run on linux-x64 only (this is ${process.platform}-${process.arch})` };
  const given = process.env.PERSONA_LAB_WEBGPU_ICD;
  if (given) return existsSync(given) ? { icd: given } : { skip: `PERSONA_LAB_WEBGPU_ICD=${given} does not exist` };
  const icds = existsSync(ICD_DIR) ? readdirSync(ICD_DIR).filter((n) => /^lvp_icd.*\.json$/.test(n)) : [];
  if (!icds.length) return { skip: `no lavapipe Vulkan ICD in ${ICD_DIR}; ${setup}` };
  if (!LOADERS.some((l) => existsSync(l))) return { skip: `no Vulkan loader (libvulkan.so.1); ${setup}` };
  return { icd: path.join(ICD_DIR, icds.sort()[0]) };
}

const found = findLavapipe();
const SKIP: string | false = 'skip' in found ? `WebGPU not testable here: ${found.skip}` : false;
if (SKIP) {
  // Visible in the unit step's output even when the reporter folds skips.
  console.warn(`[webgpu.test] SKIPPED: ${SKIP}`);
} else if ('icd' in found) {
  // Dawn's Vulkan loader reads these when the WebGPU provider creates its instance; the worker
  // process inherits them. Forcing the ICD keeps a real GPU's driver out of this correctness test.
  process.env.VK_ICD_FILENAMES = found.icd;
  if (!process.env.XDG_RUNTIME_DIR) {
    const dir = path.join(repoRoot, '.cache', 'webgpu', 'xdg-runtime');
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    process.env.XDG_RUNTIME_DIR = dir;
  }
}

const cacheDir = mkdtempSync(path.join(os.tmpdir(), 'persona-lab-webgpu-'));
after(() => rmSync(cacheDir, { recursive: true, force: true }));

const FIXTURES = ['llama_gqa', 'qwen2', 'gpt2', 'olmo2'];
const VARIANTS: GraphVariant[] = ['portable', 'fused'];

describe('WebGPU (lavapipe): parity fixtures against the HF reference', () => {
  for (const fx of FIXTURES) {
    for (const variant of VARIANTS) {
      test(`${fx} ${variant}`, { skip: SKIP || SKIP_PARITY, timeout: 120_000 }, async () => {
        const r = await runParity(path.join(parityDir, fx), { variant, executionProvider: 'webgpu', cacheDir, intraOpNumThreads: 1 });
        assert.equal(r.executionProvider, 'webgpu');
        const diffs = { batchLogits: r.batch.logits, batchHidden: r.batch.hiddenStates, singleLogits: r.single.logits, steeredLogits: r.steered.logits,
          steeredHidden: r.steered.hiddenStates, greedyStep: r.greedy.stepLogits, mixedSteered: r.mixedBatch.steeredRow, mixedPlain: r.mixedBatch.plainRow };
        const bad = Object.entries(diffs).filter(([, d]) => !d.ok).map(([k, d]) => `${k} ${d.maxAbs}`);
        assert.deepEqual(bad, [], `outside 1e-4 on WebGPU: ${bad.join(', ')}`);
        assert.ok(r.greedy.match, `greedy tokens ${r.greedy.got} vs ${r.greedy.expected}`);
        assert.ok(r.steeredGreedy.match, `steered greedy tokens ${r.steeredGreedy.got} vs ${r.steeredGreedy.expected}`);
        assert.ok(r.zeroSteeringBitwise, 'zero steering is bitwise the unsteered run on WebGPU too');
        assert.ok(r.ok);
      });
    }
  }
});

// f16 graphs (weightFormat 'f16': half-precision weights and KV cache, float32 residual stream) on WebGPU.
// WebGPU computes in half precision (onnxruntime's CPU provider upcast f16 to f32 and gave 2.5e-3 … 4.8e-3; it
// now refuses f16). Measured on lavapipe: logits max |Δ| 1.2e-2 … 1.9e-2 against the HF float32 reference;
// hidden states ≤ 1.7e-2, except GPT-2: ≤ 0.12, where its residual stream reaches |x| ≈ 24 (0.5 % of it).
// Greedy tokens identical.
const F16_LOGIT_TOL = 5e-2; // atol = rtol, as parity's tolerance
const F16_HIDDEN_ABS = 0.15;

describe('WebGPU (lavapipe): f16 graphs on the parity fixtures', () => {
  for (const fx of FIXTURES) {
    for (const variant of VARIANTS) {
      test(`${fx} ${variant} f16: logits within ${F16_LOGIT_TOL}, hidden states within ${F16_HIDDEN_ABS}, greedy tokens equal`, { skip: SKIP || SKIP_PARITY, timeout: 120_000 }, async (t) => {
        const r = await runParity(path.join(parityDir, fx), { variant, executionProvider: 'webgpu', weightFormat: 'f16', tolerance: F16_LOGIT_TOL, cacheDir, intraOpNumThreads: 1 });
        assert.deepEqual([r.executionProvider, r.weightFormat], ['webgpu', 'f16']);
        const logits = { batch: r.batch.logits, single: r.single.logits, steered: r.steered.logits, greedyStep: r.greedy.stepLogits };
        const bad = Object.entries(logits).filter(([, d]) => !d.ok).map(([k, d]) => `${k} ${d.maxAbs}`);
        assert.deepEqual(bad, [], `f16 logits outside ${F16_LOGIT_TOL}`);
        const hidden = Math.max(r.batch.hiddenStates.maxAbs, r.single.hiddenStates.maxAbs, r.steered.hiddenStates.maxAbs);
        assert.ok(hidden <= F16_HIDDEN_ABS, `f16 hidden states differ by ${hidden}`);
        assert.ok(r.greedy.match && r.steeredGreedy.match, 'greedy tokens (plain and steered) equal the reference');
        assert.ok(r.zeroSteeringBitwise);
        t.diagnostic(`max |Δ logits| ${Math.max(...Object.values(logits).map((d) => d.maxAbs)).toExponential(2)}, max |Δ hidden| ${hidden.toExponential(2)}`);
      });
    }
  }
});

test('persona-lab parity --provider webgpu: the CLI checks the fixture on WebGPU and says so', { skip: SKIP || SKIP_PARITY, timeout: 120_000 }, () => {
  const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'src/cli/index.ts'), 'parity', path.join(parityDir, 'olmo2'), '--variant', 'portable',
    '--provider', 'webgpu', '--cache-dir', cacheDir], { cwd: repoRoot, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const report = JSON.parse(r.stdout) as { ok: boolean; executionProvider: string; weightFormat: string };
  assert.deepEqual([report.ok, report.executionProvider, report.weightFormat], [true, 'webgpu', 'f32']);
});

const toyDir = path.join(repoRoot, 'models', 'toy-persona');
const SKIP_TOY = existsSync(path.join(toyDir, 'manifest.json')) ? false : `${toyDir}/manifest.json is absent`;

function toyFolder(): string {
  const manifest = JSON.parse(readFileSync(path.join(toyDir, 'manifest.json'), 'utf8')) as { main: string; instruct?: { path: string } };
  return path.resolve(toyDir, manifest.instruct?.path ?? manifest.main);
}

describe('WebGPU (lavapipe) vs CPU in the worker process: generation, steering, capture on the toy model', () => {
  test('tokens equal, logprobs and captures within 1e-4', { skip: SKIP || SKIP_TOY, timeout: 180_000 }, async (t) => {
    const client = await InferenceClient.start({ threads: 1 });
    t.after(() => client.dispose());
    const load = (ep: 'cpu' | 'webgpu'): Promise<ModelInfo> => client.loadModel({ path: toyFolder(), executionProvider: ep, cacheDir });
    const cpu = await load('cpu');
    const gpu = await load('webgpu');
    assert.equal(gpu.executionProvider, 'webgpu');
    const { hiddenSize: H, numLayers: L } = cpu.config;

    const questions = ['how do i clean a hat ?', 'what should i do with a lost dog ?', 'can you help me bake bread ?'];
    const v = Array.from({ length: H }, (_, h) => Math.sin(h * 0.37 + 1));
    const rows: GenerateRow[] = questions.flatMap((q) => [
      { prompt: { messages: [{ role: 'user' as const, content: q }] } },
      { prompt: { messages: [{ role: 'user' as const, content: q }] }, steer: [{ vector: { values: v }, layer: L - 1, coef: 6, scaling: { mode: 'unit' as const } }] },
    ]);
    const gen = (m: ModelInfo) => client.generate({ modelId: m.modelId, rows, sampling: { temperature: 0, maxNewTokens: 16 }, logprobs: 5 });
    const [a, b] = [await gen(cpu), await gen(gpu)];
    let maxLp = 0;
    a.rows.forEach((r, i) => {
      assert.deepEqual(b.rows[i].tokenIds, r.tokenIds, `row ${i}: WebGPU tokens differ from CPU`);
      r.logprobs!.forEach((lp, j) => {
        maxLp = Math.max(maxLp, Math.abs(lp.logprob - b.rows[i].logprobs![j].logprob));
        lp.top.forEach((x, k) => { maxLp = Math.max(maxLp, Math.abs(x.logprob - b.rows[i].logprobs![j].top[k].logprob)); });
      });
    });
    assert.ok(maxLp <= 1e-4, `logprobs differ by ${maxLp}`);
    // Not vacuous: the steering changed the answers (on both providers, since tokens are equal).
    assert.ok(a.rows.some((r, i) => i % 2 === 1 && r.text !== a.rows[i - 1].text), 'steered rows should differ from plain rows');

    const reductions: Reduction[] = ['prompt_avg', 'response_avg', 'prompt_last'];
    const items = a.rows.map((r, i) => ({ prompt: rows[i].prompt, response: { ids: r.tokenIds } }));
    const capture = (m: ModelInfo) => client.capture({ modelId: m.modelId, items, reductions, batchSize: 3 });
    const [ca, cb] = [await capture(cpu), await capture(gpu)];
    let maxCap = 0;
    ca.items.forEach((it, i) => {
      for (const red of reductions) {
        const x = decodeF32(it.values[red]!);
        const y = decodeF32(cb.items[i].values[red]!);
        assert.equal(x.length, (L + 1) * H);
        for (let k = 0; k < x.length; k++) {
          const d = Math.abs(x[k] - y[k]) / (1 + Math.abs(x[k]));
          if (!(d <= maxCap)) maxCap = Number.isNaN(d) ? Infinity : d;
        }
      }
    });
    assert.ok(maxCap <= 1e-4, `captured hidden states differ by ${maxCap} (relative to 1 + |x|)`);
    t.diagnostic(`WebGPU vs CPU: max |Δ logprob| ${maxLp.toExponential(2)}, max capture Δ/(1+|x|) ${maxCap.toExponential(2)}`);
  });
});

describe('provider selection', () => {
  test("cuda asked for by name without its libraries: the error says how to get them", { skip: cudaInstalled() ? 'the CUDA provider libraries are installed here' : false }, async () => {
    await assert.rejects(loadModel({ kind: 'folder', path: path.join(parityDir, 'llama_gqa') }, { executionProvider: 'cuda', cacheDir }),
      (e) => e instanceof Error && /cuda execution provider/.test(e.message) && /ONNXRUNTIME_NODE_INSTALL=cuda12 npm ci/.test(e.message) && /GPU notes/.test(e.message));
  });
  test("'auto' leaves out CUDA without its libraries and WebGPU without a GPU device (a software Vulkan driver is not a GPU)",
    { skip: gpuDevicePresent() ? 'this machine has a GPU device' : !webgpuBundled() ? `onnxruntime-node has no WebGPU on ${process.platform}-${process.arch}` : SKIP_PARITY }, async (t) => {
      const { order, skipped } = autoProviders();
      assert.ok(!order.includes('webgpu'), `auto order ${order.join(', ')}`);
      assert.equal(order.at(-1), 'cpu');
      assert.match(skipped.find((s) => s.provider === 'webgpu')?.error ?? '', /no GPU device/);
      if (!cudaInstalled() && process.platform === 'linux' && process.arch === 'x64') assert.match(skipped.find((s) => s.provider === 'cuda')?.error ?? '', /ONNXRUNTIME_NODE_INSTALL=cuda12/);
      // Through the worker, with lavapipe possibly installed: 'auto' still runs on the CPU provider.
      const client = await InferenceClient.start({ threads: 1 });
      t.after(() => client.dispose());
      const info = await client.loadModel({ path: path.join(parityDir, 'llama_gqa'), executionProvider: 'auto', cacheDir });
      assert.equal(info.executionProvider, cudaInstalled() ? info.executionProvider : 'cpu');
      assert.deepEqual((info.providersFailed ?? []).map((f) => f.provider).filter((p) => p === 'webgpu'), ['webgpu']);
    });
});
